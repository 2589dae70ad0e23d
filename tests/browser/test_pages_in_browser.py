"""The pages in a real Chromium against the real app, worker and a loopback feed server."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PageProbe
from tests.browser.feeds import opml, rss
from tests.feedserver import FeedServer

pytestmark = pytest.mark.browser


def _submit(probe: PageProbe, url: str) -> None:
    probe.goto("/feeds")
    probe.page.get_by_label("Feed or site address").fill(url)
    probe.page.get_by_role("button", name="Add feed").click()
    probe.page.wait_for_url(re.compile(r"/feeds/\d+$"))


def _expect_text(locator: Any, pattern: str) -> None:
    from playwright.sync_api import expect

    # Generous: the first fetch waits for the worker dyno to boot on a busy machine.
    expect(locator).to_contain_text(re.compile(pattern), timeout=20_000)


def _expect_fetched(probe: PageProbe, badge: str = "OK") -> None:
    """The feed page shows the fetch's outcome, whether it ended before or after the page loaded."""
    _expect_text(probe.page.locator("#feed-live .js-badge"), f"^{badge}$")


def test_submitted_feed_shows_progress_then_items_without_reload(
    page: PageProbe, feed_server: FeedServer
) -> None:
    url = feed_server.add("/slow.xml", rss("Slow news", 3), delay=2.0)
    _submit(page, url)
    page.page.evaluate("window.__stillHere = 'yes'")
    status = page.page.locator("#fetch-status")
    _expect_text(status, "Waiting|Fetching")
    assert page.page.locator("#fetch-status .spinner").count() == 1
    page.shot("feed-fetching", docs_name="feed-fetching")
    _expect_text(status, r"Done: 3 new")
    assert page.page.locator("ol.items > li").count() == 3
    assert page.page.evaluate("window.__stillHere") == "yes"
    _expect_text(page.page.locator("#feed-live .js-badge"), "OK")
    # The title learnt by the fetch replaces the URL in the heading, still without reload.
    _expect_text(page.page.locator("#feed-title"), "^Slow news$")
    assert page.page.title() == "Slow news · feedqueue"
    page.shot("feed-done")


def test_invalid_url_shows_an_inline_error_on_the_home_page(page: PageProbe) -> None:
    page.expected.append("status of 400")
    page.goto("/feeds")
    field = page.page.get_by_label("Feed or site address")
    field.fill("ftp://example.com/feed")
    with page.page.expect_navigation() as navigation:
        page.page.get_by_role("button", name="Add feed").click()
    assert navigation.value.status == 400
    _expect_text(page.page.locator("#url-error"), "Only http:// and https://")
    assert field.input_value() == "ftp://example.com/feed"
    assert field.get_attribute("aria-invalid") == "true"
    page.shot("home-invalid-url")


def test_failing_feed_shows_its_error_message_and_advice(
    page: PageProbe, feed_server: FeedServer
) -> None:
    missing = feed_server.add(
        "/missing.xml", "gone", status=404, content_type="text/plain", delay=1.0
    )
    _submit(page, missing)
    status = page.page.locator("#fetch-status")
    _expect_text(status, r"The fetch failed: The server answered 404 Not Found")
    _expect_text(page.page.locator(".last-error .advice"), "Nothing was found at that address")
    page.shot("feed-failed")


def test_opml_import_reports_each_refused_entry_and_shows_progress_to_done(
    page: PageProbe, feed_server: FeedServer
) -> None:
    outlines = [
        (f"Feed {n}", feed_server.add(f"/f{n}.xml", rss(f"Feed {n}", 2), delay=0.5))
        for n in range(3)
    ]
    outlines += [("Old FTP", "ftp://example.com/rss"), ("Nameless", "")]
    page.goto("/opml")
    page.page.get_by_label("OPML file").set_input_files(
        {"name": "feeds.opml", "mimeType": "text/x-opml", "buffer": opml(outlines)}
    )
    page.page.get_by_role("button", name="Import").click()
    page.page.wait_for_url(re.compile(r"/opml/batches/"))
    refused = page.page.locator("ul.refused > li")
    assert refused.count() == 2
    _expect_text(refused.nth(0), "Only http:// and https://")
    _expect_text(refused.nth(1), r"no feed address \(xmlUrl\)")
    _expect_text(page.page.locator("#batch-status"), "All done: 3 fetched, 0 failed")
    assert page.page.locator("#batch-progress").get_attribute("value") == "3"
    assert page.page.locator("table.batch-list .badge-ok").count() == 3
    page.shot("opml-batch")


def test_feed_with_45_items_pages_through_three_pages(
    page: PageProbe, feed_server: FeedServer
) -> None:
    _submit(page, feed_server.add("/big.xml", rss("Big", 45)))
    _expect_fetched(page)
    items = page.page.locator("ol.items > li")
    assert items.count() == 20
    _expect_text(items.first.locator("h2"), "^Big item 1$")
    _expect_text(page.page.locator(".pager"), "Page 1 of 3")
    page.page.get_by_role("link", name="Older items").click()
    _expect_text(page.page.locator(".pager"), "Page 2 of 3")
    assert items.count() == 20
    _expect_text(items.first.locator("h2"), "^Big item 21$")
    page.page.get_by_role("link", name="Older items").click()
    _expect_text(page.page.locator(".pager"), "Page 3 of 3")
    assert items.count() == 5
    assert page.page.get_by_role("link", name="Older items").count() == 0
    page.shot("feed-page-3")


def test_keyboard_only_submission_reaches_the_feed_page(
    page: PageProbe, feed_server: FeedServer
) -> None:
    url = feed_server.add("/keys.xml", rss("Keys", 1))
    page.goto("/feeds")
    for _ in range(10):
        page.page.keyboard.press("Tab")
        if page.page.evaluate("document.activeElement.id") == "url":
            break
    else:
        pytest.fail("the address field cannot be reached with Tab")
    page.page.keyboard.type(url)
    page.page.keyboard.press("Enter")
    page.page.wait_for_url(re.compile(r"/feeds/\d+$"))
    _expect_fetched(page)
    assert page.page.locator("ol.items > li").count() == 1


def test_every_page_renders_without_browser_errors(
    page: PageProbe, feed_server: FeedServer
) -> None:
    for n, title in enumerate(["Morning paper", "Release notes", "Photo log"]):
        _submit(page, feed_server.add(f"/tour{n}.xml", rss(title, 4 + n)))
        _expect_fetched(page)
    _submit(page, feed_server.url("/tour-gone.xml"))
    _expect_fetched(page, "Error")
    _submit(page, feed_server.add("/tour-slow.xml", rss("Slow", 2), delay=3.0))
    page.goto("/feeds")
    assert page.page.locator("table.feed-list tbody tr").count() == 5
    page.shot("home", docs_name="home")
    _expect_text(page.page.locator("table.feed-list"), "Fetching|Queued")
    page.page.get_by_role("link", name="Status").click()
    _expect_text(page.page.locator("h1"), "Status")
    _expect_text(page.page.locator("#failures-title + table"), "http_404")
    assert page.page.locator("svg.chart").count() == 2
    page.shot("status", docs_name="status")
    page.page.get_by_role("link", name="OPML").click()
    _expect_text(page.page.locator("h1"), "OPML")
    page.shot("opml")
