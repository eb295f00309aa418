"""Every ``data`` key of every golden event, checked against how PainChain's timeline renders it.

PainChain's generic renderer (PainChain/PainChain d107043, ``painchain/frontend/src/components/
GenericRenderer.tsx`` and ``utils/detectFieldType.ts``; rules summarised in the project's contract)
chooses a display by key name first: a key containing ``url``/``link`` is a link; ending ``_at`` or
containing ``time``/``date`` a relative time; ``status``/``state`` or containing ``result`` a badge;
``author``/``user`` or containing ``creator``/``actor`` an @mention; containing ``duration``/
``elapsed`` a duration. A list of strings is chips, a list of anything else only "N items", null
"null". The function below restates those key-name rules (the value rules, such as ``Date.parse``, are
left out: they depend on the browser). Each key must render as what it holds (:data:`EXPECTED`); every
list sent is a list of strings (the structured lists painchain-gh keeps inside, such as ``commits``,
are not sent: their readable companions are) and no value is null.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from painchain_gh.transform.common import STRUCTURED_LISTS, timeline_data

GOLDEN = Path(__file__).parent / "fixtures" / "golden"

LINK, TIME, BADGE, MENTION, DURATION, PLAIN = "link", "time", "badge", "mention", "duration", "plain"

# What each key holds, so what the renderer must show. Plain covers text, numbers, booleans and chips.
EXPECTED: dict[str, str] = {
    **dict.fromkeys(["url", "compare_url", "diff_url", "logs_url", "review_url", "failed_job_url"], LINK),
    **dict.fromkeys(["created_at", "approved_at"], TIME),
    **dict.fromkeys(["state", "status"], BADGE),
    **dict.fromkeys(["author", "actor"], MENTION),
    "duration_seconds": DURATION,
    **dict.fromkeys(
        [
            # every event
            "event_type", "action", "repository", "tags", "external_id", "integration_id", "github_event_id",
            # pushes
            "ref", "branch", "tag", "head_sha", "before_sha", "deleted", "commit_count",
            "files_changed", "additions", "deletions", "compare_status", "commits_truncated", "commit_list",
            # pull requests and reviews
            "title", "number", "head_branch", "base_branch", "enriched", "details_missing", "details_skipped",
            "merged", "merged_by", "labels", "description", "changed_files", "comments", "review_comments",
            "reviewers", "approvals", "changes_requested", "reviewer", "pull_request_author", "stale_approval",
            # issues, releases, images
            "issue_author", "label", "name", "prerelease", "draft", "assets", "previous_tag", "package", "image",
            "digest", "version_id",
            # runs
            "workflow", "display_title", "conclusion", "commit", "triggering_event", "run_id", "run_number",
            "run_attempt", "failed_job_list",
            # deployments and what shipped
            "environment", "sha", "task", "deployment_id", "status_id", "production_environment",
            "transient_environment", "previous_deployment_id", "previous_sha", "redeploy", "rollback",
            "pull_requests", "pr_approvers", "deploy_approvers", "deploy_rejections",
            "change_kinds", "rolled_back_commit_count", "rolled_back_commit_list", "rolled_back_pull_requests",
            # the structured lists kept for machines ("N items" in the timeline, beside their readable text)
            "commits", "failed_jobs", "pull_request_numbers", "rolled_back_commits",
            "rolled_back_pull_request_numbers",
        ],
        PLAIN,
    ),
}  # fmt: skip


def rendered_as(key: str, value: object) -> str:
    """How the generic renderer shows ``value`` under ``key``, by the key-name rules."""
    lower = key.lower()
    if isinstance(value, str) and ("url" in lower or "link" in lower or value.startswith(("http://", "https://"))):
        return LINK
    if isinstance(value, str) and (key.endswith("_at") or "time" in lower or "date" in lower):
        return TIME
    if isinstance(value, str) and (lower in ("status", "state") or "result" in lower):
        return BADGE
    if isinstance(value, str) and (lower in ("author", "user") or "creator" in lower or "actor" in lower):
        return MENTION
    if isinstance(value, (int, float)) and not isinstance(value, bool) and ("duration" in lower or "elapsed" in lower):
        return DURATION
    return PLAIN


def events() -> list[tuple[str, dict[str, Any]]]:
    """(golden file, event data) of every event body in the golden files."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(GOLDEN.glob("*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        for body in loaded if isinstance(loaded, list) else [loaded]:
            if isinstance(body, dict) and isinstance(body.get("data"), dict):
                found.append((path.name, body["data"]))
    return found


EVENTS = events()


def test_the_golden_events_cover_every_kind_and_what_shipped() -> None:
    kinds = {data["event_type"] for _, data in EVENTS}
    assert kinds >= {"push", "pull_request", "pull_request_review", "issue", "release", "workflow_run", "deployment"}
    keys = {key for _, data in EVENTS for key in data}
    assert {"pull_requests", "deploy_approvers", "pr_approvers", "change_kinds", "previous_tag", "approved_at"} <= keys


@pytest.mark.parametrize(("golden", "data"), EVENTS, ids=[name for name, _ in EVENTS])
def test_every_key_renders_as_what_it_holds(golden: str, data: dict[str, Any]) -> None:
    for key, value in data.items():
        assert key in EXPECTED, f"{golden}: classify the new key {key!r} in EXPECTED"
        if value is None or value == []:
            continue
        assert rendered_as(key, value) == EXPECTED[key], f"{golden}: {key}={value!r}"


@pytest.mark.parametrize(("golden", "data"), EVENTS, ids=[name for name, _ in EVENTS])
def test_every_list_is_chips_and_no_value_is_null_or_nested(golden: str, data: dict[str, Any]) -> None:
    for key, value in data.items():
        assert value is not None, f"{golden}: {key} would read 'null'"
        assert not isinstance(value, dict), f"{golden}: {key} is a nested object"
        if isinstance(value, list) and key not in STRUCTURED_LISTS:
            assert all(isinstance(item, str) for item in value), f"{golden}: {key} would read 'N items'"
    for key in set(data) & set(STRUCTURED_LISTS):  # kept for machines, always beside its readable text
        assert STRUCTURED_LISTS[key] in data, f"{golden}: {key} without {STRUCTURED_LISTS[key]}"


def test_the_structured_lists_travel_with_their_readable_companions() -> None:
    data = {
        "commits": [{"sha": "1a2b3c4d", "message": "Fix", "author": "alice"}],
        "commit_list": ["1a2b3c4 Fix (alice)"],
        "failed_jobs": [{"name": "test", "conclusion": "failure", "url": None, "failed_step": None}],
        "failed_job_list": ["test"],
        "pull_request_numbers": [12],
        "pull_requests": ["#12 Fix (alice)"],
        "logs_url": None,
        "details_missing": False,
        "details_skipped": True,
        "merged": False,
    }
    sent = timeline_data(data)
    assert sent == {
        "commits": [{"sha": "1a2b3c4d", "message": "Fix", "author": "alice"}],
        "commit_list": ["1a2b3c4 Fix (alice)"],
        "failed_jobs": [{"name": "test", "conclusion": "failure", "url": None, "failed_step": None}],
        "failed_job_list": ["test"],
        "pull_request_numbers": [12],
        "pull_requests": ["#12 Fix (alice)"],
        "details_skipped": True,
        "merged": False,  # a fact either way: only the flags that report trouble are left out when false
    }
    assert set(STRUCTURED_LISTS.values()) <= set(EXPECTED) and set(STRUCTURED_LISTS) <= set(EXPECTED)


def test_the_rules_restated() -> None:
    assert rendered_as("diff_url", "https://github.com/a/b/compare/x...y") == LINK
    assert rendered_as("approved_at", "2026-11-30T10:04:00Z") == TIME
    assert rendered_as("state", "success") == BADGE
    assert rendered_as("compare_status", "behind") == PLAIN  # only "status" itself is a badge
    assert rendered_as("actor", "octocat") == MENTION and rendered_as("merged_by", "octocat") == PLAIN
    assert rendered_as("duration_seconds", 42) == DURATION
