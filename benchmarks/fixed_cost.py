"""Where a steady-state run's time goes: whole process vs its latency floor, phases, imports.

Usage (from the repository root)::

    python -m benchmarks.fixed_cost --repos 200 --repos-per-integration 20
    python -m benchmarks.fixed_cost --repos 1000,10000

For each repository count: a first sync primes the state, the active repositories get their
activity, and the state directory is kept aside; every steady-state run below starts from a copy
of it, so each one does the same work (the active repositories' new events, 304s for the rest).

1. ``--runs`` whole-process runs (spawn to reap), against the latency floor
   ``GitHub requests * latency / peak in flight``, where the peak is the most requests the fake
   GitHub saw in flight at once (``--concurrency`` is a cap, not what runs); with the run's
   secondary-limit points and the requests past GitHub's secondary limits (counted, not enforced);
2. one run under :mod:`benchmarks.phase_probe` (timers around the phases, in-process);
3. one run under ``python -X importtime`` (the heaviest imports);
4. ``python -c pass`` (best of 5): the interpreter alone.

Prints Markdown and writes it to ``benchmarks/results/fixed-cost.md`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.connectors import STEADY, Environment, OurSettings, run_baseline
from benchmarks.measure import Measured, best_wall, child_env, run_measured
from benchmarks.metrics import RunMetrics, TrafficMeter
from benchmarks.run import DEFAULT_PER_TOKEN_CONCURRENCY, _int_list, log
from benchmarks.scenario import (
    BUDGET_WINDOW_HELP,
    Scenario,
    budget_window_argument,
    budget_window_env,
    fakes,
    make_active,
)
from tests.e2e.command import painchain_gh_command

RESULTS = Path(__file__).with_name("results") / "fixed-cost.md"
TIMEOUT = 1800.0
TOP_IMPORTS = 40
STARTUP_KEY = "interpreter start-up (spawn to first line of the probe)"
TIMES = "\u00d7"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fixed_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=_int_list, default=[200], help="repository counts")
    parser.add_argument("--repos-per-integration", type=int, default=100)
    parser.add_argument("--integrations-per-token", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3, help="whole-process steady-state runs (median reported)")
    parser.add_argument("--no-probe", action="store_true", help="skip the phase and import-time runs")
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=200,
        help="run the (sequential) baseline on at most this many repositories and scale linearly",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for painchain-gh (e.g. PYDANTIC_DISABLE_PLUGINS=__all__); repeatable",
    )
    parser.add_argument("--budget-window", type=budget_window_argument, default=None, help=BUDGET_WINDOW_HELP)
    parser.add_argument(
        "--painchain-gh", metavar="PATH", help="the painchain-gh executable to measure (default: this venv's)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.painchain_gh and not args.no_probe:
        parser.error("--painchain-gh measures another build without the probes (they import this one): add --no-probe")
    return args


def program_of(args: argparse.Namespace) -> list[str]:
    """How to start the painchain-gh being measured."""
    return [args.painchain_gh] if args.painchain_gh else painchain_gh_command()


def parse_importtime(stderr: str, *, min_ms: float = 5.0, depth: int = 5) -> list[tuple[str, float, float]]:
    """``(module, self ms, cumulative ms)`` from ``-X importtime``: the top ``depth`` levels of the
    import tree, each at least ``min_ms`` cumulative, outermost first; nested names are indented."""
    entries = []
    for line in stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or "self [us]" in line:
            continue
        name = parts[2].rstrip()
        level = (len(name) - len(name.lstrip())) // 2
        try:
            entries.append((level, name.strip(), int(parts[0].rsplit(":", 1)[1]) / 1000, int(parts[1]) / 1000))
        except ValueError:
            continue
    # importtime prints a module after the modules it imported: reverse to read the tree top-down.
    return [
        ("\u2003" * level + name, own, total)
        for level, name, own, total in reversed(entries)
        if level < depth and total >= min_ms
    ]


def measure(args: argparse.Namespace, repos: int) -> dict[str, Any]:
    """Everything for one repository count."""
    scenario = Scenario(
        repos=repos,
        repos_per_integration=args.repos_per_integration,
        integrations_per_token=args.integrations_per_token,
    )
    per_token = min(args.concurrency, DEFAULT_PER_TOKEN_CONCURRENCY)
    settings = OurSettings(
        concurrency=args.concurrency, per_token_concurrency=per_token, program=tuple(program_of(args))
    )
    configured = min(args.concurrency, scenario.tokens * per_token)
    result: dict[str, Any] = {"repos": repos, "integrations": scenario.integrations, "configured": configured}
    with (
        tempfile.TemporaryDirectory(prefix="painchain-fixed-") as scratch,
        fakes(scenario, latency=args.latency, backend_latency=0.0, window_seconds=args.budget_window) as (gh, be),
    ):
        primed, live = Path(scratch) / "primed", Path(scratch) / "live"
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
        log(f"{repos:,} repositories: first sync")
        first = run_measured(command, env=env, timeout=TIMEOUT)
        if first.returncode:
            raise RuntimeError(f"first sync failed: {first.stderr[-500:]}")
        make_active(gh, scenario)
        shutil.copytree(live, primed)
        meter = TrafficMeter(gh, be, scenario)

        def steady(run: Any) -> tuple[Measured, RunMetrics]:
            shutil.rmtree(live)
            shutil.copytree(primed, live)
            meter.start()
            measured = run()
            return measured, meter.stop([measured])

        walls, logged, slowest, peaks = [], [], [], []
        for number in range(args.runs):
            measured, metrics = steady(lambda: run_measured(command, env=env, timeout=TIMEOUT))
            requests = metrics.github_requests
            peaks.append(metrics.peak_in_flight)
            if measured.returncode:
                raise RuntimeError(f"steady-state sync failed: {measured.stderr[-500:]}")
            walls.append(measured.wall)
            summary: dict[str, Any] = next(
                (r for r in reversed(measured.json_lines()) if r.get("event") == "summary"), {}
            )
            logged.append(float(summary.get("duration_ms") or 0) / 1000)
            slowest.append(slowest_repository(measured.json_lines()))
            log(
                f"  steady state {number + 1}: {measured.wall:.2f} s, {requests:,} requests, "
                f"{metrics.peak_in_flight} in flight at most"
            )
            result.update(
                requests=requests,
                points=metrics.points,
                secondary=metrics.secondary,
                cpu=measured.cpu,
                system=measured.system,
                rss=measured.peak_rss_mb,
                summary=summary,
            )
        result["walls"] = walls
        result["wall"] = statistics.median(walls)
        result["logged"] = statistics.median(logged)
        result["slowest"] = statistics.median(slowest)
        result["in_flight"] = max(peaks)
        result["floor"] = result["requests"] * args.latency / max(1, result["in_flight"])
        if not args.no_probe:
            result["probe"] = _probe(args, command, env, steady, Path(scratch))
            result["imports"] = _importtime(command, env, steady)
    sample = min(repos, args.baseline_sample)
    log(f"  baseline on {sample:,} repositories")
    baseline_scenario = Scenario(
        repos=sample,
        repos_per_integration=args.repos_per_integration,
        integrations_per_token=args.integrations_per_token,
    )
    environment = Environment(latency=args.latency, backend_latency=0.0, budget_window=args.budget_window)
    baseline = run_baseline(baseline_scenario, environment)[STEADY]
    result["baseline"] = baseline.wall * repos / sample
    result["baseline_scaled"] = sample != repos
    return result


def slowest_repository(records: list[dict[str, Any]]) -> float:
    """Seconds of the slowest repository logged (the synced ones: a run ends with its longest chain)."""
    durations = [float(r.get("duration_ms") or 0) for r in records if r.get("event") == "repository"]
    return max(durations, default=0.0) / 1000


def _probe(args: argparse.Namespace, command: list[str], env: dict[str, str], steady: Any, scratch: Path) -> Any:
    output = scratch / "phases.json"
    metrics_file = scratch / "metrics.prom"
    probe = [sys.executable, "-m", "benchmarks.phase_probe", str(output), "--", *command[1:]]
    probe += ["--metrics-file", str(metrics_file)]
    probe_env = {**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def run() -> Measured:
        probe_env["PAINCHAIN_BENCH_T0"] = repr(time.time())
        return run_measured(probe, env=probe_env, timeout=TIMEOUT)

    measured, _ = steady(run)
    phases: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    phases["wall"] = measured.wall
    phases["exit"] = max(0.0, measured.wall - phases["exit_seen"])
    log(f"  probe: {measured.wall:.2f} s")
    return phases


def _importtime(command: list[str], env: dict[str, str], steady: Any) -> list[tuple[str, float, float]]:
    python = Path(command[0]).with_name("python")
    script = [str(python), "-X", "importtime", "-m", "painchain_gh", *command[1:]]
    measured, _ = steady(lambda: run_measured(script, env=env, timeout=TIMEOUT))
    return parse_importtime(measured.stderr)


def render(args: argparse.Namespace, results: list[dict[str, Any]], interpreter: Measured, version: Measured) -> str:
    """The report."""
    lines = [
        "# painchain-gh: whole-process time of a steady-state run, and where the fixed cost goes",
        "",
        f"- command: `python -m benchmarks.fixed_cost {' '.join(sys.argv[1:])}`",
        f"- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
        f"fake GitHub latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}",
        f"- load average at the end: {os.getloadavg()[0]:.1f} (other work shares the cores)",
        f"- painchain-gh: `{' '.join(program_of(args))}`; budget window: "
        + (
            f"{args.budget_window:g} s stand for GitHub's minute (`PAINCHAIN_GH_BUDGET_WINDOW` and the fake's "
            "secondary-limit window)"
            if args.budget_window
            else "a real minute"
        ),
        f"- `python -c pass`: {interpreter.wall * 1000:.0f} ms; `painchain-gh --version`: {version.wall * 1000:.0f} ms"
        " (best of 5)",
        "",
        "peak in flight = the most GitHub requests the fake saw at once over the runs; latency floor = requests "
        f"{TIMES} latency ÷ peak in flight; points and secondary limits passed: GitHub's secondary limits "
        "(900 points a minute, 100 in flight, per token), counted, not enforced.",
        "",
        "| repos | integrations | requests | points | secondary limits passed | peak in flight (configured cap) | "
        "latency floor (s) | wall, whole process (s) | "
        "wall ÷ floor (goal ≤ 2) | baseline wall (s) | baseline ÷ wall (goal ≥ 25) | sync as logged (s) | "
        "slowest repository (s) | CPU (s), of it system | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['repos']:,} | {r['integrations']} | {r['requests']:,} | {r['points']:,} | {r['secondary']:,} | "
            f"{r['in_flight']} ({r['configured']}) | {r['floor']:.2f} | "
            f"{r['wall']:.2f} ({', '.join(f'{w:.2f}' for w in r['walls'])}) | {r['wall'] / r['floor']:.1f}{TIMES} | "
            f"{'≈' if r['baseline_scaled'] else ''}{r['baseline']:.1f} | "
            f"{'≈' if r['baseline_scaled'] else ''}{r['baseline'] / r['wall']:.1f}{TIMES} | "
            f"{r['logged']:.2f} | {r['slowest']:.2f} | {r['cpu']:.2f}, {r['system']:.2f} | {r['rss']:.0f} |"
        )
    for r in results:
        probe = r.get("probe")
        if not probe:
            continue
        lines += ["", f"## Phases at {r['repos']:,} repositories (one probed run, {probe['wall']:.2f} s)", ""]
        lines += ["| phase | ms | calls |", "|---|---|---|"]
        lines.append(f"| interpreter start-up | {probe[STARTUP_KEY] * 1000:.0f} | 1 |")
        lines += [f"| {name} | {seconds * 1000:.0f} | 1 |" for name, seconds in probe["imports"].items()]
        lines += [
            f"| {name} | {entry['seconds'] * 1000:.0f} | {entry['calls']:,} |"
            for name, entry in probe["phases"].items()
        ]
        lines.append(f"| interpreter exit (after main returned) | {probe['exit'] * 1000:.0f} | 1 |")
        if probe["missing"]:
            lines.append(f"\nnot found (renamed?): {', '.join(probe['missing'])}")
        imports = r.get("imports") or []
        lines += ["", f"Import tree, five levels deep, ≥ 5 ms (`-X importtime`) at {r['repos']:,}:", ""]
        lines += ["| module | cumulative ms | self ms |", "|---|---|---|"]
        lines += [f"| {name} | {total:.1f} | {own:.1f} |" for name, own, total in imports[:TOP_IMPORTS]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure every repository count, print and write the report."""
    args = parse_args(argv)
    interpreter = best_wall([sys.executable, "-c", "pass"])
    version = best_wall([*program_of(args), "--version"])
    results = [measure(args, repos) for repos in sorted(set(args.repos))]
    text = render(args, results, interpreter, version)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
