"""The exceptions painchain-gh raises on purpose, and the exit codes they map to.

PainChainError                 a known failure: one line, no traceback
├── DeadlineReached            --max-runtime ran out; the rest waits for the next run
├── UsageError                 bad flags or environment            -> CONFIG (2)
├── StateError                 unreadable or unwritable state      -> STATE (6)
│   └── LockHeldError          another sync holds the lock         -> LOCKED (5)
├── BackendError               the PainChain backend failed
│   ├── BackendUnavailable     unreachable after retries           -> UPSTREAM (4)
│   ├── BackendAuthError       401/403 from the backend            -> UPSTREAM (4)
│   ├── BackendTemporaryError  5xx/408/429 after retries (per integration)
│   └── BackendRejected        a permanent 4xx for one request
└── GitHubError                GitHub failed for one repository or token
    ├── GitHubAuthError        401: the token is bad; stop its integration
    ├── GitHubRepoError        403/404/422 for one repository
    ├── GitHubRateLimited      primary or secondary limit; stop the token for this run
    └── GitHubTemporaryError   5xx or connection errors after retries
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes of every command (see README, "Exit codes")."""

    OK = 0
    INTERNAL = 1
    CONFIG = 2
    PARTIAL = 3
    UPSTREAM = 4
    LOCKED = 5
    STATE = 6


class PainChainError(Exception):
    """A known failure. Its message is one line and never contains a secret."""

    exit_code: ExitCode = ExitCode.INTERNAL


class DeadlineReached(PainChainError):
    """The run's deadline (``--max-runtime``) was reached before this work could start."""

    exit_code = ExitCode.PARTIAL


class UsageError(PainChainError):
    """Bad command-line flags or environment variables."""

    exit_code = ExitCode.CONFIG


class StateError(PainChainError):
    """The state file is corrupt, truncated, from a future version or not writable."""

    exit_code = ExitCode.STATE


class LockHeldError(StateError):
    """Another sync holds the lock on the same state."""

    exit_code = ExitCode.LOCKED


class BackendError(PainChainError):
    """The PainChain backend failed."""

    exit_code = ExitCode.UPSTREAM


class BackendUnavailable(BackendError):
    """The backend could not be reached (refused, timed out) after retries."""


class BackendAuthError(BackendError):
    """The backend answered 401 or 403: the run cannot go on."""


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


class GitHubAuthError(GitHubError):
    """401 Bad credentials: the integration's token is invalid or expired."""


class GitHubRepoError(GitHubError):
    """403 or 404 for one repository: no access, renamed or deleted."""


class GitHubRateLimited(GitHubError):
    """The token hit a primary or secondary rate limit; spend no more of it this run."""


class GitHubTemporaryError(GitHubError):
    """GitHub kept failing (5xx, connection errors) after retries."""
