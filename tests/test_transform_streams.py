"""Transforms of the deployments, images and enrichment streams, golden-tested where GitHub's
documentation has an example payload (tests/fixtures/github/SOURCES.md)."""

from __future__ import annotations

import copy
from typing import Any

from painchain_gh.transform import PainChainEvent, Skip, to_event, to_run_event
from painchain_gh.transform.deployments import to_deployment_event
from painchain_gh.transform.details import (
    failed_jobs,
    needs_jobs,
    with_compare,
    with_failed_jobs,
    with_files,
    with_reviews,
)
from painchain_gh.transform.images import package_context, to_image_event
from painchain_gh.transform.kinds import EVENT_KINDS, kind_of, kind_of_raw, wanted
from tests.test_transform_golden import CTX, check_golden, load

DEPLOYMENT = load("deployments_list_official-docs-example.github-docs.json")[0]
STATUS = load("deployment-statuses_list_official-docs-example.github-docs.json")[0]
REVIEW = load("pull-review_official-docs-example.github-docs.json")
TRIMMED_PUSH = load("event_PushEvent_post-2025-10_hand-trimmed.octocrab.json")
TRIMMED_PR = load("event_PullRequestEvent_post-2025-10_hand-trimmed.octocrab.json")
RUN = load("actions-runs_created-date_2024-02-01.pygithub.json")["workflow_runs"][0]
PULL_FILES = load("pull-files_list_diff-entry-items.rest-api-description.json")

# Shapes from https://docs.github.com/en/rest/commits/commits#compare-two-commits (written here): several
# commits with a null GitHub author; the documented example is tested in test_transform_docs_examples.py.
COMPARE = {
    "status": "ahead",
    "ahead_by": 3,
    "behind_by": 0,
    "total_commits": 3,
    "commits": [
        {
            "sha": f"{n}" * 40,
            "commit": {"message": f"Change {n}\n\nbody", "author": {"name": f"Dev {n}"}},
            "author": None,
        }
        for n in (1, 2, 3)
    ],
    "files": [
        {"filename": "app.py", "status": "modified", "additions": 10, "deletions": 2},
        {"filename": "README.md", "status": "modified", "additions": 1, "deletions": 0},
    ],
}


def built(result: PainChainEvent | Skip) -> PainChainEvent:
    assert isinstance(result, PainChainEvent), result
    return result


# -- deployments ----------------------------------------------------------------------------------


def test_deployment_status_matches_golden() -> None:
    event = built(to_deployment_event(DEPLOYMENT, STATUS, CTX))
    check_golden("deployment-status_official-docs-example", event.body())
    assert event.title == "Deployment to production: success"
    assert event.external_id == "github-deployment-1-status-1"
    assert event.data["url"] == "https://example.com/deployment/42/output"  # log_url first


def test_deployment_without_status_is_sent_as_created() -> None:
    event = built(to_deployment_event(DEPLOYMENT, None, CTX))
    check_golden("deployment-created_official-docs-example", event.body())
    assert event.external_id == "github-deployment-1-created"
    assert event.data["url"] == "https://github.com/acme/api-gateway/deployments"
    assert event.data["status_id"] is None and event.data["author"] == "octocat"


def test_deployment_url_and_author_fallbacks() -> None:
    status = {**STATUS, "log_url": "", "creator": None}
    event = built(to_deployment_event(DEPLOYMENT, status, CTX))
    assert event.data["url"] == "https://test-branch.lab.acme.com"
    assert event.data["author"] == "octocat"  # the deployment's creator
    status["environment_url"] = ""
    assert built(to_deployment_event(DEPLOYMENT, status, CTX)).data["url"] == STATUS["target_url"]
    assert isinstance(to_deployment_event({"id": "x"}, None, CTX), Skip)
    assert isinstance(to_deployment_event(DEPLOYMENT, {"id": 2}, CTX), Skip)  # no created_at


# -- push compare, pull request details, failed jobs, release --------------------------------------


def test_trimmed_push_with_compare_matches_golden() -> None:
    event = with_compare(built(to_event(TRIMMED_PUSH, CTX)), COMPARE)
    check_golden("push-with-compare", event.body())
    assert event.title.endswith("(3 commits)")
    assert [c["message"] for c in event.data["commits"]] == ["Change 1", "Change 2", "Change 3"]
    assert (event.data["additions"], event.data["deletions"]) == (11, 2)
    assert event.data["files_changed"] == ["app.py", "README.md"]


def test_failed_compare_marks_details_missing_but_keeps_the_push() -> None:
    event = with_compare(built(to_event(TRIMMED_PUSH, CTX)), None)
    assert event.data["details_missing"] is True and "commits" not in event.data


def test_branch_and_tag_deletion() -> None:
    raw = copy.deepcopy(TRIMMED_PUSH)
    raw["payload"]["head"] = "0" * 40
    event = built(to_event(raw, CTX))
    assert event.title == "Branch deleted: master"
    assert event.data["url"] == "https://github.com/acme/api-gateway/branches"
    raw["payload"]["ref"] = "refs/tags/v1"
    event = built(to_event(raw, CTX))
    assert event.title == "Tag deleted: v1" and event.data["url"] == "https://github.com/acme/api-gateway/tags"


def test_merged_pull_request_with_list_item_reviews_and_files_matches_golden() -> None:
    raw = copy.deepcopy(TRIMMED_PR)
    raw["payload"]["action"] = "merged"
    full = {
        "number": 8,
        "title": "Add test file",
        "user": {"login": "wayofthepie"},
        "html_url": "https://github.com/wayofthepie/test-events/pull/8",
        "state": "closed",
        "merged": True,
        "merged_by": {"login": "octocat"},
        "body": "x" * 1500,
        "labels": [{"name": "bug"}],
        "additions": 5,
        "deletions": 1,
        "changed_files": 2,
        "comments": 1,
        "review_comments": 0,
    }
    changes = {**REVIEW, "id": 81, "state": "CHANGES_REQUESTED", "user": {"login": "hubot"}}
    event = built(to_event(raw, CTX, {8: full}))
    event = with_reviews(event, [REVIEW, changes, REVIEW])
    event = with_files(event, PULL_FILES)
    check_golden("pull-request-merged-enriched", event.body())
    assert event.title == "Pull request merged: Add test file"
    assert (event.data["merged_by"], event.data["additions"], event.data["changed_files"]) == ("octocat", 5, 2)
    assert event.data["reviewers"] == ["octocat", "hubot"]
    assert event.data["files_changed"] == ["file1.txt"]
    assert (event.data["approvals"], event.data["changes_requested"]) == (2, 1)
    assert len(event.data["description"]) == 1000 and event.data["labels"] == ["bug"]


def test_closed_stub_is_a_merge_when_the_pull_list_says_merged_at() -> None:
    raw = copy.deepcopy(TRIMMED_PR)
    raw["payload"]["action"] = "closed"
    listed = {"number": 8, "title": "Add test file", "state": "closed", "merged_at": "2026-01-01T00:00:00Z"}
    assert built(to_event(raw, CTX, {8: listed})).data["action"] == "merged"
    listed["merged_at"] = None
    assert built(to_event(raw, CTX, {8: listed})).data["action"] == "closed"


def test_failed_run_with_jobs_matches_golden() -> None:
    run = {**RUN, "status": "completed", "conclusion": "failure"}
    event = built(to_run_event(run, CTX))
    assert needs_jobs(event)
    # Job shape of https://docs.github.com/en/rest/actions/workflow-jobs (written here).
    jobs: list[Any] = [
        {
            "name": "build",
            "conclusion": "failure",
            "html_url": "https://github.com/octo-org/octo-repo/runs/399444496",
            "steps": [
                {"name": "Run actions/checkout@v2", "conclusion": "success"},
                {"name": "Test", "conclusion": "failure"},
            ],
        },
        {"name": "lint", "conclusion": "success", "steps": []},
        {"name": "e2e", "conclusion": "timed_out", "html_url": "javascript:alert(1)", "steps": None},
    ]
    event = with_failed_jobs(event, run, jobs)
    check_golden("workflow-run-failed-with-jobs", event.body())
    assert [job["name"] for job in event.data["failed_jobs"]] == ["build", "e2e"]
    assert event.data["failed_jobs"][0]["failed_step"] == "Test"
    assert event.data["failed_jobs"][1]["url"] is None
    assert event.data["failed_job_list"] == ["build: Test", "e2e (timed out)"]
    assert event.data["failed_job_url"] == "https://github.com/octo-org/octo-repo/runs/399444496"  # first page
    assert event.data["logs_url"] == RUN["logs_url"]
    assert with_failed_jobs(event, run, None).data["details_missing"] is True


def test_only_failed_or_timed_out_completed_runs_need_jobs() -> None:
    for status, conclusion, expected in (
        ("completed", "failure", True),
        ("completed", "timed_out", True),
        ("completed", "success", False),
        ("completed", "cancelled", False),
        ("in_progress", None, False),
    ):
        event = built(to_run_event({**RUN, "status": status, "conclusion": conclusion}, CTX))
        assert needs_jobs(event) is expected, (status, conclusion)
    assert failed_jobs(["junk", None, {"conclusion": "failure"}]) == [
        {"name": "unnamed job", "conclusion": "failure", "url": None, "failed_step": None}
    ]


def test_release_carries_asset_names_and_description() -> None:
    raw = load("event_ReleaseEvent_published_2024-02-26.octocrab.json")
    raw["payload"]["release"]["assets"] = [{"name": "app.tar.gz"}, {"name": None}, "junk"]
    raw["payload"]["release"]["body"] = "y" * 5000
    event = built(to_event(raw, CTX))
    assert event.data["assets"] == ["app.tar.gz"]
    assert len(event.data["description"]) == 1000


# -- images and kinds -------------------------------------------------------------------------------


PACKAGE = {"name": "api/server", "owner": {"login": "Acme"}, "repository": {"full_name": "acme/api-gateway"}}
VERSION = {
    "id": 786068,
    "name": "sha256:" + "ab" * 32,
    "created_at": "2026-01-02T03:04:05Z",
    "updated_at": "2026-01-02T03:04:05Z",
    "html_url": "https://github.com/orgs/acme/packages/container/api%2Fserver/786068",
    "metadata": {"package_type": "container", "container": {"tags": ["v1.2.3", "latest"]}},
}


def test_tagged_image_version_matches_golden_and_untagged_is_skipped() -> None:
    ctx = package_context(PACKAGE, owner="Acme", integration_id="clx1", web_url="https://github.com")
    assert ctx.project == "acme/api-gateway"
    event = built(to_image_event(PACKAGE, VERSION, owner="Acme", ctx=ctx))
    check_golden("image-published", event.body())
    assert event.title == "Image published: ghcr.io/acme/api/server:v1.2.3"
    assert event.data["digest"] == VERSION["name"] and event.data["tags"] == ["v1.2.3", "latest"]
    untagged = {**VERSION, "metadata": {"container": {"tags": []}}}
    assert to_image_event(PACKAGE, untagged, owner="Acme", ctx=ctx) == Skip("ignored:image.untagged")
    alone = package_context({"name": "tool"}, owner="alice", integration_id="i", web_url="https://github.com")
    assert alone.project == "alice/tool"


def test_kind_of_every_built_event() -> None:
    ctx = package_context(PACKAGE, owner="Acme", integration_id="clx1", web_url="https://github.com")
    events = [
        built(to_event(TRIMMED_PUSH, CTX)),
        built(to_event(TRIMMED_PR, CTX)),
        built(to_event(load("event_PullRequestReviewEvent_pre-2025_2023-02-12.octocrab.json"), CTX)),
        built(to_event(load("event_IssuesEvent_2021-01-15.octocrab.json"), CTX)),
        built(to_event(load("event_ReleaseEvent_published_2024-02-26.octocrab.json"), CTX)),
        built(to_run_event(RUN, CTX)),
        built(to_deployment_event(DEPLOYMENT, STATUS, CTX)),
        built(to_image_event(PACKAGE, VERSION, owner="Acme", ctx=ctx)),
    ]
    assert tuple(kind_of(event) for event in events) == EVENT_KINDS
    assert kind_of_raw(TRIMMED_PR) == "pull_request" and kind_of_raw({"type": "WatchEvent"}) is None
    assert wanted("push", None) and wanted("push", ["push"]) and not wanted("push", ["deployment"])
    assert not wanted(None, ["push"])
