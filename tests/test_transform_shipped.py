"""What shipped, from recorded GitHub answers (tests/fixtures/github/SOURCES.md): pull requests
from merge and squash messages, readable commit and pull request lines, approvers, the previous
release, a run's pull request, and the workflow-run author of older answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from painchain_gh.transform import RepoContext, to_event, to_run_event
from painchain_gh.transform.common import PainChainEvent
from painchain_gh.transform.details import with_compare
from painchain_gh.transform.shipped import (
    ShippedPull,
    approval_fields,
    approver_fields,
    commit_fields,
    deployment_run_id,
    merge_pulls,
    previous_release,
    pull_from_answer,
    pull_reference,
    pulls_from_commits,
    release_baselines,
    run_id_from_url,
)

FIXTURES = Path(__file__).parent / "fixtures" / "github"
CTX = RepoContext(owner="acme", repo="api-gateway", integration_id="clx1")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("message", "number"),
    [
        ("Merge pull request #533 from sullis/jackson-2.9.9.3\n\njackson-databind 2.9.9.3", 533),
        ("Add list projects support, update tests (#1431)", 1431),
        ("squashMerge (#333)\n\nsquash merge", 333),
        ("Fix #12 in the login page", None),
        ("Revert (#12) later\nsecond line (#13)", None),
        ("", None),
        (None, None),
    ],
)
def test_pull_reference(message: object, number: int | None) -> None:
    assert pull_reference(message) == number


def test_recorded_merges_and_squashes_name_their_pull_requests_and_leave_direct_commits() -> None:
    compare = load("compare_merge-and-squash-merges_2019.hub4j.json")
    found = pulls_from_commits(compare["commits"])

    assert sorted(found.pulls) == [325, 333, 533, 534, 537]
    assert found.pulls[533] == ShippedPull(
        533, "jackson-databind 2.9.9.3", "sullis", "499d91f9f846b0087b2a20cf3648b49dc9c2eeef", "jackson-2.9.9.3"
    )
    assert (found.pulls[333].title, found.pulls[333].author) == ("squashMerge", "bitwiseman")
    # The two commits pushed straight to the branch, newest first; the merges' branch commits are explained.
    shas = {commit["sha"]: commit["commit"]["message"] for commit in compare["commits"]}
    assert [shas[sha] for sha in found.unexplained] == ["Rename README to README.md", "Update maven.yml"]


def test_recorded_compare_as_readable_fields() -> None:
    compare = load("compare_merge-and-squash-merges_2019.hub4j.json")
    fields = commit_fields(compare, pulls_from_commits(compare["commits"]).pulls)

    assert fields["commit_count"] == 9 and "commits_truncated" not in fields
    assert fields["commit_list"][0] == "499d91f jackson-databind 2.9.9.3 (sullis)"
    assert fields["commit_list"][-1] == "8051615 squashMerge (#333) (bitwiseman)"
    assert fields["pull_requests"] == [
        "#537 Add WireMock testing facility",  # its branch commit is the compare's base: no author known
        "#534 Swap to HTTPs (res0nance)",
        "#533 jackson-databind 2.9.9.3 (sullis)",
        "#333 squashMerge (bitwiseman)",
        "#325 updateContentSquashMerge (bitwiseman)",
    ]
    assert fields["pull_request_numbers"] == [537, 534, 533, 333, 325]
    assert [entry["sha"] for entry in fields["commits"]] == [c["sha"] for c in compare["commits"]]


def test_recorded_compare_of_more_than_250_commits_says_so() -> None:
    compare = load("compare_over-250-commits_2021.hub4j.trimmed.json")
    fields = commit_fields(compare, pulls_from_commits(compare["commits"]).pulls)

    assert (fields["commit_count"], len(compare["commits"])) == (283, 250)
    assert fields["commits_truncated"] is True
    assert (
        len(fields["commit_list"]) == 20
        and fields["commit_list"][-1] == "94ff089 [maven-release-plugin] prepare release github-api-1.131 (bitwiseman)"
    )
    assert "#1170 Chore(deps-dev): Bump archunit from 0.18.0 to 0.19.0 (dependabot[bot])" in fields["pull_requests"]


def test_rolled_back_fields_have_their_own_names() -> None:
    compare = load("compare_merge-and-squash-merges_2019.hub4j.json")
    fields = commit_fields(compare, {}, prefix="rolled_back_")
    assert fields["rolled_back_commit_count"] == 9 and "commit_count" not in fields


def test_recorded_commit_pulls_answers_only_merged_pull_requests_ship() -> None:
    merged = load("commit-pulls_squash-merged-pull_2020.pygithub.json")
    open_ones = load("commit-pulls_two-open-pulls_2020.hub4j.json")

    assert pull_from_answer(merged[0]) == ShippedPull(
        1431,
        "Add support for list user projects",
        "ahhda",
        "21a6dfef170b2bdcf33dda731ad3a3e9681cffbe",
        "list_user_projects",
    )
    assert [pull_from_answer(item) for item in open_ones] == [None, None]
    known = {1431: ShippedPull(1431, "Add list projects support, update tests", "Anuj Bansal")}
    assert merge_pulls(known, merged)[1431].author == "ahhda"  # the answer wins over the message


def test_recorded_squash_commit_names_its_pull_request() -> None:
    commit = load("commit_squash-merged_2020.pygithub.trimmed.json")
    found = pulls_from_commits([commit])
    assert found.pulls[1431].title == "Add list projects support, update tests" and found.unexplained == []


def test_approvers_and_an_approval_of_an_earlier_commit() -> None:
    reviews = {
        12: [
            {"user": {"login": "bob"}, "state": "APPROVED", "commit_id": "a" * 40},
            {"user": {"login": "carol"}, "state": "APPROVED", "commit_id": "b" * 40},
            {"user": {"login": "dan"}, "state": "APPROVED", "commit_id": "b" * 40},
            {"user": {"login": "dan"}, "state": "DISMISSED", "commit_id": "b" * 40},
            {"user": {"login": "erin"}, "state": "COMMENTED", "commit_id": "b" * 40},
        ],
        14: [{"user": {"login": "frank"}, "state": "APPROVED", "commit_id": "c" * 40}],
    }
    pulls = {12: ShippedPull(12, head_sha="b" * 40), 14: ShippedPull(14)}
    fields = approver_fields(reviews, pulls)
    assert fields == {
        "pr_approvers": ["frank (#14)", "bob (#12, an earlier commit)", "carol (#12)"],
        "stale_approval": True,
    }
    assert "stale_approval" not in approver_fields({14: reviews[14]}, pulls)


def test_recorded_run_approvals_for_the_environment_deployed() -> None:
    approvals = load("run-approvals_environment-approvals-items.rest-api-description.json")
    statuses = [
        {"state": "waiting", "created_at": "2026-11-30T10:00:00Z"},
        {"state": "in_progress", "created_at": "2026-11-30T10:04:00Z"},
        {"state": "success", "created_at": "2026-11-30T10:06:00Z"},
    ]
    assert approval_fields(approvals, "staging", statuses) == {
        "deploy_approvers": ["octocat (staging): Ship it!"],
        "approved_at": "2026-11-30T10:04:00Z",
    }
    assert approval_fields(approvals, "production", statuses) == {"deploy_approvers": []}
    rejected = [{**approvals[0], "state": "rejected", "comment": "Not on a Friday"}]
    assert approval_fields(rejected, "staging", statuses) == {
        "deploy_approvers": [],
        "deploy_rejections": ["octocat (staging): Not on a Friday"],
    }


def test_the_run_behind_a_deployment_is_read_from_an_actions_link_only() -> None:
    repo = "https://github.com/acme/api-gateway"
    assert run_id_from_url(f"{repo}/actions/runs/4242/job/77", repo) == 4242
    assert run_id_from_url("https://github.com/ACME/Api-Gateway/actions/runs/9?check_suite_focus=true", repo) == 9
    assert run_id_from_url("https://github.com/other/repo/actions/runs/1", repo) is None
    # A 2022 GitHub Pages status names a check run (/runs/{job}), not a workflow run (octokit/webhooks example).
    assert run_id_from_url("https://github.com/acme/api-gateway/runs/4687056418?check_suite_focus=true", repo) is None
    recorded = load("deployment-statuses_queued_2020.pygithub.json")  # log_url https://example.com/deployment.log
    assert deployment_run_id(recorded, repo) is None


def test_recorded_releases_give_the_previous_one() -> None:
    releases = load("releases_list_github-hub.hub4j.trimmed.json")
    assert previous_release(releases, "v2.12.8", prerelease=False) == "v2.12.7"
    # v2.3.0-pre10 was published between v2.2.9 and v2.3.0: a full release skips it, a prerelease does not.
    tags = [release["tag_name"] for release in releases]
    after_pre10 = tags[tags.index("v2.3.0-pre10") - 1]
    assert previous_release(releases, after_pre10, prerelease=False) != "v2.3.0-pre10"
    assert previous_release(releases, after_pre10, prerelease=True) == "v2.3.0-pre10"
    assert previous_release(releases, "v9.9.9", prerelease=False) == "v2.12.8"  # not listed yet: the newest
    assert previous_release(releases, tags[-1], prerelease=False) is None


def release(tag: str, *, prerelease: bool = False, draft: bool = False) -> dict[str, Any]:
    return {"type": "ReleaseEvent", "payload": {"release": {"tag_name": tag, "prerelease": prerelease, "draft": draft}}}


def test_release_baselines_chain_a_batch_and_skip_prereleases_and_drafts() -> None:
    raws = [release("v1.1"), release("v1.2-rc1", prerelease=True), release("v1.2"), release("v1.3", draft=True)]
    bases, last = release_baselines(raws, "v1.0")
    assert [bases.get(id(raw), "none") for raw in raws] == ["v1.0", "v1.1", "v1.1", "none"]
    assert last == "v1.2"
    again, _ = release_baselines([raws[0]], "v1.1")  # re-sent after the state already moved: look it up
    assert again[id(raws[0])] is None


def test_recorded_runs_without_actor_get_the_head_commits_author_and_pull_request() -> None:
    runs = load("actions-runs_no-actor_2020-05-21.pygithub.json")["workflow_runs"]
    events = [to_run_event(run, CTX) for run in runs]
    assert all(isinstance(event, PainChainEvent) for event in events)
    built = [event for event in events if isinstance(event, PainChainEvent)]
    assert {event.data["author"] for event in built} == {"Steve Kowalik"}
    assert [event.data["pull_request_numbers"] for event in built] == [[1529], [1528], [1526], [], []]
    assert built[0].data["pull_requests"] == ["#1529 Remove RateLimit.rate"]


def test_a_run_names_the_open_pull_requests_github_lists() -> None:
    run = {
        "id": 1,
        "created_at": "2026-11-30T10:00:00Z",
        "event": "pull_request",
        "pull_requests": [{"number": 12, "head": {}, "base": {}}, {"number": 12}, {"number": "x"}],
    }
    event = to_run_event(run, CTX)
    assert isinstance(event, PainChainEvent)
    assert (event.data["pull_request_numbers"], event.data["pull_requests"]) == ([12], ["#12"])


def test_a_push_of_more_than_250_commits_says_so() -> None:
    compare = load("compare_over-250-commits_2021.hub4j.trimmed.json")
    raw = {
        **load("event_PushEvent_post-2025-10_hand-trimmed.octocrab.json"),
        "id": "1",
        "created_at": "2026-01-01T00:00:00Z",
    }
    event = to_event(raw, CTX)
    assert isinstance(event, PainChainEvent)
    pushed = with_compare(event, compare)
    assert pushed.title.endswith("(283 commits)") and pushed.data["commits_truncated"] is True
    assert pushed.data["change_kinds"] == ["dependency", "ci", "revert"]
