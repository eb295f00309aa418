"""The one-shot sync: integrations → jobs → poll each repository (concurrently) → report.

Failures are contained where they belong: a bad repository fails alone, a rejected token
stops its integration, an exhausted token waits for the next run, and only a backend that
cannot be reached (or refuses our credentials) stops the whole run. State is saved in every
case, and the report turns what happened into an exit code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from painchain_gh.errors import (
    BackendAuthError,
    BackendError,
    BackendUnavailable,
    DeadlineReached,
    ExitCode,
    GitHubAuthError,
    GitHubError,
    GitHubRateLimited,
    StateError,
)
from painchain_gh.forward import Sink
from painchain_gh.github import GitHubClient, TokenBudget, token_fingerprint
from painchain_gh.jobs import RepoJob, interleave_by_token
from painchain_gh.models import InvalidIntegration
from painchain_gh.poll import PollSettings, PullCache, RepoResult, poll_repository
from painchain_gh.store.base import StateStore
from painchain_gh.store.deadletter import DeadLetterFile

log = logging.getLogger("painchain_gh")

ClientFactory = Callable[[str, SecretStr | None, TokenBudget], GitHubClient]


@dataclass
class SyncReport:
    """Everything a run did, for the summary, the metrics and the exit code."""

    results: list[RepoResult] = field(default_factory=list)
    invalid: list[InvalidIntegration] = field(default_factory=list)
    fatal: str | None = None
    fatal_code: ExitCode = ExitCode.UPSTREAM
    warnings: list[str] = field(default_factory=list)
    state_errors: list[str] = field(default_factory=list)
    budgets: list[TokenBudget] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many repositories ended with ``status``."""
        return sum(1 for result in self.results if result.status == status)

    @property
    def forwarded(self) -> int:
        """Events the backend acknowledged (or printed, in a dry run)."""
        return sum(result.forwarded for result in self.results)

    @property
    def dead_lettered(self) -> int:
        """Events the backend rejected for good, kept in the dead-letter file."""
        return sum(result.dead_lettered for result in self.results)

    @property
    def gaps(self) -> int:
        """Repositories whose Events API window did not reach back to what was already seen."""
        return sum(1 for result in self.results if result.gap)

    def exit_code(self) -> ExitCode:
        """OK, PARTIAL when anything was skipped, failed or dead-lettered, or the fatal code."""
        if self.fatal:
            return self.fatal_code
        if self.state_errors:
            return ExitCode.STATE
        if self.invalid or self.dead_lettered or self.count("failed") or self.count("deferred"):
            return ExitCode.PARTIAL
        return ExitCode.OK


@dataclass
class _RunControl:
    """Shared by the worker threads: why the run stopped, and which integrations must stop."""

    stop_reason: str | None = None
    stop_code: ExitCode = ExitCode.UPSTREAM
    integration_errors: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self, reason: str, code: ExitCode) -> None:
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason, self.stop_code = reason, code

    def stop_if_fatal(self, result: RepoResult) -> RepoResult:
        """Stop the run when the backend failed for good while this repository was forwarding."""
        if result.fatal is not None:
            self.stop(str(result.fatal), result.fatal.exit_code)
        return result


def run_in_threads(work: Callable[[RepoJob], RepoResult], jobs: list[RepoJob], *, workers: int) -> list[RepoResult]:
    """``work`` on every job with ``workers`` threads that take the next job as they finish one.

    Unlike ``ThreadPoolExecutor.map`` this creates no future per job, which matters with tens of
    thousands of repositories; results come back in the order of ``jobs``.
    """
    results: list[RepoResult | None] = [None] * len(jobs)
    next_index = iter(range(len(jobs)))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        while not failures:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            try:
                results[index] = work(jobs[index])
            except BaseException as error:  # an unexpected bug: stop and re-raise it in the caller
                failures.append(error)

    threads = [threading.Thread(target=worker, name=f"poll-{n}", daemon=True) for n in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [result for result in results if result is not None]


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
) -> SyncReport:
    """Poll every job once and return the report; state is committed per repository by the store."""
    started = time.monotonic()
    report = SyncReport()
    control = _RunControl()
    pulls = PullCache()
    budgets: dict[str, TokenBudget] = {}
    clients: dict[tuple[str, str], GitHubClient] = {}
    factory_lock = threading.Lock()
    now = int(clock())

    def client_for(job: RepoJob) -> GitHubClient:
        token = job.integration.config.token
        fingerprint = token_fingerprint(token)
        with factory_lock:
            budget = budgets.setdefault(
                fingerprint,
                TokenBudget(fingerprint, reserve=rate_limit_reserve, max_concurrent=per_token_concurrency),
            )
            key = (job.api_url, fingerprint)
            if key not in clients:
                clients[key] = client_factory(job.api_url, token, budget)
            return clients[key]

    def keep_going() -> bool:
        return control.stop_reason is None and not deadline_expired()

    def work(job: RepoJob) -> RepoResult:
        if control.stop_reason:
            return RepoResult(job=job, status="deferred", error=control.stop_reason)
        if deadline_expired():
            return RepoResult(job=job, status="deferred", error="the run's deadline (--max-runtime) was reached")
        integration_error = control.integration_errors.get(job.integration.id)
        if integration_error:
            return RepoResult(job=job, status="failed", error=integration_error)
        try:
            return control.stop_if_fatal(
                poll_repository(
                    job,
                    client=client_for(job),
                    store=store,
                    sink=sink,
                    pulls=pulls,
                    dead_letters=dead_letters,
                    settings=settings,
                    now=now,
                    keep_going=keep_going,
                )
            )
        except GitHubAuthError as error:
            message = f"{job.integration.label}: {error}; its repositories are skipped"
            with control.lock:
                first = job.integration.id not in control.integration_errors
                control.integration_errors.setdefault(job.integration.id, message)
            if first:
                log.error("%s", message, extra={"fields": {"event": "integration", "integration": job.integration.id}})
            return RepoResult(job=job, status="failed", error=str(error))
        except (GitHubRateLimited, DeadlineReached) as error:
            return RepoResult(job=job, status="deferred", error=str(error))
        except GitHubError as error:
            return RepoResult(job=job, status="failed", error=str(error))
        except (BackendUnavailable, BackendAuthError) as error:
            control.stop(str(error), error.exit_code)
            return RepoResult(job=job, status="deferred", error=str(error))
        except BackendError as error:
            return RepoResult(job=job, status="failed", error=str(error))
        except StateError as error:
            control.stop(str(error), error.exit_code)
            return RepoResult(job=job, status="failed", error=str(error))

    def work_and_report(job: RepoJob) -> RepoResult:
        result = work(job)
        on_result(result)
        return result

    report.results = run_in_threads(work_and_report, interleave_by_token(jobs), workers=concurrency)

    report.fatal, report.fatal_code = control.stop_reason, control.stop_code
    report.warnings.extend(control.integration_errors.values())
    report.budgets = list(budgets.values())
    report.seconds = time.monotonic() - started
    return report
