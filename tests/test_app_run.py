"""GitHub Apps and discovery wired into a run, in-process: token sources, per-installation keys,
the discovery cache in state, contained failures, ad-hoc runs and dry-run wording."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from painchain_gh.cursor import RepoState
from painchain_gh.discovery.cache import CachedPage, DiscoveryCache, SourceCache
from painchain_gh.discovery.listing import Discoverer
from painchain_gh.discovery.tasks import discover_integrations, discovery_key
from painchain_gh.errors import UsageError
from painchain_gh.github.app import AppCredentials, TokenProviders
from painchain_gh.github.client import GitHubClient, TokenBudget, token_fingerprint
from painchain_gh.github.credentials import RunCredentials, app_fingerprint
from painchain_gh.http import Deadline
from painchain_gh.models import Integration, select_integrations
from painchain_gh.output import log_summary, print_summary_table
from painchain_gh.results import SyncReport
from painchain_gh.runner import Runner, adhoc_from_row
from painchain_gh.settings import Settings
from painchain_gh.store.backend_store import split_key
from painchain_gh.store.checks import parse_repo_state
from painchain_gh.store.file_store import FileStore
from tests.doubles import MemoryStore
from tests.fakes import FakeGitHub

APP_ID = 4242
TOKEN = "ghp_wildcard_token"
NOW = 1_800_000_000.0
DAY = 86400.0


class Clock:
    """A clock the test moves, shared by the provider and the fake GitHub."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def github(key: rsa.RSAPrivateKey, clock: Clock) -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.clock = clock
        fake.add_token(TOKEN)
        fake.apps.add_app(APP_ID, key.public_key())
        fake.apps.add_listed_repo("acme", "api", private=True)
        fake.apps.add_listed_repo("acme", "web")
        fake.apps.add_listed_repo("acme", "old", archived=True)
        yield fake


def app_integration(key: rsa.RSAPrivateKey, **config: object) -> Integration:
    row = {"id": "app1", "tenantId": "T1", "type": "github-app", "name": "App", "config": {"appId": str(APP_ID)}}
    row["config"] = {**row["config"], "privateKey": pem(key), **config}  # type: ignore[dict-item]
    (valid,) = select_integrations([row]).valid
    return valid


def token_integration(**config: object) -> Integration:
    row = {"id": "tok1", "type": "github", "name": "Token", "config": {"token": TOKEN, **config}}
    (valid,) = select_integrations([row]).valid
    return valid


def credentials(clock: Clock) -> RunCredentials:
    return RunCredentials(TokenProviders(session=requests.Session(), clock=clock, sleep=lambda _: None))


def discover(
    integrations: list[Integration],
    github: FakeGitHub,
    clock: Clock,
    store: MemoryStore,
    creds: RunCredentials,
    *,
    write: bool = True,
) -> object:
    return discover_integrations(
        integrations,
        discoverer=Discoverer(session=requests.Session(), clock=clock, sleep=lambda _: None),
        api_url_for=lambda integration: github.url,
        token_for=lambda integration, api_url: creds.for_integration(integration, api_url)[1],
        store=store,
        now=clock(),
        write=write,
    )


# -- item 1: App auth in the run -----------------------------------------------------------------


def test_the_client_asks_its_token_source_per_request_and_a_long_run_refreshes_the_token(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    installation = github.apps.add_installation(APP_ID, "acme", token_lifetime=900)
    creds = credentials(clock)
    integration = app_integration(key, repositories=["acme/api"])
    fingerprint, source = creds.for_integration(integration, github.url)
    client = GitHubClient(
        session=requests.Session(),
        api_url=github.url,
        token=source,
        budget=TokenBudget(fingerprint, reserve=0, max_concurrent=1),
        deadline=Deadline(60),
    )
    assert client.get_object("/repos/acme/api") is not None
    clock.now += 700  # 200 s left: less than the 5-minute margin
    assert client.get_object("/repos/acme/api") is not None  # a private repository: the token works
    assert github.apps.mint_count(installation.id) == 2
    sent = [r.headers.get("authorization") for r in github.requests_to("GET", r"^/repos/acme/api$")]
    assert len(set(sent)) == 2  # each request carried the token current at the time


def test_budgets_and_etags_are_keyed_per_installation_not_per_minted_token(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    installation = github.apps.add_installation(APP_ID, "acme", token_lifetime=900)
    creds = credentials(clock)
    integration = app_integration(key, repositories=["acme/api"])
    first, source = creds.for_integration(integration, github.url)
    assert callable(source)
    minted = source()
    clock.now += 700
    second, _ = creds.for_integration(integration, github.url)
    assert source() != minted  # minted again ...
    digest = AppCredentials.of(integration, github.url).key_digest  # type: ignore[union-attr]
    assert first == second == app_fingerprint(github.url, str(APP_ID), installation.id, digest)  # ... same key
    assert first != token_fingerprint(minted)
    assert creds.for_integration(token_integration(repositories=["acme/web"]), github.url)[0] == token_fingerprint(
        SecretStr(TOKEN)
    )


# -- item 2: discovery in the run ----------------------------------------------------------------


def test_an_app_without_repositories_discovers_its_installation_and_the_cache_makes_the_next_run_free(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    github.apps.add_installation(APP_ID, "acme")
    store, creds = MemoryStore(), credentials(clock)
    integration = app_integration(key)
    first = discover([integration], github, clock, store, creds)
    (found,) = first.integrations  # type: ignore[attr-defined]
    assert sorted(r.full_name for r in found.unique_repositories()) == ["acme/api", "acme/web"]  # not archived
    cache = store.repos[discovery_key(integration)].discovery
    assert discovery_key(integration) == "T1/app1/*/*"
    assert cache is not None and sorted(cache.repositories()) == ["acme/api", "acme/web"]
    clock.now += 3600  # a later run: the listing's time changes, nothing else
    second = discover([integration], github, clock, store, creds)
    assert second.requests == second.not_modified == 1  # type: ignore[attr-defined]
    assert store.committed == [discovery_key(integration)]  # unchanged cache: not written again


def test_a_wildcard_owner_polls_every_repository_and_a_disappeared_one_is_reported_then_pruned(
    github: FakeGitHub, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    store, creds = MemoryStore(), credentials(clock)
    integration = token_integration(repositories=[{"owner": "acme", "repo": "*"}])
    discover([integration], github, clock, store, creds)
    store.repos["-/tok1/acme/web"] = RepoState(last_polled_at=int(NOW))
    github.apps.remove_listed_repo("acme", "web")
    clock.now += 60
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        outcome = discover([integration], github, clock, store, creds)
    (found,) = outcome.integrations  # type: ignore[attr-defined]
    assert [r.full_name for r in found.unique_repositories()] == ["acme/api"]
    assert sum("no longer listed (acme/web)" in r.getMessage() for r in caplog.records) == 1
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        discover([integration], github, clock, store, creds)
    assert not any("no longer listed" in r.getMessage() for r in caplog.records)  # reported once
    assert "-/tok1/acme/web" in store.repos
    clock.now += 31 * DAY
    committed = list(store.committed)
    discover([integration], github, clock, store, creds, write=False)  # a shard that only reads
    assert (store.forgotten, store.committed) == ([], committed)
    discover([integration], github, clock, store, creds)
    assert store.forgotten == ["-/tok1/acme/web"]
    cache = store.repos["-/tok1/*/*"].discovery
    assert cache is not None and cache.gone == {}


def test_a_discovery_failure_is_contained_to_its_integration(github: FakeGitHub, clock: Clock) -> None:
    store, creds = MemoryStore(), credentials(clock)
    bad = token_integration(token="ghp_revoked", repositories=["acme/*"])
    good = token_integration(repositories=["acme/web"]).model_copy(update={"id": "tok2"})
    outcome = discover([bad, good], github, clock, store, creds)
    assert [i.id for i in outcome.integrations] == ["tok2"]  # type: ignore[attr-defined]
    (invalid,) = outcome.invalid  # type: ignore[attr-defined]
    assert invalid.skipped and invalid.message.startswith("integration tok1 (Token) skipped: repository discovery")


def test_the_integration_wide_entry_round_trips_through_the_file_store_and_the_checks(tmp_path: Path) -> None:
    page = CachedPage(url="https://api.github.com/orgs/acme/repos?per_page=100", etag='W/"1"', repositories=("a/b",))
    cache = DiscoveryCache(sources={"owner:acme": SourceCache(api_url="https://api.github.com", pages=(page,))})
    store = FileStore(tmp_path / "state.json").open()
    store.commit_repo("T1/app1/*/*", RepoState(discovery=cache))
    store.commit_repo("T1/app1/a/b", RepoState(last_polled_at=1))
    store.forget("T1/app1/a/b")
    store.close()
    reopened = FileStore(tmp_path / "state.json").load_readonly()
    assert reopened.get("T1/app1/*/*").discovery == cache
    assert reopened.get("T1/app1/a/b") == RepoState()
    assert split_key("T1/app1/*/*") == ("app1", "*/*")
    foreign = page.model_copy(update={"url": "https://evil.example/orgs/acme/repos"})
    hostile = RepoState(
        discovery=cache.model_copy(
            update={"sources": {"owner:acme": SourceCache(api_url="https://api.github.com", pages=(foreign,))}}
        )
    )
    assert parse_repo_state(hostile.model_dump(mode="json")).discovery == DiscoveryCache()


# -- items 3 and 4: ad-hoc runs, messages ----------------------------------------------------------


def test_an_adhoc_run_that_would_post_needs_an_integration_and_refuses_before_any_request(
    requests_mock: object, tmp_path: Path
) -> None:
    runner = Runner(Settings(repos=("acme/api",), state_file=tmp_path / "s.json"))
    with pytest.raises(UsageError, match="--dry-run") as refused:
        runner.sync(on_result=lambda result: None)
    assert "--integration" in str(refused.value)
    assert requests_mock.request_history == []  # type: ignore[attr-defined]


def test_an_adhoc_integration_keeps_its_tenant_and_app_unless_github_token_is_set(key: rsa.RSAPrivateKey) -> None:
    row = {
        "id": "app1",
        "tenantId": "T1",
        "type": "github",
        "name": "App",
        "config": {"appId": str(APP_ID), "privateKey": pem(key), "repositories": ["acme/api", "acme/web"]},
    }
    own = adhoc_from_row(row, "app1", ("acme/web",), None)
    assert (own.tenant_id, own.config.uses_app) == ("T1", True)
    assert [r.full_name for r in own.unique_repositories()] == ["acme/web"]
    overridden = adhoc_from_row(row, "app1", ("acme/web",), SecretStr("ghp_local"))
    assert not overridden.config.uses_app and overridden.config.token == SecretStr("ghp_local")
    with pytest.raises(UsageError, match="no such integration"):
        adhoc_from_row(None, "gone", ("acme/web",), None)


def test_a_dry_run_summary_says_would_forward(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        log_summary(SyncReport(dry_run=True))
        log_summary(SyncReport())
    dry, real = (record.getMessage() for record in caplog.records)
    assert "would forward 0 events" in dry and "forwarded" not in dry
    assert "0 events forwarded" in real


def test_the_terminal_table_of_a_dry_run_says_would_forward(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary_table(SyncReport(dry_run=True))
    dry = capsys.readouterr().err
    print_summary_table(SyncReport())
    real = capsys.readouterr().err
    assert "would forward" in dry and "events forwarded" not in dry
    assert "events forwarded" in real and "would forward" not in real
