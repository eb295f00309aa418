"""Failure mode 3: the PainChain backend fails (5xx, 408, 429, timeouts, refused connections, 4xx rejections)."""

from __future__ import annotations

import json
import time

from tests.e2e.conftest import Connector
from tests.e2e.faults_support import (
    add_integration,
    all_answered,
    error_lines,
    finish,
    messages,
    posts_of,
    print_figures,
    seed_issues,
    seen_external_ids,
    start_and_hold,
    wait_until,
)


def setup(connector: Connector, count: int = 5) -> list[str]:
    """``count`` events in one repository of one integration; the backend keeps duplicate rows."""
    expected = seed_issues(connector.github, count=count)
    add_integration(connector)
    connector.backend.dedupe = False
    return expected


def test_temporary_failures_are_retried_within_bounds(connector: Connector) -> None:
    """503, 408, 429 (Retry-After), a dropped connection, 500 and 502: each retried; all delivered once."""
    expected = setup(connector)
    backend = connector.backend
    for status in (503, 408, 429):  # the first event fails three times, then goes through on attempt 4
        backend.fail_next("POST", "/events$", status, headers={"Retry-After": "0"} if status == 429 else None)
    started = time.monotonic()
    process = start_and_hold(connector, backend, "POST", "/events$", 4)
    for status in (0, 500, 502):  # and so does the second (0: the connection is dropped)
        backend.fail_next("POST", "/events$", status)
    backend.release()

    run = finish(process)

    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 10
    assert sorted(backend.external_ids()) == sorted(expected)
    assert [posts_of(backend, external_id) for external_id in expected] == [4, 4, 1, 1, 1]
    assert run.summary()["forwarded"] == 5


def test_backend_still_failing_keeps_the_cursor_at_the_last_acknowledged_event(connector: Connector) -> None:
    """5xx beyond the retries: the run exits non-zero, the cursor stays, the next run delivers the rest once."""
    expected = setup(connector)
    backend = connector.backend
    process = start_and_hold(connector, backend, "POST", "/events$", 2)  # two events acknowledged
    backend.fail_next("POST", "/events$", 503, count=4)  # the third fails on every attempt
    backend.release()
    run = finish(process)

    assert run.returncode == 3, run.stderr
    assert posts_of(backend, expected[2]) == 4  # bounded: 4 attempts, no more
    assert backend.external_ids() == expected[:2]
    assert seen_external_ids(connector) == set(expected[:2])
    assert any("backend kept answering 503" in message for message in messages(run, "warning"))

    again = connector.run("sync")

    assert again.returncode == 0, again.stderr
    assert print_figures("backend 503 beyond retries", backend, expected) == (0, 0)
    assert backend.external_ids() == expected


def test_backend_timeout_stops_the_run_and_the_next_run_delivers(connector: Connector) -> None:
    """A POST that never answers times out at the run's deadline: exit 4, the next run delivers everything."""
    expected = setup(connector)
    backend = connector.backend
    process = start_and_hold(connector, backend, "POST", "/events$", 1, "--max-runtime", "1.5s")

    run = finish(process)  # the held POST times out, and no time is left to retry it

    assert run.returncode == 4, run.stderr
    assert any("backend unreachable" in m and "no answer in time" in m for m in messages(run, "error", "warning"))
    assert "Traceback" not in run.stderr
    backend.release()  # the backend was only slow: it stores the event after the client gave up
    wait_until(lambda: all_answered(backend), what="the slow POST to be served")
    assert seen_external_ids(connector) == {expected[0]}
    assert run.summary()["forwarded"] == 1

    again = connector.run("sync")

    assert again.returncode == 0, again.stderr
    lost, twice = print_figures("backend timeout", backend, expected)
    assert (lost, twice) == (0, 1)  # only the event in flight was stored twice


def test_rejected_event_goes_to_the_dead_letter_file_and_can_be_retried(connector: Connector) -> None:
    """A permanent 4xx: dead-lettered and reported (exit 3), the rest goes on; ``deadletter retry`` re-sends it."""
    expected = setup(connector)
    backend = connector.backend
    backend.reject_external_ids.add(expected[2])

    run = connector.run("sync")

    assert run.returncode == 3, run.stderr
    assert backend.external_ids() == expected[:2] + expected[3:]  # the rest of the repository went on
    assert posts_of(backend, expected[2]) == 1  # never retried: it will not be accepted as it is
    assert run.summary()["dead_lettered"] == 1
    assert any("1 dead-lettered" in message for message in messages(run, "warning"))
    listed = connector.run("deadletter", "list")
    assert listed.returncode == 0
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [letter["body"]["externalId"] for letter in letters] == [expected[2]]
    assert letters[0]["status"] == 400 and letters[0]["tenant_id"] == "tenant-a"

    dead_letters = connector.state_dir / "state.json.deadletter.jsonl"
    still = connector.run("deadletter", "retry", "--log-format", "text")
    assert still.returncode == 3  # still rejected: kept
    assert expected[2] in dead_letters.read_text()

    backend.reject_external_ids.clear()
    retried = connector.run("deadletter", "retry", "--log-format", "text")

    assert retried.returncode == 0, retried.stderr
    assert sorted(backend.external_ids()) == sorted(expected)
    assert backend.events[-1].tenant == "tenant-a"
    assert dead_letters.read_text() == ""
    assert seen_external_ids(connector) == set(expected)  # the cursor had moved past it: never re-polled


def test_backend_refusing_connections_exits_4_with_one_line(connector: Connector) -> None:
    """Backend down: exit 4, one clear error line, no traceback; once it is back the next run delivers all."""
    expected = setup(connector)
    connector.backend.stop()

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 4
    assert "Traceback" not in run.stderr
    assert len(error_lines(run)) == 1
    assert "backend unreachable at http://127.0.0.1:" in error_lines(run)[0]

    connector.backend.start()
    again = connector.run("sync")

    assert again.returncode == 0, again.stderr
    assert print_figures("backend down before the run", connector.backend, expected) == (0, 0)


def test_backend_going_down_mid_run_stops_the_run_and_loses_nothing(connector: Connector) -> None:
    """Backend dies after two events: exit 4, cursor at the two acknowledged ones; the next run sends the rest."""
    expected = setup(connector)
    backend = connector.backend
    process = start_and_hold(connector, backend, "POST", "/events$", 2)
    backend.stop()  # drops the held POST without storing it; later attempts are refused

    run = finish(process)

    assert run.returncode == 4, run.stderr
    assert "Traceback" not in run.stderr
    assert any("backend unreachable" in message for message in messages(run, "error", "warning"))
    assert seen_external_ids(connector) == set(expected[:2])
    assert run.summary()["forwarded"] == 2  # the report keeps what was delivered before the backend died

    backend.start()
    again = connector.run("sync")

    assert again.returncode == 0, again.stderr
    assert print_figures("backend down mid-run", backend, expected) == (0, 0)
    assert backend.external_ids() == expected
