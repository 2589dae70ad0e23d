"""normalize_url: one canonical spelling per feed address; refusal of everything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        ("https://example.com/feed?", "https://example.com/feed"),
        ("https://example.com?#", "https://example.com/"),
        ("https://example.com../feed", "https://example.com/feed"),
        ("\t https://example.com/feed \r\n", "https://example.com/feed"),
        ("https://example.com/%7euser/%66eed", "https://example.com/~user/feed"),
        ("https://example.com/a%2fb%3f", "https://example.com/a%2Fb%3F"),
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/?q=%61%2B", "https://example.com/?q=a%2B"),
        ("https://example.com/a/./b/../feed", "https://example.com/a/feed"),
        ("https://example.com/../../feed", "https://example.com/feed"),
        ("https://example.com/a/%2E%2E/feed", "https://example.com/feed"),
        ("https://example.com/a/", "https://example.com/a/"),
        ("https://XN--BCHER-KVA.example/feed", "https://xn--bcher-kva.example/feed"),
        ("https://BÜCHER.Example/feed", "https://xn--bcher-kva.example/feed"),
        ("https://bücher。example/feed", "https://xn--bcher-kva.example/feed"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f.0.0.1/", "http://127.0.0.1/"),
        ("http://0177.1/", "http://127.0.0.1/"),
        ("http://[0:0:0:0:0:0:0:1]/", "http://[::1]/"),
        ("http://example.com:080/", "http://example.com/"),
        ("http://example.com:/", "http://example.com/"),
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
        "https://exa%6Dple.com/",
        "http://[fe80::1%25eth0]/",
        "http://256.0.0.1/",
        "http://1.2.3.4.5/",
        "http://example.123/",
        "https://example.com/\ud800",
        "https://.example.com/",
        "https://exa..mple.com/",
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


_URLS = st.one_of(
    st.text(max_size=80),
    st.builds(
        "{}://{}{}/{}{}{}".format,
        st.sampled_from(["http", "https", "HTTP", "hTtPs", "ftp", ""]),
        st.sampled_from(["example.com", "EXAMPLE.com.", "bücher.example", "127.0.0.1", "[::1]"]),
        st.sampled_from(["", ":80", ":443", ":8080", ":", ":0"]),
        st.text(max_size=30),
        st.sampled_from(["", "?", "?a=1", "?%61=%7e"]),
        st.sampled_from(["", "#", "#frag"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(_URLS)
def test_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = normalize_url(raw)
    except InvalidURL:
        return
    assert normalize_url(once) == once
    assert len(once) <= MAX_URL_LENGTH


@settings(max_examples=300, deadline=None)
@given(_URLS)
def test_normalise_either_returns_a_url_or_raises_invalid_url(raw: str) -> None:
    try:
        result = normalize_url(raw)
    except InvalidURL as exc:
        assert exc.message
        return
    assert result.startswith(("http://", "https://"))
    assert "#" not in result and not any(c.isspace() for c in result)
    result.encode("ascii")  # every accepted URL is plain ASCII
