"""Enrichment for what shipped, against requests-mock: releases compared with the previous one,
a failed push-triggered run's pull request, tag pushes, and what the run's cache keeps."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import requests_mock

from painchain_gh.streams.enrich import Enricher
from painchain_gh.streams.shipped import MAX_COMMIT_LOOKUPS, ShippedLookups
from painchain_gh.transform import PainChainEvent, to_event, to_run_event
from tests.fakes.github import push_event, release_event
from tests.fakes.shipped import commit, comparison, pull_answer, sha_of
from tests.test_enrich import CTX, REPO, built, make_client, paths

FIXTURES = Path(__file__).parent / "fixtures" / "github"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def enrich_release(
    enricher: Enricher, tag: str, previous: str | None, *, detailed: bool = True, prerelease: bool = False
) -> PainChainEvent:
    raw = {
        **release_event(tag, repo="acme/api", prerelease=prerelease),
        "id": "9",
        "created_at": "2026-01-01T00:00:00Z",
    }
    event = built(raw)
    return enricher.enrich_event(make_client(), "acme", "api", raw, event, detailed=detailed, previous_tag=previous)


def test_a_release_is_compared_with_the_previous_one_the_state_knows(requests_mock: requests_mock.Mocker) -> None:
    compare = load("compare_merge-and-squash-merges_2019.hub4j.json")
    requests_mock.get(f"{REPO}/compare/v1.0...v1.1", json=compare)
    requests_mock.get(re.compile(f"{REPO}/pulls/\\d+/reviews"), json=[])
    requests_mock.get(re.compile(f"{REPO}/commits/.*/pulls"), json=[])
    enricher = Enricher()

    event = enrich_release(enricher, "v1.1", "v1.0")

    assert event.data["previous_tag"] == "v1.0" and event.data["commit_count"] == 9
    assert event.data["pull_request_numbers"] == [537, 534, 533, 333, 325]
    assert event.data["diff_url"] == "https://github.com/acme/api/compare/v1.0...v1.1"  # tags are not shortened
    assert event.data["change_kinds"] == ["ci"] and "details_missing" not in event.data
    # One compare, the two direct commits looked up, reviews of the five newest pull requests.
    assert enricher.counts.requests() == {"release_compare": 1, "commit_pulls": 2, "reviews": 5}


def test_without_a_known_previous_release_the_list_names_it(requests_mock: requests_mock.Mocker) -> None:
    releases = load("releases_list_github-hub.hub4j.trimmed.json")
    requests_mock.get(f"{REPO}/releases?per_page=100", json=releases)
    requests_mock.get(f"{REPO}/compare/v2.12.7...v2.12.8", json=comparison([]))
    enricher = Enricher()

    event = enrich_release(enricher, "v2.12.8", None)

    assert event.data["previous_tag"] == "v2.12.7" and event.data["commit_count"] == 0
    assert enricher.counts.requests() == {"releases": 1, "release_compare": 1}


def test_the_first_release_and_history_ask_nothing_more(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{REPO}/releases?per_page=100", json=[])
    first = enrich_release(Enricher(), "v0.1", None)
    assert first.data["previous_tag"] is None and first.data["change_kinds"] == []
    old = Enricher()
    skipped = enrich_release(old, "v0.2", "v0.1", detailed=False)
    assert skipped.data["details_skipped"] is True and old.counts.skipped() == {"release": 1}
    assert requests_mock.call_count == 1


def test_an_unreadable_release_list_marks_the_release(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{REPO}/releases?per_page=100", status_code=502)
    event = enrich_release(Enricher(), "v3", None)
    assert event.data["details_missing"] is True and event.title == "Release published: v3"


def failed_push_run(**extra: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "name": "CI",
        "event": "push",
        "head_sha": sha_of("head"),
        "status": "completed",
        "conclusion": "failure",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:01:00Z",
        **extra,
    }


def test_a_failed_push_run_links_the_pull_request_its_commit_came_from(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{REPO}/actions/runs/7/jobs", json={"total_count": 0, "jobs": []})
    answer = [pull_answer(12, "Fix login redirect", "alice", head_sha=sha_of("branch"))]
    requests_mock.get(f"{REPO}/commits/{sha_of('head')}/pulls?per_page=100", json=answer)
    enricher, client = Enricher(), make_client()
    runs = [failed_push_run(), {**failed_push_run(), "id": 8, "name": "Lint"}]
    requests_mock.get(f"{REPO}/actions/runs/8/jobs", json={"total_count": 0, "jobs": []})

    enriched = []
    for run in runs:
        event = to_run_event(run, CTX)
        assert isinstance(event, PainChainEvent)
        enriched.append(enricher.enrich_run(client, "acme", "api", run, event))

    assert [e.data["pull_requests"] for e in enriched] == [["#12 Fix login redirect (alice)"]] * 2
    assert [e.data["pull_request_numbers"] for e in enriched] == [[12], [12]]
    assert enricher.counts.requests() == {"jobs": 2, "commit_pulls": 1}  # two runs of one push share it


def test_a_run_whose_head_commit_names_its_pull_request_asks_nothing(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(f"{REPO}/actions/runs/7/jobs", json={"total_count": 0, "jobs": []})
    run = failed_push_run(head_commit={"message": "Fix login redirect (#12)", "author": {"name": "Alice"}})
    event = to_run_event(run, CTX)
    assert isinstance(event, PainChainEvent)
    enriched = Enricher().enrich_run(make_client(), "acme", "api", run, event)
    assert enriched.data["pull_requests"] == ["#12 Fix login redirect"]
    assert paths(requests_mock) == ["/repos/acme/api/actions/runs/7/jobs?filter=latest&per_page=100"]


def test_tag_pushes_and_deletions_say_no_commit_count(requests_mock: requests_mock.Mocker) -> None:
    recorded = load("event_PushEvent_pre-2025_2020-11-23.octocrab.json")
    tag = {**recorded, "payload": {**recorded["payload"], "ref": "refs/tags/v1.4.0", "size": 0, "commits": []}}
    pushed = to_event(tag, CTX)
    assert isinstance(pushed, PainChainEvent)
    assert pushed.title == "Tag pushed: v1.4.0" and "commit_count" not in pushed.data
    trimmed = {**push_event(ref="refs/tags/v1.4.0", repo="acme/api"), "id": "5", "created_at": "2026-01-01T00:00:00Z"}
    event = built(trimmed)
    enriched = Enricher().enrich_event(make_client(), "acme", "api", trimmed, event)
    assert enriched.title == "Tag pushed: v1.4.0" and requests_mock.call_count == 0
    deleted = {**trimmed, "payload": {**trimmed["payload"], "head": "0" * 40}}
    assert built(deleted).title == "Tag deleted: v1.4.0"


def test_commit_lookups_are_capped_per_comparison_newest_first(requests_mock: requests_mock.Mocker) -> None:
    commits = [commit(f"d{n}", f"Direct change {n}", parents=[f"d{n - 1}"]) for n in range(1, 7)]
    requests_mock.get(f"{REPO}/compare/a...b", json=comparison(commits))
    lookups = requests_mock.get(re.compile(f"{REPO}/commits/.*/pulls"), json=[])
    shipped = ShippedLookups(Enricher(), make_client(), "acme", "api", repo_url="https://github.com/acme/api")

    found = shipped.shipped("a", "b", kind="deploy_compare", event_type="deployment", ref="main")

    assert found.fields["commit_count"] == 6 and found.fields["pull_requests"] == []
    asked = [re.sub(r".*/commits/(\w+)/pulls.*", r"\1", r.url) for r in lookups.request_history]
    assert asked == [sha_of(f"d{n}") for n in (6, 5, 4)] and len(asked) == MAX_COMMIT_LOOKUPS


def test_the_cache_keeps_only_what_the_transforms_read(requests_mock: requests_mock.Mocker) -> None:
    compare = load("compare_merge-and-squash-merges_2019.hub4j.json")
    before, head = "e46a9f3f2ac55db96de3c5c4706f2813b3a96465", "8051615eff597f4e49f4f47625e6fc2b49f26bfc"
    requests_mock.get(f"{REPO}/compare/{before}...{head}", json=compare)
    enricher = Enricher()
    raw = {**push_event(before=before, head=head, repo="acme/api"), "id": "3", "created_at": "2026-01-01T00:00:00Z"}
    enriched = enricher.enrich_event(make_client(), "acme", "api", raw, built(raw))

    cached: dict[str, Any] | None = enricher.once(
        make_client(), ("compare", "acme", "api", before, head), "compare", dict
    )
    assert cached is not None and requests_mock.call_count == 1  # still cached: not asked again
    kept, whole = len(json.dumps(cached)), len(json.dumps(compare))
    assert kept * 4 < whole  # no patches, URLs or avatars
    assert set(cached["commits"][0]) == {"sha", "parents", "author", "commit"}
    assert enriched.data["commit_count"] == 9 and enriched.data["files_changed"][0] == ".github/workflows/maven.yml"
    assert enriched.data["pull_request_numbers"] == [537, 534, 533, 333, 325]  # from the messages, no request
    assert enriched.data["change_kinds"] == ["ci"]
