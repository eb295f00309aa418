"""One repository, once: fetch what is new, transform it, forward it oldest first, move the cursor.

Three streams per repository (Events API, workflow runs, deployments), each conditional on its
ETag, each read only when the integration wants its kinds (``config.events``). Events the
integration does not want are marked handled without any extra request; the others are
enriched (:class:`~painchain_gh.streams.enrich.Enricher`) before they go out.

The cursor only moves past events the sink acknowledged; ETags and the poll time are only
stored when the whole repository went through, so a 304 can never hide an event that was
not delivered. Container images are an owner-wide stream, polled by the first due repository
of each (integration, owner) in a run (:mod:`painchain_gh.streams.images`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from painchain_gh.cursor import (
    POLL_RANK_MAX,
    RepoState,
    is_changed_run,
    is_new_event,
    mark_event,
    remember_release,
    start_floor,
)
from painchain_gh.errors import GitHubAuthError, GitHubRepoError
from painchain_gh.forward import Outgoing, Sink, forward
from painchain_gh.github.client import GitHubClient
from painchain_gh.jobs import RepoJob
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.store.base import StateStore
from painchain_gh.store.deadletter import DeadLetterFile
from painchain_gh.streams import deployments
from painchain_gh.streams.deployments import DeploymentsFetched
from painchain_gh.streams.enrich import Enricher
from painchain_gh.streams.images import OwnerClaims, poll_images
from painchain_gh.streams.paging import Fetched, created_at, fetch_events, fetch_runs
from painchain_gh.streams.shipped import ShippedLookups
from painchain_gh.streams.sweep import deployments_in_progress, runs_in_progress, sweep_due
from painchain_gh.threads import SidePool
from painchain_gh.transform import PainChainEvent, RepoContext, Skip, run_state, to_event, to_run_event
from painchain_gh.transform.common import as_int
from painchain_gh.transform.events import Pulls, event_id, redundant_closes
from painchain_gh.transform.kinds import kind_of, kind_of_raw, wanted
from painchain_gh.transform.shipped import release_baselines

CLOSED_WITH_MERGED = "ignored:pull_request.closed_with_merged"
ENRICHED_TYPES = frozenset({"PushEvent", "PullRequestEvent", "PullRequestReviewEvent", "ReleaseEvent"})  # may ask more
T = TypeVar("T")
Kept = dict[str, tuple[Mapping[str, Any], int]]  # event id -> (raw Events API object, created at)
EVENTS_API_KINDS = ("push", "pull_request", "review", "issue", "release")


@dataclass(frozen=True)
class PollSettings:
    """How a repository is polled."""

    initial_lookback: int
    interval_tolerance: int = 5
    force: bool = False
    backfill_details: int = 3600
    sweep_interval: int = 900


def details_since(floor: int | None, *, now: int, settings: PollSettings) -> int | None:
    """Events created before this time get no extra requests: on a stream's first sync (no floor
    yet) its history older than ``--backfill-details`` goes out with what the list pages give.
    None once the stream has been synced: every new event gets its details."""
    return now - settings.backfill_details if floor is None else None


def is_due(state: RepoState, *, interval: int | None, now: int, settings: PollSettings) -> bool:
    """Whether the minimum interval (ours, or GitHub's X-Poll-Interval) has passed, with tolerance."""
    if settings.force or state.last_polled_at is None:
        return True
    wanted = max(interval or 0, state.poll_interval or 0)
    return now - state.last_polled_at >= wanted - settings.interval_tolerance


def wants(job: RepoJob, kind: str | None) -> bool:
    """Whether the job's integration wants events of ``kind`` (``config.events``)."""
    return wanted(kind, job.integration.config.events)


def poll_repository(
    job: RepoJob,
    *,
    rank: int = 0,
    client: GitHubClient,
    store: StateStore,
    sink: Sink,
    enricher: Enricher,
    owners: OwnerClaims,
    dead_letters: DeadLetterFile | None,
    settings: PollSettings,
    now: int,
    keep_going: Callable[[], bool],
    side: SidePool | None = None,
) -> RepoResult:
    """Poll one repository and forward what is new; ``rank`` is its place among the repositories this
    run polls, kept with the poll time. GitHub errors propagate to the caller; backend errors are
    reported in the result (``result.fatal`` when the whole run must stop)."""
    started = time.monotonic()
    result = RepoResult(job=job)
    state = store.get(job.key)
    if not is_due(state, interval=job.interval, now=now, settings=settings):
        result.status = RepoStatus.NOT_DUE
        return result
    events_since = details_since(state.events.floor, now=now, settings=settings)
    runs_since = details_since(state.runs.floor, now=now, settings=settings)
    deploys_since = details_since(state.deployments.floor, now=now, settings=settings)
    for cursor in (state.events, state.runs, state.deployments):
        cursor.floor = start_floor(cursor.floor, now=now, lookback=settings.initial_lookback)

    try:
        streams = _fetch(
            job,
            client,
            state,
            result,
            enricher=enricher,
            side=side,
            now=now,
            settings=settings,
            deploys_since=deploys_since,
        )
    except (GitHubAuthError, GitHubRepoError):
        if state.events.etag is not None:  # next run: the events alone first, until they answer again
            state.events.etag = None
            store.commit_repo(job.key, state)
        raise
    events, runs, deploys = streams.events, streams.runs, streams.deploys
    result.gap = events.gap
    ctx = _context(job)
    outgoing = _new_events(
        job,
        state,
        events.items,
        client=client,
        ctx=ctx,
        enricher=enricher,
        result=result,
        since=events_since,
        side=side,
    )
    outgoing += _changed_runs(
        job, state, runs.items, client=client, ctx=ctx, enricher=enricher, result=result, since=runs_since
    )
    events.items, runs.items = [], []  # the raw pages are transformed: let them go before forwarding
    outgoing += [Outgoing(item.event, item.key, item.created, stream="deployments") for item in deploys.items]
    for _ in range(deploys.ignored):
        result.count_ignored("malformed:deployment")
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
        _remember_poll(state, events, runs, fingerprint=client.budget.fingerprint, now=now, rank=rank)
        if streams.runs_read:
            state.runs.read_at = now
        if streams.deploys_read:
            deployments.settle(state.deployments, deploys, fingerprint=client.budget.fingerprint, now=now)
        quiet = events.not_modified and runs.not_modified and deploys.not_modified
        result.status = RepoStatus.NOT_MODIFIED if quiet else RepoStatus.SYNCED
    store.commit_repo(job.key, state)
    if sent and job.integration.config.container_images and wants(job, "image") and owners.claim(job):
        poll_images(
            job,
            client=client,
            store=store,
            sink=sink,
            enricher=enricher,
            dead_letters=dead_letters,
            result=result,
            settings=settings,
            now=now,
            keep_going=keep_going,
        )
    result.seconds = time.monotonic() - started
    return result


@dataclass
class Streams:
    """What one poll read of a repository's three streams (a stream not read counts as not modified)."""

    events: Fetched
    runs: Fetched
    deploys: DeploymentsFetched
    runs_read: bool = False
    deploys_read: bool = False


def _fetch(
    job: RepoJob,
    client: GitHubClient,
    state: RepoState,
    result: RepoResult,
    *,
    enricher: Enricher,
    side: SidePool | None,
    now: int,
    settings: PollSettings,
    deploys_since: int | None = None,
) -> Streams:
    """The wanted streams, each conditional on the ETag got with this token; one not wanted costs nothing.

    The events come first (a bad token or a missing repository then costs one request, not three).
    Workflow runs and deployments are read only when they can have changed (:mod:`painchain_gh.streams.sweep`):
    after activity in the events, while one is in progress, or at the sweep interval; when that is
    known before the events answer, all three go side by side on the ``side`` pool.
    """
    fingerprint = client.budget.fingerprint
    base = f"/repos/{job.repository.owner}/{job.repository.repo}"
    events_wanted = any(wants(job, kind) for kind in EVENTS_API_KINDS)
    runs_call = _runs_call(client, state, base, fingerprint) if wants(job, "workflow_run") else None
    deploys_call = _deployments_call(job, client, state, enricher, deploys_since) if wants(job, "deployment") else None
    interval = settings.sweep_interval
    runs_now = runs_call is not None and (
        not events_wanted
        or sweep_due(state.runs.read_at, key=job.key, now=now, interval=interval)
        or runs_in_progress(state.runs, now=now)
    )
    deploys_now = deploys_call is not None and (
        not events_wanted
        or sweep_due(state.deployments.read_at, key=job.key, now=now, interval=interval)
        or deployments_in_progress(state.deployments.in_progress, now=now)
    )
    known = state.events.etag is not None and state.events.etag_owner == fingerprint
    ahead = side if known else None  # streams sent before the events answer
    runs_later = ahead.submit(runs_call) if ahead and runs_call and runs_now else None
    deploys_later = ahead.submit(deploys_call) if ahead and deploys_call and deploys_now else None
    events = Fetched([], state.events.etag, True)
    if events_wanted:
        events = fetch_events(client, f"{base}/events", state.events, etag=state.events.etag if known else None)
    if not events.not_modified:  # activity: whatever was pushed or merged may have started runs and deployments
        runs_now, deploys_now = runs_call is not None, deploys_call is not None
    if side and deploys_call and deploys_now and not deploys_later and runs_now:  # the two side by side
        deploys_later = side.submit(deploys_call)
    streams = Streams(events, Fetched([], state.runs.etag, True), DeploymentsFetched(not_modified=True))
    runs_warning = deploys_warning = None
    if runs_call is not None and runs_now:
        streams.runs, runs_warning = runs_later.result() if runs_later else runs_call()
        streams.runs_read = True
    if deploys_call is not None and deploys_now:
        streams.deploys, deploys_warning = deploys_later.result() if deploys_later else deploys_call()
        streams.deploys_read = True
    result.warning = deploys_warning or runs_warning or result.warning
    return streams


def _runs_call(
    client: GitHubClient, state: RepoState, base: str, fingerprint: str
) -> Callable[[], tuple[Fetched, str | None]]:
    def call() -> tuple[Fetched, str | None]:
        etag = state.runs.etag if state.runs.etag_owner == fingerprint else None
        try:
            return fetch_runs(client, f"{base}/actions/runs", state.runs, etag=etag), None
        except GitHubRepoError as error:  # e.g. a fine-grained token without Actions: read; events still flow
            return Fetched([], state.runs.etag, True), f"workflow runs not readable: {error}"

    return call


def _deployments_call(
    job: RepoJob, client: GitHubClient, state: RepoState, enricher: Enricher, since: int | None
) -> Callable[[], tuple[DeploymentsFetched, str | None]]:
    def call() -> tuple[DeploymentsFetched, str | None]:
        cursor = state.deployments
        etag = cursor.etag if cursor.etag_owner == client.budget.fingerprint else None
        ctx = _context(job)
        shipped = ShippedLookups(enricher, client, ctx.owner, ctx.repo, repo_url=ctx.repo_url)
        try:
            fetched = deployments.fetch_deployments(
                client, ctx, cursor, etag=etag, counts=enricher.counts, shipped=shipped, details_since=since
            )
        except GitHubRepoError as error:  # e.g. a fine-grained token without Deployments: read
            return DeploymentsFetched(not_modified=True), f"deployments not readable: {error}"
        return fetched, fetched.warning

    return call


def _context(job: RepoJob) -> RepoContext:
    return RepoContext(
        owner=job.repository.owner,
        repo=job.repository.repo,
        integration_id=job.integration.id,
        tags=job.tags,
        web_url=job.web_url,
    )


def _remember_poll(state: RepoState, events: Fetched, runs: Fetched, *, fingerprint: str, now: int, rank: int) -> None:
    """Everything went through: keep the new ETags, GitHub's poll interval, the poll time and place."""
    if not events.not_modified:
        state.events.etag, state.events.etag_owner = events.etag, fingerprint
    if not runs.not_modified:
        state.runs.etag, state.runs.etag_owner = runs.etag, fingerprint
    if events.poll_interval is not None:
        state.poll_interval = events.poll_interval
    state.last_polled_at, state.poll_rank = now, min(rank, POLL_RANK_MAX)


def _new_events(
    job: RepoJob,
    state: RepoState,
    items: Iterable[Any],
    *,
    client: GitHubClient,
    ctx: RepoContext,
    enricher: Enricher,
    result: RepoResult,
    since: int | None = None,
    side: SidePool | None = None,
) -> list[Outgoing]:
    """Events not handled yet, transformed and enriched (those created before ``since``, if
    given, without extra requests); those left out (by type, or because the integration does
    not want their kind) are marked handled right away, without any request."""
    kept = _kept_events(job, state, items, result=result)
    owner, repo = job.repository.owner, job.repository.repo
    detailed = {id(raw) for raw, created in kept.values() if since is None or created >= since}
    # Each release is compared with the one before it: the state's, or an earlier one of this batch.
    bases, last_release = release_baselines(
        [raw for raw, _ in sorted(kept.values(), key=lambda item: item[1])], state.events.release_tag
    )
    if last_release != state.events.release_tag and last_release is not None:
        remember_release(state.events, last_release)
    enriched: list[tuple[Future[PainChainEvent], str, int]] = []

    def build_and_enrich(items: Iterable[tuple[str, tuple[Mapping[str, Any], int]]], details: Pulls) -> None:
        """Transform ``items``; start each one's enrichment (beside this thread when it may ask GitHub)."""
        for identifier, (raw, created) in items:
            built = to_event(raw, ctx, details)
            if not isinstance(built, Skip) and not wants(job, kind_of(built)):
                built = Skip(f"not_chosen:{kind_of(built)}")
            if isinstance(built, Skip):
                result.count_ignored(built.reason)
                mark_event(state.events, identifier, created)
                continue
            call = partial(
                enricher.enrich_event,
                client,
                owner,
                repo,
                raw,
                built,
                detailed=id(raw) in detailed,
                previous_tag=bases.get(id(raw)),
                web_url=job.web_url,
            )
            asks = id(raw) in detailed and raw.get("type") in ENRICHED_TYPES
            enriched.append((_start(call, side if asks else None), identifier, created))

    # Pushes need nothing from the pull requests: their compare lookups go out while those are
    # read, and so do the files and reviews that the events alone say they need.
    pushes = [item for item in kept.items() if item[1][0].get("type") == "PushEvent"]
    build_and_enrich(pushes, {})
    others = [item for item in kept.items() if item[1][0].get("type") != "PushEvent"]
    early = [
        side.submit(partial(enricher.prefetch_pages, client, owner, repo, raw))
        for _, (raw, _) in others
        if side is not None and id(raw) in detailed and raw.get("type") in ENRICHED_TYPES
    ]
    details = enricher.pulls_for(
        client, owner, repo, [raw for _, (raw, _) in others], detailed=lambda raw: id(raw) in detailed
    )
    build_and_enrich(others, details)
    for future in early:
        future.result()  # already in the cache; this only surfaces an unexpected error
    return [Outgoing(future.result(), identifier, created) for future, identifier, created in enriched]


def _kept_events(job: RepoJob, state: RepoState, items: Iterable[Any], *, result: RepoResult) -> Kept:
    """The new events worth transforming, by id, in page order; malformed ones are counted,
    redundant closes and kinds the integration does not want are marked handled."""
    fresh: Kept = {}
    for item in items:
        identifier = event_id(item) if isinstance(item, Mapping) else None
        created = created_at(item)
        if identifier is None or created is None:
            result.count_ignored("malformed")
            continue
        if identifier not in fresh and is_new_event(state.events, identifier, created):
            fresh[identifier] = (item, created)
    skip_ids = redundant_closes([raw for raw, _ in fresh.values()])
    kept: Kept = {}
    for identifier, (raw, created) in fresh.items():
        kind = kind_of_raw(raw)
        reason = CLOSED_WITH_MERGED if identifier in skip_ids else None
        if reason is None and kind is not None and not wants(job, kind):
            reason = f"not_chosen:{kind}"
        if reason is not None:
            result.count_ignored(reason)
            mark_event(state.events, identifier, created)  # handled: never looked at again
        else:
            kept[identifier] = (raw, created)
    return kept


def _start(call: Callable[[], T], side: SidePool | None) -> Future[T]:
    """``call`` on the side pool (its requests overlap the caller's), or right here without one."""
    if side is not None:
        return side.submit(call)
    done: Future[T] = Future()
    done.set_result(call())
    return done


def _changed_runs(
    job: RepoJob,
    state: RepoState,
    items: Iterable[Any],
    *,
    client: GitHubClient,
    ctx: RepoContext,
    enricher: Enricher,
    result: RepoResult,
    since: int | None = None,
) -> list[Outgoing]:
    """Runs that are new or changed state since last forwarded, transformed (failed ones with their
    jobs, unless created before ``since``)."""
    outgoing: list[Outgoing] = []
    seen: set[str] = set()
    for run in items:
        if not isinstance(run, Mapping):
            result.count_ignored("malformed")
            continue
        number, created = as_int(run.get("id")), created_at(run)
        identifier = str(number)
        if created is None or number is None or number < 0 or identifier in seen:
            continue
        seen.add(identifier)
        current = run_state(run)
        if not is_changed_run(state.runs, identifier, created, current):
            continue
        built = to_run_event(run, ctx)
        if isinstance(built, Skip):
            result.count_ignored(built.reason)
            continue
        detailed = since is None or created >= since
        built = enricher.enrich_run(client, job.repository.owner, job.repository.repo, run, built, detailed=detailed)
        outgoing.append(Outgoing(built, identifier, created, current))
    return outgoing
