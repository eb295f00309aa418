"""The exceptions painchain-gh raises on purpose, their scope, and the exit codes they map to.

A failure knows how far it reaches (its :class:`FailureScope`), so the sync looks the scope up
instead of catching each class in turn. ``deferred`` failures leave the repository for the next
run rather than failing it.

PainChainError                 a known failure: one line, no traceback         scope
├── DeadlineReached            --max-runtime ran out; the rest waits            RUN (deferred, not fatal)
├── UsageError                 bad flags or environment            -> CONFIG (2)   RUN
├── StateError                 unreadable or unwritable state      -> STATE (6)    RUN
│   └── LockHeldError          another sync holds the lock         -> LOCKED (5)   RUN
├── UnstorableState            one repository's cursor fails the checks  -> PARTIAL (3) REPOSITORY
├── BackendError               the PainChain backend failed                     REPOSITORY
│   ├── BackendUnavailable     unreachable after retries           -> UPSTREAM (4) RUN (deferred)
│   ├── BackendAuthError       401/403 from the backend            -> UPSTREAM (4) RUN (deferred)
│   ├── BackendTemporaryError  5xx/408/429 after retries                        REPOSITORY
│   └── BackendRejected        a permanent 4xx for one request                  REPOSITORY
└── GitHubError                GitHub failed for one repository or token        REPOSITORY
    ├── GitHubAuthError        401: the token is bad; stop its integration      INTEGRATION
    ├── GitHubRepoError        403/404/422 for one repository                   REPOSITORY
    │   └── GitHubNotFound     404/410: not there, or not visible to this credential  REPOSITORY
    ├── GitHubRateLimited      primary or secondary limit; stop the token       TOKEN (deferred)
    └── GitHubTemporaryError   5xx or connection errors after retries           REPOSITORY
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """Documented exit codes of every command (see README, "Exit codes")."""

    OK = 0
    INTERNAL = 1
    CONFIG = 2
    PARTIAL = 3
    UPSTREAM = 4
    LOCKED = 5
    STATE = 6
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class FailureScope(Enum):
    """How much of a run a failure stops."""

    REPOSITORY = "repository"  # this repository only
    INTEGRATION = "integration"  # every repository of the integration (its token is bad)
    TOKEN = "token"  # noqa: S105 - not a secret: every repository polled with the token, for this run
    RUN = "run"  # the whole run


class PainChainError(Exception):
    """A known failure. Its message is one line and never contains a secret."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL
    scope: ClassVar[FailureScope] = FailureScope.RUN
    deferred: ClassVar[bool] = False  # the repository waits for the next run instead of failing
    fatal: ClassVar[bool] = True  # a RUN failure ends the run with this error's exit code
    lasting: ClassVar[bool] = False  # only a person can fix it: the integration's status becomes "error"


class DeadlineReached(PainChainError):
    """The run's deadline (``--max-runtime``) was reached before this work could start."""

    exit_code = ExitCode.PARTIAL
    deferred = True
    fatal = False  # the deadline stops the run by itself; what is left is deferred, not an error


class UsageError(PainChainError):
    """Bad command-line flags or environment variables."""

    exit_code = ExitCode.CONFIG


class StateError(PainChainError):
    """The state file is corrupt, truncated, from a future version or not writable."""

    exit_code = ExitCode.STATE


class LockHeldError(StateError):
    """Another sync holds the lock on the same state."""

    exit_code = ExitCode.LOCKED


class UnstorableState(PainChainError):
    """A value this run would store for one repository would not pass the checks it must pass when read
    back: it is not stored, and the repository fails alone (the state of every other one stays usable)."""

    exit_code = ExitCode.PARTIAL
    scope = FailureScope.REPOSITORY


class BackendError(PainChainError):
    """The PainChain backend failed."""

    exit_code = ExitCode.UPSTREAM
    scope = FailureScope.REPOSITORY


class BackendUnavailable(BackendError):
    """The backend could not be reached (refused, timed out) after retries."""

    scope = FailureScope.RUN
    deferred = True


class BackendAuthError(BackendError):
    """The backend answered 401 or 403: the run cannot go on."""

    scope = FailureScope.RUN
    deferred = True


class BackendTemporaryError(BackendError):
    """The backend kept answering 5xx, 408 or 429 after retries."""


class BackendRejected(BackendError):
    """The backend answered a permanent 4xx: this request will never be accepted as it is."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class GitHubError(PainChainError):
    """GitHub failed for one repository or token."""

    exit_code = ExitCode.PARTIAL
    scope = FailureScope.REPOSITORY


class GitHubAuthError(GitHubError):
    """401 Bad credentials: the integration's token is invalid or expired."""

    scope = FailureScope.INTEGRATION
    lasting = True


class GitHubRepoError(GitHubError):
    """403 or 404 for one repository: no access, renamed or deleted."""

    lasting = True


class GitHubNotFound(GitHubRepoError):
    """GitHub answered 404 (or 410): the path does not exist or this credential may not see it."""


class GitHubRateLimited(GitHubError):
    """The token hit a primary or secondary rate limit; spend no more of it this run."""

    scope = FailureScope.TOKEN
    deferred = True


class GitHubTemporaryError(GitHubError):
    """GitHub kept failing (5xx, connection errors) after retries."""
