"""Events that say what they shipped, built from recorded GitHub answers and checked against golden
bodies (``UPDATE_GOLDEN=1`` regenerates them; review the diff). Sources: tests/fixtures/github/SOURCES.md."""

from __future__ import annotations

import re
from typing import Any

import requests_mock

from painchain_gh.cursor import DeploymentsCursor, remember_success
from painchain_gh.streams.deployments import fetch_deployments
from painchain_gh.streams.enrich import Enricher
from painchain_gh.streams.shipped import ShippedLookups
from painchain_gh.transform import PainChainEvent, to_run_event
from tests.fakes.github import release_event
from tests.test_enrich import CTX, REPO, built, make_client
from tests.test_transform_golden import CTX as GOLDEN_CTX
from tests.test_transform_golden import check_golden, load

BASE, HEAD = "e46a9f3f2ac55db96de3c5c4706f2813b3a96465", "8051615eff597f4e49f4f47625e6fc2b49f26bfc"


def test_deployment_of_recorded_merges_and_squashes(requests_mock: requests_mock.Mocker) -> None:
    """A deployment of the head of the recorded comparison, after one of its base; made by an
    Actions run whose approval is GitHub's documented example; the two direct commits looked up
    (one of them answered by the recorded squash-merged pull request)."""
    deployment: dict[str, Any] = {
        "id": 9,
        "sha": HEAD,
        "ref": "main",
        "task": "deploy",
        "environment": "staging",
        "creator": {"login": "github-actions[bot]"},
        "created_at": "2026-11-30T10:00:00Z",
        "updated_at": "2026-11-30T10:06:00Z",
    }
    log = "https://github.com/acme/api/actions/runs/4242/job/7"
    statuses = [
        {"id": 93, "state": "success", "log_url": log, "created_at": "2026-11-30T10:06:00Z"},
        {"id": 92, "state": "in_progress", "log_url": log, "created_at": "2026-11-30T10:04:00Z"},
        {"id": 91, "state": "waiting", "log_url": log, "created_at": "2026-11-30T10:00:01Z"},
    ]
    requests_mock.get(f"{REPO}/deployments?per_page=100", json=[deployment])
    requests_mock.get(f"{REPO}/deployments/9/statuses?per_page=100", json=statuses)
    requests_mock.get(f"{REPO}/compare/{BASE}...{HEAD}", json=load("compare_merge-and-squash-merges_2019.hub4j.json"))
    requests_mock.get(re.compile(f"{REPO}/commits/3a09d2de.*/pulls"), json=[])
    squash = load("commit-pulls_squash-merged-pull_2020.pygithub.json")
    requests_mock.get(re.compile(f"{REPO}/commits/dfe47235.*/pulls"), json=squash)
    review = load("pull-review_official-docs-example.github-docs.json")
    requests_mock.get(re.compile(f"{REPO}/pulls/\\d+/reviews"), json=[review])
    approvals = load("run-approvals_environment-approvals-items.rest-api-description.json")
    requests_mock.get(f"{REPO}/actions/runs/4242/approvals", json=approvals)
    cursor = DeploymentsCursor(floor=0)
    remember_success(cursor, "staging", 8, BASE)
    enricher, client = Enricher(), make_client()
    lookups = ShippedLookups(enricher, client, "acme", "api", repo_url=CTX.repo_url)

    fetched = fetch_deployments(client, CTX, cursor, etag=None, counts=enricher.counts, shipped=lookups)

    success = next(item.event for item in fetched.items if item.event.data["state"] == "success")
    check_golden("deployment-shipped_merges-and-squashes", success.body())
    assert enricher.counts.requests() == {
        "deployments": 1,
        "deployment_statuses": 1,
        "deploy_compare": 1,
        "commit_pulls": 2,
        "reviews": 5,
        "run_approvals": 1,
    }


def test_release_of_recorded_merges_and_squashes(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{REPO}/compare/v1.0...v1.1", json=load("compare_merge-and-squash-merges_2019.hub4j.json"))
    requests_mock.get(re.compile(f"{REPO}/commits/.*/pulls"), json=[])
    requests_mock.get(re.compile(f"{REPO}/pulls/\\d+/reviews"), json=[])
    raw = {
        **release_event("v1.1", name="v1.1: WireMock", repo="acme/api"),
        "id": "40000000001",
        "created_at": "2026-11-30T10:00:00Z",
    }
    event = Enricher().enrich_event(make_client(), "acme", "api", raw, built(raw), previous_tag="v1.0")
    check_golden("release-shipped_merges-and-squashes", event.body())


def test_recorded_runs_without_actor_match_golden() -> None:
    runs = load("actions-runs_no-actor_2020-05-21.pygithub.json")["workflow_runs"]
    bodies = []
    for run in runs:
        event = to_run_event(run, GOLDEN_CTX)
        assert isinstance(event, PainChainEvent)
        bodies.append(event.body())
    check_golden("actions-runs_no-actor_2020-05-21.pygithub", bodies)
