"""painchain-gh against a fake GitHub that enforces GitHub's secondary limits, on a schedule.

Usage (from the repository root)::

    python -m benchmarks.limits --repos 300,1000 --tokens 1,4
    python -m benchmarks.limits --repos 10000 --tokens 1,10 --steady-runs 2
    python -m benchmarks.limits --painchain-gh /path/to/other/venv/bin/painchain-gh

For every repository count and number of tokens: a first sync, then ``--steady-runs`` runs on a
schedule (``--schedule``, default every 5 minutes, each run with ``--max-runtime`` 4.5 minutes)
with ``--active`` of the repositories getting new activity between two runs. The fake GitHub
enforces GitHub's documented secondary limits (100 requests in flight, 900 points a minute per
token, ``Retry-After: 60`` and GitHub's message) and its primary limit (5,000 an hour per token),
with time scaled by ``--time-scale``: at 10, a minute lasts 6 s, an hour 6 minutes, and every
duration given to painchain-gh is divided by 10 (``--max-runtime``, ``--sweep-interval``, and the
budget window in ``PAINCHAIN_GH_BUDGET_WINDOW``). Request latency is not scaled.

Prints Markdown and writes it to ``benchmarks/results/limits.md`` (git-ignored).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import Measured, child_env, run_measured
from benchmarks.run import _int_list, log
from benchmarks.scenario import Scenario, fakes
from tests.e2e.command import painchain_gh_command
from tests.fakes import FakeBackend, FakeGitHub, SecondaryLimits
from tests.fakes.github import issues_event, pull, pull_request_event, push_event
from tests.fakes.limits import KINDS

RESULTS = Path(__file__).with_name("results") / "limits.md"
GITHUB_MINUTE = 60.0  # the window of GitHub's secondary limits, and its Retry-After
GITHUB_HOUR = 3600  # the window of GitHub's primary limit
FIRST, STEADY = "first sync", "steady state"
HISTORY_EVENTS = 3  # every repository's history forwards a push, an issue and a completed run (the star is skipped)
ACTIVITY_EVENTS = 4  # an active repository forwards a push, a pull request opened, an issue closed and a new run
ACTIVITY_PULL = 1000  # + round: the pull request opened in each round of activity
OPTIONAL_FLAGS = ("--points-per-minute", "--sweep-interval")
REQUEST_KINDS = ("events", "runs", "deployments", "other")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def simulated_seconds(text: str) -> float:
    """Seconds of GitHub time in ``300``, ``90s``, ``4.5m`` or ``1h``; raises ArgumentTypeError."""
    value = text.strip().lower()
    unit = value[-1] if value and value[-1] in _UNITS else "s"
    try:
        seconds = float(value.removesuffix(unit) if value.endswith(unit) else value) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 4.5m, 1h)") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"not a positive duration: {text!r}")
    return seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.limits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=_int_list, default=[300, 1000, 10000], help="repository counts")
    parser.add_argument("--tokens", type=_int_list, default=[1, 4], help="numbers of GitHub tokens (list)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=10.0,
        help="GitHub time runs this many times faster (10: a minute lasts 6 s); durations below are GitHub time",
    )
    parser.add_argument("--steady-runs", type=int, default=3, help="scheduled runs after the first sync")
    parser.add_argument("--schedule", type=simulated_seconds, default=300.0, help="time between run starts [5m]")
    parser.add_argument("--max-runtime", type=simulated_seconds, default=270.0, help="each run's deadline [4.5m]")
    parser.add_argument(
        "--sweep-interval",
        type=simulated_seconds,
        default=900.0,
        help="passed to painchain-gh (scaled) when its sync --help shows the flag [15m]",
    )
    parser.add_argument(
        "--points-per-minute",
        type=int,
        default=None,
        help="passed to painchain-gh when given and its sync --help shows the flag (default: its own)",
    )
    parser.add_argument("--concurrency", type=int, default=None, help="painchain-gh --concurrency (default: its own)")
    parser.add_argument("--active", type=float, default=0.05, help="share of repositories active between two runs")
    parser.add_argument("--latency", type=float, default=0.05, help="fake GitHub latency per request, real seconds")
    parser.add_argument("--repos-per-integration", type=int, default=100)
    parser.add_argument("--status", type=int, choices=(403, 429), default=403, help="the secondary-limit answer")
    parser.add_argument(
        "--no-enforce", action="store_true", help="count the secondary limits without enforcing them (a comparison)"
    )
    parser.add_argument("--painchain-gh", metavar="PATH", help="the painchain-gh executable (default: this venv's)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    if args.time_scale <= 0 or args.steady_runs < 0 or not 0 <= args.active <= 1:
        parser.error("--time-scale must be positive, --steady-runs at least 0, --active between 0 and 1")
    return args


# -- pure parts -------------------------------------------------------------------------------------


def supported_flags(help_text: str) -> frozenset[str]:
    """The optional flags (:data:`OPTIONAL_FLAGS`) that ``sync --help`` shows."""
    return frozenset(flag for flag in OPTIONAL_FLAGS if flag in help_text)


def staleness(polled_at: Mapping[str, float], names: Iterable[str], *, now: float, since: float) -> list[float]:
    """Seconds since each repository's events were last answered (since ``since`` if never)."""
    return [now - polled_at.get(name.lower(), since) for name in names]


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.95: the value 95% of the values are at or below)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def longest_gaps(
    poll_times: Mapping[str, Sequence[float]], names: Iterable[str], *, origin: float, start: float, end: float
) -> list[float]:
    """For each repository, the longest time within ``[start, end]`` without its events answered: from
    its last answer at or before ``start`` (``origin`` if none) to the next, between answers, and from
    the last one to ``end``. A repository polled at least every T has no gap above T (plus the
    spread of its place within a run)."""
    gaps = []
    for name in names:
        times = sorted(poll_times.get(name.lower(), ()))
        anchor = max((t for t in times if t <= start), default=origin)
        points = [anchor, *(t for t in times if start < t <= end), end]
        gaps.append(max(later - earlier for earlier, later in itertools.pairwise(points)))
    return gaps


def request_kind(path: str) -> str:
    """What a GitHub request read: ``events``, ``runs`` (the workflow runs list), ``deployments`` (list
    and statuses), or ``other`` (details: compares, pull requests, jobs, what shipped, listings)."""
    path = path.split("?", 1)[0].rstrip("/")
    if path.endswith("/events"):
        return "events"
    if path.endswith("/actions/runs"):
        return "runs"
    if "/deployments" in path:
        return "deployments"
    return "other"


def missing_events(expected: Mapping[str, int], stored: Mapping[str, int]) -> int:
    """Events expected but not stored, summed over repositories (a repository's extra rows hide none)."""
    return sum(max(0, count - stored.get(name, 0)) for name, count in expected.items())


def summary_of(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The last summary line a run logged ({} if none)."""
    return next((r for r in reversed(records) if r.get("event") == "summary"), {})


def sync_command(program: list[str], args: argparse.Namespace, state_file: Path, flags: frozenset[str]) -> list[str]:
    """``painchain-gh sync`` with every duration scaled, and the optional flags the build supports."""
    scale = args.time_scale
    command = [
        *program,
        "sync",
        "--log-format",
        "json",
        "--state-file",
        str(state_file),
        "--max-runtime",
        f"{args.max_runtime / scale:g}s",
    ]
    if args.concurrency is not None:
        command += ["--concurrency", str(args.concurrency)]
    if "--sweep-interval" in flags:
        command += ["--sweep-interval", f"{args.sweep_interval / scale:g}s"]
    if "--points-per-minute" in flags and args.points_per_minute is not None:
        command += ["--points-per-minute", str(args.points_per_minute)]
    return command


# -- one scenario -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """One run of painchain-gh as the fakes saw it; times of GitHub (simulated) unless named real."""

    phase: str
    number: int  # 0: the first sync; 1..: the scheduled runs
    wall: float  # real seconds, spawn to exit
    returncode: int
    requests: int
    by_kind: Mapping[str, int]  # requests by what they read (:func:`request_kind`)
    units: int  # primary rate-limit units (a 304 is free)
    points: int
    peak_points: int  # most points one token sent in one window
    violations: Mapping[str, int]  # secondary-limit answers by kind
    peak_in_flight: int
    peak_in_flight_per_token: int
    staleness_max: float  # the fake's: time since each repository's events were last answered, at the run's end
    staleness_p95: float
    connector_staleness_max: float | None  # the connector's summary (polled repositories only), when it has it
    never_polled: int | None  # the connector's summary, when it has it
    deferred: int | None
    failed: int | None
    forwarded: int  # new rows in the backend
    missing: int  # events expected by the end of this run and not stored
    started: float = 0.0  # real clock (time.time) at spawn and after exit
    ended: float = 0.0
    note: str = ""

    @property
    def answers(self) -> int:
        """Secondary-limit answers of every kind."""
        return sum(self.violations.values())


@dataclass
class Outcome:
    """Every run of one repository count and number of tokens."""

    repos: int
    tokens: int
    runs: list[RunRecord] = field(default_factory=list)
    longest_gap: dict[str, tuple[float, float]] = field(default_factory=dict)  # phase -> (max, p95), GitHub time
    plan: str = ""  # ``painchain-gh plan`` for this configuration, when the build has it


class World:
    """The fakes of one scenario, the repositories' expected events, and the activity between runs."""

    def __init__(self, scenario: Scenario, github: FakeGitHub, backend: FakeBackend, *, seed: int = 7) -> None:
        self.scenario = scenario
        self.github = github
        self.backend = backend
        self.names = [scenario.full_name(index) for index in range(scenario.repos)]
        self.expected = dict.fromkeys(self.names, HISTORY_EVENTS)
        self.started = time.time()
        self.poll_times: dict[str, list[float]] = {}  # lower-case name -> each run's last events answer
        self._random = random.Random(seed)
        self._round = 0

    def record_polls(self) -> None:
        """Keep the time of each repository's events answer of the run that just ended."""
        for name, when in list(self.github.events_polled_at.items()):
            times = self.poll_times.setdefault(name, [])
            if not times or times[-1] != when:
                times.append(when)

    def add_activity(self, share: float) -> int:
        """A push, a pull request opened, an issue closed and a completed run in ``share`` of the repositories."""
        self._round += 1
        count = round(len(self.names) * share)
        number = ACTIVITY_PULL + self._round
        for index in self._random.sample(range(len(self.names)), count):
            name = self.names[index]
            owner, repo = name.split("/")
            self.github.add_pull(owner, repo, pull(number, title=f"Change {self._round}", user="alice"))
            self.github.add_event(owner, repo, push_event(actor="bob"))
            self.github.add_event(owner, repo, pull_request_event("opened", number, actor="alice"))
            self.github.add_event(owner, repo, issues_event("closed", 1, "Flaky login test", user="erin"))
            self.github.add_run(owner, repo, {"status": "completed", "conclusion": "success"})
            self.expected[name] += ACTIVITY_EVENTS
        return count

    def stored(self) -> Counter[str]:
        """Rows in the backend per repository."""
        return Counter(str(row.body.get("project")) for row in list(self.backend.events))


def run_once(
    world: World, command: list[str], env: dict[str, str], *, phase: str, number: int, scale: float, timeout: float
) -> RunRecord:
    """One painchain-gh run, measured by the fakes."""
    github = world.github
    github.requests.clear()
    github.secondary_usage.clear_counts()  # windows and limited tokens carry over, as on GitHub
    units = sum(spec.spent for spec in list(github.tokens.values()))
    rows = len(world.backend.events)
    started = time.time()
    measured = run_measured(command, env=env, timeout=timeout)
    ended = time.time()
    world.record_polls()
    usage = github.secondary_usage.report()
    summary = summary_of(measured.json_lines())
    ages = staleness(dict(github.events_polled_at), world.names, now=ended, since=world.started)
    connector = summary.get("staleness_max_seconds")
    return RunRecord(
        phase=phase,
        number=number,
        wall=measured.wall,
        returncode=measured.returncode,
        requests=len(github.requests),
        by_kind=Counter(request_kind(request.path) for request in list(github.requests)),
        units=sum(spec.spent for spec in list(github.tokens.values())) - units,
        points=usage.points,
        peak_points=usage.peak_points,
        violations=usage.violations(),
        peak_in_flight=usage.peak_in_flight,
        peak_in_flight_per_token=usage.peak_in_flight_per_identity,
        staleness_max=max(ages, default=0.0) * scale,
        staleness_p95=percentile(ages, 0.95) * scale,
        connector_staleness_max=None if connector is None else float(connector) * scale,
        never_polled=summary.get("never_polled"),
        deferred=summary.get("deferred"),
        failed=summary.get("failed"),
        forwarded=len(world.backend.events) - rows,
        missing=missing_events(world.expected, world.stored()),
        started=started,
        ended=ended,
        note=_note(measured, summary),
    )


def _note(measured: Measured, summary: dict[str, Any]) -> str:
    if measured.timed_out:
        return "killed: past the run's time limit"
    if not summary:
        return f"no summary (exit {measured.returncode}): {measured.stderr.strip()[-200:]}"
    return ""


def measure(
    args: argparse.Namespace, repos: int, tokens: int, program: list[str], flags: frozenset[str], *, has_plan: bool
) -> Outcome:
    """A first sync and the scheduled runs for ``repos`` repositories on ``tokens`` tokens."""
    scale = args.time_scale
    integrations = -(-repos // args.repos_per_integration)
    scenario = Scenario(
        repos=repos,
        repos_per_integration=args.repos_per_integration,
        integrations_per_token=-(-integrations // tokens),
        active_share=0.0,  # activity comes from World.add_activity, a new sample each round
    )
    outcome = Outcome(repos, scenario.tokens)
    window = GITHUB_MINUTE / scale
    with (
        tempfile.TemporaryDirectory(prefix="painchain-limits-") as scratch,
        fakes(scenario, latency=args.latency, backend_latency=0.0) as (github, backend),
    ):
        github.secondary = SecondaryLimits(enforce=not args.no_enforce, window_seconds=window, status=args.status)
        github.poll_interval = math.ceil(GITHUB_MINUTE / scale)  # GitHub's X-Poll-Interval: 60
        hour = max(1, round(GITHUB_HOUR / scale))
        for spec in list(github.tokens.values()):
            spec.window, spec.reset = hour, int(time.time()) + hour
        world = World(scenario, github, backend)
        command = sync_command(program, args, Path(scratch) / "state.json", flags)
        env = child_env(
            BACKEND_API_URL=backend.url, GITHUB_API_URL=github.url, PAINCHAIN_GH_BUDGET_WINDOW=f"{window:g}"
        )
        if has_plan:
            outcome.plan = plan_output(program, args, Path(scratch) / "state.json", env)
        timeout = args.max_runtime / scale + 120
        world.started = time.time()  # the schedule starts now (plan's own run is not part of it)
        first_start = time.monotonic()
        for number in range(args.steady_runs + 1):
            if number:
                world.add_activity(args.active)
                time.sleep(max(0.0, first_start + number * args.schedule / scale - time.monotonic()))
            phase = STEADY if number else FIRST
            record = run_once(world, command, env, phase=phase, number=number, scale=scale, timeout=timeout)
            outcome.runs.append(record)
            log(
                f"  {phase} {number}: {record.wall:.1f} s, {record.requests:,} requests, {record.points:,} points, "
                f"{record.answers:,} secondary-limit answers, {record.peak_in_flight} in flight at most, "
                f"max staleness {record.staleness_max / 60:.1f} min, deferred {record.deferred}, "
                f"{record.missing:,} events missing"
            )
        if github.errors or backend.errors:
            raise RuntimeError("a fake server failed:\n" + (github.errors + backend.errors)[0])
    for phase in (FIRST, STEADY):
        runs = [run for run in outcome.runs if run.phase == phase]
        if runs:
            gaps = longest_gaps(
                world.poll_times, world.names, origin=world.started, start=runs[0].started, end=runs[-1].ended
            )
            outcome.longest_gap[phase] = (max(gaps, default=0.0) * scale, percentile(gaps, 0.95) * scale)
    log(f"  longest time without a poll, min (max, p95): {_gaps(outcome)}")
    return outcome


def plan_command(program: list[str], args: argparse.Namespace, state_file: Path) -> list[str]:
    """``painchain-gh plan`` for the schedule in GitHub's time (not scaled): what the simulation runs."""
    return [
        *program,
        "plan",
        "--every",
        f"{args.schedule:g}s",
        "--max-runtime",
        f"{args.max_runtime:g}s",
        "--active",
        f"{args.active * 100:g}%",
        "--active-per",
        f"{args.schedule:g}s",
        "--state-file",
        str(state_file),
        *(["--points-per-minute", str(args.points_per_minute)] if args.points_per_minute is not None else []),
        *(["--concurrency", str(args.concurrency)] if args.concurrency is not None else []),
        "--sweep-interval",
        f"{args.sweep_interval:g}s",
    ]


def plan_output(program: list[str], args: argparse.Namespace, state_file: Path, env: dict[str, str]) -> str:
    """What ``painchain-gh plan`` says about this configuration (its table and verdict)."""
    shown = subprocess.run(
        plan_command(program, args, state_file),
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return f"exit {shown.returncode}\n{shown.stdout.strip()}{shown.stderr.strip()}"


def _gaps(outcome: Outcome) -> str:
    return ", ".join(
        f"{phase} {_minutes(worst)} ({_minutes(p95)})" for phase, (worst, p95) in outcome.longest_gap.items()
    )


# -- report -----------------------------------------------------------------------------------------

TIMES = "\u00d7"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _kinds(violations: Mapping[str, int]) -> str:
    total = sum(violations.values())
    if not total:
        return "0"
    parts = ", ".join(f"{kind.replace('_', ' ')} {violations.get(kind, 0):,}" for kind in KINDS if violations.get(kind))
    return f"**{total:,}** ({parts})"


def _optional(values: Iterable[int | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{max(known):,}" if known else "?"


def _per_repository(runs: list[RunRecord], repos: int) -> str:
    """Requests per repository per run, and by what they read (events / runs / deployments / other)."""
    count = len(runs)
    total = sum(r.requests for r in runs) / count / repos
    parts = " / ".join(f"{sum(r.by_kind.get(kind, 0) for r in runs) / count / repos:.2f}" for kind in REQUEST_KINDS)
    return f"{total:.2f} ({parts})"


def phase_row(outcome: Outcome, phase: str, runs: list[RunRecord], points_limit: int) -> list[str]:
    """One line of the main table: a phase's runs together (sums, means or maxima as named)."""
    count = len(runs)
    requests = sum(r.requests for r in runs) / count
    violations = {kind: sum(r.violations.get(kind, 0) for r in runs) for kind in KINDS}
    last = runs[-1]
    complete = "yes" if last.missing == 0 else f"**no**: {last.missing:,} missing"
    gap, gap_p95 = outcome.longest_gap.get(phase, (0.0, 0.0))
    return [
        f"{outcome.repos:,}",
        str(outcome.tokens),
        phase,
        str(count),
        f"{sum(r.wall for r in runs) / count:.1f} (max {max(r.wall for r in runs):.1f})",
        f"{requests:,.0f}",
        _per_repository(runs, outcome.repos),
        f"{sum(r.points for r in runs) / count:,.0f}",
        f"{max(r.peak_points for r in runs):,} / {points_limit:,}",
        _kinds(violations),
        f"{max(r.peak_in_flight for r in runs)} ({max(r.peak_in_flight_per_token for r in runs)})",
        f"{_minutes(gap)} ({_minutes(gap_p95)})",
        f"{_minutes(max(r.staleness_max for r in runs))} ({_minutes(max(r.staleness_p95 for r in runs))})",
        _optional(r.deferred for r in runs),
        f"{sum(r.forwarded for r in runs):,}",
        complete,
    ]


def run_row(outcome: Outcome, run: RunRecord) -> list[str]:
    """One line of the per-run table."""
    connector = "?" if run.connector_staleness_max is None else _minutes(run.connector_staleness_max)
    never = "?" if run.never_polled is None else f"{run.never_polled:,}"
    return [
        f"{outcome.repos:,}",
        str(outcome.tokens),
        f"{run.phase} {run.number}" if run.number else run.phase,
        f"{run.wall:.1f}",
        str(run.returncode),
        f"{run.requests:,}",
        " / ".join(f"{run.by_kind.get(kind, 0):,}" for kind in REQUEST_KINDS),
        f"{run.units:,}",
        f"{run.points:,}",
        f"{run.peak_points:,}",
        _kinds(run.violations),
        f"{run.peak_in_flight} ({run.peak_in_flight_per_token})",
        f"{_minutes(run.staleness_max)} / {_minutes(run.staleness_p95)}",
        f"{connector} / {never}",
        "?" if run.deferred is None else f"{run.deferred:,}",
        "?" if run.failed is None else f"{run.failed:,}",
        f"{run.forwarded:,}",
        f"{run.missing:,}",
        run.note,
    ]


def _table(head: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def render(args: argparse.Namespace, outcomes: list[Outcome], header: list[str]) -> str:
    """The report."""
    limits = SecondaryLimits()
    main_head = [
        "repos",
        "tokens",
        "phase",
        "runs",
        "wall (s, real), mean",
        "GitHub requests per run",
        "per repository (events / runs / deployments / other)",
        "points per run",
        "peak points in a minute (limit)",
        "secondary-limit answers",
        "peak in flight (per token)",
        "longest time without a poll, min (p95)",
        "max staleness at a run's end, min (p95)",
        "deferred (max per run)",
        "events forwarded",
        "every event forwarded",
    ]
    rows = []
    for outcome in outcomes:
        for phase in (FIRST, STEADY):
            runs = [r for r in outcome.runs if r.phase == phase]
            if runs:
                rows.append(phase_row(outcome, phase, runs, limits.points))
    run_head = [
        "repos",
        "tokens",
        "run",
        "wall (s, real)",
        "exit",
        "GitHub requests",
        "events / runs / deployments / other",
        "rate-limit units",
        "points",
        "peak points in a minute",
        "secondary-limit answers",
        "peak in flight (per token)",
        "staleness max / p95, min (fake)",
        "connector's staleness max, min / never polled",
        "deferred",
        "failed",
        "events forwarded",
        "events missing",
        "note",
    ]
    details = [run_row(outcome, run) for outcome in outcomes for run in outcome.runs]
    notes = (
        "Times are GitHub's (simulated) unless marked real; at `--time-scale "
        f"{args.time_scale:g}` a simulated minute lasts {GITHUB_MINUTE / args.time_scale:g} s. "
        "Steady state: requests and points are means per run, answers and events sums, the rest the worst run. "
        "per repository: requests per repository and run, then by what they read (the Events API; the workflow "
        "runs list; deployments and their statuses; everything else: compares, pull requests, jobs, what shipped). "
        "peak points in a minute: the most points one token sent within one rolling window, refused requests "
        "included. secondary-limit answers: 403s from the fake for more than "
        f"{limits.max_concurrent} requests in flight (concurrency), past {limits.points} points a minute (points), "
        "or while the token was limited (while limited; GitHub warns this may get an integration banned). "
        "longest time without a poll: for each repository, the longest time within the phase during which the fake "
        "answered none of its events requests (from its previous answer, or from the benchmark's start if it had "
        "none, to the next answer or to the end of the phase's last run); the max and the 95th percentile over "
        "repositories. max staleness: the time since each repository's events were last answered (never: since "
        "the benchmark started), at the end of each run, measured by the fake for every build alike. "
        "every event forwarded: the events the scenario created by the end of the phase's last run (3 per "
        "repository's history, 4 per repository and round of activity) against the rows in the backend."
    )
    plans = [
        f"### {outcome.repos:,} repositories, {outcome.tokens} token(s)\n\n```text\n{outcome.plan}\n```\n"
        for outcome in outcomes
        if outcome.plan
    ]
    plan_part = (
        [
            "## What `painchain-gh plan` says about each configuration",
            "",
            f"`{shlex.join(plan_command(['painchain-gh'], args, Path('STATE')))}`, in GitHub's time (not scaled), "
            "with its default latency, against the same integrations",
            "",
            *plans,
        ]
        if plans
        else []
    )
    return "\n".join(
        [
            "# painchain-gh within GitHub's secondary limits",
            "",
            *header,
            "",
            _table(main_head, rows),
            "",
            notes,
            "",
            "## Every run",
            "",
            _table(run_head, details),
            "",
            *plan_part,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Measure every scenario, print the report and write it to ``--output``."""
    args = parse_args(argv)
    program = [args.painchain_gh] if args.painchain_gh else painchain_gh_command()
    shown = subprocess.run(
        [*program, "sync", "--help"],
        env=child_env(COLUMNS="300", NO_COLOR="1", TERM="dumb"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    flags = supported_flags(shown.stdout)
    commands = subprocess.run(
        [*program, "--help"], env=child_env(COLUMNS="300"), capture_output=True, text=True, timeout=60, check=False
    )
    has_plan = " plan " in commands.stdout
    version = subprocess.run([*program, "--version"], capture_output=True, text=True, timeout=60, check=False)
    scale = args.time_scale
    log(f"painchain-gh {version.stdout.strip()}; optional flags supported: {', '.join(sorted(flags)) or 'none'}")
    outcomes = []
    for repos in sorted(set(args.repos)):
        for tokens in sorted(set(args.tokens)):
            log(f"{repos:,} repositories on {tokens} token(s)")
            outcomes.append(measure(args, repos, tokens, program, flags, has_plan=has_plan))
    example = sync_command(program, args, Path("STATE"), flags)
    header = [
        f"- command: `python -m benchmarks.limits {shlex.join(argv if argv is not None else sys.argv[1:])}`",
        f"- painchain-gh: `{shlex.join(program)}` ({version.stdout.strip() or 'version unknown'}); each run: "
        f"`PAINCHAIN_GH_BUDGET_WINDOW={GITHUB_MINUTE / scale:g} {shlex.join(example[len(program) :])}`",
        f"- optional flags found in `sync --help`: {', '.join(sorted(flags)) or 'none'}",
        f"- fake GitHub: secondary limits {'counted, not enforced' if args.no_enforce else 'enforced'} "
        f"(100 in flight, 900 points a minute per token, {args.status} with `Retry-After: 60`), primary limit "
        f"5,000 an hour per token; time {TIMES}{scale:g}; latency {args.latency * 1000:.0f} ms real per request",
        f"- schedule: a first sync, then {args.steady_runs} runs every {args.schedule / 60:g} min "
        f"(`--max-runtime` {args.max_runtime / 60:g} min); {args.active:.0%} of repositories active between two "
        f"runs; {args.repos_per_integration} repositories per integration, integrations spread evenly over the tokens",
        f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform(terse=True)}, "
        f"load average {os.getloadavg()[0]:.1f} at the end, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]
    text = render(args, outcomes, header)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
