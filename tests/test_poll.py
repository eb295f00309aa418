"""One repository in-process: what is forwarded, in which order, and where the cursor ends."""

from __future__ import annotations

import time
from pathlib import Path

import requests_mock
from pydantic import SecretStr

from painchain_gh.cursor import RepoState
from painchain_gh.errors import BackendRejected, BackendTemporaryError, BackendUnavailable
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.store.deadletter import DeadLetterFile
from painchain_gh.streams.enrich import Enricher
from painchain_gh.streams.images import OwnerClaims
from painchain_gh.streams.poll import PollSettings, is_due, poll_repository
from tests.doubles import (
    API,
    TOKEN,
    ListSink,
    MemoryStore,
    client_for,
    integration,
    jobs_of,
    mock_repo,
    with_id,
    workflow_run,
)
from tests.fakes.github import issues_event, pull, pull_request_event, release_event, watch_event

SETTINGS = PollSettings(initial_lookback=86400)
JOB = jobs_of(integration("acme/api"))[0]


def poll(
    store: MemoryStore,
    sink: ListSink,
    *,
    now: float | None = None,
    settings: PollSettings = SETTINGS,
    dead_letters: DeadLetterFile | None = None,
    keep_going: bool = True,
) -> RepoResult:
    return poll_repository(
        JOB,
        client=client_for(SecretStr(TOKEN)),
        store=store,
        sink=sink,
        enricher=Enricher(),
        owners=OwnerClaims(),
        dead_letters=dead_letters,
        settings=settings,
        now=int(now if now is not None else time.time()),
        keep_going=lambda: keep_going,
    )


def test_forwards_new_events_and_runs_oldest_first_and_moves_the_cursor(
    requests_mock: requests_mock.Mocker,
) -> None:
    events = [
        with_id(release_event("v2"), 103, 100),
        with_id(watch_event(), 102, 200),
        with_id(issues_event(title="Broken login"), 101, 300),
    ]
    mock_repo(requests_mock, events=events, runs=[workflow_run(9001, 250)])
    store, sink = MemoryStore(), ListSink()

    result = poll(store, sink)

    assert result.status is RepoStatus.SYNCED
    assert (result.new, result.forwarded, result.ignored) == (3, 3, 1)
    assert result.ignored_kinds == {"unsupported:WatchEvent": 1}
    assert sink.titles == ["Issue opened: Broken login", "[Workflow] CI: success", "Release published: v2"]
    assert [tenant for tenant, _ in sink.sent] == ["tenant-a"] * 3
    state = store.repos[JOB.key]
    assert set(state.events.seen) == {"101", "102", "103"}  # the ignored star is handled too
    assert state.runs.runs["9001"][1] == "1:completed:success"
    assert state.events.etag == 'W/"acme/api-events"'
    assert state.poll_interval == 60
    assert state.last_polled_at is not None


def test_a_second_poll_sends_nothing_again_and_304_is_not_modified(requests_mock: requests_mock.Mocker) -> None:
    mock_repo(requests_mock, events=[with_id(issues_event(), 201, 60)])
    store, sink = MemoryStore(), ListSink()
    poll(store, sink, settings=PollSettings(initial_lookback=86400, force=True, sweep_interval=0))
    requests_mock.get(f"{API}/repos/acme/api/events?per_page=100", status_code=304)
    requests_mock.get(f"{API}/repos/acme/api/actions/runs?per_page=100", status_code=304)
    requests_mock.get(f"{API}/repos/acme/api/deployments?per_page=100", status_code=304)

    again = poll(store, sink, settings=PollSettings(initial_lookback=86400, force=True, sweep_interval=0))

    assert again.status is RepoStatus.NOT_MODIFIED
    assert len(sink.sent) == 1
    assert requests_mock.last_request is not None
    assert requests_mock.last_request.headers["If-None-Match"] == 'W/"acme/api-deployments"'


def test_not_due_touches_nothing(requests_mock: requests_mock.Mocker) -> None:
    now = int(time.time())
    store = MemoryStore({JOB.key: RepoState(last_polled_at=now - 10, poll_interval=60)})
    result = poll(store, ListSink(), now=now)
    assert result.status is RepoStatus.NOT_DUE
    assert requests_mock.call_count == 0
    assert not is_due(RepoState(last_polled_at=now - 10, poll_interval=60), interval=None, now=now, settings=SETTINGS)
    assert is_due(RepoState(last_polled_at=now - 56, poll_interval=60), interval=None, now=now, settings=SETTINGS)


def test_unreadable_runs_are_a_warning_and_events_still_flow(requests_mock: requests_mock.Mocker) -> None:
    mock_repo(requests_mock, events=[with_id(issues_event(), 301, 60)], runs_status=403)
    sink = ListSink()
    result = poll(MemoryStore(), sink)
    assert result.status is RepoStatus.SYNCED
    assert result.warning is not None and "workflow runs not readable" in result.warning
    assert len(sink.sent) == 1


def test_trimmed_pull_request_is_enriched_once_and_a_redundant_close_is_skipped(
    requests_mock: requests_mock.Mocker,
) -> None:
    events = [
        with_id(pull_request_event("closed", 7, repo="acme/api"), 403, 100),
        with_id(pull_request_event("merged", 7, repo="acme/api"), 402, 100),
        with_id(pull_request_event("opened", 7, repo="acme/api"), 401, 300),
    ]
    mock_repo(requests_mock, events=events)
    listed = requests_mock.get(
        f"{API}/repos/acme/api/pulls?state=all&sort=updated&direction=desc&per_page=100", json=[]
    )
    details = requests_mock.get(
        f"{API}/repos/acme/api/pulls/7", json=pull(7, "Add retries", merged=True, repo="acme/api")
    )
    reviews = requests_mock.get(f"{API}/repos/acme/api/pulls/7/reviews?per_page=100", json=[])
    files = requests_mock.get(f"{API}/repos/acme/api/pulls/7/files?per_page=100", json=[])
    sink = ListSink()
    result = poll(MemoryStore(), sink)
    # every event of #7 needs the full object: the list would add nothing
    assert (listed.call_count, details.call_count, reviews.call_count, files.call_count) == (0, 1, 1, 1)
    assert result.forwarded == 2
    assert result.ignored_kinds == {"ignored:pull_request.closed_with_merged": 1}
    assert all("Add retries" in title for title in sink.titles)


def test_malformed_items_are_counted_not_fatal(requests_mock: requests_mock.Mocker) -> None:
    mock_repo(requests_mock, events=[{"id": "x"}, "junk", with_id(issues_event(), 501, 60)], runs=["junk"])  # type: ignore[list-item]
    result = poll(MemoryStore(), ListSink())
    assert result.ignored_kinds["malformed"] == 3
    assert result.forwarded == 1


def failing_sink(error: Exception) -> ListSink:
    return ListSink(fail=lambda event: error if "second" in event.title else None)


def two_issues(requests_mock: requests_mock.Mocker) -> None:
    events = [with_id(issues_event(title="second"), 602, 60), with_id(issues_event(title="first"), 601, 120)]
    mock_repo(requests_mock, events=events)


def test_a_temporary_backend_error_fails_the_repository_keeping_what_was_acknowledged(
    requests_mock: requests_mock.Mocker,
) -> None:
    two_issues(requests_mock)
    store = MemoryStore()
    result = poll(store, failing_sink(BackendTemporaryError("backend kept answering 503")))
    assert result.status is RepoStatus.FAILED
    assert result.forwarded == 1
    assert result.fatal is None
    assert store.recorded == [(JOB.key, "601")]
    assert store.repos[JOB.key].last_polled_at is None  # no ETag or poll time: the next run retries


def test_an_unreachable_backend_defers_the_repository_and_marks_the_run_fatal(
    requests_mock: requests_mock.Mocker,
) -> None:
    two_issues(requests_mock)
    result = poll(MemoryStore(), failing_sink(BackendUnavailable("backend unreachable")))
    assert result.status is RepoStatus.DEFERRED
    assert isinstance(result.fatal, BackendUnavailable)


def test_a_rejected_event_is_dead_lettered_and_handled(requests_mock: requests_mock.Mocker, tmp_path: Path) -> None:
    two_issues(requests_mock)
    letters = DeadLetterFile(tmp_path / "dead.jsonl")
    store = MemoryStore()
    result = poll(store, failing_sink(BackendRejected("backend rejected", status=400)), dead_letters=letters)
    assert result.status is RepoStatus.SYNCED
    assert (result.forwarded, result.dead_lettered) == (1, 1)
    assert [letter.status for letter in letters.read()] == [400]
    assert set(store.repos[JOB.key].events.seen) == {"601", "602"}


def test_a_stopped_run_defers_before_sending(requests_mock: requests_mock.Mocker) -> None:
    two_issues(requests_mock)
    sink = ListSink()
    result = poll(MemoryStore(), sink, keep_going=False)
    assert result.status is RepoStatus.DEFERRED
    assert sink.sent == []
