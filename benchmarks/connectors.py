"""The two contestants, each run as a child process against fresh fakes: a first sync, then
(after the active repositories got new activity) a steady-state sync."""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import Measured, child_env, run_measured, run_parallel
from benchmarks.metrics import RunMetrics, TrafficMeter
from benchmarks.scenario import Scenario, budget_window_env, fakes, make_active
from tests.e2e.command import painchain_gh_command

FIRST, STEADY = "first sync", "steady state"
PHASES = (FIRST, STEADY)
BASELINE_SCRIPT = Path(__file__).with_name("baseline.py")


@dataclass(frozen=True)
class Environment:
    """What every run shares: the fakes' latencies and a per-run time limit."""

    latency: float
    backend_latency: float
    timeout: float = 1800.0
    peer_timeout: float = 600.0  # a peer's read is killed (and marked) after this
    budget_window: float | None = None  # seconds standing for GitHub's minute (pacing and the fake); None: 60


@dataclass(frozen=True)
class OurSettings:
    """How painchain-gh is invoked."""

    concurrency: int
    per_token_concurrency: int
    shards: int = 1  # > 1: that many processes at once, each with --shard I/N (as a Kubernetes indexed Job)
    initial_lookback: str = "7d"
    program: tuple[str, ...] = ()  # how to start painchain-gh (default: the one installed beside this Python)
    backfill_details: str | None = None  # --backfill-details (None: painchain-gh's default)

    @property
    def label(self) -> str:
        """How tables name this configuration."""
        processes = f"{self.shards} shards, " if self.shards > 1 else ""
        return f"painchain-gh ({processes}c={self.concurrency}, t={self.per_token_concurrency})"

    def command(self, state_file: Path, timeout: float) -> list[str]:
        """``painchain-gh sync`` with these settings (without ``--shard``)."""
        return [
            *(self.program or painchain_gh_command()),
            "sync",
            "--force",
            "--max-runtime",
            f"{int(timeout)}s",
            "--log-format",
            "json",
            "--concurrency",
            str(self.concurrency),
            "--per-token-concurrency",
            str(self.per_token_concurrency),
            "--initial-lookback",
            self.initial_lookback,
            "--state-file",
            str(state_file),
            *(("--backfill-details", self.backfill_details) if self.backfill_details else ()),
        ]

    def commands(self, state_file: Path, timeout: float) -> list[list[str]]:
        """One command per process; shards derive their own state file from ``--state-file``."""
        command = self.command(state_file, timeout)
        if self.shards == 1:
            return [command]
        return [[*command, "--shard", f"{index}/{self.shards}"] for index in range(self.shards)]


def run_ours(scenario: Scenario, settings: OurSettings, environment: Environment) -> dict[str, RunMetrics]:
    """painchain-gh: first sync from an empty state file, then a steady-state sync."""
    results: dict[str, RunMetrics] = {}
    with (
        tempfile.TemporaryDirectory(prefix="painchain-bench-") as state_dir,
        fakes(
            scenario,
            latency=environment.latency,
            backend_latency=environment.backend_latency,
            window_seconds=environment.budget_window,
        ) as (gh, be),
    ):
        meter = TrafficMeter(gh, be, scenario)
        commands = settings.commands(Path(state_dir) / "state.json", environment.timeout)
        env = child_env(
            BACKEND_API_URL=be.url,
            GITHUB_API_URL=gh.url,
            PAINCHAIN_GH_RETRY_BASE_DELAY="0.05",
            **budget_window_env(environment.budget_window),
        )
        for phase in PHASES:
            if phase == STEADY:
                make_active(gh, scenario)
            meter.start()
            runs = run_parallel(commands, env=env, timeout=environment.timeout + 60)
            results[phase] = with_note(meter.stop(runs), "; ".join(filter(None, map(_our_note, runs))))
        check_fakes(gh.errors + be.errors)
    return results


def run_baseline(scenario: Scenario, environment: Environment) -> dict[str, RunMetrics]:
    """The original strategy: two runs of a fresh process (a CronJob run each), before and after activity."""
    results: dict[str, RunMetrics] = {}
    with fakes(
        scenario,
        latency=environment.latency,
        backend_latency=environment.backend_latency,
        window_seconds=environment.budget_window,
    ) as (gh, be):
        meter = TrafficMeter(gh, be, scenario)
        env = child_env(BACKEND_API_URL=be.url, GITHUB_API_URL=gh.url)
        for phase in PHASES:
            if phase == STEADY:
                make_active(gh, scenario)
            meter.start()
            run = run_measured([sys.executable, str(BASELINE_SCRIPT)], env=env, timeout=environment.timeout)
            results[phase] = with_note(meter.stop([run]), _baseline_note(run))
        check_fakes(gh.errors + be.errors)
    return results


def _our_note(run: Measured) -> str:
    """Anything abnormal in painchain-gh's own summary line (empty when all went well)."""
    summary = next((r for r in reversed(run.json_lines()) if r.get("event") == "summary"), None)
    if summary is None:
        return f"no summary (exit {run.returncode}): {run.stderr.strip()[-300:]}"
    problems = {key: summary.get(key) for key in ("failed", "deferred", "dead_lettered", "gaps") if summary.get(key)}
    if run.returncode or problems:
        return f"exit {run.returncode} {problems}"
    return ""


def _baseline_note(run: Measured) -> str:
    if run.returncode == 0:
        return ""
    return f"exit {run.returncode}: {(run.stdout + run.stderr).strip()[-300:]}"


def with_note(metrics: RunMetrics, note: str) -> RunMetrics:
    """``metrics`` with ``note`` (also printed as a warning when not empty)."""
    if note:
        print(f"  warning: {note}", file=sys.stderr)
    return dataclasses.replace(metrics, note=note)


def check_fakes(errors: list[str]) -> None:
    """Fail loudly when a fake server raised (its traceback first)."""
    if errors:
        raise RuntimeError("a fake server failed:\n" + errors[0])
