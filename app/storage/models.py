"""The tables: feeds, their items, the fetches promised to someone, OPML imports, and the
reader's people, subscriptions, folders and per-item state.

Postgres is the source of truth; Redis only carries work. The ``fetches`` row
is what a client polls, so it must say everything about a fetch's progress.
A feed's states and their rules are in app.feed_state.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.feed_state import FeedState

# Stable constraint names, so Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: The largest id a bigint column holds: a larger number names no row, and would
#: overflow the query's parameter.
MAX_ID = 2**63 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


__all__ = [
    "ApiToken",
    "AppPassword",
    "Base",
    "Feed",
    "FeedIcon",
    "FeedState",
    "Fetch",
    "FetchState",
    "FetchTrigger",
    "Folder",
    "Item",
    "ItemState",
    "Subscription",
    "User",
    "WebSubDelivery",
    "WebSubSubscription",
]


class FetchState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def pending(self) -> bool:
        return self in (FetchState.QUEUED, FetchState.RUNNING)


class FetchTrigger(enum.StrEnum):
    SUBMITTED = "submitted"
    REFRESH = "refresh"
    MANUAL = "manual"


def states_predicate(states: Iterable[enum.StrEnum]) -> str:
    """``state IN ('a','b')`` for ``states``, spelled literally and in a stable order.

    Partial indexes need literal predicates, ON CONFLICT must name them, and a
    literal works in bulk (executemany) statements, where IN (...) binds do not.
    """
    return "state IN (" + ",".join(f"'{state}'" for state in sorted(states)) + ")"


PENDING_STATES = (FetchState.QUEUED.value, FetchState.RUNNING.value)
PENDING_PREDICATE = states_predicate([FetchState.QUEUED, FetchState.RUNNING])


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as text with a CHECK constraint: adding a state later is a
    # one-line migration instead of an ALTER TYPE dance.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
    )


#: Percent of each feeds page filled by inserts (migration 0006).
FEEDS_FILLFACTOR = 80


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)  # normalised, as submitted
    current_url: Mapped[str] = mapped_column(Text)  # after permanent redirects / discovery
    title: Mapped[str | None] = mapped_column(Text)
    site_url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[FeedState] = mapped_column(_enum(FeedState, "feed_state"), default=FeedState.NEW)
    error_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    item_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refresh_interval: Mapped[int | None] = mapped_column(
        Integer
    )  # seconds, chosen by the scheduler
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_fetch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # WebSub: the hub the feed names and the topic (self URL) to subscribe to there.
    hub_url: Mapped[str | None] = mapped_column(Text)
    topic_url: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[Item]] = relationship(
        back_populates="feed", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # No index on next_fetch_at: the due order is feed_schedule's (below), so no
        # update of a feed changes an indexed column and each can be HOT.
        # WebSub housekeeping looks for the few feeds that name a hub, every half minute.
        Index("ix_feeds_hub", "id", postgresql_where=text("hub_url IS NOT NULL")),
        # Room in each page for a refresh's new row version: an update that changes no
        # indexed column then stays on its page and adds no index entries (HOT).
        {"postgresql_with": {"fillfactor": FEEDS_FILLFACTOR}},
    )


#: The scheduler's due order (migration 0010): a row per scheduled time of a refreshable
#: feed, written by a trigger on feeds whenever one gets a new next_fetch_at (or becomes
#: refreshable), taken and deleted by the claim (app.storage.feeds.claim_due_feeds). A row
#: whose feed has moved on since is stale and is dropped when it comes due, so it needs no
#: key and no index on feed_id: the claim reads it in due order only.
feed_schedule = Table(
    "feed_schedule",
    Base.metadata,
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("feed_id", BigInteger, nullable=False),
    Index("ix_feed_schedule_due_at", "due_at"),
    postgresql_with={"autovacuum_vacuum_scale_factor": 0.02},
)


#: The searchable text of an item: the title weighs more than the body. HTML tags are
#: tokens the text search parser skips. The body is cut at SEARCH_BODY_CHARS: a tsvector
#: holds at most 1 MB, and an item's insert must never fail for its size.
SEARCH_BODY_CHARS = 100_000
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, "
    f"left(coalesce(content_html, summary_html, ''), {SEARCH_BODY_CHARS})), 'B')"
)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(Text)  # stable identity inside the feed
    guid: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    summary_html: Mapped[str | None] = mapped_column(Text)
    content_html: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The files the item carries, [{"url", "type", "length"}] (app.pipeline.enclosures);
    # NULL when none. In the row, not a table of their own: they are written by the same
    # upsert, deleted with the item, and read with it by every page (migration 0008).
    enclosures: Mapped[list[dict[str, object]] | None] = mapped_column(JSONB)
    # When we first stored the item, and when we last changed it: the sort
    # key falls back to first_seen_at for items without dates.
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sort_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Full-text search (app.storage.search): kept by Postgres, never loaded with the row.
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True), deferred=True
    )

    feed: Mapped[Feed] = relationship(back_populates="items")

    __table_args__ = (
        UniqueConstraint("feed_id", "key", name="uq_items_feed_id_key"),
        # Newest-first pages with a (sort_at, id) cursor.
        Index("ix_items_feed_sort", "feed_id", text("sort_at DESC"), text("id DESC")),
        # Unread items above a subscription's read_upto_id watermark.
        Index("ix_items_feed_id", "feed_id", "id"),
        Index("ix_items_search", "search_vector", postgresql_using="gin"),
    )


class FeedIcon(Base):
    """A feed's icon as the worker last found it (app.jobs.icons), or why it found none.

    ``body`` is at most FEED_ICON_MAX_BYTES of a raster image whose type was read from
    its bytes (app.pipeline.imagesniff); ``declared_url`` is the icon the feed named
    then, so a feed that names another one is looked at again before the row is due.
    """

    __tablename__ = "feed_icons"

    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )
    declared_url: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)  # where the bytes came from
    content_type: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))  # also the ETag served
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class Fetch(Base):
    __tablename__ = "fetches"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[FetchTrigger] = mapped_column(_enum(FetchTrigger, "fetch_trigger"))
    state: Mapped[FetchState] = mapped_column(
        _enum(FetchState, "fetch_state"), default=FetchState.QUEUED
    )
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # Times its worker process died while it ran (crash, OOM, SIGKILL): past
    # FETCH_CRASH_RETRIES it fails with worker_crashed instead of running again.
    crashes: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # For scheduled refreshes: when the feed was due (lag = created_at - scheduled_for).
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    items_new: Mapped[int | None] = mapped_column(Integer)
    items_updated: Mapped[int | None] = mapped_column(Integer)
    not_modified: Mapped[bool | None] = mapped_column()
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    warning: Mapped[str | None] = mapped_column(Text)
    discovered_url: Mapped[str | None] = mapped_column(Text)
    # The RQ job that carries this fetch when it is not the fetch's own id: the
    # scheduler puts many refreshes in one job (see app.jobs.batch).
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    feed: Mapped[Feed] = relationship()

    @property
    def rq_job_id(self) -> uuid.UUID:
        """The RQ job that carries this fetch: a refresh batch, or its own."""
        return self.job_id or self.id

    __table_args__ = (
        # At most one pending fetch per feed: a resubmission finds the
        # existing one instead of enqueueing a second job, even under races.
        Index(
            "uq_fetches_one_pending_per_feed",
            "feed_id",
            unique=True,
            postgresql_where=text(PENDING_PREDICATE),
        ),
        Index(
            "ix_fetches_pending",
            "state",
            "created_at",
            postgresql_where=text(PENDING_PREDICATE),
        ),
        Index("ix_fetches_finished", "finished_at"),
        Index("ix_fetches_pending_job", "job_id", postgresql_where=text(PENDING_PREDICATE)),
    )


class OpmlImport(Base):
    """One uploaded OPML file: what each of its entries became (see app.services.opml_import)."""

    __tablename__ = "opml_imports"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)  # the uploaded file's name
    # Whose import it is: only they see its progress.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )

    entries: Mapped[list[OpmlImportEntry]] = relationship(
        order_by="OpmlImportEntry.position", cascade="all, delete-orphan", passive_deletes=True
    )


class OpmlImportEntry(Base):
    """An entry of an import: submitted (it names its feed and fetch) or refused (with why)."""

    __tablename__ = "opml_import_entries"

    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("opml_imports.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line: Mapped[int] = mapped_column(Integer)  # in the uploaded file
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    # No foreign keys: the progress page reports a feed deleted since as "deleted".
    feed_id: Mapped[int | None] = mapped_column(BigInteger)
    fetch_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    refusal: Mapped[str | None] = mapped_column(Text)  # why it was not submitted


# -- the reader: people, their subscriptions, folders and per-item state --------------------
#
# Feeds and items stay shared: a feed is fetched once whatever the number of its
# subscribers. What is a person's own lives in these tables, always keyed by the
# person, so every query of theirs starts from their user id.


class User(Base):
    """A person who signs in. The first account is the admin (app.services.accounts)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, encoded with its parameters
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        # Names are unique whatever their case: "Ann" cannot sign up beside "ann".
        Index("uq_users_username_lower", func.lower(text("username")), unique=True),
    )


class ApiToken(Base):
    """A person's API token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppPassword(Base):
    """A password for a reader app (Fever, Google Reader clients), never the login password.

    Neither the password nor the Fever key is stored: both are random enough
    (125 bits) for a SHA-256 of each to be found by lookup and useless to whoever
    reads the table (docs/security.md, "App passwords").
    """

    __tablename__ = "app_passwords"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    # SHA-256 hex of the app password (protocols that send it: Google Reader's ClientLogin).
    password_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 hex of the Fever api_key, md5("username:app-password") in lower-case hex.
    fever_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Folder(Base):
    """A person's folder of subscriptions; folders nest (OPML outlines inside outlines)."""

    __tablename__ = "folders"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index(
            "uq_folders_user_parent_name",
            "user_id",
            func.coalesce(text("parent_id"), 0),
            "name",
            unique=True,
        ),
    )


class Subscription(Base):
    """A person following a feed, under their own title and folder.

    Read state: an item is read when a row of ``item_states`` says so, else when
    the subscription's watermark covers it: ``id <= read_upto_id`` (item ids grow
    as items arrive; set at subscription and moved by "mark all read") or
    ``sort_at < read_before`` (moved by "mark read older than").
    """

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    folder_id: Mapped[int | None] = mapped_column(
        ForeignKey("folders.id", ondelete="SET NULL"), index=True
    )
    read_upto_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    read_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    feed: Mapped[Feed] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "feed_id", name="uq_subscriptions_user_feed"),)


class ItemState(Base):
    """A person's exception to the watermark for one item: read or unread, starred."""

    __tablename__ = "item_states"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    # The item's feed, copied so "mark this feed read" finds the rows without a join.
    feed_id: Mapped[int] = mapped_column(BigInteger)
    read: Mapped[bool | None] = mapped_column()  # None: as the watermark says
    starred: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    starred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_item_states_user_feed", "user_id", "feed_id"),
        # Starred lists, and retention's "starred by anyone" check.
        Index("ix_item_states_starred", "item_id", postgresql_where=text("starred")),
        Index(
            "ix_item_states_user_starred",
            "user_id",
            text("starred_at DESC"),
            postgresql_where=text("starred"),
        ),
    )


# -- WebSub push (app.services.websub, app.jobs.websub) --------------------------------------


class WebSubSubscription(Base):
    """Our subscription to a feed's topic at its hub: one per feed.

    ``token`` names the callback URL (``/websub/<token>``): unguessable, so only the
    hub we gave it to can call it. ``secret`` is the HMAC key the hub signs deliveries
    with; it must be read back to check signatures, so it is stored as it is.
    ``pending`` is the request we are waiting for the hub to verify (subscribe or
    unsubscribe): a verification of anything else is refused.
    """

    __tablename__ = "websub_subscriptions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), unique=True)
    hub_url: Mapped[str] = mapped_column(Text)
    topic_url: Mapped[str] = mapped_column(Text)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(128))
    # requested (asked, not verified yet), active, denied, expired, failed, unsubscribed
    state: Mapped[str] = mapped_column(String(16), default="requested")
    pending: Mapped[str | None] = mapped_column(String(16))  # subscribe | unsubscribe
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_delivery_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deliveries: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # The per-subscription rate limit: deliveries counted in the current minute.
    window_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_websub_subscriptions_expires", "expires_at"),)


class WebSubDelivery(Base):
    """A body a hub pushed, stored by the web until a worker parses it (then deleted)."""

    __tablename__ = "websub_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("websub_subscriptions.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)  # the delivery's Link header
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
