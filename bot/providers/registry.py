"""Which providers this bot uses: the one place that picks them from settings.

With no keys at all everything runs on the offline defaults; setting a provider's keys is
all it takes to use it. Kling, Vidu, Seedance and OpenAI are imported only when
configured, so a keyless bot never loads their clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.config import ConfigError, Settings
from bot.domain.ports import AccessCheckable, PromptDrafter, StillMaker, VideoProvider
from bot.providers.offline.drafter import OfflineDrafter
from bot.providers.offline.stills import OfflineStills
from bot.providers.offline.video import OfflineVideoProvider

if TYPE_CHECKING:  # a keyless bot never loads the openai client
    from bot.providers.openai.audio import OpenAIAudio


def build_drafter(settings: Settings) -> PromptDrafter:
    """The LLM drafter when one is configured (falling back to offline), else offline."""
    offline = OfflineDrafter()
    if not settings.llm_enabled:
        return offline
    from bot.providers.openai.llm import LLMDrafter

    return LLMDrafter.from_settings(settings, fallback=offline)


def build_audio(settings: Settings) -> OpenAIAudio | None:
    """Voice notes written down and narration spoken: with an OpenAI key only (offline: none)."""
    if not settings.openai_api_key:
        return None
    from bot.providers.openai.audio import OpenAIAudio

    return OpenAIAudio.from_settings(settings)


def build_providers(settings: Settings) -> tuple[dict[str, VideoProvider], str]:
    """Every configured video provider by name, and the default for new drafts."""
    providers: dict[str, VideoProvider] = {
        "offline": OfflineVideoProvider(fps=settings.preview_fps, height=settings.preview_height)
    }
    default = "offline"
    if settings.kling_enabled:
        from bot.providers.kling.client import KlingVideoProvider

        providers["kling"] = KlingVideoProvider.from_settings(settings)
        default = "kling"
    if settings.vidu_enabled:
        from bot.providers.vidu import ViduVideoProvider

        providers["vidu"] = ViduVideoProvider.from_settings(settings)
        default = "kling" if "kling" in providers else "vidu"
    if settings.seedance_enabled:
        from bot.providers.seedance import SeedanceVideoProvider

        providers["seedance"] = SeedanceVideoProvider.from_settings(settings)
        if default == "offline":
            default = "seedance"
    if settings.video_provider:
        # CLAYMATE_VIDEO_PROVIDER picks among the configured ones; users can still switch.
        if settings.video_provider not in providers:
            raise ConfigError(
                f"CLAYMATE_VIDEO_PROVIDER: {settings.video_provider!r} is not configured "
                f"(configured: {', '.join(providers)})"
            )
        default = settings.video_provider
    return providers, default


def build_still_maker(settings: Settings) -> StillMaker:
    """CLAYMATE_STILL_PROVIDER: auto (Kling when configured, else offline), or one by name."""
    choice = settings.still_provider
    if choice == "auto":
        choice = "kling" if settings.kling_enabled else "offline"
    if choice == "kling":
        if not settings.kling_enabled:
            raise ConfigError(
                "CLAYMATE_STILL_PROVIDER: kling needs KLING_API_KEY"
                " (or KLING_ACCESS_KEY and KLING_SECRET_KEY)"
            )
        from bot.providers.kling.capabilities import image_model_problem
        from bot.providers.kling.stills import KlingStills

        if problem := image_model_problem(settings.kling_image_model):
            raise ConfigError(f"KLING_IMAGE_MODEL: {problem}")

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value else None

        return KlingStills(
            secret(settings.kling_access_key),
            secret(settings.kling_secret_key),
            settings.kling_api_url,
            api_key=secret(settings.kling_api_key),
            model=settings.kling_image_model,
        )
    if choice == "openai":
        if not settings.openai_api_key:
            raise ConfigError("CLAYMATE_STILL_PROVIDER: openai needs OPENAI_API_KEY")
        from bot.providers.openai.stills import OpenAIStills

        return OpenAIStills.from_settings(settings)
    return OfflineStills()


def build_checkable(settings: Settings) -> dict[str, AccessCheckable | ConfigError | None]:
    """The paid providers `claymate doctor` asks: built when configured, None when offline,
    or the ConfigError (a retired model, a missing half of a key pair) that stops building it."""
    builders: dict[str, tuple[bool, Callable[[], AccessCheckable]]] = {
        "kling": (settings.kling_enabled, lambda: _kling(settings)),
        "vidu": (settings.vidu_enabled, lambda: _vidu(settings)),
        "seedance": (settings.seedance_enabled, lambda: _seedance(settings)),
        "llm": (settings.llm_enabled, lambda: _llm(settings)),
        "transcribe": (settings.llm_enabled, lambda: _audio(settings, "transcribe")),
        "speech": (settings.llm_enabled, lambda: _audio(settings, "speech")),
    }
    found: dict[str, AccessCheckable | ConfigError | None] = {}
    for name, (enabled, build) in builders.items():
        try:
            found[name] = build() if enabled else None
        except ConfigError as error:
            found[name] = error
    return found


def _kling(settings: Settings) -> AccessCheckable:
    from bot.providers.kling.client import KlingVideoProvider

    return KlingVideoProvider.from_settings(settings)


def _vidu(settings: Settings) -> AccessCheckable:
    from bot.providers.vidu import ViduVideoProvider

    return ViduVideoProvider.from_settings(settings)


def _seedance(settings: Settings) -> AccessCheckable:
    from bot.providers.seedance import SeedanceVideoProvider

    return SeedanceVideoProvider.from_settings(settings)


def _audio(settings: Settings, which: str) -> AccessCheckable:
    from bot.providers.openai.audio import AudioModelCheck, OpenAIAudio

    audio = OpenAIAudio.from_settings(settings)
    model = audio.transcribe_model if which == "transcribe" else audio.tts_model
    return AudioModelCheck(audio, model)


def _llm(settings: Settings) -> AccessCheckable:
    from bot.providers.openai.llm import LLMDrafter

    return LLMDrafter.from_settings(settings)
