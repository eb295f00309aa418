"""The container images stream of a package owner, against the fake GitHub and requests-mock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests_mock

from painchain_gh.cursor import ImagesCursor
from painchain_gh.streams.enrich import RequestCounts
from painchain_gh.streams.packages import ImagesFetched, acknowledge, fetch_images, settle
from tests.fakes import FakeGitHub
from tests.test_deployments import API, T0, make_client


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.clock = lambda: float(T0)
        yield server
    assert not server.errors


def poll(gh: FakeGitHub, owner: str, cursor: ImagesCursor, counts: RequestCounts) -> ImagesFetched:
    fetched = fetch_images(
        make_client(gh.url),
        owner,
        cursor,
        integration_id="i1",
        web_url="https://github.com",
        etag=cursor.etag,
        counts=counts,
    )
    for item in fetched.items:
        acknowledge(cursor, item)
    settle(cursor, fetched, fingerprint="fp")
    return fetched


def test_new_tagged_versions_of_an_organization_once(gh: FakeGitHub) -> None:
    cursor, counts = ImagesCursor(floor=T0 - 3600), RequestCounts()
    gh.add_package("acme", "api/server", repository="acme/api")
    gh.add_package_version("acme", "api/server", ["v1", "latest"])
    gh.add_package_version("acme", "api/server", [])  # untagged layer: no event
    first = poll(gh, "acme", cursor, counts)
    assert [i.event.title for i in first.items] == ["Image published: ghcr.io/acme/api/server:v1"]
    assert first.items[0].event.project == "acme/api" and cursor.owner_kind == "orgs"
    assert first.items[0].event.data["tags"] == ["v1", "latest"]
    assert poll(gh, "acme", cursor, counts).not_modified
    assert counts.requests() == {"packages": 2, "package_versions": 1}
    gh.clock = lambda: float(T0 + 60)
    gh.add_package_version("acme", "api/server", ["v2"])
    assert [i.event.data["tags"] for i in poll(gh, "acme", cursor, counts).items] == [["v2"]]
    assert counts.requests() == {"packages": 3, "package_versions": 2}


def test_a_user_owner_is_found_after_the_organization_404(gh: FakeGitHub) -> None:
    cursor, counts = ImagesCursor(floor=T0 - 3600), RequestCounts()
    gh.add_package_version("alice", "tool", ["1.0"], kind="users")
    fetched = poll(gh, "alice", cursor, counts)
    assert [i.event.title for i in fetched.items] == ["Image published: ghcr.io/alice/tool:1.0"]
    assert fetched.items[0].event.project == "alice/tool"
    assert cursor.owner_kind == "users"
    poll(gh, "alice", cursor, counts)
    assert counts.requests() == {"packages": 3, "package_versions": 1}  # orgs is not asked again


def test_unchanged_packages_are_not_read_again(requests_mock: requests_mock.Mocker) -> None:
    package = {"name": "web", "updated_at": "2027-01-15T08:00:00Z"}
    requests_mock.get(f"{API}/orgs/acme/packages?package_type=container&per_page=100", json=[package])
    cursor = ImagesCursor(floor=0, packages={"web": "2027-01-15T08:00:00Z"})
    fetched = fetch_images(
        make_client(),
        "acme",
        cursor,
        integration_id="i1",
        web_url="https://github.com",
        etag=None,
        counts=RequestCounts(),
    )
    assert fetched.items == [] and requests_mock.call_count == 1
