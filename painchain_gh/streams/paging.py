"""How far to page through a repository's events and workflow runs, on top of ``GitHubClient.iter_pages``.

Pages come newest first. Reading stops at the cursor (the first page reaching the paging
bound, github-to-sqlite's ``stop_when``), at the end of the list (no next page, an empty page,
or the 422 GitHub answers past the 300 events it keeps), or at a page cap. A 304 on the first
page means nothing changed. For events, reading every page without reaching anything already
seen reveals a gap: GitHub no longer holds what happened in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from painchain_gh.cursor import EventsCursor, RunsCursor, events_paging_bound, gap_span, runs_paging_bound
from painchain_gh.github.client import GitHubClient, Page
from painchain_gh.timeutil import parse_time
from painchain_gh.transform.events import event_id

EVENTS_WINDOW_SIZE = 300  # GitHub keeps at most 300 events in a repository's timeline
MAX_EVENT_PAGES = 3
MAX_RUN_PAGES = 10


@dataclass
class PageWalk:
    """The pages read from one list endpoint, and why reading stopped."""

    items: list[Any]
    etag: str | None = None
    poll_interval: int | None = None
    not_modified: bool = False
    exhausted: bool = False  # every page GitHub offers was read (the end, its 422, or the page cap)


@dataclass
class Fetched:
    """What one stream of a repository holds that may be new (newest first)."""

    items: list[Any]
    etag: str | None
    not_modified: bool
    poll_interval: int | None = None
    gap: tuple[int, int] | None = None


def created_at(item: object) -> int | None:
    """An item's ``created_at`` in epoch seconds, or None when it has none (or is not an object)."""
    return parse_time(item.get("created_at")) if isinstance(item, Mapping) else None


def reaches(items: Iterable[Any], bound: int | None) -> bool:
    """Whether a page holds an item created at or before ``bound`` (the cursor)."""
    if bound is None:
        return False
    times = [t for t in map(created_at, items) if t is not None]
    return bool(times) and min(times) <= bound


def walk_pages(pages: Iterable[Page], *, max_pages: int, stop_at: int | None) -> PageWalk:
    """Read ``pages`` until the cursor ``stop_at`` is reached, the list ends, or ``max_pages``."""
    walk = PageWalk(items=[])
    for number, page in enumerate(pages, start=1):
        if page.status == 304:
            return PageWalk(items=[], etag=page.etag, poll_interval=page.poll_interval, not_modified=True)
        if number == 1:
            walk.etag, walk.poll_interval = page.etag, page.poll_interval
        if page.status == 422:  # past the 300 events GitHub keeps
            walk.exhausted = True
            break
        walk.items.extend(page.items)
        if not page.next_url or not page.items or number >= max_pages:
            walk.exhausted = True
            break
        if reaches(page.items, stop_at):
            break
    return walk


def fetch_events(client: GitHubClient, path: str, cursor: EventsCursor, *, etag: str | None) -> Fetched:
    """Events newer than the cursor's paging bound (newest first), or nothing on 304."""
    walk = walk_pages(
        client.iter_pages(path, etag=etag), max_pages=MAX_EVENT_PAGES, stop_at=events_paging_bound(cursor)
    )
    if walk.not_modified:
        return Fetched([], etag, True, walk.poll_interval)
    return Fetched(walk.items, walk.etag, False, walk.poll_interval, events_gap(cursor, walk))


def events_gap(cursor: EventsCursor, walk: PageWalk) -> tuple[int, int] | None:
    """The span the Events API window may have lost, when a full window did not reach the cursor."""
    if not cursor.seen or len(walk.items) < EVENTS_WINDOW_SIZE:
        return None
    reached_known = any(event_id(item) in cursor.seen for item in walk.items if isinstance(item, Mapping))
    return gap_span(
        bound=max(cursor.seen.values()),
        oldest_fetched=min((t for t in map(created_at, walk.items) if t is not None), default=None),
        reached_known=reached_known,
        exhausted=walk.exhausted,
    )


def fetch_runs(client: GitHubClient, path: str, cursor: RunsCursor, *, etag: str | None) -> Fetched:
    """Runs created after the cursor's paging bound (and any still-open older ones), or nothing on 304."""
    pages = client.iter_pages(path, etag=etag, list_key="workflow_runs")
    walk = walk_pages(pages, max_pages=MAX_RUN_PAGES, stop_at=runs_paging_bound(cursor))
    if walk.not_modified:
        return Fetched([], etag, True)
    return Fetched(walk.items, walk.etag, False)
