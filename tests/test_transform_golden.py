"""Transforms over real GitHub payloads (tests/fixtures/github), checked against golden events.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest
tests/test_transform_golden.py`` and review the diff: each file is the exact body POSTed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from painchain_gh.transform import PainChainEvent, RepoContext, Skip, to_event, to_run_event

FIXTURES = Path(__file__).parent / "fixtures" / "github"
GOLDEN = Path(__file__).parent / "fixtures" / "golden"
CTX = RepoContext(owner="acme", repo="api-gateway", integration_id="clx1", tags=("team", "backend"))

# The pull request behind the trimmed post-2025 PullRequestEvent fixture, as GET /pulls/8 would answer.
PULL_8 = {
    "number": 8,
    "title": "Add test file",
    "user": {"login": "wayofthepie"},
    "html_url": "https://github.com/wayofthepie/test-events/pull/8",
    "state": "open",
    "merged": False,
    "head": {"ref": "wayofthepie-patch-1", "sha": "bb8d4d3e1e8a8e6fe4b3c0b5c95f3ffcd3c0e9ff"},
    "base": {"ref": "main", "sha": "a" * 40},
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def check_golden(name: str, actual: object) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {path} is missing; run with UPDATE_GOLDEN=1 and review it"
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8"))


SINGLE_EVENTS = [
    ("event_PushEvent_pre-2025_2020-11-23.octocrab.json", None),
    ("event_PushEvent_post-2025-10_hand-trimmed.octocrab.json", None),
    ("event_PullRequestEvent_opened_pre-2025_2021-01-20.octocrab.json", None),
    ("event_PullRequestEvent_post-2025-10_hand-trimmed.octocrab.json", {8: PULL_8}),
    ("event_PullRequestReviewEvent_pre-2025_2023-02-12.octocrab.json", None),
    ("event_IssuesEvent_2021-01-15.octocrab.json", None),
    ("event_ReleaseEvent_published_2024-02-26.octocrab.json", None),
]


@pytest.mark.parametrize(("fixture", "pulls"), SINGLE_EVENTS, ids=[name for name, _ in SINGLE_EVENTS])
def test_single_event_matches_golden(fixture: str, pulls: dict[int, Any] | None) -> None:
    result = to_event(load(fixture), CTX, pulls)
    assert isinstance(result, PainChainEvent)
    check_golden(fixture.removesuffix(".json"), result.body())


def test_trimmed_pull_request_without_enrichment_falls_back_to_number_and_says_so() -> None:
    result = to_event(load("event_PullRequestEvent_post-2025-10_hand-trimmed.octocrab.json"), CTX)
    assert isinstance(result, PainChainEvent)
    assert result.title == "Pull request opened: #8"
    assert result.data["details_missing"] is True
    assert result.data["enriched"] is False
    assert result.data["url"] == "https://github.com/acme/api-gateway/pull/8"
    assert result.data["author"] == "wayofthepie"  # the actor, when the PR's author is unknown


def test_trimmed_push_has_shas_and_compare_url_but_no_commit_count() -> None:
    result = to_event(load("event_PushEvent_post-2025-10_hand-trimmed.octocrab.json"), CTX)
    assert isinstance(result, PainChainEvent)
    assert "commit_count" not in result.data
    assert result.data["compare_url"].startswith("https://github.com/acme/api-gateway/compare/")
    full = to_event(load("event_PushEvent_pre-2025_2020-11-23.octocrab.json"), CTX)
    assert isinstance(full, PainChainEvent)
    assert full.data["commit_count"] == 1
    assert full.external_id == result.external_id  # same GitHub event, same id


@pytest.mark.parametrize(
    "fixture", ["event_CreateEvent_2020-11-24.octocrab.json", "event_DeleteEvent_2021-01-26.octocrab.json"]
)
def test_unsupported_types_are_skipped_with_their_type(fixture: str) -> None:
    raw = load(fixture)
    assert to_event(raw, CTX) == Skip(f"unsupported:{raw['type']}")


def timeline_titles(name: str) -> list[str]:
    titles = []
    for raw in load(name):
        result = to_event(raw, CTX)
        titles.append(result.title if isinstance(result, PainChainEvent) else f"<{result.reason}>")
    return titles


@pytest.mark.parametrize(
    "fixture",
    [
        "events_user-public_page2_2023-04-14.hub4j.json",
        "events_public-timeline_page1_2019-10-21.hub4j.json",
        "events_list-public-events_official-docs-example.github-docs.json",
    ],
)
def test_recorded_timelines_match_golden_titles(fixture: str) -> None:
    check_golden(fixture.removesuffix(".json") + ".titles", timeline_titles(fixture))


def test_ghes_style_merge_is_closed_with_merged_flag() -> None:
    merges = [
        raw
        for raw in load("events_user-public_page2_2023-04-14.hub4j.json")
        if raw["type"] == "PullRequestEvent" and raw["payload"]["pull_request"].get("merged")
    ]
    assert merges, "the fixture holds closed+merged pull requests"
    for raw in merges:
        result = to_event(raw, CTX)
        assert isinstance(result, PainChainEvent)
        assert result.title.startswith("Pull request merged: ")
        assert result.data["action"] == "merged"


@pytest.mark.parametrize(
    "fixture",
    [
        "actions-runs_created-ge-filter_2024-02-09.hub4j.json",
        "actions-runs_action-required_same-second_2022-08-17.hub4j.json",
        "actions-runs_created-date_2024-02-01.pygithub.json",
    ],
)
def test_workflow_runs_match_golden(fixture: str) -> None:
    bodies = []
    for run in load(fixture)["workflow_runs"]:
        result = to_run_event(run, CTX)
        assert isinstance(result, PainChainEvent)
        bodies.append(result.body())
    check_golden(fixture.removesuffix(".json"), bodies)


def test_each_run_state_has_its_own_external_id() -> None:
    run = load("actions-runs_created-date_2024-02-01.pygithub.json")["workflow_runs"][0]
    states = [
        {**run, "status": "queued", "conclusion": None},
        {**run, "status": "in_progress", "conclusion": None},
        {**run, "status": "completed", "conclusion": "failure"},
        {**run, "status": "completed", "conclusion": "success", "run_attempt": 2},
    ]
    ids = []
    for state in states:
        result = to_run_event(state, CTX)
        assert isinstance(result, PainChainEvent)
        ids.append(result.external_id)
    assert len(set(ids)) == 4
    again = to_run_event(states[2], CTX)
    assert isinstance(again, PainChainEvent)
    assert again.external_id == ids[2]
