"""A reader app's marks through the Google Reader API show on the web site, in a real
Chromium: the app (an HTTP client of its own, no cookies) stars one item and reads
another; the river's starred and unread views agree."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PageProbe
from tests.browser.feeds import rss
from tests.feedserver import FeedServer

pytestmark = pytest.mark.browser

API = "/api/greader.php/reader/api/0"
READ = "user/-/state/com.google/read"
STARRED = "user/-/state/com.google/starred"


def _expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)


def test_a_star_and_a_read_mark_from_an_app_show_in_the_river(
    page: PageProbe, feed_server: FeedServer, playwright_instance: Any
) -> None:
    url = feed_server.add("/garden.xml", rss("Garden news", 3))
    page.goto("/feeds")
    page.page.get_by_label("Feed or site address").fill(url)
    page.page.get_by_role("button", name="Add feed").click()
    page.page.wait_for_url(re.compile(r"/feeds/\d+$"))
    _expect(page.page.locator("#feed-live .js-badge")).to_have_text("OK", timeout=20_000)
    created = page.page.request.post(f"{page.base_url}/api/app-passwords", data={"name": "NNW"})
    assert created.status == 201
    password = created.json()["password"]

    app = playwright_instance.request.new_context(base_url=page.base_url)
    try:
        login = app.post(
            "/api/greader.php/accounts/ClientLogin",
            form={"Email": "reader", "Passwd": password},
        )
        assert login.ok, login.text()
        token = login.text().split("Auth=")[1].strip()
        auth = {"Authorization": f"GoogleLogin auth={token}"}
        edit = app.get(f"{API}/token", headers=auth).text()
        ids = app.get(
            f"{API}/stream/items/ids",
            params={"s": "user/-/state/com.google/reading-list", "xt": READ, "n": 1000},
            headers=auth,
        ).json()["itemRefs"]
        by_title = {}
        for ref in ids:  # Playwright's form takes one value per name: one i= per request
            item = app.post(
                f"{API}/stream/items/contents", form={"T": edit, "i": ref["id"]}, headers=auth
            )
            by_title[item.json()["items"][0]["title"]] = ref["id"]
        assert set(by_title) == {f"Garden news item {n}" for n in (1, 2, 3)}
        starred = app.post(
            f"{API}/edit-tag",
            form={"T": edit, "i": by_title["Garden news item 2"], "a": STARRED},
            headers=auth,
        )
        read = app.post(
            f"{API}/edit-tag",
            form={"T": edit, "i": by_title["Garden news item 1"], "a": READ},
            headers=auth,
        )
        assert starred.text() == "OK" and read.text() == "OK"
    finally:
        app.dispose()

    page.goto("/?starred=1")
    entries = page.page.locator("li.entry")
    _expect(entries).to_have_count(1)
    _expect(entries.first).to_contain_text("Garden news item 2")
    _expect(entries.first).to_have_attribute("data-starred", "true")
    page.goto("/?unread=1")
    _expect(entries).to_have_count(2)
    _expect(page.page.locator("li.entry", has_text="Garden news item 1")).to_have_count(0)
