"""The Telegram application: wiring in one place, handlers in the order users meet them."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import signal
from contextlib import suppress
from dataclasses import replace

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from bot.config import Settings, require
from bot.leadership import PollingLeadership
from bot.logs import configure_logging, install_redaction, run_redacted, secrets_of
from bot.metrics import Metrics, instrument
from bot.ratelimit import telegram_rate_limiter
from bot.runner import JobRunner, RunnerPolicy
from bot.services.miniapp import MiniApp
from bot.slots import UpdateSlots
from bot.startup import ExitCode, StartupError, connect_telegram
from bot.warmup import warm_up
from bot.web import (
    Route,
    WebLimits,
    WebServer,
    WebState,
    kling_callback_token,
    kling_callback_url,
    routes_for,
    web_secrets,
    webhook_secret,
)
from bot.webapp.api import AppDeps, app_routes
from bot.wiring import Wiring, build_doctor, build_runner, build_services
from handlers import (
    admin,
    albums,
    cancel,
    continuity,
    doctor,
    drafts,
    errors,
    fallbacks,
    film,
    generate,
    groups,
    inline,
    links,
    menus,
    miniapp,
    music,
    payments,
    photos,
    privacy,
    projects,
    settings_menu,
    start,
    stills,
    voice,
)
from handlers.common import CONTEXT_TYPES
from handlers.delivery import TelegramObserver

log = logging.getLogger("claymate")

COMMANDS = menus.ALL_COMMANDS  # every command some menu lists (each needs a menu.* text)


def build_application(
    settings: Settings, wiring: Wiring, *, policy: RunnerPolicy | None = None
) -> Application:
    """The PTB Application with every handler, the rate limiter and the job runner."""
    require(settings, "telegram_bot_token")
    assert settings.telegram_bot_token is not None
    api = settings.telegram_api_url
    metrics = Metrics()
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        # Flood control (429 retry_after) is waited out and retried, never fatal; chat
        # actions are dropped when there is no room for them (bot/ratelimit.py).
        .rate_limiter(telegram_rate_limiter(metrics))
        # Updates run concurrently, a few at a time, so a burst cannot stall the loop; one
        # waiting on an LLM or a provider lets others work meanwhile (bot/slots.py).
        .concurrent_updates(UpdateSlots(settings.concurrent_updates))
        .context_types(CONTEXT_TYPES)  # the context carries who is asking (handlers/common)
        .build()
    )
    services = wiring.services
    observer = TelegramObserver(application.bot, services.generation, services.accounts, settings)
    callback_url = kling_callback_url(settings)
    runner = build_runner(
        wiring.db,
        instrument(wiring.providers, metrics),
        observer,
        clips_dir=wiring.folders.clips,
        caps=wiring.caps,
        policy=replace(
            policy or RunnerPolicy(poll_interval_s=settings.kling_poll_interval_s),
            max_in_flight_per_user=settings.max_takes_in_flight_per_user,
        ),
        callback_urls={"kling": callback_url} if callback_url else None,
    )
    application.bot_data["services"] = services
    application.bot_data["settings"] = settings
    application.bot_data["runner"] = runner
    application.bot_data["metrics"] = metrics
    application.bot_data["doctor"] = functools.partial(build_doctor, settings, wiring.db)
    register_handlers(application)
    source = "webhook" if settings.webhook_url else "polling"
    application.add_handler(TypeHandler(Update, metrics.count_update(source)), group=-2)
    return application


def register_handlers(application: Application) -> None:
    """Every handler, in the order a user meets them; within a group the first match wins."""
    errors.register(application)  # before anything else: redeliveries dropped, one log line
    start.register(application)
    photos.register(application)
    drafts.register(application)
    voice.register(application)  # before music: a voice note replying to a draft is words
    stills.register(application)
    generate.register(application)
    albums.register(application)
    continuity.register(application)
    projects.register(application)
    links.register(application)
    inline.register(application)
    film.register(application)
    music.register(application)
    groups.register(application)
    admin.register(application)
    payments.register(application)  # /buy, invoices, pre-checkout, successful payments
    settings_menu.register(application)
    cancel.register(application)
    doctor.register(application)  # operators only; silent for everyone else
    privacy.register(application)
    fallbacks.register(application)  # last: only what nothing above took


async def register_commands(application: Application) -> None:
    """The command menus and profile texts (both languages); a failure is logged, not fatal."""
    await menus.publish_menus(application.bot)


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    *,
    policy: RunnerPolicy | None = None,
    poll_timeout: int = 10,
    leader_retry_s: float = 5.0,
    started: asyncio.Event | None = None,
) -> None:
    """Run the bot until `stop` is set: updates in, the job runner working alongside.

    Updates come by long polling (only the polling leader polls, see bot/leadership.py) or,
    with CLAYMATE_WEBHOOK_URL, by webhook on every instance. The web server also serves
    Kling callbacks (CLAYMATE_PUBLIC_URL), /healthz and /metrics when configured.
    """
    install_redaction(secrets_of(settings) + web_secrets(settings))
    wiring = await build_services(settings)
    application = build_application(settings, wiring, policy=policy)
    runner: JobRunner = application.bot_data["runner"]
    webhook_mode = settings.webhook_url is not None
    assert settings.telegram_bot_token is not None
    bot_id = settings.telegram_bot_token.get_secret_value().split(":", 1)[0]
    leadership = PollingLeadership(wiring.db, bot_id, retry_s=leader_retry_s)
    runner_task: asyncio.Task[None] | None = None

    async def on_update(data: dict) -> None:
        await application.update_queue.put(Update.de_json(data, application.bot))

    async def on_kling_task(task_id: str, external_id: str | None) -> bool:
        async with wiring.db.unit_of_work() as uow:
            take_id = await uow.takes.hurry_upstream_take("kling", task_id, external_id)
        if take_id is None:
            return False
        log.info("take %s: kling reported progress, checking now", take_id)
        runner.wake()
        return True

    state = WebState(
        db=wiring.db,
        metrics=application.bot_data["metrics"],
        on_update=on_update,
        telegram_secret=webhook_secret(settings) if webhook_mode else "",
        kling_token=kling_callback_token(settings),
        on_kling_task=on_kling_task,
        kling_webhook_secret=(
            settings.kling_webhook_secret.get_secret_value()
            if settings.kling_webhook_secret
            else ""
        ),
        runner_alive=lambda: runner_task is not None and not runner_task.done(),
        polling_leader=lambda: leadership.is_leader,
    )
    servers = _web_servers(settings, state, _app_deps(settings, wiring, application, state))

    async def start_polling() -> None:
        assert application.updater is not None
        # start_polling deletes any webhook first, so switching back from webhooks works.
        await application.updater.start_polling(
            allowed_updates=Update.ALL_TYPES, poll_interval=0.0, timeout=poll_timeout
        )

    async def stop_polling() -> None:
        assert application.updater is not None
        if application.updater.running:
            await application.updater.stop()

    try:
        await connect_telegram(application, settings)
        async with application:
            await application.start()
            try:
                await register_commands(application)
                await miniapp.set_menu_button(application.bot, settings)
                await groups.log_privacy_mode(application.bot)
                freeze_startup_objects()
                runner_task = asyncio.create_task(runner.run(stop), name="job-runner")
                if started is not None:
                    started.set()
                for server in servers:
                    server.start()
                me = application.bot
                if webhook_mode:
                    assert settings.webhook_url is not None
                    await me.set_webhook(
                        settings.webhook_url,
                        secret_token=webhook_secret(settings),
                        allowed_updates=Update.ALL_TYPES,
                    )
                    log.info("bot @%s started (webhook, all instances serve)", me.username)
                    await stop.wait()
                else:
                    log.info("bot @%s started (polling)", me.username)
                    await leadership.run(stop, start_polling, stop_polling)
                log.info("shutting down")
            finally:
                # Also on a crash: no half-running server, runner or application left behind.
                stop.set()
                for server in servers:
                    await server.stop()
                await state.background.aclose()  # callbacks answered but not yet processed
                await stop_polling()
                if runner_task is not None:
                    await runner_task
                await application.stop()
    finally:
        await wiring.aclose()


def freeze_startup_objects() -> None:
    """Take what start-up built (modules, the application, clients) out of the GC's sight.

    It lives as long as the process, yet every full collection would walk all of it: over
    130,000 objects, about 80 ms a collection here, and under load the event loop stalled
    for 100-170 ms inside the collector (bench/bench_generate.py). Frozen, a collection
    walks only what the bot made since; reference counting still frees everything.
    """
    gc.collect()
    gc.freeze()


def _app_deps(
    settings: Settings, wiring: Wiring, application: Application, state: WebState
) -> AppDeps | None:
    """The storyboard Mini App's API, served when there is a public URL to open it at."""
    if settings.public_url is None:
        return None
    assert settings.telegram_bot_token is not None
    services = wiring.services
    app = MiniApp(
        wiring.db,
        services.permissions,
        services.projects,
        services.generation,
        services.soundtracks,
    )
    return AppDeps(
        miniapp=app,
        bot_token=settings.telegram_bot_token.get_secret_value(),
        max_age_s=settings.app_auth_max_age_s,
        status_in_for=miniapp.status_in_for(application.bot),
        send_film=miniapp.film_sender(application.bot, services.projects),
        spawn=state.background.spawn,
    )


def _web_servers(
    settings: Settings, state: WebState, app: AppDeps | None = None
) -> list[WebServer]:
    """The public server (webhook, Kling callbacks, the Mini App) and /metrics on its own
    bind."""
    callbacks = settings.public_url is not None
    limits = WebLimits.from_settings(settings)
    servers = []
    if settings.webhook_url is not None or callbacks:
        routes = routes_for(
            settings, webhook=settings.webhook_url is not None, callbacks=callbacks, metrics=False
        )
        if app is not None:
            routes += [Route(pattern, handler, kw) for pattern, handler, kw in app_routes(app)]
        servers.append(
            WebServer(settings.webhook_listen, settings.webhook_port, routes, state, limits)
        )
    if settings.metrics_port is not None:
        routes = routes_for(settings, webhook=False, callbacks=False, metrics=True)
        servers.append(
            WebServer(settings.metrics_listen, settings.metrics_port, routes, state, limits)
        )
    return servers


def run_bot(settings: Settings) -> int:
    """`claymate run`: serve until SIGTERM or SIGINT, then shut down cleanly."""
    require(settings, "telegram_bot_token")
    configure_logging(settings)
    # Before the loop starts and before start-up objects are frozen out of the GC's sight.
    warm_up()

    async def main() -> None:
        stop, started = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        serving = asyncio.current_task()
        assert serving is not None

        def on_signal() -> None:
            # Running: shut down cleanly. Still starting (perhaps waiting minutes between
            # retries of an unreachable Bot API or database): stop at once.
            stop.set()
            if not started.is_set():
                serving.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, on_signal)
        try:
            await serve(settings, stop, started=started)
        except asyncio.CancelledError:
            if started.is_set() or not stop.is_set():
                raise
            raise StartupError("interrupted during start-up", ExitCode.INTERRUPTED) from None

    run_redacted(main())
    return 0
