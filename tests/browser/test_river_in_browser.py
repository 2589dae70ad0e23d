"""The river, the reading pane, the keyboard and search in a real Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PageProbe
from tests.browser.feeds import rss
from tests.conftest import wait_for
from tests.feedserver import FeedServer

pytestmark = pytest.mark.browser


def _expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)


def _river(probe: PageProbe, feed_server: FeedServer, count: int = 5, path: str = "/") -> None:
    """Follow a feed of ``count`` items, wait for its first fetch, then open the river."""
    url = feed_server.add("/garden.xml", rss("Garden news", count))
    probe.goto("/feeds")
    probe.page.get_by_label("Feed or site address").fill(url)
    probe.page.get_by_role("button", name="Add feed").click()
    probe.page.wait_for_url(re.compile(r"/feeds/\d+$"))
    _expect(probe.page.locator("#feed-live .js-badge")).to_have_text("OK", timeout=20_000)
    probe.goto(path)
    _expect(probe.page.locator("li.entry")).to_have_count(min(count, _limit(path)))


def _limit(path: str) -> int:
    found = re.search(r"limit=(\d+)", path)
    return int(found.group(1)) if found else 50


def _entry(probe: PageProbe, n: int) -> Any:
    return probe.page.locator("li.entry").nth(n)


def test_j_and_k_move_through_the_river_and_opened_items_count_as_read(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _river(page, feed_server)
    total = page.page.locator("[data-total-count]")
    _expect(total).to_have_text("5")
    page.page.keyboard.press("j")
    _expect(_entry(page, 0)).to_have_class(re.compile(r"\bis-current\b"))
    _expect(page.page.locator("#pane .reading-title")).to_have_text("Garden news item 1")
    _expect(page.page.locator("#pane .content")).to_contain_text("Text of item 1.")
    page.page.keyboard.press("j")
    _expect(page.page.locator("#pane .reading-title")).to_have_text("Garden news item 2")
    _expect(_entry(page, 1)).to_have_attribute("data-read", "true")
    page.page.keyboard.press("k")
    _expect(_entry(page, 0)).to_have_class(re.compile(r"\bis-current\b"))
    _expect(page.page.locator("#pane .reading-title")).to_have_text("Garden news item 1")
    _expect(total).to_have_text("3")
    page.shot("river", docs_name="river")


def test_m_toggles_read_and_s_stars_and_the_star_survives_a_reload(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _river(page, feed_server)
    page.page.keyboard.press("j")
    first = _entry(page, 0)
    _expect(first).to_have_attribute("data-read", "true")
    with page.page.expect_response(_read_change("DELETE")) as unread:
        page.page.keyboard.press("m")  # saved before the reload below
    assert unread.value.ok
    _expect(first).to_have_attribute("data-read", "false")
    _expect(page.page.locator("[data-total-count]")).to_have_text("5")
    with page.page.expect_response(re.compile(r"/api/items/\d+/star$")) as saved:
        page.page.keyboard.press("s")
    assert saved.value.ok
    _expect(first.locator(".star-toggle")).to_have_attribute("aria-pressed", "true")
    page.page.reload()
    _expect(_entry(page, 0)).to_have_attribute("data-starred", "true")
    _expect(_entry(page, 0)).to_have_attribute("data-read", "false")
    page.goto("/?starred=1")
    _expect(page.page.locator("li.entry")).to_have_count(1)


READ = re.compile(r"/api/items/\d+/read$")


# Holds the page's fetches of matching URLs (and method) until `window.held[n]()` lets one
# go, and lists the methods of every matching call in `window.fetchCalls`.
_HOLD = """([source, method]) => {
  const fetch = window.fetch;
  const pattern = new RegExp(source);
  window.held = [];
  window.fetchCalls = [];
  window.fetch = (url, init) => {
    const verb = (init && init.method) || "GET";
    if (!pattern.test(url)) return fetch(url, init);
    window.fetchCalls.push(verb);
    if (method && verb !== method) return fetch(url, init);
    return new Promise((go) => window.held.push(() => go(fetch(url, init))));
  };
}"""


def _hold_fetches(probe: PageProbe, pattern: str, method: str | None = None) -> None:
    """Hold the page's requests to URLs matching ``pattern`` (of ``method``, else any).

    In the page itself: the scripts call window.fetch at each request, so no request
    goes round the hold, where a CDP route (Playwright's page.route) once let one by.
    """
    probe.page.evaluate(_HOLD, [pattern, method])


def _wait_held(probe: PageProbe, count: int) -> None:
    """Wait until ``count`` requests are held. Polled from here: Playwright's
    wait_for_function would poll with eval, which the app's CSP refuses."""
    wait_for(lambda: probe.page.evaluate("window.held.length") == count)


def _read_change(method: str) -> Any:
    """A predicate for the response to a `method` request that sets an item's read state."""
    return lambda r: r.request.method == method and READ.search(r.url)


def test_m_right_after_j_reaches_the_server_after_the_read_it_undoes(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _river(page, feed_server)
    sent: list[str] = []
    page.page.on("request", lambda r: sent.append(r.method) if READ.search(r.url) else None)
    _hold_fetches(page, READ.pattern, "PUT")
    page.page.keyboard.press("j")  # opens item 1 and marks it read: that request is held
    _wait_held(page, 1)  # the read mark was asked for
    first = _entry(page, 0)
    page.page.keyboard.press("m")  # unread at once, the read still on its way
    _expect(first).to_have_attribute("data-read", "false")
    page.page.wait_for_timeout(300)
    # The unread waits for the read's answer: no overtaking.
    assert page.page.evaluate("window.fetchCalls") == ["PUT"]
    with page.page.expect_response(_read_change("DELETE")):
        page.page.evaluate("window.held[0]()")
    assert sent == ["PUT", "DELETE"]
    _expect(first).to_have_attribute("data-read", "false")  # no flicker back to read
    page.page.reload()
    _expect(_entry(page, 0)).to_have_attribute("data-read", "false")


def test_m_while_the_pane_is_loading_is_not_undone_when_it_arrives(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _river(page, feed_server)
    _hold_fetches(page, r"[?]partial=pane$")
    marks: list[str] = []
    page.page.on(
        "request",
        lambda r: marks.append(r.method) if READ.search(r.url) else None,
    )
    page.page.keyboard.press("j")  # opens item 1; its pane is held back
    _wait_held(page, 1)
    first = _entry(page, 0)
    for state in ("true", "false"):  # read by hand, then unread again, before the pane comes
        with page.page.expect_response(READ):
            page.page.keyboard.press("m")
        _expect(first).to_have_attribute("data-read", state)
    page.page.evaluate("window.held[0]()")
    _expect(page.page.locator("#pane .reading-title")).to_have_text("Garden news item 1")
    with page.page.expect_response(re.compile(r"/api/items/\d+/star$")):
        page.page.keyboard.press("s")  # a later round trip: an automatic mark would be out
    assert marks == ["PUT", "DELETE"]
    _expect(first).to_have_attribute("data-read", "false")


def test_o_opens_the_items_link_in_a_new_tab(page: PageProbe, feed_server: FeedServer) -> None:
    # The items link to example.org: answered here, so nothing leaves the machine.
    page.page.context.route(
        "https://example.org/**", lambda route: route.fulfill(body="the original", status=200)
    )
    _river(page, feed_server)
    page.page.keyboard.press("j")
    _expect(page.page.locator("#pane .reading-title")).to_have_text("Garden news item 1")
    with page.page.context.expect_page() as opened:
        page.page.keyboard.press("o")
    opened.value.wait_for_load_state()
    assert opened.value.url == "https://example.org/1"


def test_more_appends_the_next_pages_without_skipping_or_repeating(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _river(page, feed_server, count=5, path="/?limit=2")
    page.page.locator("#more").click()
    _expect(page.page.locator("li.entry")).to_have_count(4)
    page.page.locator("#more").click()
    _expect(page.page.locator("li.entry")).to_have_count(5)
    _expect(page.page.locator("#more")).to_have_count(0)
    titles = page.page.locator("li.entry .entry-title").all_text_contents()
    assert titles == [f"Garden news item {n}" for n in range(1, 6)]


def test_help_overlay_and_g_then_u_back_to_the_river(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _river(page, feed_server, path="/?unread=1")
    page.page.keyboard.press("?")
    _expect(page.page.locator("#help")).to_be_visible()
    page.page.keyboard.press("Escape")
    _expect(page.page.locator("#help")).to_be_hidden()
    page.page.keyboard.press("g")
    page.page.keyboard.press("u")
    page.page.wait_for_url(page.base_url + "/")


def test_search_shows_ranked_hits_with_the_words_highlighted(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _river(page, feed_server)
    page.page.get_by_label("Search").fill("garden")
    page.page.get_by_role("button", name="Search").click()
    page.page.wait_for_url(re.compile(r"/search\?"))
    _expect(page.page.locator("li.entry")).to_have_count(5)
    _expect(page.page.locator("li.entry .entry-title mark").first).to_have_text("Garden")
    page.shot("search", docs_name="search")


def test_the_dark_scheme_applies_when_the_system_prefers_it(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _river(page, feed_server)
    background = "getComputedStyle(document.body).backgroundColor"
    assert page.page.evaluate(background) == "rgb(245, 246, 247)"
    page.page.emulate_media(color_scheme="dark")
    assert page.page.evaluate(background) == "rgb(18, 21, 25)"
    card = "getComputedStyle(document.querySelector('.entries')).backgroundColor"
    assert page.page.evaluate(card) == "rgb(27, 32, 38)"
    page.page.keyboard.press("j")
    _expect(page.page.locator("#pane .reading-title")).to_have_text("Garden news item 1")
    page.shot("river-dark", docs_name="river-dark")


def test_a_phone_sized_screen_gets_one_column_with_the_pane_below(
    page: PageProbe, feed_server: FeedServer
) -> None:
    page.page.set_viewport_size({"width": 390, "height": 844})
    _river(page, feed_server)
    width = page.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], "the page scrolls sideways"
    assert page.page.locator("#scopes").get_attribute("open") is None  # folded feed list
    first, pane = _entry(page, 0).bounding_box(), page.page.locator("#pane").bounding_box()
    assert first["width"] > 300 and pane["y"] > first["y"]  # one column, the pane below
    _entry(page, 0).locator(".entry-link").click()
    _expect(page.page.locator("#pane .reading-title")).to_be_in_viewport()
    page.shot("river-phone", docs_name="river-phone")
