"""Prometheus metrics of one run: a textfile for node-exporter, or a push to a Pushgateway.

A one-shot job cannot be scraped, so each run exports gauges describing itself
(``painchain_gh_last_run_*``) plus ``painchain_gh_last_success_timestamp_seconds``, which is
only written by a successful run: a failed run leaves the previous value in place (read back
from the textfile; kept in the Pushgateway by ``pushadd``, which replaces only the metrics
it sends). Alert on that timestamp growing old.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway, write_to_textfile

from painchain_gh.errors import ExitCode
from painchain_gh.results import RepoStatus, SyncReport

LAST_SUCCESS = "painchain_gh_last_success_timestamp_seconds"


def build_registry(report: SyncReport, *, last_success: float | None) -> CollectorRegistry:
    """The run's metrics; ``last_success`` is the time of the latest successful run, if any."""
    registry = CollectorRegistry()
    repositories = Gauge(
        "painchain_gh_last_run_repositories", "Repositories by outcome in the last run", ["status"], registry=registry
    )
    for status in RepoStatus:
        repositories.labels(status=status.value).set(report.count(status))
    simple = {
        "painchain_gh_last_run_events_forwarded": ("Events acknowledged by the backend", report.forwarded),
        "painchain_gh_last_run_events_dead_lettered": ("Events rejected for good", report.dead_lettered),
        "painchain_gh_last_run_invalid_integrations": ("Integrations skipped as invalid", len(report.invalid)),
        "painchain_gh_last_run_event_gaps": ("Repositories whose Events API window missed events", report.gaps),
        "painchain_gh_last_run_github_requests": ("GitHub requests", sum(b.requests for b in report.budgets)),
        "painchain_gh_last_run_github_rate_limit_units": (
            "Rate-limit units spent (304s are free)",
            sum(b.units_spent for b in report.budgets),
        ),
        "painchain_gh_last_run_never_polled_repositories": (
            "Repositories never polled yet (their first poll was deferred or failed)",
            report.never_polled,
        ),
        "painchain_gh_last_run_duration_seconds": ("Duration of the last run", report.seconds),
        "painchain_gh_last_run_exit_code": ("Exit code of the last run", int(report.exit_code())),
        "painchain_gh_last_run_timestamp_seconds": ("When the last run ended", time.time()),
    }
    for name, (help_text, value) in simple.items():
        Gauge(name, help_text, registry=registry).set(value)
    labelled: dict[tuple[str, str], tuple[str, Mapping[str, float]]] = {
        ("painchain_gh_last_run_github_requests_by_kind", "kind"): (
            "Extra GitHub requests by kind (enrichment, deployments, packages)",
            report.requests_by_kind,
        ),
        ("painchain_gh_last_run_details_missing", "kind"): (
            "Extra lookups that failed by kind (their events went out with details_missing)",
            report.details_missing,
        ),
        ("painchain_gh_last_run_details_skipped", "kind"): (
            "First-sync history events sent without extra lookups by kind (older than --backfill-details)",
            report.details_skipped,
        ),
        ("painchain_gh_rate_limit_remaining", "token"): (
            "Rate-limit requests left per token (by fingerprint)",
            {b.fingerprint: b.remaining for b in report.budgets if b.remaining is not None},
        ),
        ("painchain_gh_last_run_staleness_seconds", "stat"): (
            "Seconds since repositories were last polled, as the last run left them: the stalest (max) and"
            " the 95th percentile (p95); repositories never polled are counted apart",
            {"max": report.staleness_stat(1.0), "p95": report.staleness_stat(0.95)},
        ),
        ("painchain_gh_last_run_github_points", "token"): (
            "Secondary-limit points spent per token in the last run (by fingerprint; a request costs 1)",
            {b.fingerprint: b.points for b in report.budgets},
        ),
        ("painchain_gh_last_run_github_pace_wait_seconds", "token"): (
            "Seconds of the last run during which requests of a token waited for its points budget (by fingerprint)",
            {b.fingerprint: b.waited for b in report.budgets},
        ),
    }
    for (name, label), (help_text, values) in labelled.items():
        gauge = Gauge(name, help_text, [label], registry=registry)
        for key, value in values.items():
            gauge.labels(key).set(value)
    if last_success is not None:
        Gauge(LAST_SUCCESS, "When a run last ended with exit code 0", registry=registry).set(last_success)
    return registry


def previous_success(path: Path) -> float | None:
    """``painchain_gh_last_success_timestamp_seconds`` from an existing textfile, if any."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(rf"^{LAST_SUCCESS} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def write_metrics_file(path: Path, report: SyncReport) -> None:
    """Write the textfile atomically (prometheus-client writes a temporary file and renames it)."""
    success = time.time() if report.exit_code() == ExitCode.OK else previous_success(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), build_registry(report, last_success=success))


def push_metrics(gateway: str, report: SyncReport, *, grouping: dict[str, str]) -> None:
    """Push to a Pushgateway; the success timestamp only when this run succeeded."""
    success = time.time() if report.exit_code() == ExitCode.OK else None
    pushadd_to_gateway(
        gateway,
        job="painchain-gh",
        registry=build_registry(report, last_success=success),
        grouping_key=grouping,
        timeout=10,
    )
