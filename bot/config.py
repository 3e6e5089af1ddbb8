"""One typed settings object, read once at start-up from the environment and `.env`.

Nothing else in the code reads `os.environ`: services get the values they need from here.
Secrets are `SecretStr`, so printing or logging the settings shows `**********`.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.packs import parse_star_packs

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
DEFAULT_KLING_API_URL = "https://api-singapore.klingai.com"
DEFAULT_VIDU_API_URL = "https://api.vidu.com/ent/v2"
# BytePlus ModelArk (international); Volcengine Ark is https://ark.cn-beijing.volces.com/api/v3
DEFAULT_SEEDANCE_API_URL = "https://ark.ap-southeast.bytepluses.com/api/v3"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # Telegram
    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_api_url: str = Field(
        DEFAULT_TELEGRAM_API_URL, validation_alias=_env("TELEGRAM_API_URL")
    )
    webhook_url: str | None = Field(None, validation_alias=_env("CLAYMATE_WEBHOOK_URL"))
    webhook_listen: str = Field("0.0.0.0", validation_alias=_env("CLAYMATE_WEBHOOK_LISTEN"))
    webhook_port: int = Field(8443, ge=1, le=65535, validation_alias=_env("CLAYMATE_WEBHOOK_PORT"))
    webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("CLAYMATE_WEBHOOK_SECRET")
    )
    public_url: str | None = Field(None, validation_alias=_env("CLAYMATE_PUBLIC_URL"))
    # The storyboard Mini App (served at /app with a public URL): how old its init data may
    # be, and its BotFather short name for the t.me link groups get (web_app buttons are
    # private-chat only).
    app_auth_max_age_s: float = Field(
        3600.0, gt=0, le=86400, validation_alias=_env("CLAYMATE_APP_AUTH_MAX_AGE")
    )
    app_short_name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_]{3,30}$", validation_alias=_env("CLAYMATE_APP_SHORT_NAME")
    )
    admin_chat_id: int | None = Field(None, validation_alias=_env("CLAYMATE_ADMIN_CHAT_ID"))
    upload_limit_mb: int = Field(
        50, ge=1, le=2000, validation_alias=_env("CLAYMATE_UPLOAD_LIMIT_MB")
    )
    album_debounce_s: float = Field(1.5, ge=0, validation_alias=_env("CLAYMATE_ALBUM_DEBOUNCE"))
    status_edit_interval_s: float = Field(
        4.0, ge=0, validation_alias=_env("CLAYMATE_STATUS_EDIT_INTERVAL")
    )
    # The web server faces the internet: slow, big and many clients are cut off.
    web_header_timeout_s: float = Field(
        10.0, gt=0, validation_alias=_env("CLAYMATE_WEB_HEADER_TIMEOUT")
    )
    web_body_timeout_s: float = Field(
        20.0, gt=0, validation_alias=_env("CLAYMATE_WEB_BODY_TIMEOUT")
    )
    web_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, validation_alias=_env("CLAYMATE_WEB_MAX_BODY_BYTES")
    )
    web_max_connections: int = Field(
        100, ge=1, validation_alias=_env("CLAYMATE_WEB_MAX_CONNECTIONS")
    )
    # /metrics has its own bind, never the public port; unset port: no metrics served.
    metrics_listen: str = Field("127.0.0.1", validation_alias=_env("CLAYMATE_METRICS_LISTEN"))
    metrics_port: int | None = Field(
        None, ge=1, le=65535, validation_alias=_env("CLAYMATE_METRICS_PORT")
    )
    # Updates handled at once; the rest wait their turn in order (see bot/app.py).
    concurrent_updates: int = Field(
        16, ge=1, le=1024, validation_alias=_env("CLAYMATE_CONCURRENT_UPDATES")
    )

    # LLM (any OpenAI-compatible endpoint)
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    # Models are settings: providers retire them, and the operator must be able to follow.
    llm_model: str = Field(
        "gpt-5.4-mini", min_length=1, validation_alias=_env("CLAYMATE_LLM_MODEL")
    )
    llm_vision: bool = Field(True, validation_alias=_env("CLAYMATE_LLM_VISION"))
    llm_timeout_s: float = Field(30.0, gt=0, validation_alias=_env("CLAYMATE_LLM_TIMEOUT"))

    # Kling: an API key (works for every model), or the older AccessKey + SecretKey pair
    kling_api_key: SecretStr | None = Field(None, validation_alias=_env("KLING_API_KEY"))
    kling_access_key: SecretStr | None = Field(None, validation_alias=_env("KLING_ACCESS_KEY"))
    kling_secret_key: SecretStr | None = Field(None, validation_alias=_env("KLING_SECRET_KEY"))
    # Kling console "Webhook Secret" (whsec_…): when set, callbacks must carry its signature.
    kling_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("KLING_WEBHOOK_SECRET")
    )
    kling_api_url: str = Field(DEFAULT_KLING_API_URL, validation_alias=_env("KLING_API_URL"))
    kling_model: str = Field("kling-v2-5-turbo", validation_alias=_env("KLING_MODEL"))
    # Image 2.1: the current model that takes image_fidelity, which keeps the photo's layout.
    kling_image_model: str = Field("kling-v2-1", validation_alias=_env("KLING_IMAGE_MODEL"))
    kling_mode: str = Field("std", pattern="^(std|pro)$", validation_alias=_env("KLING_MODE"))
    kling_duration: int = Field(5, validation_alias=_env("KLING_DURATION"))
    kling_max_concurrent: int = Field(5, ge=1, validation_alias=_env("KLING_MAX_CONCURRENT"))
    kling_poll_interval_s: float = Field(8.0, gt=0, validation_alias=_env("KLING_POLL_INTERVAL"))
    kling_deadline_s: float = Field(1200.0, gt=0, validation_alias=_env("KLING_DEADLINE"))

    # Vidu: a second image-to-video provider; empty key = disabled
    vidu_api_key: SecretStr | None = Field(None, validation_alias=_env("VIDU_API_KEY"))
    vidu_api_url: str = Field(DEFAULT_VIDU_API_URL, validation_alias=_env("VIDU_API_URL"))
    vidu_model: str = Field("viduq2-turbo", validation_alias=_env("VIDU_MODEL"))
    vidu_max_concurrent: int = Field(5, ge=1, validation_alias=_env("VIDU_MAX_CONCURRENT"))
    # Seedance (ByteDance) on ModelArk / Ark: a third image-to-video provider; empty key = disabled
    seedance_api_key: SecretStr | None = Field(None, validation_alias=_env("SEEDANCE_API_KEY"))
    seedance_api_url: str = Field(
        DEFAULT_SEEDANCE_API_URL, validation_alias=_env("SEEDANCE_API_URL")
    )
    seedance_model: str = Field("seedance-1-5-pro-251215", validation_alias=_env("SEEDANCE_MODEL"))
    seedance_max_concurrent: int = Field(5, ge=1, validation_alias=_env("SEEDANCE_MAX_CONCURRENT"))
    # The provider new drafts use when several are configured (unset: Kling, Vidu, offline).
    video_provider: str | None = Field(None, validation_alias=_env("CLAYMATE_VIDEO_PROVIDER"))
    # Who makes clay stills: auto (Kling when configured, else offline), offline, kling, openai.
    still_provider: str = Field(
        "auto",
        pattern="^(auto|offline|kling|openai)$",
        validation_alias=_env("CLAYMATE_STILL_PROVIDER"),
    )
    # The images edit model behind CLAYMATE_STILL_PROVIDER=openai.
    image_model: str = Field(
        "gpt-image-2", min_length=1, validation_alias=_env("CLAYMATE_IMAGE_MODEL")
    )
    # An edit at medium quality takes tens of seconds; past this the user gets "try again".
    image_timeout_s: float = Field(120.0, gt=0, validation_alias=_env("CLAYMATE_IMAGE_TIMEOUT"))
    # Voice notes replying to a draft are written down by this model (needs OPENAI_API_KEY).
    transcribe_model: str = Field(
        "gpt-transcribe", min_length=1, validation_alias=_env("CLAYMATE_TRANSCRIBE_MODEL")
    )
    # A film's narration (/narration on) is spoken by this model, in this voice.
    tts_model: str = Field(
        "gpt-4o-mini-tts", min_length=1, validation_alias=_env("CLAYMATE_TTS_MODEL")
    )
    tts_voice: str = Field("marin", min_length=1, validation_alias=_env("CLAYMATE_TTS_VOICE"))
    # A short "made with Claymate" card at the end of every film (off: the film is theirs).
    end_card: bool = Field(False, validation_alias=_env("CLAYMATE_END_CARD"))

    # Storage and media
    data_dir: Path = Field(Path("./data"), validation_alias=_env("CLAYMATE_DATA_DIR"))
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    max_side_px: int = Field(2048, ge=300, validation_alias=_env("CLAYMATE_MAX_SIDE"))
    max_upload_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, validation_alias=_env("CLAYMATE_MAX_PHOTO_BYTES")
    )
    # A font file that draws Chinese, for titles, boards and labels (unset: found at run
    # time among Noto Sans CJK, Source Han Sans and WenQuanYi).
    cjk_font: Path | None = Field(None, validation_alias=_env("CLAYMATE_CJK_FONT"))
    preview_fps: int = Field(12, ge=1, le=60, validation_alias=_env("CLAYMATE_PREVIEW_FPS"))
    preview_height: int = Field(
        720, ge=144, le=2160, validation_alias=_env("CLAYMATE_PREVIEW_HEIGHT")
    )
    # `claymate doctor` fails its disk check below this much free space in CLAYMATE_DATA_DIR.
    min_free_disk_mb: int = Field(500, ge=0, validation_alias=_env("CLAYMATE_MIN_FREE_DISK_MB"))
    # Films and exports (joining clips, zipping a project) at once; the rest wait their turn.
    heavy_work_slots: int = Field(
        2, ge=1, le=64, validation_alias=_env("CLAYMATE_HEAVY_WORK_SLOTS")
    )
    # /export: the largest zip sent; clips that do not fit are left out (Telegram's bots: 50).
    export_limit_mb: int = Field(
        50, ge=1, le=2000, validation_alias=_env("CLAYMATE_EXPORT_LIMIT_MB")
    )
    # Offline previews render on this machine's CPU: this many at once (0 pauses them).
    offline_max_concurrent: int = Field(
        2, ge=0, validation_alias=_env("CLAYMATE_OFFLINE_CONCURRENT")
    )

    # Access: operators and the allowlist (parsed here so one place validates them)
    admin_ids: Annotated[tuple[int, ...], NoDecode] = Field(
        (), validation_alias=_env("CLAYMATE_ADMIN_IDS")
    )
    allowed_ids: Annotated[tuple[int, ...], NoDecode] = Field(
        (), validation_alias=_env("CLAYMATE_ALLOWED_IDS")
    )

    # Budgets, so paid video is never spent unchecked: units per take as
    # "provider:mode:duration=units" pairs over the published defaults; quotas per day and
    # month (unset: unlimited; admins override).
    costs: str | None = Field(None, validation_alias=_env("CLAYMATE_COSTS"))
    quota_user_day: float | None = Field(
        None, ge=0, validation_alias=_env("CLAYMATE_QUOTA_USER_DAY")
    )
    quota_user_month: float | None = Field(
        None, ge=0, validation_alias=_env("CLAYMATE_QUOTA_USER_MONTH")
    )
    quota_group_day: float | None = Field(
        None, ge=0, validation_alias=_env("CLAYMATE_QUOTA_GROUP_DAY")
    )
    quota_group_month: float | None = Field(
        None, ge=0, validation_alias=_env("CLAYMATE_QUOTA_GROUP_MONTH")
    )
    # Telegram Stars: credit packs as "credits:stars" pairs ("10:50,30:120"; unset: no
    # payments). A credit is one unit as the costs above count it. Bought credits pay after
    # the free quota runs out, or before it with CLAYMATE_CREDITS_FIRST.
    star_packs: str | None = Field(None, validation_alias=_env("CLAYMATE_STAR_PACKS"))
    credits_first: bool = Field(False, validation_alias=_env("CLAYMATE_CREDITS_FIRST"))
    # Where /paysupport sends buyers (an @username, an e-mail or a URL); unset: the operators.
    paysupport_contact: str | None = Field(
        None, max_length=200, validation_alias=_env("CLAYMATE_PAYSUPPORT_CONTACT")
    )
    # Fairness: a user may queue more, but at most this many of their takes are at work.
    max_takes_in_flight_per_user: int = Field(
        3, ge=1, validation_alias=_env("CLAYMATE_MAX_TAKES_IN_FLIGHT_PER_USER")
    )

    log_level: str = Field("INFO", validation_alias=_env("CLAYMATE_LOG_LEVEL"))
    # Start-up tries the database and the Bot API this many times while they are
    # unreachable, waiting CLAYMATE_STARTUP_BACKOFF seconds, then twice as long each time
    # (defaults: 2 + 4 + 8 + 16 = 30 s). A bad token or a broken schema is not retried.
    startup_retries: int = Field(5, ge=1, le=20, validation_alias=_env("CLAYMATE_STARTUP_RETRIES"))
    startup_backoff_s: float = Field(
        2.0, ge=0, le=300, validation_alias=_env("CLAYMATE_STARTUP_BACKOFF")
    )

    @field_validator(
        "telegram_bot_token",
        "openai_api_key",
        "kling_api_key",
        "kling_access_key",
        "kling_secret_key",
        "kling_webhook_secret",
        "vidu_api_key",
        "seedance_api_key",
        "video_provider",
        "webhook_secret",
        "openai_base_url",
        "webhook_url",
        "public_url",
        "app_short_name",
        "admin_chat_id",
        "metrics_port",
        "costs",
        "quota_user_day",
        "quota_user_month",
        "quota_group_day",
        "quota_group_month",
        "star_packs",
        "paysupport_contact",
        "cjk_font",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `KLING_ACCESS_KEY=` in a .env means "not set", not "an empty key".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("metrics_port")
    @classmethod
    def _metrics_apart(cls, value: int | None, info: ValidationInfo) -> int | None:
        public = info.data.get("webhook_url") or info.data.get("public_url")
        if value is not None and public and value == info.data.get("webhook_port"):
            raise ValueError("must differ from CLAYMATE_WEBHOOK_PORT (/metrics is never public)")
        return value

    @field_validator("admin_ids", "allowed_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(";", ",").split(",") if part.strip())
        return value

    @field_validator("star_packs")
    @classmethod
    def _packs(cls, value: str | None) -> str | None:
        parse_star_packs(value)  # one clear line at start-up, not a broken /buy later
        return value

    @field_validator("cjk_font")
    @classmethod
    def _font_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("must be the path of a font file (.ttf, .otf or .ttc)")
        return value

    @field_validator("kling_duration")
    @classmethod
    def _duration(cls, value: int) -> int:
        if value not in (5, 10):
            raise ValueError("must be 5 or 10")
        return value

    @field_validator("kling_webhook_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        # Told at start-up, not as every callback refused with 401.
        if value is not None:
            encoded = value.get_secret_value().removeprefix("whsec_")
            try:
                ok = bool(base64.b64decode(encoded, validate=True))
            except ValueError:
                ok = False
            if not ok:
                raise ValueError("must be the whsec_<base64> Webhook Secret from Kling's console")
        return value

    @field_validator("telegram_api_url", "kling_api_url", "vidu_api_url", "seedance_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalise_database_url(value.strip())

    # Derived values -------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL: DATABASE_URL, or a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'claymate.db').resolve()}"

    @property
    def kling_enabled(self) -> bool:
        return bool(self.kling_api_key or (self.kling_access_key and self.kling_secret_key))

    @property
    def vidu_enabled(self) -> bool:
        return bool(self.vidu_api_key)

    @property
    def seedance_enabled(self) -> bool:
        return bool(self.seedance_api_key)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key)

    @property
    def upload_limit_bytes(self) -> int:
        return self.upload_limit_mb * 1024 * 1024

    @property
    def export_limit_bytes(self) -> int:
        """An export is a document upload too: never over the upload limit."""
        return min(self.export_limit_mb, self.upload_limit_mb) * 1024 * 1024


def normalise_database_url(url: str) -> str:
    """Accept the plain URLs people paste and pick the async driver ourselves."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("postgresql+psycopg2://") or url.startswith("postgresql+psycopg://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith("sqlite+claymate://"):  # the SQLite driver earlier releases shipped
        return "sqlite+aiosqlite://" + url[len("sqlite+claymate://") :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ValueError("must be a sqlite:/// or postgresql:// URL")


# The environment variable behind each field, for error messages.
def _env_name(field_name: str) -> str:
    info = Settings.model_fields.get(field_name)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field_name.upper()


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning a validation error into one line that names the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc") or ("?",)
        name = _env_name(str(loc[0]))
        # Never echo the input: it may be a secret pasted into the wrong variable.
        raise ConfigError(f"{name}: {first.get('msg', 'invalid value')}") from None


def require(settings: Settings, *field_names: str) -> None:
    """Fail with the variable's name when a command needs a setting that is not set."""
    for field_name in field_names:
        if getattr(settings, field_name) in (None, ""):
            raise ConfigError(f"{_env_name(field_name)}: is required for this command but not set")


def exit_on_config_error(error: ConfigError) -> None:
    print(f"claymate: configuration error: {error}", file=sys.stderr)
    raise SystemExit(2)
