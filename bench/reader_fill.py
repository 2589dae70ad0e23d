"""The issue's reader data set, filled with set-based SQL: 100 people, 10,000 feeds,
2,000,000 items, 50,000 subscriptions.

Shaped like a reader's data, not a uniform grid:

- feeds: 20 busy ones of 10,000 items, 980 of 500 to 1,500, and 9,000 small ones
  of 1 to 181 (2,000,000 items in all); each feed's items spread over a year;
- items arrive in time order across feeds (ids follow ``sort_at``, as the worker
  stores them, so a feed's items are spread over the heap) and carry two paragraphs
  of about 60 words each, drawn from a Zipf-distributed vocabulary: ``garden`` is in
  nearly every item, ``orchard`` in about one in ten, and ``postgres`` (in titles)
  in one in 10,007;
- each person follows 500 feeds, busy feeds more often (the feed is drawn with a
  squared uniform number), in 8 folders of which one has a sub-folder, plus some
  without a folder;
- read state as the app writes it: each subscription's ``read_upto_id`` watermark
  is where the person last marked all read (a day ago for half of them, a week,
  a month, or half a year ago for the rest); 3 in 10 items above it are read one by
  one (``item_states`` rows) and one in 970 of them is starred;
- person 1 follows feed 1 (10,000 items) and has read none of it: the
  mark-all-read case.

Indexes of ``items`` other than its constraints are dropped during the insert and
built again afterwards from their own definitions (faster than keeping the GIN
index up to date row by row).
"""

from __future__ import annotations

import hashlib
import random
import time

from sqlalchemy import Engine, text

from bench import reader_db

PEOPLE = 100
FEEDS = 10_000
ITEMS = 2_000_000
SUBSCRIPTIONS_EACH = 500
FOLDERS_EACH = 8
PARAGRAPHS = 2_000
WORDS_PER_PARAGRAPH = 60
#: The words searched for: in nearly every item, in about one item in ten, in titles only.
COMMON_WORD, MEDIUM_WORD, RARE_WORD = "garden", "orchard", "postgres"
#: Person 1 and this feed: 10,000 items, none read (mark-all-read is measured on it).
UNREAD_FEED = 1


def token_of(person: int, database: str) -> str:
    """The API token of person ``person`` (derived, so a later run can sign in again)."""
    digest = hashlib.sha256(f"feedqueue reader bench {database} {person}".encode()).hexdigest()
    return f"fq_bench_{digest[:40]}"


def token_hash(secret: str) -> str:
    """As app.services.accounts stores a token: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def item_counts() -> list[int]:
    """Items per feed (feed ids 1..FEEDS), adding up to ITEMS exactly."""
    counts = [10_000] * 20
    counts += [500 + (n * 7919) % 1001 for n in range(21, 1001)]
    counts += [1 + (n * 104_729) % 181 for n in range(1001, FEEDS + 1)]
    left = ITEMS - sum(counts)
    step = 1 if left > 0 else -1
    n = len(counts) - 1
    while left:  # spread the difference over the small feeds, one item each
        if counts[n] + step >= 1:
            counts[n] += step
            left -= step
        n = n - 1 if n > 1000 else len(counts) - 1
    return counts


def _vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pe", "do", "ga", "bri"]
    words: set[str] = set()
    while len(words) < 3000:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    ranked = sorted(words)
    rng.shuffle(ranked)
    ranked[0], ranked[119] = COMMON_WORD, MEDIUM_WORD  # Zipf rank 1 and 120
    return ranked


def paragraphs(seed: int = 17) -> list[str]:
    """PARAGRAPHS texts of WORDS_PER_PARAGRAPH words, Zipf-distributed (s = 1)."""
    rng = random.Random(seed)
    words = _vocabulary(rng)
    weights = [1 / rank for rank in range(1, len(words) + 1)]
    return [
        " ".join(rng.choices(words, weights, k=WORDS_PER_PARAGRAPH)) for _ in range(PARAGRAPHS)
    ]


ARRIVALS_SQL = """
CREATE UNLOGGED TABLE bench_arrivals AS
SELECT row_number() OVER (ORDER BY sort_at, feed_id, j) AS id, feed_id, j, sort_at
FROM (
    SELECT c.feed_id, j,
           now() - make_interval(secs => (j + (c.feed_id % 97) / 97.0)
                                          * 365 * 86400.0 / c.n) AS sort_at
    FROM unnest(CAST(:counts AS int[])) WITH ORDINALITY AS c(n, feed_id),
         generate_series(0, c.n - 1) AS j
) AS a;
UPDATE feeds f SET item_count = c.n
FROM unnest(CAST(:counts AS int[])) WITH ORDINALITY AS c(n, feed_id) WHERE f.id = c.feed_id
"""

# In arrival order, as the worker would have stored them.
ITEMS_SQL = f"""
INSERT INTO items (id, feed_id, key, guid, url, title, content_html, content_hash,
                   published_at, sort_at, first_seen_at, changed_at)
SELECT a.id, a.feed_id, 'k' || a.j, 'k' || a.j,
       'https://f' || a.feed_id || '.example/' || a.j,
       'Item ' || a.j || ' of feed ' || a.feed_id || ': '
           || split_part(pb.body, ' ', 3) || ' ' || split_part(pb.body, ' ', 9)
           || CASE WHEN a.id % 10007 = 0 THEN ' {RARE_WORD}' ELSE '' END,
       '<p>' || pa.body || '</p><p>' || pb.body || '</p>', 'h',
       a.sort_at, a.sort_at, a.sort_at, a.sort_at
FROM bench_arrivals a
JOIN bench_paragraphs pa ON pa.n = (a.id * 31) % {PARAGRAPHS}
JOIN bench_paragraphs pb ON pb.n = (a.id * 17 + a.feed_id) % {PARAGRAPHS}
ORDER BY a.id;
SELECT setval('items_id_seq', (SELECT max(id) FROM items));
DROP TABLE bench_arrivals;
DROP TABLE bench_paragraphs
"""

PEOPLE_SQL = f"""
INSERT INTO users (id, username, password_hash)
SELECT n, 'reader' || n, 'not a password hash' FROM generate_series(1, {PEOPLE}) n;
SELECT setval('users_id_seq', {PEOPLE});
INSERT INTO feeds (id, url, current_url, title, state, last_success_at)
SELECT n, 'https://f' || n || '.example/feed', 'https://f' || n || '.example/feed',
       'Feed ' || n, 'active', now()
FROM generate_series(1, {FEEDS}) n;
SELECT setval('feeds_id_seq', {FEEDS});
INSERT INTO folders (user_id, name)
SELECT u, 'Folder ' || k FROM generate_series(1, {PEOPLE}) u, generate_series(1, {FOLDERS_EACH}) k;
INSERT INTO folders (user_id, parent_id, name)
SELECT user_id, id, 'Inside' FROM folders WHERE name = 'Folder 1';
"""

SUBSCRIPTIONS_SQL = f"""
-- Busy (low-numbered) feeds are followed more: the feed is a squared uniform draw.
INSERT INTO subscriptions (user_id, feed_id, created_at)
SELECT user_id, feed_id, now() - interval '1 year'
FROM (
    SELECT user_id, feed_id, row_number() OVER (PARTITION BY user_id ORDER BY min(k)) AS nth
    FROM (
        SELECT u AS user_id, k, 1 + floor({FEEDS} * power(random(), 2))::int AS feed_id
        FROM generate_series(1, {PEOPLE}) u, generate_series(1, 3000) k
    ) AS draws
    WHERE feed_id <> {UNREAD_FEED} OR user_id <> 1
    GROUP BY user_id, feed_id
) AS firsts
WHERE nth <= {SUBSCRIPTIONS_EACH} - CASE WHEN user_id = 1 THEN 1 ELSE 0 END;
INSERT INTO subscriptions (user_id, feed_id) VALUES (1, {UNREAD_FEED});
-- Folders 1..8 (9 and 10: no folder); the sub-folder takes a share of folder 1's feeds.
UPDATE subscriptions s SET folder_id = f.id
FROM folders f
WHERE f.user_id = s.user_id AND f.parent_id IS NULL
  AND f.name = 'Folder ' || ((s.feed_id * 7 + s.user_id) % 10 + 1);
UPDATE subscriptions s SET folder_id = f.id
FROM folders f
WHERE f.parent_id = s.folder_id AND s.feed_id % 3 = 0;
-- Where each person last marked all read: a day, a week, a month or half a year ago.
UPDATE subscriptions s SET read_upto_id = coalesce((
    SELECT i.id FROM items i
    WHERE i.feed_id = s.feed_id AND i.sort_at < now() - make_interval(days =>
        CASE WHEN h < 50 THEN 1 WHEN h < 80 THEN 7 WHEN h < 95 THEN 30 ELSE 180 END)
    ORDER BY i.sort_at DESC, i.id DESC LIMIT 1), 0)
FROM (SELECT id, (id * 2654435761) % 100 AS h FROM subscriptions) AS lag
WHERE lag.id = s.id AND NOT (s.user_id = 1 AND s.feed_id = {UNREAD_FEED});
-- Read one by one: 3 in 10 items above the watermark; starred: one in 970.
INSERT INTO item_states (user_id, item_id, feed_id, read)
SELECT s.user_id, i.id, i.feed_id, true
FROM subscriptions s JOIN items i ON i.feed_id = s.feed_id AND i.id > s.read_upto_id
WHERE (i.id * 7 + s.user_id) % 10 < 3 AND NOT (s.user_id = 1 AND s.feed_id = {UNREAD_FEED});
INSERT INTO item_states (user_id, item_id, feed_id, starred, starred_at)
SELECT s.user_id, i.id, i.feed_id, true, i.sort_at + interval '1 hour'
FROM items i JOIN subscriptions s ON s.feed_id = i.feed_id
WHERE i.id % 97 = 0 AND (i.id / 97 + s.user_id) % 10 = 0
ON CONFLICT (user_id, item_id) DO UPDATE SET starred = true, starred_at = excluded.starred_at;
"""

_INDEX_DEFINITIONS = """
SELECT indexname, indexdef FROM pg_indexes
WHERE tablename = 'items' AND indexname NOT IN (
    SELECT conname FROM pg_constraint WHERE conrelid = 'items'::regclass)
"""


def fill(engine: Engine, database: str, log: object = print) -> dict[str, float]:
    """Fill the (migrated, empty) database; seconds per step."""
    seconds: dict[str, float] = {}

    def step(name: str, sql: str, params: dict[str, object] | None = None) -> None:
        started = time.monotonic()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
            conn.execute(text(sql), params or {})
        seconds[name] = round(time.monotonic() - started, 1)
        log(f"  {name}: {seconds[name]} s")  # type: ignore[operator]

    step("people, feeds, folders", PEOPLE_SQL)
    tokens = [
        {"user_id": n, "hash": token_hash(token_of(n, database))} for n in range(1, PEOPLE + 1)
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_tokens (user_id, name, token_hash) "
                "VALUES (:user_id, 'reader bench', :hash)"
            ),
            tokens,
        )
        conn.execute(text("CREATE UNLOGGED TABLE bench_paragraphs (n int PRIMARY KEY, body text)"))
        conn.execute(
            text("INSERT INTO bench_paragraphs VALUES (:n, :body)"),
            [{"n": n, "body": body} for n, body in enumerate(paragraphs())],
        )
        indexes = list(conn.execute(text(_INDEX_DEFINITIONS)))
        for name, _definition in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
    step("items: arrival times", ARRIVALS_SQL, {"counts": item_counts()})
    step("items: insert", ITEMS_SQL)
    for name, definition in indexes:
        step(f"index {name}", definition)
    step("subscriptions, read state, stars", SUBSCRIPTIONS_SQL)
    started = time.monotonic()
    reader_db.vacuum_analyze(engine)
    seconds["vacuum analyze"] = round(time.monotonic() - started, 1)
    log(f"  vacuum analyze: {seconds['vacuum analyze']} s")  # type: ignore[operator]
    return seconds
