"""How long a credential's callers waited for its pace (painchain_gh/pacing.py), on a clock the test moves."""

from __future__ import annotations

from painchain_gh.pacing import Pacer


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
