"""The GitHub client against requests-mock: headers, 304, pagination, limits, errors."""

from __future__ import annotations

import pytest
import requests
import requests_mock
from pydantic import SecretStr

from painchain_gh.errors import GitHubAuthError, GitHubRateLimited, GitHubRepoError, GitHubTemporaryError
from painchain_gh.github.client import GitHubClient, TokenBudget, Verdict, classify
from painchain_gh.http import Deadline, RetryPolicy

API = "https://api.github.com"
EVENTS = f"{API}/repos/acme/api/events?per_page=100"


def client(*, reserve: int = 0, sleeps: list[float] | None = None, runtime: float = 60) -> GitHubClient:
    recorded = sleeps if sleeps is not None else []
    return GitHubClient(
        session=requests.Session(),
        api_url=API,
        token=SecretStr("ghp_test_token"),
        budget=TokenBudget("fp", reserve=reserve, max_concurrent=2),
        deadline=Deadline(runtime),
        policy=RetryPolicy(attempts=3, base_delay=0.01),
        sleep=recorded.append,
    )


def test_sends_documented_headers_and_if_none_match(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, status_code=304, headers={"X-RateLimit-Remaining": "4999"})
    pages = list(client().iter_pages("/repos/acme/api/events", etag='W/"abc"'))
    assert [page.status for page in pages] == [304]
    assert requests_mock.last_request is not None
    sent = requests_mock.last_request.headers
    assert sent["Authorization"] == "Bearer ghp_test_token"
    assert sent["Accept"] == "application/vnd.github+json"
    assert sent["X-GitHub-Api-Version"] == "2022-11-28"
    assert sent["If-None-Match"] == 'W/"abc"'
    assert sent["User-Agent"].startswith("painchain-gh/")


def test_follows_link_next_without_etag_and_counts_units(requests_mock: requests_mock.Mocker) -> None:
    page2 = f"{API}/repositories/1/events?per_page=100&page=2"
    requests_mock.get(EVENTS, json=[{"id": "2"}], headers={"Link": f'<{page2}>; rel="next"', "ETag": 'W/"p1"'})
    requests_mock.get(page2, json=[{"id": "1"}])
    github = client()
    pages = list(github.iter_pages("/repos/acme/api/events", etag=None))
    assert [page.items for page in pages] == [[{"id": "2"}], [{"id": "1"}]]
    assert pages[0].etag == 'W/"p1"'
    assert requests_mock.last_request is not None
    assert "If-None-Match" not in requests_mock.last_request.headers
    assert github.budget.units_spent == 2


def test_refuses_a_next_link_to_another_host(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, json=[], headers={"Link": '<https://evil.example.net/x?page=2>; rel="next"'})
    with pytest.raises(GitHubTemporaryError, match="another host"):
        list(client().iter_pages("/repos/acme/api/events", etag=None))


def test_retries_5xx_then_gives_up(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, [{"status_code": 502}, {"status_code": 503}, {"status_code": 500}])
    sleeps: list[float] = []
    with pytest.raises(GitHubTemporaryError):
        list(client(sleeps=sleeps).iter_pages("/repos/acme/api/events", etag=None))
    assert requests_mock.call_count == 3
    assert len(sleeps) == 2


def test_bad_credentials_stop_the_integration(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, status_code=401, json={"message": "Bad credentials"})
    with pytest.raises(GitHubAuthError, match="401"):
        list(client().iter_pages("/repos/acme/api/events", etag=None))


def test_not_found_is_a_repository_error(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, status_code=404, json={"message": "Not Found"}, headers={"X-GitHub-Request-Id": "AB:12"})
    with pytest.raises(GitHubRepoError, match=r"404.*Not Found.*AB:12"):
        list(client().iter_pages("/repos/acme/api/events", etag=None))


def test_primary_limit_stops_the_token(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(
        EVENTS,
        status_code=403,
        json={"message": "API rate limit exceeded"},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800000000"},
    )
    github = client()
    with pytest.raises(GitHubRateLimited, match="exhausted"):
        list(github.iter_pages("/repos/acme/api/events", etag=None))
    with pytest.raises(GitHubRateLimited):
        list(github.iter_pages("/repos/acme/api/events", etag=None))
    assert requests_mock.call_count == 1  # never hammer after a 403


def test_reserve_stops_spending_before_the_limit(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, json=[], headers={"X-RateLimit-Remaining": "50"})
    github = client(reserve=100)
    list(github.iter_pages("/repos/acme/api/events", etag=None))
    with pytest.raises(GitHubRateLimited, match="reserve"):
        list(github.iter_pages("/repos/acme/api/events", etag=None))
    assert requests_mock.call_count == 1


def test_secondary_limit_waits_as_asked_when_the_deadline_allows(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(
        EVENTS,
        [
            {
                "status_code": 403,
                "json": {"message": "You have exceeded a secondary rate limit"},
                "headers": {"Retry-After": "3"},
            },
            {"json": []},
        ],
    )
    sleeps: list[float] = []
    list(client(sleeps=sleeps).iter_pages("/repos/acme/api/events", etag=None))
    assert sleeps == [3.0]


def test_secondary_limit_beyond_the_deadline_stops_the_token(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(EVENTS, status_code=429, headers={"Retry-After": "120"})
    with pytest.raises(GitHubRateLimited, match="secondary"):
        list(client(runtime=30).iter_pages("/repos/acme/api/events", etag=None))


def test_classify_tells_rate_limits_from_permissions() -> None:
    assert classify(403, {"X-RateLimit-Remaining": "0"}, "") is Verdict.PRIMARY_LIMIT
    assert classify(403, {"X-RateLimit-Remaining": "10"}, "Resource not accessible") is Verdict.NOT_ACCESSIBLE
    assert classify(403, {}, "You have exceeded a secondary rate limit") is Verdict.SECONDARY_LIMIT
    assert classify(422, {}, "pagination is limited for this resource") is Verdict.END_OF_PAGES
    assert classify(304, {}, "") is Verdict.NOT_MODIFIED


def test_proxies_come_from_the_environment_once_and_respect_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from painchain_gh.http import proxies_for

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "ghe.example.com")
    assert proxies_for("https://api.github.com")["https"] == "http://proxy.internal:3128"
    assert "https" not in proxies_for("https://ghe.example.com/api/v3")


def test_reserve_is_at_most_a_tenth_of_a_small_limit(requests_mock: requests_mock.Mocker) -> None:
    """Anonymous callers have 60 requests an hour: a reserve of 100 must not stop them at once."""
    requests_mock.get(EVENTS, json=[], headers={"X-RateLimit-Remaining": "59", "X-RateLimit-Limit": "60"})
    github = client(reserve=100)
    list(github.iter_pages("/repos/acme/api/events", etag=None))
    list(github.iter_pages("/repos/acme/api/events", etag=None))
    assert requests_mock.call_count == 2
    assert github.budget.effective_reserve() == 6
