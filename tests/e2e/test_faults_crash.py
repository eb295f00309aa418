"""Failure modes 1 and 2: ``kill -9`` at any moment, and two syncs on the same state."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Connector
from tests.e2e.faults_support import (
    add_integration,
    all_answered,
    error_lines,
    finish,
    kill9,
    print_figures,
    seed_issues,
    seen_external_ids,
    start_and_hold,
    state_json,
    wait_until,
)
from tests.fakes.github import utc_iso

EVENTS = 6
TOTAL = EVENTS + 2  # and two workflow runs


def seed(connector: Connector) -> list[str]:
    """Six issue events and two workflow runs in acme/api-gateway; returns every expected externalId."""
    expected = seed_issues(connector.github, count=EVENTS)
    for number, status in enumerate(("in_progress", "queued"), start=1):
        created = utc_iso(connector.github.clock() - 300 + number)
        run = connector.github.add_run("acme", "api-gateway", {"status": status, "created_at": created})
        expected.append(f"github-run-{run['id']}-1-{status}")
    add_integration(connector)
    connector.backend.dedupe = False  # every POST becomes a row: duplicates are visible
    return expected


# moment: (server, method, path, requests let through, events acknowledged before the kill, POSTs in flight)
KILL_POINTS = {
    "while fetching from GitHub": ("github", "GET", r"/events$", 0, 0, 0),
    "in the middle of the POSTs": ("backend", "POST", r"/events$", 3, 3, 1),
    "on the last POST": ("backend", "POST", r"/events$", TOTAL - 1, TOTAL - 1, 1),
    "after every acknowledgement, before the state file is written": ("backend", "PUT", r"/integrations/", 0, TOTAL, 0),
}


@pytest.mark.parametrize("moment", list(KILL_POINTS))
def test_kill_9_loses_nothing_and_resends_at_most_the_event_in_flight(connector: Connector, moment: str) -> None:
    """Crash safety: after ``kill -9`` the next run delivers every event; only an in-flight POST is sent twice."""
    expected = seed(connector)
    server_name, method, path, after, acknowledged, in_flight = KILL_POINTS[moment]
    server = connector.github if server_name == "github" else connector.backend

    process = start_and_hold(connector, server, method, path, after)
    kill9(process)
    server.release()  # the POST in flight reaches the backend after all, but its answer finds no one
    wait_until(lambda: all_answered(server), what="the held request to be served")
    assert len(connector.backend.events) == acknowledged + in_flight

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    lost, twice = print_figures(f"kill -9 {moment}", connector.backend, expected)
    assert lost == 0
    assert twice == in_flight
    assert len(connector.backend.events) == len(expected) + in_flight
    # the journal was folded into the state file, which now covers every event: nothing left to send
    assert not connector.state_dir.joinpath("state.json.journal").exists()
    assert seen_external_ids(connector) == set(expected)


def test_second_sync_on_the_same_state_exits_5_and_changes_nothing(connector: Connector) -> None:
    """One run at a time: a concurrent sync (or state reset) is refused with exit 5; nothing is sent twice."""
    expected = seed(connector)
    first = start_and_hold(connector, connector.backend, "POST", r"/events$", 2)
    posts_before = connector.backend.event_posts
    github_before = len(connector.github.requests)
    state_before = connector.state_file.read_bytes() if connector.state_file.exists() else None

    second = connector.run("sync", "--log-format", "text")
    reset = connector.run("state", "reset", "--yes", "--log-format", "text")

    assert second.returncode == 5, second.stderr
    assert "another sync holds the lock" in second.stderr
    assert len(error_lines(second)) == 1
    assert "Traceback" not in second.stderr
    assert reset.returncode == 5 and "another sync holds the lock" in reset.stderr
    assert connector.backend.event_posts == posts_before  # the second run sent nothing
    assert len(connector.github.requests) == github_before  # ... and polled nothing
    assert (connector.state_file.read_bytes() if connector.state_file.exists() else None) == state_before

    connector.backend.release()
    done = finish(first)
    assert done.returncode == 0, done.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)  # each exactly once
    assert state_json(connector)["version"] == 2
    after = connector.run("sync")
    assert after.returncode == 0 and after.summary()["forwarded"] == 0
