"""Sharding, conditional requests and observability, end to end."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Connector
from tests.fakes.github import issues_event, push_event


def many_repositories(connector: Connector, count: int) -> None:
    repositories = [{"owner": "acme", "repo": f"svc-{number}"} for number in range(count)]
    for repository in repositories:
        connector.github.add_event(repository["owner"], repository["repo"], push_event())
    connector.backend.add_integration(id="clx1", repositories=repositories[: count // 2])
    connector.backend.add_integration(id="clx2", tenant_id="tenant-b", repositories=repositories[count // 2 :])


def test_sharded_runs_forward_exactly_what_one_unsharded_run_forwards(connector: Connector, tmp_path: Path) -> None:
    many_repositories(connector, 24)
    # A minute in 6 s, for the connector's budget and GitHub's limits alike: about 100 requests a run would
    # otherwise be paced over 18 s (shards share the token's budget), and this test is about the shards.
    connector.env["PAINCHAIN_GH_BUDGET_WINDOW"] = "6s"
    connector.github.secondary.window_seconds = 6.0
    unsharded = Connector(connector.github, connector.backend, tmp_path / "unsharded", env=connector.env)
    assert unsharded.run("sync", "--dry-run").returncode == 0
    expected = sorted(
        (event["tenantId"] or "-", event["externalId"]) for event in unsharded.run("sync", "--dry-run").printed_events
    )
    assert len(expected) == 24

    shard_outputs = []
    for index in range(3):
        run = connector.run("sync", env={"JOB_COMPLETION_INDEX": str(index), "PAINCHAIN_GH_SHARD_COUNT": "3"})
        assert run.returncode == 0, run.stderr
        shard_outputs.append(run.summary()["repositories"])
    stored = sorted((event.tenant or "-", event.body["externalId"]) for event in connector.backend.events)
    assert stored == expected
    assert sum(shard_outputs) == 24 and all(count > 0 for count in shard_outputs)
    state_files = sorted(path.name for path in connector.state_dir.glob("*.json"))
    assert state_files == [f"state.shard-{index}-of-3.json" for index in range(3)]


def test_quiet_repositories_cost_no_rate_limit_and_no_backend_post(connector: Connector) -> None:
    many_repositories(connector, 10)
    assert connector.run("sync").returncode == 0
    units, posts = connector.github.units_spent("ghp_test_token"), connector.backend.event_posts
    connector.github.add_event("acme", "svc-3", issues_event("opened", 1, "Only change"))

    run = connector.run("sync")

    assert run.returncode == 0
    assert connector.github.units_spent("ghp_test_token") - units == 1  # svc-3's events page; every other answer a 304
    assert connector.backend.event_posts - posts == 1
    summary = run.summary()
    assert summary["not_modified"] == 9 and summary["synced"] == 1


def test_metrics_file_and_last_success_survive_a_failed_run(connector: Connector, tmp_path: Path) -> None:
    many_repositories(connector, 2)
    metrics = tmp_path / "textfile" / "painchain_gh.prom"
    assert connector.run("sync", "--metrics-file", str(metrics)).returncode == 0
    text = metrics.read_text()
    assert "painchain_gh_last_run_events_forwarded 2.0" in text
    assert 'painchain_gh_last_run_repositories{status="synced"} 2.0' in text
    success_line = next(line for line in text.splitlines() if line.startswith("painchain_gh_last_success_timestamp"))

    connector.backend.stop()
    failed = connector.run("sync", "--metrics-file", str(metrics))
    assert failed.returncode == 4
    text = metrics.read_text()
    assert "painchain_gh_last_run_exit_code 4.0" in text
    assert success_line in text  # still the previous success


def test_check_reports_what_to_fix(connector: Connector) -> None:
    connector.github.add_repo("acme", "api-gateway")
    connector.backend.add_integration(
        id="good", repositories=[{"owner": "acme", "repo": "api-gateway"}, {"owner": "acme", "repo": "missing"}]
    )
    connector.backend.add_integration(id="badtoken", token="ghp_revoked")

    run = connector.run("check")

    assert run.returncode == 3
    lines = run.stdout.splitlines()
    assert any(line.startswith("ok") and "backend" in line for line in lines)
    assert any(line.startswith("ok") and "acme/api-gateway [good]" in line for line in lines)
    assert any(line.startswith("FAIL") and "acme/missing [good]" in line and "404" in line for line in lines)
    assert any(line.startswith("FAIL") and "token of integration badtoken" in line for line in lines)
    assert "scopes: repo" in run.stdout
    assert "ghp_revoked" not in run.stdout + run.stderr
    assert connector.backend.event_posts == 0


def test_json_logs_are_one_object_per_line_with_fields(connector: Connector) -> None:
    many_repositories(connector, 2)
    run = connector.run("sync")
    records = run.log
    assert len(records) == len(run.stderr.splitlines())
    repository_lines = [record for record in records if record.get("event") == "repository"]
    assert {record["repository"] for record in repository_lines} == {"acme/svc-0", "acme/svc-1"}
    for record in repository_lines:
        assert {"level", "message", "integration", "forwarded", "duration_ms"} <= set(record)
