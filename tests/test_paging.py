"""Paging rules in isolation: where reading stops, and when the Events API window has a gap."""

from __future__ import annotations

import time
from typing import Any

import requests_mock

from painchain_gh.cursor import EventsCursor, RunsCursor
from painchain_gh.github.client import Page
from painchain_gh.streams.paging import MAX_EVENT_PAGES, MAX_RUN_PAGES, fetch_events, fetch_runs, reaches, walk_pages
from tests.doubles import API, client_for
from tests.fakes.github import utc_iso

NOW = int(time.time())


def items(*ages: int, start: int = 1000) -> list[dict[str, Any]]:
    return [{"id": str(start + n), "created_at": utc_iso(NOW - age)} for n, age in enumerate(ages)]


def page(*ages: int, more: bool = True, start: int = 1000) -> Page:
    return Page(status=200, items=items(*ages, start=start), etag="e", next_url="next" if more else None)


def test_walk_stops_at_the_page_reaching_the_cursor() -> None:
    walk = walk_pages([page(10, 20), page(30, 40), page(50)], max_pages=10, stop_at=NOW - 35)
    assert len(walk.items) == 4
    assert not walk.exhausted
    assert walk.etag == "e"


def test_walk_reads_to_the_end_the_422_or_the_cap() -> None:
    assert walk_pages([page(10), page(20, more=False)], max_pages=10, stop_at=None).exhausted
    ended = walk_pages([page(10), Page(status=422)], max_pages=10, stop_at=None)
    assert ended.exhausted and len(ended.items) == 1
    capped = walk_pages([page(n) for n in range(10)], max_pages=3, stop_at=None)
    assert capped.exhausted and len(capped.items) == 3
    assert walk_pages([Page(status=304, etag="old")], max_pages=3, stop_at=None).not_modified


def test_reaches_ignores_items_without_a_time() -> None:
    assert not reaches([{"id": "1"}, "junk"], NOW)
    assert not reaches(items(10), None)
    assert reaches(items(10), NOW)


def mock_pages(mocker: requests_mock.Mocker, path: str, pages: list[list[Any]], **first: Any) -> None:
    for number, body in enumerate(pages, start=1):
        url = f"{API}{path}?per_page=100" + (f"&page={number}" if number > 1 else "")
        link = f'<{API}{path}?per_page=100&page={number + 1}>; rel="next"' if number < len(pages) else None
        headers = {"Link": link} if link else {}
        mocker.get(url, json=body, headers={**headers, **(first if number == 1 else {})})


def test_a_full_window_that_never_reaches_the_known_events_is_a_gap(requests_mock: requests_mock.Mocker) -> None:
    pages = [items(*range(100 * n + 1, 100 * n + 101), start=5000 + 100 * n) for n in range(MAX_EVENT_PAGES)]
    mock_pages(requests_mock, "/repos/acme/api/events", pages, ETag='W/"e"')
    known = NOW - 100_000
    cursor = EventsCursor(floor=known - 10, seen={"1": known})

    fetched = fetch_events(client_for(), "/repos/acme/api/events", cursor, etag=None)

    assert len(fetched.items) == 300
    assert fetched.etag == 'W/"e"'
    assert fetched.gap == (known, NOW - 300)


def test_reaching_a_known_event_is_no_gap(requests_mock: requests_mock.Mocker) -> None:
    pages = [items(*range(100 * n + 1, 100 * n + 101), start=5000 + 100 * n) for n in range(MAX_EVENT_PAGES)]
    pages[-1][-1]["id"] = "1"
    mock_pages(requests_mock, "/repos/acme/api/events", pages)
    cursor = EventsCursor(floor=NOW - 100_010, seen={"1": NOW - 100_000})
    assert fetch_events(client_for(), "/repos/acme/api/events", cursor, etag=None).gap is None


def test_runs_stop_at_the_cap_and_keep_the_first_etag(requests_mock: requests_mock.Mocker) -> None:
    pages = [{"workflow_runs": items(n + 1, start=n)} for n in range(MAX_RUN_PAGES + 2)]
    mock_pages(requests_mock, "/repos/acme/api/actions/runs", pages, ETag='W/"r"')  # type: ignore[arg-type]
    fetched = fetch_runs(client_for(), "/repos/acme/api/actions/runs", RunsCursor(), etag=None)
    assert len(fetched.items) == MAX_RUN_PAGES
    assert fetched.etag == 'W/"r"'
    requests_mock.get(f"{API}/repos/acme/api/actions/runs?per_page=100", status_code=304)
    assert fetch_runs(client_for(), "/repos/acme/api/actions/runs", RunsCursor(), etag='W/"r"').not_modified
