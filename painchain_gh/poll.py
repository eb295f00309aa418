"""One repository, once: fetch what is new, transform it, forward it oldest first, move the cursor.

The cursor only moves past events the sink acknowledged; ETags and the poll time are only
stored when the whole repository went through, so a 304 can never hide an event that was
not delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from painchain_gh.cursor import RepoState, is_changed_run, is_new_event, mark_event, start_floor
from painchain_gh.errors import GitHubRepoError
from painchain_gh.forward import Outgoing, Sink, forward
from painchain_gh.github import GitHubClient
from painchain_gh.jobs import RepoJob
from painchain_gh.paging import Fetched, created_at, fetch_events, fetch_runs
from painchain_gh.pulls import PullCache
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.store.base import StateStore
from painchain_gh.store.deadletter import DeadLetterFile
from painchain_gh.transform import RepoContext, Skip, run_state, to_event, to_run_event
from painchain_gh.transform.events import event_id, needs_pull_details, pull_number, redundant_closes

CLOSED_WITH_MERGED = "ignored:pull_request.closed_with_merged"


@dataclass(frozen=True)
class PollSettings:
    """How a repository is polled."""

    initial_lookback: int
    interval_tolerance: int = 5
    force: bool = False


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
    backend errors are reported in the result (``result.fatal`` when the whole run must stop)."""
    started = time.monotonic()
    result = RepoResult(job=job)
    state = store.get(job.key)
    if not is_due(state, interval=job.interval, now=now, settings=settings):
        result.status = RepoStatus.NOT_DUE
        return result
    state.events.floor = start_floor(state.events.floor, now=now, lookback=settings.initial_lookback)
    state.runs.floor = start_floor(state.runs.floor, now=now, lookback=settings.initial_lookback)

    events, runs = _fetch(job, client, state, result)
    result.gap = events.gap
    ctx = RepoContext(
        owner=job.repository.owner,
        repo=job.repository.repo,
        integration_id=job.integration.id,
        tags=job.tags,
        web_url=job.web_url,
    )
    outgoing = _new_events(job, state, events.items, client=client, ctx=ctx, pulls=pulls, result=result)
    outgoing += _changed_runs(state, runs.items, ctx, result)
    outgoing.sort(key=lambda item: item.event.sort_key)
    result.new = len(outgoing)

    sent = forward(
        job,
        outgoing,
        state=state,
        store=store,
        sink=sink,
        dead_letters=dead_letters,
        result=result,
        keep_going=keep_going,
    )
    if sent:
        _remember_poll(state, events, runs, fingerprint=client.budget.fingerprint, now=now)
        result.status = RepoStatus.NOT_MODIFIED if events.not_modified and runs.not_modified else RepoStatus.SYNCED
    store.commit_repo(job.key, state)
    result.seconds = time.monotonic() - started
    return result


def _fetch(job: RepoJob, client: GitHubClient, state: RepoState, result: RepoResult) -> tuple[Fetched, Fetched]:
    """Both streams, each conditional on the ETag got with this token."""
    fingerprint = client.budget.fingerprint
    base = f"/repos/{job.repository.owner}/{job.repository.repo}"
    events_etag = state.events.etag if state.events.etag_owner == fingerprint else None
    events = fetch_events(client, f"{base}/events", state.events, etag=events_etag)
    try:
        runs_etag = state.runs.etag if state.runs.etag_owner == fingerprint else None
        runs = fetch_runs(client, f"{base}/actions/runs", state.runs, etag=runs_etag)
    except GitHubRepoError as error:  # e.g. a fine-grained token without Actions: read; events still flow
        runs = Fetched([], state.runs.etag, True)
        result.warning = f"workflow runs not readable: {error}"
    return events, runs


def _remember_poll(state: RepoState, events: Fetched, runs: Fetched, *, fingerprint: str, now: int) -> None:
    """Everything went through: keep the new ETags, GitHub's poll interval and the poll time."""
    if not events.not_modified:
        state.events.etag, state.events.etag_owner = events.etag, fingerprint
    if not runs.not_modified:
        state.runs.etag, state.runs.etag_owner = runs.etag, fingerprint
    if events.poll_interval is not None:
        state.poll_interval = events.poll_interval
    state.last_polled_at = now


def _new_events(
    job: RepoJob,
    state: RepoState,
    items: Iterable[Any],
    *,
    client: GitHubClient,
    ctx: RepoContext,
    pulls: PullCache,
    result: RepoResult,
) -> list[Outgoing]:
    """Events not handled yet, transformed; those left out are marked handled right away."""
    fresh: dict[str, tuple[Mapping[str, Any], int]] = {}
    for item in items:
        identifier = event_id(item) if isinstance(item, Mapping) else None
        created = created_at(item)
        if identifier is None or created is None:
            result.count_ignored("malformed")
            continue
        if identifier not in fresh and is_new_event(state.events, identifier, created):
            fresh[identifier] = (item, created)
    raws = [raw for raw, _ in fresh.values()]
    numbers = {n for raw in raws if needs_pull_details(raw) and (n := pull_number(raw)) is not None}
    details = pulls.details(client, job.repository.owner, job.repository.repo, numbers)
    skip_ids = redundant_closes(raws)
    outgoing: list[Outgoing] = []
    for identifier, (raw, created) in fresh.items():
        built = Skip(CLOSED_WITH_MERGED) if identifier in skip_ids else to_event(raw, ctx, details)
        if isinstance(built, Skip):
            result.count_ignored(built.reason)
            mark_event(state.events, identifier, created)  # handled: never looked at again
            continue
        outgoing.append(Outgoing(built, identifier, created))
    return outgoing


def _changed_runs(state: RepoState, items: Iterable[Any], ctx: RepoContext, result: RepoResult) -> list[Outgoing]:
    """Runs that are new or changed state since last forwarded, transformed."""
    outgoing: list[Outgoing] = []
    seen: set[str] = set()
    for run in items:
        if not isinstance(run, Mapping):
            result.count_ignored("malformed")
            continue
        identifier, created = str(run.get("id")), created_at(run)
        if created is None or identifier in seen or not identifier.isdigit():
            continue
        seen.add(identifier)
        current = run_state(run)
        if not is_changed_run(state.runs, identifier, created, current):
            continue
        built = to_run_event(run, ctx)
        if isinstance(built, Skip):
            result.count_ignored(built.reason)
            continue
        outgoing.append(Outgoing(built, identifier, created, current))
    return outgoing
