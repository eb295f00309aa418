"""Repository discovery against the fake GitHub (real HTTP on 127.0.0.1), and its pure helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from painchain_gh.discovery.cache import DiscoveryCache
from painchain_gh.discovery.listing import (
    Discoverer,
    cache_key,
    diff_repositories,
    note_gone,
    prune_gone,
    with_repositories,
)
from painchain_gh.errors import GitHubAuthError
from painchain_gh.jobs import build_jobs
from painchain_gh.models import Integration, select_integrations
from tests.fakes import FakeGitHub

TOKEN = "ghp_discovery_token"
DAY = 86400.0


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_token(TOKEN)
        fake.apps.add_listed_repo("acme", "api")
        fake.apps.add_listed_repo("acme", "web", private=True)
        fake.apps.add_listed_repo("acme", "old", archived=True)
        fake.apps.add_listed_repo("acme", "locked", disabled=True)
        fake.apps.add_listed_repo("octo", "dotfiles", owner_type="User")
        fake.apps.add_listed_repo("octo", "secret", owner_type="User", private=True)
        yield fake


def integration(**config: Any) -> Integration:
    row = {"id": "Int1", "tenantId": "T1", "type": "github", "name": "Team", "config": {"token": TOKEN, **config}}
    (valid,) = select_integrations([row]).valid
    return valid


def token() -> SecretStr:
    return SecretStr(TOKEN)


def discoverer(clock: float = 1_800_000_000.0) -> Discoverer:
    return Discoverer(session=requests.Session(), clock=lambda: clock, sleep=lambda _: None)


def names(result_repositories: list[Any]) -> list[str]:
    return sorted(repository.full_name for repository in result_repositories)


def test_owner_wildcard_lists_active_repositories_of_an_organisation(github: FakeGitHub) -> None:
    wanted = integration(repositories=[{"owner": "acme", "repo": "*", "tags": ["org"]}])
    result = discoverer().discover(wanted, api_url=github.url, token=token)
    assert names(result.repositories) == ["acme/api", "acme/web"]  # archived and disabled left out
    assert all(repository.tags == ("org",) for repository in result.repositories)
    assert result.diff.appeared == ["acme/api", "acme/web"]
    assert result.diff.disappeared == []
    (sent,) = github.requests_to("GET", r"^/orgs/acme/repos$")
    assert sent.query["per_page"] == "100"


def test_unchanged_lists_cost_no_unit_on_the_next_run(github: FakeGitHub) -> None:
    for i in range(140):
        github.apps.add_listed_repo("acme", f"svc-{i:03d}")
    wanted = integration(repositories=["acme/*"])
    first = discoverer().discover(wanted, api_url=github.url, token=token)
    assert len(first.repositories) == 142
    assert [len(page.repositories) for page in first.cache.sources["owner:acme"].pages] == [98, 44]
    spent = github.units_spent(TOKEN)
    stored = DiscoveryCache.model_validate_json(first.cache.model_dump_json())  # as a state store keeps it
    second = discoverer().discover(wanted, api_url=github.url, token=token, cache=stored)
    assert github.units_spent(TOKEN) == spent
    assert (second.requests, second.not_modified) == (2, 2)
    assert names(second.repositories) == names(first.repositories)
    assert second.diff.appeared == second.diff.disappeared == []
    assert [r.headers.get("if-none-match") is not None for r in github.requests_to("GET", "/orgs/")] == [
        False,
        False,
        True,
        True,
    ]


def test_an_owner_that_is_not_an_organisation_falls_back_to_users_and_stays_there(github: FakeGitHub) -> None:
    wanted = integration(repositories=["octo/*"])
    first = discoverer().discover(wanted, api_url=github.url, token=token)
    assert names(first.repositories) == ["octo/dotfiles"]  # /users/ lists public repositories only
    assert len(github.requests_to("GET", "^/orgs/octo/repos$")) == 1
    second = discoverer().discover(wanted, api_url=github.url, token=token, cache=first.cache)
    assert (second.requests, second.not_modified) == (1, 1)
    assert len(github.requests_to("GET", "^/orgs/octo/repos$")) == 1


def test_appeared_and_disappeared_repositories_are_reported_and_stamped(github: FakeGitHub) -> None:
    wanted = integration(repositories=["acme/*"])
    first = discoverer(clock=1000.0).discover(wanted, api_url=github.url, token=token)
    github.apps.remove_listed_repo("acme", "api")
    github.apps.add_listed_repo("acme", "new")
    second = discoverer(clock=2000.0).discover(wanted, api_url=github.url, token=token, cache=first.cache)
    assert second.diff.appeared == ["acme/new"]
    assert second.diff.disappeared == ["acme/api"]
    assert second.cache.gone == {"acme/api": 2000.0}
    github.apps.add_listed_repo("acme", "api")
    third = discoverer(clock=3000.0).discover(wanted, api_url=github.url, token=token, cache=second.cache)
    assert third.diff.appeared == ["acme/api"]
    assert third.cache.gone == {}


def test_configured_repositories_are_not_listed_twice(github: FakeGitHub) -> None:
    wanted = integration(repositories=["acme/*", {"owner": "acme", "repo": "api", "tags": ["mine"]}])
    result = discoverer().discover(wanted, api_url=github.url, token=token)
    assert names(result.repositories) == ["acme/web"]
    combined = with_repositories(wanted, result.repositories)
    jobs, refused = build_jobs(
        [combined],
        default_api_url=github.url,
        allowed_hosts=frozenset(),
        default_interval=None,
        shard=None,
    )
    assert refused == []
    assert sorted((job.repository.full_name, job.tags) for job in jobs) == [("acme/api", ("mine",)), ("acme/web", ())]
    assert {job.key for job in jobs} == {"T1/Int1/acme/api", "T1/Int1/acme/web"}  # ids as given
    assert cache_key(wanted) == "t1/int1"


def test_a_failing_source_keeps_its_last_known_list(github: FakeGitHub) -> None:
    wanted = integration(repositories=["acme/*"])
    first = discoverer().discover(wanted, api_url=github.url, token=token)
    github.fail_next("GET", "^/orgs/acme/repos$", 503, count=3)
    second = discoverer().discover(wanted, api_url=github.url, token=token, cache=first.cache)
    assert names(second.repositories) == ["acme/api", "acme/web"]
    assert second.diff.disappeared == []
    (problem,) = second.problems
    assert "the repositories of acme" in problem
    assert "503" in problem


def test_a_rejected_token_stops_the_integration(github: FakeGitHub) -> None:
    wanted = integration(repositories=["acme/*"])
    with pytest.raises(GitHubAuthError, match="401"):
        discoverer().discover(wanted, api_url=github.url, token=lambda: SecretStr("ghp_unknown_token"))


def test_a_cache_from_another_api_url_is_not_used(github: FakeGitHub) -> None:
    wanted = integration(repositories=["acme/*"])
    first = discoverer().discover(wanted, api_url=github.url, token=token)
    second = discoverer().discover(wanted, api_url=github.ghes_url, token=token, cache=first.cache)
    assert second.not_modified == 0
    assert second.cache.sources["owner:acme"].api_url == github.ghes_url


def test_odd_entries_in_a_list_are_ignored(github: FakeGitHub) -> None:
    from painchain_gh.discovery.listing import _repository_names

    items: list[Any] = [
        {"owner": {"login": "acme"}, "name": "ok"},
        {"owner": {"login": "acme"}, "name": "../etc"},
        {"owner": "acme", "name": "x"},
        {"owner": {"login": "a\nb"}, "name": "x"},
        {"owner": {"login": "acme"}, "name": "gone", "archived": True},
        None,
        "acme/str",
    ]
    assert _repository_names(items) == ("acme/ok",)


def test_diff_is_case_insensitive_and_sorted() -> None:
    diff = diff_repositories(["acme/API", "acme/b", "acme/z"], ["acme/api", "acme/c", "acme/a"])
    assert diff.appeared == ["acme/a", "acme/c"]
    assert diff.disappeared == ["acme/b", "acme/z"]


def test_gone_repositories_are_pruned_after_thirty_days() -> None:
    gone = note_gone({"acme/old": 0.0, "acme/back": 5.0}, diff_repositories(["acme/x"], []), ["acme/Back"], 10 * DAY)
    assert gone == {"acme/old": 0.0, "acme/x": 10 * DAY}
    keep, expired = prune_gone(gone, now=30 * DAY)
    assert expired == ["acme/old"]
    assert keep == {"acme/x": 10 * DAY}
    assert prune_gone(gone, now=29 * DAY) == (gone, [])


def test_an_app_without_repositories_polls_its_whole_installation(github: FakeGitHub) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from painchain_gh.github.app import AppCredentials, TokenProviders

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    github.apps.add_app(99, key.public_key())
    for i in range(120):
        github.apps.add_listed_repo("acme", f"svc-{i:03d}", private=i % 2 == 0)
    installation = github.apps.add_installation(99, "acme")
    row = {"id": "app1", "type": "github", "name": "App", "config": {"appId": "99", "privateKey": pem}}
    (app,) = select_integrations([row]).valid
    assert app.discovers_installation
    credentials = AppCredentials.of(app, github.url)
    assert credentials is not None
    provider = TokenProviders(session=requests.Session()).get(credentials)
    first = discoverer().discover(app, api_url=github.url, token=provider.current)
    assert len(first.repositories) == 122  # 124 listed, one archived and one disabled
    assert "acme/old" not in names(first.repositories)
    assert len(first.cache.sources["installation"].pages) == 2
    second = discoverer().discover(app, api_url=github.url, token=provider.current, cache=first.cache)
    assert (second.requests, second.not_modified) == (2, 2)
    assert github.apps.mint_count(installation.id) == 1
    assert provider.installation_id() == installation.id


def test_a_listing_stopped_by_its_share_carries_on_next_time_and_only_a_whole_pass_finds_gone(
    github: FakeGitHub,
) -> None:
    from painchain_gh.discovery.listing import discover

    for i in range(450):
        github.apps.add_listed_repo("acme", f"svc-{i:03d}")
    wanted = integration(repositories=["acme/*"])
    client = discoverer().client(github.url, token)
    reads: list[int] = []

    def stop_after(pages: int) -> Any:
        return lambda: len(github.requests_to("GET", "^/orgs/acme/repos$")) >= pages

    heard: list[str] = []
    first = discover(
        wanted,
        client=client,
        stop=stop_after(2),
        on_repositories=lambda found: heard.extend(r.full_name for r in found),
    )
    reads.append(len(github.requests_to("GET", "^/orgs/acme/repos$")))
    assert not first.complete and first.cache.sources["owner:acme"].resume == 2
    assert len(heard) == len(first.repositories) == 198  # heard page by page; 200 minus archived and disabled
    github.apps.remove_listed_repo("acme", "svc-449")  # on a page not read yet
    second = discover(wanted, client=client, cache=first.cache, stop=stop_after(4))
    pages_asked = [r.query.get("page", "1") for r in github.requests_to("GET", "^/orgs/acme/repos$")]
    assert pages_asked == ["1", "2", "3", "4"]  # carried on at page 3
    assert not second.complete and second.diff.disappeared == []  # an unfinished pass proves nothing gone
    third = discover(wanted, client=client, cache=second.cache)
    assert third.complete and third.cache.sources["owner:acme"].resume is None
    assert [r.query.get("page", "1") for r in github.requests_to("GET", "^/orgs/acme/repos$")][4:] == ["5"]
    assert len(third.repositories) == 451  # 449 services + api + web
    fourth = discover(wanted, client=client, cache=third.cache)  # a whole pass from page 1 again
    assert fourth.complete and fourth.diff.disappeared == []


def test_a_listing_past_its_page_cap_says_so(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    import painchain_gh.discovery.listing as discovery_module

    monkeypatch.setattr(discovery_module, "MAX_PAGES", 2)
    for i in range(300):
        github.apps.add_listed_repo("acme", f"svc-{i:03d}")
    result = discoverer().discover(integration(repositories=["acme/*"]), api_url=github.url, token=token)
    (problem,) = result.problems
    assert "stopped at 2 pages (200 repositories); the rest is not polled" in problem
    assert result.complete


def test_a_next_link_too_long_to_keep_stops_the_listing_with_a_problem(requests_mock: Any) -> None:
    import re as regex

    from painchain_gh.discovery.listing import Discoverer

    api = "https://api.github.com"
    repo = {"name": "api", "owner": {"login": "acme"}}
    link = f'<{api}/orgs/acme/repos?page=2&x={"y" * 2100}>; rel="next"'
    requests_mock.get(regex.compile(r"/orgs/acme/repos"), json=[repo], headers={"Link": link})
    listed = Discoverer(session=requests.Session(), sleep=lambda _: None).discover(
        integration(repositories=["acme/*"]), api_url=api, token=token
    )
    assert names(listed.repositories) == ["acme/api"]
    assert listed.problems == ["GitHub's page link for the repositories of acme is too long to keep; listing stopped"]
    assert requests_mock.call_count == 1
