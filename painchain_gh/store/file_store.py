"""The default state store: a versioned JSON file plus an append-only journal beside it.

Each acknowledgement is appended to ``<state>.journal`` the moment it arrives (written through
to the kernel, so a ``kill -9`` loses nothing; the state file itself is fsync'd when replaced). When the sync
ends, and when the next one starts, the journal is folded into the state file, which is
replaced atomically. A crash at any point therefore re-sends at most the events whose
acknowledgement was in flight.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from painchain_gh.cursor import RepoState, mark_event, mark_run
from painchain_gh.errors import StateError
from painchain_gh.store.files import FileLock, write_atomically
from painchain_gh.store.model import STATE_VERSION, StateFile


def companion(path: Path, suffix: str) -> Path:
    """A file that lives beside the state file, e.g. ``state.json.journal``."""
    return path.with_name(path.name + suffix)


def read_state_file(path: Path) -> StateFile:
    """Load and validate a state file; a missing file is an empty state, anything unreadable an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StateFile()
    except OSError as error:
        raise StateError(f"cannot read state file {path}: {error.strerror or error}") from None
    hint = "restore it, or run 'painchain-gh state reset' to start over"
    if not text.strip():
        raise StateError(f"state file {path} is empty; {hint}")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise StateError(f"state file {path} is not valid JSON (line {error.lineno}); {hint}") from None
    version = raw.get("version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version > STATE_VERSION:
        raise StateError(
            f"state file {path} has format version {version}, newer than this painchain-gh understands "
            f"({STATE_VERSION}); upgrade painchain-gh"
        )
    try:
        return StateFile.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise StateError(f"state file {path} is invalid at {where}: {first['msg']}; {hint}") from None


def apply_journal(state: StateFile, path: Path) -> int:
    """Fold the journal's records into ``state``; returns how many were applied.

    Only the last line can be torn by a crash; it is ignored.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0
    except OSError as error:
        raise StateError(f"cannot read journal {path}: {error.strerror or error}") from None
    applied = 0
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            apply_record(state, record)
        except (ValueError, KeyError, TypeError, ValidationError):
            if number == len(lines):
                break  # torn by a crash in the middle of a write
            raise StateError(f"journal {path} is corrupt at line {number}; move it away to continue") from None
        applied += 1
    return applied


def apply_record(state: StateFile, record: dict[str, Any]) -> None:
    """Apply one journal record."""
    key = record["key"]
    if not isinstance(key, str):
        raise TypeError("key")
    repo = state.repos.setdefault(key, RepoState())
    if record["op"] == "event":
        mark_event(repo.events, str(record["id"]), int(record["t"]))
    elif record["op"] == "run":
        mark_run(repo.runs, str(record["id"]), int(record["t"]), str(record["s"]))
    elif record["op"] == "repo":
        state.repos[key] = RepoState.model_validate(record["state"])
    else:
        raise KeyError(record["op"])


class FileStore:
    """Cursors in a JSON file, locked for the duration of a sync."""

    def __init__(self, path: Path, *, lock_timeout: float = 0.0) -> None:
        self.path = path
        self.journal_path = companion(path, ".journal")
        self._lock = FileLock(companion(path, ".lock"), timeout=lock_timeout)
        self._mutex = threading.Lock()
        self._journal: IO[str] | None = None
        self._state = StateFile()

    def open(self) -> FileStore:
        """Lock, load the state, fold a journal left by a crash, and start a new journal."""
        self._lock.acquire()
        try:
            self._state = read_state_file(self.path)
            if apply_journal(self._state, self.journal_path):
                self._write()
            self._journal = open(self.journal_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except BaseException:
            self._lock.release()
            raise
        return self

    def load_readonly(self) -> FileStore:
        """Load the state and any journal without locking or writing (for ``--dry-run``)."""
        self._state = read_state_file(self.path)
        apply_journal(self._state, self.journal_path)
        return self

    def get(self, key: str) -> RepoState:
        """A copy of the stored state of ``key``."""
        with self._mutex:
            stored = self._state.repos.get(key)
            return stored.model_copy(deep=True) if stored else RepoState()

    def record_event(self, key: str, event_id: str, created_at: int) -> None:
        """Journal an acknowledged event."""
        self._append({"op": "event", "key": key, "id": event_id, "t": created_at})

    def record_run(self, key: str, run_id: str, created_at: int, state: str) -> None:
        """Journal an acknowledged run state."""
        self._append({"op": "run", "key": key, "id": run_id, "t": created_at, "s": state})

    def commit_repo(self, key: str, state: RepoState) -> None:
        """Journal the repository's full state and make the journal durable."""
        stored = state.model_copy(deep=True)
        self._append({"op": "repo", "key": key, "state": state.model_dump(mode="json")}, stored=(key, stored))

    def finish_integration(self, integration_id: str, keys: Iterable[str]) -> None:
        """Nothing to do: the journal already holds everything."""

    def close(self) -> None:
        """Fold the journal into the state file, remove it, and release the lock."""
        try:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
                self._write()
                self.journal_path.unlink(missing_ok=True)
        finally:
            self._lock.release()

    def snapshot(self) -> StateFile:
        """The current state (for ``state show`` and ``state export``)."""
        with self._mutex:
            return self._state.model_copy(deep=True)

    def replace(self, state: StateFile) -> None:
        """Replace the whole state (``state import`` and ``state reset``)."""
        with self._mutex:
            self._state = state

    def _append(self, record: dict[str, Any], *, stored: tuple[str, RepoState] | None = None) -> None:
        """Apply ``record`` in memory and append it to the journal (written through to the kernel,
        which survives a killed process; the final state file is fsync'd when the run ends)."""
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._mutex:
            if stored is None:
                apply_record(self._state, record)
            else:
                self._state.repos[stored[0]] = stored[1]
            if self._journal is None:
                return
            try:
                self._journal.write(line)
                self._journal.flush()
            except OSError as error:
                raise StateError(f"cannot write journal {self.journal_path}: {error.strerror or error}") from None

    def _write(self) -> None:
        write_atomically(self.path, self._state.model_dump_json() + "\n")
