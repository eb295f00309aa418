"""The command line in-process (typer's CliRunner), against requests-mock and a temporary state file."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock
from typer.testing import CliRunner, Result

from painchain_gh.cli import app
from painchain_gh.cli.shared import DEFAULT_INITIAL_LOOKBACK, DEFAULT_MAX_RUNTIME, build_settings
from painchain_gh.errors import ExitCode
from painchain_gh.runner import Runner
from painchain_gh.settings import Settings
from painchain_gh.store.deadletter import DeadLetter, DeadLetterFile
from painchain_gh.timeutil import format_duration, parse_duration
from tests.doubles import API, BACKEND, BackendDouble, cursor_repos, integration_row, mock_repo, with_id, workflow_run
from tests.fakes.github import issues_event, release_event

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Point the CLI at requests-mock and a temporary state file; restore logging and SIGTERM after."""
    for name in ("GITHUB_TOKEN", "BACKEND_API_TOKEN", "POLLING_INTERVAL", "JOB_COMPLETION_INDEX", "PAINCHAIN_GH_SHARD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKEND_API_URL", BACKEND)
    monkeypatch.setenv("GITHUB_API_URL", API)
    monkeypatch.setenv("PAINCHAIN_GH_RETRY_BASE_DELAY", "0")
    state_file = tmp_path / "state.json"
    monkeypatch.setenv("PAINCHAIN_GH_STATE_FILE", str(state_file))
    log = logging.getLogger("painchain_gh")
    handlers, level, propagate = list(log.handlers), log.level, log.propagate
    sigterm = signal.getsignal(signal.SIGTERM)
    yield state_file
    log.handlers[:], log.level, log.propagate = handlers, level, propagate
    signal.signal(signal.SIGTERM, sigterm)


def invoke(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=stdin)


def records(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]


def summary(result: Result) -> dict[str, Any]:
    return next(record for record in records(result) if record.get("event") == "summary")


def seeded(mocker: requests_mock.Mocker) -> BackendDouble:
    backend = BackendDouble(mocker, [integration_row("acme/api", "acme/web")])
    mock_repo(mocker, "acme/api", events=[with_id(issues_event(title="Login fails"), 11, 120)])
    mock_repo(mocker, "acme/web", events=[with_id(release_event("v3"), 12, 60)], runs=[workflow_run(5, 90)])
    return backend


def test_version_is_printed_without_a_command() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("painchain-gh 0.")


def test_sync_forwards_records_cursors_writes_metrics_and_is_quiet_the_second_time(
    requests_mock: requests_mock.Mocker, environment: Path, tmp_path: Path
) -> None:
    backend = seeded(requests_mock)
    metrics = tmp_path / "metrics" / "painchain_gh.prom"

    first = invoke("sync", "--log-format", "json", "--metrics-file", str(metrics))

    assert first.exit_code == 0, first.stderr
    assert sorted(body["title"] for _, body in backend.events) == [
        "Issue opened: Login fails",
        "Release published: v3",
        "[Workflow] CI: success",
    ]
    assert {tenant for tenant, _ in backend.events} == {"tenant-a"}
    assert summary(first)["synced"] == 2
    assert "lastSync" in backend.integrations["clx1"]
    assert "painchain_gh_last_run_events_forwarded 3.0" in metrics.read_text()
    assert list(json.loads(environment.read_text())["repos"]["tenant-a/clx1/acme/api"]["events"]["seen"]) == ["11"]

    second = invoke("sync", "--log-format", "json", "--force")
    assert second.exit_code == 0
    assert len(backend.events) == 3
    assert summary(second)["forwarded"] == 0


def test_dry_run_prints_events_and_changes_nothing(requests_mock: requests_mock.Mocker, environment: Path) -> None:
    mock_repo(requests_mock, "acme/api", events=[with_id(issues_event(title="Login fails"), 21, 60)])
    result = invoke("sync", "--dry-run", "--repo", "acme/api", "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [event["title"] for event in printed] == ["Issue opened: Login fails"]
    assert printed[0]["tenantId"] is None
    assert not environment.exists()
    assert all(request.method == "GET" for request in requests_mock.request_history)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync", "--max-runtime", "soon"], "--max-runtime"),
        (["sync", "--state", "cloud"], "--state must be file or backend"),
        (["sync", "--log-format", "xml"], "--log-format"),
        (["sync", "--dry-run", "--repo", "not-a-repo"], "OWNER/NAME"),
        (["sync", "--shard", "5/2"], "--shard"),
        (["state", "reset"], "--yes"),
        (["state", "import", "/nonexistent/export.json"], "cannot read"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == ExitCode.CONFIG
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_polling_interval_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLLING_INTERVAL", "soon")
    assert invoke("sync").exit_code == ExitCode.CONFIG


def test_ctrl_c_exits_130_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: Runner, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "sync", interrupted)
    result = invoke("sync", "--log-format", "text")
    assert result.exit_code == int(ExitCode.INTERRUPTED) == 130
    assert result.stderr.strip().splitlines() == ["ERROR interrupted"]


def test_an_unreachable_backend_exits_4(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{BACKEND}/integrations", exc=requests.ConnectionError)
    result = invoke("sync", "--log-format", "json")
    assert result.exit_code == ExitCode.UPSTREAM
    assert summary(result)["exit_code"] == 4
    assert sum(record["level"] == "error" for record in records(result)) == 1


def test_state_show_export_import_and_reset_with_the_file_store(
    requests_mock: requests_mock.Mocker, environment: Path, tmp_path: Path
) -> None:
    seeded(requests_mock)
    assert invoke("sync", "--log-format", "json").exit_code == 0

    shown = invoke("state", "show")
    assert shown.exit_code == 0
    assert "tenant-a/clx1/acme/web: last polled" in shown.stdout
    assert "1 runs tracked (0 open)" in shown.stdout
    only = invoke("state", "show", "--repo", "acme/api", "--json")
    assert list(json.loads(only.stdout)) == ["tenant-a/clx1/acme/api"]

    exported = invoke("state", "export")
    assert json.loads(exported.stdout)["version"] == 2
    export_file = tmp_path / "export.json"
    export_file.write_text(exported.stdout)

    assert invoke("state", "reset", "--yes", "--repo", "acme/api", "--log-format", "json").exit_code == 0
    assert list(json.loads(invoke("state", "export").stdout)["repos"]) == ["tenant-a/clx1/acme/web"]
    assert invoke("state", "reset", "--yes", "--log-format", "json").exit_code == 0
    assert invoke("state", "show").stdout.strip() == "no cursors stored"

    imported = invoke("state", "import", str(export_file), "--log-format", "json")
    assert imported.exit_code == 0
    assert "imported the cursors of 2 repositories" in imported.stderr
    assert invoke("state", "import", "-", "--log-format", "json", stdin="{not json").exit_code == ExitCode.CONFIG


def test_state_reset_moves_an_unreadable_file_aside(environment: Path) -> None:
    environment.write_text("{ truncated")
    result = invoke("state", "reset", "--yes", "--log-format", "json")
    assert result.exit_code == 0
    assert list(environment.parent.glob("state.json.corrupt-*"))
    assert json.loads(environment.read_text())["repos"] == {}


def test_a_corrupt_state_file_exits_6(environment: Path) -> None:
    environment.write_text("{ truncated")
    assert invoke("state", "show").exit_code == ExitCode.STATE


def test_state_in_the_backend_round_trips(requests_mock: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = seeded(requests_mock)
    monkeypatch.setenv("PAINCHAIN_GH_STATE", "backend")
    assert invoke("sync", "--log-format", "json").exit_code == 0
    assert set(cursor_repos(backend.integrations["clx1"]["config"]["cursor"])) == {"acme/api", "acme/web"}

    exported = invoke("state", "export")
    assert set(json.loads(exported.stdout)["repos"]) == {"tenant-a/clx1/acme/api", "tenant-a/clx1/acme/web"}
    assert "tenant-a/clx1/acme/api" in invoke("state", "show").stdout

    assert invoke("state", "reset", "--yes", "--repo", "acme/api", "--log-format", "json").exit_code == 0
    assert set(cursor_repos(backend.integrations["clx1"]["config"]["cursor"])) == {"acme/web"}
    imported = invoke("state", "import", "-", "--log-format", "json", stdin=exported.stdout)
    assert imported.exit_code == 0
    assert set(cursor_repos(backend.integrations["clx1"]["config"]["cursor"])) == {"acme/api", "acme/web"}
    assert invoke("state", "reset", "--yes", "--log-format", "json").exit_code == 0
    assert "cursor" not in backend.integrations["clx1"]["config"]


def test_rejected_events_are_dead_lettered_listed_and_retried(
    requests_mock: requests_mock.Mocker, environment: Path
) -> None:
    backend = seeded(requests_mock)
    backend.reject_titles = {"Release published: v3"}

    first = invoke("sync", "--log-format", "json")
    assert first.exit_code == ExitCode.PARTIAL
    assert summary(first)["dead_lettered"] == 1

    listed = invoke("deadletter", "list")
    assert [json.loads(line)["body"]["title"] for line in listed.stdout.splitlines()] == ["Release published: v3"]

    still = invoke("deadletter", "retry", "--log-format", "json")
    assert still.exit_code == ExitCode.PARTIAL
    backend.reject_titles = set()
    retried = invoke("deadletter", "retry", "--log-format", "json")
    assert retried.exit_code == 0
    assert backend.events[-1][1]["title"] == "Release published: v3"
    assert DeadLetterFile(environment.with_name("state.json.deadletter.jsonl")).read() == []


def test_a_corrupt_dead_letter_file_exits_6(environment: Path) -> None:
    letters = DeadLetterFile(environment.with_name("state.json.deadletter.jsonl"))
    letters.append(DeadLetter(tenant_id=None, status=400, reason="x", at="2026-01-01T00:00:00Z", body={}))
    letters.path.write_text(letters.path.read_text() + "{broken\n")
    assert invoke("deadletter", "list").exit_code == ExitCode.STATE


def test_register_posts_the_connector_type(
    requests_mock: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = BackendDouble(requests_mock, [])
    monkeypatch.setenv("BACKEND_API_TOKEN", "backend-secret-for-tests")
    result = invoke("register", "--log-format", "json")
    assert result.exit_code == 0
    assert [payload["id"] for payload in backend.registered] == ["github", "github-app"]
    assert [payload["displayName"] for payload in backend.registered] == ["GitHub", "GitHub App"]
    assert [record["message"] for record in records(result)] == [
        "connector type 'github' registered",
        "connector type 'github-app' registered",
    ]
    assert "backend-secret-for-tests" not in result.stderr


def test_register_reports_a_refused_type_and_still_registers_the_other(
    requests_mock: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = BackendDouble(requests_mock, [])
    monkeypatch.setenv("BACKEND_API_TOKEN", "backend-secret-for-tests")

    def refuse_github(request: Any, context: Any) -> Any:
        backend.registered.append(request.json())
        if request.json()["id"] == "github":
            context.status_code = 400
            return {"statusCode": 400, "message": "refused"}
        return {"ok": True}

    requests_mock.post(f"{BACKEND}/integrations/types/register", json=refuse_github)
    result = invoke("register", "--log-format", "json")

    assert result.exit_code == ExitCode.UPSTREAM
    assert [payload["id"] for payload in backend.registered] == ["github", "github-app"]
    assert [(record["level"], record["message"]) for record in records(result)] == [
        ("info", "connector type 'github-app' registered"),
        ("error", "connector type 'github' not registered: backend rejected POST /integrations/types/register "
         'with 400: {"statusCode": 400, "message": "refused"}'),
    ]  # fmt: skip


def test_sync_registers_the_type_beside_the_integrations_and_a_refusal_is_only_a_warning(
    requests_mock: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = seeded(requests_mock)
    monkeypatch.setenv("BACKEND_API_TOKEN", "backend-secret-for-tests")

    first = invoke("sync", "--log-format", "json")
    requests_mock.post(f"{BACKEND}/integrations/types/register", status_code=403, json={"message": "no"})
    second = invoke("sync", "--log-format", "json", "--force")

    assert [payload["id"] for payload in backend.registered] == ["github", "github-app"]
    assert (first.exit_code, second.exit_code) == (0, 0)
    refused = [record["message"] for record in records(second) if "not registered" in record["message"]]
    assert [message.split(" (sync goes on)")[0] for message in refused] == [
        "connector type 'github' not registered",
        "connector type 'github-app' not registered",
    ]
    assert len(backend.events) == 3


def test_check_reports_each_token_and_repository(requests_mock: requests_mock.Mocker) -> None:
    BackendDouble(requests_mock, [integration_row("acme/api", "acme/gone")])
    requests_mock.get(f"{API}/user", json={"login": "octocat"}, headers={"X-OAuth-Scopes": "repo, workflow"})
    requests_mock.get(f"{API}/repos/acme/api", json={"full_name": "acme/api"})
    requests_mock.get(f"{API}/repos/acme/gone", status_code=404, json={"message": "Not Found"})
    result = invoke("check")
    assert result.exit_code == ExitCode.PARTIAL
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok") and "valid for octocat; scopes: repo, workflow" in line for line in lines)
    assert any(line.startswith("FAIL") and "acme/gone" in line for line in lines)
    assert "4 ok, 1 to fix" in result.stdout


def test_check_with_an_unreachable_backend_exits_4(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{BACKEND}/integrations", exc=requests.ConnectionError)
    result = invoke("check")
    assert result.exit_code == ExitCode.UPSTREAM
    assert "FAIL  backend" in result.stdout


def test_defaults_come_from_settings_once(monkeypatch: pytest.MonkeyPatch, environment: Path) -> None:
    for name in ("BACKEND_API_URL", "GITHUB_API_URL", "PAINCHAIN_GH_RETRY_BASE_DELAY"):
        monkeypatch.delenv(name)
    built = build_settings(state_file=environment)
    assert built == Settings(state_file=environment)
    assert (DEFAULT_INITIAL_LOOKBACK, DEFAULT_MAX_RUNTIME) == ("24h", "50s")
    assert all(parse_duration(format_duration(seconds)) == seconds for seconds in (0, 0.5, 45, 90, 3600, 86400))
    sharded = build_settings(state_file=environment, shard="1/3", concurrency=4)
    assert sharded.state_file.name == "state.shard-1-of-3.json"
    assert sharded.concurrency == 4


def test_max_response_mb_caps_what_is_read_from_github(requests_mock: requests_mock.Mocker) -> None:
    backend = seeded(requests_mock)
    big = [with_id(issues_event(title="x" * 12_000), 100 + n, 60) for n in range(100)]  # about 1.2 MiB
    requests_mock.get(f"{API}/repos/acme/api/events?per_page=100", json=big)

    capped = invoke("sync", "--log-format", "json", "--max-response-mb", "1")
    roomy = invoke("sync", "--log-format", "json", "--max-response-mb", "2")

    assert capped.exit_code == ExitCode.PARTIAL
    failed = [record for record in records(capped) if record.get("status") == "failed"]
    assert [record["repository"] for record in failed] == ["acme/api"]
    assert "larger than 1 MB" in failed[0]["error"]
    assert roomy.exit_code == 0
    assert len([body for _, body in backend.events if body["project"] == "acme/api"]) == 100
    assert invoke("sync", "--max-response-mb", "0").exit_code == ExitCode.CONFIG


def test_check_reads_fine_grained_permissions_and_does_not_fail_without_get_user(
    requests_mock: requests_mock.Mocker,
) -> None:
    row = integration_row("acme/api")
    row["config"]["containerImages"] = True
    BackendDouble(requests_mock, [row])
    needs = "contents=read; metadata=read"
    requests_mock.get(
        f"{API}/user",
        status_code=403,
        json={"message": "Resource not accessible by integration"},
        headers={"X-Accepted-GitHub-Permissions": needs},
    )
    requests_mock.get(f"{API}/repos/acme/api", json={"full_name": "acme/api"})
    result = invoke("check")
    token_line = next(line for line in result.stdout.splitlines() if "token of" in line)
    assert token_line.startswith("ok") and "GET /user is not allowed" in token_line
    assert "give the token Packages read access" in result.stdout  # containerImages without packages
    assert any(line.startswith("ok") and "acme/api [clx1]" in line for line in result.stdout.splitlines())
    assert result.exit_code == 0


def test_check_names_the_missing_packages_scope_and_keeps_a_row_per_repository_when_the_token_fails(
    requests_mock: requests_mock.Mocker,
) -> None:
    row = integration_row("acme/api", "acme/web")
    row["config"]["containerImages"] = "true"
    BackendDouble(requests_mock, [row])
    requests_mock.get(f"{API}/user", json={"login": "octocat"}, headers={"X-OAuth-Scopes": "repo"})
    requests_mock.get(f"{API}/repos/acme/api", json={})
    requests_mock.get(f"{API}/repos/acme/web", json={})
    result = invoke("check")
    assert "containerImages is on: add the read:packages scope" in result.stdout
    requests_mock.get(f"{API}/user", status_code=401, json={"message": "Bad credentials"})
    refused = invoke("check")
    lines = refused.stdout.splitlines()
    assert [line.split()[0] for line in lines if "[clx1]" in line] == ["FAIL", "FAIL"]
    assert refused.stdout.count("-> replace the token in the integration") == 3  # token row and each repository


def test_a_partly_invalid_integration_is_logged_with_its_own_sentence(requests_mock: requests_mock.Mocker) -> None:
    row = integration_row("acme/api")
    row["config"]["repositories"] = ["acme/api", "not a repo", "acme/../x"]
    BackendDouble(requests_mock, [row])
    mock_repo(requests_mock, "acme/api")
    result = invoke("sync", "--log-format", "json")
    (line,) = [r["message"] for r in records(result) if r.get("event") == "integration"]
    assert line.startswith("integration clx1 (integration clx1): 2 of 3 repositories skipped: ")
    assert "clx1) skipped:" not in line
    assert result.exit_code == ExitCode.PARTIAL


def test_an_adhoc_sync_without_dry_run_or_integration_is_refused_with_exit_2(
    requests_mock: requests_mock.Mocker,
) -> None:
    result = invoke("sync", "--repo", "acme/api")
    assert result.exit_code == ExitCode.CONFIG
    assert "--integration ID" in result.stderr and "--dry-run" in result.stderr
    assert requests_mock.request_history == []


def test_exit_status_is_what_the_interpreter_would_set(capsys: pytest.CaptureFixture[str]) -> None:
    from painchain_gh.cli.app import exit_status

    assert [exit_status(code) for code in (None, 0, 3, 130, 256 + 6)] == [0, 0, 3, 130, 6]
    assert exit_status("usage: broken") == 1
    assert capsys.readouterr().err == "usage: broken\n"


def test_integration_alone_syncs_only_that_integration(requests_mock: requests_mock.Mocker, environment: Path) -> None:
    """``sync --integration ID`` without ``--repo`` used to be ignored: every integration was polled."""
    backend = BackendDouble(
        requests_mock,
        [integration_row("acme/api", identifier="one"), integration_row("acme/web", identifier="two")],
    )
    mock_repo(requests_mock, "acme/api", events=[with_id(issues_event(title="Login fails"), 11, 120)])
    mock_repo(requests_mock, "acme/web", events=[with_id(release_event("v3"), 12, 60)])

    result = invoke("sync", "--integration", "two", "--log-format", "json")

    assert result.exit_code == 0, result.stderr
    assert [body["integrationId"] for _, body in backend.events] == ["two"]
    assert not [r for r in requests_mock.request_history if "/repos/acme/api/" in r.url]
    unknown = invoke("sync", "--integration", "three", "--log-format", "json")
    assert unknown.exit_code == ExitCode.CONFIG
    assert "--integration three: not an active GitHub integration" in unknown.stderr
