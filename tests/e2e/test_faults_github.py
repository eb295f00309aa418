"""Failure mode 4: GitHub fails: 5xx, dropped connections, 401, 403/404, primary and secondary limits, deadline."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Connector
from tests.e2e.faults_support import (
    add_integration,
    flatten,
    github_requests_with,
    messages,
    print_figures,
    seed_issues,
    state_json,
)

SECONDARY_LIMIT = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
}


def repos(*names: str) -> list[str]:
    return [f"acme/{name}" for name in names]


def test_github_5xx_and_dropped_connections_are_retried_within_bounds(connector: Connector) -> None:
    """502, a dropped connection and 503s from GitHub are retried; everything arrives, nothing twice."""
    expected = seed_issues(connector.github, count=3)
    add_integration(connector)
    connector.github.fail_next("GET", "/events$", 502)
    connector.github.fail_next("GET", "/events$", 0)
    connector.github.fail_next("GET", "/actions/runs$", 503, count=3)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    assert len(connector.github.requests_to("GET", "/events$")) == 3
    assert len(connector.github.requests_to("GET", "/actions/runs$")) == 4


def test_github_still_failing_fails_only_that_repository(connector: Connector) -> None:
    """GitHub 500 beyond the retries for one repository: it fails (exit 3), the others go on; next run catches up."""
    flaky = seed_issues(connector.github, "acme/flaky", count=2)
    steady = seed_issues(connector.github, "acme/steady", count=2)
    add_integration(connector, repos=repos("flaky", "steady"))
    connector.github.fail_next("GET", "/acme/flaky/events$", 500, count=4)

    run = connector.run("sync")

    assert run.returncode == 3, run.stderr
    assert len(connector.github.requests_to("GET", "/acme/flaky/events$")) == 4  # bounded
    assert sorted(connector.backend.external_ids()) == sorted(steady)
    assert any(m.startswith("acme/flaky [clx1]: failed") and "500" in m for m in messages(run, "warning"))
    assert run.summary()["failed"] == 1 and run.summary()["synced"] == 1

    again = connector.run("sync")

    assert again.returncode == 0, again.stderr
    assert sorted(connector.backend.external_ids()) == sorted(flaky + steady)


def test_github_unreachable_fails_the_repositories_and_the_next_run_catches_up(connector: Connector) -> None:
    """GitHub refusing connections: every repository fails after bounded retries (exit 3), no traceback."""
    expected = seed_issues(connector.github, count=2)
    add_integration(connector)
    connector.github.stop()

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 3
    assert "GitHub unreachable for /repos/acme/api-gateway/events: connection refused" in run.stderr
    assert "Traceback" not in run.stderr
    assert connector.backend.event_posts == 0

    connector.github.start()
    assert connector.run("sync").returncode == 0
    assert sorted(connector.backend.external_ids()) == sorted(expected)


def test_bad_credentials_stop_that_integration_only(connector: Connector) -> None:
    """401 Bad credentials: the integration stops with a clear line naming it; other integrations go on."""
    seed_issues(connector.github, "acme/one", count=1)
    seed_issues(connector.github, "acme/two", count=1)
    good = seed_issues(connector.github, count=2)
    add_integration(connector, id="revoked", token="ghp_revoked", repos=repos("one", "two"))
    add_integration(connector)

    run = connector.run("sync", "--concurrency", "1")

    assert run.returncode == 3, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(good)
    assert len(github_requests_with(connector.github, "ghp_revoked")) == 1  # no more after the 401
    assert [m for m in messages(run, "error") if "401" in m] == [
        "integration revoked (Integration revoked): the token was rejected (401 Bad credentials) "
        "on /repos/acme/one/events; its repositories are skipped"
    ]
    assert run.summary()["failed"] == 2 and run.summary()["synced"] == 1
    assert "ghp_revoked" not in run.stderr


def test_403_or_404_stops_only_that_repository(connector: Connector) -> None:
    """No access (403) or gone (404) for one repository: it fails alone; the others are delivered."""
    ok = seed_issues(connector.github, "acme/ok", count=2)
    seed_issues(connector.github, "acme/forbidden", count=1)
    connector.github.fail_next(
        "GET", "/acme/forbidden/events$", 403, body={"message": "Resource not accessible by integration"}
    )
    add_integration(connector, repos=repos("ok", "forbidden", "deleted"))

    run = connector.run("sync")

    assert run.returncode == 3, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(ok)
    failed = {m.split(" ")[0]: m for m in messages(run, "warning") if ": failed" in m}
    assert set(failed) == {"acme/forbidden", "acme/deleted"}
    assert "403" in failed["acme/forbidden"] and "Resource not accessible by integration" in failed["acme/forbidden"]
    assert "404" in failed["acme/deleted"]
    assert len(connector.github.requests_to("GET", "/acme/forbidden/")) == 1  # not retried
    assert len(connector.github.requests_to("GET", "/acme/deleted/")) == 1


def test_token_under_the_rate_limit_reserve_is_not_spent_any_more(connector: Connector) -> None:
    """Primary limit: once remaining < --rate-limit-reserve the token stops (exit 3); its repositories wait."""
    expected = {name: seed_issues(connector.github, f"acme/{name}", count=1) for name in ("r1", "r2", "r3", "other")}
    connector.github.add_token("ghp_low")
    connector.github.add_token("ghp_other")
    connector.github.set_remaining("ghp_low", 106)  # 3 per repository (events, runs, deployments): 100 left after r2
    add_integration(connector, id="low", token="ghp_low", repos=repos("r1", "r2", "r3"))
    add_integration(connector, id="rich", token="ghp_other", repos=repos("other"))

    run = connector.run("sync", "--rate-limit-reserve", "100", "--concurrency", "1")

    assert run.returncode == 3, run.stderr
    assert len(github_requests_with(connector.github, "ghp_low")) == 6  # a 7th would leave 99: never sent
    assert sorted(connector.backend.external_ids()) == sorted(expected["r1"] + expected["r2"] + expected["other"])
    deferred = [m for m in messages(run, "warning") if m.startswith("acme/r3 [low]: deferred")]
    assert deferred and "rate limit under the reserve (100 left, 0 requests in flight, reserve 100)" in deferred[0]
    assert run.summary()["deferred"] == 1

    connector.github.set_remaining("ghp_low", 5000)
    again = connector.run("sync", "--rate-limit-reserve", "100")

    assert again.returncode == 0, again.stderr
    lost, twice = print_figures("primary rate limit", connector.backend, flatten(expected.values()))
    assert (lost, twice) == (0, 0)


@pytest.mark.parametrize("retry_after", [1, 0])
def test_secondary_limit_is_waited_out_when_it_fits_the_deadline(connector: Connector, retry_after: int) -> None:
    """403 with Retry-After (1 s, or 0: at once) and time left: the connector waits, retries and succeeds."""
    expected = seed_issues(connector.github, count=2)
    add_integration(connector)
    headers = {"Retry-After": str(retry_after)}
    connector.github.fail_next("GET", "/events$", 403, headers=headers, body=SECONDARY_LIMIT)

    started = time.monotonic()
    run = connector.run("sync", "--max-runtime", "10s")

    assert run.returncode == 0, run.stderr
    assert retry_after <= time.monotonic() - started < retry_after + 5
    assert len(connector.github.requests_to("GET", "/events$")) == 2
    assert sorted(connector.backend.external_ids()) == sorted(expected)


def test_secondary_limit_longer_than_the_deadline_stops_that_token(connector: Connector) -> None:
    """403 with Retry-After: 120 and a 10 s deadline: that token stops for this run (exit 3); others go on."""
    seed_issues(connector.github, "acme/a1", count=1)
    seed_issues(connector.github, "acme/a2", count=1)
    other = seed_issues(connector.github, "acme/b", count=1)
    connector.github.add_token("ghp_limited")
    connector.github.add_token("ghp_other")
    connector.github.fail_next("GET", "/acme/a1/events$", 403, headers={"Retry-After": "120"}, body=SECONDARY_LIMIT)
    add_integration(connector, id="limited", token="ghp_limited", repos=repos("a1", "a2"))
    add_integration(connector, id="other", token="ghp_other", repos=repos("b"))

    started = time.monotonic()
    run = connector.run("sync", "--max-runtime", "10s", "--concurrency", "1")

    assert run.returncode == 3, run.stderr
    assert time.monotonic() - started < 5  # did not wait
    assert github_requests_with(connector.github, "ghp_limited") == ["/repos/acme/a1/events"]
    assert connector.backend.external_ids() == other
    assert run.summary()["deferred"] == 2
    assert any("secondary rate limit" in m for m in messages(run, "warning"))


def test_max_runtime_ends_the_run_cleanly_with_state_saved(connector: Connector) -> None:
    """--max-runtime: repositories not reached are deferred (exit 3), finished ones are saved; next run catches up."""
    names = [f"r{index}" for index in range(8)]
    expected = {name: seed_issues(connector.github, f"acme/{name}", count=1) for name in names}
    add_integration(connector, repos=repos(*names))
    connector.github.latency = 0.15  # each repository takes two requests: 0.3 s

    started = time.monotonic()
    run = connector.run("sync", "--max-runtime", "1s", "--concurrency", "1")
    elapsed = time.monotonic() - started

    assert run.returncode == 3, run.stderr
    assert elapsed < 3.5
    summary = run.summary()
    assert summary["synced"] >= 1 and summary["deferred"] >= 1
    assert summary["synced"] + summary["deferred"] + summary["failed"] == len(names)
    saved = {key.rsplit("/", 1)[1] for key, repo in state_json(connector)["repos"].items() if repo["last_polled_at"]}
    assert len(saved) == summary["synced"]
    assert sorted(connector.backend.external_ids()) == sorted(flatten(expected[name] for name in saved))

    connector.github.latency = 0
    again = connector.run("sync")

    assert again.returncode == 0, again.stderr
    assert print_figures("deadline", connector.backend, flatten(expected.values())) == (0, 0)
