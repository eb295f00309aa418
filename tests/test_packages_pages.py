"""Package versions page by page with the parameters GitHub documents, and the registry host of a
GitHub Enterprise Server."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests_mock

from painchain_gh.cursor import ImagesCursor
from painchain_gh.streams.enrich import RequestCounts
from painchain_gh.streams.packages import MAX_VERSION_PAGES, fetch_images
from painchain_gh.transform import RepoContext
from painchain_gh.transform.common import PainChainEvent
from painchain_gh.transform.images import registry_host, to_image_event
from tests.fakes import FakeGitHub
from tests.fakes.github import utc_iso
from tests.test_deployments import API, T0, make_client
from tests.test_enrich_images import poll

FIXTURES = Path(__file__).parent / "fixtures" / "github"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.clock = lambda: float(T0)
        yield server
    assert not server.errors


def publish(gh: FakeGitHub, count: int) -> None:
    """``count`` tagged versions of alice's ``tool``, one a second."""
    for n in range(count):
        gh.clock = functools.partial(float, T0 + n)
        gh.add_package_version("alice", "tool", [f"1.{n}"], kind="users")


def test_a_users_versions_are_asked_without_per_page_and_every_page_with_a_new_one_is_read(gh: FakeGitHub) -> None:
    publish(gh, 45)  # GitHub's page is 30 when no per_page is sent: two pages
    cursor, counts = ImagesCursor(floor=T0 - 3600), RequestCounts()

    fetched = poll(gh, "alice", cursor, counts)

    assert len(fetched.items) == 45 and counts.requests()["package_versions"] == 2
    versions = [r for r in gh.requests if r.path.endswith("/versions")]
    assert [r.query for r in versions] == [{}, {"page": "2"}]  # no per_page: it is not a documented parameter


def test_reading_stops_at_the_first_page_that_reaches_a_version_already_sent(gh: FakeGitHub) -> None:
    publish(gh, 45)
    cursor, counts = ImagesCursor(floor=T0 - 3600), RequestCounts()
    poll(gh, "alice", cursor, counts)
    gh.clock = lambda: float(T0 + 100)
    gh.add_package_version("alice", "tool", ["2.0"], kind="users")
    gh.requests.clear()

    again = poll(gh, "alice", cursor, RequestCounts())

    assert [i.event.data["tags"] for i in again.items] == [["2.0"]]
    assert [r.query for r in gh.requests if r.path.endswith("/versions")] == [
        {}
    ]  # page 1 reached versions already sent


def test_an_organizations_versions_keep_per_page_100_and_stop_after_five_pages(
    requests_mock: requests_mock.Mocker,
) -> None:
    package = {"name": "web", "updated_at": utc_iso(T0)}
    requests_mock.get(f"{API}/orgs/acme/packages?package_type=container&per_page=100", json=[package])
    pages = []
    for page in range(1, 8):
        versions = [
            {
                "id": page * 1000 + n,
                "name": f"sha256:{page}{n}",
                "created_at": utc_iso(T0 - page * 100 - n),
                "metadata": {"container": {"tags": [f"v{page}.{n}"]}},
            }
            for n in range(3)
        ]
        url = f"{API}/orgs/acme/packages/container/web/versions?per_page=100" + (f"&page={page}" if page > 1 else "")
        link = f'<{API}/orgs/acme/packages/container/web/versions?per_page=100&page={page + 1}>; rel="next"'
        pages.append(requests_mock.get(url, json=versions, headers={"Link": link}))
    counts = RequestCounts()

    fetched = fetch_images(
        make_client(), "acme", ImagesCursor(floor=0), integration_id="i1", web_url="https://github.com", etag=None,
        counts=counts,
    )  # fmt: skip

    assert counts.requests()["package_versions"] == MAX_VERSION_PAGES
    assert len(fetched.items) == 3 * MAX_VERSION_PAGES and not pages[MAX_VERSION_PAGES].called


def test_recorded_user_package_versions_without_container_tags_make_no_event() -> None:
    versions = json.loads((FIXTURES / "package-versions_user.rest-api-description.json").read_text())
    ctx = RepoContext(owner="octocat", repo="octo-name", integration_id="i1")
    package = {"name": "octo-name", "owner": {"login": "octocat"}}
    assert all(not isinstance(to_image_event(package, v, owner="octocat", ctx=ctx), PainChainEvent) for v in versions)


@pytest.mark.parametrize(
    ("web_url", "registry"),
    [
        ("https://github.com", "ghcr.io"),
        ("https://github.example.com", "containers.github.example.com"),
        ("https://ghes.internal:8443", "containers.ghes.internal"),
    ],
)
def test_the_registry_of_github_and_of_an_enterprise_server(web_url: str, registry: str) -> None:
    assert registry_host(web_url) == registry
    ctx = RepoContext(owner="acme", repo="api", integration_id="i1", web_url=web_url)
    version = {"id": 1, "name": "sha256:1", "created_at": utc_iso(T0), "metadata": {"container": {"tags": ["v1"]}}}
    event = to_image_event({"name": "api"}, version, owner="acme", ctx=ctx)
    assert isinstance(event, PainChainEvent)
    assert event.data["image"] == f"{registry}/acme/api"
