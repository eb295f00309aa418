"""The one-shot sync: jobs → poll each repository (on worker threads) → report.

Failures are contained where they belong, by their scope (see :mod:`painchain_gh.errors`):
a bad repository fails alone, a rejected token stops its integration, an exhausted token
waits for the next run, and only a backend that cannot be reached (or refuses our
credentials) or unusable state stops the whole run. An exception nobody expected fails the
repository it happened in, and the run goes on. State is saved in every case, and the report
turns what happened into an exit code.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from painchain_gh.credentials import credential_fingerprint
from painchain_gh.enrich import Enricher
from painchain_gh.errors import ExitCode, FailureScope, PainChainError
from painchain_gh.forward import Sink
from painchain_gh.github import GitHubClient, TokenBudget, TokenSource, token_fingerprint
from painchain_gh.jobs import RepoJob, interleave_by_token
from painchain_gh.poll import PollSettings, poll_repository
from painchain_gh.poll_images import OwnerClaims
from painchain_gh.results import RepoResult, RepoStatus, SyncReport
from painchain_gh.store.base import StateStore
from painchain_gh.store.deadletter import DeadLetterFile
from painchain_gh.threads import SidePool

log = logging.getLogger("painchain_gh")

ClientFactory = Callable[[str, TokenSource, TokenBudget, str], GitHubClient]
"""(API base, token source, the credential's budget, cache scope: the tenant) -> a client."""
# What a job authenticates with: the fingerprint its budget, ETags and caches are keyed by, and
# its token source (a GitHub App's is keyed per installation, not per minted token).
CredentialsFor = Callable[[RepoJob], tuple[str, TokenSource]]


def token_credentials(job: RepoJob) -> tuple[str, TokenSource]:
    """A job's integration token (or none) and its fingerprint."""
    token = job.integration.config.token
    return token_fingerprint(token), token


def tenant_scope(tenant_id: str | None) -> str:
    """The cache scope of a tenant: its id, or ``""`` without one (never a valid tenant id)."""
    return tenant_id if tenant_id is not None else ""


DEADLINE_GRACE = 5.0  # seconds worker threads get to finish after the deadline before the run returns
WAIT_STEP = 0.1  # how often the waiting thread looks at the deadline
DEADLINE_MESSAGE = "the run's deadline (--max-runtime) was reached"
UNFINISHED_MESSAGE = "the run's deadline (--max-runtime) was reached while this repository was in progress"

Job = TypeVar("Job")
Result = TypeVar("Result")


class WorkerPool(Generic[Job, Result]):
    """Daemon threads that each take the next job as they finish one; results kept in job order."""

    def __init__(self, work: Callable[[Job], Result], jobs: Sequence[Job], *, workers: int) -> None:
        self.work = work
        self.jobs = jobs
        self.workers = max(1, workers)
        self.results: list[Result | None] = [None] * len(jobs)
        self.failures: list[BaseException] = []
        self.all_done = threading.Event()
        self._next_index = iter(range(len(jobs)))
        self._running = self.workers
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the threads (daemons: one stuck in I/O never keeps the process alive)."""
        for number in range(self.workers):
            threading.Thread(target=self.worker, name=f"poll-{number}", daemon=True).start()

    def worker(self) -> None:
        """One thread's loop: take a job, do it, until none is left or a job raised."""
        try:
            while not self.failures:
                with self._lock:
                    index = next(self._next_index, None)
                if index is None:
                    return
                try:
                    self.results[index] = self.work(self.jobs[index])
                except BaseException as error:  # a bug or Ctrl-C: stop and re-raise it in the caller
                    self.failures.append(error)
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self.all_done.set()

    def wait(self, *, deadline_expired: Callable[[], bool], grace: float) -> None:
        """Until every thread is done, or ``grace`` seconds after the deadline expired."""
        while not self.all_done.wait(WAIT_STEP):
            if deadline_expired():
                self.all_done.wait(grace)
                return


def run_in_threads(
    work: Callable[[Job], Result],
    jobs: Sequence[Job],
    *,
    workers: int,
    unfinished: Callable[[Job], Result],
    deadline_expired: Callable[[], bool] = lambda: False,
    grace: float = DEADLINE_GRACE,
) -> list[Result]:
    """``work`` on every job with ``workers`` daemon threads that take the next job as they finish one.

    Unlike ``ThreadPoolExecutor.map`` this creates no future per job, which matters with tens of
    thousands of repositories; results come back in the order of ``jobs``. Once the deadline has
    expired, threads get ``grace`` seconds more; jobs still unfinished then (a thread stuck in
    I/O) are reported by ``unfinished`` and left to their daemon thread. An exception escaping
    ``work`` stops the workers and is re-raised here.
    """
    pool = WorkerPool(work, jobs, workers=workers)
    pool.start()
    pool.wait(deadline_expired=deadline_expired, grace=grace)
    if pool.failures:
        raise pool.failures[0]
    return [result if result is not None else unfinished(job) for job, result in zip(jobs, pool.results, strict=True)]


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
        self.enricher = Enricher()  # extra requests (pull requests, compare, jobs, ...): cached per run
        self.owners = OwnerClaims()  # container images: one repository per owner polls them
        self.side = SidePool(workers=side_workers, name="stream")  # a repository's streams, side by side
        self.credentials = credentials
        self.budgets: dict[str, TokenBudget] = {}
        self.clients: dict[tuple[str, str, str], GitHubClient] = {}
        self.stop_reason: str | None = None
        self.stop_code = ExitCode.UPSTREAM
        self.integration_errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def client_for(self, job: RepoJob) -> GitHubClient:
        """The client of the job's tenant, API and credential (token or App installation).

        The budget is the credential's (GitHub limits a token, whoever uses it; only holders of the
        same secret share it); caches are the tenant's as well (the client's ``cache_scope``).
        """
        fingerprint, token = self.credentials(job)
        scope = tenant_scope(job.integration.tenant_id)
        with self._lock:
            budget = self.budgets.get(fingerprint)
            if budget is None:
                budget = TokenBudget(
                    fingerprint, reserve=self.rate_limit_reserve, max_concurrent=self.per_token_concurrency
                )
                self.budgets[fingerprint] = budget
            key = (scope, job.api_url, fingerprint)
            if key not in self.clients:
                self.clients[key] = self.client_factory(job.api_url, token, budget, scope)
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
            result = poll_repository(
                job,
                client=self.client_for(job),
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
        """A known failure: contain it to its scope."""
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
) -> SyncReport:
    """Poll every job once and return the report; state is committed per repository by the store."""
    started = time.monotonic()
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
        now=int(clock()),
        side_workers=concurrency * 2,  # runs and deployments of every repository, beside its events
        credentials=credentials,
    )
    results = run_in_threads(
        run.work,
        interleave_by_token(jobs, lambda job: credential_fingerprint(job.integration, job.api_url)),
        workers=concurrency,
        unfinished=run.unfinished,
        deadline_expired=deadline_expired,
        grace=grace,
    )
    run.side.close()
    return run.report(results, started)
