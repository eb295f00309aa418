"""Cursors in the backend: ids as given, one integration's bad cursor isolated, ids quoted in URLs."""

from __future__ import annotations

import copy
import json
import logging
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
import requests_mock

from painchain_gh.backend import BackendClient, path_segment
from painchain_gh.cursor import RepoState, mark_event
from painchain_gh.errors import BackendError, StateError
from painchain_gh.http import Deadline, RetryPolicy
from painchain_gh.models import Integration, select_integrations
from painchain_gh.store.backend_store import (
    BackendStore,
    CursorUnusable,
    import_backend_state,
    load_backend_state,
    reset_backend_state,
)
from painchain_gh.store.model import StateFile
from tests.doubles import cursor_repos

BASE = "http://backend.test/api"
ONE = re.compile(r"^http://backend\.test/api/integrations/[^/]+$")


class Rows:
    """The backend's integration rows behind requests-mock (ids matched exactly, as the real one does)."""

    def __init__(self, mock: requests_mock.Mocker, rows: list[dict[str, Any]]) -> None:
        self.rows = {row["id"]: row for row in rows}
        self.put_paths: list[str] = []
        mock.get(f"{BASE}/integrations", json=lambda request, context: list(self.rows.values()))
        mock.get(ONE, text=self._get)
        mock.put(ONE, text=self._put)

    @staticmethod
    def _id(request: Any) -> str:
        return unquote(urlsplit(request.url).path.rsplit("/", 1)[1])

    def _get(self, request: Any, context: Any) -> str:
        row = self.rows.get(self._id(request))
        return json.dumps(row) if row else ""

    def _put(self, request: Any, context: Any) -> str:
        self.put_paths.append(urlsplit(request.url).path)
        row = self.rows.get(self._id(request))
        if row is None:
            context.status_code = 500
            return "{}"
        row.update(request.json())
        return json.dumps(row)

    def cursor(self, integration_id: str) -> Any:
        return self.rows[integration_id]["config"].get("cursor")


def client() -> BackendClient:
    return BackendClient(
        session=requests.Session(),
        base_url=BASE,
        token=None,
        deadline=Deadline(30),
        policy=RetryPolicy(attempts=1),
        sleep=lambda _s: None,
    )


def row(integration_id: str, cursor: Any = None, *, tenant: str | None = "T") -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": integration_id,
        "tags": [],
        "token": "ghp_test_token",
        "repositories": [{"owner": "Acme", "repo": "API"}],
    }
    if cursor is not None:
        config["cursor"] = cursor
    return {
        "id": integration_id,
        "tenantId": tenant,
        "type": "github",
        "name": f"Team {integration_id}",
        "config": config,
    }


def cursor_with(*event_ids: str, etag: str | None = None, version: int = 2) -> dict[str, Any]:
    state = RepoState(last_polled_at=1_700_000_100)
    state.events.floor = 1_700_000_000
    state.events.etag, state.events.etag_owner = etag, ("abcdef" if etag else None)
    for number, event_id in enumerate(event_ids):
        mark_event(state.events, event_id, 1_700_000_001 + number)
    return {"version": version, "repos": {"acme/api": state.model_dump(mode="json")}}


def valid(rows: list[dict[str, Any]]) -> list[Integration]:
    return select_integrations(copy.deepcopy(rows)).valid


def test_an_id_with_capitals_gets_its_cursor_saved_and_never_touches_its_lower_case_twin(
    requests_mock: requests_mock.Mocker,
) -> None:
    rows = [row("GH-Prod"), row("gh-prod", cursor_with("1"))]
    backend = Rows(requests_mock, copy.deepcopy(rows))
    store = BackendStore(client(), valid(rows))
    assert store.get("T/GH-Prod/acme/api") == RepoState()  # not the twin's cursor
    assert set(store.get("T/gh-prod/acme/api").events.seen) == {"1"}
    store.record_event("T/GH-Prod/acme/api", "99", 1_700_000_500)
    store.finish_integration("GH-Prod", ["T/GH-Prod/acme/api"])

    assert backend.put_paths == ["/api/integrations/GH-Prod"]
    saved = backend.cursor("GH-Prod")
    assert saved["version"] == 3
    assert set(cursor_repos(saved)["acme/api"]["events"]["seen"]) == {"99"}
    assert backend.cursor("gh-prod") == cursor_with("1")


def test_a_version_1_cursor_is_read_and_written_back_as_version_3(requests_mock: requests_mock.Mocker) -> None:
    rows = [row("clx1", cursor_with("1", "2", version=1))]
    backend = Rows(requests_mock, copy.deepcopy(rows))
    store = BackendStore(client(), valid(rows))
    assert set(store.get("T/clx1/acme/api").events.seen) == {"1", "2"}  # nothing re-sent after the upgrade
    store.record_event("T/clx1/acme/api", "3", 1_700_000_500)
    store.finish_integration("clx1", [])
    assert backend.cursor("clx1")["version"] == 3
    assert set(cursor_repos(backend.cursor("clx1"))["acme/api"]["events"]["seen"]) == {"1", "2", "3"}


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ({"version": 9, "repos": {}}, "newer than this painchain-gh understands"),
        ("a string", "not an object"),
        ([1, 2], "not an object"),
        ({"version": 2, "repos": ["acme/api"]}, "no repos object"),
        ({"version": "2", "repos": {}}, "no known format version"),
        ({"repos": {}}, "no known format version"),
    ],
)
def test_one_unusable_cursor_fails_its_integration_alone(
    requests_mock: requests_mock.Mocker, caplog: pytest.LogCaptureFixture, cursor: Any, message: str
) -> None:
    rows = [row("broken", cursor), row("fine", cursor_with("1"))]
    backend = Rows(requests_mock, copy.deepcopy(rows))
    store = BackendStore(client(), valid(rows))
    with caplog.at_level(logging.ERROR, logger="painchain_gh"):
        for _ in range(2):
            with pytest.raises(CursorUnusable, match=message) as caught:
                store.get("T/broken/acme/api")
            assert str(caught.value).startswith("integration broken (Team broken): ")
        with pytest.raises(CursorUnusable):
            store.record_event("T/broken/acme/api", "5", 1_700_000_000)
    assert [record.getMessage() for record in caplog.records] == [str(caught.value)]  # one line
    assert set(store.get("T/fine/acme/api").events.seen) == {"1"}
    store.record_event("T/fine/acme/api", "2", 1_700_000_500)
    store.finish_integration("broken", [])
    store.finish_integration("fine", [])
    assert backend.put_paths == ["/api/integrations/fine"]  # the unusable cursor is never written over
    assert backend.cursor("broken") == cursor


@pytest.mark.parametrize("etag", ['W/"caf\u00e9"', 'W/"a\nb"', "x" * 201, ""])
def test_an_etag_that_cannot_be_a_header_is_dropped(requests_mock: requests_mock.Mocker, etag: str) -> None:
    rows = [row("clx1", cursor_with("1", etag=etag))]
    Rows(requests_mock, copy.deepcopy(rows))
    state = BackendStore(client(), valid(rows)).get("T/clx1/acme/api")
    assert state.events.etag is None and state.events.etag_owner is None
    assert set(state.events.seen) == {"1"}  # the rest of the cursor holds


def test_a_deployments_etag_that_cannot_be_a_header_is_dropped_too(requests_mock: requests_mock.Mocker) -> None:
    cursor = cursor_with("1", etag='W/"ok"')
    cursor["repos"]["acme/api"]["deployments"] = {"etag": 'W/"\u00ff"', "etag_owner": "abcdef"}
    rows = [row("clx1", cursor)]
    Rows(requests_mock, copy.deepcopy(rows))
    state = BackendStore(client(), valid(rows)).get("T/clx1/acme/api")
    assert state.deployments.etag is None
    assert state.events.etag == 'W/"ok"'


def test_a_printable_etag_is_kept(requests_mock: requests_mock.Mocker) -> None:
    rows = [row("clx1", cursor_with("1", etag='W/"c30f"'))]
    Rows(requests_mock, copy.deepcopy(rows))
    assert BackendStore(client(), valid(rows)).get("T/clx1/acme/api").events.etag == 'W/"c30f"'


@pytest.mark.parametrize("bad", [float("inf"), 10**30, -1, "soon"])
def test_a_repository_entry_out_of_range_starts_over_alone(requests_mock: requests_mock.Mocker, bad: Any) -> None:
    cursor = cursor_with("1")
    cursor["repos"]["acme/api"]["last_polled_at"] = bad
    cursor["repos"]["acme/web"] = cursor_with("2")["repos"]["acme/api"]
    rows = [row("clx1", cursor)]
    rows[0]["config"]["repositories"].append({"owner": "acme", "repo": "web"})
    Rows(requests_mock, copy.deepcopy(rows))
    store = BackendStore(client(), valid(rows))
    assert store.get("T/clx1/acme/api") == RepoState()
    assert set(store.get("T/clx1/acme/web").events.seen) == {"2"}


def test_ids_are_one_quoted_path_segment() -> None:
    assert path_segment("a/b?c#d%e f") == "a%2Fb%3Fc%23d%25e%20f"
    assert path_segment("GH-Prod") == "GH-Prod"


@pytest.mark.parametrize("value", ["..", ".", ""])
def test_a_dot_segment_id_is_never_sent(requests_mock: requests_mock.Mocker, value: str) -> None:
    requests_mock.get(re.compile(r"^http://backend\.test/"), text="")
    requests_mock.put(re.compile(r"^http://backend\.test/"), json={})
    backend = client()
    with pytest.raises(BackendError, match="cannot be used in a URL"):
        backend.get_integration(value)
    with pytest.raises(BackendError, match="cannot be used in a URL"):
        backend.put_integration(value, {"config": {"token": "secret"}})
    assert requests_mock.request_history == []


def test_a_slash_in_an_id_stays_inside_its_segment(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.put(re.compile(r"^http://backend\.test/"), json={})
    client().put_integration("../..", {"config": {}})
    assert [urlsplit(request.url).path for request in requests_mock.request_history] == ["/api/integrations/..%2F.."]


def test_a_newer_cursor_written_meanwhile_is_not_written_over(requests_mock: requests_mock.Mocker) -> None:
    rows = [row("clx1", cursor_with("1"))]
    backend = Rows(requests_mock, copy.deepcopy(rows))
    store = BackendStore(client(), valid(rows))
    store.record_event("T/clx1/acme/api", "2", 1_700_000_500)
    backend.rows["clx1"]["config"]["cursor"] = {"version": 4, "repos": {}}
    with pytest.raises(StateError, match="newer format version"):
        store.finish_integration("clx1", [])
    assert backend.put_paths == []


def test_show_export_import_and_reset_keep_ids_as_given(requests_mock: requests_mock.Mocker) -> None:
    rows = [row("GH-Prod", cursor_with("1")), row("broken", "x"), row("abc"), row("ABC")]
    backend = Rows(requests_mock, copy.deepcopy(rows))
    shown = load_backend_state(client())
    assert set(shown.repos) == {"T/GH-Prod/acme/api"}

    version_1_export = {"version": 1, "repos": {"t/abc/acme/api": cursor_with("7")["repos"]["acme/api"]}}
    import_backend_state(client(), StateFile.model_validate(version_1_export))
    assert set(cursor_repos(backend.cursor("abc"))["acme/api"]["events"]["seen"]) == {"7"}
    assert set(cursor_repos(backend.cursor("ABC"))["acme/api"]["events"]["seen"]) == {"7"}

    assert reset_backend_state(client(), repo="Acme/API") == "cursors removed from 3 integration(s)"
    assert backend.cursor("broken") == "x"  # no traceback on a cursor that is not an object
    assert reset_backend_state(client(), repo=None) == "cursors removed from 4 integration(s)"
    assert all(backend.cursor(name) is None for name in ("GH-Prod", "broken", "abc", "ABC"))


def test_an_id_that_cannot_be_a_url_segment_keeps_no_cursor(requests_mock: requests_mock.Mocker) -> None:
    rows = [row(".."), row("fine")]
    backend = Rows(requests_mock, copy.deepcopy(rows))
    store = BackendStore(client(), valid(rows))
    # (validation may refuse such an id first; the store refuses it in any case)
    with pytest.raises(CursorUnusable, match=r"^integration \.\.( \(Team \.\.\))?: .*cannot be used in a URL"):
        store.get("T/../acme/api")
    store.record_event("T/fine/acme/api", "1", 1_700_000_000)
    store.finish_integration("..", [])
    store.finish_integration("fine", [])
    assert backend.put_paths == ["/api/integrations/fine"]


def test_a_cursor_nested_thousands_deep_is_a_backend_error_not_a_traceback(
    requests_mock: requests_mock.Mocker,
) -> None:
    deep = '{"id": "clx1", "config": {"cursor": ' + "[" * 200_000 + "}}"
    requests_mock.get(f"{BASE}/integrations/clx1", text=deep)
    requests_mock.get(f"{BASE}/integrations", text="[" + deep + "]")
    with pytest.raises(BackendError, match="not JSON"):
        client().get_integration("clx1")
    with pytest.raises(BackendError, match="not JSON"):
        load_backend_state(client())


def test_the_discovery_entry_is_kept_in_the_backend_cursor_and_a_pruned_repository_removed(
    requests_mock: requests_mock.Mocker,
) -> None:
    from painchain_gh.discovery.cache import CachedPage, DiscoveryCache, SourceCache

    rows = [row("D1", cursor_with("1"))]
    backend = Rows(requests_mock, rows)
    page = CachedPage(url="https://api.github.com/orgs/acme/repos?per_page=100", etag='"e1"', repositories=("x/y",))
    cache = DiscoveryCache(
        sources={"owner:acme": SourceCache(api_url="https://api.github.com", pages=(page,))}, gone={"acme/api": 1.0}
    )
    store = BackendStore(client(), valid(rows))
    assert store.get("T/D1/acme/api").events.seen  # the stored cursor
    store.commit_repo("T/D1/*/*", RepoState(discovery=cache))
    store.forget("T/D1/acme/api")
    store.finish_integration("D1", [])
    assert set(cursor_repos(backend.cursor("D1"))) == {"*/*"}
    reread = BackendStore(client(), valid(list(backend.rows.values())))
    assert reread.get("T/D1/*/*").discovery == cache
    assert reread.get("T/D1/acme/api") == RepoState()


def test_a_cursor_that_cannot_fit_the_body_limit_is_refused_with_its_size_and_what_to_do(
    requests_mock: requests_mock.Mocker,
) -> None:
    rows = [row("clx1")]
    backend = Rows(requests_mock, copy.deepcopy(rows))
    store = BackendStore(client(), valid(rows), max_body=1024)  # far smaller than one busy repository needs
    for number in range(200):
        store.record_event("T/clx1/acme/api", str(40_000_000_000 + number * 7919), 1_700_000_000 + number)
    with pytest.raises(StateError) as refused:
        store.finish_integration("clx1", ["T/clx1/acme/api"])
    message = str(refused.value)
    assert "cursor not saved in the backend" in message
    assert re.search(r"its cursor needs \d+\.\d kB even without ETags, more than the \d+\.\d kB", message)
    assert "split the integration, or keep cursors in a state file (--state file)" in message
    assert backend.put_paths == []  # nothing the backend would refuse was sent


def test_a_backend_limit_lower_than_the_flag_is_reported_with_the_size(requests_mock: requests_mock.Mocker) -> None:
    rows = [row("clx1")]
    Rows(requests_mock, copy.deepcopy(rows))
    requests_mock.put(ONE, status_code=413, json={"statusCode": 413, "message": "request entity too large"})
    store = BackendStore(client(), valid(rows))
    store.record_event("T/clx1/acme/api", "1", 1_700_000_000)
    refusal = r"refused the cursor \(\d+\.\d kB\) as too large \(413\).*--backend-max-body-kb"
    with pytest.raises(StateError, match=refusal):
        store.finish_integration("clx1", ["T/clx1/acme/api"])
