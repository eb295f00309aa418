"""One repository, once: fetch what is new, transform it, forward it oldest first, move the cursor.

The cursor only moves past events the sink acknowledged; ETags and the poll time are only
stored when the whole repository went through, so a 304 can never hide an event that was
not delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from painchain_gh.cursor import (
    RepoState,
    events_paging_bound,
    gap_span,
    is_changed_run,
    is_new_event,
    mark_event,
    mark_run,
    runs_paging_bound,
    start_floor,
)
from painchain_gh.errors import (
    BackendAuthError,
    BackendError,
    BackendRejected,
    BackendTemporaryError,
    BackendUnavailable,
    DeadlineReached,
    GitHubError,
    GitHubRepoError,
)
from painchain_gh.forward import Sink
from painchain_gh.github import GitHubClient
from painchain_gh.jobs import RepoJob
from painchain_gh.store.base import StateStore
from painchain_gh.store.deadletter import DeadLetter, DeadLetterFile
from painchain_gh.timeutil import format_time, parse_time
from painchain_gh.transform import PainChainEvent, RepoContext, Skip, run_state, to_event, to_run_event
from painchain_gh.transform.events import event_id, needs_pull_details, pull_number, redundant_closes

EVENTS_WINDOW_SIZE = 300  # GitHub keeps at most 300 events in a repository's timeline
MAX_EVENT_PAGES = 3
MAX_RUN_PAGES = 10


class PullCache:
    """Pull request details fetched in this run, per (API, token, repository, number)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str, int], Mapping[str, Any] | None] = {}
        self._lock = threading.Lock()

    def get(self, client: GitHubClient, owner: str, repo: str, number: int) -> Mapping[str, Any] | None:
        """The pull request ``number``, fetched at most once per run and token."""
        key = (client.api_url, client.budget.fingerprint, f"{owner}/{repo}".lower(), number)
        with self._lock:
            if key in self._items:
                return self._items[key]
        try:
            details = client.get_object(f"/repos/{owner}/{repo}/pulls/{number}")
        except (GitHubError, DeadlineReached):
            return None  # the event goes out with the number as its title, marked details_missing
        with self._lock:
            self._items[key] = details
        return details


@dataclass(frozen=True)
class PollSettings:
    """How a repository is polled."""

    initial_lookback: int
    interval_tolerance: int = 5
    force: bool = False


@dataclass
class RepoResult:
    """What happened to one repository in this run."""

    job: RepoJob
    status: str = "synced"  # synced | not_modified | not_due | deferred | failed
    new: int = 0
    forwarded: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    error: str | None = None
    fatal: BackendError | None = None  # the backend is down or refuses us: the whole run must stop
    warning: str | None = None
    gap: tuple[int, int] | None = None
    seconds: float = 0.0
    ignored_kinds: dict[str, int] = field(default_factory=dict)


@dataclass
class _Outgoing:
    event: PainChainEvent
    identifier: str
    created: int
    run_state: str | None = None  # None for Events API events


@dataclass
class _Fetched:
    items: list[Any]
    etag: str | None
    not_modified: bool
    poll_interval: int | None = None
    gap: tuple[int, int] | None = None


def is_due(state: RepoState, *, interval: int | None, now: int, settings: PollSettings) -> bool:
    """Whether the minimum interval (ours, or GitHub's X-Poll-Interval) has passed, with tolerance."""
    if settings.force or state.last_polled_at is None:
        return True
    wanted = max(interval or 0, state.poll_interval or 0)
    return now - state.last_polled_at >= wanted - settings.interval_tolerance


def poll_repository(
    job: RepoJob,
    *,
    client: GitHubClient,
    store: StateStore,
    sink: Sink,
    pulls: PullCache,
    dead_letters: DeadLetterFile | None,
    settings: PollSettings,
    now: int,
    keep_going: Callable[[], bool],
) -> RepoResult:
    """Poll one repository and forward what is new. GitHub errors propagate to the caller;
    backend errors for this repository are reported in the result, fatal ones propagate."""
    started = time.monotonic()
    result = RepoResult(job=job)
    state = store.get(job.key)
    if not is_due(state, interval=job.interval, now=now, settings=settings):
        result.status = "not_due"
        return result
    fingerprint = client.budget.fingerprint
    owner, repo = job.repository.owner, job.repository.repo
    state.events.floor = start_floor(state.events.floor, now=now, lookback=settings.initial_lookback)
    state.runs.floor = start_floor(state.runs.floor, now=now, lookback=settings.initial_lookback)

    events = _fetch_events(
        client,
        f"/repos/{owner}/{repo}/events",
        state,
        state.events.etag if state.events.etag_owner == fingerprint else None,
    )
    try:
        runs = _fetch_runs(
            client,
            f"/repos/{owner}/{repo}/actions/runs",
            state,
            state.runs.etag if state.runs.etag_owner == fingerprint else None,
        )
    except GitHubRepoError as error:  # e.g. a fine-grained token without Actions: read; events still flow
        runs = _Fetched([], state.runs.etag, True)
        result.warning = f"workflow runs not readable: {error}"
    result.gap = events.gap
    ctx = RepoContext(owner=owner, repo=repo, integration_id=job.integration.id, tags=job.tags, web_url=job.web_url)
    outgoing = _transform_events(
        job, client=client, state=state, items=events.items, ctx=ctx, pulls=pulls, result=result
    )
    outgoing += _transform_runs(job, state, runs.items, ctx, result)
    outgoing.sort(key=lambda item: item.event.sort_key)
    result.new = len(outgoing)

    complete = _forward(
        job,
        outgoing,
        state=state,
        store=store,
        sink=sink,
        dead_letters=dead_letters,
        result=result,
        keep_going=keep_going,
    )
    if complete:
        if not events.not_modified:
            state.events.etag, state.events.etag_owner = events.etag, fingerprint
        if not runs.not_modified:
            state.runs.etag, state.runs.etag_owner = runs.etag, fingerprint
        state.poll_interval = events.poll_interval if events.poll_interval is not None else state.poll_interval
        state.last_polled_at = now
        result.status = "not_modified" if events.not_modified and runs.not_modified else "synced"
    store.commit_repo(job.key, state)
    result.seconds = time.monotonic() - started
    return result


def _fetch_events(client: GitHubClient, path: str, state: RepoState, etag: str | None) -> _Fetched:
    """Events newer than the paging bound (newest first), or nothing on 304."""
    cursor = state.events
    bound = events_paging_bound(cursor)
    items: list[Any] = []
    new_etag, poll_interval, exhausted, reached_known = None, None, False, False
    for number, page in enumerate(client.iter_pages(path, etag=etag), start=1):
        if page.status == 304:
            return _Fetched([], etag, True, page.poll_interval)
        if number == 1:
            new_etag, poll_interval = page.etag, page.poll_interval
        if page.status == 422:  # past the 300 events GitHub keeps
            exhausted = True
            break
        items.extend(page.items)
        times = [t for t in (parse_time(_field(item, "created_at")) for item in page.items) if t is not None]
        reached_known = reached_known or any(event_id(item) in cursor.seen for item in page.items if _is_map(item))
        if not page.next_url or not page.items:
            exhausted = True
            break
        if (bound is not None and times and min(times) <= bound) or number >= MAX_EVENT_PAGES:
            exhausted = number >= MAX_EVENT_PAGES
            break
    gap = None
    if cursor.seen and len(items) >= EVENTS_WINDOW_SIZE:
        fetched_times = [t for t in (parse_time(_field(item, "created_at")) for item in items) if t is not None]
        gap = gap_span(
            bound=max(cursor.seen.values()),
            oldest_fetched=min(fetched_times, default=None),
            reached_known=reached_known,
            exhausted=exhausted,
        )
    return _Fetched(items, new_etag, False, poll_interval, gap)


def _fetch_runs(client: GitHubClient, path: str, state: RepoState, etag: str | None) -> _Fetched:
    """Runs created after the paging bound (and any still-open older ones), or nothing on 304."""
    bound = runs_paging_bound(state.runs)
    items: list[Any] = []
    new_etag = None
    for number, page in enumerate(client.iter_pages(path, etag=etag, list_key="workflow_runs"), start=1):
        if page.status == 304:
            return _Fetched([], etag, True)
        if number == 1:
            new_etag = page.etag
        items.extend(page.items)
        times = [t for t in (parse_time(_field(item, "created_at")) for item in page.items) if t is not None]
        if not page.next_url or not page.items or number >= MAX_RUN_PAGES:
            break
        if bound is not None and times and min(times) <= bound:
            break
    return _Fetched(items, new_etag, False)


def _transform_events(
    job: RepoJob,
    *,
    client: GitHubClient,
    state: RepoState,
    items: Iterable[Any],
    ctx: RepoContext,
    pulls: PullCache,
    result: RepoResult,
) -> list[_Outgoing]:
    fresh: dict[str, tuple[Mapping[str, Any], int]] = {}
    for item in items:
        identifier = event_id(item) if _is_map(item) else None
        created = parse_time(_field(item, "created_at"))
        if identifier is None or created is None:
            _count_ignored(result, "malformed")
            continue
        if identifier not in fresh and is_new_event(state.events, identifier, created):
            fresh[identifier] = (item, created)
    numbers = {n for raw, _ in fresh.values() if needs_pull_details(raw) and (n := pull_number(raw)) is not None}
    details = {
        n: d
        for n in sorted(numbers)
        if (d := pulls.get(client, job.repository.owner, job.repository.repo, n)) is not None
    }
    skip_ids = redundant_closes([raw for raw, _ in fresh.values()])
    outgoing: list[_Outgoing] = []
    for identifier, (raw, created) in fresh.items():
        built = (
            Skip("ignored:pull_request.closed_with_merged") if identifier in skip_ids else to_event(raw, ctx, details)
        )
        if isinstance(built, Skip):
            _count_ignored(result, built.reason)
            mark_event(state.events, identifier, created)  # handled: never looked at again
            continue
        outgoing.append(_Outgoing(built, identifier, created))
    return outgoing


def _transform_runs(
    job: RepoJob, state: RepoState, items: Iterable[Any], ctx: RepoContext, result: RepoResult
) -> list[_Outgoing]:
    outgoing: list[_Outgoing] = []
    seen: set[str] = set()
    for run in items:
        if not _is_map(run):
            _count_ignored(result, "malformed")
            continue
        identifier, created = str(run.get("id")), parse_time(run.get("created_at"))
        if created is None or identifier in seen or not identifier.isdigit():
            continue
        seen.add(identifier)
        current = run_state(run)
        if not is_changed_run(state.runs, identifier, created, current):
            continue
        built = to_run_event(run, ctx)
        if isinstance(built, Skip):
            _count_ignored(result, built.reason)
            continue
        outgoing.append(_Outgoing(built, identifier, created, current))
    return outgoing


def _acknowledge(store: StateStore, key: str, state: RepoState, item: _Outgoing) -> None:
    """Move the cursor past ``item``: in memory, and durably through the store."""
    if item.run_state is None:
        mark_event(state.events, item.identifier, item.created)
        store.record_event(key, item.identifier, item.created)
    else:
        mark_run(state.runs, item.identifier, item.created, item.run_state)
        store.record_run(key, item.identifier, item.created, item.run_state)


def _forward(
    job: RepoJob,
    outgoing: list[_Outgoing],
    *,
    state: RepoState,
    store: StateStore,
    sink: Sink,
    dead_letters: DeadLetterFile | None,
    result: RepoResult,
    keep_going: Callable[[], bool],
) -> bool:
    """Send oldest first; True when every event was acknowledged or dead-lettered."""
    tenant = job.integration.tenant_id
    for item in outgoing:
        if not keep_going():
            result.status, result.error = "deferred", "the run stopped before this repository was done"
            return False
        try:
            sink.send(item.event, tenant_id=tenant)
        except BackendRejected as rejection:
            if dead_letters is None:
                raise
            dead_letters.append(
                DeadLetter(
                    tenant_id=tenant,
                    status=rejection.status,
                    reason=str(rejection),
                    at=format_time(time.time()),
                    body=item.event.body(),
                )
            )
            result.dead_lettered += 1
        except BackendTemporaryError as error:
            result.status, result.error = "failed", str(error)
            return False
        except (BackendUnavailable, BackendAuthError) as error:  # keep what was forwarded in the result
            result.status, result.error, result.fatal = "deferred", str(error), error
            return False
        else:
            result.forwarded += 1
        _acknowledge(store, job.key, state, item)
    return True


def _count_ignored(result: RepoResult, reason: str) -> None:
    result.ignored += 1
    result.ignored_kinds[reason] = result.ignored_kinds.get(reason, 0) + 1


def _is_map(value: object) -> bool:
    return isinstance(value, Mapping)


def _field(value: object, name: str) -> object:
    return value.get(name) if isinstance(value, Mapping) else None
