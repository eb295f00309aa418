"""``painchain-gh plan``, the real process against the fake backend: it reads the integrations and the
discovered lists a sync left in the state (file or backend), never asks GitHub, and exits 0 or 3."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Connector

TOKEN = "ghp_plan_e2e_token_value"


def teams(connector: Connector, count: int, *, tokens: int) -> None:
    for index in range(count):
        connector.backend.add_integration(
            id=f"gh-{index}",
            name=f"Team {index}",
            token=f"{TOKEN}_{index % tokens}",
            repositories=[f"acme/repo-{index}-{number}" for number in range(100)],
            tags=[],
        )


def test_1000_repositories_do_not_fit_one_token_and_fit_four(connector: Connector) -> None:
    teams(connector, 10, tokens=1)
    one = connector.run("plan")
    assert one.returncode == 3, one.stderr
    assert "What does not fit:" in one.stdout
    assert "Traceback" not in one.stderr and TOKEN not in one.stdout + one.stderr
    connector.backend.integrations.clear()
    teams(connector, 10, tokens=4)
    four = connector.run("plan", "--json")
    assert four.returncode == 0, four.stdout
    document = json.loads(four.stdout)
    assert [credential["repositories"] for credential in document["credentials"]] == [300, 300, 200, 200]
    assert connector.github.requests == []  # plan never asks GitHub


@pytest.mark.parametrize("state", ["file", "backend"])
def test_a_discovered_organisation_is_counted_once_a_sync_listed_it(connector: Connector, state: str) -> None:
    connector.github.add_token(TOKEN)
    for index in range(120):
        connector.github.apps.add_listed_repo("acme", f"service-{index}")
    connector.backend.add_integration(id="org", name="Acme", token=TOKEN, repositories=["acme/*"], tags=[])

    before = connector.run("plan", "--state", state)
    assert before.returncode == 3
    assert "its discovered repositories are not known yet: run a sync first" in " ".join(before.stdout.split())

    synced = connector.run("sync", "--state", state, env={"PAINCHAIN_GH_BUDGET_WINDOW": "1s"})  # paced, but faster
    assert synced.returncode == 0, synced.stderr
    asked = len(connector.github.requests)
    after = connector.run("plan", "--state", state, "--json")
    assert after.returncode == 0, after.stdout
    credential = json.loads(after.stdout)["credentials"][0]
    assert credential["repositories"] == 120
    assert credential["listing_requests_per_run"] == 2  # two pages of 100, listed at every run
    assert credential["integrations"][0]["list_unknown"] is None
    assert len(connector.github.requests) == asked


def test_names_are_escaped_and_a_missing_backend_is_one_line(connector: Connector) -> None:
    connector.backend.add_integration(
        id="x", name="\x1b[31mred\x1b[0m", token=TOKEN, repositories=["acme/api"], tags=[]
    )
    shown = connector.run("plan")
    assert shown.returncode == 0
    assert "\x1b" not in shown.stdout and "\\x1b[31mred" in shown.stdout
    gone = connector.run("plan", env={"BACKEND_API_URL": "http://127.0.0.1:9/api"})
    assert gone.returncode == 4
    assert len(gone.stderr.strip().splitlines()) == 1 and "Traceback" not in gone.stderr
