"""Property: whatever one integration's GitHub answers, or whatever bytes a state file or the backend's
integration list holds, the run ends with a documented outcome, and another tenant's events all go through."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import requests_mock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from painchain_gh.errors import ExitCode, StateError
from painchain_gh.models import select_integrations
from painchain_gh.store.file_store import FileStore
from tests.doubles import API, ListSink, MemoryStore, at, integration, jobs_of, mock_repo, with_id
from tests.fakes.github import issues_event
from tests.test_http_properties import answers, bodies, json_values
from tests.test_sync_inprocess import sync

HOSTILE = "evil/repo"
CALM = "calm/repo"
DOCUMENTED = {ExitCode.OK, ExitCode.PARTIAL}


def mock_hostile(mocker: requests_mock.Mocker, replies: list[tuple[int, dict[str, str], bytes]]) -> None:
    """Every request of the hostile repository gets the same sequence of answers."""
    responses = [{"status_code": status, "headers": headers, "content": body} for status, headers, body in replies]
    mocker.get(requests_mock.ANY, response_list=responses)  # the catch-all; the calm repository overrides it


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(replies=answers)
def test_any_answer_for_one_tenant_never_stops_another(replies: list[tuple[int, dict[str, str], bytes]]) -> None:
    with requests_mock.Mocker() as mocker:
        mock_hostile(mocker, replies)
        mock_repo(mocker, CALM, events=[with_id(issues_event(title="calm"), 501, 60)])
        hostile = integration(HOSTILE, identifier="int-evil", tenant="tenant-evil", token="ghp_evil_tenant_token")
        calm = integration(CALM, identifier="int-calm", tenant="tenant-calm")
        sink = ListSink()

        report = sync(jobs_of(hostile, calm), MemoryStore(), sink)

    calm_titles = [event.title for tenant, event in sink.sent if tenant == "tenant-calm"]
    assert calm_titles == ["Issue opened: calm"]
    assert report.exit_code() in DOCUMENTED
    assert all(event.project == HOSTILE for tenant, event in sink.sent if tenant == "tenant-evil")
    assert mocker.called  # the hostile answers were really served


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.one_of(bodies, json_values.map(lambda value: json.dumps({"version": 2, "repos": value}).encode())))
def test_any_state_file_loads_or_is_a_state_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.json"
        path.write_bytes(content)
        try:
            FileStore(path).load_readonly()
        except StateError as error:
            assert "\n" not in str(error)
        assert path.read_bytes() == content  # never changed by reading


@settings(max_examples=80, deadline=None)
@given(rows=json_values)
def test_any_integration_list_is_selected_without_raising(rows: Any) -> None:
    selection = select_integrations(rows)
    assert all(integration.type == "github" for integration in selection.valid)


@settings(max_examples=40, deadline=None)
@given(
    config=st.dictionaries(
        st.sampled_from(["token", "repositories", "repos", "tags", "apiUrl", "polling"]), json_values
    )
)
def test_a_hostile_integration_next_to_a_good_one_never_hides_it(config: dict[str, Any]) -> None:
    good = {
        "id": "good",
        "type": "github",
        "name": "good",
        "config": {"token": "ghp_good_token", "repositories": ["acme/api"]},
    }
    rows = [{"id": "bad", "type": "github", "name": "bad", "config": config}, good]
    selection = select_integrations(rows)
    assert "good" in [integration.id for integration in selection.valid]


# -- what a run writes, the next run reads -------------------------------------------------------

_ids = st.one_of(
    st.integers(min_value=-(10**130), max_value=10**130),
    st.text(alphabet="0123456789", min_size=1, max_size=130),
    st.text(max_size=40),
    st.none(),
)
_texts = st.one_of(st.text(max_size=400), st.text(alphabet="ab/-_.", min_size=150, max_size=400), st.none())
_times = st.one_of(
    st.just("2026-01-01T00:00:00Z"),
    st.sampled_from(["9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "not a time"]),
    st.integers(),
    st.none(),
)


def _recent(value: object) -> object:
    """Times that parse are moved to a minute ago, so that the item is inside the first sync's window."""
    return at(60) if value == "2026-01-01T00:00:00Z" else value


_event = st.fixed_dictionaries(
    {"id": _ids, "type": st.sampled_from(["IssuesEvent", "ReleaseEvent", "CreateEvent"]), "created_at": _times},
    optional={"payload": st.fixed_dictionaries({"action": _texts})},
).map(lambda item: {**item, "created_at": _recent(item["created_at"])})
_run = st.fixed_dictionaries(
    {"id": _ids, "created_at": _times, "status": _texts, "conclusion": _texts, "run_attempt": _ids}
).map(lambda item: {**item, "created_at": _recent(item["created_at"])})
_deployment = st.fixed_dictionaries(
    {"id": _ids, "created_at": _times, "updated_at": _texts, "environment": _texts, "sha": _texts}
).map(lambda item: {**item, "created_at": _recent(item["created_at"])})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    events=st.lists(_event, max_size=4),
    runs=st.lists(_run, max_size=4),
    deployments=st.lists(_deployment, max_size=3),
    statuses=st.lists(_deployment, max_size=3),
    etag=_texts,
)
def test_whatever_github_answers_what_a_run_writes_the_next_run_reads(
    events: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    deployments: list[dict[str, Any]],
    statuses: list[dict[str, Any]],
    etag: str | None,
) -> None:
    with tempfile.TemporaryDirectory() as folder, requests_mock.Mocker() as mocker:
        path = Path(folder) / "state.json"
        base = f"{API}/repos/{HOSTILE}"
        headers = {"ETag": etag} if isinstance(etag, str) and etag.isascii() and "\n" not in etag else {}
        mocker.get(requests_mock.ANY, json=statuses)  # every deployment's statuses (the last match wins)
        mocker.get(f"{base}/events?per_page=100", json=events, headers=headers)
        mocker.get(f"{base}/actions/runs?per_page=100", json={"workflow_runs": runs}, headers=headers)
        mocker.get(f"{base}/deployments?per_page=100", json=deployments, headers=headers)
        mock_repo(mocker, CALM, events=[with_id(issues_event(title="calm"), 501, 60)])
        hostile = integration(HOSTILE, identifier="int-evil", tenant="tenant-evil")
        calm = integration(CALM, identifier="int-calm", tenant="tenant-calm")
        for _ in range(2):  # the second run reads what the first wrote
            store = FileStore(path).open()
            try:
                report = sync(jobs_of(hostile, calm), store, ListSink())  # type: ignore[arg-type]
            finally:
                store.close()
            assert not report.state_errors
            assert report.exit_code() in DOCUMENTED
        read_back = FileStore(path).load_readonly()  # raises StateError if anything written is unreadable
        assert read_back.snapshot().repos  # the calm repository's cursor at least
