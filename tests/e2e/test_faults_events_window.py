"""Failure mode 5: the Events API keeps only 300 events, and events can arrive late and out of order."""

from __future__ import annotations

import time

from tests.e2e.conftest import Connector
from tests.e2e.faults_support import add_integration, messages, seed_issues
from tests.fakes.github import FIRST_EVENT_ID, issues_event, utc_iso


def test_more_than_300_new_events_is_reported_as_a_gap(connector: Connector) -> None:
    """Over 300 events since the last sync: a warning names the repository and the span; ``gaps`` counts it."""
    now = time.time()
    seed_issues(connector.github, count=2, start=now - 7200)
    add_integration(connector)
    first = connector.run("sync")
    assert first.returncode == 0 and first.summary()["gaps"] == 0
    last_seen = now - 7200 + 1

    newest = seed_issues(connector.github, count=350, start=now - 3000)
    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert run.summary()["gaps"] == 1
    oldest_reachable = now - 3000 + 50  # GitHub only serves the newest 300
    gap = [record for record in run.log if record.get("event") == "gap"]
    assert len(gap) == 1 and gap[0]["level"] == "warning"
    assert gap[0]["repository"] == "acme/api-gateway"
    assert (gap[0]["gap_from"], gap[0]["gap_to"]) == (utc_iso(last_seen), utc_iso(oldest_reachable))
    assert "acme/api-gateway" in gap[0]["message"] and utc_iso(last_seen) in gap[0]["message"]
    assert set(connector.backend.external_ids()[2:]) == set(newest[50:])  # what could be had, was had
    assert connector.run("sync").summary()["gaps"] == 0


def test_late_event_with_a_lower_id_and_older_time_is_forwarded_once(connector: Connector) -> None:
    """An event that shows up late, below newer ones (lower id, older created_at), is still forwarded, once."""
    now = time.time()
    expected = seed_issues(connector.github, count=4, start=now - 600)
    add_integration(connector)
    connector.backend.dedupe = False
    assert connector.run("sync").returncode == 0

    late = issues_event("closed", 99, "Arrived late", user="late")
    late = {**late, "id": str(FIRST_EVENT_ID - 7), "created_at": utc_iso(now - 598.5)}
    connector.github.insert_event_at("acme", "api-gateway", 3, late)  # between the 1st and 2nd events
    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert run.summary()["forwarded"] == 1
    assert connector.backend.external_ids() == [*expected, f"github-event-{FIRST_EVENT_ID - 7}"]
    assert not any("may be missing" in message for message in messages(run))

    assert connector.run("sync").summary()["forwarded"] == 0
    assert connector.backend.external_ids().count(f"github-event-{FIRST_EVENT_ID - 7}") == 1
