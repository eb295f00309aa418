"""The one-shot sync: jobs → poll each repository (on worker threads) → report.

Failures are contained where they belong, by their scope (see :mod:`painchain_gh.errors`):
a bad repository fails alone, a rejected token stops its integration, an exhausted token
waits for the next run, and only a backend that cannot be reached (or refuses our
credentials) or unusable state stops the whole run. An exception nobody expected fails the
repository it happened in, and the run goes on. State is saved in every case, and the report
turns what happened into an exit code.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from painchain_gh.cursor import Polled
from painchain_gh.discovery.tasks import DiscoveryPlan, ListingProgress, run_discovery
from painchain_gh.errors import ExitCode, FailureScope, GitHubNotFound, PainChainError
from painchain_gh.forward import Sink
from painchain_gh.github.client import GitHubClient, TokenBudget, TokenSource, token_fingerprint
from painchain_gh.github.credentials import credential_fingerprint
from painchain_gh.github.pacing import DEFAULT_POINTS, DEFAULT_WINDOW, Pacer
from painchain_gh.http import Deadline
from painchain_gh.jobs import RepoJob, interleave_by_token
from painchain_gh.models import Integration
from painchain_gh.results import RepoResult, RepoStatus, SyncReport
from painchain_gh.store.base import StateStore
from painchain_gh.store.deadletter import DeadLetterFile
from painchain_gh.streams.enrich import Enricher
from painchain_gh.streams.images import OwnerClaims
from painchain_gh.streams.poll import PollSettings, poll_repository
from painchain_gh.threads import SidePool
from painchain_gh.workers import JobQueue, run_in_threads

log = logging.getLogger("painchain_gh")

ClientFactory = Callable[[str, TokenSource, TokenBudget, str], GitHubClient]
"""(API base, token source, the credential's budget, cache scope: the tenant) -> a client."""
# What an integration authenticates with on an API: the fingerprint its budget, ETags and caches are
# keyed by, and its token source (a GitHub App's is keyed per installation, not per minted token).
CredentialsFor = Callable[[Integration, str], tuple[str, TokenSource]]


def token_credentials(integration: Integration, api_url: str) -> tuple[str, TokenSource]:
    """An integration's token (or none) and its fingerprint."""
    token = integration.config.token
    return token_fingerprint(token), token


def tenant_scope(tenant_id: str | None) -> str:
    """The cache scope of a tenant: its id, or ``""`` without one (never a valid tenant id)."""
    return tenant_id if tenant_id is not None else ""


NEVER_POLLED = Polled(-1, 0)  # sorts before every repository polled before
DEADLINE_GRACE = 5.0  # seconds worker threads get to finish after the deadline before the run returns
DEADLINE_MESSAGE = "the run's deadline (--max-runtime) was reached"
HELD_MESSAGE = (
    "the token is held by GitHub's secondary rate limit (its Retry-After) past the run's deadline; "
    "polled first next run"
)
BUDGET_MESSAGE = (
    "the token's request budget (--points-per-minute) has no room left before the run's deadline; polled first next run"
)
UNFINISHED_MESSAGE = "the run's deadline (--max-runtime) was reached while this repository was in progress"


@dataclass(frozen=True)
class Pace:
    """How fast each credential may send (see :mod:`painchain_gh.github.pacing`): ``points`` per ``window``
    seconds, or what an integration using it asks for (``pointsPerMinute``, the lowest wins); shards of
    one run share a credential's budget and its concurrency equally."""

    points: int = DEFAULT_POINTS
    window: float = DEFAULT_WINDOW
    shards: int = 1

    def points_for(self, asked: int | None) -> int:
        """This process's points per window for a credential an integration asks ``asked`` of (an ask can
        only lower the operator's budget, never raise it)."""
        wanted = self.points if asked is None else min(asked, self.points)
        return max(1, wanted // max(1, self.shards))


class SyncRun:
    """One run's shared state: clients per token, why the run stopped, which integrations stopped."""

    def __init__(
        self,
        *,
        store: StateStore,
        sink: Sink,
        client_factory: ClientFactory,
        settings: PollSettings,
        rate_limit_reserve: int,
        per_token_concurrency: int,
        dead_letters: DeadLetterFile | None,
        deadline_expired: Callable[[], bool],
        on_result: Callable[[RepoResult], None],
        now: int,
        side_workers: int = 1,
        credentials: CredentialsFor = token_credentials,
        pace: Pace | None = None,
        deadline: Deadline | None = None,
        asks: dict[str, int] | None = None,
    ) -> None:
        self.store = store
        self.sink = sink
        self.client_factory = client_factory
        self.settings = settings
        self.rate_limit_reserve = rate_limit_reserve
        self.per_token_concurrency = per_token_concurrency
        self.dead_letters = dead_letters
        self.deadline_expired = deadline_expired
        self.on_result = on_result
        self.now = now
        self.enricher = Enricher()  # extra requests (pull requests, compare, jobs, ...): cached per repository poll
        self.owners = OwnerClaims()  # container images: one repository per owner polls them
        self.side = SidePool(workers=side_workers, name="stream")  # a repository's streams, side by side
        self.credentials = credentials
        self.pace = pace
        self.deadline = deadline
        self.listings: ListingProgress | None = None  # the run's repository listings, when it reads any
        self.listing_share = 0.0
        self.asks = asks or {}  # the lowest pointsPerMinute of each credential's integrations, known up front
        self.budgets: dict[str, TokenBudget] = {}
        self.clients: dict[tuple[str, str, str], GitHubClient] = {}
        self.stop_reason: str | None = None
        self.stop_code = ExitCode.UPSTREAM
        self.integration_errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ranks = itertools.count()  # the order repositories start in: kept as their place (poll_rank)

    def client_for(self, job: RepoJob) -> GitHubClient:
        """The client of the job's integration and API (see :meth:`client_of`)."""
        return self.client_of(job.integration, job.api_url)

    def client_of(self, integration: Integration, api_url: str) -> GitHubClient:
        """The client of the job's tenant, API and credential (token or App installation).

        The budget is the credential's (GitHub limits a token, whoever uses it; only holders of the
        same secret share it); caches are the tenant's as well (the client's ``cache_scope``).
        """
        fingerprint, token = self.credentials(integration, api_url)
        scope = tenant_scope(integration.tenant_id)
        asked = lowest(integration.config.points_per_minute, self.asks.get(fingerprint))
        with self._lock:
            budget = self.budgets.get(fingerprint)
            if budget is None:
                pacer = None
                if self.pace is not None:
                    pacer = Pacer(self.pace.points_for(asked), self.pace.window)
                shards = self.pace.shards if self.pace is not None else 1
                budget = TokenBudget(
                    fingerprint,
                    reserve=self.rate_limit_reserve,
                    max_concurrent=max(1, self.per_token_concurrency // shards),
                    pacer=pacer,
                )
                self.budgets[fingerprint] = budget
            elif budget.pacer is not None and self.pace is not None and asked is not None:
                budget.pacer.tighten(self.pace.points_for(asked))  # the lowest ask of its integrations wins
            key = (scope, api_url, fingerprint)
            if key not in self.clients:
                self.clients[key] = self.client_factory(api_url, token, budget, scope)
            return self.clients[key]

    def keep_going(self) -> bool:
        """Whether new work may start: the run was not stopped and its deadline not reached."""
        return self.stop_reason is None and not self.deadline_expired()

    def stop(self, reason: str, code: ExitCode) -> None:
        """Stop the whole run (the first reason wins)."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason, self.stop_code = reason, code

    def work(self, job: RepoJob) -> RepoResult:
        """One job, reported through ``on_result``."""
        result = self.poll(job)
        self.on_result(result)
        return result

    def poll(self, job: RepoJob) -> RepoResult:
        """One repository, unless the run or its integration already stopped; never raises an Exception."""
        skipped = self.skipped(job)
        if skipped is not None:
            return skipped
        try:
            client = self.client_for(job)
            if self.deadline is not None and not client.budget.ready_before(self.deadline):
                held = client.budget.pacer is not None and client.budget.pacer.held()
                return RepoResult(job=job, status=RepoStatus.DEFERRED, error=HELD_MESSAGE if held else BUDGET_MESSAGE)
            try:
                result = poll_repository(
                    job,
                    rank=next(self._ranks),
                    client=client,
                    store=self.store,
                    sink=self.sink,
                    enricher=self.enricher,
                    owners=self.owners,
                    dead_letters=self.dead_letters,
                    settings=self.settings,
                    now=self.now,
                    keep_going=self.keep_going,
                    side=self.side,
                )
            finally:
                self.enricher.release(client, job.repository.owner, job.repository.repo)
        except PainChainError as error:
            return self.failed(job, error)
        except Exception as error:  # a bug must not take the other repositories down
            return self.crashed(job, error)
        if result.fatal is not None:
            self.stop(str(result.fatal), result.fatal.exit_code)
        return result

    def skipped(self, job: RepoJob) -> RepoResult | None:
        """The result of a job that must not start, or None when it may."""
        if self.stop_reason:
            return RepoResult(job=job, status=RepoStatus.DEFERRED, error=self.stop_reason)
        if self.deadline_expired():
            return RepoResult(job=job, status=RepoStatus.DEFERRED, error=DEADLINE_MESSAGE)
        integration_error = self.integration_errors.get(job.integration.id)
        if integration_error:
            return RepoResult(job=job, status=RepoStatus.FAILED, error=integration_error)
        return None

    def failed(self, job: RepoJob, error: PainChainError) -> RepoResult:
        """A known failure: contain it to its scope. A repository its integration's listing (read in this
        run) no longer lists answers 404 by nature: it is gone, not failed."""
        listings = self.listings
        if (
            isinstance(error, GitHubNotFound)
            and listings is not None
            and listings.is_gone(job.integration.id, job.repository.full_name, wait=self.listing_share)
        ):
            return RepoResult(job=job, status=RepoStatus.GONE)
        if error.scope is FailureScope.INTEGRATION:
            self.stop_integration(job, error)
        elif error.scope is FailureScope.RUN and error.fatal:
            self.stop(str(error), error.exit_code)
        # TOKEN: the token's budget already refuses every further request in this run.
        status = RepoStatus.DEFERRED if error.deferred else RepoStatus.FAILED
        return RepoResult(job=job, status=status, error=str(error), lasting=error.lasting)

    def stop_integration(self, job: RepoJob, error: PainChainError) -> None:
        """Skip the integration's remaining repositories; say so once."""
        message = f"{job.integration.label}: {error}; its repositories are skipped"
        with self._lock:
            first = job.integration.id not in self.integration_errors
            self.integration_errors.setdefault(job.integration.id, message)
        if first:
            log.error("%s", message, extra={"fields": {"event": "integration", "integration": job.integration.id}})

    def crashed(self, job: RepoJob, error: Exception) -> RepoResult:
        """An unexpected exception: this repository fails, with its traceback at debug level only."""
        first_line = (str(error).splitlines() or [""])[0]
        message = f"unexpected error: {type(error).__name__}" + (f": {first_line}" if first_line else "")
        log.error(
            "%s: %s", job.label, message, extra={"fields": {"event": "crash", "repository": job.repository.full_name}}
        )
        log.debug("%s: %s", job.label, "".join(traceback.format_exception(error)).rstrip())
        return RepoResult(job=job, status=RepoStatus.FAILED, error=message)

    def unfinished(self, job: RepoJob) -> RepoResult:
        """A job whose thread did not finish within the deadline's grace."""
        result = RepoResult(job=job, status=RepoStatus.DEFERRED, error=UNFINISHED_MESSAGE)
        self.on_result(result)
        return result

    def report(self, results: list[RepoResult], started: float) -> SyncReport:
        """The report of this run."""
        return SyncReport(
            results=results,
            fatal=self.stop_reason,
            fatal_code=self.stop_code,
            warnings=list(self.integration_errors.values()),
            budgets=list(self.budgets.values()),
            seconds=time.monotonic() - started,
            requests_by_kind=self.enricher.counts.requests(),
            details_missing=self.enricher.counts.failures(),
            details_skipped=self.enricher.counts.skipped(),
        )


POLLED = frozenset({RepoStatus.SYNCED, RepoStatus.NOT_MODIFIED})  # the repository was read in this run


def lowest(*asks: int | None) -> int | None:
    """The lowest of the points per minute asked (None: nobody asked)."""
    given = [ask for ask in asks if ask is not None]
    return min(given) if given else None


def lowest_asks(jobs: Iterable[RepoJob], *, credential: Callable[[RepoJob], str]) -> dict[str, int]:
    """The lowest ``pointsPerMinute`` the integrations of each credential ask for, by fingerprint: a
    credential's budget starts at it, before any job of the integration that asks is polled."""
    asks: dict[str, int] = {}
    for job in jobs:
        fingerprint = credential(job)
        ask = lowest(job.integration.config.points_per_minute, asks.get(fingerprint))
        if ask is not None:
            asks[fingerprint] = ask
    return asks


def order_jobs(
    jobs: Iterable[RepoJob], *, polled: Callable[[RepoJob], Polled | None], credential: Callable[[RepoJob], str]
) -> list[RepoJob]:
    """Jobs in the order they should be polled: the least recently polled first (never polled before
    all; those one run polled in the order it polled them), then round-robin across credentials, so
    that when a run cannot poll everything within its deadline and budget the stalest repositories go
    first, the next run carries on with the rest, and each repository keeps its place from then on."""
    stalest_first = sorted(jobs, key=lambda job: polled(job) or NEVER_POLLED)
    return interleave_by_token(stalest_first, credential)


def staleness(results: Iterable[RepoResult], polled_before: dict[str, Polled | None], *, now: float) -> list[float]:
    """Seconds since each repository was last polled, as the run leaves it: 0 for one polled now, the
    time since its previous poll for one not due, deferred or failed; none for one never polled."""
    ages: list[float] = []
    for result in results:
        if result.status in POLLED:
            ages.append(0.0)
            continue
        before = polled_before.get(result.job.key)
        if before is not None:
            ages.append(max(0.0, now - before.at))
    return ages


def run_sync(
    jobs: list[RepoJob],
    *,
    store: StateStore,
    sink: Sink,
    client_factory: ClientFactory,
    settings: PollSettings,
    concurrency: int,
    rate_limit_reserve: int,
    per_token_concurrency: int,
    dead_letters: DeadLetterFile | None,
    deadline_expired: Callable[[], bool],
    on_result: Callable[[RepoResult], None] = lambda result: None,
    clock: Callable[[], float] = time.time,
    grace: float = DEADLINE_GRACE,
    credentials: CredentialsFor = token_credentials,
    pace: Pace | None = None,
    deadline: Deadline | None = None,
    discovery: DiscoveryPlan | None = None,
) -> SyncReport:
    """Poll every job once (the stalest first) and return the report; state is committed per repository
    by the store. With ``discovery``, its listings are read beside the polling and the repositories they
    find are polled in the same run when time allows (see :mod:`painchain_gh.discovery.tasks`)."""
    started = time.monotonic()
    now = int(clock())

    def credential(job: RepoJob) -> str:
        return credential_fingerprint(job.integration, job.api_url)

    run = SyncRun(
        store=store,
        sink=sink,
        client_factory=client_factory,
        settings=settings,
        rate_limit_reserve=rate_limit_reserve,
        per_token_concurrency=per_token_concurrency,
        dead_letters=dead_letters,
        deadline_expired=deadline_expired,
        on_result=on_result,
        now=now,
        side_workers=concurrency * 2,  # runs and deployments of every repository, beside its events
        credentials=credentials,
        pace=pace,
        deadline=deadline,
        asks=lowest_asks(jobs, credential=credential),
    )
    polled_before = {job.key: store.polled(job.key) for job in jobs}
    ordered = order_jobs(
        jobs,
        polled=lambda job: polled_before[job.key],
        credential=credential,
    )
    queue = JobQueue(ordered, open_=discovery is not None)
    listings = None
    if discovery is not None:
        run.listings = ListingProgress(integration.id for integration in discovery.integrations)
        run.listing_share = discovery.share
        listings = run_discovery(
            discovery,
            queue=queue,
            client_of=run.client_of,
            store=store,
            now=now,
            stop=lambda: not run.keep_going(),
            counts=run.enricher.counts,
            progress=run.listings,
        )
    results = run_in_threads(
        run.work,
        queue,
        workers=concurrency,
        unfinished=run.unfinished,
        deadline_expired=deadline_expired,
        grace=grace,
    )
    outcome = listings() if listings is not None else None
    run.side.close()
    report = run.report(results, started)
    if outcome is not None:
        report.invalid = list(outcome.invalid)
        report.discovered = list(outcome.discovered)
    report.staleness = staleness(results, polled_before, now=clock())
    report.never_polled = sum(
        1
        for result in results
        if polled_before.get(result.job.key) is None
        and result.status not in (RepoStatus.SYNCED, RepoStatus.NOT_MODIFIED)
    )
    return report
