"""The HTML pages through Flask's test client: home, feed page, inline errors, assets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database
from app.storage.models import Feed, FeedState, Fetch, FetchState, FetchTrigger, Item
from app.storage.reading import mark_read
from app.storage.subscriptions import ensure_folder, update_subscription
from app.web import pages
from tests.conftest import add_feed_with_items, add_user, follow, signed_in

HTML = {"Accept": "text/html"}
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _feed(db: Database, url: str = "https://example.com/feed", **values: object) -> int:
    with db.session() as session:
        feed = Feed(url=url, current_url=url, **values)
        session.add(feed)
        session.commit()
    return follow(db, feed.id)


def _fetch(db: Database, feed_id: int, state: FetchState) -> None:
    with db.session() as session:
        session.add(Fetch(feed_id=feed_id, trigger=FetchTrigger.SUBMITTED, state=state))
        session.commit()


def _items(db: Database, feed_id: int, count: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as session:
        for n in range(1, count + 1):
            session.add(
                Item(
                    feed_id=feed_id,
                    key=f"k{n}",
                    title=f"Item {n}",
                    content_hash=f"h{n}",
                    summary_html=f"<p>Body <em>{n}</em></p>",
                    sort_at=start - timedelta(hours=n),
                )
            )
        session.execute(select(Feed).where(Feed.id == feed_id)).scalar_one().item_count = count
        session.commit()


def _badges(html: str) -> list[str]:
    return re.findall(r'class="badge badge-(\w+)"', html)


def test_home_lists_feeds_with_title_url_and_item_count(client: FlaskClient, db: Database) -> None:
    _feed(db, title="Example News", item_count=7)
    html = client.get("/feeds").get_data(as_text=True)
    assert "Example News" in html
    assert "https://example.com/feed" in html
    assert '<td class="num">7</td>' in html


def test_home_badge_shows_queued_and_fetching_from_the_pending_fetch(
    client: FlaskClient, db: Database
) -> None:
    queued = _feed(db, "https://a.example/", state=FeedState.ACTIVE)
    running = _feed(db, "https://b.example/", state=FeedState.ERROR)
    _fetch(db, queued, FetchState.QUEUED)
    _fetch(db, running, FetchState.RUNNING)
    assert _badges(client.get("/feeds").get_data(as_text=True)) == ["fetching", "queued"]


def test_home_badge_maps_feed_states_without_a_pending_fetch(
    client: FlaskClient, db: Database
) -> None:
    for n, state in enumerate(FeedState):
        _feed(db, f"https://s{n}.example/", state=state)
    badges = _badges(client.get("/feeds").get_data(as_text=True))
    assert badges == ["gone", "paused", "error", "ok", "queued"]


def test_home_shows_the_last_error_in_words_with_advice(client: FlaskClient, db: Database) -> None:
    _feed(
        db,
        state=FeedState.ERROR,
        last_error_code="http_404",
        last_error="The server answered 404 Not Found: check the address.",
    )
    html = client.get("/feeds").get_data(as_text=True)
    assert "The server answered 404 Not Found: check the address." in html
    assert "Nothing was found at that address" in html


def test_invalid_url_from_the_form_rerenders_home_with_an_inline_error(
    client: FlaskClient, db: Database
) -> None:
    response = client.post("/feeds", data={"url": "ftp://example.com/x"}, headers=HTML)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert 'id="url-error"' in html and "Only http:// and https://" in html
    assert 'value="ftp://example.com/x"' in html
    assert 'aria-invalid="true"' in html


@pytest.fixture
def guarded_client(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    """A client of an app with the private-network guard on and CSRF off."""
    app = create_app(replace(settings, fetch_allow_private_networks=False))
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield signed_in(app)
    feedqueue.of(app).close()


def test_blocked_address_from_the_form_is_an_inline_error(guarded_client: FlaskClient) -> None:
    response = guarded_client.post("/feeds", data={"url": "http://10.0.0.1/feed"}, headers=HTML)
    assert response.status_code == 400
    assert "private or local network" in response.get_data(as_text=True)
    assert 'id="url-error"' in response.get_data(as_text=True)


def test_invalid_url_as_json_still_gets_the_json_error(client: FlaskClient) -> None:
    response = client.post("/feeds", json={"url": "ftp://example.com/x"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_url"


def test_feed_page_shows_items_newest_first_with_their_html(
    client: FlaskClient, db: Database
) -> None:
    feed_id = _feed(db, title="Paged", site_url="https://example.com/")
    _items(db, feed_id, 3)
    html = client.get(f"/feeds/{feed_id}").get_data(as_text=True)
    assert html.index("Item 1") < html.index("Item 2") < html.index("Item 3")
    assert "<p>Body <em>1</em></p>" in html
    assert 'href="https://example.com/"' in html


def test_feed_page_paginates_45_items_into_three_pages(client: FlaskClient, db: Database) -> None:
    feed_id = _feed(db)
    _items(db, feed_id, 45)
    first = client.get(f"/feeds/{feed_id}").get_data(as_text=True)
    assert "Page 1 of 3" in first
    next_url = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert "Page 2 of 3" in second and "Item 21<" in second and "Item 20<" not in second
    last_url = re.search(r'rel="next" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    third = client.get(last_url).get_data(as_text=True)
    assert "Page 3 of 3" in third
    assert third.count('<li class="item">') == 5
    assert 'rel="next"' not in third


def test_feed_page_with_a_pending_fetch_carries_its_status_url(
    client: FlaskClient, db: Database
) -> None:
    feed_id = _feed(db)
    _fetch(db, feed_id, FetchState.QUEUED)
    html = client.get(f"/feeds/{feed_id}").get_data(as_text=True)
    assert re.search(r'data-status-url="/fetches/[0-9a-f-]{36}"', html)
    assert '<meta http-equiv="refresh" content="3">' in html  # inside <noscript>


def test_a_fetch_that_ends_while_the_feed_page_renders_is_still_followed(
    client: FlaskClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_id = _feed(db, state=FeedState.NEW)
    _fetch(db, feed_id, FetchState.QUEUED)
    read_feed = pages.get_feed_or_404

    def then_the_fetch_ends(feed_id: int) -> Feed:
        feed = read_feed(feed_id)
        with db.session() as session:  # the worker commits its outcome meanwhile
            session.execute(update(Fetch).values(state=FetchState.SUCCEEDED))
            session.execute(update(Feed).values(state=FeedState.ACTIVE))
            session.commit()
        return feed

    monkeypatch.setattr(pages, "get_feed_or_404", then_the_fetch_ends)
    html = client.get(f"/feeds/{feed_id}").get_data(as_text=True)
    # The page follows the fetch, and shows its outcome when its poll says succeeded:
    # never "Queued" with nothing to poll.
    assert re.search(r'data-status-url="/fetches/[0-9a-f-]{36}"', html)


def test_feed_page_live_partial_is_a_fragment(client: FlaskClient, db: Database) -> None:
    feed_id = _feed(db)
    _items(db, feed_id, 2)
    html = client.get(f"/feeds/{feed_id}?partial=live").get_data(as_text=True)
    assert "<html" not in html
    assert html.count('<li class="item">') == 2


def test_feed_page_refuses_a_forged_cursor(client: FlaskClient, db: Database) -> None:
    feed_id = _feed(db)
    response = client.get(f"/feeds/{feed_id}?cursor=bm9wZQ", headers=HTML)
    assert response.status_code == 400


def test_unknown_feed_page_is_404(client: FlaskClient, db: Database) -> None:
    assert client.get("/feeds/999", headers=HTML).status_code == 404


def test_pages_link_to_each_other_in_the_nav(client: FlaskClient, db: Database) -> None:
    html = client.get("/feeds").get_data(as_text=True)
    nav = html[html.index('<nav class="site-nav"') : html.index("</nav>")]
    assert 'href="/"' in nav and 'href="/settings"' in nav and 'href="/opml"' in nav
    assert 'href="/status"' not in nav  # for admins only


def test_static_assets_are_versioned_and_cacheable(client: FlaskClient, db: Database) -> None:
    html = client.get("/feeds").get_data(as_text=True)
    script = re.search(r'src="(/static/app\.js\?v=[0-9a-f]{12})"', html).group(1)
    response = client.get(script)
    assert response.status_code == 200
    assert "max-age=" in response.headers["Cache-Control"]


def test_templates_have_no_inline_scripts_or_style_attributes() -> None:
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert not re.search(r"\sstyle=", text), path.name
        assert "<style" not in text, path.name
        assert not re.search(r"\son[a-z]+=", text), path.name


def test_feed_page_ignores_a_page_number_that_is_not_ascii_digits(
    client: FlaskClient, db: Database
) -> None:
    feed_id = _feed(db)
    _items(db, feed_id, 25)
    first = client.get(f"/feeds/{feed_id}").get_data(as_text=True)
    cursor = re.search(r"cursor=([^&\"]+)", first).group(1)
    response = client.get(f"/feeds/{feed_id}?cursor={cursor}&page=%C2%B2")
    assert response.status_code == 200
    assert "Page 1 of 2" in response.get_data(as_text=True)


def test_feed_list_shows_unread_counts_per_feed_and_folder(
    client: FlaskClient, db: Database
) -> None:
    news, news_items = add_feed_with_items(db, "https://news.example/feed", 3, title="news")
    blog, _ = add_feed_with_items(db, "https://blog.example/feed", 2, title="blog")
    user = add_user(db)
    with db.session() as session:
        outer = ensure_folder(session, user.id, "Reading", None)
        inner = ensure_folder(session, user.id, "Later", outer)
        update_subscription(session, user.id, news, {"folder_id": inner})
        mark_read(session, user.id, news_items[:1])
        session.commit()
    html = client.get("/feeds").get_data(as_text=True)
    assert re.search(rf'data-feed-count="{news}">2<', html)
    assert re.search(rf'data-feed-count="{blog}">2<', html)
    assert re.search(rf'data-folder-count="{inner}">2<', html)
    assert re.search(rf'data-folder-count="{outer}">2<', html)
    assert re.search(r"data-total-count>4<", html)
