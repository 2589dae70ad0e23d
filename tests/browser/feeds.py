"""RSS documents for the browser tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape


def rss(title: str, count: int, *, site: str = "https://example.org/") -> str:
    """An RSS 2.0 feed with ``count`` items, item 1 the newest."""
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    items = "".join(
        f"""<item><title>{escape(title)} item {n}</title>
<link>https://example.org/{n}</link><guid>https://example.org/{n}</guid>
<pubDate>{format_datetime(start - timedelta(hours=n), usegmt=True)}</pubDate>
<description>&lt;p&gt;Text of &lt;em&gt;item {n}&lt;/em&gt;.&lt;/p&gt;</description></item>"""
        for n in range(1, count + 1)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{escape(title)}</title><link>{escape(site)}</link>
<description>Test feed</description>{items}</channel></rss>"""


def opml(outlines: list[tuple[str, str]]) -> bytes:
    """An OPML 2.0 file with (title, xmlUrl) outlines; an empty URL omits the attribute."""
    body = "".join(
        f'<outline type="rss" text="{escape(t)}"' + (f' xmlUrl="{escape(u)}"' if u else "") + "/>\n"
        for t, u in outlines
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>Import</title>'
        f"</head><body>\n{body}</body></opml>\n"
    ).encode()
