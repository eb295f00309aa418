"""The fake GitHub's secondary rate limits (tests/fakes/limits.py), through real HTTP on 127.0.0.1.

Requests in flight are counted with real threads held by the fake; points and windows with the
fake's injected clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import FakeGitHub, SecondaryLimits
from tests.fakes.limits import (
    CONCURRENCY,
    DOCUMENTATION_URL,
    POINTS,
    WHILE_LIMITED,
    SecondaryUsage,
    app_identity,
    installation_identity,
    points_of,
    token_identity,
)

TOKEN = "ghp_test_token"
OTHER = "ghp_other_token"
EVENTS = "/repos/acme/api/events"
NOW = 1_800_000_000.0


class Clock:
    """A clock the test moves (the fake's ``clock``)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gh(clock: Clock) -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.clock = clock
        server.add_repo("acme", "api")
        server.add_token(OTHER)
        yield server
    assert not server.errors


def get(gh: FakeGitHub, path: str = EVENTS, token: str | None = TOKEN, **headers: str) -> requests.Response:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(gh.url + path, headers={**auth, **headers}, timeout=5)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def held_requests(gh: FakeGitHub, tokens: list[str]) -> tuple[list[threading.Thread], list[int]]:
    """One thread per token, each sending one request that the fake holds until released."""
    statuses: list[int] = []
    gh.hold("GET", "/events")

    def send(token: str) -> None:
        statuses.append(get(gh, token=token).status_code)

    threads = [threading.Thread(target=send, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    wait_until(lambda: gh.held_count() == len(tokens))
    return threads, statuses


def release(gh: FakeGitHub, threads: list[threading.Thread]) -> None:
    gh.release()
    for thread in threads:
        thread.join(5)


# -- requests in flight --------------------------------------------------------------------------


def test_requests_in_flight_are_counted_per_identity_and_overall_without_enforcing(gh: FakeGitHub) -> None:
    gh.secondary = SecondaryLimits(max_concurrent=2)
    threads, statuses = held_requests(gh, [TOKEN, TOKEN, TOKEN, OTHER, OTHER])
    assert gh.secondary_usage.in_flight(gh.identity_of(TOKEN)) == 3
    assert gh.secondary_usage.in_flight() == 5
    release(gh, threads)
    assert sorted(statuses) == [200] * 5  # counted, not refused
    report = gh.secondary_usage.report()
    assert report.peak_in_flight == 5
    assert report.identities[token_identity(TOKEN)].peak_in_flight == 3
    assert report.identities[token_identity(OTHER)].peak_in_flight == 2
    assert report.peak_in_flight_per_identity == 3
    assert report.violations() == {CONCURRENCY: 1, POINTS: 0, WHILE_LIMITED: 0}  # the third of TOKEN's
    assert gh.secondary_usage.in_flight() == 0


def test_one_request_beyond_max_concurrent_is_refused_and_limits_the_identity(gh: FakeGitHub) -> None:
    gh.secondary = SecondaryLimits(enforce=True, max_concurrent=3)
    threads, statuses = held_requests(gh, [TOKEN] * 5 + [OTHER])
    release(gh, threads)
    assert sorted(statuses) == [200, 200, 200, 200, 403, 403]  # OTHER has its own limits
    usage = gh.secondary_usage.report().identities
    assert usage[token_identity(TOKEN)].violations == {CONCURRENCY: 1, WHILE_LIMITED: 1}
    assert usage[token_identity(OTHER)].violations == {}
    refused = get(gh)  # nothing in flight now, but the token is limited until Retry-After passes
    assert refused.status_code == 403 and refused.headers["Retry-After"] == "60"
    assert gh.secondary_usage.report().identities[token_identity(TOKEN)].violations[WHILE_LIMITED] == 2


# -- points and windows -------------------------------------------------------------------------------


def test_points_per_rolling_window_with_githubs_answer(gh: FakeGitHub, clock: Clock) -> None:
    gh.secondary = SecondaryLimits(enforce=True, points=3, window_seconds=10.0)
    statuses = []
    for at in (0.0, 5.0, 9.0, 10.0):  # at 10 the request of 0 has left the window (now - 10, now]
        clock.now = NOW + at
        statuses.append(get(gh).status_code)
    assert statuses == [200, 200, 200, 200]
    clock.now = NOW + 10.5  # 5, 9 and 10 are in the window
    refused = get(gh)
    assert refused.status_code == 403
    request_id = refused.headers["X-GitHub-Request-Id"]
    assert refused.json() == {
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
        f"If you reach out to GitHub Support for help, please include the request ID {request_id}.",
        "documentation_url": DOCUMENTATION_URL,
    }
    assert refused.headers["Retry-After"] == "10"  # GitHub's 60 s, scaled with the window
    assert refused.headers["X-RateLimit-Remaining"] == "4996"  # the primary counter, untouched by the refusal
    assert gh.secondary_usage.report().identities[token_identity(TOKEN)].violations == {POINTS: 1}


def test_a_post_costs_five_points_a_get_and_a_304_one(gh: FakeGitHub, clock: Clock) -> None:
    assert (points_of("GET", EVENTS), points_of("HEAD", EVENTS), points_of("OPTIONS", EVENTS)) == (1, 1, 1)
    assert [points_of(m, "/x") for m in ("POST", "PATCH", "PUT", "DELETE")] == [5, 5, 5, 5]
    assert points_of("POST", "/graphql") == 0  # GraphQL has its own budget (not modelled)
    gh.secondary = SecondaryLimits(enforce=True, points=8)
    etag = get(gh).headers["ETag"]
    assert get(gh, **{"If-None-Match": etag}).status_code == 304
    posted = requests.post(gh.url + "/repos/acme/api/issues", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert posted.status_code == 404  # answered: 1 + 1 + 5 = 7 points
    assert get(gh).status_code == 200  # 8
    assert get(gh).status_code == 403  # 9 > 8
    report = gh.secondary_usage.report().identities[token_identity(TOKEN)]
    assert (report.requests, report.points, report.peak_points) == (5, 9, 9)


def test_while_limited_every_request_gets_the_answer_and_is_counted(gh: FakeGitHub, clock: Clock) -> None:
    gh.secondary = SecondaryLimits(enforce=True, points=1, window_seconds=6.0, status=429)
    assert get(gh).status_code == 200
    first = get(gh)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "6")
    clock.now = NOW + 2.5
    later = [get(gh) for _ in range(3)]
    assert [(r.status_code, r.headers["Retry-After"]) for r in later] == [(429, "4")] * 3  # the time left
    assert "secondary rate limit" in later[0].json()["message"]
    assert get(gh, token=OTHER).status_code == 200  # another identity is not limited
    clock.now = NOW + 6.0  # Retry-After has passed, and the window holds nothing admitted since NOW
    assert get(gh).status_code == 200
    usage = gh.secondary_usage.report()
    assert usage.identities[token_identity(TOKEN)].violations == {POINTS: 1, WHILE_LIMITED: 3}
    assert usage.total_violations == 4
    assert len(gh.requests_to("GET", "/events")) == 7  # refused requests are logged with their status
    assert [r.status for r in gh.requests_to("GET", "/events")].count(429) == 4


def test_without_enforcing_nothing_is_refused_but_violations_and_peaks_are_counted(
    gh: FakeGitHub, clock: Clock
) -> None:
    gh.secondary = SecondaryLimits(points=2, window_seconds=60.0)
    assert [get(gh).status_code for _ in range(5)] == [200] * 5
    clock.now = NOW + 61  # a new window: the peak stays, the count goes on
    assert get(gh).status_code == 200
    usage = gh.secondary_usage.report()
    assert usage.identities[token_identity(TOKEN)].violations == {POINTS: 3}
    assert (usage.points, usage.peak_points, usage.requests) == (6, 5, 6)


def test_the_anonymous_caller_has_its_own_limits(gh: FakeGitHub) -> None:
    gh.secondary = SecondaryLimits(enforce=True, points=1)
    assert get(gh, token=None).status_code == 200
    assert get(gh, token=None).status_code == 403
    assert get(gh).status_code == 200
    assert gh.identity_of(None) == "anonymous"
    assert set(gh.secondary_usage.report().identities) == {"anonymous", token_identity(TOKEN)}


def test_clearing_counts_keeps_the_window_and_forgetting_clears_it(gh: FakeGitHub) -> None:
    gh.secondary = SecondaryLimits(enforce=True, points=2)
    assert [get(gh).status_code for _ in range(3)] == [200, 200, 403]
    gh.secondary_usage.clear_counts()
    assert gh.secondary_usage.report().total_violations == 0
    assert get(gh).status_code == 403  # still limited, the window still full
    gh.secondary_usage.forget()
    assert get(gh).status_code == 200
    assert gh.secondary_usage.report().identities[token_identity(TOKEN)].requests == 1


# -- GitHub Apps ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_installation_tokens_count_against_their_installation_and_the_mint_against_the_app(
    gh: FakeGitHub, clock: Clock, key: rsa.RSAPrivateKey
) -> None:
    gh.apps.add_app(42, key.public_key())
    gh.apps.add_listed_repo("acme", "api")
    installation = gh.apps.add_installation(42, "acme")
    signed = jwt.encode({"iss": "42", "iat": int(clock.now) - 60, "exp": int(clock.now) + 540}, key, "RS256")

    def mint() -> str:
        answer = requests.post(
            f"{gh.url}/app/installations/{installation.id}/access_tokens",
            headers={"Authorization": f"Bearer {signed}"},
            timeout=5,
        )
        assert answer.status_code == 201
        return str(answer.json()["token"])

    first, second = mint(), mint()
    assert first != second
    assert get(gh, token=first).status_code == get(gh, token=second).status_code == 200
    identities = gh.secondary_usage.report().identities
    ours = identities[installation_identity(installation.id)]
    assert (ours.requests, ours.points) == (2, 2)
    assert gh.identity_of(first) == gh.identity_of(second) == installation_identity(installation.id)
    app = identities[app_identity("42")]
    assert (app.requests, app.points) == (2, 10)  # two POSTs of 5 points


# -- the counter alone ------------------------------------------------------------------------------


def test_usage_counts_across_threads_exactly() -> None:
    usage = SecondaryUsage()
    limits = SecondaryLimits()

    def work() -> None:
        for _ in range(500):
            usage.arrive("token:a", 1, NOW, limits)
            usage.leave("token:a")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = usage.report()
    assert report.requests == 4000 and report.points == 4000 and usage.in_flight() == 0
    assert report.violations()[POINTS] == 4000 - 900  # all at one instant: only 900 fit the window
    assert 1 <= report.peak_in_flight <= 8
