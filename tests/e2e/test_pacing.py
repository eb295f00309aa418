"""GitHub's secondary limits, end to end (real process, fake GitHub enforcing them): a burst beyond the
budget is paced, a token keeps one budget whoever uses it, the stalest repositories go first when the budget
is short, a quiet repository's runs and deployments are read only when they can have changed, requests in
flight stay under --concurrency, and a secondary limit answered anyway holds its token for everyone.

Where a test scales time, the connector's budget window (``PAINCHAIN_GH_BUDGET_WINDOW``) and the fake's
(``secondary.window_seconds``, which also scales its ``Retry-After``) are scaled alike.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable

import pytest

from tests.e2e.conftest import Connector, Run
from tests.e2e.faults_support import add_integration
from tests.fakes import FakeGitHub
from tests.fakes.github import push_event, utc_iso
from tests.fakes.limits import CONCURRENCY, POINTS, WHILE_LIMITED, IdentityReport, token_identity

TOKEN = "ghp_test_token"
OTHER = "ghp_other_token"
WINDOW = 2.0  # seconds standing for GitHub's minute, where a test scales time
_STREAM = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/(?P<stream>events|actions/runs|deployments)$")


def names(prefix: str, count: int) -> list[str]:
    """``acme/<prefix>-00`` ... as ``owner/name`` strings."""
    return [f"acme/{prefix}-{number:02d}" for number in range(count)]


def seed(github: FakeGitHub, repos: Iterable[str]) -> None:
    """Empty repositories (a first poll reads their three streams: 3 requests each)."""
    for repo in repos:
        github.add_repo(*repo.split("/"))


def push(github: FakeGitHub, repo: str) -> None:
    """A push to ``owner/name`` (its comparison answers 404: one more request, the event still goes out)."""
    owner, name = repo.split("/")
    github.add_event(owner, name, push_event())


def identity(github: FakeGitHub, token: str) -> IdentityReport:
    """What the fake counted for one token."""
    return github.secondary_usage.report().identities[token_identity(token)]


def scaled(connector: Connector, window: float = WINDOW) -> dict[str, str]:
    """A minute in ``window`` seconds for the connector's budget; the fake's limits follow."""
    connector.github.secondary.window_seconds = window
    return {"PAINCHAIN_GH_BUDGET_WINDOW": f"{window:g}s"}


def stream_requests(github: FakeGitHub) -> Counter[tuple[str, str]]:
    """GitHub requests so far by (repository, stream): ``events``, ``actions/runs`` or ``deployments``."""
    with github._lock:
        paths = [request.path for request in github.requests]
    return Counter((match["repo"], match["stream"]) for path in paths if (match := _STREAM.search(path)) is not None)


def polled(run: Run) -> set[str]:
    """Repositories a ``-v`` run read (synced or not modified)."""
    return {
        record["repository"]
        for record in run.log
        if record.get("event") == "repository" and record["status"] in ("synced", "not_modified")
    }


def paced_seconds(requests: int, points_per_window: int, window: float) -> float:
    """How long ``requests`` one-point requests take at least at this pace, after its burst (a tenth)."""
    return (requests - points_per_window // 10 - 1) * window / points_per_window


# -- paced ----------------------------------------------------------------------------------------


def test_a_burst_beyond_the_budget_is_paced_and_github_sees_no_secondary_limit(connector: Connector) -> None:
    """90 requests at 50 points per window (56 at most in one: the burst of 5, and 1 for the window's edge):
    GitHub, allowing 70, sees none too many in any window."""
    repos = names("svc", 30)
    seed(connector.github, repos)
    add_integration(connector, repos=repos)
    env = scaled(connector)
    connector.github.secondary.points = 70

    started = time.monotonic()
    run = connector.run("sync", "--points-per-minute", "50", env=env)
    elapsed = time.monotonic() - started

    assert run.returncode == 0, run.stderr[-2000:]
    summary = run.summary()
    assert (summary["synced"], summary["github_requests"]) == (30, 90)
    used = identity(connector.github, TOKEN)
    assert used.requests == 90
    assert sum(used.violations.values()) == 0
    assert used.peak_points <= 70
    assert list(summary["github_points_by_token"].values()) == [90]
    assert summary["duration_ms"] / 1000 >= paced_seconds(90, 50, WINDOW)  # 3.4 s: paced, not a burst
    assert elapsed < 30


@pytest.mark.provokes_secondary_limits
def test_the_same_burst_unpaced_would_pass_the_limit(connector: Connector) -> None:
    """The control of the test above: at 5,000 points per window the same run passes GitHub's 70."""
    repos = names("svc", 30)
    seed(connector.github, repos)
    add_integration(connector, repos=repos)
    env = scaled(connector)
    connector.github.secondary.points = 70

    run = connector.run("sync", "--points-per-minute", "5000", "--max-runtime", "20s", env=env)

    assert run.returncode in (0, 3), run.stderr[-2000:]
    assert identity(connector.github, TOKEN).violations.get(POINTS, 0) > 0


def test_a_token_shared_by_two_integrations_of_two_tenants_keeps_one_budget(connector: Connector) -> None:
    """Two budgets of 50 would send about 110 points a window; one budget of 50 stays under GitHub's 70."""
    first, second = names("a", 12), names("b", 12)
    seed(connector.github, first + second)
    add_integration(connector, id="clx1", tenant_id="tenant-a", repos=first)
    add_integration(connector, id="clx2", tenant_id="tenant-b", repos=second)
    env = scaled(connector)
    connector.github.secondary.points = 70

    run = connector.run("sync", "--points-per-minute", "50", env=env)

    assert run.returncode == 0, run.stderr[-2000:]
    summary = run.summary()
    assert summary["synced"] == 24
    used = identity(connector.github, TOKEN)
    assert used.requests == 72 and sum(used.violations.values()) == 0 and used.peak_points <= 70
    assert list(summary["github_points_by_token"].values()) == [72]  # one token, one budget
    assert summary["duration_ms"] / 1000 >= paced_seconds(72, 50, WINDOW)


def test_the_lowest_points_per_minute_of_the_integrations_sharing_a_token_wins(connector: Connector) -> None:
    """Another tool uses the token too: one integration asks for 20 points a window (23 at most in one),
    GitHub allows 30. The other integration's 40 repositories come first in the run: at the connector's
    600 their first requests alone would pass 30; the lowest ask holds from the first request."""
    first, second = names("a", 40), names("b", 4)
    seed(connector.github, first + second)
    events_only = {"events": ["push"]}  # one request a repository: the events
    add_integration(connector, id="clx1", repos=first, extra_config=events_only)
    add_integration(connector, id="clx2", repos=second, extra_config={**events_only, "pointsPerMinute": 20})
    env = scaled(connector)
    connector.github.secondary.points = 30

    run = connector.run("sync", "--points-per-minute", "600", env=env)

    assert run.returncode == 0, run.stderr[-2000:]
    used = identity(connector.github, TOKEN)
    assert used.requests == 44 and sum(used.violations.values()) == 0 and used.peak_points <= 30
    assert run.summary()["duration_ms"] / 1000 >= paced_seconds(44, 20, WINDOW)


# -- fair when the budget is short -------------------------------------------------------------------


def next_second() -> None:
    """Wait for the next whole second: the state keeps poll times in whole seconds, and the rotation below
    needs the first sync's repositories to be older than those of the run after it."""
    time.sleep(1.05 - time.time() % 1)


def test_fair_rotation_polls_every_repository_over_three_short_runs_and_reports_the_staleness(
    connector: Connector,
) -> None:
    """100 quiet repositories cost 1 request each; a run of --max-runtime 3s at 600 points a minute has its
    burst of 60 and 10 a second: about 75, not 100. The stalest go first, so three runs poll all of them."""
    repos = names("svc", 100)
    seed(connector.github, repos)
    add_integration(connector, repos=repos)
    first_sync = connector.run("sync", "--points-per-minute", "5000")
    assert first_sync.returncode == 0 and first_sync.summary()["synced"] == 100, first_sync.stderr[-2000:]
    next_second()

    runs = [connector.run("sync", "-v", "--max-runtime", "3s")]
    second_started = time.time()
    runs += [connector.run("sync", "-v", "--max-runtime", "3s") for _ in range(2)]
    since_second = time.time() - second_started

    summaries = [run.summary() for run in runs]
    rounds = [polled(run) for run in runs]
    every = {f"acme/svc-{number:02d}" for number in range(100)}
    assert runs[0].returncode == 3 and summaries[0]["deferred"] > 0  # the budget cannot cover every repository
    assert all(summary["duration_ms"] <= 3000 for summary in summaries)  # each within --max-runtime
    assert all(summary["never_polled"] == 0 for summary in summaries)
    assert every - rounds[0] <= rounds[1]  # those the first run left went first in the second
    assert every - rounds[1] <= rounds[2]  # and those the second left, in the third
    assert rounds[0] | rounds[1] | rounds[2] == every
    assert summaries[0]["staleness_max_seconds"] >= 1  # the deferred ones: last polled by the first sync
    assert summaries[2]["staleness_max_seconds"] <= since_second + 1  # none older than the second run (+ rounding)
    budgets = [summary["github_points_by_token"] for summary in summaries]
    assert all(
        list(points.values()) == [summary["github_requests"]]
        for points, summary in zip(budgets, summaries, strict=True)
    )


def test_repositories_never_polled_are_counted_until_their_first_poll(connector: Connector) -> None:
    """A first sync of 30 repositories costs 90 requests; a run of --max-runtime 3s at 600 points a minute
    has about 70 (its burst of 60, then 10 a second): some are left never polled, and the next run polls
    them first (their 3 requests each fit its burst)."""
    repos = names("svc", 30)
    seed(connector.github, repos)
    add_integration(connector, repos=repos)

    first = connector.run("sync", "-v", "--max-runtime", "3s")
    second = connector.run("sync", "-v", "--max-runtime", "3s")

    assert first.returncode == 3
    never = first.summary()["never_polled"]
    assert never == 30 - len(polled(first)) > 0
    assert set(repos) - polled(first) <= polled(second)
    assert second.summary()["never_polled"] == 0


# -- cost grows with change --------------------------------------------------------------------------


def test_a_quiet_repositorys_runs_and_deployments_are_read_at_the_sweep_and_after_a_push(
    connector: Connector,
) -> None:
    github = connector.github
    github.add_repo("acme", "quiet")
    busy_run = github.add_run("acme", "busy", {"status": "in_progress", "created_at": utc_iso(time.time() - 60)})
    add_integration(connector, repos=["acme/quiet", "acme/busy"])

    def sync(sweep: str = "1h") -> dict[tuple[str, str], int]:
        before = stream_requests(github)
        run = connector.run("sync", "--sweep-interval", sweep)
        assert run.returncode == 0, run.stderr[-2000:]
        return dict(stream_requests(github) - before)

    def reads(quiet: tuple[int, int, int], busy: tuple[int, int, int]) -> dict[tuple[str, str], int]:
        streams = ("events", "actions/runs", "deployments")
        counts = {("acme/quiet", s): n for s, n in zip(streams, quiet, strict=True)}
        counts |= {("acme/busy", s): n for s, n in zip(streams, busy, strict=True)}
        return {key: n for key, n in counts.items() if n}

    assert sync() == reads(quiet=(1, 1, 1), busy=(1, 1, 1))  # the first poll reads everything
    assert sync() == reads(quiet=(1, 0, 0), busy=(1, 1, 0))  # quiet: its events alone; busy: its run in progress
    github.add_event("acme", "quiet", push_event())
    assert sync() == reads(quiet=(1, 1, 1), busy=(1, 1, 0))  # after a push: at once
    assert sync() == reads(quiet=(1, 0, 0), busy=(1, 1, 0))  # quiet again
    github.update_run("acme", "busy", busy_run["id"], status="completed", conclusion="success")
    assert sync() == reads(quiet=(1, 0, 0), busy=(1, 1, 0))  # busy: read once more, and it has completed
    assert sync() == reads(quiet=(1, 0, 0), busy=(1, 0, 0))  # now busy is quiet too
    time.sleep(1.05)  # a sweep interval of 1 s (the state keeps whole seconds: every read is 1 s old or more)
    assert sync("1s") == reads(quiet=(1, 1, 1), busy=(1, 1, 1))  # the sweep


# -- requests in flight --------------------------------------------------------------------------------


def test_requests_in_flight_never_exceed_concurrency_nor_the_per_token_cap(connector: Connector) -> None:
    """Three tokens, 10 repositories each, pushes to compare, GitHub answering in 50 ms."""
    github = connector.github
    for number, token in enumerate((TOKEN, OTHER, "ghp_third_token")):
        if token != TOKEN:
            github.add_token(token)
        repos = names(f"t{number}", 10)
        for repo in repos:
            push(github, repo)
        add_integration(connector, id=f"clx{number}", tenant_id=None, repos=repos, token=token)
    github.latency = 0.05
    env = scaled(connector, 6.0)  # this test is about requests in flight, not the pace

    capped = connector.run("sync", "--concurrency", "4", env=env)
    peak = github.secondary_usage.report().peak_in_flight

    assert capped.returncode == 0, capped.stderr[-2000:]
    assert capped.summary()["github_requests"] >= 120  # events, runs, deployments and a compare per repository
    assert 2 <= peak <= 4
    github.secondary_usage.clear_counts()
    for number in range(3):
        for repo in names(f"t{number}", 10):
            push(github, repo)
    per_token = connector.run("sync", "--concurrency", "16", "--per-token-concurrency", "2", env=env)
    usage = github.secondary_usage.report()
    assert per_token.returncode == 0, per_token.stderr[-2000:]
    assert usage.peak_in_flight_per_identity <= 2
    assert usage.peak_in_flight <= 6


# -- a secondary limit answered anyway -----------------------------------------------------------------


def shared_token_world(connector: Connector) -> tuple[list[str], list[str]]:
    """Token A used by two integrations of two tenants (10 repositories, 30 requests), token B by a third
    (5 repositories); GitHub allows each token 20 points a window (another tool spends the rest)."""
    github = connector.github
    github.add_token(OTHER)
    shared, other = names("a", 5) + names("b", 5), names("c", 5)
    seed(github, shared + other)
    add_integration(connector, id="clx1", tenant_id="tenant-a", repos=shared[:5])
    add_integration(connector, id="clx2", tenant_id="tenant-b", repos=shared[5:])
    add_integration(connector, id="clx3", tenant_id="tenant-c", repos=other, token=OTHER)
    github.secondary.points = 20
    return shared, other


def log_statuses(run: Run) -> dict[str, str]:
    return {record["repository"]: record["status"] for record in run.log if record.get("event") == "repository"}


@pytest.mark.provokes_secondary_limits
def test_a_secondary_limit_holds_its_token_for_every_integration_until_retry_after(connector: Connector) -> None:
    """The connector's burst of 60 passes GitHub's 20: GitHub answers 403 with Retry-After 2 s; no request
    of that token is sent until then, by either integration; the other token goes on; nothing is lost."""
    shared_token_world(connector)
    env = scaled(connector)

    run = connector.run("sync", "-v", "--per-token-concurrency", "1", "--max-runtime", "20s", env=env)

    assert run.returncode == 0, run.stderr[-3000:]
    assert set(log_statuses(run).values()) == {"synced"}
    used = identity(connector.github, TOKEN)
    assert used.violations.get(POINTS, 0) >= 1  # provoked: GitHub said no at least once
    assert used.violations.get(WHILE_LIMITED, 0) == 0  # and was never asked again while it held
    assert used.violations.get(CONCURRENCY, 0) == 0
    assert sum(identity(connector.github, OTHER).violations.values()) == 0
    wait = run.summary()["github_wait_seconds_by_token"]
    assert max(wait.values()) >= 1.0  # the hold is the token's wait


@pytest.mark.provokes_secondary_limits
def test_a_secondary_limit_beyond_the_deadline_stops_its_token_and_the_run_ends_in_time(
    connector: Connector,
) -> None:
    """GitHub's real Retry-After of 60 s does not fit --max-runtime 6s: that token's repositories wait for the
    next run (exit 3), no request of it is sent after the answer, the other token's are synced."""
    shared, other = shared_token_world(connector)

    started = time.monotonic()
    run = connector.run("sync", "-v", "--per-token-concurrency", "1", "--max-runtime", "6s")
    elapsed = time.monotonic() - started

    assert run.returncode == 3, run.stderr[-3000:]
    statuses = log_statuses(run)
    assert {statuses[repo] for repo in other} == {"synced"}
    assert "deferred" in {statuses[repo] for repo in shared}
    used = identity(connector.github, TOKEN)
    assert used.violations == {POINTS: 1}  # one answer, and nothing sent after it
    assert used.requests == 21
    assert run.summary()["duration_ms"] <= 6000
    assert elapsed < 6 + 5  # the process's start and exit around the run
    assert any("secondary rate limit" in record["message"] for record in run.log)
