"""The status PainChain shows for each integration: the pure decision, the read-modify-write, and a whole
run in-process (requests-mock answers GitHub and the backend)."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest
import requests_mock

from painchain_gh import secrets
from painchain_gh.integration_status import (
    LAST_ERROR_LIMIT,
    StatusChange,
    apply_change,
    decide_statuses,
    reason_line,
)
from painchain_gh.models import InvalidIntegration, ListedStatus
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.runner import Runner
from painchain_gh.settings import Settings
from tests.doubles import API, BACKEND, BackendDouble, integration, integration_row, jobs_of, mock_repo, with_id
from tests.fakes.github import issues_event

(JOB,) = jobs_of(integration("acme/api", identifier="a"))
ACTIVE = {"a": ListedStatus("active", None, "Team")}
IN_ERROR = {"a": ListedStatus("error", "token: missing", "Team")}


def result(status: RepoStatus, error: str | None = None, *, lasting: bool = False) -> RepoResult:
    return RepoResult(job=JOB, status=status, error=error, lasting=lasting)


def test_a_lasting_problem_sets_error_with_its_reason_and_the_same_one_is_not_written_again() -> None:
    invalid = [InvalidIntegration("a", "Team", "token: missing")]
    (change,) = decide_statuses(ACTIVE, invalid, [])
    assert change == StatusChange("a", "error", "token: missing", "integration a (Team)")
    assert decide_statuses(IN_ERROR, invalid, []) == []  # already says so: no request
    other = [InvalidIntegration("a", "Team", "repositories must be a list")]
    assert [c.last_error for c in decide_statuses(IN_ERROR, other, [])] == ["repositories must be a list"]


def test_a_successful_sync_sets_active_and_clears_the_reason_once() -> None:
    (change,) = decide_statuses(IN_ERROR, [], [result(RepoStatus.SYNCED)])
    assert (change.status, change.last_error) == ("active", None)
    assert decide_statuses(IN_ERROR, [], [result(RepoStatus.NOT_MODIFIED)])[0].status == "active"
    assert decide_statuses(ACTIVE, [], [result(RepoStatus.SYNCED)]) == []  # nothing to change
    typed_by_someone = {"a": ListedStatus("active", "hello", "Team")}
    assert decide_statuses(typed_by_someone, [], [result(RepoStatus.SYNCED)])[0].last_error is None


@pytest.mark.parametrize(
    "results",
    [
        [result(RepoStatus.FAILED, "GitHub answered 502 for /repos/acme/api/events")],
        [result(RepoStatus.DEFERRED, "token rate limit under the reserve")],
        [result(RepoStatus.DEFERRED, "the run's deadline (--max-runtime) was reached")],
        [result(RepoStatus.SYNCED), result(RepoStatus.FAILED, "backend kept answering 503")],
        [result(RepoStatus.NOT_DUE)],
        [],
    ],
)
def test_temporary_trouble_or_nothing_polled_leaves_the_status_as_it_is(results: list[RepoResult]) -> None:
    assert decide_statuses(IN_ERROR, [], results) == []
    assert decide_statuses(ACTIVE, [], results) == []


def test_a_repository_github_refuses_sets_error_naming_it_with_a_reason_stable_between_runs() -> None:
    first = "GitHub answered 404 for /repos/acme/api/events: Not Found (request id AAAA:1111)"
    again = "GitHub answered 404 for /repos/acme/api/events: Not Found (request id BBBB:2222)"
    (change,) = decide_statuses(ACTIVE, [], [result(RepoStatus.FAILED, first, lasting=True)])
    assert change.last_error == "acme/api: GitHub answered 404 for /repos/acme/api/events: Not Found"
    written = {"a": ListedStatus("error", change.last_error, "Team")}
    assert decide_statuses(written, [], [result(RepoStatus.FAILED, again, lasting=True)]) == []


def test_a_temporary_discovery_failure_changes_nothing_and_a_lasting_one_sets_error() -> None:
    temporary = InvalidIntegration("a", "Team", "repository discovery failed: GitHub answered 502", lasting=False)
    assert decide_statuses(IN_ERROR, [temporary], [result(RepoStatus.SYNCED)]) == []
    lasting = InvalidIntegration("a", "Team", "repository discovery failed: GitHub answered 404")
    assert decide_statuses(ACTIVE, [lasting], [])[0].status == "error"


def test_a_shard_sets_no_error_for_repositories_but_does_for_the_config() -> None:
    failed = [result(RepoStatus.FAILED, "the token was rejected (401 Bad credentials)", lasting=True)]
    assert decide_statuses(ACTIVE, [], failed, repository_problems=False) == []
    invalid = [InvalidIntegration("a", "Team", "apiUrl origin https://evil.example is not allowed")]
    assert decide_statuses(ACTIVE, invalid, [], repository_problems=False)[0].status == "error"


def test_only_polled_statuses_are_ever_changed() -> None:
    chosen = {"a": ListedStatus("inactive", None, "Team")}
    assert decide_statuses(chosen, [InvalidIntegration("a", "Team", "token: missing")], []) == []


def test_the_reason_is_one_bounded_line_without_secrets() -> None:
    secret = "ghp_reasonSECRETvalue0123456789abcdefGHIJ"  # as long as a real token
    secrets.register([secret])
    problems = [f"acme/r{n}: GitHub answered 404 {secret}\nX-Evil: 1" for n in range(5)]
    line = reason_line([*problems, "x" * 2000])
    assert secret not in line and "\n" not in line and "\\x0a" in line
    assert line.count("acme/r") == 3 and len(line) <= LAST_ERROR_LIMIT
    assert reason_line(["a", "a", "b"]) == "a; b"
    assert reason_line([f"p{n}" for n in range(5)]) == "p0; p1; p2; and 2 more"


def row(status: str = "active", **config: Any) -> dict[str, Any]:
    return {
        "id": "a",
        "type": "github",
        "status": status,
        "config": {"name": "Team", "tags": [], "token": "t", **config},
    }


def test_the_change_rewrites_only_status_and_last_error_of_the_config_as_read() -> None:
    change = StatusChange("a", "error", "token refused", "integration a (Team)")
    fresh = row(repositories=["acme/api"], cursor={"version": 2, "repos": {}}, unknownKey=[1])
    before = copy.deepcopy(fresh["config"])
    fields = apply_change(fresh, change)
    assert fields == {"status": "error", "config": {**before, "lastError": "token refused"}}
    cleared = apply_change(row("error", lastError="token refused"), StatusChange("a", "active", None, "x"))
    assert cleared == {"status": "active", "config": {"name": "Team", "tags": [], "token": "t"}}


def test_an_integration_of_the_github_app_type_gets_its_status_written_too() -> None:
    fields = apply_change({**row(), "type": "github-app"}, StatusChange("a", "error", "key refused", "x"))
    assert fields == {
        "status": "error",
        "config": {"name": "Team", "tags": [], "token": "t", "lastError": "key refused"},
    }


def test_a_config_the_backend_would_refuse_gets_the_status_alone() -> None:
    change = StatusChange("a", "error", "token: missing", "x")
    no_tags = {"id": "a", "type": "github", "status": "active", "config": {"name": "Team", "token": ""}}
    assert apply_change(no_tags, change) == {"status": "error"}
    assert apply_change({**no_tags, "status": "error"}, change) is None


@pytest.mark.parametrize(
    "fresh",
    [row("inactive"), row("paused"), {**row(), "type": "gitlab"}, row("error", lastError="token refused")],
)
def test_nothing_is_written_to_an_integration_a_person_changed_meanwhile_or_that_already_says_so(
    fresh: dict[str, Any],
) -> None:
    assert apply_change(fresh, StatusChange("a", "error", "token refused", "x")) is None


# -- a whole run, in-process -----------------------------------------------------------------------


def run(tmp_path: Path, **settings: Any) -> None:
    runner = Runner(
        Settings(
            backend_url=BACKEND,
            github_api_url=API,
            state_file=tmp_path / "state.json",
            retry_base_delay=0.0,
            concurrency=2,
            **settings,
        )
    )
    runner.sync(lambda result: None)


def status_puts(requests_mock: requests_mock.Mocker) -> list[dict[str, Any]]:
    return [r.json() for r in requests_mock.request_history if r.method == "PUT" and "status" in r.json()]


def test_a_run_marks_a_broken_integration_and_a_fixed_one_turns_active(
    requests_mock: requests_mock.Mocker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mock_repo(requests_mock, "acme/api", events=[with_id(issues_event(title="Login broken"), 900, 60)])
    broken = integration_row("acme/api", identifier="broken")
    broken["config"].update(name="Broken", tags=[], token="  ")
    person_chose = integration_row("acme/api", identifier="off")
    person_chose.update(status="inactive")
    person_chose["config"]["token"] = ""
    backend = BackendDouble(requests_mock, [broken, person_chose])

    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        run(tmp_path)
    stored = backend.integrations["broken"]
    assert stored["status"] == "error" and stored["config"]["lastError"].startswith("token: missing")
    assert stored["config"]["name"] == "Broken" and stored["config"]["repositories"]  # the rest as read
    assert "status set to error in PainChain" in caplog.text
    run(tmp_path)
    assert len(status_puts(requests_mock)) == 1  # unchanged: nothing written again

    stored["config"]["token"] = "ghp_fixed_in_the_form"
    run(tmp_path)
    assert stored["status"] == "active" and "lastError" not in stored["config"]
    assert backend.integrations["off"]["status"] == "inactive" and "lastSync" not in backend.integrations["off"]
    assert not [r for r in requests_mock.request_history if r.method == "PUT" and r.path.endswith("/off")]


def test_a_token_github_refuses_and_a_missing_repository_are_shown_and_a_502_is_not(
    requests_mock: requests_mock.Mocker, tmp_path: Path
) -> None:
    mock_repo(requests_mock, "acme/gone", events_status=404)
    mock_repo(requests_mock, "acme/flaky", events_status=502)
    mock_repo(requests_mock, "acme/private", events_status=401)
    rows = [integration_row(f"acme/{name}", identifier=name) for name in ("gone", "flaky", "private")]
    for stored in rows:
        stored["config"].update(name=stored["name"], tags=[])  # what newer backends require of every config
    backend = BackendDouble(requests_mock, rows)

    run(tmp_path)

    refused = backend.integrations["private"]["config"]["lastError"]
    assert refused == "acme/private: the token was rejected (401 Bad credentials) on /repos/acme/private/events"

    gone = backend.integrations["gone"]
    assert gone["status"] == "error"
    assert gone["config"]["lastError"] == "acme/gone: GitHub answered 404 for /repos/acme/gone/events: nope"
    assert backend.integrations["flaky"]["status"] == "active"
    assert "lastError" not in backend.integrations["flaky"]["config"]


def test_a_dry_run_writes_no_status(requests_mock: requests_mock.Mocker, tmp_path: Path) -> None:
    broken = integration_row("acme/api", identifier="broken")
    broken["config"]["repositories"] = 5
    BackendDouble(requests_mock, [broken])

    run(tmp_path, dry_run=True)

    assert status_puts(requests_mock) == []
