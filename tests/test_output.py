"""Result lines, the summary, the progress line and the metrics of a run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from painchain_gh import metrics
from painchain_gh.cursor import RepoState
from painchain_gh.errors import ExitCode
from painchain_gh.github.client import TokenBudget
from painchain_gh.github.pacing import Pacer
from painchain_gh.output import Progress, describe_cursor, log_result, log_summary, print_summary_table
from painchain_gh.results import RepoResult, RepoStatus, SyncReport
from tests.doubles import integration, jobs_of

JOB = jobs_of(integration("acme/api"))[0]


def report(*statuses: RepoStatus, **fields: Any) -> SyncReport:
    budget = TokenBudget("fp", reserve=0, max_concurrent=1)
    budget.remaining, budget.requests, budget.units_spent = 4000, 7, 5
    results = [RepoResult(job=JOB, status=status, forwarded=2) for status in statuses]
    return SyncReport(results=results, budgets=[budget], seconds=1.5, **fields)


def test_statuses_print_as_their_value() -> None:
    assert str(RepoStatus.NOT_MODIFIED) == "not_modified"
    assert f"{RepoStatus.FAILED}" == "failed"
    assert RepoStatus("deferred") is RepoStatus.DEFERRED


def test_quiet_results_are_debug_and_troubled_ones_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="painchain_gh"):
        log_result(RepoResult(job=JOB, status=RepoStatus.NOT_DUE))
        log_result(RepoResult(job=JOB, status=RepoStatus.FAILED, error="GitHub answered 404", warning="runs"))
        log_result(RepoResult(job=JOB, status=RepoStatus.SYNCED, new=1, forwarded=1, gap=(0, 86400)))
    levels = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert levels[0] == (logging.DEBUG, "acme/api [clx1]: not due yet (polling interval)")
    assert levels[1][0] == logging.WARNING
    assert levels[1][1].endswith("- GitHub answered 404 (warning: runs)")
    assert levels[2][0] == logging.INFO
    assert levels[3][0] == logging.WARNING and "1970-01-01T00:00:00Z and 1970-01-02T00:00:00Z" in levels[3][1]
    assert caplog.records[1].fields["status"] == "failed"  # type: ignore[attr-defined]


def test_summary_counts_every_status_and_says_why_the_run_stopped(caplog: pytest.LogCaptureFixture) -> None:
    stopped = report(RepoStatus.SYNCED, RepoStatus.DEFERRED, fatal="backend unreachable", fatal_code=ExitCode.UPSTREAM)
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        log_summary(stopped)
    assert caplog.records[0].getMessage() == "sync stopped: backend unreachable"
    last = caplog.records[-1]
    assert last.fields["synced"] == 1 and last.fields["deferred"] == 1  # type: ignore[attr-defined]
    assert last.fields["exit_code"] == 4  # type: ignore[attr-defined]
    assert last.getMessage().endswith("; stopped: backend unreachable")


def test_the_summary_lists_stream_requests_apart_from_extra_requests(caplog: pytest.LogCaptureFixture) -> None:
    kinds = {"deployments": 3, "packages": 1, "deployment_statuses": 2, "compare": 1}
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        log_summary(report(RepoStatus.SYNCED, requests_by_kind=kinds))
    message = caplog.records[-1].getMessage()
    assert "; deployment and image lists: deployments 3, packages 1;" in message
    assert "; extra requests: compare 1, deployment_statuses 2;" in message
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        log_summary(report(RepoStatus.SYNCED, requests_by_kind={"deployments": 1}))
    assert "extra requests" not in caplog.records[-1].getMessage()


def test_progress_and_table_for_people_at_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress(enabled=True)
    progress.start(2)
    seen: list[RepoResult] = []
    progress.wrap(seen.append)(RepoResult(job=JOB))
    progress.finish()
    print_summary_table(report(RepoStatus.SYNCED))
    err = capsys.readouterr().err
    assert "1/2 repositories done" in err
    assert "  synced" in err and "GitHub requests / units  7 / 5" in err
    assert len(seen) == 1


def test_describe_cursor_counts_open_runs() -> None:
    state = RepoState(last_polled_at=0)
    state.runs.runs = {"1": (0, "1:in_progress"), "2": (0, "1:completed:success")}
    assert "2 runs tracked (1 open)" in describe_cursor(state)
    assert describe_cursor(RepoState()).startswith("last polled never")


def test_metrics_file_keeps_the_last_success_after_a_failed_run(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    metrics.write_metrics_file(path, report(RepoStatus.SYNCED))
    success = metrics.previous_success(path)
    assert success is not None
    metrics.write_metrics_file(path, report(RepoStatus.FAILED))
    text = path.read_text()
    assert 'painchain_gh_last_run_repositories{status="failed"} 1.0' in text
    assert 'painchain_gh_rate_limit_remaining{token="fp"} 4000.0' in text
    assert metrics.previous_success(path) == success
    assert metrics.previous_success(tmp_path / "missing.prom") is None


def test_metrics_are_pushed_with_the_success_time_only_on_success(monkeypatch: pytest.MonkeyPatch) -> None:
    pushed: list[dict[str, Any]] = []
    monkeypatch.setattr(metrics, "pushadd_to_gateway", lambda gateway, **kwargs: pushed.append(kwargs))
    metrics.push_metrics("http://gateway.test", report(RepoStatus.SYNCED), grouping={"shard": "0-of-2"})
    metrics.push_metrics("http://gateway.test", report(RepoStatus.FAILED), grouping={})
    names = [{metric.name for metric in push["registry"].collect()} for push in pushed]
    assert "painchain_gh_last_success_timestamp_seconds" in names[0]
    assert "painchain_gh_last_success_timestamp_seconds" not in names[1]
    assert pushed[0]["grouping_key"] == {"shard": "0-of-2"}


def test_skipped_and_missing_details_are_in_the_summary_and_the_metrics(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    done = report(RepoStatus.SYNCED, details_missing={"compare": 1}, details_skipped={"push": 3, "pull_request": 2})
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        log_summary(done)
    last = caplog.records[-1]
    assert (last.fields["details_missing"], last.fields["details_skipped"]) == (1, 5)  # type: ignore[attr-defined]
    assert "; 5 first-sync history events sent without details (--backfill-details)" in last.getMessage()
    path = tmp_path / "m.prom"
    metrics.write_metrics_file(path, done)
    text = path.read_text()
    assert 'painchain_gh_last_run_details_skipped{kind="push"} 3.0' in text
    assert 'painchain_gh_last_run_details_missing{kind="compare"} 1.0' in text


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def paced_budget(fingerprint: str, clock: Clock, requests: int) -> TokenBudget:
    """A token's budget of 10 points per 10 s that ``requests`` requests went through at time 0."""
    budget = TokenBudget(fingerprint, reserve=0, max_concurrent=1, pacer=Pacer(10, 10.0, clock=clock))
    assert budget.pacer is not None
    for _ in range(requests):
        budget.pacer.reserve(1)  # 1 point a second after a burst of 2: waits of 0, 0, 1, 2, 3 s
    return budget


def test_staleness_and_points_per_token_are_in_the_summary_line_and_fields(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    budgets = [paced_budget("fp-small", clock, 2), paced_budget("fp-busy", clock, 5)]
    clock.now = 10.0
    done = SyncReport(
        results=[RepoResult(job=JOB, status=RepoStatus.SYNCED)],
        budgets=budgets,
        staleness=[10.0 * n for n in range(20)],
        never_polled=3,
    )
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        log_summary(done)
    last = caplog.records[-1]
    fields = last.fields  # type: ignore[attr-defined]
    assert (fields["staleness_max_seconds"], fields["staleness_p95_seconds"], fields["never_polled"]) == (190, 180, 3)
    assert fields["github_points_by_token"] == {"fp-busy": 5, "fp-small": 2}
    assert fields["github_wait_seconds_by_token"] == {"fp-busy": 3.0, "fp-small": 0.0}
    message = last.getMessage()
    assert "; stalest repository polled 190s ago (p95 180s), 3 never polled" in message
    assert message.endswith("; points per token: fp-busy 5 (waited 3.0s), fp-small 2 (waited 0.0s)")


def test_the_summary_line_names_five_tokens_and_counts_the_others(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    budgets = [paced_budget(f"fp-{n}", clock, n) for n in range(1, 8)]
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        log_summary(SyncReport(results=[RepoResult(job=JOB)], budgets=budgets))
    last = caplog.records[-1]
    assert last.getMessage().endswith(", fp-3 3 (waited 0.0s) and 2 more tokens")
    assert len(last.fields["github_points_by_token"]) == 7  # type: ignore[attr-defined]
    assert "0s ago (p95 0s), 0 never polled" in last.getMessage()  # nothing polled before: no staleness yet


def test_staleness_and_points_per_token_are_exported_as_metrics(tmp_path: Path) -> None:
    clock = Clock()
    budget = paced_budget("fp-busy", clock, 5)
    clock.now = 10.0
    done = SyncReport(results=[RepoResult(job=JOB)], budgets=[budget], staleness=[0.0, 40.0, 75.5], never_polled=2)
    path = tmp_path / "m.prom"
    metrics.write_metrics_file(path, done)
    text = path.read_text()
    assert 'painchain_gh_last_run_staleness_seconds{stat="max"} 75.5' in text
    assert 'painchain_gh_last_run_staleness_seconds{stat="p95"} 75.5' in text
    assert "painchain_gh_last_run_never_polled_repositories 2.0" in text
    assert 'painchain_gh_last_run_github_points{token="fp-busy"} 5.0' in text
    assert 'painchain_gh_last_run_github_pace_wait_seconds{token="fp-busy"} 3.0' in text
