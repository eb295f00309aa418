"""The run in-process: failures stay within their scope, and a stuck thread cannot hold the run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
import requests_mock

from painchain_gh.errors import BackendUnavailable, DeadlineReached, ExitCode, GitHubRateLimited, StateError
from painchain_gh.github.client import GitHubClient, TokenBudget, TokenSource
from painchain_gh.jobs import RepoJob
from painchain_gh.results import RepoResult, RepoStatus, SyncReport
from painchain_gh.streams.poll import PollSettings
from painchain_gh.sync import DEADLINE_GRACE, run_sync
from painchain_gh.transform import PainChainEvent
from painchain_gh.workers import run_in_threads
from tests.doubles import API, ListSink, MemoryStore, factory, integration, jobs_of, mock_repo, with_id
from tests.fakes.github import issues_event


def sync(
    jobs: list[RepoJob],
    store: MemoryStore,
    sink: ListSink,
    *,
    expired: bool | Callable[[], bool] = False,
    client_factory: object = factory,
    concurrency: int = 2,
    on_result: Callable[[RepoResult], None] = lambda result: None,
    grace: float = DEADLINE_GRACE,
) -> SyncReport:
    return run_sync(
        jobs,
        store=store,
        sink=sink,
        client_factory=client_factory,  # type: ignore[arg-type]
        settings=PollSettings(initial_lookback=86400),
        concurrency=concurrency,
        rate_limit_reserve=0,
        per_token_concurrency=concurrency,
        dead_letters=None,
        deadline_expired=expired if callable(expired) else lambda: expired,
        on_result=on_result,
        grace=grace,
    )


def three_repos(requests_mock: requests_mock.Mocker) -> list[RepoJob]:
    for number, name in enumerate(("acme/one", "acme/two", "acme/three")):
        mock_repo(requests_mock, name, events=[with_id(issues_event(title=name), 700 + number, 60)])
    return jobs_of(integration("acme/one", "acme/two", "acme/three"))


def test_an_unexpected_exception_fails_only_its_repository(
    requests_mock: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = three_repos(requests_mock)
    sink = ListSink(fail=lambda event: ValueError("boom\nsecond line") if "acme/two" in event.title else None)

    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        report = sync(jobs, MemoryStore(), sink)

    by_repo = {result.job.repository.full_name: result for result in report.results}
    assert by_repo["acme/two"].status is RepoStatus.FAILED
    assert by_repo["acme/two"].error == "unexpected error: ValueError: boom"
    assert {by_repo["acme/one"].status, by_repo["acme/three"].status} == {RepoStatus.SYNCED}
    assert sorted(sink.titles) == ["Issue opened: acme/one", "Issue opened: acme/three"]
    assert report.fatal is None
    assert report.exit_code() == ExitCode.PARTIAL
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "acme/two" in errors[0].getMessage()
    assert "Traceback" not in errors[0].getMessage()


def test_the_traceback_of_an_unexpected_exception_is_logged_at_debug_only(
    requests_mock: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = three_repos(requests_mock)
    sink = ListSink(fail=lambda event: KeyError("k") if "acme/one" in event.title else None)
    with caplog.at_level(logging.DEBUG, logger="painchain_gh"):
        sync(jobs, MemoryStore(), sink)
    tracebacks = [record for record in caplog.records if "Traceback" in record.getMessage()]
    assert [record.levelno for record in tracebacks] == [logging.DEBUG]


def test_a_rejected_token_stops_its_integration_only(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{API}/repos/bad/one/events?per_page=100", status_code=401, json={"message": "Bad credentials"})
    mock_repo(requests_mock, "good/one", events=[with_id(issues_event(), 801, 60)])
    jobs = jobs_of(
        integration("bad/one", "bad/two", identifier="bad", token="ghp_rejected_token"),
        integration("good/one", identifier="good"),
    )
    store, sink = MemoryStore(), ListSink()
    report = sync(jobs, store, sink, concurrency=1)
    by_repo = {result.job.repository.full_name: result for result in report.results}
    assert by_repo["bad/one"].status is RepoStatus.FAILED
    assert by_repo["bad/two"].status is RepoStatus.FAILED
    assert "its repositories are skipped" in (by_repo["bad/two"].error or "")
    assert by_repo["good/one"].status is RepoStatus.SYNCED
    assert len(report.warnings) == 1
    assert report.fatal is None


def raising_factory(error: Exception, *, only: str | None = None) -> object:
    def make(api_url: str, token: TokenSource, budget: TokenBudget, scope: str = "") -> GitHubClient:
        client = factory(api_url, token, budget, scope)
        original = client.iter_pages

        def iter_pages(path: str, *, etag: str | None, list_key: str | None = None):  # type: ignore[no-untyped-def]
            if only is None or only in path:
                raise error
            return original(path, etag=etag, list_key=list_key)

        client.iter_pages = iter_pages  # type: ignore[method-assign]
        return client

    return make


@pytest.mark.parametrize(
    ("error", "status", "fatal"),
    [
        (GitHubRateLimited("token rate limit exhausted"), RepoStatus.DEFERRED, None),
        (DeadlineReached("the run's deadline (--max-runtime) was reached"), RepoStatus.DEFERRED, None),
        (StateError("cannot write the journal"), RepoStatus.FAILED, ExitCode.STATE),
    ],
)
def test_known_failures_are_looked_up_by_scope(
    requests_mock: requests_mock.Mocker, error: Exception, status: RepoStatus, fatal: ExitCode | None
) -> None:
    jobs = three_repos(requests_mock)
    report = sync(jobs, MemoryStore(), ListSink(), client_factory=raising_factory(error, only="acme/one"))
    first = next(result for result in report.results if result.job.repository.full_name == "acme/one")
    assert first.status is status
    assert first.error == str(error)
    if fatal is None:
        assert report.fatal is None
    else:
        assert report.fatal == str(error)
        assert report.exit_code() == fatal


def test_an_unreachable_backend_stops_the_run_and_defers_the_rest(requests_mock: requests_mock.Mocker) -> None:
    jobs = three_repos(requests_mock)
    sink = ListSink(fail=lambda event: BackendUnavailable("backend unreachable"))
    report = sync(jobs, MemoryStore(), sink, concurrency=1)
    assert report.fatal == "backend unreachable"
    assert report.exit_code() == ExitCode.UPSTREAM
    assert [result.status for result in report.results] == [RepoStatus.DEFERRED] * 3


def test_an_expired_deadline_defers_every_repository_without_a_request(requests_mock: requests_mock.Mocker) -> None:
    jobs = three_repos(requests_mock)
    report = sync(jobs, MemoryStore(), ListSink(), expired=True)
    assert [result.status for result in report.results] == [RepoStatus.DEFERRED] * 3
    assert requests_mock.call_count == 0
    assert report.exit_code() == ExitCode.PARTIAL


def test_results_come_back_in_job_order_and_a_crash_of_the_pool_is_re_raised() -> None:
    assert run_in_threads(lambda n: n * 2, [3, 1, 2], workers=2, unfinished=lambda n: -1) == [6, 2, 4]

    def explode(n: int) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_in_threads(explode, [1, 2], workers=1, unfinished=lambda n: -1)


def test_a_thread_stuck_in_io_does_not_hold_the_run_past_the_deadline_and_grace() -> None:
    release = threading.Event()
    expired = threading.Event()

    def work(n: int) -> str:
        if n == 0:
            expired.set()  # the deadline passes while this job is stuck
            release.wait(30)
            return "late"
        return "done"

    started = time.monotonic()
    try:
        results = run_in_threads(
            work, [0, 1, 2], workers=2, unfinished=lambda n: "deferred", deadline_expired=expired.is_set, grace=0.2
        )
    finally:
        release.set()
    assert results == ["deferred", "done", "done"]
    assert time.monotonic() - started < 5


def test_unfinished_repositories_are_reported_as_deferred(requests_mock: requests_mock.Mocker) -> None:
    jobs = jobs_of(integration("acme/stuck"))
    release = threading.Event()
    expired = threading.Event()

    def stuck(event: PainChainEvent) -> Exception | None:
        expired.set()
        release.wait(30)
        return None

    mock_repo(requests_mock, "acme/stuck", events=[with_id(issues_event(), 901, 60)])
    sink = ListSink(fail=stuck)
    seen: list[RepoResult] = []
    try:
        report = sync(
            jobs, MemoryStore(), sink, expired=expired.is_set, concurrency=1, on_result=seen.append, grace=0.2
        )
    finally:
        release.set()
    assert [result.status for result in report.results] == [RepoStatus.DEFERRED]
    assert "in progress" in (report.results[0].error or "")
    assert seen == report.results


def test_repositories_keep_their_place_from_run_to_run_after_a_deferral(requests_mock: requests_mock.Mocker) -> None:
    names = [f"acme/repo-{letter}" for letter in "abcde"]
    for number, name in enumerate(names):
        mock_repo(requests_mock, name, events=[with_id(issues_event(title=name), 800 + number, 60)])
    jobs = jobs_of(integration(*names))
    store, started = MemoryStore(), 1_700_000_000

    def run(number: int, *, stop_after: int | None = None) -> list[str]:
        polled: list[str] = []

        def on_result(result: RepoResult) -> None:
            if result.status is not RepoStatus.DEFERRED:
                polled.append(result.job.repository.full_name)

        run_sync(
            jobs,
            store=store,
            sink=ListSink(),
            client_factory=factory,
            settings=PollSettings(initial_lookback=86400),
            concurrency=1,
            rate_limit_reserve=0,
            per_token_concurrency=1,
            dead_letters=None,
            deadline_expired=lambda: stop_after is not None and len(polled) >= stop_after,
            on_result=on_result,
            clock=lambda: started + 300 * number,
        )
        return polled

    assert run(0, stop_after=3) == names[:3]  # the deadline leaves d and e for the next run
    caught_up = names[3:] + names[:3]
    assert run(1) == caught_up  # the deferred first
    assert run(2) == caught_up  # and each keeps its place: d and e are not sent to the back
    assert run(3) == caught_up
