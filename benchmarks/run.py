"""Benchmark painchain-gh against the original connector's strategy.

Usage (from the repository root)::

    python -m benchmarks.run --repos 100,1000,10000
    python -m benchmarks.run --quick

Prints a Markdown report and writes it to ``benchmarks/results/latest.md`` (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.connectors import Environment, OurSettings, run_baseline, run_ours
from benchmarks.measure import best_wall
from benchmarks.metrics import RunMetrics
from benchmarks.peers import ENV_VARS, Peer, find_peers, run_peer
from benchmarks.report import Comparison, Context, PeerInfo, render
from benchmarks.scenario import BUDGET_WINDOW_HELP, Scenario, add_history_arguments, budget_window_argument
from tests.e2e.command import painchain_gh_command

RESULTS = Path(__file__).with_name("results") / "latest.md"
DEFAULT_PER_TOKEN_CONCURRENCY = 16  # painchain-gh's own default
QUICK_REPOS = "50,200"
QUICK_BASELINE_SAMPLE = 100


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give at least one positive integer")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=_int_list, default=_int_list("100,1000,10000"), help="repository counts")
    parser.add_argument("--quick", action="store_true", help=f"fast smoke run: --repos {QUICK_REPOS}, small sample")
    parser.add_argument("--latency", type=float, default=0.05, help="fake GitHub latency per request, seconds")
    parser.add_argument("--backend-latency", type=float, default=0.0, help="fake backend latency per request")
    parser.add_argument("--active", type=float, default=0.05, help="share of repositories active between syncs")
    parser.add_argument("--concurrency", type=_int_list, default=[32], help="painchain-gh --concurrency (list)")
    parser.add_argument(
        "--per-token-concurrency",
        type=int,
        default=None,
        help=f"painchain-gh --per-token-concurrency [default: min(concurrency, {DEFAULT_PER_TOKEN_CONCURRENCY})]",
    )
    parser.add_argument(
        "--shards",
        type=_int_list,
        default=[1],
        help="painchain-gh processes per sync, each with --shard I/N (list; e.g. 1,2)",
    )
    parser.add_argument("--repos-per-integration", type=int, default=100)
    parser.add_argument(
        "--history-events",
        type=int,
        default=3,
        help="events per repository before the first sync (300: a full Events API window; 2/3 forwardable)",
    )
    add_history_arguments(parser)
    parser.add_argument(
        "--events",
        type=lambda text: tuple(kind.strip() for kind in text.split(",") if kind.strip()),
        default=None,
        metavar="KINDS",
        help="the integrations' config.events, comma-separated (default: not set, every kind but images)",
    )
    parser.add_argument(
        "--painchain-gh",
        metavar="PATH",
        help="the painchain-gh executable to measure (default: the one installed beside this Python),"
        " e.g. an older build installed in its own virtualenv",
    )
    parser.add_argument(
        "--backfill-details",
        metavar="DURATION",
        help="painchain-gh --backfill-details (default: painchain-gh's own, 1h)",
    )
    parser.add_argument("--integrations-per-token", type=int, default=2)
    parser.add_argument("--budget-window", type=budget_window_argument, default=None, help=BUDGET_WINDOW_HELP)
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=1000,
        help="measure the (sequential) baseline on at most this many repositories and extrapolate",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the Markdown report")
    parser.add_argument(
        "--tap-github",
        metavar="PATH",
        help=f"Meltano's tap-github executable, to compare with [env {ENV_VARS['tap-github']}]",
    )
    parser.add_argument(
        "--source-github",
        metavar="PATH",
        help=f"Airbyte's source-github executable, to compare with [env {ENV_VARS['source-github']}]",
    )
    parser.add_argument(
        "--peer-max-repos",
        type=int,
        default=1000,
        help="run the peers on at most this many repositories and extrapolate beyond",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repos = _int_list(QUICK_REPOS)
        args.baseline_sample = min(args.baseline_sample, QUICK_BASELINE_SAMPLE)
    return args


def our_settings(args: argparse.Namespace) -> list[OurSettings]:
    """One painchain-gh configuration per requested number of shards and concurrency."""
    settings = []
    for shards in args.shards:
        for concurrency in args.concurrency:
            per_token = args.per_token_concurrency or min(concurrency, DEFAULT_PER_TOKEN_CONCURRENCY)
            program = (args.painchain_gh,) if args.painchain_gh else ()
            settings.append(
                OurSettings(
                    concurrency=concurrency,
                    per_token_concurrency=per_token,
                    shards=shards,
                    program=program,
                    backfill_details=args.backfill_details,
                )
            )
    return settings


def scenario_for(args: argparse.Namespace, repos: int) -> Scenario:
    """The scenario with ``repos`` repositories and the command line's shape."""
    return Scenario(
        repos=repos,
        repos_per_integration=args.repos_per_integration,
        integrations_per_token=args.integrations_per_token,
        active_share=args.active,
        history_events=args.history_events,
        history_pulls=args.history_pulls,
        events=args.events,
        recorded_compares=args.recorded_compares,
    )


def log(message: str) -> None:
    """Progress on stderr (the report goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def baseline_for(
    args: argparse.Namespace, repos: int, environment: Environment, cache: dict[int, dict[str, RunMetrics]]
) -> dict[str, RunMetrics]:
    """The baseline's runs for ``repos`` repositories: measured, or scaled up from a measured sample."""
    sample = min(repos, args.baseline_sample)
    if sample not in cache:
        log(f"baseline on {sample:,} repositories (sequential)")
        cache[sample] = run_baseline(scenario_for(args, sample), environment)
    measured = cache[sample]
    if sample == repos:
        return measured
    return {phase: metrics.scaled_to(repos) for phase, metrics in measured.items()}


def peer_for(
    args: argparse.Namespace, peer: Peer, repos: int, environment: Environment, cache: dict[tuple[str, int], Any]
) -> dict[str, RunMetrics]:
    """A peer's runs for ``repos`` repositories: measured, or scaled up from ``--peer-max-repos``."""
    sample = min(repos, args.peer_max_repos)
    key = (peer.label, sample)
    if key not in cache:
        log(f"{peer.label} on {sample:,} repositories")
        cache[key] = run_peer(peer, scenario_for(args, sample), environment)
        for phase, metrics in cache[key].items():
            log(f"  {phase}: {metrics.wall:.2f} s, {metrics.github_requests:,} requests, {metrics.records:,} records")
    measured: dict[str, RunMetrics] = cache[key]
    if sample == repos:
        return measured
    return {phase: metrics.scaled_to(repos) for phase, metrics in measured.items()}


def compare(args: argparse.Namespace, environment: Environment, peers: list[Peer]) -> list[Comparison]:
    """Run everything, in increasing repository counts."""
    comparisons = []
    baseline_cache: dict[int, dict[str, RunMetrics]] = {}
    peer_cache: dict[tuple[str, int], Any] = {}
    for repos in sorted(set(args.repos)):
        scenario = scenario_for(args, repos)
        comparison = Comparison(scenario, baseline_for(args, repos, environment, baseline_cache))
        for settings in our_settings(args):
            log(f"{settings.label} on {repos:,} repositories")
            comparison.ours[settings] = run_ours(scenario, settings, environment)
            for phase, metrics in comparison.ours[settings].items():
                log(f"  {phase}: {metrics.wall:.2f} s, {metrics.github_requests:,} requests, {metrics.posts:,} POSTs")
        for peer in peers:
            comparison.peers[peer.label] = peer_for(args, peer, repos, environment, peer_cache)
        comparisons.append(comparison)
    return comparisons


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write it to ``--output``."""
    args = parse_args(argv)
    environment = Environment(
        latency=args.latency, backend_latency=args.backend_latency, budget_window=args.budget_window
    )
    peers = find_peers({"tap-github": args.tap_github, "source-github": args.source_github})
    version = best_wall([*painchain_gh_command(), "--version"])
    log(f"painchain-gh --version: {version.wall:.3f} s (best of 5)")
    peer_infos = []
    for peer in peers:
        startup = best_wall(peer.startup_command(), repeat=3)
        peer_infos.append(
            PeerInfo(peer.label, peer.version(), " ".join(peer.startup_args), startup.wall, startup.peak_rss_mb)
        )
        log(f"{peer.label} {' '.join(peer.startup_args)}: {startup.wall:.3f} s (best of 3)")
    comparisons = compare(args, environment, peers)
    context = Context(
        command="python -m benchmarks.run " + shlex.join(argv if argv is not None else sys.argv[1:]),
        latency=args.latency,
        backend_latency=args.backend_latency,
        active_share=args.active,
        repos_per_integration=args.repos_per_integration,
        integrations_per_token=args.integrations_per_token,
        baseline_sample=args.baseline_sample,
        version_seconds=version.wall,
        version_rss_mb=version.peak_rss_mb,
        machine=f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform(terse=True)}, "
        f"load average {os.getloadavg()[0]:.1f} at the end, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        peers=tuple(peer_infos),
        peer_max_repos=args.peer_max_repos,
        budget_window=args.budget_window,
    )
    text = render(context, comparisons)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
