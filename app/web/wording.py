"""How the pages put things in words: state badges, error advice, times.

Presentation only; registered as Jinja filters and globals by the pages blueprint.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from markupsafe import Markup, escape

from app.storage.models import Feed, FeedState, Fetch, FetchState

# Badge keys the pages show, and their labels.
BADGES = {
    "queued": "Queued",
    "fetching": "Fetching",
    "ok": "OK",
    "error": "Error",
    "paused": "Paused",
    "gone": "Gone",
}

_STATE_BADGE = {
    FeedState.NEW: "queued",
    FeedState.ACTIVE: "ok",
    FeedState.ERROR: "error",
    FeedState.PAUSED: "paused",
    FeedState.GONE: "gone",
}

_ADVICE = {
    "invalid_url": "Check the address for typing mistakes.",
    "blocked_address": "feedqueue only fetches public addresses.",
    "dns_error": "The host name was not found: check the address, or try again later.",
    "timeout": "The server was too slow to answer; feedqueue will try again later.",
    "connection_error": "The server could not be reached; feedqueue will try again later.",
    "tls_error": "The site's HTTPS certificate is not valid; try the http:// address "
    "only if you trust the network.",
    "too_large": "The feed is larger than feedqueue accepts.",
    "too_many_redirects": "The address redirects in a loop; look for the feed's final address.",
    "not_a_feed": "The page is not a feed and links to none; look for an RSS or Atom link "
    "on the site.",
    "parse_error": "The feed is broken; tell the site's owner, or try again later.",
    "parse_limit": "The feed is built in a way feedqueue refuses to read (far too many "
    "elements, too deep, or too large to parse); tell the site's owner.",
    "parse_timeout": "The feed took too long to read; feedqueue tries again at its next "
    "refresh. Tell the site's owner if it keeps failing.",
    "worker_crashed": "Reading this feed stopped the worker process several times, so "
    "feedqueue set it aside until its next refresh; an admin can requeue it from the status "
    "page. Tell the site's owner if it keeps happening.",
    "http_401": "The feed needs a login, which feedqueue does not support.",
    "http_403": "The server refuses to serve the feed to feedqueue.",
    "http_404": "Nothing was found at that address; check it, or look for the feed's new "
    "address on the site.",
    "http_410": "The site says the feed is gone for good; refreshes have stopped.",
    "http_429": "The server asked feedqueue to slow down; it will try again later.",
}


def badge_key(feed: Feed, pending: Fetch | None) -> str:
    """The badge of a feed: its pending fetch wins over its stored state."""
    if pending is not None:
        return "fetching" if pending.state == FetchState.RUNNING else "queued"
    return _STATE_BADGE[feed.state]


def badge(key: str) -> Markup:
    """The badge element for ``key`` (one of BADGES)."""
    label = BADGES.get(key, key)
    return Markup('<span class="badge badge-{0}">{1}</span>').format(key, label)


def advice(code: str | None) -> str:
    """What a person can do about an error with this code."""
    if not code:
        return ""
    if code in _ADVICE:
        return _ADVICE[code]
    match = re.fullmatch(r"http_(\d{3})", code)
    if match and int(match.group(1)) >= 500:
        return "The site's server is having trouble; feedqueue will try again later."
    return "Try refreshing later; if it keeps failing, check the address."


def _ago(seconds: float) -> str:
    seconds = abs(seconds)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "moments" if seconds < 10 else f"{int(seconds)} seconds"


def relative(value: datetime | None, now: datetime | None = None) -> str:
    """'5 minutes ago' / 'in 2 hours' / 'never'."""
    if value is None:
        return "never"
    delta = (value - (now or datetime.now(UTC))).total_seconds()
    if -10 < delta < 10:
        return "just now" if delta <= 0 else "now"
    return f"in {_ago(delta)}" if delta > 0 else f"{_ago(delta)} ago"


def timestamp(value: datetime | None, empty: str = "—") -> Markup:
    """A <time> element: relative words, the exact UTC time as its tooltip and datetime."""
    if value is None:
        return Markup(escape(empty))
    utc = value.astimezone(UTC)
    return Markup('<time datetime="{0}" title="{1}">{2}</time>').format(
        utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M UTC"), relative(utc)
    )


def duration(seconds: float | None) -> str:
    """Seconds for people: '850 ms', '4.2 s', '3 min'."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min"
