"""The cost model behind ``painchain-gh plan`` (pure): checked against the code it models (the pacer, the
sweep, the due rule) and against its own promises (what it suggests does fit)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from painchain_gh.cursor import RepoState
from painchain_gh.github.pacing import Pacer
from painchain_gh.plan.sizing import (
    ACTIVE_ENRICHMENT,
    FIRST_SYNC_ENRICHMENT,
    GITHUB_POINTS_PER_MINUTE,
    SAFE_POINTS_PER_MINUTE,
    Load,
    Portion,
    Schedule,
    Streams,
    demand,
    dry_spell,
    first_sync_cost,
    hourly_counted,
    poll_cost,
    polls_every,
    process_load,
    run_budget,
    size,
    sweep_share,
)
from painchain_gh.streams.poll import PollSettings, is_due
from painchain_gh.streams.sweep import sweep_due

QUIET = Schedule(active=0.0)


def load(repositories: int, *, points: int = 600, image_owners: int = 0, listing_pages: int = 0) -> Load:
    portion = Portion(repositories, image_owners=image_owners, listing_pages=listing_pages)
    return Load((portion,), points_per_minute=points, hourly_limit=5000)


@pytest.mark.parametrize("every", [30, 57, 60, 90, 300])
@pytest.mark.parametrize("interval", [0, 120, 300, 600])
def test_polls_every_follows_the_due_rule_of_a_sync(every: int, interval: int) -> None:
    settings = PollSettings(initial_lookback=0)
    state = RepoState(last_polled_at=0, poll_interval=60)  # GitHub's usual X-Poll-Interval
    runs = next(run for run in range(1, 100) if is_due(state, interval=interval, now=run * every, settings=settings))
    assert polls_every(interval, Schedule(every=every)) == runs


@pytest.mark.parametrize(("period", "sweep"), [(60, 900), (300, 900), (60, 300), (120, 1800), (900, 900)])
def test_the_sweep_share_is_what_the_sweep_rule_does_over_many_repositories(period: int, sweep: int) -> None:
    reads = polls = 0
    for index in range(400):
        key = f"-/gh-1/acme/repo-{index}"
        read_at = 0
        for poll in range(1, 200):
            now = poll * period
            polls += 1
            if sweep_due(read_at, key=key, now=now, interval=sweep):
                reads += 1
                read_at = now
    assert sweep_share(period, sweep) == pytest.approx(reads / polls, abs=0.01)


def test_a_run_budget_is_what_the_pacer_lets_through_before_the_deadline() -> None:
    now = [0.0]
    pacer = Pacer(600, 60.0, clock=lambda: now[0])
    sent = 0
    while pacer.reserve(1) <= 50.0:  # each request starts at its wait; a run ends at --max-runtime 50s
        sent += 1
    assert run_budget(600, Schedule(every=60, max_runtime=50)) == pytest.approx(sent, abs=1)


def test_a_run_budget_is_also_bounded_by_its_requests_in_flight() -> None:
    schedule = Schedule(every=60, max_runtime=50, per_token_concurrency=2, latency=1.0)
    assert run_budget(600, schedule) == 100  # 2 at a time for 50 s, a second each
    assert run_budget(600, replace(schedule, max_runtime=120)) == 120  # never past the next run


def test_a_quiet_repository_costs_one_request_a_poll_and_its_sweeps() -> None:
    assert poll_cost(Streams(), 60, replace(QUIET, sweep_interval=0)) == 3  # no sweep interval: every stream
    assert poll_cost(Streams(runs=False, deployments=False), 60, QUIET) == 1
    assert poll_cost(Streams(), 60, QUIET) == pytest.approx(1 + 2 * sweep_share(60, 900))
    assert poll_cost(Streams(events=False), 60, QUIET) == 2  # nothing signals activity: read every time


def test_activity_adds_its_reads_and_enrichment() -> None:
    busy = Schedule(active=1.0)
    # events, runs after the activity and at each poll of the 5 minutes the run is in progress, deployments,
    # enrichment
    assert poll_cost(Streams(), 60, busy) == 1 + (1 + 5) + 1 + ACTIVE_ENRICHMENT
    assert poll_cost(Streams(), 300, busy) == 1 + (1 + 1) + 1 + ACTIVE_ENRICHMENT


def test_the_active_share_grows_with_the_poll_period() -> None:
    schedule = Schedule(active=0.05, active_per=300)
    assert schedule.active_share(300) == pytest.approx(0.05)
    assert schedule.active_share(600) == pytest.approx(1 - 0.95**2)
    assert schedule.active_share(60) < 0.05 / 4
    assert schedule.recent_share == pytest.approx(1 - 0.95**12)  # --backfill-details 1h
    assert replace(schedule, recent=0.2).recent_share == 0.2


def test_a_load_within_its_budget_fits_and_keeps_every_repository_fresh() -> None:
    sizing = size(load(100), Schedule())
    assert sizing.fits and sizing.needs is None
    assert sizing.fresh == 100
    assert sizing.stalest == sizing.polled_every == 60
    assert sizing.requests_per_run == pytest.approx(demand(load(100), Schedule()))
    assert sizing.points_per_minute == pytest.approx(sizing.requests_per_run)


def test_a_load_over_its_budget_says_how_many_stay_fresh_and_how_stale_the_rest_get() -> None:
    schedule = Schedule()
    heavy = load(1000)
    sizing = size(heavy, schedule)
    assert not sizing.fits
    assert 0 < sizing.fresh < 1000
    assert sizing.fresh * sizing.requests_per_run / 1000 <= sizing.budget_per_run
    runs = round(sizing.stalest / schedule.every)
    assert runs > 1
    assert demand(heavy, schedule, stretch=runs) <= sizing.budget_per_run < demand(heavy, schedule, stretch=runs - 1)


def test_what_it_suggests_does_fit() -> None:
    schedule = Schedule()
    heavy = load(1000)
    needs = size(heavy, schedule).needs
    assert needs is not None
    assert needs.credentials == math.ceil(demand(heavy, schedule) / run_budget(600, schedule))
    share = Load((Portion(math.ceil(1000 / needs.credentials)),), points_per_minute=600, hourly_limit=5000)
    assert size(share, schedule).fits
    assert needs.schedule is not None
    every, runtime = needs.schedule
    assert size(heavy, replace(schedule, every=every, max_runtime=runtime)).fits
    assert every == 180 and not size(heavy, replace(schedule, every=120, max_runtime=110)).fits


def test_a_longer_deadline_or_a_larger_budget_is_suggested_only_when_it_fits() -> None:
    schedule = Schedule(every=300, max_runtime=50)
    middle = load(300)
    needs = size(middle, schedule).needs
    assert needs is not None and needs.max_runtime is not None and needs.points_per_minute is not None
    assert size(middle, replace(schedule, max_runtime=needs.max_runtime)).fits
    assert not size(middle, replace(schedule, max_runtime=needs.max_runtime - 1)).fits
    assert needs.points_per_minute <= SAFE_POINTS_PER_MINUTE
    assert size(replace(middle, points_per_minute=needs.points_per_minute), schedule).fits
    huge = size(load(10_000), schedule).needs
    assert huge is not None and huge.points_per_minute is None  # past what GitHub allows
    assert SAFE_POINTS_PER_MINUTE * 1.2 <= GITHUB_POINTS_PER_MINUTE


def test_the_hourly_limit_counts_only_answers_that_are_not_304() -> None:
    assert hourly_counted(load(1000), QUIET) == 0  # a quiet repository only gets 304s
    busy = load(1000)
    counted = hourly_counted(busy, Schedule(every=300, max_runtime=290))
    assert counted == pytest.approx(1000 * 0.05 * 7 * 12)  # events, 2 runs, deployments, 3 enrichment
    sizing = size(busy, Schedule(every=300, max_runtime=290, active=0.2))
    assert not sizing.fits and sizing.requests_per_run <= sizing.budget_per_run  # the hour, not the minute
    assert sizing.needs is not None and sizing.needs.credentials == math.ceil(sizing.hourly_counted / 4900)
    assert sizing.stalest >= dry_spell(sizing.hourly_counted, 4900)


def test_the_first_sync_costs_each_stream_once_and_the_recent_history() -> None:
    schedule = Schedule(recent=0.1)
    assert first_sync_cost(load(1000), schedule) == math.ceil(1000 * (3 + 0.1 * FIRST_SYNC_ENRICHMENT))
    assert first_sync_cost(load(10, image_owners=1, listing_pages=1), schedule) == math.ceil(10 * 4.1 + 2)
    sizing = size(load(1000), schedule)
    assert sizing.first_sync_runs == math.ceil(sizing.first_sync_requests / sizing.budget_per_run)
    assert sizing.first_sync_seconds == sizing.first_sync_runs * 60  # within the hour's 4,900
    long = size(load(10_000), schedule)
    assert long.first_sync_seconds == (math.ceil(long.first_sync_requests / 4900) - 1) * 3600  # the hour waits


def test_listing_is_counted_per_shard_and_outside_the_pacer() -> None:
    listed = load(1000, listing_pages=10)
    sizing = size(listed, Schedule(shards=4))
    assert sizing.listing_per_run == 40
    assert sizing.requests_per_run == pytest.approx(size(load(1000), Schedule(shards=4)).requests_per_run)
    assert sizing.peak_points_per_minute == pytest.approx(600 * 1.2 + 40)


def test_shards_share_each_credential_and_only_help_the_process() -> None:
    schedule = Schedule(concurrency=4, latency=1.0, max_runtime=50)  # 200 requests a run per process
    sizings = [size(load(100), schedule) for _ in range(4)]
    process = process_load(sizings, schedule)
    assert process.shards_needed == math.ceil(sum(s.requests_per_run for s in sizings) / 200)
    assert process.concurrency_needed == math.ceil(process.requests_per_run / 50)  # a slot carries 50 a run
    assert process_load(sizings, replace(schedule, concurrency=process.concurrency_needed)).shards_needed is None
    sharded = replace(schedule, shards=process.shards_needed)
    assert process_load([size(load(100), sharded) for _ in range(4)], sharded).shards_needed is None
    assert size(load(1000), sharded).budget_per_run == size(load(1000), schedule).budget_per_run
    assert size(load(100), replace(schedule, shards=8, per_token_concurrency=16)).in_flight == 16


@given(
    repositories=st.integers(min_value=0, max_value=50_000),
    points=st.integers(min_value=1, max_value=5000),
    every=st.sampled_from([30.0, 60.0, 120.0, 300.0, 900.0]),
    active=st.floats(min_value=0, max_value=1),
)
def test_figures_stay_within_their_bounds(repositories: int, points: int, every: float, active: float) -> None:
    schedule = Schedule(every=every, max_runtime=every - 10, active=active)
    sizing = size(load(repositories, points=points), schedule)
    assert 0 <= sizing.fresh <= repositories
    assert sizing.stalest >= every
    assert sizing.fits == (sizing.needs is None)
    assert sizing.fits or (sizing.needs is not None and sizing.needs.credentials >= 2)
    if repositories:
        assert sizing.requests_per_run >= repositories / polls_every(0, schedule)  # at least the events
    assert size(load(repositories + 100, points=points), schedule).requests_per_run >= sizing.requests_per_run
