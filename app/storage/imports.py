"""The OPML import tables: an import with its entries, and their fetches' progress."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.storage.models import Fetch, OpmlImport, OpmlImportEntry


@dataclass(frozen=True)
class Entry:
    """What became of one entry of the file: submitted (feed and fetch) or refused."""

    line: int
    title: str
    url: str
    feed_id: int | None = None
    fetch_id: uuid.UUID | None = None
    refusal: str | None = None


def create_import(
    session: Session, name: str, entries: Sequence[Entry], *, user_id: int
) -> uuid.UUID:
    """Store the person's import and its entries, in their order; returns its id. The
    caller commits."""
    record = OpmlImport(id=uuid.uuid4(), name=name, user_id=user_id)
    record.entries = [
        OpmlImportEntry(position=position, **asdict(entry))
        for position, entry in enumerate(entries)
    ]
    session.add(record)
    session.flush()
    return record.id


def get_import(
    session: Session, import_id: uuid.UUID, *, since: datetime, user_id: int
) -> OpmlImport | None:
    """The person's import of that id made at or after ``since``, or None."""
    return session.scalar(
        select(OpmlImport).where(
            OpmlImport.id == import_id,
            OpmlImport.created_at >= since,
            OpmlImport.user_id == user_id,
        )
    )


def submitted_with_fetches(
    session: Session, import_id: uuid.UUID
) -> list[tuple[OpmlImportEntry, Fetch | None]]:
    """The import's submitted entries in order, each with its fetch as it is now (None
    when the fetch is gone: its feed was deleted meanwhile). One query."""
    rows = session.execute(
        select(OpmlImportEntry, Fetch)
        .outerjoin(Fetch, Fetch.id == OpmlImportEntry.fetch_id)
        .where(OpmlImportEntry.import_id == import_id, OpmlImportEntry.refusal.is_(None))
        .order_by(OpmlImportEntry.position)
    )
    return [(entry, fetch) for entry, fetch in rows]


def refused_entries(session: Session, import_id: uuid.UUID) -> list[OpmlImportEntry]:
    """The import's refused entries, in order."""
    return list(
        session.scalars(
            select(OpmlImportEntry)
            .where(OpmlImportEntry.import_id == import_id, OpmlImportEntry.refusal.is_not(None))
            .order_by(OpmlImportEntry.position)
        )
    )


def delete_imports_before(session: Session, before: datetime) -> int:
    """Remove imports made before ``before`` with their entries; returns how many."""
    result = session.execute(delete(OpmlImport).where(OpmlImport.created_at < before))
    return result.rowcount  # type: ignore[attr-defined]
