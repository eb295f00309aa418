"""The complete one-shot pipeline, end to end: the real painchain-gh process against fakes on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.command import painchain_gh_command
from tests.e2e.conftest import Connector
from tests.fakes.github import (
    issues_event,
    pull,
    pull_request_event,
    push_event,
    release_event,
    review_event,
    watch_event,
)


def seed_activity(connector: Connector) -> dict[str, str]:
    """One of every supported event in acme/api-gateway (trimmed github.com shapes), plus noise."""
    gh = connector.github
    gh.add_pull("acme", "api-gateway", pull(42, title="Fix login redirect", user="alice", merged=True, state="closed"))
    ids = {
        "push": gh.add_event("acme", "api-gateway", push_event(ref="refs/heads/main", actor="bob"))["id"],
        "opened": gh.add_event("acme", "api-gateway", pull_request_event("opened", 42, actor="alice"))["id"],
        "review": gh.add_event("acme", "api-gateway", review_event(42, state="approved", reviewer="carol"))["id"],
        "merged": gh.add_event("acme", "api-gateway", pull_request_event("merged", 42, actor="dave"))["id"],
        "issue": gh.add_event("acme", "api-gateway", issues_event("opened", 7, "Login broken", user="erin"))["id"],
        "release": gh.add_event("acme", "api-gateway", release_event("v1.2.0", author="frank"))["id"],
    }
    gh.add_event("acme", "api-gateway", watch_event())
    return ids


def add_integration(connector: Connector, **kwargs: object) -> None:
    connector.backend.add_integration(
        id="clx1",
        tenant_id="tenant-a",
        name="Platform",
        tags=["platform"],
        repositories=[{"owner": "acme", "repo": "api-gateway", "tags": ["backend"]}],
        **kwargs,  # type: ignore[arg-type]
    )


def test_first_sync_forwards_every_supported_event_once(connector: Connector) -> None:
    ids = seed_activity(connector)
    connector.github.add_run("acme", "api-gateway", {"name": "CI", "status": "in_progress"})
    add_integration(connector)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    stored = {event.body["title"]: event for event in connector.backend.events}
    assert sorted(stored) == sorted(
        [
            "Push to main",
            "Pull request opened: Fix login redirect",
            "Pull request approved: Fix login redirect",
            "Pull request merged: Fix login redirect",
            "Issue opened: Login broken",
            "Release published: v1.2.0",
            "[Workflow] CI: in_progress",
        ]
    )
    assert len(connector.backend.events) == 7
    for event in connector.backend.events:
        body = event.body
        assert event.tenant == "tenant-a"
        assert body["project"] == "acme/api-gateway"
        assert body["connector"] == "github"
        assert body["integrationId"] == "clx1" == body["data"]["integration_id"]
        assert body["externalId"] == body["data"]["external_id"]
        assert body["data"]["tags"] == ["platform", "backend"]
        assert body["data"]["author"] and body["data"]["url"].startswith("http")
    merged = stored["Pull request merged: Fix login redirect"].body
    assert merged["externalId"] == f"github-event-{ids['merged']}"
    assert merged["data"]["author"] == "alice"  # the pull request's author, from GET /pulls/42
    assert merged["data"]["url"] == "https://github.com/acme/api-gateway/pull/42"
    assert stored["Pull request approved: Fix login redirect"].body["data"]["author"] == "carol"
    assert stored["Issue opened: Login broken"].body["data"]["url"] == "https://github.com/acme/api-gateway/issues/7"
    # the pull request was fetched once for three events
    assert len(connector.github.requests_to("GET", r"/pulls/42$")) == 1
    # events went out oldest first
    timestamps = [event.body["timestamp"] for event in connector.backend.events]
    assert timestamps == sorted(timestamps)
    summary = run.summary()
    assert summary["forwarded"] == 7 and summary["exit_code"] == 0
    assert connector.backend.puts and connector.backend.puts[-1][1].keys() == {"lastSync"}


def test_second_sync_without_activity_forwards_nothing_and_costs_no_rate_limit(connector: Connector) -> None:
    seed_activity(connector)
    add_integration(connector)
    assert connector.run("sync").returncode == 0
    posts_after_first = connector.backend.event_posts
    units_after_first = connector.github.units_spent("ghp_test_token")

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert connector.backend.event_posts == posts_after_first
    assert connector.github.units_spent("ghp_test_token") == units_after_first  # only 304s
    assert run.summary()["not_modified"] == 1


def test_new_activity_is_forwarded_and_nothing_else(connector: Connector) -> None:
    seed_activity(connector)
    add_integration(connector)
    assert connector.run("sync").returncode == 0
    before = set(connector.backend.external_ids())

    new = connector.github.add_event("acme", "api-gateway", issues_event("closed", 7, "Login broken", user="erin"))
    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert set(connector.backend.external_ids()) - before == {f"github-event-{new['id']}"}
    assert connector.backend.event_posts == len(before) + 1


def test_a_run_that_completes_between_syncs_is_forwarded_again_with_its_conclusion(connector: Connector) -> None:
    add_integration(connector)
    run_id = connector.github.add_run("acme", "api-gateway", {"name": "Deploy", "status": "in_progress"})["id"]
    assert connector.run("sync").returncode == 0
    assert connector.run("sync").returncode == 0  # unchanged: not re-sent

    connector.github.update_run("acme", "api-gateway", run_id, status="completed", conclusion="failure")
    assert connector.run("sync").returncode == 0

    titles = [event.body["title"] for event in connector.backend.events]
    assert titles == ["[Workflow] Deploy: in_progress", "[Workflow] Deploy: failure"]
    final = connector.backend.events[-1].body
    assert final["data"]["conclusion"] == "failure"
    assert final["externalId"] == f"github-run-{run_id}-1-completed-failure"


def test_dry_run_prints_events_and_changes_nothing(connector: Connector) -> None:
    seed_activity(connector)
    add_integration(connector)

    run = connector.run("sync", "--dry-run")

    assert run.returncode == 0, run.stderr
    printed = run.printed_events
    assert len(printed) == 6
    assert {event["tenantId"] for event in printed} == {"tenant-a"}
    assert all(event["data"]["author"] and event["data"]["url"] for event in printed)
    assert connector.backend.event_posts == 0
    assert connector.backend.puts == []
    assert connector.backend.requests_to("POST", ".*") == []
    assert not connector.state_dir.exists()
    # and a real sync afterwards still forwards everything
    assert connector.run("sync").returncode == 0
    assert len(connector.backend.events) == 6


def test_adhoc_repo_dry_run_needs_no_backend(connector: Connector) -> None:
    seed_activity(connector)
    connector.backend.stop()

    run = connector.run("sync", "--dry-run", "--repo", "acme/api-gateway", env={"GITHUB_TOKEN": "ghp_test_token"})

    assert run.returncode == 0, run.stderr
    assert len(run.printed_events) == 6
    assert {event["project"] for event in run.printed_events} == {"acme/api-gateway"}


def test_polling_interval_skips_repositories_polled_recently(connector: Connector) -> None:
    connector.github.add_repo("acme", "api-gateway")
    add_integration(connector, extra_config={"polling": {"enabled": True, "interval": 300}})
    assert connector.run("sync").returncode == 0
    requests_after_first = len(connector.github.requests)

    run = connector.run("sync")

    assert run.returncode == 0
    assert run.summary()["not_due"] == 1
    assert len(connector.github.requests) == requests_after_first
    assert connector.run("sync", "--force").summary()["not_due"] == 0


def test_polling_interval_from_environment_and_disabled_integrations(connector: Connector) -> None:
    connector.github.add_repo("acme", "api-gateway")
    add_integration(connector)
    connector.backend.add_integration(
        id="off", extra_config={"polling": {"enabled": False}}, repositories=[{"owner": "acme", "repo": "other"}]
    )
    env = {"POLLING_INTERVAL": "120"}
    assert connector.run("sync", env=env).returncode == 0
    assert connector.github.requests_to("GET", "/acme/other/") == []
    assert connector.run("sync", env=env).summary()["not_due"] == 1


def test_invalid_integration_is_reported_and_others_go_on(connector: Connector) -> None:
    seed_activity(connector)
    add_integration(connector)
    connector.backend.add_raw_integration(
        {
            "id": "bad1",
            "type": "github",
            "name": "Broken",
            "status": "active",
            "config": {"repositories": "acme/api-gateway"},
        }
    )

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 3
    assert "integration bad1 (Broken) skipped" in run.stderr
    assert "Traceback" not in run.stderr
    assert len(connector.backend.events) == 6


def test_version_help_and_module_entry_point() -> None:
    version = subprocess.run([*painchain_gh_command(), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("painchain-gh ")
    module = subprocess.run(
        [sys.executable, "-m", "painchain_gh", "--version"], capture_output=True, text=True, check=True
    )
    assert module.stdout == version.stdout
    helped = subprocess.run([*painchain_gh_command(), "sync", "--help"], capture_output=True, text=True, check=True)
    assert "--dry-run" in helped.stdout


def test_usage_errors_exit_2_with_one_line(connector: Connector) -> None:
    run = connector.run("sync", "--max-runtime", "soon")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    run = connector.run("sync", "--dry-run", "--repo", "not-a-repo")
    assert run.returncode == 2
    assert "OWNER/NAME" in run.stderr


def test_state_show_and_export_read_the_cursors(connector: Connector) -> None:
    seed_activity(connector)
    add_integration(connector)
    assert connector.run("sync").returncode == 0

    shown = connector.run("state", "show")
    assert shown.returncode == 0
    assert "tenant-a/clx1/acme/api-gateway: last polled" in shown.stdout
    exported = json.loads(connector.run("state", "export").stdout)
    assert set(exported["repos"]["tenant-a/clx1/acme/api-gateway"]["events"]["seen"]) >= set()
    assert exported["version"] == 2
