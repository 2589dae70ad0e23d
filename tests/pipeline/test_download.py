"""download(): deadlines, size caps, redirects, conditional GET, error codes (real server)."""

from __future__ import annotations

import gzip
import hashlib
import time
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.pipeline import FetchError, Validators, download
from tests.feedserver import Request, Response

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def fail(url, limits, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        download(url, limits, **kwargs)
    return info.value


# -- requests we send ---------------------------------------------------------------------


def test_user_agent_accept_and_encoding_headers_are_sent(server, limits) -> None:
    url = server.add("/feed", RSS)
    download(url, replace(limits, user_agent="feedqueue-test/9"))
    headers = server.requests[-1].headers
    assert headers["user-agent"] == "feedqueue-test/9"
    assert headers["accept"].startswith("application/rss+xml")
    assert headers["accept-encoding"] == "gzip, deflate"


# -- deadline and size ------------------------------------------------------------------


def test_slow_drip_body_fails_with_timeout_at_the_deadline(server, limits) -> None:
    server.route("/drip", lambda _r: Response(200, (b"x" for _ in range(1000)), chunk_delay=0.05))
    started = time.monotonic()
    error = fail(server.url("/drip"), replace(limits, deadline=1.0, read_timeout=10))
    elapsed = time.monotonic() - started
    assert error.code == "timeout" and error.transient
    assert 0.9 <= elapsed < 2.0


def test_slow_headers_fail_with_timeout_at_the_deadline(server, limits) -> None:
    server.add("/late", RSS, delay=3.0)
    started = time.monotonic()
    error = fail(server.url("/late"), replace(limits, deadline=0.8, read_timeout=10))
    assert error.code == "timeout"
    assert time.monotonic() - started < 1.8


def test_slow_compressed_drip_that_decodes_to_nothing_still_stops_at_deadline(
    server, limits
) -> None:
    # A gzip header with an endless comment: every byte arrives in time but decodes to
    # nothing, so no chunk ever reaches our loop; only the deadline watchdog can stop it.
    header = b"\x1f\x8b\x08\x10" + b"\0\0\0\0" + b"\0\xff"
    chunks = iter([header] + [b"c"] * 100_000)
    server.route(
        "/gzdrip",
        lambda _r: Response(200, chunks, {"Content-Encoding": "gzip"}, chunk_delay=0.02),
    )
    started = time.monotonic()
    error = fail(server.url("/gzdrip"), replace(limits, deadline=1.0))
    assert error.code == "timeout"
    assert time.monotonic() - started < 2.0


def test_read_timeout_applies_between_bytes(server, limits) -> None:
    server.route("/stall", lambda _r: Response(200, iter([b"<rss", b">"]), chunk_delay=2.0))
    error = fail(server.url("/stall"), replace(limits, read_timeout=0.5, deadline=10))
    assert error.code == "timeout"


def test_body_over_the_cap_is_too_large(server, limits) -> None:
    server.route("/big", lambda _r: Response(200, (b"x" * 1024 for _ in range(200))))
    error = fail(server.url("/big"), replace(limits, max_bytes=50_000))
    assert error.code == "too_large" and not error.transient


def test_content_length_over_the_cap_is_refused_before_reading(server, limits) -> None:
    url = server.add("/declared", b"y" * 100_000)
    error = fail(url, replace(limits, max_bytes=10_000))
    assert error.code == "too_large"
    assert "limit" in error.message


def test_body_exactly_at_the_cap_is_accepted(server, limits) -> None:
    url = server.add("/exact", b"z" * 10_000)
    assert len(download(url, replace(limits, max_bytes=10_000)).body or b"") == 10_000


def test_gzip_bomb_stops_at_the_decompressed_cap(server, limits) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MB -> ~64 KB
    assert len(bomb) < 100_000
    url = server.add("/bomb.gz", bomb, headers={"Content-Encoding": "gzip"})
    started = time.monotonic()
    error = fail(url, replace(limits, max_bytes=1_000_000))
    assert error.code == "too_large"
    assert time.monotonic() - started < 2.0


def test_deflate_bomb_stops_at_the_decompressed_cap(server, limits) -> None:
    bomb = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)
    url = server.add("/bomb.z", bomb, headers={"Content-Encoding": "deflate"})
    assert fail(url, replace(limits, max_bytes=1_000_000)).code == "too_large"


def test_gzip_body_is_decompressed(server, limits) -> None:
    url = server.add("/feed.gz", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    result = download(url, limits)
    assert result.body == RSS
    assert result.bytes_downloaded == len(gzip.compress(RSS))
    assert result.content_hash == hashlib.sha256(RSS).hexdigest()


def test_corrupt_gzip_body_is_a_parse_error(server, limits) -> None:
    url = server.add(
        "/broken.gz", b"\x1f\x8b\x08\x00garbage-not-gzip", headers={"Content-Encoding": "gzip"}
    )
    error = fail(url, limits)
    assert error.code == "parse_error" and not error.transient


# -- redirects --------------------------------------------------------------------------


def redirect(status: int, to: str):
    return lambda _r: Response(status, b"", {"Location": to})


def test_redirect_loop_is_too_many_redirects(server, limits) -> None:
    server.route("/a", redirect(302, "/b"))
    server.route("/b", redirect(302, "/a"))
    error = fail(server.url("/a"), limits)
    assert error.code == "too_many_redirects"
    assert "loop" in error.message
    assert server.hits("/a") == 1


def test_a_redirect_to_an_address_with_credentials_is_refused_without_showing_them(
    server, limits
) -> None:
    server.add("/secret", RSS)
    target = server.url("/secret").replace("http://", "http://alice:s3cret@")
    server.route("/feed", redirect(302, target))
    error = fail(server.url("/feed"), limits)
    assert error.code == "invalid_url"
    assert "s3cret" not in error.message and "alice" not in error.message
    assert server.hits("/secret") == 0


def test_a_redirect_to_a_port_outside_the_allowed_ones_is_refused(server, limits) -> None:
    server.route("/feed", redirect(302, "http://127.0.0.1:25/feed"))
    error = fail(server.url("/feed"), limits)
    assert error.code == "blocked_address" and "25" in error.message


def test_more_redirects_than_the_limit_is_too_many_redirects(server, limits) -> None:
    for i in range(10):
        server.route(f"/r{i}", redirect(302, f"/r{i + 1}"))
    server.add("/r10", RSS)
    error = fail(server.url("/r0"), replace(limits, max_redirects=3))
    assert error.code == "too_many_redirects"
    assert server.hits("/r4") == 0


def test_redirects_up_to_the_limit_are_followed(server, limits) -> None:
    for i in range(3):
        server.route(f"/s{i}", redirect(307, f"/s{i + 1}"))
    server.add("/s3", RSS)
    result = download(server.url("/s0"), replace(limits, max_redirects=3))
    assert result.final_url == server.url("/s3")
    assert result.body == RSS


def test_chain_of_301s_sets_permanent_url(server, limits) -> None:
    server.route("/old", redirect(301, "/older"))
    server.route("/older", redirect(301, server.url("/new")))
    server.add("/new", RSS)
    result = download(server.url("/old"), limits)
    assert result.permanent_url == server.url("/new")
    assert result.final_url == server.url("/new")
    assert result.requested_url == server.url("/old")


def test_308_sets_permanent_url(server, limits) -> None:
    server.route("/old", redirect(308, "/new"))
    server.add("/new", RSS)
    assert download(server.url("/old"), limits).permanent_url == server.url("/new")


def test_301_then_302_leaves_permanent_url_unset(server, limits) -> None:
    server.route("/old", redirect(301, "/mid"))
    server.route("/mid", redirect(302, "/new"))
    server.add("/new", RSS)
    result = download(server.url("/old"), limits)
    assert result.permanent_url is None
    assert result.final_url == server.url("/new")


def test_302_alone_leaves_permanent_url_unset(server, limits) -> None:
    server.route("/tmp", redirect(302, "/new"))
    server.add("/new", RSS)
    assert download(server.url("/tmp"), limits).permanent_url is None


def test_no_redirect_leaves_permanent_url_unset(server, limits) -> None:
    assert download(server.add("/feed", RSS), limits).permanent_url is None


def test_redirect_to_non_http_scheme_is_invalid_url(server, limits) -> None:
    server.route("/evil", redirect(302, "file:///etc/passwd"))
    assert fail(server.url("/evil"), limits).code == "invalid_url"


def test_redirect_without_location_is_an_http_error(server, limits) -> None:
    server.add("/nowhere", b"", status=302)
    error = fail(server.url("/nowhere"), limits)
    assert error.code == "http_302" and error.http_status == 302


# -- conditional GET --------------------------------------------------------------------


def conditional(request: Request) -> Response:
    if request.headers.get("if-none-match") == '"v1"':
        return Response(304, b"", {"ETag": '"v1"'})
    if request.headers.get("if-modified-since") == "Mon, 01 Jan 2024 00:00:00 GMT":
        return Response(304, b"")
    return Response(
        200,
        RSS,
        {
            "ETag": '"v1"',
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
            "Cache-Control": "public, max-age=900",
        },
    )


def test_etag_round_trip_gives_304_not_modified(server, limits) -> None:
    url = server.route("/cond", conditional)
    first = download(url, limits)
    assert (first.status, first.etag, first.not_modified) == (200, '"v1"', False)
    assert first.cache_max_age == 900
    second = download(url, limits, Validators(etag=first.etag, content_hash=first.content_hash))
    assert second.status == 304 and second.not_modified and second.body is None
    assert second.etag == '"v1"' and second.content_hash == first.content_hash
    assert server.requests[-1].headers["if-none-match"] == '"v1"'


def test_last_modified_round_trip_gives_304_and_keeps_validators(server, limits) -> None:
    url = server.route("/cond", conditional)
    first = download(url, limits)
    second = download(url, limits, Validators(last_modified=first.last_modified))
    assert second.status == 304 and second.not_modified
    assert second.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert server.requests[-1].headers["if-modified-since"] == first.last_modified


def test_same_body_hash_is_not_modified(server, limits) -> None:
    url = server.add("/plain", RSS)
    digest = hashlib.sha256(RSS).hexdigest()
    result = download(url, limits, Validators(content_hash=digest))
    assert result.status == 200 and result.not_modified and result.content_hash == digest


def test_different_body_hash_is_modified(server, limits) -> None:
    url = server.add("/plain", RSS)
    assert not download(url, limits, Validators(content_hash="0" * 64)).not_modified


# -- HTTP errors ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
def test_client_errors_are_permanent_http_codes(server, limits, status: int) -> None:
    url = server.add(f"/e{status}", b"no", status=status, content_type="text/plain")
    error = fail(url, limits)
    assert error.code == f"http_{status}" and error.http_status == status
    assert error.transient is False and error.retry_after is None


def test_404_message_tells_the_user_to_check_the_address(server, limits) -> None:
    error = fail(server.url("/missing"), limits)
    assert error.message == "The server answered 404 Not Found: check the address."


def test_410_message_says_the_feed_is_gone(server, limits) -> None:
    url = server.add("/gone", b"", status=410)
    assert "removed for good" in fail(url, limits).message


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_server_errors_and_408_are_transient(server, limits, status: int) -> None:
    url = server.add("/boom", b"", status=status)
    error = fail(url, limits)
    assert error.code == f"http_{status}" and error.transient is True


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_reported(server, limits, status: int) -> None:
    url = server.add("/busy", b"", status=status, headers={"Retry-After": "120"})
    error = fail(url, limits)
    assert error.code == f"http_{status}" and error.transient
    assert error.retry_after == 120.0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_http_date_is_reported_in_seconds(server, limits, status: int) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    url = server.add("/busy", b"", status=status, headers={"Retry-After": when})
    error = fail(url, limits)
    assert error.retry_after is not None and 590 <= error.retry_after <= 600


def test_retry_after_in_the_past_is_clamped_to_zero_and_huge_to_a_day(server, limits) -> None:
    server.add("/past", b"", status=429, headers={"Retry-After": "Mon, 01 Jan 2001 00:00:00 GMT"})
    server.add("/far", b"", status=429, headers={"Retry-After": "99999999"})
    assert fail(server.url("/past"), limits).retry_after == 0.0
    assert fail(server.url("/far"), limits).retry_after == 24 * 3600


def test_503_without_retry_after_has_none(server, limits) -> None:
    url = server.add("/down", b"", status=503)
    assert fail(url, limits).retry_after is None


def test_connection_refused_is_a_transient_connection_error(limits) -> None:
    import socket

    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = fail(f"http://127.0.0.1:{port}/feed", limits)
    assert error.code == "connection_error" and error.transient


def test_server_closing_mid_body_is_a_connection_error(server, limits) -> None:
    def truncated(_r: Request) -> Response:
        return Response(200, iter([b"<rss"]), {"Content-Length": "1000"})

    server.route("/cut", truncated)
    assert fail(server.url("/cut"), limits).code == "connection_error"
