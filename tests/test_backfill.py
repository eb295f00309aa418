"""A repository's first sync: history older than ``--backfill-details`` costs only the list pages.

Pull request titles and authors come from ``GET /pulls?state=all&sort=updated`` (100 a page,
more pages only while a named pull request is missing); commits, files, reviews and failed jobs
are asked for recent events only, and once the repository has been synced, for every new one.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import requests_mock
from pydantic import SecretStr

from painchain_gh.results import RepoResult
from painchain_gh.streams.enrich import MAX_PULL_LIST_PAGES, Enricher
from painchain_gh.streams.images import OwnerClaims
from painchain_gh.streams.poll import PollSettings, details_since, poll_repository
from painchain_gh.threads import SidePool
from tests.doubles import API, TOKEN, ListSink, MemoryStore, client_for, integration, jobs_of, mock_repo, with_id
from tests.doubles import workflow_run as run_payload
from tests.fakes.github import pull, pull_request_event, push_event, utc_iso

REPO = f"{API}/repos/acme/api"
LIST = f"{REPO}/pulls?state=all&sort=updated&direction=desc&per_page=100"
JOB = jobs_of(integration("acme/api"))[0]
HOUR = 3600
OLD, RECENT = "1" * 40, "2" * 40


def poll(
    store: MemoryStore, sink: ListSink, enricher: Enricher, *, backfill: int = HOUR, side: SidePool | None = None
) -> RepoResult:
    settings = PollSettings(initial_lookback=86400, backfill_details=backfill, force=True)
    return poll_repository(
        JOB,
        client=client_for(SecretStr(TOKEN)),
        store=store,
        sink=sink,
        enricher=enricher,
        owners=OwnerClaims(),
        dead_letters=None,
        settings=settings,
        now=int(time.time()),
        keep_going=lambda: True,
        side=side,
    )


def history(mock: requests_mock.Mocker) -> dict[str, Any]:
    """Three hours ago: a push, PR #5 opened, a failed run; ten minutes ago: another push."""
    events = [
        with_id(push_event(before=RECENT, head="3" * 40, repo="acme/api"), 104, 600),
        with_id(pull_request_event("opened", 5, repo="acme/api"), 102, 3 * HOUR),
        with_id(push_event(before=OLD, head=RECENT, repo="acme/api"), 101, 3 * HOUR + 60),
    ]
    failed = run_payload(9001, 3 * HOUR, conclusion="failure")
    mock_repo(mock, events=events, runs=[failed])
    listed = [
        {**pull(5, "Retry the uploads", user="alice", repo="acme/api"), "updated_at": utc_iso(time.time() - HOUR)}
    ]
    return {
        "list": mock.get(LIST, json=listed),
        "pull": mock.get(f"{REPO}/pulls/5", json=pull(5, "Retry the uploads", repo="acme/api")),
        "files": mock.get(f"{REPO}/pulls/5/files?per_page=100", json=[]),
        "compare": mock.get(re.compile(f"{REPO}/compare/.*"), json={"total_commits": 2, "commits": []}),
        "jobs": mock.get(re.compile(f"{REPO}/actions/runs/9001/jobs.*"), json={"total_count": 0, "jobs": []}),
    }


def test_first_sync_history_older_than_the_window_asks_for_nothing_but_the_pull_list(
    requests_mock: requests_mock.Mocker,
) -> None:
    calls = history(requests_mock)
    sink, enricher = ListSink(), Enricher()

    result = poll(MemoryStore(), sink, enricher)

    assert result.forwarded == 4
    asked = {name: mock.call_count for name, mock in calls.items()}
    assert asked == {"list": 1, "pull": 0, "files": 0, "compare": 1, "jobs": 0}
    assert calls["compare"].last_request.path.endswith(f"/compare/{RECENT}...{'3' * 40}")
    by_title = {event.title: event.data for event in sink.events}
    assert by_title["Pull request opened: Retry the uploads"]["author"] == "alice"  # from the list
    assert by_title["Pull request opened: Retry the uploads"]["details_skipped"] is True
    assert by_title["Push to main"]["details_skipped"] is True  # the old push: no commit count
    assert "details_skipped" not in by_title["Push to main (2 commits)"]
    (run,) = [data for data in by_title.values() if data.get("event_type") == "workflow_run"]
    assert run["details_skipped"] is True and "failed_jobs" not in run
    assert enricher.counts.requests() == {"deployments": 1, "pull_list": 1, "compare": 1}
    assert enricher.counts.skipped() == {"push": 1, "pull_request": 1, "workflow_run": 1}


def test_a_wider_window_gives_the_whole_history_its_details(requests_mock: requests_mock.Mocker) -> None:
    calls = history(requests_mock)
    sink = ListSink()

    poll(MemoryStore(), sink, Enricher(), backfill=4 * HOUR)

    asked = {name: mock.call_count for name, mock in calls.items()}
    assert asked == {"list": 0, "pull": 1, "files": 1, "compare": 2, "jobs": 1}
    assert not any("details_skipped" in event.data for event in sink.events)


def test_after_the_first_sync_a_late_old_event_still_gets_its_details(requests_mock: requests_mock.Mocker) -> None:
    store = MemoryStore()
    new_branch = push_event(before="0" * 40, repo="acme/api")  # nothing to compare with
    mock_repo(requests_mock, events=[with_id(new_branch, 100, 60)])
    poll(store, ListSink(), Enricher())
    late = with_id(push_event(before=OLD, head=RECENT, repo="acme/api"), 101, 3 * HOUR)
    mock_repo(requests_mock, events=[late])
    compare = requests_mock.get(f"{REPO}/compare/{OLD}...{RECENT}", json={"total_commits": 1, "commits": []})
    sink = ListSink()

    poll(store, sink, Enricher())

    assert compare.call_count == 1 and sink.titles == ["Push to main (1 commit)"]


def test_details_since_applies_to_a_stream_without_a_floor_only() -> None:
    settings = PollSettings(initial_lookback=86400, backfill_details=600)
    assert details_since(None, now=10_000, settings=settings) == 9_400
    assert details_since(5_000, now=10_000, settings=settings) is None


def listing(numbers: range, *, updated_ago: float) -> list[dict[str, Any]]:
    when = utc_iso(time.time() - updated_ago)
    return [{**pull(n, f"PR {n}", repo="acme/api"), "updated_at": when} for n in numbers]


def page_url(number: int) -> str:
    return f"{LIST}&page={number}"


def next_link(number: int) -> dict[str, str]:
    return {"Link": f'<{page_url(number)}>; rel="next"'}


def closed_event(number: int, seconds_ago: float) -> dict[str, Any]:
    return with_id(pull_request_event("closed", number, repo="acme/api"), number, seconds_ago)


def test_the_list_is_read_a_page_further_only_while_a_named_pull_request_is_missing(
    requests_mock: requests_mock.Mocker,
) -> None:
    first = requests_mock.get(LIST, json=listing(range(300, 200, -1), updated_ago=60), headers=next_link(2))
    second = requests_mock.get(page_url(2), json=listing(range(200, 100, -1), updated_ago=120), headers=next_link(3))
    third = requests_mock.get(page_url(3), json=[])
    single = requests_mock.get(re.compile(f"{REPO}/pulls/\\d+$"), json={})
    enricher = Enricher()

    found = enricher.pulls_for(
        client_for(SecretStr(TOKEN)), "acme", "api", [closed_event(250, 600), closed_event(150, 600)]
    )

    assert sorted(found) == [150, 250] and found[150]["title"] == "PR 150"
    assert (first.call_count, second.call_count, third.call_count, single.call_count) == (1, 1, 0, 0)
    assert enricher.counts.requests() == {"pull_list": 2}


def test_the_list_stops_at_pull_requests_updated_before_every_event(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(LIST, json=listing(range(300, 200, -1), updated_ago=2 * HOUR), headers=next_link(2))
    second = requests_mock.get(page_url(2), json=[])
    single = requests_mock.get(f"{REPO}/pulls/7", json=pull(7, "Seven", repo="acme/api"))

    found = Enricher().pulls_for(client_for(SecretStr(TOKEN)), "acme", "api", [closed_event(7, HOUR)])

    assert found[7]["title"] == "Seven"  # not on a page that could hold it: asked for alone
    assert (second.call_count, single.call_count) == (0, 1)


def test_the_list_reads_at_most_three_pages_and_keeps_them_when_a_later_one_fails(
    requests_mock: requests_mock.Mocker,
) -> None:
    requests_mock.get(LIST, json=listing(range(400, 300, -1), updated_ago=60), headers=next_link(2))
    requests_mock.get(page_url(2), status_code=502, json={"message": "Server Error"})
    single = requests_mock.get(f"{REPO}/pulls/7", json=pull(7, "Seven", repo="acme/api"))
    enricher = Enricher()

    found = enricher.pulls_for(
        client_for(SecretStr(TOKEN)), "acme", "api", [closed_event(7, 600), closed_event(350, 600)]
    )

    assert (found[350]["title"], found[7]["title"]) == ("PR 350", "Seven")
    assert enricher.counts.failures() == {"pull_list": 1} and single.call_count == 1
    assert MAX_PULL_LIST_PAGES == 3


def test_the_list_never_reads_more_than_its_page_cap(requests_mock: requests_mock.Mocker) -> None:
    for number in range(1, MAX_PULL_LIST_PAGES + 2):
        url = LIST if number == 1 else page_url(number)
        base = 1000 - 100 * number
        requests_mock.get(url, json=listing(range(base + 100, base, -1), updated_ago=60), headers=next_link(number + 1))
    single = requests_mock.get(f"{REPO}/pulls/7", json=pull(7, "Seven", repo="acme/api"))
    enricher = Enricher()

    Enricher.pulls_for(enricher, client_for(SecretStr(TOKEN)), "acme", "api", [closed_event(7, 600)])

    assert enricher.counts.requests() == {"pull_list": MAX_PULL_LIST_PAGES, "pull": 1}
    assert single.call_count == 1


def test_with_a_side_pool_a_push_is_compared_while_the_pull_requests_are_read(
    requests_mock: requests_mock.Mocker,
) -> None:
    threads: dict[str, str] = {}  # what was asked -> the thread that asked (requests-mock serialises the answers)

    def answer(name: str, body: dict[str, Any]) -> Any:
        def reply(request: Any, context: Any) -> dict[str, Any]:
            threads[name] = threading.current_thread().name
            return body

        return reply

    events = [
        with_id(pull_request_event("opened", 5, repo="acme/api"), 102, 60),
        with_id(push_event(before=OLD, head=RECENT, repo="acme/api"), 101, 120),
    ]
    mock_repo(requests_mock, events=events)
    requests_mock.get(f"{REPO}/compare/{OLD}...{RECENT}", json=answer("compare", {"total_commits": 1, "commits": []}))
    requests_mock.get(f"{REPO}/pulls/5", json=answer("pull", pull(5, "Retry the uploads", repo="acme/api")))
    requests_mock.get(f"{REPO}/pulls/5/files?per_page=100", json=answer("files", {}))
    sink, enricher = ListSink(), Enricher()

    poll(MemoryStore(), sink, enricher, side=SidePool(workers=4, name="side"))

    me = threading.current_thread().name
    assert threads["pull"] == me  # the pull requests are read by the polling thread...
    assert threads["compare"].startswith("side-") and threads["files"].startswith("side-")  # ...the rest beside it
    assert sink.titles == ["Push to main (1 commit)", "Pull request opened: Retry the uploads"]
    assert enricher.counts.requests() == {"deployments": 1, "compare": 1, "pull": 1, "files": 1}
