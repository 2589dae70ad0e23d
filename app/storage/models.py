"""The tables: feeds, their items, the fetches promised to someone, OPML imports.

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
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.feed_state import REFRESHABLE, FeedState

# Stable constraint names, so Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


__all__ = ["Base", "Feed", "FeedState", "Fetch", "FetchState", "FetchTrigger", "Item"]


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


#: Percent of each feeds page filled by inserts (migration 0005).
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

    items: Mapped[list[Item]] = relationship(
        back_populates="feed", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # The scheduler's query: due feeds in order.
        Index(
            "ix_feeds_due", "next_fetch_at", postgresql_where=text(states_predicate(REFRESHABLE))
        ),
        # Room in each page for a refresh's new row version: an update that changes no
        # indexed column then stays on its page and adds no index entries (HOT).
        {"postgresql_with": {"fillfactor": FEEDS_FILLFACTOR}},
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
    # When we first stored the item, and when we last changed it: the sort
    # key falls back to first_seen_at for items without dates.
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sort_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    feed: Mapped[Feed] = relationship(back_populates="items")

    __table_args__ = (
        UniqueConstraint("feed_id", "key", name="uq_items_feed_id_key"),
        # Newest-first pages with a (sort_at, id) cursor.
        Index("ix_items_feed_sort", "feed_id", text("sort_at DESC"), text("id DESC")),
    )


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
