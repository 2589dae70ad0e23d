"""Feed icons: asked for by the fetch job when due, looked for by a job of their own.

Due means: never looked for, FEED_ICON_REFRESH_DAYS old (a day after a failed search),
or the feed now names another icon; the fetch job asks only when the feed's document
changed (a 304 or an unchanged body costs nothing here). Asking is one Redis round
trip and no network (:func:`request_icon`): the search runs later as its own job on
the icons queue (app.queue.icons), after any waiting fetch, so neither the person
waiting for a fetch nor the fetch's worker thread and host slot wait for an icon.

The search job (:func:`run_icon_search`) takes a slot of the politeness budget of
each host it downloads from (the icon's own hosts, not the feed's); when one is over
its budget the search stops and records nothing, and the next due fetch asks again.
A search that fails, or breaks, is recorded and tried again a day later.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from app.context import JobContext, get_context
from app.pipeline import ParsedFeed
from app.pipeline.icons import HostBusy, NoIcon, find_icon
from app.queue.icons import Asked, enqueue_icon_search, icons_max_jobs
from app.queue.politeness import HostBudget, Lease
from app.storage.icons import IconRecord, icon_places, icon_record, is_icon_due, save_icon

log = logging.getLogger(__name__)


def wanted(ctx: JobContext, last_search: IconRecord | None, parsed: ParsedFeed) -> bool:
    """True when the feed's icon should be looked for after this fetch, its last search
    being ``last_search`` (read with the fetch's claim)."""
    return _due(ctx, last_search, parsed.icon_url)


def _due(ctx: JobContext, last_search: IconRecord | None, declared_url: str | None) -> bool:
    return ctx.settings.feed_icon_max_bytes > 0 and is_icon_due(
        last_search,
        declared_url,
        now=datetime.now(UTC),
        refresh_after=timedelta(days=ctx.settings.feed_icon_refresh_days),
    )


def request_icon(ctx: JobContext, feed_id: int, parsed: ParsedFeed) -> Asked | None:
    """Queue a search for the feed's icon (after its fetch is committed); never raises.

    None when Redis could not be reached: the icon is still due, and the feed's next
    fetch asks again. The fetch that asks has succeeded whatever happens here.
    """
    try:
        asked = enqueue_icon_search(
            ctx.queues,
            feed_id,
            parsed.icon_url,
            max_jobs=icons_max_jobs(ctx.settings.queue_max_jobs),
        )
    except RedisError:
        log.warning("feed icon search not queued: Redis unavailable", extra={"feed_id": feed_id})
        return None
    if asked is Asked.FULL:
        log.info("feed icon search not queued: icons queue full", extra={"feed_id": feed_id})
    return asked


class _HostSlots:
    """The host slots one search holds: one per host it downloads from, taken before
    the first download there and all given back when the search ends."""

    def __init__(self, budget: HostBudget) -> None:
        self.budget = budget
        self.held: dict[str, Lease] = {}

    def admit(self, host: str) -> bool:
        if host in self.held:
            return True
        try:
            lease = self.budget.acquire(host)
        except RedisError:
            log.warning("feed icon search stopped: Redis unavailable", extra={"host": host})
            return False
        if not isinstance(lease, Lease):
            return False
        self.held[host] = lease
        return True

    def release(self) -> None:
        for lease in self.held.values():
            try:
                self.budget.release(lease)  # hands the slot to a fetch waiting for the host
            except RedisError:
                pass  # the lease expires on its own
        self.held.clear()


def run_icon_search(feed_id: int, declared_url: str | None = None) -> dict[str, object]:
    """RQ entry point: look for feed ``feed_id``'s icon, ``declared_url`` being the
    icon its document named when the search was asked for."""
    return search_icon(get_context(), feed_id, declared_url)


def search_icon(ctx: JobContext, feed_id: int, declared_url: str | None) -> dict[str, object]:
    """Look for the feed's icon and record what was found, or why nothing was.

    Nothing is done when the icon is no longer due (a search ran meanwhile) or the
    feed is gone; nothing is recorded when a host is over its budget. Never raises
    for a failed or broken search: it is recorded instead.
    """
    with ctx.db.session() as session:
        places = icon_places(session, feed_id)
        due = places is not None and _due(ctx, icon_record(session, feed_id), declared_url)
    if places is None or not due:
        return {"skipped": "gone" if places is None else "not due"}
    feed_url, site_url = places
    started = time.monotonic()
    found = error = None
    slots = _HostSlots(ctx.budget)
    try:
        icon = find_icon(
            declared_url,
            site_url,
            feed_url,
            ctx.limits,
            max_bytes=ctx.settings.feed_icon_max_bytes,
            admit=slots.admit,
        )
        found = (icon.url, icon.content_type, icon.body, icon.sha256)
    except HostBusy as busy:
        log.info(
            "feed icon search left for later: host over budget",
            extra={"feed_id": feed_id, "host": busy.host},
        )
        return {"skipped": "host busy"}
    except NoIcon as exc:
        error = exc.message
    except Exception:
        # A bug in the search is recorded like a failed search, and logged.
        log.exception("feed icon search broke", extra={"feed_id": feed_id})
        error = "The icon search stopped unexpectedly; it has been logged."
    finally:
        slots.release()
    try:
        with ctx.db.session() as session:
            save_icon(
                session,
                feed_id,
                declared_url=declared_url,
                now=datetime.now(UTC),
                found=found,
                error=error,
            )
            session.commit()
    except Exception:
        # The feed may have been deleted meanwhile (foreign key), or the database is
        # away: the icon is looked for again after the next fetch.
        log.exception("feed icon not recorded", extra={"feed_id": feed_id})
        return {"found": False, "recorded": False}
    log.info(
        "feed icon searched",
        extra={
            "feed_id": feed_id,
            "found": found is not None,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        },
    )
    return {"found": found is not None}
