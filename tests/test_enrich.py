"""Enrichment requests against requests-mock: what is asked for, once per repository poll, and failures."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import requests_mock
from pydantic import SecretStr

from painchain_gh.github.client import GitHubClient, TokenBudget
from painchain_gh.http import Deadline, RetryPolicy
from painchain_gh.streams.enrich import Enricher, RequestCounts
from painchain_gh.transform import PainChainEvent, RepoContext, to_event, to_run_event
from tests.fakes.github import pull, pull_request_event, push_event, review_event

API = "https://api.github.com"
REPO = f"{API}/repos/acme/api"
CTX = RepoContext(owner="acme", repo="api", integration_id="i1")


def make_client(*, runtime: float = 60, budget: TokenBudget | None = None) -> GitHubClient:
    return GitHubClient(
        session=requests.Session(),
        api_url=API,
        token=SecretStr("ghp_test_token"),
        budget=budget or TokenBudget("fp", reserve=0, max_concurrent=2),
        deadline=Deadline(runtime),
        policy=RetryPolicy(attempts=1, base_delay=0.0),
        sleep=lambda _: None,
    )


def paths(mock: requests_mock.Mocker) -> list[str]:
    return [f"{r.path}?{r.query}" if r.query else r.path for r in mock.request_history]


def built(raw: dict[str, Any], pulls: dict[int, Any] | None = None) -> PainChainEvent:
    event = to_event({"id": "1", "created_at": "2026-01-01T00:00:00Z", **raw}, CTX, pulls)
    assert isinstance(event, PainChainEvent)
    return event


def test_pull_titles_come_from_one_list_and_full_pulls_only_for_opened_merged_or_unlisted(
    requests_mock: requests_mock.Mocker,
) -> None:
    listed = [pull(n, title=f"PR {n}", repo="acme/api") for n in (1, 2, 3)]
    requests_mock.get(f"{REPO}/pulls", json=listed)
    for n in (1, 2, 4):
        requests_mock.get(f"{REPO}/pulls/{n}", json={**pull(n, title=f"PR {n}", repo="acme/api"), "additions": 7})
    raws = [
        pull_request_event("opened", 1, repo="acme/api"),
        pull_request_event("merged", 2, repo="acme/api"),
        pull_request_event("closed", 3, repo="acme/api"),
        review_event(4, repo="acme/api"),
    ]
    enricher = Enricher()
    found = enricher.pulls_for(make_client(), "acme", "api", raws)
    assert sorted(found) == [1, 2, 3, 4]
    assert found[1]["additions"] == 7 and found[3]["title"] == "PR 3"
    assert paths(requests_mock) == [
        "/repos/acme/api/pulls?state=all&sort=updated&direction=desc&per_page=100",
        "/repos/acme/api/pulls/1",
        "/repos/acme/api/pulls/2",
        "/repos/acme/api/pulls/4",
    ]
    assert enricher.pulls_for(make_client(), "acme", "api", raws) == found  # cached for the run
    assert requests_mock.call_count == 4
    assert enricher.counts.requests() == {"pull_list": 1, "pull": 3}


def test_full_payloads_need_no_pull_requests(requests_mock: requests_mock.Mocker) -> None:
    raws = [pull_request_event("opened", 1, trimmed=False, repo="acme/api")]
    assert Enricher().pulls_for(make_client(), "acme", "api", raws) == {}
    assert requests_mock.call_count == 0


def test_trimmed_push_is_compared_once_per_repository_poll(requests_mock: requests_mock.Mocker) -> None:
    before, head = "a" * 40, "b" * 40
    compare = {"total_commits": 2, "commits": [{"sha": "c" * 40, "commit": {"message": "Fix"}}], "files": []}
    requests_mock.get(f"{REPO}/compare/{before}...{head}", json=compare)
    raw = push_event(head=head, before=before, repo="acme/api")
    enricher = Enricher()
    client = make_client()
    first = enricher.enrich_event(client, "acme", "api", raw, built(raw))
    again = enricher.enrich_event(client, "acme", "api", raw, built(raw))
    assert first.title == "Push to main (2 commits)" and again.data == first.data
    assert requests_mock.call_count == 1 and enricher.counts.requests() == {"compare": 1}


def test_a_released_repository_keeps_nothing_and_the_others_keep_theirs(
    requests_mock: requests_mock.Mocker,
) -> None:
    before, head = "a" * 40, "b" * 40
    compare = {"total_commits": 1, "commits": [{"sha": "c" * 40, "commit": {"message": "Fix"}}], "files": []}
    for repo in ("api", "web"):
        requests_mock.get(f"{API}/repos/acme/{repo}/compare/{before}...{head}", json=compare)
    enricher = Enricher()
    client = make_client()
    pushes = {repo: push_event(head=head, before=before, repo=f"acme/{repo}") for repo in ("api", "web")}
    for repo, raw in pushes.items():
        enricher.enrich_event(client, "acme", repo, raw, built(raw))
    enricher.release(client, "ACME", "Api")  # GitHub's names are case-insensitive
    for repo, raw in pushes.items():
        enricher.enrich_event(client, "acme", repo, raw, built(raw))
    asked = [path for path in paths(requests_mock) if "/compare/" in path]
    assert [path.split("/")[3] for path in asked] == ["api", "web", "api"]  # web's answer was still kept
    assert enricher.counts.requests() == {"compare": 3}


@pytest.mark.parametrize(
    ("before", "head", "trimmed"),
    [("0" * 40, "b" * 40, True), ("a" * 40, "0" * 40, True), ("a" * 40, "b" * 40, False)],
    ids=["new-branch", "deleted-branch", "payload-has-commits"],
)
def test_no_compare_when_there_is_nothing_to_compare(
    requests_mock: requests_mock.Mocker, before: str, head: str, trimmed: bool
) -> None:
    raw = push_event(head=head, before=before, trimmed=trimmed, repo="acme/api")
    event = built(raw)
    assert Enricher().enrich_event(make_client(), "acme", "api", raw, event) == event
    assert requests_mock.call_count == 0


def test_compare_404_forwards_the_push_marked_details_missing(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(re.compile(f"{REPO}/compare/.*"), status_code=404, json={"message": "Not Found"})
    raw = push_event(head="b" * 40, before="a" * 40, repo="acme/api")
    enricher = Enricher()
    event = enricher.enrich_event(make_client(), "acme", "api", raw, built(raw))
    assert event.data["details_missing"] is True and event.title == "Push to main"
    assert enricher.counts.failures() == {"compare": 1}


def test_pull_request_requests_per_action(requests_mock: requests_mock.Mocker) -> None:
    review = {"user": {"login": "bob"}, "state": "APPROVED"}
    requests_mock.get(re.compile(f"{REPO}/pulls/\\d+/reviews"), json=[review, review])
    requests_mock.get(re.compile(f"{REPO}/pulls/\\d+/files"), json=[{"filename": "x.py"}])
    enricher, client = Enricher(), make_client()

    def enrich(raw: dict[str, Any]) -> PainChainEvent:
        return enricher.enrich_event(client, "acme", "api", raw, built(raw))

    closed = enrich(pull_request_event("closed", 3, repo="acme/api"))
    assert "reviewers" not in closed.data and requests_mock.call_count == 0
    opened = enrich(pull_request_event("opened", 1, repo="acme/api"))
    assert opened.data["files_changed"] == ["x.py"] and "reviewers" not in opened.data
    assert opened.data["details_missing"] is True  # no GET /pulls/1 answer was passed: sizes unknown
    raw = pull_request_event("opened", 1, repo="acme/api")
    full = {1: {**pull(1, repo="acme/api"), "additions": 4}}
    with_sizes = enricher.enrich_event(client, "acme", "api", raw, built(raw, full))
    assert with_sizes.data["details_missing"] is False and with_sizes.data["additions"] == 4
    merged = enrich(pull_request_event("merged", 1, repo="acme/api"))
    assert merged.data["reviewers"] == ["bob"] and merged.data["approvals"] == 2
    reviewed = enrich(review_event(1, repo="acme/api"))
    assert reviewed.data["approvals"] == 2 and "files_changed" not in reviewed.data
    # One request per endpoint and pull request for the whole run.
    assert sorted(paths(requests_mock)) == [
        "/repos/acme/api/pulls/1/files?per_page=100",
        "/repos/acme/api/pulls/1/reviews?per_page=100",
    ]
    assert enricher.counts.requests() == {"files": 1, "reviews": 1}


def test_jobs_only_for_failed_or_timed_out_runs(requests_mock: requests_mock.Mocker) -> None:
    job = {"name": "test", "conclusion": "failure", "html_url": "https://github.com/acme/api/runs/5", "steps": []}
    requests_mock.get(f"{REPO}/actions/runs/7/jobs", json={"total_count": 1, "jobs": [job]})
    enricher, client = Enricher(), make_client()
    base = {
        "id": 7,
        "name": "CI",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:01:00Z",
        "run_attempt": 1,
        "logs_url": f"{REPO}/actions/runs/7/logs",
    }
    for conclusion in ("success", "cancelled"):
        run = {**base, "status": "completed", "conclusion": conclusion}
        event = to_run_event(run, CTX)
        assert isinstance(event, PainChainEvent)
        assert enricher.enrich_run(client, "acme", "api", run, event) == event
    assert requests_mock.call_count == 0
    run = {**base, "status": "completed", "conclusion": "timed_out"}
    event = to_run_event(run, CTX)
    assert isinstance(event, PainChainEvent)
    enriched = enricher.enrich_run(client, "acme", "api", run, event)
    assert enriched.data["failed_jobs"][0]["name"] == "test"
    assert enriched.data["logs_url"] == f"{REPO}/actions/runs/7/logs"
    assert paths(requests_mock) == ["/repos/acme/api/actions/runs/7/jobs?filter=latest&per_page=100"]
    assert enricher.counts.requests() == {"jobs": 1}


def test_deadline_and_rate_limit_never_hold_an_event_back(requests_mock: requests_mock.Mocker) -> None:
    raw = push_event(head="b" * 40, before="a" * 40, repo="acme/api")
    expired = Enricher().enrich_event(make_client(runtime=0), "acme", "api", raw, built(raw))
    assert expired.data["details_missing"] is True
    stopped = TokenBudget("fp", reserve=0, max_concurrent=1)
    stopped.stop("token rate limit under the reserve")
    counts = RequestCounts()
    limited = Enricher(counts).enrich_event(make_client(budget=stopped), "acme", "api", raw, built(raw))
    assert limited.data["details_missing"] is True and counts.failures() == {"compare": 1}
    assert requests_mock.call_count == 0  # neither reached GitHub


def test_server_errors_mark_details_missing_for_every_kind(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(re.compile(f"{API}/.*"), status_code=502)
    enricher, client = Enricher(), make_client()
    raw = pull_request_event("merged", 9, repo="acme/api")
    assert enricher.pulls_for(client, "acme", "api", [raw]) == {}
    event = enricher.enrich_event(client, "acme", "api", raw, built(raw))
    assert event.data["details_missing"] is True and event.title == "Pull request merged: #9"
    run = {"id": 8, "created_at": "2026-01-01T00:00:00Z", "status": "completed", "conclusion": "failure"}
    run_event = to_run_event(run, CTX)
    assert isinstance(run_event, PainChainEvent)
    assert enricher.enrich_run(client, "acme", "api", run, run_event).data["details_missing"] is True
    # a merged pull request needs the full object, so the list is not asked for at all
    assert enricher.counts.failures() == {"pull": 1, "reviews": 1, "files": 1, "jobs": 1}


def test_threads_asking_for_the_same_object_at_once_share_one_request(requests_mock: requests_mock.Mocker) -> None:
    first_asked, release = threading.Event(), threading.Event()

    def slow_compare(request: Any, context: Any) -> dict[str, Any]:
        first_asked.set()
        release.wait(5)
        return {"total_commits": 2, "commits": []}

    compare = requests_mock.get(re.compile(f"{REPO}/compare/.*"), json=slow_compare)
    raw = push_event(before="a" * 40, head="b" * 40, repo="acme/api")
    enricher, client = Enricher(), make_client()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(enricher.enrich_event, client, "acme", "api", raw, built(raw)) for _ in range(4)]
        assert first_asked.wait(5)
        time.sleep(0.05)  # let the other three reach the cache and wait there
        release.set()
        titles = [future.result(timeout=5).title for future in futures]

    assert compare.call_count == 1
    assert titles == ["Push to main (2 commits)"] * 4
    assert enricher.counts.requests() == {"compare": 1}


@pytest.mark.parametrize(
    ("raw", "asked"),
    [
        (pull_request_event("opened", 3, repo="acme/api"), {"files": 1}),
        (pull_request_event("merged", 3, repo="acme/api"), {"files": 1, "reviews": 1}),
        (review_event(3, repo="acme/api"), {"reviews": 1}),
        (pull_request_event("closed", 3, repo="acme/api"), {}),  # merged or not: only the pull request says
        (pull_request_event("reopened", 3, repo="acme/api"), {}),
    ],
)
def test_pages_asked_early_are_exactly_those_the_event_needs_and_never_asked_twice(
    requests_mock: requests_mock.Mocker, raw: dict[str, Any], asked: dict[str, int]
) -> None:
    requests_mock.get(re.compile(f"{REPO}/pulls/3/(files|reviews)"), json=[])
    requests_mock.get(f"{REPO}/pulls/3", json=pull(3, "Three", repo="acme/api"))
    requests_mock.get(f"{REPO}/pulls", json=[pull(3, "Three", repo="acme/api")])
    enricher, client = Enricher(), make_client()

    enricher.prefetch_pages(client, "acme", "api", raw)
    early = enricher.counts.requests()
    pulls = enricher.pulls_for(client, "acme", "api", [raw])
    enricher.enrich_event(client, "acme", "api", raw, built(raw, pulls))

    assert early == asked
    later = {kind: n for kind, n in enricher.counts.requests().items() if kind not in ("pull", "pull_list")}
    assert later == asked  # enrich_event found them in the cache
