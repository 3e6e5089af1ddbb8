"""The command menus and the bot's profile texts, in both languages, set at start-up.

Telegram picks the narrowest scope that matches (a group admin sees the admins' menu, a
private chat the private one) and the menu in the user's app language when one was set for
it, else the default (English) one. Every call here is idempotent, so each start sets them
all again; a failure is logged and start-up goes on, because a bot without a menu still
works and a menu is not worth a crash loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from telegram.error import TelegramError

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, t

log = logging.getLogger(__name__)

# In the order a user needs them. Menus list only commands the bot answers in that kind
# of chat: /clay is how a group asks for a clip, /generate a group admin's rule.
PRIVATE: tuple[str, ...] = ("start", "help", "new", "projects", "board", "film", "music")
PRIVATE += ("aspect", "subtitles", "narration", "settings", "cancel", "lang", "usage", "buy")
PRIVATE += ("paysupport", "export", "forget")
GROUP: tuple[str, ...] = ("clay", "help", "new", "projects", "board", "film", "music")
GROUP += ("aspect", "subtitles", "narration", "settings", "cancel", "lang")
GROUP_ADMINS: tuple[str, ...] = (*GROUP, "generate")

MENUS: tuple[tuple[BotCommandScope, tuple[str, ...]], ...] = (
    (BotCommandScopeAllPrivateChats(), PRIVATE),
    (BotCommandScopeAllGroupChats(), GROUP),
    (BotCommandScopeAllChatAdministrators(), GROUP_ADMINS),
)
ALL_COMMANDS: tuple[str, ...] = tuple(dict.fromkeys(PRIVATE + GROUP_ADMINS))


def commands_for(names: Sequence[str], lang: str) -> list[BotCommand]:
    return [BotCommand(name, t(f"menu.{name}", lang)) for name in names]


def _language_code(lang: str) -> str | None:
    """The default menu (no language_code) is English; the others are set per language."""
    return None if lang == DEFAULT_LANGUAGE else lang


async def publish_menus(bot: Bot) -> int:
    """Set every menu, description and short description; return how many calls failed."""
    failed = 0
    for lang in LANGUAGES:
        code = _language_code(lang)
        for scope, names in MENUS:
            failed += not await _try(
                f"commands for {scope.type} ({lang})",
                bot.set_my_commands(commands_for(names, lang), scope=scope, language_code=code),
            )
        failed += not await _try(
            f"description ({lang})",
            bot.set_my_description(t("bot.description", lang), language_code=code),
        )
        failed += not await _try(
            f"short description ({lang})",
            bot.set_my_short_description(t("bot.short_description", lang), language_code=code),
        )
    return failed


async def _try(what: str, call: Awaitable[object]) -> bool:
    try:
        await call
    except TelegramError as error:
        log.warning("could not set the bot's %s: %s", what, error)
        return False
    return True
