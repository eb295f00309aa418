"""What a run produced, per repository and in total: read by the summary, the metrics and the exit code.

These types sit beside the models so that output modules (logs, metrics) import no orchestrator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from painchain_gh.errors import ExitCode, PainChainError
from painchain_gh.github.client import TokenBudget
from painchain_gh.jobs import RepoJob
from painchain_gh.models import InvalidIntegration


class RepoStatus(str, Enum):
    """How one repository ended; the value is what logs and metrics print."""

    SYNCED = "synced"
    NOT_MODIFIED = "not_modified"
    NOT_DUE = "not_due"
    DEFERRED = "deferred"
    FAILED = "failed"
    GONE = "gone"  # its integration's listing no longer lists it (found in this run)

    def __str__(self) -> str:
        return self.value


QUIET = frozenset({RepoStatus.NOT_MODIFIED, RepoStatus.NOT_DUE, RepoStatus.GONE})  # nothing to tell at info level
UNFINISHED = frozenset({RepoStatus.FAILED, RepoStatus.DEFERRED})  # the repository needs another run


@dataclass
class RepoResult:
    """What happened to one repository in this run."""

    job: RepoJob
    status: RepoStatus = RepoStatus.SYNCED
    new: int = 0
    forwarded: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    error: str | None = None
    lasting: bool = False  # the failure needs a person (token refused, repository not found): see integration_status
    fatal: PainChainError | None = None  # the backend is down or refuses us: the whole run must stop
    warning: str | None = None
    gap: tuple[int, int] | None = None
    seconds: float = 0.0
    ignored_kinds: dict[str, int] = field(default_factory=dict)

    def count_ignored(self, reason: str) -> None:
        """One more item left out, for ``reason``."""
        self.ignored += 1
        self.ignored_kinds[reason] = self.ignored_kinds.get(reason, 0) + 1


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
    requests_by_kind: dict[str, int] = field(default_factory=dict)  # extra requests (enrichment, new streams)
    details_missing: dict[str, int] = field(default_factory=dict)  # failed extra lookups per kind
    details_skipped: dict[str, int] = field(default_factory=dict)  # first-sync history sent without lookups, per kind
    staleness: list[float] = field(default_factory=list)  # seconds since each repository was last polled
    never_polled: int = 0  # repositories not polled yet, ever (deferred or failed on their first run)
    discovered: list[str] = field(default_factory=list)  # ids of integrations whose listing was read
    dry_run: bool = False

    def count(self, status: RepoStatus) -> int:
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

    def staleness_stat(self, fraction: float) -> float:
        """The ``fraction`` percentile of :attr:`staleness` (1.0: the stalest repository); 0 when no
        repository was polled before (those never polled are counted in :attr:`never_polled`)."""
        return percentile(self.staleness, fraction) or 0.0

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
        if self.invalid or self.dead_lettered or any(result.status in UNFINISHED for result in self.results):
            return ExitCode.PARTIAL
        return ExitCode.OK


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` percentile (nearest rank) of ``values``, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]
