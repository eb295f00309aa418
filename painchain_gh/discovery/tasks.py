"""Discovery within a sync: which repositories App and ``owner/*`` integrations poll, side by side with polling.

For each integration that discovers (an App without repositories, or ``owner/*`` entries), the
repositories its stored listing already knows (the integration-wide state entry
``{tenant or -}/{id}/*/*``) are polled from the start of the run, like configured ones, while the
listing is read again beside them (:func:`discover_one`, within a share of the run's deadline, see
:mod:`painchain_gh.discovery.listing`): repositories that appear are handed over to be polled in the same run
(a first poll starts ``--initial-lookback`` ago), those that disappeared (known only once a pass reached
the last page) are reported once and no longer polled, and the state of those gone for 30 days is
deleted. The listing's progress is stored even when it did not finish, so a large organisation is
listed over several runs instead of never. A failure is contained to its integration: one line, and
the run's exit code 3.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import SecretStr, ValidationError

from painchain_gh.discovery.cache import DiscoveryCache
from painchain_gh.discovery.listing import (
    Discoverer,
    DiscoveryResult,
    OnRepositories,
    discover,
    discovered_repositories,
    prune_gone,
    with_repositories,
)
from painchain_gh.errors import GitHubAuthError, PainChainError
from painchain_gh.github.client import GitHubClient, TokenSource
from painchain_gh.jobs import RepoJob, state_key
from painchain_gh.models import Integration, InvalidIntegration, RepositoryConfig
from painchain_gh.store.base import StateStore
from painchain_gh.streams.enrich import RequestCounts
from painchain_gh.threads import SidePool
from painchain_gh.workers import JobQueue

log = logging.getLogger("painchain_gh")

DISCOVERY_ENTRY = "*/*"  # the repository part of an integration-wide state key
DISCOVERY_SHARE = 0.5  # of the run's --max-runtime, the most one integration's listing may take
_SHOWN = 10


def discovery_key(integration: Integration) -> str:
    """The state key holding an integration's discovery cache: ``{tenant or -}/{id}/*/*``."""
    return state_key(integration.tenant_id, integration.id, DISCOVERY_ENTRY)


def discovers(integration: Integration) -> bool:
    """Whether ``integration`` lists repositories (an App without repositories, or ``owner/*``)."""
    return integration.discovers_installation or bool(integration.wildcard_owners())


def stored_cache(integration: Integration, store: StateStore | None) -> DiscoveryCache | None:
    """The listing an integration's state keeps, if any (an unusable state counts as none)."""
    if store is None:
        return None
    try:
        return store.get(discovery_key(integration)).discovery
    except PainChainError:
        return None


def with_known_repositories(
    integrations: Iterable[Integration], store: StateStore | None, api_url_for: Callable[[Integration], str | None]
) -> list[Integration]:
    """Each integration, those that discover with the repositories their stored listing already knows
    (so that they are polled from the start of the run, before the listing is read again)."""
    known: list[Integration] = []
    for integration in integrations:
        api_url = api_url_for(integration) if discovers(integration) else None
        cache = stored_cache(integration, store) if api_url is not None else None
        if api_url is None or cache is None:
            known.append(integration)
            continue
        known.append(with_repositories(integration, discovered_repositories(integration, cache, api_url=api_url)))
    return known


@dataclass
class DiscoveryOutcome:
    """The integrations with their discovered repositories, and those that could not be listed."""

    integrations: list[Integration] = field(default_factory=list)
    invalid: list[InvalidIntegration] = field(default_factory=list)
    discovered: list[str] = field(default_factory=list)  # ids of integrations that listed repositories
    requests: int = 0
    not_modified: int = 0


def _names(names: list[str]) -> str:
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def discover_one(
    integration: Integration,
    *,
    client: GitHubClient,
    store: StateStore | None,
    now: float,
    write: bool,
    outcome: DiscoveryOutcome,
    stop: Callable[[], bool] = lambda: False,
    on_repositories: OnRepositories = lambda repositories: None,
    on_gone: Callable[[list[str]], None] = lambda names: None,
    counts: RequestCounts | None = None,
) -> Integration | None:
    """List one integration's repositories (see the module doc); the integration with them, or None
    when its listing failed for good (then ``outcome.invalid`` says why, in one plain line).

    ``write`` False reads the cache but neither stores it nor deletes state (shards other than the
    first, when shards share the backend's state, leave that to the first).
    """
    try:
        return _discover_one(
            integration,
            client=client,
            store=store,
            now=now,
            write=write,
            outcome=outcome,
            stop=stop,
            on_repositories=on_repositories,
            on_gone=on_gone,
            counts=counts,
        )
    except PainChainError as error:
        reason = f"repository discovery failed: {error}"
        # Refused credentials stop the integration; anything else leaves it polling what it knew.
        skipped = isinstance(error, GitHubAuthError)
    except ValidationError:  # a listing that does not fit what a cache may hold: refused, never a traceback
        reason = "repository discovery failed: the listing does not fit what painchain-gh keeps of it"
        skipped = False
    outcome.invalid.append(InvalidIntegration(integration.id, integration.name, reason, skipped=skipped))
    return None


def _discover_one(
    integration: Integration,
    *,
    client: GitHubClient,
    store: StateStore | None,
    now: float,
    write: bool,
    outcome: DiscoveryOutcome,
    stop: Callable[[], bool],
    on_repositories: OnRepositories,
    on_gone: Callable[[list[str]], None],
    counts: RequestCounts | None,
) -> Integration:
    key = discovery_key(integration)
    state = store.get(key) if store is not None else None
    before = state.discovery if state is not None else None
    result = discover(
        integration,
        client=client,
        cache=before,
        clock=lambda: now,
        stop=stop,
        on_repositories=on_repositories,
        counts=counts,
    )
    outcome.requests += result.requests
    outcome.not_modified += result.not_modified
    _report(integration, result, before)
    if result.diff.disappeared:
        on_gone(result.diff.disappeared)
    keep, expired = prune_gone(result.cache.gone, now)
    if write and store is not None and state is not None:
        for name in expired:
            store.forget(state_key(integration.tenant_id, integration.id, name))
        if expired:
            log.info("%s: state of %s deleted (gone for 30 days)", integration.label, _names(expired))
        cache = result.cache.model_copy(update={"gone": keep})
        if before is None or _comparable(cache) != _comparable(before):
            store.commit_repo(key, state.model_copy(update={"discovery": cache}))
    return with_repositories(integration, result.repositories)


def _report(integration: Integration, result: DiscoveryResult, before: DiscoveryCache | None) -> None:
    fields = {"event": "discovery", "integration": integration.id}
    log.debug(
        "%s: listing its repositories took %d GitHub requests (%d not modified)%s",
        integration.label,
        result.requests,
        result.not_modified,
        "" if result.complete else "; not finished: the next run carries on where it stopped",
        extra={"fields": {**fields, "requests": result.requests, "not_modified": result.not_modified}},
    )
    for problem in result.problems:
        log.warning("%s: %s", integration.label, problem, extra={"fields": {**fields, "problem": problem}})
    if before is not None and result.diff.appeared:
        log.info(
            "%s: %d repositories appeared (%s); first polled from --initial-lookback ago",
            integration.label,
            len(result.diff.appeared),
            _names(result.diff.appeared),
            extra={"fields": {**fields, "appeared": result.diff.appeared}},
        )
    elif before is None:
        log.info(
            "%s: %d repositories discovered%s",
            integration.label,
            len(result.cache.repositories()),
            "" if result.complete else " so far (the listing carries on next run)",
            extra={"fields": fields},
        )
    if result.diff.disappeared:
        log.warning(
            "%s: %d repositories no longer listed (%s); not polled any more, their state is deleted after 30 days",
            integration.label,
            len(result.diff.disappeared),
            _names(result.diff.disappeared),
            extra={"fields": {**fields, "disappeared": result.diff.disappeared}},
        )


def discover_integrations(
    integrations: list[Integration],
    *,
    discoverer: Discoverer,
    api_url_for: Callable[[Integration], str | None],
    token_for: Callable[[Integration, str], TokenSource],
    store: StateStore | None,
    now: float,
    write: bool = True,
) -> DiscoveryOutcome:
    """Every integration, those that discover with their whole listing read now, one after another
    (``check``, which wants the answer before it goes on; a sync lists beside its polling instead)."""
    outcome = DiscoveryOutcome()
    for integration in integrations:
        api_url = api_url_for(integration) if discovers(integration) else None
        if api_url is None:
            outcome.integrations.append(integration)
            continue
        try:
            source = token_for(integration, api_url)
        except PainChainError as error:
            reason = f"repository discovery failed: {error}"
            outcome.invalid.append(InvalidIntegration(integration.id, integration.name, reason))
            continue
        client = discoverer.client(api_url, _required(source))
        listed = discover_one(integration, client=client, store=store, now=now, write=write, outcome=outcome)
        if listed is not None:
            outcome.integrations.append(listed)
            outcome.discovered.append(integration.id)
    return outcome


def _required(source: TokenSource) -> Callable[[], SecretStr]:
    """A token source that refuses to list anonymously (``owner/*`` needs a credential)."""

    def token() -> SecretStr:
        value = source() if callable(source) else source
        if value is None:
            raise GitHubAuthError("listing an owner's repositories (owner/*) needs a token or a GitHub App")
        return value

    return token


def _comparable(cache: DiscoveryCache) -> dict[str, object]:
    """The cache without the times of listing: an unchanged listing is not written again."""
    return cache.model_dump(exclude={"sources": {"__all__": {"listed_at"}}})


class ListingProgress:
    """Which listings of a run are done, and what each found gone (thread-safe): a repository that a
    listing still being read may drop is not failed for a 404 before the listing has had its say."""

    def __init__(self, integration_ids: Iterable[str]) -> None:
        self._done = {integration_id: threading.Event() for integration_id in integration_ids}
        self._gone: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def finished(self, integration_id: str, gone: Iterable[str] = ()) -> None:
        """The listing of ``integration_id`` is over; ``gone`` are the repositories it no longer lists."""
        with self._lock:
            self._gone.setdefault(integration_id, set()).update(name.lower() for name in gone)
        event = self._done.get(integration_id)
        if event is not None:
            event.set()

    def is_gone(self, integration_id: str, full_name: str, *, wait: float) -> bool:
        """Whether the integration's listing found ``full_name`` gone, waiting up to ``wait`` seconds for a
        listing still being read (False when it is not listed in this run at all)."""
        event = self._done.get(integration_id)
        if event is None:
            return False
        event.wait(max(0.0, wait))
        with self._lock:
            return full_name.lower() in self._gone.get(integration_id, set())


@dataclass(frozen=True)
class DiscoveryPlan:
    """The listings a sync reads beside its polling, and how what they find becomes work."""

    integrations: list[Integration]  # those that list in this process (their API allowed)
    api_url_for: Callable[[Integration], str | None]
    jobs_for: Callable[[Integration, list[RepositoryConfig]], list[RepoJob]]  # new repositories -> this shard's jobs
    write: bool = True  # store the listings (shards sharing the backend's state leave it to the first)
    share: float = DISCOVERY_SHARE * 50.0  # seconds one listing may take (DISCOVERY_SHARE of --max-runtime)
    workers: int = 4  # listings read at once (the requests go through the same pace and slots as polling)


def run_discovery(
    plan: DiscoveryPlan,
    *,
    queue: JobQueue[RepoJob],
    client_of: Callable[[Integration, str], GitHubClient],
    store: StateStore,
    now: float,
    stop: Callable[[], bool],
    counts: RequestCounts,
    progress: ListingProgress,
) -> Callable[[], DiscoveryOutcome]:
    """Start every listing of ``plan`` on its own small pool, beside the workers polling ``queue``:
    repositories that appear are queued first (they were never polled), those gone are withdrawn, and
    the queue is closed once every listing is done. Returns a call that waits for them and gives the
    outcome (the caller's workers are done by then, or the deadline passed)."""
    listings = _Listings(plan, queue, client_of, store, now, stop, counts, progress)
    pool = SidePool(workers=max(1, min(plan.workers, len(plan.integrations))), name="discovery")
    if not plan.integrations:
        queue.close()
    futures = [pool.submit(functools.partial(listings.one, integration)) for integration in plan.integrations]

    def wait() -> DiscoveryOutcome:
        for future in futures:
            try:
                future.result(timeout=0 if stop() else None)
            except (TimeoutError, concurrent.futures.TimeoutError):
                continue  # still listing after the deadline: left to its daemon thread (bounded by it)
        pool.close()
        return listings.outcome()

    return wait


@dataclass
class _Listings:
    """What every listing of one run shares, and their outcome so far."""

    plan: DiscoveryPlan
    queue: JobQueue[RepoJob]
    client_of: Callable[[Integration, str], GitHubClient]
    store: StateStore
    now: float
    stop: Callable[[], bool]
    counts: RequestCounts
    progress: ListingProgress
    _outcome: DiscoveryOutcome = field(default_factory=DiscoveryOutcome)
    _left: int = -1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def outcome(self) -> DiscoveryOutcome:
        """What the listings found and which failed, so far."""
        with self._lock:
            return self._outcome

    def one(self, integration: Integration) -> None:
        """List one integration; the last listing to end closes the queue."""
        own = DiscoveryOutcome()
        try:
            self._list(integration, own)
        except Exception as error:  # a bug must not take the run down: this integration's listing fails
            reason = f"repository discovery failed: unexpected error: {type(error).__name__}"
            own.invalid.append(InvalidIntegration(integration.id, integration.name, reason, skipped=False))
        finally:
            self.progress.finished(integration.id)
            with self._lock:
                self._outcome.invalid += own.invalid
                self._outcome.discovered += own.discovered
                self._outcome.requests += own.requests
                self._outcome.not_modified += own.not_modified
                self._left = (len(self.plan.integrations) if self._left < 0 else self._left) - 1
                if self._left == 0:
                    self.queue.close()

    def _list(self, integration: Integration, outcome: DiscoveryOutcome) -> None:
        api_url = self.plan.api_url_for(integration)
        if api_url is None:
            return
        until = time.monotonic() + self.plan.share
        try:
            client = self.client_of(integration, api_url)
        except PainChainError as error:
            reason = f"repository discovery failed: {error}"
            skipped = isinstance(error, GitHubAuthError)  # refused credentials stop the integration
            outcome.invalid.append(InvalidIntegration(integration.id, integration.name, reason, skipped=skipped))
            return

        def gone(names: list[str]) -> None:
            self.progress.finished(integration.id, names)
            lowered = {name.lower() for name in names}
            self.queue.withdraw(
                lambda job: job.integration.id == integration.id and job.repository.full_name.lower() in lowered
            )

        listed = discover_one(
            integration,
            client=client,
            store=self.store,
            now=self.now,
            write=self.plan.write,
            outcome=outcome,
            stop=lambda: self.stop() or time.monotonic() >= until,
            on_repositories=lambda repositories: self.queue.add(
                self.plan.jobs_for(integration, repositories), front=True
            ),
            on_gone=gone,
            counts=self.counts,
        )
        if listed is not None:
            outcome.discovered.append(integration.id)
