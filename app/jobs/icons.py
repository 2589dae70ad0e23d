"""Feed icons, looked for by the fetch job after a feed's fetch is recorded, when due.

Due means: never looked for, FEED_ICON_REFRESH_DAYS old (a day after a failed search),
or the feed now names another icon; the fetch job asks only when the feed's document
changed (a 304 or an unchanged body costs nothing here). The search itself
(app.pipeline.icons) runs after the fetch's outcome is committed, so the person
waiting for the fetch never waits for its icon, and within the fetch's host lease.
A search that fails, or breaks, never fails the fetch: it is recorded and tried again
later.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.context import JobContext
from app.pipeline import ParsedFeed
from app.pipeline.icons import NoIcon, find_icon
from app.storage.icons import icon_due, save_icon

log = logging.getLogger(__name__)


def wanted(ctx: JobContext, session: Session, feed_id: int, parsed: ParsedFeed) -> bool:
    """True when the feed's icon should be looked for after this fetch."""
    if ctx.settings.feed_icon_max_bytes <= 0:
        return False
    return icon_due(
        session,
        feed_id,
        parsed.icon_url,
        now=datetime.now(UTC),
        refresh_after=timedelta(days=ctx.settings.feed_icon_refresh_days),
    )


def refresh_icon(ctx: JobContext, feed_id: int, parsed: ParsedFeed, feed_url: str) -> None:
    """Look for the feed's icon and record what was found, or why nothing was."""
    started = time.monotonic()
    found = error = None
    try:
        icon = find_icon(
            parsed.icon_url,
            parsed.site_url,
            feed_url,
            ctx.limits,
            max_bytes=ctx.settings.feed_icon_max_bytes,
        )
        found = (icon.url, icon.content_type, icon.body, icon.sha256)
    except NoIcon as exc:
        error = exc.message
    except Exception:
        # A bug in the search must not turn a recorded fetch into a crashed one.
        log.exception("feed icon search broke", extra={"feed_id": feed_id})
        error = "The icon search stopped unexpectedly; it has been logged."
    try:
        with ctx.db.session() as session:
            save_icon(
                session,
                feed_id,
                declared_url=parsed.icon_url,
                now=datetime.now(UTC),
                found=found,
                error=error,
            )
            session.commit()
    except Exception:
        # The feed may have been deleted meanwhile (foreign key), or the database is
        # away: the icon is looked for again after the next fetch.
        log.exception("feed icon not recorded", extra={"feed_id": feed_id})
        return
    log.info(
        "feed icon searched",
        extra={
            "feed_id": feed_id,
            "found": found is not None,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        },
    )
