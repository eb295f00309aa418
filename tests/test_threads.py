"""The side pool: calls run on daemon threads, results and errors come back, and a repository's
streams are requested side by side."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import requests
from pydantic import SecretStr

from painchain_gh.errors import GitHubRepoError
from painchain_gh.github.client import GitHubClient, TokenBudget
from painchain_gh.http import Deadline
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.streams.enrich import Enricher
from painchain_gh.streams.images import OwnerClaims
from painchain_gh.streams.poll import PollSettings, poll_repository
from painchain_gh.threads import SidePool
from tests.doubles import ListSink, MemoryStore, integration, jobs_of
from tests.fakes import FakeGitHub
from tests.fakes.github import DEFAULT_TOKEN, issues_event

FINGERPRINT = "fingerprint"
KEY = jobs_of(integration("acme/api"))[0].key


def test_results_and_errors_come_back_through_the_futures() -> None:
    pool = SidePool(workers=2)
    good = pool.submit(lambda: 21 * 2)
    bad = pool.submit(lambda: int("not a number"))

    assert good.result(timeout=5) == 42
    with pytest.raises(ValueError, match="not a number"):
        bad.result(timeout=5)
    pool.close()


def test_threads_are_daemons_and_never_more_than_asked() -> None:
    pool = SidePool(workers=3, name="probe")
    release = threading.Event()
    futures = [pool.submit(release.wait) for _ in range(10)]
    time.sleep(0.05)
    probes = [thread for thread in threading.enumerate() if thread.name.startswith("probe-")]

    assert len(probes) == 3
    assert all(thread.daemon for thread in probes)
    release.set()
    assert all(future.result(timeout=5) for future in futures)
    pool.close()


def poll_held(github: FakeGitHub, store: MemoryStore, held_paths: str, wanted: int) -> tuple[int, RepoResult, ListSink]:
    """Poll acme/api with a side pool while ``held_paths`` are held; how many were held at once."""
    github.hold("GET", held_paths)
    client = GitHubClient(
        session=requests.Session(),
        api_url=github.url,
        token=SecretStr(DEFAULT_TOKEN),
        budget=TokenBudget(FINGERPRINT, reserve=0, max_concurrent=4),
        deadline=Deadline(30),
    )
    sink, pool = ListSink(), SidePool(workers=4)
    done: list[RepoResult] = []
    failed: list[GitHubRepoError] = []

    def poll() -> None:
        try:
            done.append(
                poll_repository(
                    jobs_of(integration("acme/api"))[0],
                    client=client,
                    store=store,
                    sink=sink,
                    enricher=Enricher(),
                    owners=OwnerClaims(),
                    dead_letters=None,
                    settings=PollSettings(initial_lookback=86400, force=True, sweep_interval=0),
                    now=int(time.time()),
                    keep_going=lambda: True,
                    side=pool,
                )
            )
        except GitHubRepoError as error:
            failed.append(error)

    poller = threading.Thread(target=poll)
    poller.start()
    give_up = time.monotonic() + 3
    while github.held_count() < wanted and time.monotonic() < give_up:
        time.sleep(0.01)
    held = github.held_count()
    github.release()
    poller.join(timeout=10)
    pool.close()
    if failed:
        raise failed[0]
    return held, done[0], sink


def test_a_new_repository_asks_for_its_events_first_then_runs_and_deployments_together() -> None:
    with FakeGitHub() as github:
        github.add_event("acme", "api", issues_event(title="x"))
        github.add_run("acme", "api", {"status": "completed", "conclusion": "success"})

        held, result, sink = poll_held(github, MemoryStore(), r"/repos/acme/api/(actions/runs|deployments)$", 2)
        events_first = next(request.path for request in github.requests_to("GET", "/repos/acme/api/"))

    assert held == 2
    assert events_first == "/repos/acme/api/events"
    assert result.status is RepoStatus.SYNCED, result.error
    assert sorted(sink.titles) == ["Issue opened: x", "[Workflow] CI: success"]


def test_a_known_repository_has_its_three_streams_in_flight_together() -> None:
    with FakeGitHub() as github:
        github.add_event("acme", "api", issues_event(title="x"))
        store = MemoryStore()
        first_held, _, _ = poll_held(github, store, r"^$", 0)  # a first poll leaves this token's ETags
        held, result, sink = poll_held(github, store, r"/repos/acme/api/(events|actions/runs|deployments)$", 3)

    assert (first_held, held) == (0, 3)
    assert result.status is RepoStatus.NOT_MODIFIED, result.error
    assert sink.sent == []


def test_a_known_repository_that_fails_asks_for_its_events_alone_next_time() -> None:
    with FakeGitHub() as github:
        github.add_event("acme", "api", issues_event(title="x"))
        store = MemoryStore()
        poll_held(github, store, r"^$", 0)
        github.fail_next("GET", "/repos/acme/api/events$", 404, count=2, body={"message": "Not Found"})
        for _ in range(2):
            with contextlib.suppress(GitHubRepoError):
                poll_held(github, store, r"^$", 0)
        paths = [request.path for request in github.requests_to("GET", "/repos/acme/api/")]

    assert store.repos[KEY].events.etag is None
    assert len(paths) == 3 + 3 + 1  # first poll; failing poll with all three in flight; then the events alone
