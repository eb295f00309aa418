"""What shipped, end to end (the real CLI against the fake GitHub and backend): deployments that
carry their pull requests, a rollback, a redeploy, an approved deployment, and the change kinds of a
force push, a Dependabot bump and a CI-only change. Each test runs the CLI once or twice."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Connector
from tests.e2e.faults_support import add_integration
from tests.fakes import FakeGitHub
from tests.fakes.github import pull, pull_request_event, push_event, utc_iso
from tests.fakes.shipped import approval, commit, comparison, sha_of

OWNER, REPO = "acme", "api-gateway"
C1 = commit("c1", "Initial import", author="alice")
C2 = commit("c2", "Fix login redirect (#12)", author="alice", parents=["c1"])
B3 = commit("b3", "Cache sessions", author="bob", parents=["c2"])
M3 = commit("m3", "Merge pull request #14 from acme/cache\n\nCache sessions", author="carol", parents=["c2", "b3"])


def deployments(connector: Connector) -> list[dict[str, Any]]:
    return [e.body for e in connector.backend.events if e.body["data"]["event_type"] == "deployment"]


def deploy(github: FakeGitHub, name: str, *, ago: float, environment: str = "production", log: str = "") -> int:
    """A deployment of commit ``name`` that reached success ``ago`` seconds ago."""
    now = github.clock()
    created = github.add_deployment(
        OWNER, REPO, {"sha": sha_of(name), "environment": environment, "created_at": utc_iso(now - ago)}
    )
    github.add_deployment_status(
        OWNER, REPO, created["id"], {"state": "success", "log_url": log, "created_at": utc_iso(now - ago + 1)}
    )
    return int(created["id"])


def seed_history(github: FakeGitHub) -> None:
    """c1 <- c2 (squash-merged #12) <- m3 (merge of #14, branch commit b3), their compares and pull requests."""
    github.set_compare(OWNER, REPO, sha_of("c1"), sha_of("m3"), comparison([C2, B3, M3], files=["src/session.py"]))
    github.set_compare(OWNER, REPO, sha_of("m3"), sha_of("c2"), comparison([], status="behind", behind_by=2))
    github.set_compare(OWNER, REPO, sha_of("c2"), sha_of("m3"), comparison([B3, M3], files=["src/session.py"]))
    github.add_pull(OWNER, REPO, pull(12, "Fix login redirect", "alice", merged=True))
    github.add_pull(OWNER, REPO, pull(14, "Cache sessions", "bob", merged=True))
    github.add_review(OWNER, REPO, 14, {"user": {"login": "dave"}, "state": "APPROVED", "commit_id": sha_of("b3")})


def test_a_deployment_carries_a_merge_commit_pull_request_and_a_squash_merged_one(connector: Connector) -> None:
    seed_history(connector.github)
    deploy(connector.github, "c1", ago=600)
    deploy(connector.github, "m3", ago=300)
    add_integration(connector)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    shipped = deployments(connector)[-1]["data"]
    assert shipped["pull_requests"] == ["#14 Cache sessions (bob)", "#12 Fix login redirect (alice)"]
    assert shipped["commit_count"] == 3 and len(shipped["commits"]) == len(shipped["commit_list"]) == 3
    assert sorted(shipped["pull_request_numbers"]) == [12, 14]
    assert shipped["pr_approvers"] == ["dave (#14)"] and shipped["previous_sha"] == sha_of("c1")
    assert len(shipped["commit_list"]) == 3 and shipped["diff_url"].endswith(
        f"{sha_of('c1')[:12]}...{sha_of('m3')[:12]}"
    )
    by_kind = run.summary()["github_requests_by_kind"]
    assert by_kind["deploy_compare"] == 1 and "commit_pulls" not in by_kind  # both named by their messages


def test_a_rollback_says_what_it_takes_away(connector: Connector) -> None:
    seed_history(connector.github)
    deploy(connector.github, "c2", ago=900)
    deploy(connector.github, "m3", ago=600)
    add_integration(connector)
    assert connector.run("sync").returncode == 0

    deploy(connector.github, "c2", ago=60)
    run = connector.run("sync", "--sweep-interval", "0s")  # a deployment made with no event: read at the sweep

    assert run.returncode == 0, run.stderr
    rollback = deployments(connector)[-1]
    assert rollback["title"] == "Deployment to production: success (rollback)"
    assert rollback["data"]["rollback"] is True and rollback["data"]["commit_count"] == 0
    assert rollback["data"]["rolled_back_pull_requests"] == ["#14 Cache sessions (bob)"]
    by_kind = run.summary()["github_requests_by_kind"]
    assert by_kind["deploy_compare"] == 2 and "deploy_previous" not in by_kind  # the state knew the previous one


def test_a_redeploy_of_the_same_commit_costs_nothing_more(connector: Connector) -> None:
    seed_history(connector.github)
    deploy(connector.github, "m3", ago=900)
    add_integration(connector)
    assert connector.run("sync").returncode == 0

    deploy(connector.github, "m3", ago=60)
    run = connector.run("sync", "--sweep-interval", "0s")  # a deployment made with no event: read at the sweep

    assert run.returncode == 0, run.stderr
    redeploy = deployments(connector)[-1]
    assert redeploy["title"] == "Deployment to production: success (redeploy)"
    assert redeploy["data"]["redeploy"] is True and redeploy["data"]["commit_count"] == 0
    assert set(run.summary()["github_requests_by_kind"]) == {"deployments", "deployment_statuses"}


def test_an_approved_deployment_names_who_approved_it(connector: Connector) -> None:
    seed_history(connector.github)
    deploy(connector.github, "c1", ago=900)
    log = f"{connector.github.url}/{OWNER}/{REPO}/actions/runs/777/job/1"
    deploy(connector.github, "m3", ago=300, log=log)
    connector.github.shipped.add_approval(OWNER, REPO, 777, approval("erin", "production", "Go ahead"))
    add_integration(connector)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    approved = deployments(connector)[-1]["data"]
    assert approved["deploy_approvers"] == ["erin (production): Go ahead"] and approved["run_id"] == 777
    assert run.summary()["github_requests_by_kind"]["run_approvals"] == 1


def test_a_force_push_is_flagged(connector: Connector) -> None:
    before, head = sha_of("old-tip"), sha_of("c2")
    connector.github.add_event(OWNER, REPO, {**push_event(before=before, head=head), "created_at": utc_iso()})
    connector.github.set_compare(OWNER, REPO, before, head, comparison([C2], status="diverged", behind_by=3))
    add_integration(connector)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    (push,) = [e.body for e in connector.backend.events]
    assert push["data"]["change_kinds"] == ["force_push"] and push["data"]["compare_status"] == "diverged"
    assert push["data"]["pull_requests"] == ["#12 Fix login redirect (alice)"]  # from the squash message


def test_a_dependabot_bump_is_a_dependency_change(connector: Connector) -> None:
    github = connector.github
    github.add_pull(OWNER, REPO, pull(21, "Bump lodash from 4.17.20 to 4.17.21", "dependabot[bot]", merged=True))
    for name in ("package.json", "package-lock.json"):
        github.add_pull_file(OWNER, REPO, 21, {"filename": name, "additions": 1, "deletions": 1})
    github.add_event(OWNER, REPO, {**pull_request_event("merged", 21, actor="carol"), "created_at": utc_iso()})
    add_integration(connector)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    (merged,) = [e.body for e in connector.backend.events]
    assert merged["data"]["change_kinds"] == ["dependency"]


def test_a_ci_only_change_is_a_ci_change(connector: Connector) -> None:
    before, head = sha_of("c1"), sha_of("ci")
    ci = commit("ci", "Run the tests on Python 3.13", author="erin", parents=["c1"])
    connector.github.add_event(OWNER, REPO, {**push_event(before=before, head=head), "created_at": utc_iso()})
    connector.github.set_compare(OWNER, REPO, before, head, comparison([ci], files=[".github/workflows/test.yml"]))
    add_integration(connector)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    (push,) = [e.body for e in connector.backend.events]
    assert push["data"]["change_kinds"] == ["ci"] and push["title"] == "Push to main (1 commit)"
