from __future__ import annotations

import pytest

from app.urls import MAX_URL_LENGTH, InvalidURL, normalize_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/feed", "http://example.com/feed"),
        ("https://example.com:443/feed", "https://example.com/feed"),
        ("http://example.com:80/feed", "http://example.com/feed"),
        ("http://example.com:8080/feed", "http://example.com:8080/feed"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/feed#section", "https://example.com/feed"),
        ("  https://example.com/feed  ", "https://example.com/feed"),
        ("https://example.com./feed", "https://example.com/feed"),
        ("https://bücher.example/feed", "https://xn--bcher-kva.example/feed"),
        ("https://example.com/a b".replace(" ", "%20"), "https://example.com/a%20b"),
        ("https://example.com/feed?a=1&b=2", "https://example.com/feed?a=1&b=2"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_equivalent_spellings_normalise_to_one_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        42,
        "example.com/feed",
        "ftp://example.com/feed",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "http:///path",
        "https://exa mple.com/",
        "https://example.com/\nfeed",
        "https://user:pass@example.com/feed",
        "https://example.com:99999/",
        "https://-bad-.example/",
        "https://" + "a" * 64 + ".example/",
    ],
)
def test_invalid_urls_are_refused(raw: object) -> None:
    with pytest.raises(InvalidURL):
        normalize_url(raw)


def test_url_at_the_length_limit_is_accepted() -> None:
    base = "https://example.com/"
    url = base + "a" * (MAX_URL_LENGTH - len(base))
    assert normalize_url(url) == url


def test_url_over_the_length_limit_is_refused() -> None:
    with pytest.raises(InvalidURL, match="longer than"):
        normalize_url("https://example.com/" + "a" * MAX_URL_LENGTH)


def test_refusal_carries_the_invalid_url_code() -> None:
    with pytest.raises(InvalidURL) as info:
        normalize_url("ftp://x")
    assert info.value.code == "invalid_url"
