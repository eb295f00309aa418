"""The deployments stream: conditional list, statuses only for changed deployments, each status once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
import requests_mock
from pydantic import SecretStr

from painchain_gh.cursor import DeploymentsCursor, deployment_needs_statuses, is_new_status, mark_deployment
from painchain_gh.github.client import GitHubClient, TokenBudget
from painchain_gh.http import Deadline, RetryPolicy
from painchain_gh.streams.deployments import DeploymentsFetched, acknowledge, fetch_deployments, settle
from painchain_gh.streams.enrich import RequestCounts
from painchain_gh.transform import RepoContext
from tests.fakes import FakeGitHub
from tests.fakes.github import DEFAULT_TOKEN

API = "https://api.github.com"
CTX = RepoContext(owner="acme", repo="api", integration_id="i1")
T0 = 1_800_000_000


def make_client(api: str = API) -> GitHubClient:
    return GitHubClient(
        session=requests.Session(),
        api_url=api,
        token=SecretStr(DEFAULT_TOKEN),
        budget=TokenBudget("fp", reserve=0, max_concurrent=2),
        deadline=Deadline(60),
        policy=RetryPolicy(attempts=1, base_delay=0.0),
        sleep=lambda _: None,
    )


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.clock = lambda: float(T0)
        yield server
    assert not server.errors


def poll(
    gh: FakeGitHub, cursor: DeploymentsCursor, counts: RequestCounts, *, ack: int | None = None
) -> DeploymentsFetched:
    """One poll as the per-repository poll would run it: fetch, forward (``ack`` items), settle."""
    fetched = fetch_deployments(
        make_client(gh.url),
        CTX,
        cursor,
        etag=cursor.etag if cursor.etag_owner == "fp" else None,
        counts=counts,
    )
    items = fetched.items if ack is None else fetched.items[:ack]
    for item in items:
        acknowledge(cursor, item)
    if ack is None:
        settle(cursor, fetched, fingerprint="fp", now=int(time.time()))
    return fetched


def test_quiet_repository_costs_one_free_conditional_request(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{API}/repos/acme/api/deployments?per_page=100", status_code=304)
    counts = RequestCounts()
    fetched = fetch_deployments(make_client(), CTX, DeploymentsCursor(floor=0), etag='W/"x"', counts=counts)
    assert fetched.not_modified and fetched.items == [] and fetched.etag == 'W/"x"'
    assert requests_mock.last_request is not None
    assert requests_mock.last_request.headers["If-None-Match"] == 'W/"x"'
    assert counts.requests() == {"deployments": 1}


def test_every_status_once_and_a_deployment_without_status_as_created(gh: FakeGitHub) -> None:
    cursor, counts = DeploymentsCursor(floor=T0 - 3600), RequestCounts()
    old = gh.add_deployment("acme", "api", {"environment": "staging"})
    gh.add_deployment_status("acme", "api", old["id"], {"state": "in_progress"})
    gh.clock = lambda: float(T0 + 10)
    gh.add_deployment_status("acme", "api", old["id"], {"state": "success", "log_url": "https://ci/log"})
    new = gh.add_deployment("acme", "api")
    first = poll(gh, cursor, counts)
    assert [i.event.title for i in first.items] == [
        "Deployment to staging: in_progress",
        "Deployment to staging: success",
        "Deployment to production: created",
    ]
    assert first.items[2].event.external_id == f"github-deployment-{new['id']}-created"
    assert counts.requests() == {"deployments": 1, "deployment_statuses": 2}

    assert poll(gh, cursor, counts).not_modified  # nothing changed: one free 304
    assert counts.requests() == {"deployments": 2, "deployment_statuses": 2}

    gh.clock = lambda: float(T0 + 20)
    status = gh.add_deployment_status("acme", "api", new["id"], {"state": "failure"})
    third = poll(gh, cursor, counts)
    assert [i.event.external_id for i in third.items] == [f"github-deployment-{new['id']}-status-{status['id']}"]
    assert counts.requests() == {"deployments": 3, "deployment_statuses": 3}  # only the changed deployment


def test_partial_forward_resends_nothing_and_loses_nothing(gh: FakeGitHub) -> None:
    cursor, counts = DeploymentsCursor(floor=T0 - 3600), RequestCounts()
    deployment = gh.add_deployment("acme", "api")
    for state in ("queued", "in_progress", "success"):
        gh.add_deployment_status("acme", "api", deployment["id"], {"state": state})
    first = poll(gh, cursor, counts, ack=1)  # the backend failed after the first event
    assert len(first.items) == 3 and cursor.etag is None and cursor.deployments == {}
    second = poll(gh, cursor, counts)
    assert [i.event.data["state"] for i in second.items] == ["in_progress", "success"]
    assert poll(gh, cursor, counts).not_modified


def test_late_status_with_an_older_time_is_still_sent(gh: FakeGitHub) -> None:
    cursor, counts = DeploymentsCursor(floor=T0 - 3600), RequestCounts()
    deployment = gh.add_deployment("acme", "api")
    gh.add_deployment_status("acme", "api", deployment["id"], {"state": "success"})
    poll(gh, cursor, counts)
    # A status recorded later with an earlier timestamp (e.g. an integration backfilling).
    gh.add_deployment_status(
        "acme", "api", deployment["id"], {"state": "in_progress", "created_at": "2027-01-15T07:30:00Z"}
    )
    gh.repo("acme", "api").deployments[0]["updated_at"] = "2027-01-15T08:30:00Z"
    late = poll(gh, cursor, counts)
    assert [i.event.data["state"] for i in late.items] == ["in_progress"]


def test_unreadable_statuses_keep_the_etag_unsaved_and_the_deployment_pending(
    requests_mock: requests_mock.Mocker,
) -> None:
    deployments = [
        {
            "id": 2,
            "environment": "production",
            "created_at": "2027-01-15T08:00:10Z",
            "updated_at": "2027-01-15T08:00:10Z",
        },
        {
            "id": 1,
            "environment": "production",
            "created_at": "2027-01-15T08:00:00Z",
            "updated_at": "2027-01-15T08:00:00Z",
        },
    ]
    requests_mock.get(f"{API}/repos/acme/api/deployments?per_page=100", json=deployments, headers={"ETag": 'W/"1"'})
    requests_mock.get(f"{API}/repos/acme/api/deployments/2/statuses?per_page=100", status_code=404)
    requests_mock.get(f"{API}/repos/acme/api/deployments/1/statuses?per_page=100", json=[])
    cursor, counts = DeploymentsCursor(floor=0), RequestCounts()
    fetched = fetch_deployments(make_client(), CTX, cursor, etag=None, counts=counts)
    assert [i.event.external_id for i in fetched.items] == ["github-deployment-1-created"]
    assert not fetched.complete and "not readable" in (fetched.warning or "")
    for item in fetched.items:
        acknowledge(cursor, item)
    settle(cursor, fetched, fingerprint="fp", now=int(time.time()))
    assert cursor.etag is None and set(cursor.deployments) == {"1"}
    assert counts.failures() == {"deployment_statuses": 1}


def test_cursor_rules_are_bounded_and_ignore_what_is_below_the_floor() -> None:
    cursor = DeploymentsCursor(floor=100)
    assert deployment_needs_statuses(cursor, "1", 150, "u1")
    assert not deployment_needs_statuses(cursor, "0", 50, "u1")
    for n in range(10):
        mark_deployment(cursor, str(n), 200 + n, "u", window=4)
    assert sorted(cursor.deployments) == ["6", "7", "8", "9"] and cursor.floor == 205
    assert not deployment_needs_statuses(cursor, "9", 209, "u") and deployment_needs_statuses(cursor, "9", 209, "v")
    assert not is_new_status(cursor, "x", 205) and is_new_status(cursor, "x", 206)
