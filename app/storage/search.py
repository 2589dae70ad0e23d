"""Full-text search over a person's items: Postgres text search, ranked and highlighted.

``items.search_vector`` is a generated tsvector (title weighted above the body)
with a GIN index; queries use ``websearch_to_tsquery`` (quotes, ``or``, ``-word``
as people type them), rank with ``ts_rank`` and highlight with ``ts_headline``,
which runs only on the page's rows (the outer query), not on every match.
The person's subscriptions and the river's filters come first in the WHERE.
"""

from __future__ import annotations

import html

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.storage.models import SEARCH_BODY_CHARS
from app.storage.pagination import BadCursor, Page, decode_cursor, encode_cursor
from app.storage.reading import FROM_SQL, ITEM_COLUMNS, Filters, RiverItem, where_sql

# Markers ts_headline puts around matches; the snippet is escaped, then they become <mark>.
_START, _STOP = "\u27e6", "\u27e7"
_HEADLINE_OPTIONS = f"StartSel={_START}, StopSel={_STOP}, MaxWords=35, MinWords=15, MaxFragments=2"
_TITLE_OPTIONS = f"StartSel={_START}, StopSel={_STOP}, HighlightAll=true"
_QUERY = "websearch_to_tsquery('english'::regconfig, :query)"


#: A search ranks the newest this many of the person's matching items. A word found in
#: most items would otherwise have every one of them read and ranked (hundreds of
#: thousands for a person following busy feeds); the newest matches are the ones a
#: reader is after, and a rarer word (fewer matches) is ranked in full.
RANK_WINDOW = 200


def search(
    session: Session,
    user_id: int,
    query: str,
    filters: Filters,
    cursor: str | None = None,
    *,
    limit: int = 20,
) -> Page[RiverItem]:
    """The person's items matching ``query``, best first (then newest id), a page at a time.

    Ranked among the newest RANK_WINDOW matches. The cursor is the (rank, id) of the
    last result plus the newest match when the search began: later pages rank the
    same matches (items arriving meanwhile are not among them), and ranks depend only
    on the query and the item, so pages neither skip nor repeat. A query with no
    searchable word (only stop words or punctuation) matches nothing.
    """
    params: dict[str, object] = {"limit": limit + 1, "query": query, "window": RANK_WINDOW}
    where = where_sql(user_id, filters, params) + f" AND i.search_vector @@ {_QUERY}"
    rank = f"ts_rank(i.search_vector, {_QUERY})::float8"
    after = ""
    if cursor:
        last_rank, last_id, newest = decode_cursor(cursor, 3)
        try:
            params["c_rank"] = float(last_rank)
            params["c_id"] = int(last_id)
            params["newest"] = int(newest)
        except ValueError:
            raise BadCursor("The cursor is not valid.") from None
        where += " AND i.id <= :newest"
        after = f" AND ({rank}, i.id) < (:c_rank, :c_id)"
    body = f"left(coalesce(page.content_html, page.summary_html, ''), {SEARCH_BODY_CHARS})"
    # The matches newest first (by id: the primary key scanned backwards stops after
    # the window for a common word; a rare one is found through the GIN index), then
    # only those are ranked, and only the page's rows get ts_headline.
    sql = f"""
    WITH matches AS MATERIALIZED (
        SELECT i.id
        FROM subscriptions s
        JOIN items i ON i.feed_id = s.feed_id
        LEFT JOIN item_states st ON st.user_id = s.user_id AND st.item_id = i.id
        WHERE {where}
        ORDER BY i.id DESC
        LIMIT :window
    )
    SELECT page.*, (SELECT max(id) FROM matches) AS newest,
        ts_headline('english'::regconfig, coalesce(page.title, ''), {_QUERY},
                    '{_TITLE_OPTIONS}') AS title_marked,
        ts_headline('english'::regconfig, regexp_replace({body}, '<[^>]*>', ' ', 'g'),
                    {_QUERY}, '{_HEADLINE_OPTIONS}') AS snippet_marked
    FROM (
        SELECT {ITEM_COLUMNS}, {rank} AS rank {FROM_SQL}
        WHERE s.user_id = :user_id AND i.id IN (SELECT id FROM matches){after}
        ORDER BY rank DESC, i.id DESC
        LIMIT :limit
    ) AS page
    ORDER BY page.rank DESC, page.id DESC
    """
    rows = []
    newest_id = 0
    for row in session.execute(text(sql), params):
        values = dict(row._mapping)
        newest_id = values.pop("newest")
        title_marked = values.pop("title_marked")
        snippet_marked = values.pop("snippet_marked")
        values["title_html"] = _highlighted(title_marked, unescape=False)
        values["snippet_html"] = _highlighted(snippet_marked, unescape=True)
        rows.append(RiverItem(**values))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(repr(rows[-1].rank), rows[-1].id, newest_id) if more else None
    return Page(rows, next_cursor)


def _highlighted(marked: str | None, *, unescape: bool) -> str:
    """Safe HTML from ts_headline's output: text escaped, matches in ``<mark>``.

    The snippet comes from sanitised HTML with its tags removed, so its text is
    still entity-encoded: decoded first, then escaped once.
    """
    raw = html.unescape(marked or "") if unescape else (marked or "")
    escaped = " ".join(html.escape(raw).split())
    return escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")
