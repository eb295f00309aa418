"""Stateless pods: cursors kept in the backend (--state backend), end to end."""

from __future__ import annotations

import json
from pathlib import Path

from tests.doubles import cursor_repos
from tests.e2e.conftest import Connector
from tests.fakes.github import issues_event, push_event

BACKEND_STATE = {"PAINCHAIN_GH_STATE": "backend"}


def setup(connector: Connector) -> None:
    connector.backend.dedupe = False  # the old backend generation: every POST is a row, so re-sends show
    connector.github.add_event("acme", "api-gateway", push_event())
    connector.github.add_event("acme", "api-gateway", issues_event("opened", 1, "Slow checkout"))
    connector.github.add_run("acme", "api-gateway", {"name": "CI", "status": "in_progress"})
    connector.backend.add_integration(id="clx1", tenant_id="tenant-a", name="Platform", token="ghp_test_token")


def fresh_pod(connector: Connector, tmp_path: Path, name: str) -> Connector:
    """Another run in a new, empty directory, as a new CronJob pod would be."""
    return Connector(connector.github, connector.backend, tmp_path / name)


def test_consecutive_pods_without_state_files_forward_nothing_twice(connector: Connector, tmp_path: Path) -> None:
    setup(connector)
    first = fresh_pod(connector, tmp_path, "pod1").run("sync", env=BACKEND_STATE)
    assert first.returncode == 0, first.stderr
    assert len(connector.backend.events) == 3

    second = fresh_pod(connector, tmp_path, "pod2").run("sync", env=BACKEND_STATE)
    assert second.returncode == 0, second.stderr
    assert len(connector.backend.events) == 3  # nothing re-sent
    assert second.summary()["github_units"] == 0  # the ETags came from the backend too

    connector.github.add_event("acme", "api-gateway", issues_event("closed", 1, "Slow checkout"))
    third = fresh_pod(connector, tmp_path, "pod3").run("sync", env=BACKEND_STATE)
    assert third.returncode == 0
    assert [event.body["title"] for event in connector.backend.events][-1] == "Issue closed: Slow checkout"
    assert len(connector.backend.events) == 4
    assert not (tmp_path / "pod1" / "state").exists()  # no state file anywhere


def test_a_users_config_edit_between_runs_survives(connector: Connector, tmp_path: Path) -> None:
    setup(connector)
    assert fresh_pod(connector, tmp_path, "pod1").run("sync", env=BACKEND_STATE).returncode == 0
    row = connector.backend.integration("clx1")
    assert row is not None
    row["config"]["tags"] = ["platform", "edited"]
    row["config"]["repositories"].append({"owner": "acme", "repo": "billing"})
    connector.github.add_repo("acme", "billing")

    assert fresh_pod(connector, tmp_path, "pod2").run("sync", env=BACKEND_STATE).returncode == 0

    config = connector.backend.integration("clx1")["config"]  # type: ignore[index]
    assert config["tags"] == ["platform", "edited"]
    assert [repo["repo"] for repo in config["repositories"]] == ["api-gateway", "billing"]
    assert config["token"] == "ghp_test_token"
    assert set(cursor_repos(config["cursor"])) == {"acme/api-gateway", "acme/billing"}
    # every PUT of a config carried the token exactly as it was read
    for _, body in connector.backend.puts:
        if "config" in body:
            assert body["config"]["token"] == "ghp_test_token"


def test_cursor_stays_compact(connector: Connector, tmp_path: Path) -> None:
    setup(connector)
    for number in range(250):
        connector.github.add_event("acme", "api-gateway", issues_event("labeled", number, f"Issue {number}"))
    assert fresh_pod(connector, tmp_path, "pod1").run("sync", env=BACKEND_STATE).returncode == 0
    cursor = connector.backend.integration("clx1")["config"]["cursor"]  # type: ignore[index]
    repo_cursor = cursor_repos(cursor)["acme/api-gateway"]
    assert len(repo_cursor["events"]["seen"]) <= 200
    assert len(json.dumps(cursor)) < 8_000
    assert fresh_pod(connector, tmp_path, "pod2").run("sync", env=BACKEND_STATE).returncode == 0
    assert len(connector.backend.events) == 253  # nothing re-sent after eviction


def test_a_backend_that_rejects_the_cursor_write(connector: Connector, tmp_path: Path) -> None:
    setup(connector)
    connector.backend.fail_next("PUT", "/integrations/clx1$", 500, count=1000)

    failed = fresh_pod(connector, tmp_path, "pod1").run("sync", env=BACKEND_STATE)
    connector.backend._faults.clear()  # the backend accepts writes again

    assert failed.returncode == 6
    assert "cursor not saved" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert len(connector.backend.events) == 3

    connector.github.add_event("acme", "api-gateway", issues_event("closed", 1, "Slow checkout"))
    again = fresh_pod(connector, tmp_path, "pod2").run("sync", env=BACKEND_STATE)
    assert again.returncode == 0, again.stderr
    titles = [event.body["title"] for event in connector.backend.events]
    # re-sent at most the failed run's three events, and skipped nothing
    assert len(titles) <= 3 + 3 + 1
    assert "Issue closed: Slow checkout" in titles
    third = fresh_pod(connector, tmp_path, "pod3").run("sync", env=BACKEND_STATE)
    assert third.returncode == 0
    assert len(connector.backend.events) == len(titles)


def test_dry_run_with_backend_state_writes_nothing(connector: Connector, tmp_path: Path) -> None:
    setup(connector)
    run = fresh_pod(connector, tmp_path, "pod1").run("sync", "--dry-run", env=BACKEND_STATE)
    assert run.returncode == 0
    assert len(run.printed_events) == 3
    assert connector.backend.puts == []


def test_moving_from_file_state_to_backend_state_re_sends_nothing(connector: Connector, tmp_path: Path) -> None:
    setup(connector)
    assert connector.run("sync").returncode == 0  # file state
    exported = connector.run("state", "export")
    assert exported.returncode == 0
    export_file = tmp_path / "cursors.json"
    export_file.write_text(exported.stdout, encoding="utf-8")

    imported = connector.run("state", "import", str(export_file), "--state", "backend")
    assert imported.returncode == 0, imported.stderr

    connector.github.add_event("acme", "api-gateway", push_event(ref="refs/heads/release"))
    after = fresh_pod(connector, tmp_path, "pod").run("sync", env=BACKEND_STATE)
    assert after.returncode == 0, after.stderr
    titles = [event.body["title"] for event in connector.backend.events]
    assert len(titles) == 4
    assert titles[-1] == "Push to release"
    shown = fresh_pod(connector, tmp_path, "pod").run("state", "show", "--state", "backend")
    assert "tenant-a/clx1/acme/api-gateway" in shown.stdout
