"""The whole timeline end to end (real process, fake GitHub and backend): enriched pushes, pull
requests, failed runs and releases, deployments status by status, container images when opted
in; quiet repositories for free; ``config.events``; ``kill -9`` while deployments go out."""

from __future__ import annotations

from typing import Any

from tests.doubles import cursor_repos
from tests.e2e.conftest import Connector
from tests.e2e.faults_support import add_integration, all_answered, delivery, kill9, start_and_hold, wait_until
from tests.fakes import FakeGitHub
from tests.fakes.github import pull, pull_request_event, push_event, release_event, utc_iso

OWNER, REPO = "acme", "api-gateway"
TOKEN = "ghp_test_token"
BEFORE, HEAD = "a" * 40, "b" * 40


def seed_timeline(github: FakeGitHub) -> dict[str, Any]:
    """One of every kind in acme/api-gateway (and an image of acme); what the tests look up later."""
    now = github.clock()
    github.add_event(OWNER, REPO, {**push_event(before=BEFORE, head=HEAD), "created_at": utc_iso(now - 500)})
    commits = [{"sha": c * 40, "commit": {"message": f"Commit {c}", "author": {"name": "erin"}}} for c in "cde"]
    github.set_compare(OWNER, REPO, BEFORE, HEAD, {"total_commits": 3, "commits": commits})
    github.add_pull(OWNER, REPO, pull(7, "Add retries", merged=True, merged_by="lead"))
    github.add_review(OWNER, REPO, 7, {"user": {"login": "bob"}, "state": "APPROVED"})
    github.add_pull_file(OWNER, REPO, 7, {"filename": "retry.py", "additions": 3, "deletions": 1, "changes": 4})
    github.add_event(OWNER, REPO, {**pull_request_event("merged", 7), "created_at": utc_iso(now - 400)})
    release = release_event("v2.0.0")
    release["payload"]["release"]["assets"] = [{"name": "app.tar.gz", "size": 10, "download_count": 0}]
    github.add_event(OWNER, REPO, {**release, "created_at": utc_iso(now - 300)})
    run = github.add_run(
        OWNER, REPO, {"status": "completed", "conclusion": "failure", "created_at": utc_iso(now - 350)}
    )
    github.add_jobs(OWNER, REPO, run["id"], [{"name": "test", "conclusion": "failure", "steps": []}])
    deployed = github.add_deployment(OWNER, REPO, {"created_at": utc_iso(now - 250)})
    for offset, state in enumerate(("in_progress", "success"), start=1):
        github.add_deployment_status(
            OWNER, REPO, deployed["id"], {"state": state, "created_at": utc_iso(now - 250 + offset)}
        )
    bare = github.add_deployment(OWNER, REPO, {"created_at": utc_iso(now - 200), "environment": "staging"})
    github.add_package_version(OWNER, "api-gateway", ["v2.0.0"])
    return {"run": run, "deployed": deployed, "bare": bare}


def bodies(connector: Connector) -> list[dict[str, Any]]:
    return [stored.body for stored in connector.backend.events]


def by_type(connector: Connector) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in bodies(connector):
        grouped.setdefault(event["data"]["event_type"], []).append(event)
    return grouped


def test_first_sync_forwards_every_kind_enriched_then_a_quiet_sync_is_free(connector: Connector) -> None:
    seeded = seed_timeline(connector.github)
    add_integration(
        connector,
        extra_config={
            "containerImages": True,
            "events": ["push", "pull_request", "review", "issue", "release", "workflow_run", "deployment", "image"],
        },
    )

    first = connector.run("sync")

    assert first.returncode == 0, first.stderr
    kinds = by_type(connector)
    assert [e["title"] for e in kinds["push"]] == ["Push to main (3 commits)"]
    (merged,) = kinds["pull_request"]
    assert "Add retries" in merged["title"]
    assert (merged["data"]["reviewers"], merged["data"]["approvals"]) == (["bob"], 1)
    assert merged["data"]["files_changed"] and merged["data"]["merged_by"] == "lead"
    (run,) = kinds["workflow_run"]
    assert [line.split(":")[0] for line in run["data"]["failed_job_list"]] == ["test"]
    assert [job["name"] for job in run["data"]["failed_jobs"]] == ["test"]  # the structured list, for machines
    (release,) = kinds["release"]
    assert release["data"]["assets"] == ["app.tar.gz"]
    deployment_ids = [e["externalId"] for e in kinds["deployment"]]
    assert len(deployment_ids) == len(set(deployment_ids)) == 3
    assert f"github-deployment-{seeded['bare']['id']}-created" in deployment_ids
    # The fake GitHub is served from 127.0.0.1, an Enterprise Server host: its registry is containers.HOST.
    assert [e["title"] for e in kinds["image"]] == ["Image published: containers.127.0.0.1/acme/api-gateway:v2.0.0"]
    summary = first.summary()
    by_kind = summary["github_requests_by_kind"]
    assert (by_kind["pull"], by_kind.get("pull_list")) == (1, None)  # the merge needs the whole pull request
    assert summary["github_requests_by_kind"]["deployment_statuses"] == 2
    assert not any(e["data"].get("details_missing") for e in bodies(connector))

    spent, posted = connector.github.units_spent(TOKEN), len(connector.backend.events)
    quiet = connector.run("sync")

    assert quiet.returncode == 0, quiet.stderr
    assert quiet.summary()["forwarded"] == 0 and quiet.summary()["not_modified"] == 1
    assert connector.github.units_spent(TOKEN) == spent  # events, runs, deployments, packages: all 304
    assert len(connector.backend.events) == posted

    connector.github.add_deployment_status(OWNER, REPO, seeded["deployed"]["id"], {"state": "inactive"})
    later = connector.run("sync")
    again = connector.run("sync")

    assert later.summary()["forwarded"] == 1 and again.summary()["forwarded"] == 0
    assert [e["title"] for e in bodies(connector)[posted:]] == ["Deployment to production: inactive"]


def test_events_push_only_forwards_pushes_and_asks_nothing_else(connector: Connector) -> None:
    seed_timeline(connector.github)
    add_integration(connector, extra_config={"events": ["push"]})

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert [e["title"] for e in bodies(connector)] == ["Push to main (3 commits)"]
    paths = {request.path.removeprefix(f"/repos/{OWNER}/{REPO}") for request in connector.github.requests}
    assert paths == {"/events", f"/compare/{BEFORE}...{HEAD}"}
    assert run.summary()["github_requests_by_kind"] == {"compare": 1}


def test_kill_9_while_deployments_go_out_resends_at_most_the_one_in_flight(connector: Connector) -> None:
    now = connector.github.clock()
    expected = []
    for number in range(3):
        deployed = connector.github.add_deployment(OWNER, REPO, {"created_at": utc_iso(now - 600 + 10 * number)})
        for offset, state in enumerate(("in_progress", "success"), start=1):
            status = connector.github.add_deployment_status(
                OWNER, REPO, deployed["id"], {"state": state, "created_at": utc_iso(now - 600 + 10 * number + offset)}
            )
            expected.append(f"github-deployment-{deployed['id']}-status-{status['id']}")
    add_integration(connector)
    connector.backend.dedupe = False

    process = start_and_hold(connector, connector.backend, "POST", r"/events$", 3)
    kill9(process)
    connector.backend.release()
    wait_until(lambda: all_answered(connector.backend), what="the held POST to be served")
    assert len(connector.backend.events) == 4  # three acknowledged, the fourth in flight

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert delivery(connector.backend, expected) == (0, 1)  # nothing lost; only the one in flight twice
    assert connector.run("sync").summary()["forwarded"] == 0


def test_dry_run_prints_deployments_and_images(connector: Connector) -> None:
    seed_timeline(connector.github)
    add_integration(connector, extra_config={"containerImages": True, "events": ["deployment", "image"]})

    run = connector.run("sync", "--dry-run")

    assert run.returncode == 0, run.stderr
    printed = {event["data"]["event_type"] for event in run.printed_events}
    assert printed == {"deployment", "image"}
    assert len(run.printed_events) == 4
    assert not connector.backend.events


def test_cursors_in_the_backend_keep_deployments_and_the_owner_wide_images_entry(connector: Connector) -> None:
    seed_timeline(connector.github)
    add_integration(connector, extra_config={"containerImages": True, "events": ["deployment", "image"]})
    connector.backend.dedupe = False
    env = {"PAINCHAIN_GH_STATE": "backend"}

    first = connector.run("sync", env=env)
    spent, posted = connector.github.units_spent(TOKEN), len(connector.backend.events)
    second = connector.run("sync", env=env)

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert posted == 4 and len(connector.backend.events) == posted  # nothing re-sent
    assert connector.github.units_spent(TOKEN) == spent  # deployments and packages ETags came back too
    integration = connector.backend.integration("clx1")
    assert integration is not None
    repos = cursor_repos(integration["config"]["cursor"])
    assert set(repos) == {"acme/api-gateway", "acme/*"}
    assert len(repos["acme/api-gateway"]["deployments"]["statuses"]) == 3
    assert len(repos["acme/*"]["images"]["versions"]) == 1


def test_first_sync_history_older_than_backfill_details_costs_only_the_lists(connector: Connector) -> None:
    now = connector.github.clock()
    connector.github.add_event(OWNER, REPO, {**push_event(before=BEFORE, head=HEAD), "created_at": utc_iso(now - 7200)})
    connector.github.set_compare(OWNER, REPO, BEFORE, HEAD, {"total_commits": 3, "commits": []})
    connector.github.add_pull(OWNER, REPO, pull(7, "Add retries", merged=True, merged_by="lead"))
    connector.github.add_event(OWNER, REPO, {**pull_request_event("merged", 7), "created_at": utc_iso(now - 5400)})
    add_integration(connector)

    first = connector.run("sync")  # default --backfill-details 1h: both events are older

    assert first.returncode == 0, first.stderr
    assert [(e["title"], e["data"].get("details_skipped")) for e in bodies(connector)] == [
        ("Push to main", True),
        ("Pull request merged: Add retries", True),
    ]
    assert first.summary()["github_requests_by_kind"] == {"deployments": 1, "pull_list": 1}
    assert first.summary()["details_skipped"] == 2

    connector.github.add_event(OWNER, REPO, {**push_event(before=BEFORE, head=HEAD), "created_at": utc_iso(now - 7000)})
    late = connector.run("sync", "--force")  # synced before: a late event gets its details

    assert late.returncode == 0, late.stderr
    assert bodies(connector)[-1]["title"] == "Push to main (3 commits)"
