"""The session's own transport pieces: requests prepared without ``requests``' URL parsing, the lean
adapter (pools per origin, responses without copies) and redirects never read by the session."""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
import requests_mock
import urllib3
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from requests.adapters import HTTPAdapter

from painchain_gh.errors import GitHubTemporaryError
from painchain_gh.github.client import GitHubClient, TokenBudget
from painchain_gh.http import CHUNK_BYTES, Deadline, LeanAdapter, RetryPolicy, new_session, plain_base, prepare_get

API = "https://api.github.com"
HEADERS = {"Accept": "application/vnd.github+json", "If-None-Match": '"abc"'}

# Characters a path or query may hold, the awkward ones included (dots, percent signs, spaces, ...).
url_rest = st.text(alphabet="abcXYZ019._~/-?=&%# :@!+é", max_size=40)


@given(url_rest)
def test_a_prepared_get_is_what_requests_prepares(rest: str) -> None:
    base = plain_base(API)
    assert base == f"{API}/"
    url = base + rest
    try:
        expected = requests.Request("GET", url, headers=HEADERS).prepare()
    except (requests.RequestException, ValueError):
        with pytest.raises((requests.RequestException, ValueError)):
            prepare_get(url, HEADERS, base=base)
        return
    prepared = prepare_get(url, HEADERS, base=base)
    assert (prepared.method, prepared.url, prepared.body) == ("GET", expected.url, None)
    assert dict(prepared.headers) == dict(expected.headers)


@pytest.mark.parametrize(
    ("base", "plain"),
    [
        ("https://api.github.com", True),
        ("http://127.0.0.1:8080/api/v3", True),
        ("HTTPS://API.github.com", False),  # requests lower-cases scheme and host: not left as it is
        ("https://ghe.example.com/api/v%33", False),
    ],
)
def test_only_a_base_requests_leaves_unchanged_is_plain(base: str, plain: bool) -> None:
    assert (plain_base(base) is not None) is plain


def test_a_url_outside_the_base_goes_through_requests() -> None:
    prepared = prepare_get("https://other.example.com/a b", HEADERS, base=f"{API}/")
    assert prepared.url == "https://other.example.com/a%20b"


def test_the_adapter_keeps_the_pool_requests_picks_for_each_origin() -> None:
    adapter = LeanAdapter(pool_connections=2, pool_maxsize=2, max_retries=0)
    first = prepare_get(f"{API}/repos/a/b/events", HEADERS, base=f"{API}/")
    second = prepare_get(f"{API}/repos/c/d/events", HEADERS, base=f"{API}/")
    pool = adapter.get_connection_with_tls_context(first, True)
    assert pool is HTTPAdapter.get_connection_with_tls_context(adapter, first, True)
    assert adapter.get_connection_with_tls_context(second, True) is pool
    other = prepare_get("http://127.0.0.1:9/x", HEADERS)
    assert adapter.get_connection_with_tls_context(other, True) is not pool
    assert adapter.get_connection_with_tls_context(first, "/etc/ssl/other.pem") is not pool  # another CA bundle
    adapter.close()
    assert getattr(pool, "pool", None) is None  # closed with the adapter, and not handed out again
    assert adapter.get_connection_with_tls_context(first, True) is not pool


def test_the_adapter_still_routes_through_a_proxy() -> None:
    adapter = LeanAdapter(max_retries=0)
    request = prepare_get(f"{API}/repos/a/b/events?per_page=100", HEADERS, base=f"{API}/")
    proxies = {"https": "http://proxy.internal:3128"}
    pool = adapter.get_connection_with_tls_context(request, True, proxies)
    assert getattr(pool, "proxy", None) is not None
    assert adapter.request_url(request, {}) == "/repos/a/b/events?per_page=100"


def test_a_response_keeps_case_insensitive_headers_and_its_status() -> None:
    adapter = LeanAdapter(max_retries=0)
    request = prepare_get(f"{API}/x", HEADERS, base=f"{API}/")
    raw = urllib3.HTTPResponse(
        body=io.BytesIO(b"{}"),
        headers={"ETag": '"e"', "X-RateLimit-Remaining": "12"},
        status=304,
        reason="Not Modified",
        preload_content=False,
    )
    response = adapter.build_response(request, raw)
    assert (response.status_code, response.reason, response.url) == (304, "Not Modified", f"{API}/x")
    assert response.headers["etag"] == '"e"'
    assert response.headers.get("x-ratelimit-remaining") == "12"
    assert response.raw is raw


class Recording(io.BytesIO):
    """A body that remembers how far it was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.furthest = 0

    def read(self, size: Any = -1) -> bytes:
        chunk = super().read(size)
        self.furthest = max(self.furthest, self.tell())
        return chunk

    def read1(self, size: Any = -1) -> bytes:
        chunk = super().read1(size)
        self.furthest = max(self.furthest, self.tell())
        return chunk


def test_a_redirect_body_is_read_within_the_cap(requests_mock: requests_mock.Mocker) -> None:
    cap = 1000
    body = Recording(b"x" * (cap * 200))
    requests_mock.get(
        f"{API}/repos/acme/api/events?per_page=100",
        status_code=301,
        headers={"Location": "/repositories/1/events?per_page=100"},
        body=body,
    )
    client = GitHubClient(
        session=new_session(pool_size=1),
        api_url=API,
        token=SecretStr("ghp_redirect_canary_0123456789"),
        budget=TokenBudget("fp", reserve=0, max_concurrent=1),
        deadline=Deadline(60),
        policy=RetryPolicy(attempts=1),
        sleep=lambda _: None,
        max_body_bytes=cap,
    )
    with pytest.raises(GitHubTemporaryError, match="larger than"):
        list(client.iter_pages("/repos/acme/api/events", etag=None))
    assert body.furthest <= cap + CHUNK_BYTES
