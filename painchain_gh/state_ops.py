"""State operations behind ``painchain-gh state``: load, reset, import, for either store.

Each operation takes the backend client it may need (only ``--state backend`` uses it), so
that this module depends on the stores, never on the wiring above it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pydantic import ValidationError

from painchain_gh.backend import BackendClient
from painchain_gh.errors import StateError, UsageError
from painchain_gh.settings import Settings
from painchain_gh.store.backend_store import import_backend_state, load_backend_state, reset_backend_state
from painchain_gh.store.file_store import FileStore, companion, read_state_file
from painchain_gh.store.files import FileLock, write_atomically
from painchain_gh.store.model import StateFile


def _backend_of(backend: BackendClient | None) -> BackendClient:
    if backend is None:
        raise UsageError("--state backend needs the backend (BACKEND_API_URL)")
    return backend


def load_state(settings: Settings, backend: BackendClient | None) -> StateFile:
    """The stored cursors, without locking or changing anything."""
    if settings.state_kind == "backend":
        return load_backend_state(_backend_of(backend))
    return FileStore(settings.state_file).load_readonly().snapshot()


def reset_state(settings: Settings, backend: BackendClient | None, *, repo: str | None) -> str:
    """Forget all cursors (or one repository's); returns what was done, in words."""
    if settings.state_kind == "backend":
        return reset_backend_state(_backend_of(backend), repo=repo, max_body=settings.backend_max_body_bytes)
    path = settings.state_file
    if repo is None:
        lock = FileLock(companion(path, ".lock"), timeout=settings.lock_timeout)
        lock.acquire()  # the state file itself may be unreadable: only the lock is taken
        try:
            moved = _move_aside_if_unreadable(path)
            companion(path, ".journal").unlink(missing_ok=True)
            write_atomically(path, StateFile().model_dump_json() + "\n")
        finally:
            lock.release()
        return f"all cursors forgotten in {path}" + (f" (the unreadable file was moved to {moved})" if moved else "")
    store = FileStore(path, lock_timeout=settings.lock_timeout).open()
    try:
        snapshot = store.snapshot()
        keys = [key for key in snapshot.repos if key.endswith("/" + repo.lower())]
        for key in keys:
            del snapshot.repos[key]
        for key in [key for key in snapshot.unmigrated if key.endswith("/" + repo.lower())]:
            del snapshot.unmigrated[key]  # a version-1 entry would otherwise seed the repository again
        store.replace(snapshot)
    finally:
        store.close()
    return f"{len(keys)} cursor(s) of {repo} forgotten in {path}"


def _move_aside(path: Path) -> Path:
    target = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    path.replace(target)
    return target


def _move_aside_if_unreadable(path: Path) -> Path | None:
    if not path.exists():
        return None
    try:
        read_state_file(path)
    except StateError:
        return _move_aside(path)
    return None


def import_state(settings: Settings, backend: BackendClient | None, text: str) -> int:
    """Replace the store's cursors with an exported state; returns the number of repositories."""
    try:
        imported = StateFile.model_validate(json.loads(text))
    except (ValueError, ValidationError) as error:
        raise UsageError(f"not a painchain-gh state export: {str(error).splitlines()[0]}") from None
    if settings.state_kind == "backend":
        import_backend_state(_backend_of(backend), imported, max_body=settings.backend_max_body_bytes)
        return len(imported.repos)
    store = FileStore(settings.state_file, lock_timeout=settings.lock_timeout).open()
    try:
        store.replace(imported)
    finally:
        store.close()
    return len(imported.repos)
