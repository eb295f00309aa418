"""What a run tells people and machines: log setup (text or JSON lines), result and summary lines.

Logs go to stderr; stdout is reserved for ``--dry-run`` events. Every record passes through
a redacting filter that replaces any known secret, as a last line of defence.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from painchain_gh import secrets
from painchain_gh.cursor import RepoState
from painchain_gh.github.client import TokenBudget
from painchain_gh.results import QUIET, UNFINISHED, RepoResult, RepoStatus, SyncReport
from painchain_gh.text import EscapeForText
from painchain_gh.timeutil import format_time
from painchain_gh.transform.runs import RunState

log = logging.getLogger("painchain_gh")
_WARNING_LINE = re.compile(r"^.*?:\d+: \w+: (.*)$")


class RedactSecrets(logging.Filter):
    """Replaces every registered secret (see :mod:`painchain_gh.secrets`) in a record's message and in
    each text value of its fields with ``***``, before anything is encoded."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        record.msg = secrets.scrub(record.getMessage())
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = secrets.scrub_values(fields)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as JSON."""
        payload: dict[str, Any] = {
            "time": format_time(record.created),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        return json.dumps(payload, default=str, ensure_ascii=True)  # lone surrogates cannot crash the log


def configure_logging(*, json_format: bool, verbose: bool, known_secrets: Iterable[str] = ()) -> None:
    """Send the package's logs to stderr in the chosen format, scrubbed of every known secret.

    Warnings of the libraries underneath (Python's ``warnings``, e.g. PyJWT's) go through the same
    handler as one warning record, never raw to stderr (which would break JSON-lines logs).
    """
    secrets.register(known_secrets, trusted=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(OneLineWarnings())
    handler.addFilter(RedactSecrets())
    if not json_format:  # JSON escapes by itself; text logs need control characters made visible
        handler.addFilter(EscapeForText())
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    logging.captureWarnings(True)
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.handlers[:] = [handler]
    warnings_log.propagate = False


class OneLineWarnings(logging.Filter):
    """A library warning (``py.warnings``) as one plain line: its message, without the source line
    that ``warnings`` appends, tagged ``event: library_warning``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite warnings in place; other records pass unchanged."""
        if record.name != "py.warnings":
            return True
        text = record.getMessage()
        first = text.strip().splitlines()[0] if text.strip() else "warning"
        # "path:line: Category: message" -> "message": no file path of the installation, no class name
        match = _WARNING_LINE.match(first)
        record.msg = "library warning: " + (match.group(1) if match else first)
        record.args = None
        record.levelname = "WARNING"
        record.fields = {"event": "library_warning"}
        return True


def log_result(result: RepoResult) -> None:
    """One line per repository: new, forwarded, ignored, errors."""
    job = result.job
    fields: dict[str, Any] = {
        "event": "repository",
        "integration": job.integration.id,
        "tenant": job.integration.tenant_id,
        "repository": job.repository.full_name,
        "status": str(result.status),
        "new": result.new,
        "forwarded": result.forwarded,
        "ignored": result.ignored,
        "dead_lettered": result.dead_lettered,
        "duration_ms": round(result.seconds * 1000),
    }
    if result.error:
        fields["error"] = result.error
    if result.status in QUIET and not result.warning:
        # Quiet repositories are most of a large installation: their lines only with --verbose.
        reason = {
            RepoStatus.NOT_DUE: "not due yet (polling interval)",
            RepoStatus.GONE: "no longer listed by its integration (not found)",
        }.get(result.status, "not modified (304)")
        log.debug("%s: %s", job.label, reason, extra={"fields": fields})
        return
    text = (
        f"{job.label}: {result.status}, {result.new} new, {result.forwarded} forwarded, "
        f"{result.ignored} ignored, {result.dead_lettered} dead-lettered"
    )
    if result.error:
        text += f" - {result.error}"
    if result.warning:
        fields["warning"] = result.warning
        text += f" (warning: {result.warning})"
    troubled = result.status in UNFINISHED or result.dead_lettered or result.warning
    level = logging.WARNING if troubled else logging.INFO
    log.log(level, text, extra={"fields": fields})
    if result.gap:
        start, end = result.gap
        log.warning(
            "%s: GitHub's Events API window (300 events, 30 days) does not reach back to the last event seen; "
            "events between %s and %s may be missing",
            job.label,
            format_time(start),
            format_time(end),
            extra={"fields": {**fields, "event": "gap", "gap_from": format_time(start), "gap_to": format_time(end)}},
        )


def summary_fields(report: SyncReport) -> dict[str, Any]:
    """The numbers of a run, as logged and exported."""
    return {
        "event": "summary",
        "repositories": len(report.results),
        **{status.value: report.count(status) for status in RepoStatus},
        "invalid_integrations": len(report.invalid),
        "forwarded": report.forwarded,
        "dead_lettered": report.dead_lettered,
        "gaps": report.gaps,
        "github_requests": sum(budget.requests for budget in report.budgets),
        "github_units": sum(budget.units_spent for budget in report.budgets),
        "github_requests_by_kind": dict(sorted(report.requests_by_kind.items())),
        "details_missing": sum(report.details_missing.values()),
        "details_skipped": sum(report.details_skipped.values()),
        "staleness_max_seconds": round(report.staleness_stat(1.0), 1),
        "staleness_p95_seconds": round(report.staleness_stat(0.95), 1),
        "never_polled": report.never_polled,
        "github_points_by_token": {budget.fingerprint: budget.points for budget in sorted_budgets(report)},
        "github_wait_seconds_by_token": {
            budget.fingerprint: round(budget.waited, 1) for budget in sorted_budgets(report)
        },
        "duration_ms": round(report.seconds * 1000),
        "exit_code": int(report.exit_code()),
    }


SHOWN_TOKENS = 5  # tokens named in the summary line (the JSON summary and the metrics have them all)


def sorted_budgets(report: SyncReport) -> list[TokenBudget]:
    """The run's tokens, the most points spent first (then by fingerprint, so the order is stable)."""
    return sorted(report.budgets, key=lambda budget: (-budget.points, budget.fingerprint))


def describe_staleness(fields: dict[str, Any]) -> str:
    """``stalest repository polled 125s ago (p95 30s), 3 never polled``."""
    return (
        f"stalest repository polled {fields['staleness_max_seconds']:g}s ago "
        f"(p95 {fields['staleness_p95_seconds']:g}s), {fields['never_polled']} never polled"
    )


def describe_tokens(report: SyncReport) -> str:
    """``points per token: 1a2b3c4d5e6f7a8b 540 (waited 12.3s), ...`` (at most :data:`SHOWN_TOKENS`)."""
    budgets = sorted_budgets(report)
    shown = ", ".join(f"{b.fingerprint} {b.points} (waited {b.waited:.1f}s)" for b in budgets[:SHOWN_TOKENS])
    more = len(budgets) - SHOWN_TOKENS
    return "points per token: " + shown + (f" and {more} more tokens" if more > 0 else "")


# Requests of the deployments and container images streams: lists read like the events and runs
# lists, not lookups made for one event, so the summary does not call them extra requests.
STREAM_KINDS = frozenset({"deployments", "packages"})


def describe_kinds(counts: dict[str, int]) -> str:
    """``compare 3, pull_list 2`` (sorted by kind), or ``none``."""
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"


def split_kinds(counts: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Requests by kind as (stream lists, extra requests made for events)."""
    streams = {kind: n for kind, n in counts.items() if kind in STREAM_KINDS}
    return streams, {kind: n for kind, n in counts.items() if kind not in STREAM_KINDS}


def log_summary(report: SyncReport) -> None:
    """The final line of a run (after the reason it stopped early, if it did)."""
    fields = summary_fields(report)
    forwarded = (
        f"would forward {fields['forwarded']} events (dry run)"
        if report.dry_run
        else f"{fields['forwarded']} events forwarded"
    )
    if report.fatal and report.results:  # a fatal error before any repository was logged by the CLI already
        log.error(
            "sync stopped: %s", report.fatal, extra={"fields": {"event": "error", "exit_code": int(report.fatal_code)}}
        )
    text = (
        f"sync finished in {report.seconds:.1f}s: {fields['repositories']} repositories "
        f"({fields['synced']} synced, {fields['not_modified']} not modified, {fields['not_due']} not due, "
        f"{fields['failed']} failed, {fields['deferred']} deferred), {forwarded}, "
        f"{fields['dead_lettered']} dead-lettered, {fields['invalid_integrations']} invalid integrations, "
        f"{fields['gaps']} possible gaps, {fields['github_requests']} GitHub requests "
        f"({fields['github_units']} rate-limit units)"
    )
    streams, extra = split_kinds(report.requests_by_kind)
    if streams:
        text += "; deployment and image lists: " + describe_kinds(streams)
    if extra:
        text += "; extra requests: " + describe_kinds(extra)
    if fields["details_missing"]:
        text += f"; {fields['details_missing']} lookups failed (events sent with details_missing)"
    if fields["details_skipped"]:
        text += f"; {fields['details_skipped']} first-sync history events sent without details (--backfill-details)"
    if report.results:
        text += "; " + describe_staleness(fields)
    if report.budgets:
        text += "; " + describe_tokens(report)
    if report.fatal:
        text += f"; stopped: {report.fatal}"
    level = logging.INFO if report.exit_code() == 0 else logging.WARNING
    log.log(level, text, extra={"fields": fields})


class Progress:
    """``repositories done of total`` on one self-rewriting stderr line, for people at a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.total = 0
        self.done = 0
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        """Called once the number of repositories is known."""
        self.total = total

    def wrap(self, callback: Callable[[RepoResult], None]) -> Callable[[RepoResult], None]:
        """``callback`` followed by a progress update."""

        def both(result: RepoResult) -> None:
            with self._lock:
                if self.enabled:
                    sys.stderr.write("\r\033[K")
                callback(result)
                self.done += 1
                if self.enabled:
                    sys.stderr.write(f"{self.done}/{self.total} repositories done")
                    sys.stderr.flush()

        return both

    def finish(self) -> None:
        """Clear the progress line."""
        if self.enabled and self.done:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def print_summary_table(report: SyncReport) -> None:
    """A small table of outcomes, for people at a terminal."""
    fields = summary_fields(report)
    rows = [
        ("synced", fields["synced"]),
        ("not modified (304)", fields["not_modified"]),
        ("not due yet", fields["not_due"]),
        ("failed", fields["failed"]),
        ("deferred", fields["deferred"]),
        ("events would forward (dry run)" if report.dry_run else "events forwarded", fields["forwarded"]),
        ("events dead-lettered", fields["dead_lettered"]),
        ("invalid integrations", fields["invalid_integrations"]),
        ("GitHub requests / units", f"{fields['github_requests']} / {fields['github_units']}"),
        ("deployment/image lists", describe_kinds(split_kinds(report.requests_by_kind)[0])),
        ("extra requests by kind", describe_kinds(split_kinds(report.requests_by_kind)[1])),
        (
            "staleness max / p95",
            f"{fields['staleness_max_seconds']:g}s / {fields['staleness_p95_seconds']:g}s",
        ),
        ("never polled yet", fields["never_polled"]),
    ]
    rows += [
        (f"token {budget.fingerprint}", f"{budget.points} points, waited {budget.waited:.1f}s")
        for budget in sorted_budgets(report)[:SHOWN_TOKENS]
    ]
    width = max(len(name) for name, _ in rows)
    sys.stderr.write("".join(f"  {name:<{width}}  {value}\n" for name, value in rows))


def describe_cursor(state: RepoState) -> str:
    """One repository's cursors in words, for ``state show``."""
    polled = format_time(state.last_polled_at) if state.last_polled_at else "never"
    open_runs = sum(1 for _, run_state in state.runs.runs.values() if not RunState.parse(run_state).is_completed)
    floor = format_time(state.events.floor) if state.events.floor else "-"
    return (
        f"last polled {polled}; {len(state.events.seen)} events seen (floor {floor}); "
        f"{len(state.runs.runs)} runs tracked ({open_runs} open); "
        f"ETags: events {'yes' if state.events.etag else 'no'}, runs {'yes' if state.runs.etag else 'no'}; "
        f"{len(state.deployments.statuses)} deployment statuses sent"
        + (f"; {len(state.images.versions)} container image versions sent" if state.images is not None else "")
    )
