"""The Telegram application: wiring in one place, handlers in the order users meet them."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings, require
from bot.i18n import LANGUAGES, t
from bot.logs import configure_logging, install_redaction, secrets_of
from bot.pipeline.jobs import JobRunner, RunnerPolicy
from bot.services import Services, build_services
from handlers import callbacks as cb
from handlers import drafts, errors, generate, photos, projects, start
from handlers.delivery import TelegramObserver

log = logging.getLogger("claymate")

COMMANDS = ("start", "help", "new", "projects")


def build_application(
    settings: Settings, services: Services, *, policy: RunnerPolicy | None = None
) -> Application:
    """The PTB Application with every handler, the rate limiter and the job runner."""
    require(settings, "telegram_bot_token")
    assert settings.telegram_bot_token is not None
    api = settings.telegram_api_url
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        # Flood control (429 retry_after) is waited out and retried, never fatal.
        .rate_limiter(AIORateLimiter(max_retries=3))
        # A long draft or upload in one chat must not hold up anyone else's updates.
        .concurrent_updates(True)
        .build()
    )
    observer = TelegramObserver(application.bot, services.studio, settings)
    runner = JobRunner(
        services.db,
        services.providers,
        observer,
        clips_dir=services.studio.clips_dir,
        caps=services.caps,
        policy=policy or RunnerPolicy(poll_interval_s=settings.kling_poll_interval_s),
    )
    application.bot_data["services"] = services
    application.bot_data["runner"] = runner
    register_handlers(application)
    return application


def register_handlers(application: Application) -> None:
    """Every handler, in the order a user meets them."""
    add = application.add_handler
    # Before anything else: drop redelivered updates, log one line per update.
    add(TypeHandler(Update, errors.on_any_update), group=-1)

    add(CommandHandler(["start", "help"], start.on_start))
    add(CommandHandler("new", projects.on_new))
    add(CommandHandler("projects", projects.on_projects))

    add(MessageHandler(filters.PHOTO | filters.Document.IMAGE, photos.on_photo))
    add(MessageHandler(filters.Document.ALL, photos.on_other_document))
    add(MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, drafts.on_reply))
    add(MessageHandler(filters.TEXT & ~filters.COMMAND, start.on_text_outside_flow))

    buttons = {
        cb.GENERATE: generate.on_generate_pressed,
        cb.REFINE: drafts.on_refine_pressed,
        cb.REDRAFT: drafts.on_redraft_pressed,
        cb.SETTINGS: drafts.on_settings_pressed,
        cb.SET: drafts.on_setting_chosen,
        cb.BACK: drafts.on_back_pressed,
        cb.UNDO: drafts.on_undo_pressed,
        cb.CANCEL_SHOT: drafts.on_cancel_shot_pressed,
        cb.DRAFT_FROM_PHOTO: drafts.on_draft_from_photo_pressed,
        cb.OPEN_SHOT: drafts.on_open_shot_pressed,
        cb.CANCEL_TAKE: generate.on_cancel_take_pressed,
        cb.AGAIN: generate.on_again_pressed,
        cb.KEEP: generate.on_keep_pressed,
        cb.OPEN_PROJECT: projects.on_open_project_pressed,
        cb.RESEND: projects.on_resend_pressed,
    }
    for action, handler in buttons.items():
        add(CallbackQueryHandler(handler, pattern=cb.pattern(action)))
    # Anything else (old versions' buttons, forged data) still gets an answer.
    add(CallbackQueryHandler(_on_unknown_button))

    application.add_error_handler(errors.on_error)


async def _on_unknown_button(update: Update, context) -> None:  # type: ignore[no-untyped-def]
    """A button we don't know: answer politely so the user's spinner stops."""
    from bot.i18n import language_for

    query = update.callback_query
    assert query is not None
    lang = language_for(query.from_user.language_code if query.from_user else None)
    await query.answer(t("button.stale", lang), show_alert=True)


async def register_commands(application: Application) -> None:
    """Register the command menu (in both languages) once the bot is initialised."""
    for lang in LANGUAGES:
        commands = [BotCommand(name, t(f"menu.{name}", lang)) for name in COMMANDS]
        await application.bot.set_my_commands(
            commands, language_code=None if lang == "en" else lang
        )


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    *,
    policy: RunnerPolicy | None = None,
    poll_timeout: int = 10,
) -> None:
    """Run the bot until `stop` is set: updates in, the job runner working alongside."""
    install_redaction(secrets_of(settings))
    services = await build_services(settings)
    application = build_application(settings, services, policy=policy)
    runner: JobRunner = application.bot_data["runner"]
    try:
        async with application:
            await application.start()
            await register_commands(application)
            me = application.bot
            log.info("bot @%s started (polling)", me.username)
            assert application.updater is not None
            await application.updater.start_polling(
                allowed_updates=Update.ALL_TYPES, poll_interval=0.0, timeout=poll_timeout
            )
            runner_task = asyncio.create_task(runner.run(stop), name="job-runner")
            await stop.wait()
            log.info("shutting down")
            await application.updater.stop()
            await runner_task
            await application.stop()
    finally:
        await services.aclose()


def run_bot(settings: Settings) -> int:
    """`claymate run`: serve until SIGTERM or SIGINT, then shut down cleanly."""
    require(settings, "telegram_bot_token")
    configure_logging(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(main())
    return 0
