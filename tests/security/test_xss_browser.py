"""Hostile feeds do not run script in our pages (real worker, real gunicorn, real Chromium).

Feeds whose titles, links, summaries and content carry script payloads are
submitted, fetched by a real worker process and shown by the app behind
gunicorn. Chromium renders the feed pages, the river (the home page) and
every item opened in the river's reading pane (whose content the page's
script inserts) with the Content-Security-Policy *bypassed*, so any payload
that survived sanitisation would run: the proof is that sanitisation removed
them, not that CSP blocked them. A second pass with CSP on checks that no
violation was even attempted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tests.conftest import PASSWORD
from tests.dynos import WebDyno
from tests.feedserver import FeedServer

pytestmark = pytest.mark.browser

# Every payload tries to set window.__xss or open a dialog.
HTML_PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '<img src="data:image/png;base64,AAAA" onerror="alert(1)">',
    '<a href="javascript:window.__xss=1">js link</a>',
    '<a href=" javascript:window.__xss=1">spaced js link</a>',
    '<a href="jav&#x09;ascript:window.__xss=1">tab js link</a>',
    '<a href="JaVaScRiPt:alert(1)">case js link</a>',
    '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">data link</a>',
    '<svg onload="window.__xss=1"><circle r="5"/></svg>',
    "<svg><script>window.__xss=1</script></svg>",
    '<iframe srcdoc="&lt;script&gt;parent.__xss=1&lt;/script&gt;"></iframe>',
    '<iframe src="javascript:parent.__xss=1"></iframe>',
    '<div style="width: expression(window.__xss=1); background:url(javascript:alert(1))">s</div>',
    '<object data="data:text/html,&lt;script&gt;parent.__xss=1&lt;/script&gt;"></object>',
    '<embed src="javascript:window.__xss=1">',
    '<details open ontoggle="window.__xss=1"><summary>t</summary></details>',
    '<body onload="window.__xss=1">',
    '<input autofocus onfocus="window.__xss=1">',
    '<video><source onerror="window.__xss=1"></video>',
    '<form action="javascript:window.__xss=1"><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">',
    '<base href="javascript:/">',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=1">',
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>"></noscript>',
    '<a href="#" onclick="window.__xss=1" onmouseover="window.__xss=1">hover</a>',
    '<p style="x:expression(alert(1))" onclick="alert(1)">styled</p>',
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    '<img src="javascript:window.__xss=1">',
    '<link rel=stylesheet href="javascript:alert(1)">',
]
TITLE_PAYLOADS = [
    "<script>window.__xss=1</script>Title",
    '"><img src=x onerror="window.__xss=1">',
    "&lt;script&gt;window.__xss=1&lt;/script&gt;",
    "</title><script>window.__xss=1</script>",
]
LINK_PAYLOADS = [
    "javascript:window.__xss=1",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
]
#: Enclosure (url, type) pairs: the reading pane puts the URL in an <audio>, <video> or
#: link and shows the type. Relative URLs resolve to the loopback feed server.
ENCLOSURE_PAYLOADS = [
    ("javascript:window.__xss=1", "audio/mpeg"),
    ("data:audio/mpeg;base64,AAAA", "audio/mpeg"),
    (" javascript:alert(1)", "video/mp4"),
    ('/ep.mp3?x="><script>window.__xss=1</script>', "audio/mpeg"),
    ("/ep.mp3", '"><img src=x onerror="window.__xss=1">'),
    ("/ep.mp4", 'video/mp4" onplay="window.__xss=1'),
    ("/" + "a" * 5000 + ".mp3", "audio/mpeg"),
    ("vbscript:msgbox(1)", "application/pdf"),
]
DANGEROUS_URL = ("javascript:", "vbscript:", "data:text/html", "data:application", "data:audio")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _enclosure(i: int) -> str:
    url, kind = ENCLOSURE_PAYLOADS[i % len(ENCLOSURE_PAYLOADS)]
    quoted = {
        name: _escape(value).replace('"', "&quot;") for name, value in (("u", url), ("t", kind))
    }
    return (
        f'<enclosure url="{quoted["u"]}" type="{quoted["t"]}" length="-1"/>'
        f'<media:content url="{quoted["u"]}" type="{quoted["t"]}" fileSize="1e99"/>'
    )


def _rss(n: int) -> bytes:
    """One RSS feed per title payload; every item carries HTML payloads three ways."""
    title = TITLE_PAYLOADS[n % len(TITLE_PAYLOADS)]
    items = []
    for i, payload in enumerate(HTML_PAYLOADS):
        link = LINK_PAYLOADS[i % len(LINK_PAYLOADS)]
        items.append(
            f"""<item>
  <title>{_escape(TITLE_PAYLOADS[i % len(TITLE_PAYLOADS)])} {i}</title>
  <link>{_escape(link)}</link>
  <guid isPermaLink="false">item-{n}-{i}</guid>
  <description>{_escape(payload)}</description>
  <content:encoded><![CDATA[{payload}]]></content:encoded>
  {_enclosure(i)}
</item>"""
        )
    # One more item whose description is entity-encoded twice over.
    items.append(
        f"""<item><title>double {n}</title><guid>double-{n}</guid>
  <description>{_escape(_escape("<script>window.__xss=1</script>"))}</description></item>"""
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>{_escape(title)}</title>
  <image><url>javascript:window.__xss=1</url><title>t</title><link>/</link></image>
  <link>javascript:window.__xss=1</link>
  <description>{_escape(HTML_PAYLOADS[1])}</description>
  {"".join(items)}
</channel>
</rss>""".encode()


def _atom() -> bytes:
    entries = "".join(
        f"""<entry><id>urn:x:{i}</id><title type="html">{_escape(TITLE_PAYLOADS[i % 4])}</title>
  <updated>2024-01-0{1 + i % 9}T00:00:00Z</updated>
  <link href="{_escape(LINK_PAYLOADS[i % 4])}"/>
  <link rel="enclosure" href="{_escape(ENCLOSURE_PAYLOADS[i % 8][0]).replace('"', "&quot;")}"
        type="{_escape(ENCLOSURE_PAYLOADS[i % 8][1]).replace('"', "&quot;")}"/>
  <summary type="html">{_escape(payload)}</summary>
  <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
    <a href="javascript:window.__xss=1">x</a><img src="x" onerror="window.__xss=1"/>
  </div></content></entry>"""
        for i, payload in enumerate(HTML_PAYLOADS)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id>
<title type="html">{_escape(TITLE_PAYLOADS[0])}</title><updated>2024-01-01T00:00:00Z</updated>
{entries}</feed>""".encode()


@pytest.fixture
def hostile_site(
    client: FlaskClient,
    feed_server: FeedServer,
    run_worker_burst: Callable[..., Any],
    web_dyno: WebDyno,
) -> Iterator[tuple[WebDyno, list[int]]]:
    """The app behind gunicorn with hostile feeds fetched by a real worker."""
    urls = [feed_server.add(f"/rss{n}.xml", _rss(n)) for n in range(len(TITLE_PAYLOADS))]
    urls.append(feed_server.add("/atom.xml", _atom(), content_type="application/atom+xml"))
    feed_ids = []
    for url in urls:
        response = client.post("/feeds", json={"url": url})
        assert response.status_code == 202
        feed_ids.append(response.get_json()["fetch"]["feed_id"])
    run_worker_burst()
    for feed_id in feed_ids:
        feed = client.get(f"/api/feeds/{feed_id}").get_json()["feed"]
        assert feed["item_count"] > 0, feed  # the payloads really are stored and shown
    yield web_dyno, feed_ids


# Runs in the page: everything that could execute script, found in the DOM.
_DOM_AUDIT = """(dangerous) => {
  const found = [];
  const bad = (v) => {
    const s = (v || "").replace(/[\\u0000-\\u0020]/g, "").toLowerCase();
    return dangerous.some((d) => s.startsWith(d));
  };
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (attr.name.toLowerCase().startsWith("on")) found.push(el.tagName + " " + attr.name);
      if (["href", "src", "action", "formaction", "data", "srcdoc", "xlink:href"]
            .includes(attr.name.toLowerCase()) && bad(attr.value))
        found.push(el.tagName + " " + attr.name + "=" + attr.value);
      if (attr.name.toLowerCase() === "srcdoc") found.push(el.tagName + " srcdoc");
    }
  }
  for (const s of document.querySelectorAll("script")) {
    if (!s.src || new URL(s.src).origin !== location.origin) found.push("script " + s.src);
  }
  for (const tag of ["iframe", "frame", "object", "embed", "base", "meta[http-equiv]"]) {
    for (const el of document.querySelectorAll(tag)) found.push(tag);
  }
  return found;
}"""

_RECORD_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


def _open(chromium: Any, base_url: str, *, bypass_csp: bool) -> tuple[Any, dict[str, list[str]]]:
    context = chromium.new_context(bypass_csp=bypass_csp, java_script_enabled=True)
    seen: dict[str, list[str]] = {"dialogs": [], "console": [], "offsite": []}
    allowed = urlsplit(base_url).netloc

    def route(route: Any) -> None:
        # Never leave the machine: only the app itself and data: URLs load (feed images
        # on the loopback feed server are refused too, which is not what is tested here).
        url = route.request.url
        if url.startswith("data:") or urlsplit(url).netloc == allowed:
            route.continue_()
        else:
            seen["offsite"].append(url)
            route.abort()

    context.route("**/*", route)
    context.add_init_script(_RECORD_CSP)
    page = context.new_page()
    # Sign in as the person whose client subscribed to the hostile feeds.
    page.goto(base_url + "/signin")
    page.get_by_label("User name").fill("reader")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/")

    def on_dialog(dialog: Any) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "console",
        lambda msg: (
            seen["console"].append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    return page, seen


def _visit(page: Any, url: str) -> None:
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    # Hover and focus everything once, for handlers that need a person to fire.
    page.evaluate(
        """() => { for (const el of document.querySelectorAll("main *")) {
             el.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
             el.dispatchEvent(new FocusEvent("focus")); } }"""
    )


def _page_urls(dyno: WebDyno, feed_ids: list[int]) -> list[str]:
    return [dyno.base_url + "/"] + [f"{dyno.base_url}/feeds/{i}" for i in feed_ids]


def test_feed_payloads_run_no_script_even_with_csp_bypassed(
    hostile_site: tuple[WebDyno, list[int]], in_chromium: Callable[..., Any]
) -> None:
    dyno, feed_ids = hostile_site

    def visit_all(browser: Any) -> dict[str, object]:
        page, seen = _open(browser, dyno.base_url, bypass_csp=True)
        ran, moved = {}, {}
        for url in _page_urls(dyno, feed_ids):
            _visit(page, url)
            ran[url] = page.evaluate("window.__xss")
            if page.url != url:
                moved[url] = page.url
        return {"ran": ran, "moved": moved, "dialogs": seen["dialogs"]}

    result = in_chromium(visit_all)
    assert all(value is None for value in result["ran"].values()), result["ran"]
    assert result["moved"] == {}, "a page navigated itself away"
    assert result["dialogs"] == []


def test_rendered_pages_contain_nothing_that_could_run_script(
    hostile_site: tuple[WebDyno, list[int]], in_chromium: Callable[..., Any]
) -> None:
    dyno, feed_ids = hostile_site

    def audit_all(browser: Any) -> dict[str, list[str]]:
        page, _seen = _open(browser, dyno.base_url, bypass_csp=True)
        findings = {}
        for url in _page_urls(dyno, feed_ids):
            _visit(page, url)
            found = page.evaluate(_DOM_AUDIT, list(DANGEROUS_URL))
            if found:
                findings[url] = found
        return findings

    assert in_chromium(audit_all) == {}


def test_pages_with_hostile_feeds_cause_no_csp_violation_or_console_error(
    hostile_site: tuple[WebDyno, list[int]], in_chromium: Callable[..., Any]
) -> None:
    dyno, feed_ids = hostile_site

    def visit_all(browser: Any) -> dict[str, object]:
        page, seen = _open(browser, dyno.base_url, bypass_csp=False)
        violations, ran = {}, {}
        for url in _page_urls(dyno, feed_ids):
            _visit(page, url)
            if page.evaluate("window.__csp"):
                violations[url] = page.evaluate("window.__csp")
            ran[url] = page.evaluate("window.__xss")
        return {"violations": violations, "ran": ran, **seen}

    result = in_chromium(visit_all)
    assert result["violations"] == {}
    assert all(value is None for value in result["ran"].values())
    assert result["console"] == []
    assert result["dialogs"] == []


_HOVER_PANE = """() => { for (const el of document.querySelectorAll("#pane *")) {
  el.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
  el.dispatchEvent(new FocusEvent("focus")); } }"""


#: Items the pane tests open: every item of the first RSS feed (a payload each, and the
#: doubly encoded one) and of the Atom feed, and one of each other RSS feed, whose items
#: are the first's under another title payload.
PANE_READS = (len(HTML_PAYLOADS) + 1) + len(HTML_PAYLOADS) + (len(TITLE_PAYLOADS) - 1)


def _read_hostile_items_in_the_pane(
    page: Any, base_url: str, feed_ids: list[int]
) -> dict[str, Any]:
    """Open the hostile items in the river's reading pane (the script puts the item's
    content there), recording what ran, what the DOM holds and any CSP violation.

    ``feed_ids``: the RSS feeds (``_rss``), then the Atom feed. The RSS feeds differ only
    in their own title, so past the first one item of each is read (see PANE_READS).
    """
    ran, findings, violations, opened = {}, {}, {}, 0
    for n, feed_id in enumerate(feed_ids):
        url = f"{base_url}/?feed_id={feed_id}&limit=100"
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        ids = page.locator("li.entry").evaluate_all("(els) => els.map((e) => e.dataset.id)")
        if 0 < n < len(feed_ids) - 1:
            ids = ids[:1]
        for item_id in ids:
            page.locator(f'li.entry[data-id="{item_id}"] .entry-link').click()
            page.wait_for_selector(f'#pane .reading[data-id="{item_id}"]', state="attached")
            page.evaluate(_HOVER_PANE)
            opened += 1
            key = f"{url} item {item_id}"
            if page.evaluate("window.__xss") is not None:
                ran[key] = page.evaluate("window.__xss")
            found = page.evaluate(_DOM_AUDIT, list(DANGEROUS_URL))
            if found:
                findings[key] = found
        if page.evaluate("window.__csp"):
            violations[url] = page.evaluate("window.__csp")
    return {"ran": ran, "findings": findings, "violations": violations, "opened": opened}


def test_the_reading_pane_runs_no_hostile_script_even_with_csp_bypassed(
    hostile_site: tuple[WebDyno, list[int]], in_chromium: Callable[..., Any]
) -> None:
    dyno, feed_ids = hostile_site

    def read_all(browser: Any) -> dict[str, Any]:
        page, seen = _open(browser, dyno.base_url, bypass_csp=True)
        return {**_read_hostile_items_in_the_pane(page, dyno.base_url, feed_ids), **seen}

    result = in_chromium(read_all)
    assert result["opened"] == PANE_READS
    assert result["ran"] == {}
    assert result["findings"] == {}
    assert result["dialogs"] == []


def test_the_reading_pane_causes_no_csp_violation_or_console_error(
    hostile_site: tuple[WebDyno, list[int]], in_chromium: Callable[..., Any]
) -> None:
    dyno, feed_ids = hostile_site

    def read_all(browser: Any) -> dict[str, Any]:
        page, seen = _open(browser, dyno.base_url, bypass_csp=False)
        return {**_read_hostile_items_in_the_pane(page, dyno.base_url, feed_ids), **seen}

    result = in_chromium(read_all)
    assert result["opened"] == PANE_READS
    assert result["violations"] == {}
    assert result["ran"] == {}
    assert result["console"] == []
    assert result["dialogs"] == []
