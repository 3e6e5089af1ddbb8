"""The database is the only place Claymate keeps state.

Conversation state (which draft a reply refers to, the current project), generation jobs
and delivery records all live here, so a restart or a second bot instance carries on
exactly where the first one stopped. Telegram ids are 64-bit, hence BigInteger.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.domain.states import ShotState, TakeState


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use storage.models.utcnow()")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(128), default="")
    language_code: Mapped[str | None] = mapped_column(String(16))  # as Telegram reports it
    lang: Mapped[str | None] = mapped_column(String(8))  # chosen with /lang; wins over the above
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Chat(Base):
    """A private chat, a group, or the command line (type "cli").

    Settings a user changes in chat (provider, mode, duration, language) live here:
    per user in a private chat, per group in a group, never global.
    """

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(256))
    current_project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL", use_alter=True, name="fk_chat_project")
    )
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Project(Base):
    """Owned by a chat: a private chat's user, or a whole group."""

    __tablename__ = "projects"
    # Old buttons carry row ids: an id must never be handed out again after a delete.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(256))
    # Native sound on the takes of this project, where the model makes it (off: silent,
    # and cheaper on Kling 2.6).
    sound: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The film's music: "calm" (the generated loop) or a file name under data/music.
    soundtrack: Mapped[str | None] = mapped_column(String(128), default=None)
    subtitles: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Each shot's line spoken over the film (needs a speech endpoint: OPENAI_API_KEY).
    narration: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The shape new photos are cropped to: "16:9", "9:16" or "1:1"; None: each photo's own.
    aspect: Mapped[str | None] = mapped_column(String(8), default=None)

    shots: Mapped[list[Shot]] = relationship(
        back_populates="project",
        order_by="Shot.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Shot(Base):
    """One source photo and its description, in its place in the project."""

    __tablename__ = "shots"
    __table_args__ = (
        Index("ix_shots_project_position", "project_id", "position"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    # awaiting_description -> drafted; cancelled when the user presses ✖ on the draft.
    status: Mapped[str] = mapped_column(String(32), default=ShotState.DRAFTED)
    description: Mapped[str | None] = mapped_column(Text)
    photo_path: Mapped[str] = mapped_column(String(512))  # the video-ready JPEG on disk
    still_path: Mapped[str | None] = mapped_column(String(512))  # a chosen clay still
    # The shot's own folder name for stills and end frames: random, never the row id, so
    # no later shot can come upon its files. NULL on shots made before it (their folder is
    # the shot id, and ids are not reused since).
    files_id: Mapped[str | None] = mapped_column(String(32), default=lambda: uuid.uuid4().hex)
    photo_width: Mapped[int] = mapped_column(Integer)
    photo_height: Mapped[int] = mapped_column(Integer)
    source_format: Mapped[str] = mapped_column(String(16))
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    intake_notes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Where the photo came from in Telegram, so answers reply to it.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    media_group_id: Mapped[str | None] = mapped_column(String(64), index=True)
    telegram_file_id: Mapped[str | None] = mapped_column(String(256))
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompt_revisions.id", ondelete="SET NULL", use_alter=True, name="fk_shot_rev")
    )
    kept_take_id: Mapped[int | None] = mapped_column(
        ForeignKey("takes.id", ondelete="SET NULL", use_alter=True, name="fk_shot_kept_take")
    )
    # In a group the most-voted take is kept, unless an admin picked one (then this is set).
    kept_by_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship(back_populates="shots")


class PromptRevision(Base):
    """Every draft and refinement, kept so ↩️ Undo and the project history work."""

    __tablename__ = "prompt_revisions"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shot_id: Mapped[int] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompt_revisions.id", ondelete="SET NULL")
    )
    number: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(String(256), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    # camera_move, duration, mode, provider, model: what Generate will use.
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    instruction: Mapped[str | None] = mapped_column(Text)  # the refinement that made it
    drafter: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Take(Base):
    """One generation attempt, a state machine that survives restarts.

    `external_id` is written before the provider is called, so a create that may have
    gone out is looked up instead of paid for twice; `upstream_task_id` is committed
    right after the create call returns.
    """

    __tablename__ = "takes"
    __table_args__ = (
        Index("ix_takes_status_due", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shot_id: Mapped[int] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("prompt_revisions.id", ondelete="CASCADE"))
    requested_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    request_key: Mapped[str | None] = mapped_column(String(128), unique=True)  # idempotency
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    upstream_task_id: Mapped[str | None] = mapped_column(String(128))
    # A TakeState; only Repo.transition_take changes it, along the domain's TAKE_TRANSITIONS.
    status: Mapped[str] = mapped_column(String(16), default=TakeState.QUEUED)
    progress: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_detail: Mapped[str | None] = mapped_column(Text)  # for operators, never users
    cost_units: Mapped[float] = mapped_column(Float, default=0.0)
    # Units the provider reports it actually charged (Kling final_unit_deduction).
    charged_units: Mapped[float | None] = mapped_column(Float)
    clip_path: Mapped[str | None] = mapped_column(String(512))
    clip_size: Mapped[int | None] = mapped_column(BigInteger)
    clip_duration: Mapped[float | None] = mapped_column(Float)
    clip_width: Mapped[int | None] = mapped_column(Integer)
    clip_height: Mapped[int | None] = mapped_column(Integer)
    preview: Mapped[bool] = mapped_column(Boolean, default=False)
    # Delivery: where the clip goes, and the proof that it went.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    reply_to_message_id: Mapped[int | None] = mapped_column(BigInteger)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger)
    status_edited_at: Mapped[datetime | None] = mapped_column()
    delivered_message_id: Mapped[int | None] = mapped_column(BigInteger)
    telegram_file_id: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()


class TakeEvent(Base):
    """An audit trail of take transitions: when, to what, and why."""

    __tablename__ = "take_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    take_id: Mapped[int] = mapped_column(ForeignKey("takes.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class BotMessage(Base):
    """What a message the bot sent stands for, so replies and buttons find their row."""

    __tablename__ = "bot_messages"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(24))  # draft, status, clip, ask, album, project
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    shot_id: Mapped[int | None] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"))
    revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompt_revisions.id", ondelete="CASCADE")
    )
    take_id: Mapped[int | None] = mapped_column(ForeignKey("takes.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedUpdate(Base):
    """Telegram may deliver an update twice (a restart before the offset was acknowledged)."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # for pruning


class MediaGroup(Base):
    """An album arrives as separate updates; this row makes sure it is answered once."""

    __tablename__ = "media_groups"
    __table_args__ = (
        UniqueConstraint("chat_id", "media_group_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    media_group_id: Mapped[str] = mapped_column(String(64))
    last_photo_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()


# --- groups, budgets and access (migration 0002_groups) ------------------------------------


class AccessEntry(Base):
    """The run-time allowlist: a user or chat id allowed or denied by an admin (/allow, /deny).

    "refused" marks an unknown id that was already told, once, that the bot is private.
    """

    __tablename__ = "access_entries"

    subject_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))  # allowed, denied, refused
    changed_by: Mapped[int | None] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsageEntry(Base):
    """Units spent: reserved when a take or still is made, then charged or refunded; or granted.

    Quotas count a user's spending by `user_hash` (a keyed hash of the Telegram id), which
    /forget keeps while it clears `user_id`: forgetting removes content, not what was spent.
    """

    __tablename__ = "usage_ledger"
    __table_args__ = (
        Index("ix_usage_user_at", "user_id", "created_at"),
        Index("ix_usage_chat_at", "chat_id", "created_at"),
        Index("ix_usage_user_hash_at", "user_hash", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    take_id: Mapped[int | None] = mapped_column(
        ForeignKey("takes.id", ondelete="SET NULL"), unique=True
    )
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    user_hash: Mapped[str | None] = mapped_column(String(64))  # HMAC-SHA256 of user_id
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), default="take", server_default="take")
    units: Mapped[float] = mapped_column(Float)  # negative for a grant
    # The part of `units` paid with bought credits (StarPurchase): it never counts
    # against a free quota, and it is what a user's credit balance has spent.
    credit_units: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    state: Mapped[str] = mapped_column(String(16))  # a ChargeState
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StarPurchase(Base):
    """A credit pack paid in Telegram Stars: one row per telegram_payment_charge_id.

    The unique charge id is what makes a redelivered successful_payment credit nothing the
    second time. `user_id` stays through /forget: a refund needs it, and Telegram keeps the
    payment anyway. A refund takes back what is left of the credits, never more.
    """

    __tablename__ = "star_purchases"
    __table_args__ = (
        Index("ix_star_purchases_user", "user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    pack: Mapped[str] = mapped_column(String(32))  # "credits:stars", as priced at the time
    stars: Mapped[int] = mapped_column(Integer)
    credits: Mapped[int] = mapped_column(Integer)
    credits_taken_back: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    telegram_charge_id: Mapped[str] = mapped_column(String(255), unique=True)
    provider_charge_id: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))  # a PurchaseState
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refunded_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuotaOverride(Base):
    """An admin's /limit for one user or group and period, over the environment defaults."""

    __tablename__ = "quota_overrides"

    subject_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)  # day, month
    units: Mapped[float | None] = mapped_column(Float)  # None: unlimited
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class TakeVote(Base):
    """A group member's ⭐ for one take of a shot: one vote per member per shot."""

    __tablename__ = "take_votes"

    shot_id: Mapped[int] = mapped_column(
        ForeignKey("shots.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    take_id: Mapped[int] = mapped_column(ForeignKey("takes.id", ondelete="CASCADE"), index=True)
    voted_at: Mapped[datetime] = mapped_column(default=utcnow)


class BotSetting(Base):
    """Installation-wide state an operator (or the bot itself) sets: the access mode, keys."""

    __tablename__ = "bot_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=False)
    changed_by: Mapped[int | None] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectLink(Base):
    """A 🔗 share link's token: `t.me/<bot>?start=p_<token>` opens this project.

    A random token, not the project id, so a link cannot be guessed from another one; who
    may open it is still decided when it is opened (the owner, or a member of the group).
    """

    __tablename__ = "project_links"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class FilmCopy(Base):
    """A film Telegram already holds: asking again with the same inputs re-sends its file_id.

    `inputs_key` is a hash of everything the film is made of (the clips in order and their
    files, the music, the words, the cut and the assembler's version): any change misses.
    """

    __tablename__ = "film_copies"
    __table_args__ = (
        UniqueConstraint("project_id", "inputs_key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    inputs_key: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str] = mapped_column(String(256))
    duration_s: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    clips: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
