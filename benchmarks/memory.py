"""Peak RSS of painchain-gh, and what dominates it (``tracemalloc``), for one scenario and phase.

Usage (from the repository root)::

    python -m benchmarks.memory --repos 1000 --history-events 300 --phase first
    python -m benchmarks.memory --repos 10000 --phase steady

``first``: a first sync (empty state), measured untraced (peak RSS), then again from an empty
state under :mod:`benchmarks.memory_probe`. ``steady``: a first sync primes the state, the active
repositories get their activity, the state is kept aside; the steady-state sync is measured
untraced, then again from the same state under the probe. Prints Markdown and writes it to
``benchmarks/results/memory-<repos>-<phase>.md`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.connectors import OurSettings
from benchmarks.measure import Measured, child_env, run_measured
from benchmarks.run import DEFAULT_PER_TOKEN_CONCURRENCY, log
from benchmarks.scenario import (
    BUDGET_WINDOW_HELP,
    Scenario,
    add_history_arguments,
    budget_window_argument,
    budget_window_env,
    fakes,
    make_active,
)
from tests.fakes.limits import UsageReport

RESULTS = Path(__file__).with_name("results")
TIMEOUT = 3600.0
TARGET_MB = 100.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--history-events", type=int, default=3, help="events per repository (300: a full window)")
    add_history_arguments(parser)
    parser.add_argument(
        "--backfill-details",
        metavar="DURATION",
        help="painchain-gh --backfill-details (default: its own, 1h; 7d details the whole seeded history)",
    )
    parser.add_argument("--budget-window", type=budget_window_argument, default=None, help=BUDGET_WINDOW_HELP)
    parser.add_argument("--painchain-gh", metavar="PATH", help="the painchain-gh executable (default: this venv's)")
    parser.add_argument("--phase", choices=("first", "steady"), default="first")
    parser.add_argument("--repos-per-integration", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-trace", action="store_true", help="only the untraced run")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for painchain-gh (e.g. MALLOC_ARENA_MAX=2); repeatable",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.painchain_gh and not args.no_trace:
        parser.error("--painchain-gh measures another build untraced only: add --no-trace")
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure, print and write the report."""
    args = parse_args(argv)
    scenario = Scenario(
        repos=args.repos,
        repos_per_integration=args.repos_per_integration,
        history_events=args.history_events,
        history_pulls=args.history_pulls,
        recorded_compares=args.recorded_compares,
    )
    settings = OurSettings(
        concurrency=args.concurrency,
        per_token_concurrency=min(args.concurrency, DEFAULT_PER_TOKEN_CONCURRENCY),
        program=(args.painchain_gh,) if args.painchain_gh else (),
        backfill_details=args.backfill_details,
    )
    with (
        tempfile.TemporaryDirectory(prefix="painchain-memory-") as scratch,
        fakes(scenario, latency=args.latency, backend_latency=0.0, window_seconds=args.budget_window) as (gh, be),
    ):
        live, primed = Path(scratch) / "live", Path(scratch) / "primed"
        live.mkdir()
        command = settings.command(live / "state.json", TIMEOUT)
        extra = dict(item.split("=", 1) for item in args.env)
        env = child_env(
            BACKEND_API_URL=be.url,
            GITHUB_API_URL=gh.url,
            PAINCHAIN_GH_RETRY_BASE_DELAY="0.05",
            **budget_window_env(args.budget_window),
            **extra,
        )
        if args.phase == "steady":
            log(f"{args.repos:,} repositories: priming first sync")
            _check(run_measured(command, env=env, timeout=TIMEOUT))
            make_active(gh, scenario)
        shutil.copytree(live, primed)

        def fresh() -> None:
            shutil.rmtree(live)
            shutil.copytree(primed, live)

        log(f"{args.repos:,} repositories, {args.phase} sync, untraced")
        posts_before = be.event_posts
        gh.secondary_usage.forget()
        plain = _check(run_measured(command, env=env, timeout=TIMEOUT))
        posts = be.event_posts - posts_before
        requests = len(gh.requests)
        usage = gh.secondary_usage.report()
        gh.requests.clear()
        be.requests.clear()
        traced: dict[str, Any] | None = None
        if not args.no_trace:
            fresh()
            output = Path(scratch) / "trace.json"
            probe = [sys.executable, "-m", "benchmarks.memory_probe", str(output), "--", *command[1:]]
            log("  again under tracemalloc")
            run = _check(
                run_measured(
                    probe, env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}, timeout=TIMEOUT
                )
            )
            if output.exists():
                traced = json.loads(output.read_text(encoding="utf-8"))
                traced["wall"] = run.wall
                traced["rss"] = run.peak_rss_mb
            else:
                log("  the traced run wrote no snapshot; reporting the untraced run only")
    text = render(args, plain, posts, requests, traced, usage)
    print(text)
    path = args.output or RESULTS / f"memory-{args.repos}-{args.phase}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return 0


def _summary_note(run: Measured) -> str:
    """What the run's summary says about work left undone or done without details."""
    summary: dict[str, Any] = next((r for r in reversed(run.json_lines()) if r.get("event") == "summary"), {})
    if not summary:
        return "none logged"
    keys = ("deferred", "failed", "details_skipped", "details_missing", "never_polled")
    return ", ".join(f"{key} {summary[key]}" for key in keys if key in summary) or "nothing undone"


def _check(run: Measured) -> Measured:
    if run.returncode not in (0,):
        log(f"  exit {run.returncode}: {run.stderr.strip()[-400:]}")
    return run


def render(
    args: argparse.Namespace,
    plain: Measured,
    posts: int,
    requests: int,
    traced: dict[str, Any] | None,
    usage: UsageReport,
) -> str:
    """The report."""
    verdict = "yes" if plain.peak_rss_mb <= TARGET_MB else "**no**"
    lines = [
        f"# painchain-gh memory: {args.repos:,} repositories, {args.phase} sync, "
        f"{args.history_events} events per repository",
        "",
        f"- `python -m benchmarks.memory {' '.join(sys.argv[1:])}` at "
        + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        + f", load average {os.getloadavg()[0]:.1f}",
        f"- untraced: wall {plain.wall:.1f} s, CPU {plain.cpu:.1f} s, **peak RSS {plain.peak_rss_mb:.0f} MB** "
        f"(goal ≤ {TARGET_MB:.0f} MB: {verdict}), {requests:,} GitHub requests, {posts:,} POSTs; "
        f"{usage.points:,} secondary-limit points, {usage.total_violations:,} requests past GitHub's secondary "
        f"limits (counted, not enforced), {usage.peak_in_flight} GitHub requests in flight at most "
        "(the measured run only)",
        f"- {requests / args.repos:.1f} GitHub requests per repository; "
        f"{args.history_pulls} pull request events per repository, "
        f"{'recorded 57 kB compares' if args.recorded_compares else 'compares answered 404'}, `--backfill-details` "
        f"{args.backfill_details or 'its default (1h)'}; painchain-gh: `{args.painchain_gh or 'this venv'}`; "
        + (
            f"budget window {args.budget_window:g} s for GitHub's minute (`PAINCHAIN_GH_BUDGET_WINDOW` and the "
            "fake's secondary-limit window)"
            if args.budget_window
            else "budget window: a real minute"
        )
        + f"; the run's summary: {_summary_note(plain)}",
    ]
    if traced:
        lines += [
            f"- traced run: wall {traced['wall']:.1f} s, RSS {traced['rss']:.0f} MB, peak traced "
            f"{traced['peak_traced_mb']:.1f} MB, snapshot at {traced['snapshot_mb']:.1f} MB",
            "",
            "| MB | blocks | allocated at |",
            "|---|---|---|",
            *[f"| {e['mb']:.1f} | {e['blocks']:,} | `{e['where'][:150]}` |" for e in traced["by_line"]],
            "",
            "| MB | blocks | file |",
            "|---|---|---|",
            *[f"| {e['mb']:.1f} | {e['blocks']:,} | `{e['file']}` |" for e in traced["by_file"]],
            "",
            "Largest tracebacks (innermost first):",
            "",
        ]
        for entry in traced["tracebacks"]:
            lines.append(f"- {entry['mb']:.1f} MB in {entry['blocks']:,} blocks:")
            lines += [f"  - `{frame[:160]}`" for frame in entry["frames"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
