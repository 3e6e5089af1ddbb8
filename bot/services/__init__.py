"""The use cases, one per aggregate; handlers find them on the application as `Services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing the package stays light: the CLI's parser imports below it
    from bot.services.accounts import Accounts
    from bot.services.albums import Albums
    from bot.services.cancelling import Cancelling
    from bot.services.chat_settings import ChatSettings
    from bot.services.continuity import Continuity
    from bot.services.drafting import Drafting
    from bot.services.generation import Generation
    from bot.services.groups import Groups
    from bot.services.links import ShareLinks
    from bot.services.narration import Narration
    from bot.services.payments import Payments
    from bot.services.permissions import Permissions
    from bot.services.projects import Projects
    from bot.services.soundtracks import Soundtracks
    from bot.services.stills import Stills
    from bot.services.voice import VoiceNotes


@dataclass(frozen=True, slots=True)
class Services:
    """Every use case the chat front end and the CLI call, built once by bot.wiring."""

    accounts: Accounts  # who is asking, access, money, /export, /forget
    permissions: Permissions  # who may see, spend and change what
    drafting: Drafting  # photos, drafts, refinements, ⚙️, albums
    generation: Generation  # 🎬 Generate, ✖, ⭐ Keep
    projects: Projects  # projects, the board, the film
    groups: Groups  # a group's Generate rule and its votes
    stills: Stills  # 🎨 clay stills and end frames
    soundtracks: Soundtracks  # a film's music and words
    narration: Narration  # a film's spoken lines (/narration)
    voice: VoiceNotes  # voice notes replying to a draft, written down
    payments: Payments  # credit packs bought with Telegram Stars
    links: ShareLinks  # 🔗 share links (deep links) to a project
    chat_settings: ChatSettings  # /settings: a chat's defaults, its project's switches
    cancelling: Cancelling  # /cancel: the user's queued take or waiting draft
    albums: Albums  # 🎬 Generate all on an album, all or nothing
    continuity: Continuity  # ➡️ Continue: the next shot from a kept take's last frame
