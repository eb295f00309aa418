"""``painchain-gh plan`` in-process (typer's CliRunner) against requests-mock: it reads the backend and the
state, never GitHub; exit 0 when everything fits, 3 when not, 2 on a bad flag, 4 without a backend."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock
from typer.testing import CliRunner, Result

from painchain_gh.cli import app
from painchain_gh.cursor import RepoState
from painchain_gh.discovery.cache import CachedPage, DiscoveryCache, SourceCache
from painchain_gh.discovery.tasks import discovery_key
from painchain_gh.models import Integration
from painchain_gh.store.file_store import FileStore
from tests.doubles import API, BACKEND, BackendDouble

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in ("GITHUB_TOKEN", "BACKEND_API_TOKEN", "POLLING_INTERVAL", "PAINCHAIN_GH_SHARD_COUNT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("MAX_RUNTIME", "POINTS_PER_MINUTE", "CONCURRENCY", "PER_TOKEN_CONCURRENCY", "SWEEP_INTERVAL"):
        monkeypatch.delenv(f"PAINCHAIN_GH_{name}", raising=False)
    monkeypatch.setenv("BACKEND_API_URL", BACKEND)
    monkeypatch.setenv("GITHUB_API_URL", API)
    monkeypatch.setenv("PAINCHAIN_GH_RETRY_BASE_DELAY", "0")
    state_file = tmp_path / "state.json"
    monkeypatch.setenv("PAINCHAIN_GH_STATE_FILE", str(state_file))
    yield state_file


def row(identifier: str, repositories: list[str], *, token: str) -> dict[str, Any]:
    return {
        "id": identifier,
        "type": "github",
        "name": f"Team {identifier}",
        "status": "active",
        "config": {"name": f"Team {identifier}", "tags": [], "token": token, "repositories": repositories},
    }


def teams(count: int, *, tokens: int) -> list[dict[str, Any]]:
    """``count`` integrations of 100 repositories each, spread over ``tokens`` tokens."""
    return [
        row(f"gh-{index}", [f"acme/repo-{index}-{number}" for number in range(100)], token=f"ghp_plan_{index % tokens}")
        for index in range(count)
    ]


def invoke(*args: str) -> Result:
    return runner.invoke(app, ["plan", *args])


def test_300_repositories_on_one_token_fit_and_github_is_not_asked(requests_mock: requests_mock.Mocker) -> None:
    BackendDouble(requests_mock, teams(3, tokens=1))
    result = invoke()
    assert result.exit_code == 0, result.output
    assert "Everything fits (exit 0)." in result.stdout
    assert "total, 1 credential" in result.stdout
    assert "ghp_plan_0" not in result.output
    assert {request.hostname for request in requests_mock.request_history} == {"backend.test"}


def test_1000_repositories_on_one_token_do_not_fit_and_say_what_would(requests_mock: requests_mock.Mocker) -> None:
    BackendDouble(requests_mock, teams(10, tokens=1))
    result = invoke()
    assert result.exit_code == 3
    text = " ".join(result.stdout.split())
    assert "What does not fit:" in text and "tokens or App installations in all" in text
    assert text.endswith("Something does not fit (exit 3).")
    spread = runner.invoke(app, ["plan", "--every", "5m", "--max-runtime", "290s"])
    assert spread.exit_code == 0, spread.stdout  # one token every 5 minutes: the goal


def test_json_is_one_object_with_the_same_verdict(requests_mock: requests_mock.Mocker) -> None:
    BackendDouble(requests_mock, teams(10, tokens=4))
    result = invoke("--json")
    document = json.loads(result.stdout)
    assert result.exit_code == (0 if document["fits"] else 3)
    assert len(document["credentials"]) == 4
    assert sum(credential["repositories"] for credential in document["credentials"]) == 1000
    assert document["settings"]["every_seconds"] == 60


def test_the_settings_come_from_flags_and_the_environment(
    requests_mock: requests_mock.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    BackendDouble(requests_mock, teams(1, tokens=1))
    monkeypatch.setenv("PAINCHAIN_GH_POINTS_PER_MINUTE", "300")
    monkeypatch.setenv("PAINCHAIN_GH_SHARD_COUNT", "4")
    document = json.loads(invoke("--json", "--every", "2m", "--active", "1%", "--max-runtime", "100s").stdout)
    assert (
        document["settings"] | {"points_per_minute": 300, "shards": 4, "every_seconds": 120.0} == document["settings"]
    )
    assert document["settings"]["max_runtime_seconds"] == 100
    assert document["assumptions"]["active_share"] == 0.01
    assert document["credentials"][0]["budget_points_per_minute"] == 300


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--active", "lots"), "--active must be a share of repositories such as 5% or 0.05"),
        (("--active", "150%"), "--active must be a share"),
        (("--every", "0s"), "--every must be a duration above zero"),
        (("--latency", "soon"), "--latency: not a duration"),
        (("--max-runtime", "later"), "--max-runtime: not a duration"),
    ],
)
def test_a_bad_flag_exits_2_with_one_line(
    requests_mock: requests_mock.Mocker, args: tuple[str, ...], words: str
) -> None:
    BackendDouble(requests_mock, teams(1, tokens=1))
    result = invoke(*args)
    assert result.exit_code == 2
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_an_unreachable_backend_exits_4(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{BACKEND}/integrations", exc=requests.ConnectionError)
    result = invoke()
    assert result.exit_code == 4
    assert "Traceback" not in result.output


def test_a_discovered_list_is_read_from_the_state_file(requests_mock: requests_mock.Mocker, environment: Path) -> None:
    organisation = row("org", ["acme/*"], token="ghp_plan_org")
    BackendDouble(requests_mock, [organisation])
    unknown = invoke()
    assert unknown.exit_code == 3
    assert (
        "integration org (Team org): its discovered repositories are not known yet: run a sync first; none"
        in " ".join(unknown.stdout.split())
    )
    pages = tuple(
        CachedPage(
            url=f"{API}/orgs/acme/repos?per_page=100&page={page + 1}",
            repositories=tuple(f"acme/r{index}" for index in range(page * 100, min(250, page * 100 + 100))),
        )
        for page in range(3)
    )
    listed = DiscoveryCache(sources={"owner:acme": SourceCache(api_url=API, pages=pages)})
    store = FileStore(environment).open()
    store.commit_repo(discovery_key(Integration.model_validate(organisation)), RepoState(discovery=listed))
    store.close()
    known = invoke("--json")
    assert known.exit_code == 0, known.stdout
    credential = json.loads(known.stdout)["credentials"][0]
    assert credential["repositories"] == 250
    assert credential["listing_requests_per_run"] == 3  # its pages, at every run


def test_the_version_does_not_load_the_plan() -> None:
    code = (
        "import sys, painchain_gh.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[-1] in ('plan', 'sizing', 'plan_output',"
        " 'discovered_lists') and not m.startswith('painchain_gh.cli')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
