"""The interface every state store offers to the sync, which does not know which one it has."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from painchain_gh.cursor import Polled, RepoState


class StateStore(Protocol):
    """Cursors per repository key; acknowledgements are recorded as they arrive."""

    def get(self, key: str) -> RepoState:
        """A copy of the stored state of ``key`` (empty on a first sync) that the caller may change."""
        ...

    def polled(self, key: str) -> Polled | None:
        """When ``key`` was last polled and its place in that run, cheaply, to order a run's work; None: never."""
        ...

    def record_event(self, key: str, event_id: str, created_at: int) -> None:
        """Durably note that the backend acknowledged (or dead-lettered) this event."""
        ...

    def record_run(self, key: str, run_id: str, created_at: int, state: str) -> None:
        """Durably note that the backend acknowledged this state of a workflow run."""
        ...

    def record_item(self, key: str, stream: str, item_id: str, created_at: int) -> None:
        """Durably note that the backend acknowledged a deployment status (``stream="deployments"``)
        or a container image version (``stream="images"``)."""
        ...

    def commit_repo(self, key: str, state: RepoState) -> None:
        """Store a repository's state after its poll (ETags, floors, last poll time)."""
        ...

    def forget(self, key: str) -> None:
        """Delete the state of ``key`` (a repository gone from discovery for 30 days)."""
        ...

    def finish_integration(self, integration_id: str, keys: Iterable[str]) -> None:
        """Called once an integration's repositories are done (the backend store writes here)."""
        ...

    def close(self) -> None:
        """Write everything out and release locks."""
        ...


class ReadOnlyStore:
    """Wraps a store for ``--dry-run``: reads pass through, writes are dropped."""

    def __init__(self, inner: StateStore) -> None:
        self._inner = inner

    def get(self, key: str) -> RepoState:
        """Read through."""
        return self._inner.get(key)

    def polled(self, key: str) -> Polled | None:
        """Read through."""
        return self._inner.polled(key)

    def record_event(self, key: str, event_id: str, created_at: int) -> None:
        """Dropped."""

    def record_run(self, key: str, run_id: str, created_at: int, state: str) -> None:
        """Dropped."""

    def record_item(self, key: str, stream: str, item_id: str, created_at: int) -> None:
        """Dropped."""

    def commit_repo(self, key: str, state: RepoState) -> None:
        """Dropped."""

    def forget(self, key: str) -> None:
        """Dropped."""

    def finish_integration(self, integration_id: str, keys: Iterable[str]) -> None:
        """Dropped."""

    def close(self) -> None:
        """Nothing to write."""
