"""The chat's doors into the storyboard Mini App: the project card's button, the menu
button, and what the Mini App's API asks of Telegram (group membership, sending the film)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardButton, MenuButtonWebApp, WebAppInfo
from telegram.error import TelegramError

from bot.config import Settings
from bot.domain.types import Actor
from bot.i18n import t
from bot.services.permissions import StatusIn
from bot.services.projects import Projects
from handlers.film import film_to_chat
from handlers.groups import status_or_left

log = logging.getLogger(__name__)

APP_PATH = "/app"


def app_url(settings: Settings, project_id: int | None = None) -> str | None:
    """The page's public address; None without an HTTPS public URL (Telegram opens Mini
    Apps over HTTPS only)."""
    root = settings.public_url
    if not root or not root.startswith("https://"):
        return None
    url = root.rstrip("/") + APP_PATH
    return url if project_id is None else f"{url}?project={project_id}"


def storyboard_button(
    settings: Settings, project_id: int, *, private: bool, bot_username: str | None, lang: str
) -> InlineKeyboardButton | None:
    """🎞 Storyboard on a project card: a web_app button in a private chat (Telegram
    allows them nowhere else), in a group a t.me link to the Mini App when BotFather's
    short name is set, else none."""
    url = app_url(settings, project_id)
    if url is None:
        return None
    label = t("button.storyboard", lang)
    if private:
        return InlineKeyboardButton(label, web_app=WebAppInfo(url))
    if settings.app_short_name and bot_username:
        link = f"https://t.me/{bot_username}/{settings.app_short_name}?startapp=p{project_id}"
        return InlineKeyboardButton(label, url=link)
    return None


async def set_menu_button(bot: Bot, settings: Settings) -> None:
    """The chat menu button opens the storyboard, in every private chat of the bot."""
    url = app_url(settings)
    if url is None:
        return
    try:
        await bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(t("app.menu_button"), WebAppInfo(url))
        )
    except TelegramError as error:  # a nicety: the bot works without it
        log.warning("menu button not set: %s", type(error).__name__)


def status_in_for(bot: Bot) -> Callable[[int], StatusIn]:
    """getChatMember for a Mini App user: unknown (Telegram unreachable, bot removed) means
    not a member, so nothing of a group is shown on a guess."""

    def for_user(user_id: int) -> StatusIn:
        def in_chat(chat_id: int) -> Callable[[], Awaitable[str]]:
            async def fetch() -> str:
                return await status_or_left(bot, chat_id, user_id)

            return fetch

        return in_chat

    return for_user


def film_sender(bot: Bot, projects: Projects) -> Callable[[Actor, int], Awaitable[None]]:
    """🎞 Make film in the Mini App: the same film, to the same chat, as /film."""

    async def send(actor: Actor, project_id: int) -> None:
        await film_to_chat(bot, projects, actor, project_id)

    return send
