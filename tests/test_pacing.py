"""A credential's pace (painchain_gh/pacing.py, ``TokenBudget`` in painchain_gh/github.py): how long its callers
waited, a secondary limit that holds every caller, the lowest points per minute asked; on a clock the test moves."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from painchain_gh.errors import GitHubRateLimited
from painchain_gh.github.client import TokenBudget, secondary_limit_wait, token_fingerprint
from painchain_gh.github.pacing import Pacer
from painchain_gh.http import Deadline
from painchain_gh.sync import lowest_asks
from tests.doubles import TOKEN, integration, jobs_of


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_waited_is_the_time_someone_waited_not_the_sum_over_callers() -> None:
    clock = Clock()
    pacer = Pacer(10, 10.0, clock=clock)  # 1 point a second, a burst of 1
    waits = [pacer.reserve(1) for _ in range(5)]
    assert waits == [0.0, 0.0, 1.0, 2.0, 3.0]  # the sum is 6 s; the callers waited side by side for 3 s
    clock.now = 10.0
    assert pacer.waited == 3.0
    assert pacer.spent == 5


def test_waited_counts_only_what_has_passed_and_separate_waits_add_up() -> None:
    clock = Clock()
    pacer = Pacer(10, 10.0, clock=clock)
    for _ in range(4):
        pacer.reserve(1)  # the last caller waits until t=2
    clock.now = 1.5
    assert pacer.waited == 1.5  # a wait still going on counts up to now
    clock.now = 20.0  # the budget is full again: nobody waits ...
    assert pacer.reserve(1) == 0.0
    pacer.hold(4.0)  # ... until a secondary limit holds every caller
    assert pacer.reserve(1) == 4.0
    clock.now = 30.0
    assert pacer.waited == 2.0 + 4.0


def test_a_cancelled_reservation_gives_its_points_back() -> None:
    clock = Clock()
    pacer = Pacer(10, 10.0, clock=clock)
    for _ in range(3):
        pacer.reserve(1)
    pacer.cancel(1)
    assert pacer.spent == 2
    assert pacer.reserve(1) == 1.0  # the third point is due at t=1 again, not t=2


def budget_on(clock: Clock, points: int = 10) -> tuple[TokenBudget, Pacer]:
    """A token's budget of ``points`` per 10 s on the test's clock."""
    pacer = Pacer(points, 10.0, clock=clock)
    return TokenBudget("fp", reserve=0, max_concurrent=1, pacer=pacer), pacer


def test_a_hold_that_comes_while_a_request_waits_for_its_turn_makes_it_wait_for_the_hold() -> None:
    clock = Clock()
    budget, pacer = budget_on(clock)
    for _ in range(2):
        pacer.reserve(1)  # the burst is spent: the next request waits 1 s
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 1:
            pacer.hold(5.0)  # another request was answered with a secondary limit meanwhile
        clock.now += seconds

    budget.pace(1, deadline=Deadline(60, clock=clock), sleep=sleep)
    assert slept == [1.0, 4.0] and clock.now == 5.0  # its turn, then the rest of the hold; sent as it ends
    assert pacer.spent == 3


def test_a_token_given_up_while_a_request_waits_sends_nothing_more() -> None:
    clock = Clock()
    budget, pacer = budget_on(clock)
    for _ in range(2):
        pacer.reserve(1)

    def sleep(seconds: float) -> None:
        budget.stop("secondary rate limit hit (GitHub asked to wait 60s)")
        clock.now += seconds

    with pytest.raises(GitHubRateLimited, match="secondary rate limit"):
        budget.pace(1, deadline=Deadline(60, clock=clock), sleep=sleep)
    assert pacer.spent == 2  # its point given back


class HeldOnEntry:
    """A process slot whose first taker finds the token held (a limit answered while it waited for it)."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self.entered = 0

    def __enter__(self) -> bool:
        self.entered += 1
        if self.entered == 1:
            self.pacer.hold(3.0)
        return True

    def __exit__(self, *_: object) -> None:
        return None


def test_a_request_that_finds_its_token_held_when_it_gets_its_slot_waits_for_the_hold() -> None:
    clock = Clock()
    budget, pacer = budget_on(clock)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    slots = HeldOnEntry(pacer)
    sent: list[float] = []
    with budget.turn(1, slots, deadline=Deadline(60, clock=clock), sleep=sleep):
        sent.append(clock.now)
    assert slots.entered == 2 and slept == [3.0] and sent == [3.0]
    assert pacer.spent == 1


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        (403, {"Retry-After": "30"}, 30.0),
        (429, {}, 60.0),  # GitHub: without Retry-After, wait at least a minute
        (429, {"Retry-After": "0"}, 0.0),
        (403, {}, None),  # a plain refusal (or a limit said only in the body: classify finds it)
        (403, {"Retry-After": "30", "X-RateLimit-Remaining": "0"}, None),  # the primary limit
        (200, {"Retry-After": "30"}, None),
    ],
)
def test_a_secondary_limit_is_known_from_its_headers(status: int, headers: dict[str, str], wait: float | None) -> None:
    assert secondary_limit_wait(status, headers) == wait


def test_a_credentials_budget_starts_at_the_lowest_ask_of_its_integrations() -> None:
    jobs = jobs_of(
        integration("acme/a", identifier="plain"),
        integration("acme/b", identifier="careful", pointsPerMinute=120),
        integration("acme/c", identifier="modest", pointsPerMinute=300),
        integration("acme/d", identifier="other", token="ghp_other", pointsPerMinute=450),
        integration("acme/e", identifier="silent", token="ghp_silent"),
    )
    asks = lowest_asks(jobs, credential=lambda job: token_fingerprint(job.integration.config.token))
    assert asks == {token_fingerprint(SecretStr(TOKEN)): 120, token_fingerprint(SecretStr("ghp_other")): 450}
