"""The sweep rule: a quiet repository's runs and deployments are read once per sweep interval."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from painchain_gh.streams.sweep import sweep_due, sweep_phase

INTERVAL = 900


def sweeps(key: str, *, period: int, polls: int, first_read: int = 0) -> list[int]:
    """The poll times at which a quiet repository polled every ``period`` seconds is swept."""
    read_at, swept = first_read, []
    for poll in range(1, polls + 1):
        now = first_read + poll * period
        if sweep_due(read_at, key=key, now=now, interval=INTERVAL):
            swept.append(now)
            read_at = now
    return swept


def test_never_read_or_no_interval_is_always_due() -> None:
    assert sweep_due(None, key="k", now=0, interval=INTERVAL)
    assert sweep_due(100, key="k", now=100, interval=0)


@pytest.mark.parametrize("period", [60, 300, 420])
def test_a_quiet_repository_is_swept_once_per_interval_and_never_waits_longer(period: int) -> None:
    for index in range(50):
        swept = sweeps(f"-/gh/acme/repo-{index}", period=period, polls=3 * 3600 // period)
        gaps = [later - earlier for earlier, later in pairwise(swept)]
        assert all(gap <= INTERVAL + period for gap in gaps)  # seen within the interval plus one poll
        assert len(swept) <= 3 * 3600 // INTERVAL + 1  # one read per slot, no more


def test_a_read_after_activity_counts_for_its_slot() -> None:
    key = "-/gh/acme/api"
    phase = sweep_phase(key, INTERVAL)
    slot_start = 10 * INTERVAL + phase
    assert not sweep_due(slot_start + 60, key=key, now=slot_start + INTERVAL - 1, interval=INTERVAL)
    assert sweep_due(slot_start + 60, key=key, now=slot_start + INTERVAL, interval=INTERVAL)


def test_the_sweeps_of_many_repositories_spread_over_the_runs() -> None:
    runs: Counter[int] = Counter()
    for index in range(1500):
        for now in sweeps(f"-/gh/acme/repo-{index}", period=60, polls=60, first_read=0):
            runs[now] += 1
    per_run = [runs[minute * 60] for minute in range(16, 61)]  # after every first sweep
    assert max(per_run) < 2 * 1500 * 60 // INTERVAL  # about 100 a run, never all at once
    assert min(per_run) > 1500 * 60 // INTERVAL // 2
