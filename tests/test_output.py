"""Result lines, the summary, the progress line and the metrics of a run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from painchain_gh import metrics
from painchain_gh.cursor import RepoState
from painchain_gh.errors import ExitCode
from painchain_gh.github import TokenBudget
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
    assert message.endswith("; extra requests: compare 1, deployment_statuses 2")
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
