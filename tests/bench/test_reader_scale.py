"""The reader bench's data set has the issue's shape, and its people can sign in."""

from __future__ import annotations

from app.services.accounts import user_id_for_token
from app.storage.db import Database
from bench.reader_fill import ITEMS, item_counts, paragraphs, token_hash, token_of
from bench.reader_report import render
from bench.reader_scale import percentiles
from tests.conftest import add_user


def test_item_counts_add_up_to_two_million_with_busy_and_small_feeds() -> None:
    counts = item_counts()
    assert len(counts) == 10_000 and sum(counts) == ITEMS
    assert counts[:20] == [10_000] * 20 and min(counts) >= 1


def test_the_common_word_is_in_nearly_every_paragraph_and_the_medium_one_in_few() -> None:
    texts = [set(p.split()) for p in paragraphs()]
    assert sum("garden" in t for t in texts) / len(texts) > 0.99
    assert 0.02 < sum("orchard" in t for t in texts) / len(texts) < 0.1


def test_a_bench_token_signs_its_person_in_as_the_app_checks_tokens(db: Database) -> None:
    user = add_user(db, "reader7")
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO api_tokens (user_id, name, token_hash) VALUES (%s, 'bench', %s)",
            (user.id, token_hash(token_of(7, "scratch"))),
        )
    with db.session() as session:
        found = user_id_for_token(session, token_of(7, "scratch"))
    assert found == user.id


def test_percentiles_are_nearest_rank() -> None:
    figures = percentiles([float(n) for n in range(1, 101)])
    assert (figures["p50_ms"], figures["p95_ms"], figures["p99_ms"]) == (50.0, 95.0, 99.0)
    assert figures["n"] == 100 and figures["max_ms"] == 100.0


def test_the_report_marks_a_p99_over_50_ms_and_shows_the_figures_before() -> None:
    fast = {"n": 1000, "p50_ms": 5.0, "p95_ms": 9.0, "p99_ms": 12.0, "max_ms": 30.0}
    slow = {"n": 100, "p50_ms": 90.0, "p95_ms": 140.0, "p99_ms": 180.0, "max_ms": 200.0}
    mark = {"unread_before": 10000, "unread_after": 0, "statements": 1}
    run = {
        "started": "2026-11-30T21:00:00+00:00",
        "load_average_before": [1.0, 1.0, 1.0],
        "load_average_after": [1.0, 1.0, 1.0],
        "machine": {"cpu": "cpu", "cores": 2, "ram_gib": 1, "postgres": "pg", "python": "3"},
        "sizes": {
            "users": 100,
            "feeds": 10000,
            "items": 2000000,
            "subscriptions": 50000,
            "folders": 900,
            "item_states": 1,
            "database_size": "5 GB",
        },
        "storage": {"river": fast, "search": slow},
        "mark_all_read": {**mark, "statements_through_service": 2, **fast},
        "plans": {"river": "Limit"},
    }
    text = render(run, {**run, "storage": {"river": slow}})
    assert "| river | 90.0 / 140.0 / 180.0 (n=100) | 5.0 / 9.0 / 12.0 | 30.0 | 1000 | yes |" in text
    assert "| search | – | 90.0 / 140.0 / 180.0 | 200.0 | 100 | **no** |" in text
    assert "unread 10,000 → 0; 1 statement" in text
