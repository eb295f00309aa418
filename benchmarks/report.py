"""The results as Markdown: side-by-side costs, ratios, per-quiet-repository costs and targets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from benchmarks.connectors import PHASES, STEADY, OurSettings
from benchmarks.metrics import RunMetrics
from benchmarks.scenario import Scenario

BASELINE_LABEL = "baseline (original strategy)"
TARGET_SPEEDUP = 20.0
TARGET_SPEEDUP_REPOS = 1000
TARGET_RSS_MB = 100.0
TARGET_RSS_REPOS = 10_000
TARGET_VERSION_SECONDS = 0.3
TARGET_FLOOR_RATIO = 2.0  # whole-process wall time at most twice its latency floor
TARGET_FIXED_SPEEDUP = 25.0
BOUND_SHARE = 0.7  # a run is "latency"- or "CPU"-bound when that alone explains 70% of its wall time
TIMES = "\u00d7"  # the multiplication sign, spelled out so that linters do not take it for an x
NONE = "\u2013"  # an en dash: nothing to show


@dataclass
class Comparison:
    """Every run made for one repository count."""

    scenario: Scenario
    baseline: dict[str, RunMetrics]
    ours: dict[OurSettings, dict[str, RunMetrics]] = field(default_factory=dict)
    peers: dict[str, dict[str, RunMetrics]] = field(default_factory=dict)  # label -> phase -> metrics


@dataclass(frozen=True)
class PeerInfo:
    """A peer connector's identity and start-up time."""

    label: str
    version: str
    startup_args: str
    startup_seconds: float
    startup_rss_mb: float


@dataclass(frozen=True)
class Context:
    """How the benchmark was run, for the header."""

    command: str
    latency: float
    backend_latency: float
    active_share: float
    repos_per_integration: int
    integrations_per_token: int
    baseline_sample: int
    version_seconds: float
    version_rss_mb: float
    machine: str
    peers: tuple[PeerInfo, ...] = ()
    peer_max_repos: int = 1000
    budget_window: float | None = None  # seconds standing for GitHub's minute (None: a real minute)


def render(context: Context, comparisons: list[Comparison]) -> str:
    """The whole report."""
    sections = [
        _header(context),
        "## Cost per run (side by side)\n\n" + _side_by_side(context, comparisons) + _footnotes(context),
        "## Ratios (baseline ÷ painchain-gh; higher is better for painchain-gh)\n\n" + _ratios(comparisons),
        "## Steady state: cost of a quiet repository\n\n" + _quiet(comparisons),
        "## Whole process vs its latency floor and vs the baseline\n\n" + _fixed_cost(context, comparisons),
        "## Targets\n\n" + _targets(context, comparisons),
    ]
    if context.peers:
        sections.insert(1, "## Start-up time\n\n" + _startup(context))
        sections.insert(2, "## Peers on the same fake GitHub\n\n" + _peers(context, comparisons))
    return "\n\n".join(sections) + "\n"


def _header(context: Context) -> str:
    return "\n".join(
        [
            "# painchain-gh vs the original connector's strategy",
            "",
            f"- command: `{context.command}`",
            f"- machine: {context.machine}",
            f"- fake GitHub latency {context.latency * 1000:.0f} ms per request, "
            f"fake backend latency {context.backend_latency * 1000:.0f} ms per request",
            f"- {context.repos_per_integration} repositories per integration (one tenant each), "
            f"{context.integrations_per_token} integrations per token, {context.active_share:.0%} of repositories "
            "active between the two syncs (3 new events incl. a trimmed pull request event, and a run that "
            "completes); every repository starts with a push, an issue, a star and one run (plus the older "
            "events and pull request events of `--history-events` and `--history-pulls`, when the command gives them)",
            f"- `painchain-gh --version`: {context.version_seconds:.3f} s (best of 5), "
            f"peak RSS {context.version_rss_mb:.0f} MB",
            _window_line(context.budget_window),
        ]
    )


def _window_line(window: float | None) -> str:
    if window is None:
        return "- budget window: a real minute (painchain-gh's pacing and the fake's secondary-limit window)"
    return (
        f"- budget window scaled: {window:g} s stand for GitHub's minute, for painchain-gh's pacing "
        "(`PAINCHAIN_GH_BUDGET_WINDOW`) and the fake's secondary-limit window alike; the hourly limit is not scaled"
    )


def _table(head: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _int(value: float, approx: bool = False) -> str:
    return ("≈" if approx else "") + f"{round(value):,}"


def _secs(value: float, approx: bool = False) -> str:
    return ("≈" if approx else "") + (f"{value:.2f}" if value < 100 else f"{value:.0f}")


class Row(NamedTuple):
    """One line of the side-by-side table."""

    phase: str
    label: str
    metrics: RunMetrics
    parallel: int  # requests in flight at most, as configured
    processes: int

    @property
    def in_flight(self) -> int:
        """The most GitHub requests the fake saw in flight at once (the configured cap if not measured)."""
        return self.metrics.peak_in_flight or self.parallel


def _rows(comparison: Comparison) -> Iterable[Row]:
    """The runs of one repository count, in display order."""
    for phase in PHASES:
        for settings, runs in comparison.ours.items():
            per_process = min(settings.concurrency, comparison.scenario.tokens * settings.per_token_concurrency)
            yield Row(phase, settings.label, runs[phase], settings.shards * per_process, settings.shards)
        yield Row(phase, BASELINE_LABEL, comparison.baseline[phase], 1, 1)


def _floor(context: Context, row: Row) -> float:
    """Time the fakes' latency alone imposes: requests times latency, divided by the requests
    actually in flight at the peak (the fake's count, not the configured concurrency)."""
    metrics = row.metrics
    waiting = metrics.github_requests * context.latency + metrics.posts * context.backend_latency
    return waiting / row.in_flight


def _bound(context: Context, row: Row) -> str:
    """What most likely limits a run: waiting on latency, or the connector's own CPU (one core per process)."""
    if _floor(context, row) >= BOUND_SHARE * row.metrics.wall:
        return "latency"
    if row.metrics.cpu / row.processes >= BOUND_SHARE * row.metrics.wall:
        return "CPU"
    return "mixed"


def _side_by_side(context: Context, comparisons: list[Comparison]) -> str:
    head = [
        "repos",
        "phase",
        "connector",
        "wall (s)",
        "latency floor (s)",
        "bound",
        "peak in flight",
        "GitHub requests",
        "200",
        "304",
        "rate-limit units",
        "points",
        "secondary limits passed",
        "backend POSTs",
        "rows added",
        "CPU (s)",
        "peak RSS (MB)",
        "fakes CPU (s)",
    ]
    rows = []
    for comparison in comparisons:
        for row in _rows(comparison):
            m = row.metrics
            approx = m.extrapolated_from is not None
            rss = f"{m.peak_rss_mb:.0f}" + (f" (at {m.extrapolated_from:,})" if approx else "")
            rows.append(
                [
                    f"{m.repos:,}",
                    row.phase,
                    row.label + (" ⚠ " + m.note if m.note else ""),
                    _secs(m.wall, approx),
                    _secs(_floor(context, row), approx),
                    _bound(context, row),
                    f"{row.in_flight:,}",
                    _int(m.github_requests, approx),
                    _int(m.github_200, approx),
                    _int(m.github_304, approx),
                    _int(m.units, approx),
                    _int(m.points, approx),
                    _int(m.secondary, approx),
                    _int(m.posts, approx),
                    _int(m.rows_added, approx),
                    _secs(m.cpu, approx),
                    rss,
                    _secs(m.harness_cpu, approx),
                ]
            )
    return _table(head, rows)


def _footnotes(context: Context) -> str:
    return (
        "\n\n≈ = extrapolated linearly from the baseline measured on its first "
        f"{context.baseline_sample:,} repositories (same share of active ones); it is sequential, so time and "
        "counts scale with the number of repositories. Its peak RSS is the sample's.  \n"
        f"latency floor = (GitHub requests {TIMES} GitHub latency + POSTs {TIMES} backend latency) "
        "÷ peak in flight, the most GitHub requests the fake saw at once (all shards and tokens together; "
        "the baseline's is 1): the configured concurrency is a cap, not what runs.  \n"
        "points = GitHub's secondary-limit points (a GET, 304 included, 1; a POST 5); secondary limits passed = "
        "requests beyond GitHub's secondary limits (more than 100 in flight, or past 900 points a minute, per "
        "token), counted, not enforced, here: GitHub would have answered each with 403 and `Retry-After` "
        "(`python -m benchmarks.limits` enforces them).  \n"
        f"bound = latency when the latency floor is at least {BOUND_SHARE:.0%} of the wall time, CPU when the "
        "connector's CPU time per process is (a Python process runs its threads on one core at a time), else mixed. "
        "With shards, wall time is the slowest shard's, CPU the sum, peak RSS the largest shard's.  \n"
        "rows added = rows a non-deduplicating (first-generation) backend would store; here the fake "
        "deduplicates painchain-gh's (integrationId, externalId) pairs, while the baseline sends none.  \n"
        "fakes CPU = CPU used by the fake GitHub and backend (threads of the benchmark process) during the run."
    )


def _ratio(numerator: float, denominator: float) -> str:
    if denominator == 0:
        return "∞" if numerator else NONE
    return f"{numerator / denominator:,.1f}{TIMES}"


def _ratios(comparisons: list[Comparison]) -> str:
    head = ["repos", "phase", "painchain-gh", "wall time", "GitHub requests", "rate-limit units", "backend POSTs"]
    rows = []
    for comparison in comparisons:
        for phase in PHASES:
            base = comparison.baseline[phase]
            for settings, runs in comparison.ours.items():
                ours = runs[phase]
                mark = " (≈)" if base.extrapolated_from else ""
                rows.append(
                    [
                        f"{comparison.scenario.repos:,}",
                        phase,
                        settings.label,
                        _ratio(base.wall, ours.wall) + mark,
                        _ratio(base.github_requests, ours.github_requests),
                        _ratio(base.units, ours.units),
                        _ratio(base.posts, ours.posts),
                    ]
                )
    return _table(head, rows)


def _quiet(comparisons: list[Comparison]) -> str:
    head = ["repos", "quiet repos", "connector", "rate-limit units per quiet repo", "backend POSTs per quiet repo"]
    rows = []
    for comparison in comparisons:
        for row in _rows(comparison):
            if row.phase != STEADY:
                continue
            m = row.metrics
            rows.append(
                [
                    f"{m.repos:,}",
                    f"{m.quiet_repos:,}",
                    row.label,
                    f"{m.units_per_quiet_repo:.2f}",
                    f"{m.posts_per_quiet_repo:.2f}",
                ]
            )
    return _table(head, rows)


def _find(comparisons: list[Comparison], repos: int) -> Comparison | None:
    return next((c for c in comparisons if c.scenario.repos == repos), None)


def _targets(context: Context, comparisons: list[Comparison]) -> str:
    rows = [_speedup_target(comparisons), *_quiet_targets(comparisons), _rss_target(comparisons)]
    version_ok = context.version_seconds <= TARGET_VERSION_SECONDS
    rows.append(
        [
            f"`painchain-gh --version` ≤ {TARGET_VERSION_SECONDS} s",
            f"{context.version_seconds:.3f} s",
            _verdict(version_ok),
        ]
    )
    return _table(["target", "measured", "met"], rows)


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("yes" if ok else "**no**")


def _per_config(results: dict[str, tuple[str, bool]]) -> list[str]:
    """(measured, met) for a target judged per painchain-gh configuration: label -> (text, met)."""
    measured = "; ".join(f"{label}: {text}" for label, (text, _) in results.items())
    met = [label for label, (_, ok) in results.items() if ok]
    if len(met) == len(results):
        return [measured, _verdict(True)]
    if not met:
        return [measured, _verdict(False)]
    return [measured, "only " + ", ".join(met)]


def _speedup_target(comparisons: list[Comparison]) -> list[str]:
    name = (
        f"steady state, {TARGET_SPEEDUP_REPOS:,} repos: ≥ {TARGET_SPEEDUP:.0f}{TIMES} less wall time than the baseline"
    )
    comparison = _find(comparisons, TARGET_SPEEDUP_REPOS)
    if comparison is None:
        return [name, NONE, _verdict(None)]
    base = comparison.baseline[STEADY].wall
    results = {}
    for settings, runs in comparison.ours.items():
        speedup = base / runs[STEADY].wall
        results[settings.label] = (f"{speedup:.1f}{TIMES}", speedup >= TARGET_SPEEDUP)
    return [name, *_per_config(results)]


def _quiet_targets(comparisons: list[Comparison]) -> list[list[str]]:
    ours = [(c.scenario.repos, runs[STEADY]) for c in comparisons for runs in c.ours.values()]
    if not ours:
        return [["0 units and 0 POSTs per quiet repository", NONE, _verdict(None)]]
    units = max(m.units_per_quiet_repo for _, m in ours)
    posts = max(m.posts_per_quiet_repo for _, m in ours)
    sizes = ", ".join(f"{repos:,}" for repos in sorted({repos for repos, _ in ours}))
    where = f"({sizes} repos)"
    return [
        [f"steady state: 0 rate-limit units per quiet repository {where}", f"max {units:.2f}", _verdict(units == 0)],
        [f"steady state: 0 backend POSTs per quiet repository {where}", f"max {posts:.2f}", _verdict(posts == 0)],
    ]


def _rss_target(comparisons: list[Comparison]) -> list[str]:
    name = f"peak RSS ≤ {TARGET_RSS_MB:.0f} MB at {TARGET_RSS_REPOS:,} repositories (per process)"
    comparison = _find(comparisons, TARGET_RSS_REPOS)
    if comparison is None:
        return [name, NONE, _verdict(None)]
    results = {}
    for settings, runs in comparison.ours.items():
        phase, peak = max(((phase, m.peak_rss_mb) for phase, m in runs.items()), key=lambda item: item[1])
        results[settings.label] = (f"{peak:.0f} MB ({phase})", peak <= TARGET_RSS_MB)
    return [name, *_per_config(results)]


def _startup(context: Context) -> str:
    rows = [["painchain-gh", "--version", f"{context.version_seconds:.3f}", f"{context.version_rss_mb:.0f}"]]
    rows += [
        [f"{p.label} {p.version}", p.startup_args, f"{p.startup_seconds:.3f}", f"{p.startup_rss_mb:.0f}"]
        for p in context.peers
    ]
    return _table(["connector", "command", "wall (s, best of 3-5)", "peak RSS (MB)"], rows)


def _peers(context: Context, comparisons: list[Comparison]) -> str:
    head = [
        "repos",
        "phase",
        "connector",
        "wall (s)",
        "peak in flight",
        "GitHub requests",
        "200",
        "304",
        "rate-limit units",
        "points",
        "secondary limits passed",
        "records emitted / backend POSTs",
        "CPU (s)",
        "peak RSS (MB)",
    ]
    rows = []
    for comparison in comparisons:
        for phase in PHASES:
            entries = [(settings.label, runs[phase]) for settings, runs in comparison.ours.items()]
            entries += [(label, runs[phase]) for label, runs in comparison.peers.items()]
            for label, m in entries:
                approx = m.extrapolated_from is not None
                output = f"{_int(m.records, approx)} records" if m.records is not None else f"{m.posts:,} POSTs"
                rss = f"{m.peak_rss_mb:.0f}" + (f" (at {m.extrapolated_from:,})" if approx else "")
                rows.append(
                    [
                        f"{m.repos:,}",
                        phase,
                        label + (" ⚠ " + m.note if m.note else ""),
                        _secs(m.wall, approx),
                        f"{m.peak_in_flight:,}",
                        _int(m.github_requests, approx),
                        _int(m.github_200, approx),
                        _int(m.github_304, approx),
                        _int(m.units, approx),
                        _int(m.points, approx),
                        _int(m.secondary, approx),
                        output,
                        _secs(m.cpu, approx),
                        rss,
                    ]
                )
    note = (
        f"\n\n≈ = extrapolated linearly from the peer measured on {context.peer_max_repos:,} repositories. "
        "Peers read the `events` and `workflow_runs` streams of every repository with every token in one "
        "process and write records to stdout (every supported and unsupported event type, and each run "
        "they see); painchain-gh POSTs only new supported events and run state changes to the backend."
    )
    return _table(head, rows) + note


def _fixed_cost(context: Context, comparisons: list[Comparison]) -> str:
    head = [
        "repos",
        "integrations",
        "phase",
        "painchain-gh",
        "wall (s)",
        "peak in flight",
        "points",
        "secondary limits passed",
        "latency floor (s)",
        f"wall ÷ floor (goal ≤ {TARGET_FLOOR_RATIO:.0f}{TIMES})",
        "baseline wall (s)",
        f"baseline ÷ painchain-gh (goal ≥ {TARGET_FIXED_SPEEDUP:.0f}{TIMES})",
    ]
    rows = []
    for comparison in comparisons:
        for phase in PHASES:
            base = comparison.baseline[phase]
            approx = base.extrapolated_from is not None
            for row in _rows(comparison):
                if row.phase != phase or row.label == BASELINE_LABEL:
                    continue
                floor = _floor(context, row)
                ratio = row.metrics.wall / floor if floor else 0.0
                speedup = base.wall / row.metrics.wall if row.metrics.wall else 0.0
                rows.append(
                    [
                        f"{comparison.scenario.repos:,}",
                        f"{comparison.scenario.integrations:,}",
                        phase,
                        row.label,
                        _secs(row.metrics.wall),
                        f"{row.in_flight:,}",
                        f"{row.metrics.points:,}",
                        f"{row.metrics.secondary:,}",
                        _secs(floor),
                        f"{ratio:.1f}{TIMES} " + _verdict(ratio <= TARGET_FLOOR_RATIO),
                        _secs(base.wall, approx),
                        ("≈" if approx else "") + f"{speedup:.1f}{TIMES} " + _verdict(speedup >= TARGET_FIXED_SPEEDUP),
                    ]
                )
    note = (
        f"\n\nlatency floor = GitHub requests {TIMES} round trip ÷ peak in flight (plus backend POSTs "
        f"{TIMES} backend latency); the wall time is the whole process, from spawn to exit."
    )
    return _table(head, rows) + note
