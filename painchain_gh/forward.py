"""Where transformed events go: the backend, or stdout for ``--dry-run``."""

from __future__ import annotations

import json
import sys
import threading
from typing import Protocol, TextIO

from painchain_gh.backend import BackendClient
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
