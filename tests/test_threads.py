"""The side pool: calls run on daemon threads, results and errors come back, and a repository's
streams are requested side by side."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from pydantic import SecretStr

from painchain_gh.enrich import Enricher
from painchain_gh.github import GitHubClient, TokenBudget
from painchain_gh.http import Deadline
from painchain_gh.poll import PollSettings, poll_repository
from painchain_gh.poll_images import OwnerClaims
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.threads import SidePool
from tests.doubles import ListSink, MemoryStore, integration, jobs_of
from tests.fakes import FakeGitHub
from tests.fakes.github import DEFAULT_TOKEN, issues_event


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


def test_a_repository_s_runs_and_deployments_are_in_flight_together() -> None:
    """The fake GitHub holds both requests: only requests sent side by side are held at once."""
    with FakeGitHub() as github:
        github.add_event("acme", "api", issues_event(title="x"))
        github.add_run("acme", "api", {"status": "completed", "conclusion": "success"})
        github.hold("GET", r"/repos/acme/api/(actions/runs|deployments)$")
        client = GitHubClient(
            session=requests.Session(),
            api_url=github.url,
            token=SecretStr(DEFAULT_TOKEN),
            budget=TokenBudget("fingerprint", reserve=0, max_concurrent=4),
            deadline=Deadline(30),
        )
        sink, pool = ListSink(), SidePool(workers=4)
        job = jobs_of(integration("acme/api"))[0]
        done: list[RepoResult] = []
        poller = threading.Thread(
            target=lambda: done.append(
                poll_repository(
                    job,
                    client=client,
                    store=MemoryStore(),
                    sink=sink,
                    enricher=Enricher(),
                    owners=OwnerClaims(),
                    dead_letters=None,
                    settings=PollSettings(initial_lookback=86400),
                    now=int(time.time()),
                    keep_going=lambda: True,
                    side=pool,
                )
            )
        )
        poller.start()
        give_up = time.monotonic() + 5
        while github.held_count() < 2 and time.monotonic() < give_up:
            time.sleep(0.01)
        held = github.held_count()
        github.release()
        poller.join(timeout=10)
        pool.close()

    assert held == 2
    [result] = done
    assert result.status is RepoStatus.SYNCED, result.error
    assert sorted(sink.titles) == ["Issue opened: x", "[Workflow] CI: success"]
