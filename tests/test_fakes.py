"""Self-tests of the fake servers, through real HTTP with ``requests``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping

import pytest
import requests

from tests.fakes import FakeBackend, FakeGitHub, RepoData
from tests.fakes.backend import MAX_BODY_BYTES
from tests.fakes.github import pull, pull_request_event, push_event

TOKEN = "ghp_test_token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
EVENT = {"title": "t", "connector": "github", "project": "acme/api", "timestamp": "2026-01-01T00:00:00Z"}


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server
    assert not server.errors


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with FakeBackend() as server:
        yield server
    assert not server.errors


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def get(gh: FakeGitHub, path: str, **headers: str) -> requests.Response:
    return requests.get(gh.url + path, headers={**AUTH, **headers}, timeout=5)


def post_event(backend: FakeBackend, body: Mapping[str, object], **headers: str) -> requests.Response:
    return requests.post(backend.url + "/events", json=body, headers=headers, timeout=5)


# -- FakeGitHub ------------------------------------------------------------------------------------


def test_events_pagination_link_and_422_beyond_300(gh: FakeGitHub) -> None:
    for i in range(350):
        gh.add_event("acme", "api", {**push_event(), "id": str(i)})
    first = get(gh, "/repos/acme/api/events?per_page=100")
    assert first.status_code == 200
    assert [e["id"] for e in first.json()[:2]] == ["349", "348"]
    base = f"{gh.url}/repos/acme/api/events?per_page=100"
    assert first.headers["Link"] == f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'
    assert first.headers["X-Poll-Interval"] == "60"
    assert first.json()[0]["repo"]["name"] == "acme/api"
    third = requests.get(first.links["last"]["url"], headers=AUTH, timeout=5)
    assert len(third.json()) == 100 and "next" not in third.links
    beyond = get(gh, "/repos/acme/api/events?per_page=100&page=4")
    assert beyond.status_code == 422
    assert beyond.json()["message"].startswith("In order to keep the API fast")


def test_etag_304_spends_no_unit_and_ghes_prefix(gh: FakeGitHub) -> None:
    gh.add_event("acme", "api", push_event())
    first = requests.get(gh.ghes_url + "/repos/ACME/Api/events", headers=AUTH, timeout=5)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and gh.units_spent(TOKEN) == 1
    again = get(gh, "/repos/acme/api/events", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["X-RateLimit-Remaining"] == "4999" and gh.units_spent(TOKEN) == 1
    gh.add_event("acme", "api", push_event())
    assert get(gh, "/repos/acme/api/events", **{"If-None-Match": etag}).status_code == 200


def test_rate_limit_exhaustion_gives_403(gh: FakeGitHub) -> None:
    gh.add_repo("acme", "api")
    gh.set_remaining(TOKEN, 1)
    ok = get(gh, "/repos/acme/api/events")
    assert ok.status_code == 200 and ok.headers["X-RateLimit-Remaining"] == "0"
    limited = get(gh, "/repos/acme/api/events")
    assert limited.status_code == 403 and limited.headers["X-RateLimit-Remaining"] == "0"
    assert "rate limit exceeded" in limited.json()["message"]
    assert get(gh, "/rate_limit").json()["resources"]["core"]["remaining"] == 0


def test_auth_bad_token_and_repo_visibility(gh: FakeGitHub) -> None:
    gh.add_repo("acme", "secret", private=True)
    gh.add_token("narrow", repos={"acme/other"})
    assert get(gh, "/user", Authorization="Bearer nope").json() == BAD_CREDENTIALS
    assert get(gh, "/user", Authorization="token nope").status_code == 401
    assert get(gh, "/repos/acme/secret", Authorization="token narrow").status_code == 404
    assert requests.get(gh.url + "/repos/acme/secret", timeout=5).status_code == 404  # anonymous
    user = get(gh, "/user")
    assert user.json()["login"] == "tester" and user.headers["X-OAuth-Scopes"] == "repo"
    assert get(gh, "/repos/acme/secret").json()["full_name"] == "acme/secret"


def test_runs_newest_first_ties_newest_inserted_first(gh: FakeGitHub) -> None:
    a = gh.add_run("acme", "api", {"created_at": "2026-01-01T00:00:00Z"})
    b = gh.add_run("acme", "api", {"created_at": "2026-01-01T00:00:05Z"})
    c = gh.add_run("acme", "api", {"created_at": "2026-01-01T00:00:00Z"})
    body = get(gh, "/repos/acme/api/actions/runs?per_page=2").json()
    assert body["total_count"] == 3
    assert [r["id"] for r in body["workflow_runs"]] == [b["id"], c["id"]]
    gh.update_run("acme", "api", a["id"], status="completed", conclusion="success")
    one = get(gh, f"/repos/acme/api/actions/runs/{a['id']}").json()
    assert one["conclusion"] == "success" and one["updated_at"] != a["created_at"]
    assert get(gh, "/repos/acme/api/actions/runs/1").status_code == 404


def test_payload_builders_take_the_repository_they_are_added_to(gh: FakeGitHub) -> None:
    event = gh.add_event("acme", "api", pull_request_event("closed", 7, trimmed=False, merged=True))
    assert event["payload"]["pull_request"]["html_url"] == "https://github.com/acme/api/pull/7"
    assert set(gh.add_event("acme", "api", pull_request_event("merged", 7))["payload"]["pull_request"]) == {
        "url", "id", "number", "head", "base"
    }  # fmt: skip
    gh.add_pull("acme", "api", pull(7, "Fix", "alice", merged=True))
    got = get(gh, "/repos/acme/api/pulls/7").json()
    assert (got["state"], got["merged"], got["user"]["login"]) == ("closed", True, "alice")
    assert get(gh, "/repos/acme/api/pulls/8").status_code == 404


def test_repo_factory_creates_repositories_lazily(gh: FakeGitHub) -> None:
    calls: list[str] = []

    def factory(owner: str, repo: str) -> RepoData | None:
        calls.append(repo)
        return RepoData(owner, repo) if repo.startswith("r") else None

    gh.repo_factory = factory
    assert get(gh, "/repos/o/r1/events").json() == []
    assert get(gh, "/repos/o/r1/events").status_code == 200
    assert get(gh, "/repos/o/x/events").status_code == 404
    assert calls == ["r1", "x"]


def test_fail_next_drop_then_503_then_normal(gh: FakeGitHub) -> None:
    gh.fail_next("GET", r"/events$", 0)
    gh.fail_next("GET", r"/events$", 503, count=2, body={"message": "busy"})
    with pytest.raises(requests.ConnectionError):
        get(gh, "/repos/acme/api/events")
    assert [get(gh, "/repos/acme/api/events").status_code for _ in range(3)] == [503, 503, 404]
    assert [r.status for r in gh.requests_to("GET", "/events")] == [0, 503, 503, 404]


def test_secondary_rate_limit_injection(gh: FakeGitHub) -> None:
    message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    gh.fail_next("GET", "/events", 403, headers={"Retry-After": "1"}, body={"message": message})
    resp = get(gh, "/repos/acme/api/events")
    assert resp.status_code == 403 and resp.headers["Retry-After"] == "1"
    assert resp.json()["message"] == message and resp.headers["X-RateLimit-Remaining"] == "5000"


def test_hold_release_and_stop_while_held(gh: FakeGitHub) -> None:
    gh.add_repo("acme", "api")
    gh.hold("GET", "/events", after=1)
    results: list[int] = []

    def call() -> None:
        results.append(get(gh, "/repos/acme/api/events").status_code)

    call()  # the first one passes
    thread = threading.Thread(target=call)
    thread.start()
    wait_until(lambda: gh.held_count() == 1)
    assert results == [200]
    gh.release()
    thread.join(2)
    assert results == [200, 200] and gh.held_count() == 0

    gh.hold("*", "/events")
    errors: list[Exception] = []
    thread = threading.Thread(target=lambda: errors.extend(_catch(lambda: get(gh, "/repos/acme/api/events"))))
    thread.start()
    wait_until(lambda: gh.held_count() == 1)
    started = time.monotonic()
    gh.stop()
    thread.join(2)
    assert time.monotonic() - started < 0.5
    assert len(errors) == 1 and isinstance(errors[0], requests.ConnectionError)


def _catch(fn: Callable[[], object]) -> list[Exception]:
    try:
        fn()
    except Exception as exc:
        return [exc]
    return []


def test_stop_is_quick_with_keep_alive_and_restart_keeps_port() -> None:
    server = FakeGitHub().start()
    session = requests.Session()
    assert session.get(server.url + "/nothing", timeout=5).status_code == 404
    port, started = server.port, time.monotonic()
    server.stop()
    assert time.monotonic() - started < 0.5
    with pytest.raises(requests.ConnectionError):
        session.get(server.url + "/nothing", timeout=5)
    with server:
        assert server.port == port
        assert session.get(server.url + "/nothing", timeout=5).status_code == 404


# -- FakeBackend -----------------------------------------------------------------------------------


def test_backend_dedup_and_old_generation(backend: FakeBackend) -> None:
    row = backend.add_integration(id="i1")
    body = {**EVENT, "data": {}, "integrationId": row["id"], "externalId": "github-event-1"}
    first, second = post_event(backend, body), post_event(backend, body)
    assert first.status_code == second.status_code == 201
    assert first.json()["event_id"] == second.json()["event_id"]
    assert len(backend.events) == 1 and backend.event_posts == 2
    backend.dedupe = False
    post_event(backend, body)
    assert backend.external_ids() == ["github-event-1", "github-event-1"]
    assert len(backend.events_for("i1")) == 2


def test_backend_rejections(backend: FakeBackend) -> None:
    backend.add_integration(id="i1", tenant_id="t1")
    backend.reject_external_ids.add("bad")
    good = {**EVENT, "data": {}, "integrationId": "i1", "externalId": "x"}
    assert post_event(backend, {**good, "externalId": "bad"}).status_code == 400
    assert post_event(backend, {**good, "integrationId": "nope"}).status_code == 500
    assert post_event(backend, {**good, "data": "not an object"}).status_code == 500
    assert post_event(backend, good, **{"x-tenant-id": "ghost"}).status_code == 500
    assert post_event(backend, good, **{"x-tenant-id": "t1"}).status_code == 201
    assert backend.events[0].tenant == "t1" and backend.event_posts == 5
    listing = requests.get(backend.url + "/integrations", headers={"x-tenant-id": "ghost"}, timeout=5)
    assert listing.status_code == 200 and listing.json() == []


def test_backend_unknown_integration_is_200_with_empty_body(backend: FakeBackend) -> None:
    backend.add_integration(id="i1")
    assert requests.get(backend.url + "/integrations/i1", timeout=5).json()["config"]["name"] == "Test"
    resp = requests.get(backend.url + "/integrations/missing", timeout=5)
    assert resp.status_code == 200 and resp.content == b""
    assert requests.put(backend.url + "/integrations/missing", json={}, timeout=5).status_code == 500


def test_backend_put_replaces_config_whole(backend: FakeBackend) -> None:
    backend.add_integration(id="i1")
    url = backend.url + "/integrations/i1"
    new = {"name": "Test", "tags": ["team"], "cursor": {"acme/api": "1"}}
    resp = requests.put(url, json={"config": new, "lastSync": "2026-01-01T00:00:00.000Z"}, timeout=5)
    assert resp.status_code == 200 and resp.json()["config"] == new  # the token is gone
    assert requests.get(url, timeout=5).json()["lastSync"] == "2026-01-01T00:00:00.000Z"
    assert requests.put(url, json={"config": {"tags": []}}, timeout=5).status_code == 500
    assert [body for _, body in backend.puts][-1] == {"config": {"tags": []}}


def test_backend_refuses_bodies_over_100_kb_and_keeps_any_string_status(backend: FakeBackend) -> None:
    backend.add_integration(id="i1")
    url = backend.url + "/integrations/i1"
    config = {"name": "Test", "tags": [], "cursor": "x" * MAX_BODY_BYTES}
    assert requests.put(url, json={"config": config}, timeout=5).status_code == 413
    too_big = {**EVENT, "data": {"blob": "x" * MAX_BODY_BYTES}}
    assert post_event(backend, too_big).status_code == 413
    assert backend.events == [] and backend.integration("i1")["config"]["name"] == "Test"  # type: ignore[index]
    assert requests.put(url, json={"status": "error"}, timeout=5).json()["status"] == "error"
    assert requests.put(url, json={"status": 3}, timeout=5).status_code == 500


def test_backend_register_needs_bearer_and_required_token(backend: FakeBackend) -> None:
    url = backend.url + "/integrations/types/register"
    body = {"id": "github", "displayName": "GitHub"}
    assert requests.post(url, json=body, timeout=5).status_code == 401
    ok = requests.post(url, json=body, headers={"Authorization": "Bearer x"}, timeout=5)
    assert ok.json() == {"id": "github", "displayName": "GitHub", "registered": True}
    assert backend.registered_types["github"]["displayName"] == "GitHub"
    backend.required_token = "secret"
    assert requests.get(backend.url + "/integrations", timeout=5).status_code == 401
    authorized = {"Authorization": "Bearer secret"}
    assert requests.get(backend.url + "/integrations", headers=authorized, timeout=5).json() == []


# -- FakeGitHub: deployments, compare, pulls list, reviews, files, jobs, packages -------------------


def test_deployments_newest_first_with_etag_and_statuses_bump_updated_at(gh: FakeGitHub) -> None:
    gh.clock = lambda: 1_800_000_000.0
    first = gh.add_deployment("acme", "api", {"environment": "staging"})
    second = gh.add_deployment("acme", "api")
    listed = get(gh, "/repos/acme/api/deployments?per_page=100")
    assert [d["id"] for d in listed.json()] == [second["id"], first["id"]]
    assert listed.json()[1]["environment"] == "staging" and listed.json()[0]["creator"]["login"] == "octocat"
    etag = listed.headers["ETag"]
    assert get(gh, "/repos/acme/api/deployments?per_page=100", **{"If-None-Match": etag}).status_code == 304
    gh.clock = lambda: 1_800_000_060.0
    status = gh.add_deployment_status("acme", "api", first["id"], {"state": "failure", "log_url": "https://ci/1"})
    again = get(gh, "/repos/acme/api/deployments?per_page=100", **{"If-None-Match": etag})
    assert again.status_code == 200 and again.json()[1]["updated_at"] == status["created_at"]
    statuses = get(gh, f"/repos/acme/api/deployments/{first['id']}/statuses").json()
    assert [(s["id"], s["state"], s["environment"]) for s in statuses] == [(status["id"], "failure", "staging")]
    assert get(gh, "/repos/acme/api/deployments/999999/statuses").status_code == 404


def test_compare_answers_stored_pairs_and_404_otherwise(gh: FakeGitHub) -> None:
    gh.set_compare("acme", "api", "a" * 40, "b" * 40, {"total_commits": 2, "commits": [], "files": []})
    assert get(gh, f"/repos/acme/api/compare/{'a' * 40}...{'b' * 40}").json()["total_commits"] == 2
    assert get(gh, f"/repos/acme/api/compare/{'a' * 40}...{'c' * 40}").status_code == 404


def test_pulls_list_honours_state_sort_direction_and_per_page(gh: FakeGitHub) -> None:
    for number, state, updated in ((1, "open", "2026-01-03"), (2, "closed", "2026-01-01"), (3, "open", "2026-01-02")):
        gh.add_pull("acme", "api", {**pull(number, state=state), "updated_at": f"{updated}T00:00:00Z"})

    def numbers(query: str) -> list[int]:
        return [p["number"] for p in get(gh, f"/repos/acme/api/pulls?{query}").json()]

    assert numbers("") == [3, 1]  # default: open only, newest created first (ties: highest number)
    assert numbers("state=all&sort=updated&direction=desc") == [1, 3, 2]
    assert numbers("state=all&sort=updated&direction=asc") == [2, 3, 1]
    assert numbers("state=closed") == [2]
    page = get(gh, "/repos/acme/api/pulls?state=all&sort=updated&per_page=2")
    assert len(page.json()) == 2 and 'rel="next"' in page.headers["Link"]


def test_reviews_files_and_jobs(gh: FakeGitHub) -> None:
    gh.add_pull("acme", "api", pull(5))
    gh.add_review("acme", "api", 5, {"user": {"login": "bob"}, "state": "APPROVED"})
    gh.add_pull_file("acme", "api", 5, {"filename": "app.py", "additions": 3, "deletions": 1, "status": "modified"})
    assert [r["state"] for r in get(gh, "/repos/acme/api/pulls/5/reviews").json()] == ["APPROVED"]
    assert [f["filename"] for f in get(gh, "/repos/acme/api/pulls/5/files").json()] == ["app.py"]
    assert get(gh, "/repos/acme/api/pulls/6/reviews").status_code == 404
    run = gh.add_run("acme", "api", {"status": "completed", "conclusion": "failure"})
    gh.add_jobs("acme", "api", run["id"], [{"id": 1, "name": "test", "conclusion": "failure", "steps": []}])
    jobs = get(gh, f"/repos/acme/api/actions/runs/{run['id']}/jobs?filter=latest").json()
    assert jobs["total_count"] == 1 and jobs["jobs"][0]["name"] == "test"
    assert get(gh, "/repos/acme/api/actions/runs/1/jobs").status_code == 404


def test_container_packages_of_orgs_and_users_with_versions(gh: FakeGitHub) -> None:
    gh.add_package_version("acme", "api/server", ["v1", "latest"], digest="sha256:" + "1" * 64)
    gh.add_package_version("alice", "tool", [], kind="users")
    listed = get(gh, "/orgs/acme/packages?package_type=container")
    assert [p["name"] for p in listed.json()] == ["api/server"]
    etag = listed.headers["ETag"]
    assert get(gh, "/orgs/acme/packages?package_type=container", **{"If-None-Match": etag}).status_code == 304
    assert get(gh, "/orgs/alice/packages?package_type=container").status_code == 404
    assert get(gh, "/users/alice/packages?package_type=container").json()[0]["name"] == "tool"
    versions = get(gh, "/orgs/acme/packages/container/api%2Fserver/versions").json()
    assert versions[0]["name"] == "sha256:" + "1" * 64
    assert versions[0]["metadata"]["container"]["tags"] == ["v1", "latest"]
    gh.add_package_version("acme", "api/server", ["v2"])
    assert get(gh, "/orgs/acme/packages?package_type=container", **{"If-None-Match": etag}).status_code == 200
    assert get(gh, "/orgs/acme/packages/container/nope/versions").status_code == 404
