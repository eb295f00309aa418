"""Deployments say what they shipped: the previous success to the same environment (remembered), one
compare, the pull requests, approvers, rollback and redeploy; what each costs, run by run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from painchain_gh.cursor import DeploymentsCursor, remember_success
from painchain_gh.streams.deployments import DeploymentItem, acknowledge, fetch_deployments, settle
from painchain_gh.streams.enrich import Enricher
from painchain_gh.streams.shipped import ShippedLookups
from painchain_gh.transform import RepoContext
from tests.fakes import FakeGitHub
from tests.fakes.github import pull, utc_iso
from tests.fakes.shipped import approval, commit, comparison, sha_of
from tests.test_deployments import make_client

T0 = 1_800_000_000
OWNER, REPO = "acme", "api"


@dataclass
class Synced:
    items: list[DeploymentItem]
    requests: dict[str, int]
    failures: dict[str, int]

    def data(self, state: str | None = None) -> dict[str, Any]:
        """The data of the only event (of ``state``)."""
        (item,) = [i for i in self.items if state is None or i.event.data["state"] == state]
        return item.event.data


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.clock = lambda: float(T0)
        yield server
    assert not server.errors


def sync(gh: FakeGitHub, cursor: DeploymentsCursor, *, since: int | None = None) -> Synced:
    """One run: a fresh cache, every item acknowledged, the cursor settled."""
    enricher = Enricher()
    client = make_client(gh.url)
    ctx = RepoContext(owner=OWNER, repo=REPO, integration_id="i1", web_url="https://github.com")
    lookups = ShippedLookups(enricher, client, OWNER, REPO, repo_url=ctx.repo_url)
    fetched = fetch_deployments(
        client, ctx, cursor, etag=None, counts=enricher.counts, shipped=lookups, details_since=since
    )
    for item in fetched.items:
        acknowledge(cursor, item)
    settle(cursor, fetched, fingerprint="fp", now=int(time.time()))
    return Synced(fetched.items, enricher.counts.requests(), enricher.counts.failures())


def deploy(gh: FakeGitHub, name: str, states: list[str], *, environment: str = "production", at: int = 0) -> int:
    """A deployment of commit ``name`` with its statuses, ``at`` seconds after T0."""
    deployment = gh.add_deployment(
        OWNER, REPO, {"sha": sha_of(name), "environment": environment, "created_at": utc_iso(T0 + at)}
    )
    for offset, state in enumerate(states, start=1):
        gh.add_deployment_status(
            OWNER, REPO, deployment["id"], {"state": state, "created_at": utc_iso(T0 + at + offset)}
        )
    return int(deployment["id"])


C2 = commit("c2", "Fix login redirect (#1)", author="alice", parents=["c1"])
B3 = commit("b3", "Speed up the cache", author="bob", parents=["c2"])
M3 = commit("m3", "Merge pull request #2 from acme/cache\n\nSpeed up the cache", author="carol", parents=["c2", "b3"])


def seed_repository(gh: FakeGitHub) -> None:
    """Commits c1 <- c2 (squash of #1) <- m3 (merge of #2, branch commit b3); their compares and reviews."""
    gh.set_compare(OWNER, REPO, sha_of("c1"), sha_of("c2"), comparison([C2], files=["src/login.py"]))
    gh.set_compare(OWNER, REPO, sha_of("c2"), sha_of("m3"), comparison([B3, M3], files=["src/cache.py"]))
    gh.set_compare(OWNER, REPO, sha_of("m3"), sha_of("c2"), comparison([], status="behind", behind_by=2))
    for number, title, user in ((1, "Fix login redirect", "alice"), (2, "Speed up the cache", "bob")):
        gh.add_pull(OWNER, REPO, pull(number, title, user, merged=True))
    gh.add_review(OWNER, REPO, 2, {"user": {"login": "dave"}, "state": "APPROVED", "commit_id": sha_of("b3")})


def test_forward_forward_rollback_redeploy_say_what_shipped_and_cost_one_or_two_requests(gh: FakeGitHub) -> None:
    seed_repository(gh)
    cursor = DeploymentsCursor(floor=T0 - 3600)

    deploy(gh, "c1", ["success"])
    first = sync(gh, cursor)
    assert "previous_sha" not in first.data()  # the environment's first deployment: nothing to compare
    assert first.requests == {"deployments": 1, "deployment_statuses": 1, "deploy_previous": 1}

    deploy(gh, "c2", ["in_progress", "success"], at=10)
    forward = sync(gh, cursor)
    data = forward.data("success")
    assert data["previous_sha"] == sha_of("c1") and data["commit_count"] == 1
    assert data["pull_requests"] == ["#1 Fix login redirect (alice)"] and data["pull_request_numbers"] == [1]
    assert data["commit_list"] == [f"{sha_of('c2')[:7]} Fix login redirect (#1) (alice)"]
    assert data["diff_url"] == f"https://github.com/acme/api/compare/{sha_of('c1')[:12]}...{sha_of('c2')[:12]}"
    assert forward.data("in_progress")["pull_requests"] == data["pull_requests"]  # the first status did the work
    assert forward.requests == {"deployments": 1, "deployment_statuses": 1, "deploy_compare": 1, "reviews": 1}

    deploy(gh, "m3", ["success"], at=20)
    second = sync(gh, cursor).data()
    assert second["pull_requests"] == ["#2 Speed up the cache (bob)"]
    assert second["pr_approvers"] == ["dave (#2)"] and "stale_approval" not in second
    assert second["commit_count"] == 2 and "rollback" not in second

    deploy(gh, "c2", ["success"], at=30)
    rollback = sync(gh, cursor)
    data = rollback.data()
    assert data["rollback"] is True and data["commit_count"] == 0
    assert data["rolled_back_pull_requests"] == ["#2 Speed up the cache (bob)"]
    assert rollback.items[0].event.title == "Deployment to production: success (rollback)"
    assert rollback.requests["deploy_compare"] == 2  # behind, then what it takes away

    deploy(gh, "c2", ["success"], at=40)
    redeploy = sync(gh, cursor)
    assert redeploy.data()["redeploy"] is True and redeploy.data()["commit_count"] == 0
    assert redeploy.items[0].event.title == "Deployment to production: success (redeploy)"
    assert redeploy.requests == {"deployments": 1, "deployment_statuses": 1}  # the state knew it all


def test_each_environment_has_its_own_previous_deployment(gh: FakeGitHub) -> None:
    seed_repository(gh)
    cursor = DeploymentsCursor(floor=T0 - 3600)
    deploy(gh, "c1", ["success"], environment="staging")
    deploy(gh, "c1", ["success"], environment="production", at=5)
    deploy(gh, "m3", ["success"], environment="staging", at=10)
    run = sync(gh, cursor)
    staged = [i.event.data for i in run.items if i.event.data["environment"] == "staging"][-1]
    assert staged["previous_sha"] == sha_of("c1")
    assert set(cursor.successes) == {"staging", "production"}
    assert cursor.successes["staging"][-1][1] == sha_of("m3")


def test_a_failed_deployment_is_never_a_baseline(gh: FakeGitHub) -> None:
    seed_repository(gh)
    cursor = DeploymentsCursor(floor=T0 - 3600)
    good = deploy(gh, "c1", ["success"])
    deploy(gh, "m3", ["failure"], at=10)
    deploy(gh, "c2", ["success"], at=20)
    run = sync(gh, cursor)
    failed = next(i.event.data for i in run.items if i.event.data["state"] == "failure")
    assert failed["previous_deployment_id"] == good  # a failed deployment still says what it tried to ship
    last = next(i.event.data for i in run.items if i.event.data.get("sha") == sha_of("c2"))
    assert last["previous_deployment_id"] == good and last["pull_requests"] == ["#1 Fix login redirect (alice)"]


def test_the_predecessor_is_looked_up_once_then_remembered(gh: FakeGitHub) -> None:
    seed_repository(gh)
    older = deploy(gh, "c1", ["success"])
    cursor = DeploymentsCursor(floor=T0 + 5)  # the older deployment is below the floor: never read
    deploy(gh, "c2", ["success"], at=10)

    run = sync(gh, cursor)

    assert run.data()["previous_deployment_id"] == older and run.data()["pull_request_numbers"] == [1]
    assert run.requests["deploy_previous"] == 2  # the environment's list and the older one's statuses
    deploy(gh, "m3", ["success"], at=20)
    assert "deploy_previous" not in sync(gh, cursor).requests


def test_an_approved_deployment_names_its_approvers(gh: FakeGitHub) -> None:
    seed_repository(gh)
    cursor = DeploymentsCursor(floor=T0 - 3600)
    remember_success(cursor, "production", 1, sha_of("c1"))
    deployment = gh.add_deployment(
        OWNER, REPO, {"sha": sha_of("c2"), "environment": "production", "created_at": utc_iso(T0)}
    )
    log = "https://github.com/acme/api/actions/runs/4242/job/99"
    for offset, state in enumerate(("waiting", "in_progress", "success"), start=1):
        gh.add_deployment_status(
            OWNER, REPO, deployment["id"], {"state": state, "log_url": log, "created_at": utc_iso(T0 + 60 * offset)}
        )
    gh.shipped.add_approval(OWNER, REPO, 4242, approval("erin", "production", "Ship it"))
    gh.shipped.add_approval(OWNER, REPO, 4242, approval("frank", "staging", "Fine for staging"))

    run = sync(gh, cursor)

    data = run.data("success")
    assert data["deploy_approvers"] == ["erin (production): Ship it"]
    assert data["approved_at"] == utc_iso(T0 + 120) and data["run_id"] == 4242
    assert run.requests["run_approvals"] == 1  # three statuses, one request


def test_first_sync_history_older_than_backfill_gets_only_what_the_state_knows(gh: FakeGitHub) -> None:
    seed_repository(gh)
    cursor = DeploymentsCursor(floor=T0 - 3600)
    deploy(gh, "c1", ["success"])
    deploy(gh, "c2", ["success"], at=10)

    run = sync(gh, cursor, since=T0 + 100)

    assert all(i.event.data["details_skipped"] is True for i in run.items)
    assert run.items[1].event.data["previous_sha"] == sha_of("c1")  # known from the same page, for free
    assert "pull_requests" not in run.items[1].event.data
    assert run.requests == {"deployments": 1, "deployment_statuses": 2}
    assert cursor.successes["production"][-1][1] == sha_of("c2")  # remembered all the same


def test_an_inactive_status_costs_nothing(gh: FakeGitHub) -> None:
    seed_repository(gh)
    cursor = DeploymentsCursor(floor=T0 - 3600)
    deploy(gh, "c1", ["success"])
    deployment = deploy(gh, "c2", ["success"], at=10)
    sync(gh, cursor)
    gh.add_deployment_status(OWNER, REPO, deployment, {"state": "inactive", "created_at": utc_iso(T0 + 30)})

    run = sync(gh, cursor)

    assert run.data()["previous_sha"] == sha_of("c1") and "pull_requests" not in run.data()
    assert run.requests == {"deployments": 1, "deployment_statuses": 1}


def test_a_comparison_github_cannot_make_sends_the_event_marked(gh: FakeGitHub) -> None:
    cursor = DeploymentsCursor(floor=T0 - 3600)
    remember_success(cursor, "production", 1, sha_of("gone"))
    deploy(gh, "c2", ["success"])

    run = sync(gh, cursor)

    assert run.data()["details_missing"] is True and run.data()["previous_sha"] == sha_of("gone")
    assert run.failures == {"deploy_compare": 1}
