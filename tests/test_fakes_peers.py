"""Self-tests of the fake GitHub's answers for other connectors (tests/fakes/github_peers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.fakes import FakeGitHub

TOKEN = "ghp_test_token"
AUTH = {"Authorization": f"token {TOKEN}"}
# The query tap-github (tap_github/repository_streams.py, get_repo_ids) sends, for two repositories.
QUERY = (
    'query {repo0: repository(name: "api", owner: "acme") { nameWithOwner databaseId } '
    'repo1: repository(name: "gone", owner: "acme") { nameWithOwner databaseId } rateLimit { cost } }'
)


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_repo("Acme", "API")
        yield server
    assert not server.errors


def test_graphql_answers_repository_ids_and_null_for_unknown(gh: FakeGitHub) -> None:
    response = requests.post(f"{gh.url}/graphql", json={"query": QUERY}, headers=AUTH, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["repo0"] == {"nameWithOwner": "Acme/API", "databaseId": gh.repo("Acme", "API").id}
    assert body["data"]["repo1"] is None
    assert body["data"]["rateLimit"] == {"cost": 1}
    assert [error["type"] for error in body["errors"]] == ["NOT_FOUND"]
    assert gh.units_spent(TOKEN) == 1


def test_graphql_refuses_other_queries_and_odd_bodies(gh: FakeGitHub) -> None:
    other = requests.post(f"{gh.url}/graphql", json={"query": "query { viewer { login } }"}, headers=AUTH, timeout=5)
    assert other.status_code == 400
    odd = requests.post(f"{gh.url}/graphql", data=b"[1, 2", headers=AUTH, timeout=5)
    assert odd.status_code == 400
    not_a_string = requests.post(f"{gh.url}/graphql", json={"query": 3}, headers=AUTH, timeout=5)
    assert not_a_string.status_code == 400


def test_graphql_needs_credentials(gh: FakeGitHub) -> None:
    gh.anonymous_allowed = False
    response = requests.post(f"{gh.url}/graphql", json={"query": QUERY}, timeout=5)
    assert response.status_code == 401


def test_rate_limit_has_a_graphql_resource(gh: FakeGitHub) -> None:
    body = requests.get(f"{gh.url}/rate_limit", headers=AUTH, timeout=5).json()
    assert body["resources"]["graphql"]["resource"] == "graphql"
    assert body["resources"]["graphql"]["limit"] == body["resources"]["core"]["limit"]
