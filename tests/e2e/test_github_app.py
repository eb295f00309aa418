"""GitHub App integrations end to end: the real process against the fake GitHub's App endpoints.

The fake verifies every JWT's RS256 signature against the key generated here, and its installation
tokens expire; discovery lists the installation (an archived repository is left out); every
config shape the UI or upstream sends forwards events; ad-hoc runs; ``check`` for an App.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.conftest import Connector
from tests.e2e.faults_support import seed_issues

APP_ID = 31337


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def add_app(connector: Connector, key: rsa.RSAPrivateKey, **config: Any) -> None:
    connector.backend.add_integration(
        id="app1",
        tenant_id="tenant-a",
        name="Acme App",
        token=None,
        repositories=config.pop("repositories", []),
        extra_config={"appId": str(APP_ID), "privateKey": pem(key), **config},
        type="github-app",
    )


def test_an_app_installation_is_discovered_polled_and_its_token_refreshed_during_a_long_run(
    connector: Connector, key: rsa.RSAPrivateKey
) -> None:
    github = connector.github
    github.apps.add_app(APP_ID, key.public_key())
    names = ["api", "web", "jobs", "docs"]
    expected = [eid for name in names for eid in seed_issues(github, f"acme/{name}", count=1)]
    github.apps.add_listed_repo("acme", "api", private=True)
    for name in names[1:]:
        github.apps.add_listed_repo("acme", name)
    github.apps.add_listed_repo("acme", "attic", archived=True)
    seed_issues(github, "acme/attic", count=1)
    # A token that lives 3 s is reused until half of its life is left, i.e. minted again after 1.5 s:
    # the run below lasts several seconds (every answer takes 0.15 s).
    installation = github.apps.add_installation(APP_ID, "acme", token_lifetime=3)
    add_app(connector, key)
    github.latency = 0.15

    first = connector.run("sync", "--concurrency", "1")
    assert first.returncode == 0, first.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    assert not github.requests_to("GET", r"/repos/acme/attic/")  # archived: not polled
    assert github.apps.mint_count(installation.id) >= 2  # refreshed during the run
    assert not github.apps.jwt_rejections
    assert all(r.status != 401 for r in github.requests)
    assert {e.tenant for e in connector.backend.events_for("app1")} == {"tenant-a"}

    github.latency = 0
    listed_before = len(github.requests_to("GET", r"^/installation/repositories"))
    second = connector.run("sync")
    assert second.returncode == 0, second.stderr
    listings = github.requests_to("GET", r"^/installation/repositories")[listed_before:]
    assert [r.status for r in listings] == [304]  # discovery cost 0 units
    assert len(connector.backend.external_ids()) == len(expected)

    github.apps.add_listed_repo("acme", "new")  # appears: polled from --initial-lookback ago
    recent = seed_issues(github, "acme/new", count=1, start=time.time() - 600)
    seed_issues(github, "acme/new", count=1, start=time.time() - 3 * 86400)  # older than the lookback
    github.apps.remove_listed_repo("acme", "docs")
    third = connector.run("sync")
    assert third.returncode == 0, third.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected + recent)
    gone = [r["message"] for r in third.log if r.get("disappeared")]
    assert len(gone) == 1 and "acme/docs" in gone[0]
    appeared = [r for r in third.log if r.get("appeared")]
    assert appeared and appeared[0]["appeared"] == ["acme/new"]


def test_a_discovery_failure_is_one_line_and_exit_3_and_other_integrations_go_on(
    connector: Connector, key: rsa.RSAPrivateKey
) -> None:
    github = connector.github
    github.apps.add_app(APP_ID, key.public_key())
    github.add_token("ghp_test_token")
    expected = seed_issues(github, "acme/api-gateway", count=2)
    add_app(connector, key)  # no installation: discovery cannot find one
    connector.backend.add_integration(id="tok1", repositories=[{"owner": "acme", "repo": "api-gateway"}])
    run = connector.run("sync")
    assert run.returncode == 3, run.stderr
    lines = [r["message"] for r in run.log if "app1" in r.get("message", "") and r.get("level") == "error"]
    assert len(lines) == 1 and "skipped: repository discovery failed" in lines[0]
    assert sorted(connector.backend.external_ids()) == sorted(expected)


SHAPES: dict[str, dict[str, Any]] = {
    "list of objects": {"repositories": [{"owner": "acme", "repo": "api", "tags": ["backend"]}]},
    "list of strings": {"repositories": ["acme/api"]},
    "newline string": {"repositories": "acme/api\n"},
    "comma string": {"repositories": "acme/api, "},
    "upstream repos": {"repositories": None, "repos": "acme/api"},
    "baseUrl and isEnterprise": {"repositories": ["acme/api"], "isEnterprise": True},
    "pollInterval": {"repositories": ["acme/api"], "pollInterval": 60},
    "tags string": {"repositories": ["acme/api"], "tags": "backend, team-a"},
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_config_shape_forwards_events(connector: Connector, shape: str) -> None:
    github = connector.github
    github.add_token("ghp_test_token")
    expected = seed_issues(github, "acme/api", count=2)
    config = dict(SHAPES[shape])
    if "isEnterprise" in config:
        config["baseUrl"] = github.url
    repositories = config.pop("repositories")
    row = connector.backend.add_integration(id="shape", repositories=repositories, extra_config=config)
    if repositories is None:
        del row["config"]["repositories"]
    run = connector.run("sync")
    assert run.returncode == 0, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    if shape == "tags string":
        (event, *_) = connector.backend.events_for("shape")
        assert {"backend", "team-a"} <= set(event.body["data"]["tags"])


def test_adhoc_runs_post_only_as_a_named_integration(connector: Connector, key: rsa.RSAPrivateKey) -> None:
    github = connector.github
    github.apps.add_app(APP_ID, key.public_key())
    github.apps.add_listed_repo("acme", "api", private=True)
    github.apps.add_listed_repo("acme", "web")
    github.apps.add_installation(APP_ID, "acme")
    expected = seed_issues(github, "acme/api", count=2)
    add_app(connector, key, repositories=["acme/api"])

    refused = connector.run("sync", "--repo", "acme/api")
    assert refused.returncode == 2
    assert "--integration" in refused.stderr and "--dry-run" in refused.stderr
    assert not github.requests and not connector.backend.requests  # refused before any request

    dry = connector.run("sync", "--repo", "acme/web", "--dry-run")  # anonymous, public repository
    assert dry.returncode == 0, dry.stderr
    assert "would forward" in dry.summary()["message"]

    posted = connector.run("sync", "--repo", "acme/api", "--integration", "app1")
    assert posted.returncode == 0, posted.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    assert {e.tenant for e in connector.backend.events_for("app1")} == {"tenant-a"}


def test_check_describes_the_app_its_installation_and_repositories(
    connector: Connector, key: rsa.RSAPrivateKey
) -> None:
    github = connector.github
    github.apps.add_app(APP_ID, key.public_key())
    github.apps.add_listed_repo("acme", "api", private=True)
    github.apps.add_listed_repo("acme", "web")
    github.apps.add_installation(APP_ID, "acme")
    add_app(connector, key)
    started = time.monotonic()
    run = connector.run("check")
    print(run.stdout)  # the report quotes this output
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"GitHub App {APP_ID}" in run.stdout
    assert "installed on acme" in run.stdout and "repository selection: all" in run.stdout
    assert "acme/api [app1]" in run.stdout and "acme/web [app1]" in run.stdout
    assert time.monotonic() - started < 30
