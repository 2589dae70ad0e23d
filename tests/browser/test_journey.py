"""A newcomer's whole journey in a real Chromium, against gunicorn and a real worker:
sign up, follow a feed, watch its first fetch, read with the keyboard, star, search,
and take the subscriptions (with their folders) to a second account through OPML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveApp, PageProbe, sign_up
from tests.browser.feeds import rss
from tests.conftest import PASSWORD
from tests.feedserver import FeedServer

pytestmark = pytest.mark.browser


def _expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)


@pytest.fixture
def tabs(browser: Any, live_app: LiveApp) -> Iterator[list[PageProbe]]:
    """Fresh browser contexts (one per person) made with ``_tab``; any console
    error in any of them fails the test."""
    opened: list[PageProbe] = []
    yield opened
    errors = [e for probe in opened for e in probe.unexpected_errors()]
    for probe in opened:
        probe.page.context.close()
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors))


def _tab(browser: Any, live_app: LiveApp, tabs: list[PageProbe]) -> PageProbe:
    context = browser.new_context(
        base_url=live_app.url, viewport={"width": 1100, "height": 800}, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    # The items link to example.org: answered here, so nothing leaves the machine.
    context.route("https://example.org/**", lambda route: route.fulfill(body="original"))
    tab = context.new_page()
    probe = PageProbe(tab, live_app.url)
    tab.on(
        "console",
        lambda msg: (
            probe.errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    tab.on("pageerror", lambda exc: probe.errors.append(f"page error: {exc}"))
    tabs.append(probe)
    return probe


def _api(probe: PageProbe, method: str, path: str, body: dict[str, object]) -> Any:
    """A JSON API call with the page's own session (what a script of the page sends)."""
    response = probe.page.request.fetch(probe.base_url + path, method=method, data=body)
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json() if response.status != 204 else None


def _entry(probe: PageProbe, n: int) -> Any:
    return probe.page.locator("li.entry").nth(n)


def _follow_and_watch_first_fetch(probe: PageProbe, url: str) -> int:
    """Follow ``url`` from the feed list; wait on its page until the first fetch is done."""
    probe.goto("/feeds")
    probe.page.get_by_label("Feed or site address").fill(url)
    probe.page.get_by_role("button", name="Add feed").click()
    probe.page.wait_for_url(re.compile(r"/feeds/\d+$"))
    # The feed page polls its fetch and shows the outcome and the items without reload.
    _expect(probe.page.locator("#feed-live .js-badge")).to_have_text("OK", timeout=20_000)
    _expect(probe.page.get_by_text("Garden journal item 3")).to_be_visible()
    return int(probe.page.url.rsplit("/", 1)[1])


def _read_with_the_keyboard(probe: PageProbe) -> None:
    probe.goto("/")
    _expect(probe.page.locator("li.entry")).to_have_count(3)
    total = probe.page.locator("[data-total-count]")
    _expect(total).to_have_text("3")
    pane_title = probe.page.locator("#pane .reading-title")
    probe.page.keyboard.press("j")
    _expect(pane_title).to_have_text("Garden journal item 1")
    _expect(probe.page.locator("#pane .content")).to_contain_text("Text of item 1.")
    probe.page.keyboard.press("j")
    _expect(pane_title).to_have_text("Garden journal item 2")
    probe.page.keyboard.press("k")
    _expect(pane_title).to_have_text("Garden journal item 1")
    probe.page.keyboard.press("j")
    # The pane has loaded (opening marks read when it has): m then has the last word.
    _expect(pane_title).to_have_text("Garden journal item 2")
    _expect(probe.page.locator("#pane")).not_to_have_attribute("aria-busy", "true")
    second = _entry(probe, 1)
    _expect(second).to_have_attribute("data-read", "true")
    _expect(total).to_have_text("1")
    probe.page.keyboard.press("m")
    _expect(second).to_have_attribute("data-read", "false")
    _expect(total).to_have_text("2")
    with probe.page.context.expect_page() as opened:
        probe.page.keyboard.press("o")
    opened.value.wait_for_load_state()
    assert opened.value.url == "https://example.org/2"
    opened.value.close()
    with probe.page.expect_response(re.compile(r"/api/items/\d+/star$")) as saved:
        probe.page.keyboard.press("s")
    assert saved.value.ok
    _expect(second.locator(".star-toggle")).to_have_attribute("aria-pressed", "true")


def _export(probe: PageProbe) -> bytes:
    probe.goto("/opml")
    with probe.page.expect_download() as download:
        probe.page.get_by_role("link", name="Download OPML").click()
    return Path(download.value.path()).read_bytes()


def test_sign_up_follow_read_star_search_and_move_to_a_new_account_with_folders(
    browser: Any, live_app: LiveApp, tabs: list[PageProbe], feed_server: FeedServer
) -> None:
    alice = _tab(browser, live_app, tabs)
    sign_up(alice, "alice")  # the first account, through the first-run link
    feed_id = _follow_and_watch_first_fetch(
        alice, feed_server.add("/journal.xml", rss("Garden journal", 3))
    )
    _read_with_the_keyboard(alice)

    # The star is kept: after a reload and in the starred river.
    alice.page.reload()
    _expect(_entry(alice, 1)).to_have_attribute("data-starred", "true")
    alice.goto("/?starred=1")
    _expect(alice.page.locator("li.entry .entry-title")).to_have_text(["Garden journal item 2"])

    # Search finds the item, highlighted, still starred.
    alice.goto("/")
    alice.page.get_by_label("Search").fill("journal 2")
    alice.page.get_by_role("button", name="Search").click()
    alice.page.wait_for_url(re.compile(r"/search\?"))
    _expect(alice.page.locator("li.entry")).to_have_count(1)
    _expect(alice.page.locator("li.entry .entry-title")).to_have_text("Garden journal item 2")
    _expect(alice.page.locator("li.entry .entry-title mark").first).to_have_text("journal")
    _expect(_entry(alice, 0)).to_have_attribute("data-starred", "true")

    # Folders (made with the page's JSON API), then the OPML export keeps them.
    reading = _api(alice, "POST", "/api/folders", {"name": "Reading"})["folder"]["id"]
    garden = _api(alice, "POST", "/api/folders", {"name": "Garden", "parent_id": reading})
    _api(alice, "PATCH", f"/api/subscriptions/{feed_id}", {"folder_id": garden["folder"]["id"]})
    exported = _export(alice)
    assert re.search(rb'<outline text="Reading"[^>]*>\s*<outline text="Garden"', exported)
    assert feed_server.url("/journal.xml").encode() in exported

    # A second, fresh account imports the file: the feed comes back in its folders.
    bob = _tab(browser, live_app, tabs)
    bob.goto("/signup")
    bob.page.get_by_label("User name").fill("bob")
    bob.page.get_by_label("Password").fill(PASSWORD)
    bob.page.get_by_role("button", name="Sign up").click()
    bob.page.wait_for_url(bob.base_url + "/")
    bob.goto("/opml")
    bob.page.get_by_label("OPML file").set_input_files(
        {"name": "alice.opml", "mimeType": "text/x-opml", "buffer": exported}
    )
    bob.page.get_by_role("button", name="Import").click()
    bob.page.wait_for_url(re.compile(r"/opml/batches/"))
    _expect(bob.page.locator("#batch-status")).to_contain_text("All done")
    bob.goto("/")
    outer = bob.page.locator("nav.sidebar li.folder", has_text="Reading").first
    inner = outer.locator("li.folder", has_text="Garden")
    _expect(inner.locator(".scope-name").first).to_have_text("▸ Garden")
    _expect(inner).to_contain_text("Garden journal")
    _expect(bob.page.locator("li.entry")).to_have_count(3)
    # Alice's star and read marks stay hers.
    bob.goto("/?starred=1")
    _expect(bob.page.locator("li.entry")).to_have_count(0)
