"""What a configuration costs GitHub, and whether it fits its budget (pure: numbers in, numbers out).

``painchain-gh plan`` feeds this model with what each credential (a token, or an App installation)
polls; every assumption is a named constant or a field of :class:`Schedule`, and docs/sizing.md says
why each holds. In steady state a repository is polled once per poll period (the schedule, or longer:
its integration's ``polling.interval`` and GitHub's ``X-Poll-Interval``), and one poll costs:

- 1 conditional request for its events (a ``304`` when nothing moved);
- its workflow runs and deployments (1 conditional request each) at the sweep only
  (:mod:`painchain_gh.streams.sweep`: once per sweep interval, in slots shifted by a phase per
  repository), unless the repository is *active* (its events changed since its previous poll: a share that
  follows from the assumed activity and the poll period), which reads them at once and again while the
  workflow run it started is in progress, and enriches what is new.

A run may spend ``points * min(max_runtime, every) / 60`` plus the pacer's burst of each credential's
budget (:mod:`painchain_gh.github.pacing`: nothing is remembered between runs), and no more than its
requests in flight allow at the assumed latency. When the demand is larger, the fair rotation polls
the stalest repositories first: every repository is still polled, only less often.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from painchain_gh.github.pacing import BURST

# GitHub's documented limits ("Rate limits for the REST API"), per user or App installation.
GITHUB_POINTS_PER_MINUTE = 900  # secondary limit; a GET, a 304 included, costs 1 point
GITHUB_IN_FLIGHT = 100  # secondary limit: concurrent requests
TOKEN_HOURLY = 5000  # primary limit of a personal token (per user: its other tokens share it)
APP_HOURLY = 5000  # primary limit of an App installation, at least ...
APP_HOURLY_PER_REPOSITORY = 50  # ... plus this per repository above 20 ...
APP_HOURLY_FREE_REPOSITORIES = 20
APP_HOURLY_MAX = 12500  # ... up to this (15,000 on GitHub Enterprise Cloud)
SAFE_POINTS_PER_MINUTE = math.floor(GITHUB_POINTS_PER_MINUTE / (1 + 2 * BURST))  # two runs' bursts in one minute

# How the connector behaves (poll.is_due).
EVENTS_POLL_INTERVAL = 60.0  # GitHub's X-Poll-Interval for the Events API, as observed (it may ask more)
DUE_TOLERANCE = 5.0  # a repository is due this many seconds early

# Assumptions about what an active repository costs beyond its events request (measured: benchmarks/).
ACTIVE_RUNS_COUNTED = 2  # workflow-run reads that count: after the activity, and once the run it started completed
RUN_IN_PROGRESS = 300.0  # seconds a workflow run started by activity stays in progress (read at every poll meanwhile)
ACTIVE_DEPLOYMENTS = 1  # read after the activity
ACTIVE_ENRICHMENT = 3  # e.g. a push's compare, a pull request and its files, a failed run's jobs
FIRST_SYNC_ENRICHMENT = 11  # per repository with history inside --backfill-details (13-15 requests in all)
MAX_CONCURRENCY = 64  # the largest --concurrency sync takes
RUNTIME_MARGIN = 10.0  # seconds a run leaves before the next one starts (start-up, saving, the CronJob)
SCHEDULES = (60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)  # schedules worth suggesting
_MAX_STRETCH = 1_000_000  # runs: beyond this, a credential is said to never get round


@dataclass(frozen=True)
class Streams:
    """Which streams of a repository an integration reads (its ``config.events``)."""

    events: bool = True
    runs: bool = True
    deployments: bool = True

    @property
    def count(self) -> int:
        """How many streams are read."""
        return int(self.events) + int(self.runs) + int(self.deployments)


@dataclass(frozen=True)
class Portion:
    """Repositories of one integration polled with one credential."""

    repositories: int
    interval: float = 0.0  # the integration's minimum seconds between two polls of a repository (0: none)
    streams: Streams = field(default_factory=Streams)
    image_owners: int = 0  # owners whose container images are read (once per run each)
    listing_pages: int = 0  # pages of discovered lists, read at every run (paced; by every shard with state files)


@dataclass(frozen=True)
class Load:
    """What one credential polls, and its budget."""

    portions: tuple[Portion, ...]
    points_per_minute: int
    hourly_limit: int

    @property
    def repositories(self) -> int:
        """How many repositories the credential polls."""
        return sum(portion.repositories for portion in self.portions)


@dataclass(frozen=True)
class Schedule:
    """The settings that size a run, and the assumptions about the repositories."""

    every: float = 60.0  # seconds between two runs (the CronJob's schedule)
    max_runtime: float = 50.0
    sweep_interval: float = 900.0
    shards: int = 1
    concurrency: int = 32  # requests in flight per process
    per_token_concurrency: int = 16  # requests in flight per credential, shared by the shards
    rate_limit_reserve: int = 100
    active: float = 0.05  # share of repositories with new activity (a push, a pull request...) ...
    active_per: float = 300.0  # ... in any span of this many seconds
    backfill_details: float = 3600.0  # a first sync enriches the history this recent
    recent: float | None = None  # share of repositories with such history (None: from the activity)
    latency: float = 0.3  # seconds GitHub takes to answer a request

    def active_share(self, period: float) -> float:
        """The share of repositories whose events changed within ``period`` seconds (independent activity at
        the assumed rate)."""
        if self.active >= 1:
            return 1.0
        return 1 - math.pow(1 - max(0.0, self.active), max(0.0, period) / max(self.active_per, 1e-3))

    @property
    def recent_share(self) -> float:
        """The share of repositories whose first sync finds history inside --backfill-details."""
        return self.recent if self.recent is not None else self.active_share(self.backfill_details)

    @property
    def window(self) -> float:
        """Seconds a run can send for: its deadline, and never past the next run."""
        return max(0.0, min(self.max_runtime, self.every))


def polls_every(interval: float, schedule: Schedule) -> int:
    """Runs between two polls of a repository whose integration asks ``interval`` seconds (at least 1)."""
    wanted = max(interval, EVENTS_POLL_INTERVAL) - DUE_TOLERANCE
    return max(1, math.ceil(wanted / schedule.every - 1e-9))


def sweep_share(period: float, sweep_interval: float) -> float:
    """The share of a quiet repository's polls that read its workflow runs and deployments.

    A sweep is due at the first poll in each slot of ``sweep_interval`` (the slots shifted by a phase
    per repository, :func:`painchain_gh.streams.sweep.sweep_phase`): one poll in ``sweep_interval /
    period``, or every poll when polls are further apart than the interval.
    """
    if sweep_interval <= 0 or period <= 0:
        return 1.0
    return min(1.0, period / sweep_interval)


def active_extra(streams: Streams, period: float) -> dict[str, int]:
    """The requests an active repository polled every ``period`` seconds costs beyond its events request, by
    what they read: its workflow runs after the activity and at every poll while the run it started is in
    progress, its deployments after the activity, and the enrichment of what is new."""
    extra = {"workflow runs": 1 + math.ceil(RUN_IN_PROGRESS / max(period, 1.0)) if streams.runs else 0}
    extra["deployments"] = ACTIVE_DEPLOYMENTS if streams.deployments else 0
    extra["enrichment"] = ACTIVE_ENRICHMENT
    return extra


def poll_cost(streams: Streams, period: float, schedule: Schedule) -> float:
    """Expected requests of one poll of a repository polled every ``period`` seconds."""
    side = int(streams.runs) + int(streams.deployments)
    active = schedule.active_share(period)
    if not streams.events:  # nothing signals activity: runs and deployments are read at every poll
        return side + active * ACTIVE_ENRICHMENT
    quiet = (1 - active) * sweep_share(period, schedule.sweep_interval) * side
    return 1 + quiet + active * sum(active_extra(streams, period).values())


def counted_cost(streams: Streams, period: float, schedule: Schedule) -> float:
    """Expected requests of one poll that count against the hourly limit (a 304 does not)."""
    active = schedule.active_share(period)
    if not streams.events:
        return active * (streams.count + ACTIVE_ENRICHMENT)
    runs = ACTIVE_RUNS_COUNTED if streams.runs else 0  # reads of a run still in progress: mostly 304s
    return active * (1 + runs + (ACTIVE_DEPLOYMENTS if streams.deployments else 0) + ACTIVE_ENRICHMENT)


def run_budget(points_per_minute: int, schedule: Schedule) -> float:
    """Requests one credential can send in a run: its points over the run's window plus the pacer's burst,
    and no more than its requests in flight allow at the assumed latency."""
    paced = points_per_minute * schedule.window / 60 + BURST * points_per_minute
    in_flight = max(1, schedule.per_token_concurrency) * schedule.window / max(schedule.latency, 1e-3)
    return min(paced, in_flight)


def demand(load: Load, schedule: Schedule, *, stretch: int = 1) -> float:
    """Paced requests a run needs for ``load`` when every repository is polled at most every ``stretch``
    runs (1: as often as it is due)."""
    total = 0.0
    for portion in load.portions:
        runs = max(stretch, polls_every(portion.interval, schedule))
        period = runs * schedule.every
        total += portion.repositories * poll_cost(portion.streams, period, schedule) / runs
        total += portion.image_owners / runs
    return total


def hourly_counted(load: Load, schedule: Schedule) -> float:
    """Requests an hour of the steady state that count against the hourly limit."""
    total = 0.0
    for portion in load.portions:
        period = polls_every(portion.interval, schedule) * schedule.every
        total += portion.repositories * counted_cost(portion.streams, period, schedule) * 3600 / period
    return total


def first_sync_cost(load: Load, schedule: Schedule) -> int:
    """Requests of the first sync of every repository: each stream once, the enrichment of recent history,
    container images and the discovered lists (every answer counts against the hourly limit)."""
    total = 0.0
    for portion in load.portions:
        per_repository = portion.streams.count + schedule.recent_share * FIRST_SYNC_ENRICHMENT
        total += portion.repositories * per_repository + portion.image_owners + portion.listing_pages
    return math.ceil(total)


@dataclass(frozen=True)
class Needs:
    """What would make a credential fit (None: that alone would not)."""

    credentials: int  # tokens or App installations to spread its repositories over, in all
    max_runtime: float | None = None  # a longer --max-runtime, within the schedule
    schedule: tuple[float, float] | None = None  # (every, --max-runtime): a longer schedule
    points_per_minute: int | None = None  # a larger budget, still within GitHub's limit


@dataclass(frozen=True)
class Sizing:
    """One credential's figures (requests, points and seconds)."""

    repositories: int
    requests_per_run: float  # paced: events, runs, deployments, enrichment, images
    listing_per_run: int  # discovered lists, every shard (paced with the rest)
    points_per_minute: float  # what the steady state implies
    budget_per_minute: int
    budget_per_run: float
    polled_every: float  # seconds between two polls of its least often polled repository, as due
    fresh: int  # repositories it can poll as often as they are due
    stalest: float  # seconds: how old the stalest repository gets (the fair rotation)
    first_sync_requests: int
    first_sync_runs: int
    first_sync_seconds: float
    hourly_counted: float  # requests an hour that count against the hourly limit (steady state)
    hourly_limit: int
    peak_points_per_minute: float  # the most the settings let through in one minute
    in_flight: int  # the most requests in flight the settings allow, every shard together
    fits: bool
    needs: Needs | None


def hourly_room(hourly_limit: int, schedule: Schedule) -> int:
    """Requests an hour a credential may spend: its limit less the reserve painchain-gh keeps."""
    return max(1, hourly_limit - min(schedule.rate_limit_reserve, hourly_limit // 10))


def dry_spell(counted: float, room: int) -> float:
    """Seconds of each hour a credential spending ``counted`` requests an hour against ``room`` has none left
    (it waits for GitHub's reset, and none of its repositories is polled meanwhile); 0 when it fits."""
    return 0.0 if counted <= room else 3600 * (1 - room / counted)


def size(load: Load, schedule: Schedule) -> Sizing:
    """The steady state, the first sync and what would make ``load`` fit."""
    budget = run_budget(load.points_per_minute, schedule)
    requests = demand(load, schedule)
    listing = sum(portion.listing_pages for portion in load.portions) * schedule.shards
    counted = hourly_counted(load, schedule)
    room = hourly_room(load.hourly_limit, schedule)
    periods = [polls_every(portion.interval, schedule) for portion in load.portions if portion.repositories]
    slowest = max(periods, default=1)
    stretch = _stretch(load, schedule, budget)
    fits = requests <= budget and counted <= room
    first = first_sync_cost(load, schedule)
    first_runs = math.ceil(first / budget) if budget > 0 else _MAX_STRETCH
    hours_waited = max(0, math.ceil(first / room) - 1)
    return Sizing(
        repositories=load.repositories,
        requests_per_run=requests,
        listing_per_run=listing,
        points_per_minute=(requests + listing) * 60 / schedule.every,
        budget_per_minute=load.points_per_minute,
        budget_per_run=budget,
        polled_every=slowest * schedule.every,
        fresh=_fresh(load, schedule, budget, requests),
        stalest=max(max(slowest, stretch) * schedule.every, dry_spell(counted, room) + slowest * schedule.every),
        first_sync_requests=first,
        first_sync_runs=first_runs,
        first_sync_seconds=max(first_runs * schedule.every, hours_waited * 3600.0),
        hourly_counted=counted,
        hourly_limit=load.hourly_limit,
        peak_points_per_minute=load.points_per_minute * (1 + 2 * BURST) + listing * 60 / min(schedule.every, 60),
        in_flight=max(1, schedule.per_token_concurrency // schedule.shards) * schedule.shards,
        fits=fits,
        needs=None if fits else _needs(load, schedule, requests=requests, budget=budget, counted=counted, room=room),
    )


def _fresh(load: Load, schedule: Schedule, budget: float, requests: float) -> int:
    """How many of the credential's repositories a run's budget keeps polled as often as they are due."""
    repositories = load.repositories
    if requests <= budget or repositories == 0:
        return repositories
    fixed = sum(portion.image_owners / polls_every(portion.interval, schedule) for portion in load.portions)
    per_repository = (requests - fixed) / repositories
    return max(0, min(repositories, math.floor((budget - fixed) / per_repository))) if per_repository > 0 else 0


def _stretch(load: Load, schedule: Schedule, budget: float) -> int:
    """The fewest runs between two polls of a repository that the budget sustains (the fair rotation)."""
    if demand(load, schedule) <= budget:
        return 1
    low, high = 1, 2
    while demand(load, schedule, stretch=high) > budget:
        low, high = high, high * 2
        if high > _MAX_STRETCH:
            return _MAX_STRETCH
    while high - low > 1:
        middle = (low + high) // 2
        if demand(load, schedule, stretch=middle) > budget:
            low = middle
        else:
            high = middle
    return high


def _needs(load: Load, schedule: Schedule, *, requests: float, budget: float, counted: float, room: int) -> Needs:
    credentials = max(2, math.ceil(requests / budget) if budget > 0 else 2, math.ceil(counted / room))
    hourly_ok = counted <= room
    max_runtime = None
    longest = schedule.every - RUNTIME_MARGIN
    if hourly_ok and longest > schedule.max_runtime:
        wanted = _runtime_for(requests, load.points_per_minute, schedule)
        if wanted is not None and wanted <= longest:
            max_runtime = wanted
    points = None
    if hourly_ok and schedule.window > 0:
        wanted_points = math.ceil(requests / (schedule.window / 60 + BURST))
        if load.points_per_minute < wanted_points <= SAFE_POINTS_PER_MINUTE and (
            run_budget(wanted_points, schedule) >= requests
        ):
            points = wanted_points
    return Needs(
        credentials=credentials,
        max_runtime=max_runtime,
        schedule=_longer_schedule(load, schedule),
        points_per_minute=points,
    )


def _runtime_for(requests: float, points_per_minute: int, schedule: Schedule) -> float | None:
    """The shortest --max-runtime (whole seconds) whose run budget covers ``requests``, or None."""
    window = (requests / points_per_minute - BURST) * 60
    runtime = float(max(1, math.ceil(window)))
    trial = replace(schedule, max_runtime=runtime)
    return runtime if run_budget(points_per_minute, trial) >= requests else None


def _longer_schedule(load: Load, schedule: Schedule) -> tuple[float, float] | None:
    """The shortest schedule among :data:`SCHEDULES` longer than this one at which ``load`` fits, with a
    --max-runtime just short of it."""
    for every in SCHEDULES:
        if every <= schedule.every:
            continue
        trial = replace(schedule, every=every, max_runtime=every - RUNTIME_MARGIN)
        fits_budget = demand(load, trial) <= run_budget(load.points_per_minute, trial)
        if fits_budget and hourly_counted(load, trial) <= hourly_room(load.hourly_limit, trial):
            return every, every - RUNTIME_MARGIN
    return None


@dataclass(frozen=True)
class ProcessLoad:
    """What one sync process (one shard) sends in a run, against its --concurrency."""

    requests_per_run: float  # its share of what every credential may send in a run, and every discovered list
    capacity_per_run: float  # --concurrency requests in flight over the run's window at the assumed latency
    shards_needed: int | None  # None: it fits; else the shards that would make it fit (0: none would)
    concurrency_needed: int | None = None  # a --concurrency that alone would make it fit (None: none would)


def process_load(sizings: list[Sizing], schedule: Schedule) -> ProcessLoad:
    """Whether one process's --concurrency carries its share of every credential within a run."""
    paced = sum(min(sizing.requests_per_run, sizing.budget_per_run) for sizing in sizings)  # the pacer holds the rest
    listing = sum(sizing.listing_per_run for sizing in sizings) / schedule.shards  # every shard lists all
    per_slot = schedule.window / max(schedule.latency, 1e-3)  # requests one slot carries in a run
    capacity = schedule.concurrency * per_slot
    requests = paced / schedule.shards + listing
    if requests <= capacity:
        return ProcessLoad(requests, capacity, None)
    wanted = math.ceil(requests / per_slot) if per_slot > 0 else MAX_CONCURRENCY + 1
    concurrency = wanted if wanted <= MAX_CONCURRENCY else None
    if listing >= capacity:
        return ProcessLoad(requests, capacity, 0, concurrency)
    return ProcessLoad(requests, capacity, math.ceil(paced / (capacity - listing)), concurrency)
