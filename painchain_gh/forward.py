"""Where transformed events go (the backend, or stdout for ``--dry-run``), and what happens once they went.

An event sent and acknowledged moves the repository's cursor past it, in memory and durably
through the store. An event the backend rejects for good goes to the dead-letter file (and
counts as handled); any other backend failure stops the repository, and a failure that stops
the whole run is handed back in the result.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

from painchain_gh.backend import BackendClient
from painchain_gh.cursor import RepoState, mark_event, mark_item, mark_run
from painchain_gh.errors import BackendError, BackendRejected, FailureScope
from painchain_gh.jobs import RepoJob
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.store.base import StateStore
from painchain_gh.store.deadletter import DeadLetter, DeadLetterFile
from painchain_gh.timeutil import format_time
from painchain_gh.transform import PainChainEvent


class Sink(Protocol):
    """Accepts one event; raises a BackendError subclass when it is not stored."""

    def send(self, event: PainChainEvent, *, tenant_id: str | None) -> None:
        """Deliver ``event`` for ``tenant_id``."""
        ...


class BackendSink:
    """Posts events to ``POST /events``."""

    def __init__(self, backend: BackendClient) -> None:
        self._backend = backend

    def send(self, event: PainChainEvent, *, tenant_id: str | None) -> None:
        """Post and return once the backend acknowledged with 2xx."""
        self._backend.post_event(event.body(), tenant_id=tenant_id)


class PrintSink:
    """Prints each event as one JSON line: the POST body plus ``tenantId`` (the x-tenant-id header)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, event: PainChainEvent, *, tenant_id: str | None) -> None:
        """Print the event."""
        line = json.dumps({"tenantId": tenant_id, **event.body()}, sort_keys=True, ensure_ascii=True)
        with self._lock:
            stream = self._stream or sys.stdout
            stream.write(line + "\n")
            stream.flush()


@dataclass
class Outgoing:
    """An event to send, with the cursor entry it settles once acknowledged."""

    event: PainChainEvent
    identifier: str
    created: int
    run_state: str | None = None  # None for Events API events
    stream: str | None = None  # "deployments" or "images"; None for events and runs


def acknowledge(store: StateStore, key: str, state: RepoState, item: Outgoing) -> None:
    """Move the cursor past ``item``: in memory, and durably through the store."""
    if item.stream is not None:
        mark_item(state, item.stream, item.identifier, item.created)
        store.record_item(key, item.stream, item.identifier, item.created)
    elif item.run_state is None:
        mark_event(state.events, item.identifier, item.created)
        store.record_event(key, item.identifier, item.created)
    else:
        mark_run(state.runs, item.identifier, item.created, item.run_state)
        store.record_run(key, item.identifier, item.created, item.run_state)


def dead_letter(letters: DeadLetterFile, item: Outgoing, rejection: BackendRejected, *, tenant_id: str | None) -> None:
    """Keep a rejected event for a later ``deadletter retry``."""
    letters.append(
        DeadLetter(
            tenant_id=tenant_id,
            status=rejection.status,
            reason=str(rejection),
            at=format_time(time.time()),
            body=item.event.body(),
        )
    )


def forward(
    job: RepoJob,
    outgoing: list[Outgoing],
    *,
    state: RepoState,
    store: StateStore,
    sink: Sink,
    dead_letters: DeadLetterFile | None,
    result: RepoResult,
    keep_going: Callable[[], bool],
    key: str | None = None,
) -> bool:
    """Send oldest first; True when every event was acknowledged or dead-lettered.

    Acknowledgements go to ``state`` under ``key`` (the job's own key unless given, e.g. the
    owner-wide entry of container images).

    A backend failure ends the repository with its status in ``result`` (what was forwarded
    stays counted); one that stops the whole run is also kept in ``result.fatal``.
    """
    tenant = job.integration.tenant_id
    for item in outgoing:
        if not keep_going():
            result.status, result.error = RepoStatus.DEFERRED, "the run stopped before this repository was done"
            return False
        try:
            sink.send(item.event, tenant_id=tenant)
        except BackendRejected as rejection:
            if dead_letters is None:
                raise
            dead_letter(dead_letters, item, rejection, tenant_id=tenant)
            result.dead_lettered += 1
        except BackendError as error:
            result.status = RepoStatus.DEFERRED if error.deferred else RepoStatus.FAILED
            result.error = str(error)
            if error.scope is FailureScope.RUN:
                result.fatal = error
            return False
        else:
            result.forwarded += 1
        acknowledge(store, key or job.key, state, item)
    return True
