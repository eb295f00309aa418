"""Enrichment and image transforms over GitHub's own OpenAPI examples (github/rest-api-description),
checked against golden events; sources in tests/fixtures/github/SOURCES.md."""

from __future__ import annotations

import copy

from painchain_gh.transform import PainChainEvent, Skip, to_event, to_run_event
from painchain_gh.transform.details import with_compare, with_failed_jobs, with_files, with_reviews
from painchain_gh.transform.images import package_context, to_image_event
from tests.test_transform_golden import CTX, check_golden, load

COMPARE = load("compare_commit-comparison_trimmed.rest-api-description.json")
PULL = load("pull_get_pull-request_trimmed.rest-api-description.json")
REVIEW = load("pull-review_official-docs-example.github-docs.json")
PULL_FILES = load("pull-files_list_diff-entry-items.rest-api-description.json")
TRIMMED_PUSH = load("event_PushEvent_post-2025-10_hand-trimmed.octocrab.json")
TRIMMED_PR = load("event_PullRequestEvent_post-2025-10_hand-trimmed.octocrab.json")
JOBS = load("workflow-jobs_list_job-paginated.rest-api-description.json")
VERSION = load("package-version_container_package-version-org.rest-api-description.json")
NPM_VERSIONS = load("package-versions_list_package-versions-for-org.rest-api-description.json")
RUN = load("actions-runs_created-date_2024-02-01.pygithub.json")["workflow_runs"][0]
# The package the version example belongs to (its URLs name org "github", container "hello_docker").
PACKAGE = {"name": "hello_docker", "owner": {"login": "github"}}


def built(result: PainChainEvent | Skip) -> PainChainEvent:
    assert isinstance(result, PainChainEvent), result
    return result


def test_documented_comparison_fills_the_push_with_its_commit_and_file() -> None:
    event = with_compare(built(to_event(TRIMMED_PUSH, CTX)), COMPARE)
    check_golden("push-with-docs-compare", event.body())
    assert event.title.endswith("(1 commit)")
    assert event.data["commit_count"] == 1
    assert event.data["commits"] == [
        {"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "message": "Fix all the bugs", "author": "octocat"}
    ]
    assert event.data["files_changed"] == ["file1.txt"]
    assert (event.data["additions"], event.data["deletions"]) == (103, 21)
    assert "details_missing" not in event.data


def test_documented_pull_request_files_give_the_file_names() -> None:
    pulls = {8: {"number": 8, "title": "Add test file", "user": {"login": "wayofthepie"}, "state": "open"}}
    event = with_files(built(to_event(TRIMMED_PR, CTX, pulls)), PULL_FILES)
    check_golden("pull-request-with-docs-files", event.body())
    assert event.data["files_changed"] == ["file1.txt"]


def test_documented_pull_request_fills_the_trimmed_stub() -> None:
    raw = copy.deepcopy(TRIMMED_PR)
    raw["payload"]["action"] = "merged"
    # The stub is pull request 8; the documented GET /pulls/{n} answer stands in for it.
    event = built(to_event(raw, CTX, {8: PULL}))
    event = with_files(with_reviews(event, [REVIEW]), PULL_FILES)
    check_golden("pull-request-merged-with-docs-details", event.body())
    assert event.title == "Pull request merged: Amazing new feature"
    assert event.data["url"] == "https://github.com/octocat/Hello-World/pull/1347"
    assert event.data["author"] == "octocat" and event.data["merged_by"] == "octocat"
    assert (event.data["additions"], event.data["deletions"], event.data["changed_files"]) == (100, 3, 5)
    assert (event.data["comments"], event.data["review_comments"]) == (10, 0)
    assert event.data["labels"] == ["bug"]
    assert event.data["description"] == "Please pull these awesome changes in!"
    assert event.data["reviewers"] == ["octocat"] and event.data["approvals"] == 1
    assert event.data["files_changed"] == ["file1.txt"]
    # The stub's own head/base win over the enrichment's.
    assert event.data["head_sha"] == TRIMMED_PR["payload"]["pull_request"]["head"]["sha"]


def test_documented_pull_request_closed_with_merged_false_is_not_a_merge() -> None:
    # The example says merged: false next to a merged_at; GET /pulls/{n}'s merged flag decides.
    raw = copy.deepcopy(TRIMMED_PR)
    raw["payload"]["action"] = "closed"
    event = built(to_event(raw, CTX, {8: PULL}))
    assert event.data["action"] == "closed" and event.data["merged"] is False
    assert event.title == "Pull request closed: Amazing new feature"


def failed_run() -> PainChainEvent:
    return built(to_run_event({**RUN, "status": "completed", "conclusion": "failure"}, CTX))


def test_documented_successful_job_is_not_listed_as_failed() -> None:
    event = with_failed_jobs(failed_run(), RUN, JOBS["jobs"])
    check_golden("workflow-run-failed-with-docs-jobs", event.body())
    assert event.data["failed_jobs"] == []
    assert event.data["logs_url"] == RUN["logs_url"]
    assert "details_missing" not in event.data


def test_documented_job_failing_at_run_tests_names_the_step_and_job_url() -> None:
    jobs = copy.deepcopy(JOBS["jobs"])
    jobs[0]["conclusion"] = "failure"
    step = next(s for s in jobs[0]["steps"] if s["name"] == "Run Tests")
    step["conclusion"] = "failure"
    event = with_failed_jobs(failed_run(), RUN, jobs)
    check_golden("workflow-run-failed-with-docs-jobs-failing-step", event.body())
    assert event.data["failed_jobs"] == [
        {
            "name": "build",
            "conclusion": "failure",
            "url": "https://github.com/octo-org/octo-repo/runs/29679449/jobs/399444496",
            "failed_step": "Run Tests",
        }
    ]


def test_documented_container_version_matches_golden() -> None:
    ctx = package_context(PACKAGE, owner="github", integration_id="clx1", web_url="https://github.com")
    assert ctx.project == "github/hello_docker"  # no linked repository in the example
    event = built(to_image_event(PACKAGE, VERSION, owner="github", ctx=ctx))
    check_golden("image-published_docs-package-version-org", event.body())
    assert event.title == "Image published: ghcr.io/github/hello_docker:latest"
    assert event.data["digest"] == VERSION["name"]
    assert event.data["tags"] == ["latest"]
    assert event.data["url"] == VERSION["html_url"]
    assert event.data["version_id"] == 836 and event.external_id == "github-image-836"
    assert event.data["created_at"] == "2020-05-19T22:19:11Z"
    assert event.data["author"] == "github"


def test_documented_npm_versions_have_no_container_tags_and_are_skipped() -> None:
    package = {"name": "hello-world-npm", "owner": {"login": "octo-org"}}
    ctx = package_context(package, owner="octo-org", integration_id="clx1", web_url="https://github.com")
    for version in NPM_VERSIONS:
        assert to_image_event(package, version, owner="octo-org", ctx=ctx) == Skip("ignored:image.untagged")
