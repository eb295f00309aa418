"""Both clients against hostile answers (requests-mock): size caps, odd JSON, origins, redirects, clamps, secrets."""

from __future__ import annotations

import time

import pytest
import requests
import requests_mock
from pydantic import SecretStr

from painchain_gh.backend import BackendClient
from painchain_gh.errors import (
    BackendAuthError,
    BackendError,
    BackendRejected,
    BackendTemporaryError,
    GitHubAuthError,
    GitHubError,
    GitHubRateLimited,
    GitHubRepoError,
    GitHubTemporaryError,
)
from painchain_gh.github.client import MAX_ETAG_LENGTH, GitHubClient, TokenBudget, usable_etag
from painchain_gh.http import DEADLINE_MARGIN, Deadline, RetryPolicy, parse_retry_after

API = "https://api.github.com"
EVENTS = f"{API}/repos/acme/api/events?per_page=100"
BACKEND = "http://backend.test/api"
TOKEN = "ghp_transport_canary_token_0123456789"
BACKEND_TOKEN = "pcb_transportCANARY987654321"


def github(
    *, token: str | None = TOKEN, max_body_bytes: int = 10_000, runtime: float = 60, reserve: int = 0
) -> tuple[GitHubClient, list[float]]:
    sleeps: list[float] = []
    client = GitHubClient(
        session=requests.Session(),
        api_url=API,
        token=SecretStr(token) if token is not None else None,
        budget=TokenBudget("fp", reserve=reserve, max_concurrent=2),
        deadline=Deadline(runtime),
        policy=RetryPolicy(attempts=3, base_delay=0.01),
        sleep=sleeps.append,
        max_body_bytes=max_body_bytes,
    )
    return client, sleeps


def backend(
    *, token: str | None = BACKEND_TOKEN, max_body_bytes: int = 10_000, runtime: float = 60
) -> tuple[BackendClient, list[float]]:
    sleeps: list[float] = []
    client = BackendClient(
        session=requests.Session(),
        base_url=BACKEND,
        token=SecretStr(token) if token is not None else None,
        deadline=Deadline(runtime),
        policy=RetryPolicy(attempts=3, base_delay=0.01),
        sleep=sleeps.append,
        max_body_bytes=max_body_bytes,
    )
    return client, sleeps


def pages(client: GitHubClient, etag: str | None = None) -> list[object]:
    return list(client.iter_pages("/repos/acme/api/events", etag=etag))


def no_piece_of(secret: str, text: str, size: int = 8) -> bool:
    """Whether no ``size``-character piece of ``secret`` shows in ``text``."""
    return all(secret[i : i + size] not in text for i in range(len(secret) - size + 1))


# -- bounded bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize("announce", [True, False])
def test_github_body_over_the_cap_fails_that_request_without_retrying(
    requests_mock: requests_mock.Mocker, announce: bool
) -> None:
    body = b"[" + b"1," * 6000 + b"1]"
    headers = {"Content-Length": str(len(body))} if announce else {}
    requests_mock.get(EVENTS, content=body, headers=headers)
    client, sleeps = github(max_body_bytes=10_000)
    with pytest.raises(GitHubTemporaryError, match=r"larger than 10000 bytes; not read"):
        pages(client)
    assert requests_mock.call_count == 1 and sleeps == []


def test_backend_body_over_the_cap_fails_that_request(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{BACKEND}/integrations", content=b"[" + b"{}," * 5000 + b"{}]")
    with pytest.raises(BackendError, match="larger than 10000 bytes"):
        backend()[0].list_integrations()


def test_a_body_just_under_the_cap_is_read(requests_mock: requests_mock.Mocker) -> None:
    body = b"[" + b" " * 9_990 + b"]"
    requests_mock.get(EVENTS, content=body)
    assert [page.items for page in pages(github(max_body_bytes=len(body))[0])] == [[]]  # type: ignore[attr-defined]


def test_deeply_nested_json_is_an_invalid_body_for_both_clients(requests_mock: requests_mock.Mocker) -> None:
    nested = b"[" * 200_000
    requests_mock.get(EVENTS, content=nested)
    requests_mock.get(f"{API}/repos/acme/api/pulls/1", content=nested)
    requests_mock.get(f"{BACKEND}/integrations", content=nested)
    requests_mock.get(f"{BACKEND}/integrations/x", content=nested)
    client, _ = github(max_body_bytes=1_000_000)
    with pytest.raises(GitHubTemporaryError, match="not JSON"):
        pages(client)
    assert client.get_object("/repos/acme/api/pulls/1") is None
    assert client.probe("/repos/acme/api/pulls/1").body == {}
    with pytest.raises(BackendError, match="not JSON"):
        backend(max_body_bytes=1_000_000)[0].list_integrations()
    with pytest.raises(BackendError, match="not JSON"):
        backend(max_body_bytes=1_000_000)[0].get_integration("x")


def test_a_page_with_more_items_than_asked_for_is_rejected(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, json=[{"id": str(n)} for n in range(101)])
    with pytest.raises(GitHubTemporaryError, match="101 items, more than the 100 asked for"):
        pages(github(max_body_bytes=100_000)[0])


# -- origins: Link and redirects -----------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "http://api.github.com/repositories/1/events?page=2",  # https -> http on the same host
        "https://api.github.com:8443/repositories/1/events?page=2",  # another port
        "https://evil.example.net/x?page=2",  # another host
    ],
)
def test_next_link_to_another_origin_is_not_followed(requests_mock: requests_mock.Mocker, link: str) -> None:
    requests_mock.get(EVENTS, json=[{"id": "1"}], headers={"Link": f'<{link}>; rel="next"'})
    with pytest.raises(GitHubTemporaryError, match="another host or scheme"):
        pages(github()[0])
    assert requests_mock.call_count == 1


def test_relative_and_default_port_next_links_stay_within_the_origin(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, json=[{"id": "2"}], headers={"Link": '</repositories/1/events?page=2>; rel="next"'})
    page3 = "https://API.github.com:443/repositories/1/events?page=3"
    requests_mock.get(
        f"{API}/repositories/1/events?page=2", json=[{"id": "1"}], headers={"Link": f'<{page3}>; rel="next"'}
    )
    requests_mock.get(page3, json=[])
    assert [len(page.items) for page in pages(github()[0])] == [1, 1, 0]  # type: ignore[attr-defined]


def test_same_origin_redirects_are_followed_with_the_token(requests_mock: requests_mock.Mocker) -> None:
    moved = f"{API}/repositories/42/events?per_page=100"
    requests_mock.get(EVENTS, status_code=301, headers={"Location": "/repositories/42/events?per_page=100"})
    requests_mock.get(moved, json=[{"id": "1"}])
    assert [page.items for page in pages(github()[0])] == [[{"id": "1"}]]  # type: ignore[attr-defined]
    assert requests_mock.last_request is not None
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "location", ["http://api.github.com/repositories/42/events", "https://evil.example.net/x", "//evil.example.net/x"]
)
def test_redirects_to_another_origin_are_not_followed(requests_mock: requests_mock.Mocker, location: str) -> None:
    requests_mock.get(EVENTS, status_code=302, headers={"Location": location})
    with pytest.raises(GitHubRepoError, match=r"redirected .*\(302\) to another host or scheme"):
        pages(github()[0])
    assert requests_mock.call_count == 1


def test_redirect_loops_are_bounded(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, status_code=307, headers={"Location": EVENTS})
    with pytest.raises(GitHubRepoError, match="more than 3 times"):
        pages(github()[0])
    assert requests_mock.call_count == 4


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_backend_redirects_are_failures_and_never_followed(requests_mock: requests_mock.Mocker, status: int) -> None:
    requests_mock.post(
        f"{BACKEND}/events", status_code=status, headers={"Location": "http://elsewhere.test/api/events"}
    )
    elsewhere = requests_mock.post("http://elsewhere.test/api/events", status_code=201, json={})
    client, sleeps = backend()
    with pytest.raises(
        BackendTemporaryError, match=rf"redirect \({status} to http://elsewhere.test:80\); not followed"
    ):
        client.post_event({"title": "t"}, tenant_id="tenant-a")
    assert not elsewhere.called and requests_mock.call_count == 1 and sleeps == []


# -- headers that cannot be sent -----------------------------------------------------------------


@pytest.mark.parametrize("token", ["ghp_tökén☃", "ghp_line\r\nX-Injected: 1", "ghp_tab\t"])
def test_a_token_that_cannot_be_a_header_is_an_auth_error_not_a_crash(
    requests_mock: requests_mock.Mocker, token: str
) -> None:
    requests_mock.get(EVENTS, json=[])
    with pytest.raises(GitHubAuthError, match="cannot be sent in an HTTP header"):
        pages(github(token=token)[0])
    with pytest.raises(BackendAuthError, match="cannot be sent in an HTTP header"):
        backend(token=token)[0].list_integrations()
    assert requests_mock.call_count == 0


def test_a_tenant_id_that_cannot_be_a_header_rejects_that_request(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.post(f"{BACKEND}/events", status_code=201, json={})
    with pytest.raises(BackendRejected, match="x-tenant-id"):
        backend()[0].post_event({"title": "t"}, tenant_id="tenant-☃")
    assert requests_mock.call_count == 0


def test_etags_are_opaque_bounded_and_never_hold_a_secret(requests_mock: requests_mock.Mocker) -> None:
    assert usable_etag('W/"abc"') == 'W/"abc"'
    assert usable_etag("x" * (MAX_ETAG_LENGTH + 1)) is None
    assert usable_etag('W/"\x1b[31m"') is None
    assert usable_etag('W/"é"') is None
    assert usable_etag(f'W/"{TOKEN}"', secret_values=[TOKEN]) is None
    requests_mock.get(EVENTS, json=[], headers={"ETag": f'W/"{TOKEN}"'})
    client, _ = github()
    assert [page.etag for page in pages(client, etag='W/"\u2603"')] == [None]  # type: ignore[attr-defined]
    assert requests_mock.last_request is not None
    assert "If-None-Match" not in requests_mock.last_request.headers


# -- what servers say is clamped -----------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [("9999999999", 3600), ("-5", 0), ("60", 60), ("1e9", None)])
def test_poll_interval_is_capped_at_an_hour(
    requests_mock: requests_mock.Mocker, header: str, expected: int | None
) -> None:
    requests_mock.get(EVENTS, json=[], headers={"X-Poll-Interval": header})
    assert [page.poll_interval for page in pages(github()[0])] == [expected]  # type: ignore[attr-defined]


@pytest.mark.parametrize("reset", ["99999999999999", "-1", str(10**25)])
def test_far_or_odd_rate_limit_resets_are_clamped_before_formatting(
    requests_mock: requests_mock.Mocker, reset: str
) -> None:
    requests_mock.get(EVENTS, json=[], headers={"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": reset})
    client, _ = github(reserve=100)
    pages(client)
    with pytest.raises(GitHubRateLimited, match=r"until \d{4}-\d\d-\d\dT") as raised:
        pages(client)
    assert client.budget.reset is not None and time.time() - 5 <= client.budget.reset <= time.time() + 7200
    assert "Traceback" not in str(raised.value)


def test_primary_limit_with_a_far_reset_stops_the_token_with_a_sane_time(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(
        EVENTS,
        status_code=403,
        json={"message": "API rate limit exceeded"},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "253402300800000"},
    )
    with pytest.raises(GitHubRateLimited, match="exhausted until 20"):
        pages(github()[0])


@pytest.mark.parametrize(
    ("value", "expected"), [("40", 40.0), ("1e308", 3600.0), ("-3", 0.0), ("nan", None), ("x", None)]
)
def test_retry_after_is_clamped(value: str, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_a_huge_retry_after_gives_up_at_once_instead_of_waiting(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, status_code=429, headers={"Retry-After": "1e308"})
    client, sleeps = github(runtime=3000)
    with pytest.raises(GitHubRateLimited, match="asked to wait 3600s"):
        pages(client)
    assert sleeps == []


# -- one retry loop, one margin ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["github", "backend"])
def test_both_clients_use_the_same_deadline_margin(requests_mock: requests_mock.Mocker, which: str) -> None:
    """A Retry-After that fits the deadline but not the margin is not waited for, by either client."""
    runtime = 10.0
    too_long = str(runtime - DEADLINE_MARGIN / 2)
    fits = str(runtime - DEADLINE_MARGIN * 2)
    requests_mock.get(
        EVENTS,
        [
            {"status_code": 503, "headers": {"Retry-After": fits}},
            {"status_code": 503, "headers": {"Retry-After": too_long}},
        ],
    )
    requests_mock.get(
        f"{BACKEND}/integrations",
        [
            {"status_code": 503, "headers": {"Retry-After": fits}},
            {"status_code": 503, "headers": {"Retry-After": too_long}},
        ],
    )
    if which == "github":
        client, sleeps = github(runtime=runtime)
        with pytest.raises(GitHubTemporaryError, match="503"):
            pages(client)
    else:
        other, sleeps = backend(runtime=runtime)
        with pytest.raises(BackendTemporaryError, match="503"):
            other.list_integrations()
    assert sleeps == [float(fits)]
    assert requests_mock.call_count == 2


# -- secrets and text in messages ----------------------------------------------------------------


def test_github_messages_are_scrubbed_before_they_are_cut_and_escaped(requests_mock: requests_mock.Mocker) -> None:
    for padding in range(280, 300):  # the token straddles the cut wherever it falls
        requests_mock.get(
            EVENTS,
            status_code=404,
            json={"message": "\x1b[31m" + "x" * padding + TOKEN + "\r\nforged line"},
            headers={"X-GitHub-Request-Id": f"AB:{TOKEN}\x1b]0;t\x07"},
        )
        with pytest.raises(GitHubRepoError) as raised:
            pages(github()[0])
        text = str(raised.value)
        assert no_piece_of(TOKEN, text), text
        assert "\x1b" not in text and "\r" not in text and "\n" not in text
        assert text.startswith("GitHub answered 404 for /repos/acme/api/events: \\x1b[31mxxx")


def test_backend_details_are_scrubbed_before_they_are_cut(requests_mock: requests_mock.Mocker) -> None:
    for padding in range(280, 300):
        requests_mock.post(
            f"{BACKEND}/events", status_code=400, text="\x1b[2J" + "y" * padding + f"Bearer {BACKEND_TOKEN}\r\n"
        )
        with pytest.raises(BackendRejected) as raised:
            backend()[0].post_event({"title": "t"}, tenant_id=None)
        text = str(raised.value)
        assert no_piece_of(BACKEND_TOKEN, text), text
        assert "\x1b" not in text and "\r" not in text and "\\x1b[2J" in text


def test_probe_scrubs_and_escapes_everything_it_reports(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(
        f"{API}/user",
        json={"login": f"eve{TOKEN}\x1b[2J", "id": 1},
        headers={"X-OAuth-Scopes": f"repo, {TOKEN}\r\n", "X-RateLimit-Remaining": "10", "X-RateLimit-Limit": "60"},
    )
    requests_mock.get(
        f"{API}/repos/acme/gone",
        status_code=404,
        json={"message": f"no {TOKEN}"},
        headers={"X-GitHub-Request-Id": TOKEN},
    )
    client, _ = github()
    probe = client.probe("/user")
    assert probe.ok and probe.body["login"] == "eve***\\x1b[2J"
    assert probe.scopes == "repo, ***\\x0d\\x0a"
    failed = client.probe("/repos/acme/gone")
    assert not failed.ok and TOKEN not in failed.detail and failed.detail.count("***") == 2


@pytest.mark.parametrize("api_url", ["http://", "https://exa mple.com:99999", "http://[::1"])
def test_an_unusable_api_url_is_a_known_error(requests_mock: requests_mock.Mocker, api_url: str) -> None:
    client = GitHubClient(
        session=requests.Session(),
        api_url=api_url,
        token=SecretStr(TOKEN),
        budget=TokenBudget("fp", reserve=0, max_concurrent=1),
        deadline=Deadline(60),
        policy=RetryPolicy(attempts=2, base_delay=0),
        sleep=lambda seconds: None,
    )
    with pytest.raises(GitHubError):
        pages(client)


def test_unparsable_links_and_locations_are_refused(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, json=[{"id": "1"}], headers={"Link": '<http://[::1/x>; rel="next"'})
    with pytest.raises(GitHubTemporaryError, match="an unusable URL"):
        pages(github()[0])
    requests_mock.get(EVENTS, status_code=301, headers={"Location": "http://[::1/x"})
    with pytest.raises(GitHubRepoError, match=r"not parsed|an unusable URL"):
        pages(github()[0])
    requests_mock.get(f"{BACKEND}/integrations", status_code=302, headers={"Location": "http://[::1/x"})
    with pytest.raises(BackendTemporaryError, match=r"not parsed|an unusable URL"):
        backend()[0].list_integrations()
