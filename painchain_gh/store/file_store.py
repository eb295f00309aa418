"""The default state store: a versioned JSON file plus an append-only journal beside it.

Each acknowledgement is appended to ``<state>.journal`` the moment it arrives (written through
to the kernel, so a ``kill -9`` loses nothing; the state file itself is fsync'd when replaced).
When the sync ends, and when the next one starts, the journal is folded into the state file,
which is replaced atomically. A crash at any point therefore re-sends at most the events whose
acknowledgement was in flight.

In memory each repository's state is kept as its compact JSON text and validated into a
:class:`RepoState` only when the sync asks for it: with thousands of repositories this keeps
the process small (a few hundred bytes per quiet repository instead of a tree of objects).
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
from painchain_gh.store.json_members import read_object
from painchain_gh.store.model import STATE_VERSION, StateFile

_HINT = "restore it, or run 'painchain-gh state reset' to start over"


def companion(path: Path, suffix: str) -> Path:
    """A file that lives beside the state file, e.g. ``state.json.journal``."""
    return path.with_name(path.name + suffix)


def load_repos(path: Path) -> dict[str, str]:
    """Every repository's validated state as compact JSON text; a missing file is an empty state.

    Anything unreadable (empty, truncated, invalid, newer version) is a :class:`StateError`
    naming the path: nothing is ever reset silently. Repositories are parsed one at a time.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise StateError(f"cannot read state file {path}: {error.strerror or error}") from None
    if not text.strip():
        raise StateError(f"state file {path} is empty; {_HINT}")
    loaded: dict[str, str] = {}
    problem: str | None = None
    try:
        top, repos = read_object(text, streamed="repos")
        for key, value in repos or ():
            if problem is not None:
                continue  # keep reading: a newer version number may follow
            try:
                loaded[key] = RepoState.model_validate(value).model_dump_json()
            except ValidationError as error:
                problem = f"repos.{key}.{_where(error)}"
    except json.JSONDecodeError as error:
        raise StateError(f"state file {path} is not a valid JSON object (line {error.lineno}); {_HINT}") from None
    version = top.get("version")
    if isinstance(version, int) and version > STATE_VERSION:
        raise StateError(
            f"state file {path} has format version {version}, newer than this painchain-gh understands "
            f"({STATE_VERSION}); upgrade painchain-gh"
        )
    try:
        StateFile.model_validate({**top, "repos": {}} if repos is not None else top)
    except ValidationError as error:
        problem = problem or _where(error)
    if problem:
        raise StateError(f"state file {path} is invalid at {problem}; {_HINT}")
    return loaded


def read_state_file(path: Path) -> StateFile:
    """Load and validate a whole state file (for small tools; the sync uses :func:`load_repos`)."""
    repos = load_repos(path)
    return StateFile(repos={key: RepoState.model_validate_json(text) for key, text in repos.items()})


def _where(error: ValidationError) -> str:
    first = error.errors(include_input=False)[0]
    return ".".join(str(part) for part in first["loc"]) + f": {first['msg']}"


def apply_to_repo(state: RepoState, record: dict[str, Any]) -> RepoState:
    """Apply one journal record to one repository's state; returns the resulting state."""
    if record["op"] == "event":
        mark_event(state.events, str(record["id"]), int(record["t"]))
    elif record["op"] == "run":
        mark_run(state.runs, str(record["id"]), int(record["t"]), str(record["s"]))
    elif record["op"] == "repo":
        return RepoState.model_validate(record["state"])
    else:
        raise KeyError(record["op"])
    return state


def fold_journal(repos: dict[str, str], path: Path) -> int:
    """Fold the journal's records into ``repos``; returns how many were applied.

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
            key = record["key"]
            if not isinstance(key, str):
                raise TypeError("key")
            current = RepoState.model_validate_json(repos[key]) if key in repos else RepoState()
            repos[key] = apply_to_repo(current, record).model_dump_json()
        except (ValueError, KeyError, TypeError, ValidationError):
            if number == len(lines):
                break  # torn by a crash in the middle of a write
            raise StateError(f"journal {path} is corrupt at line {number}; move it away to continue") from None
        applied += 1
    return applied


class FileStore:
    """Cursors in a JSON file, locked for the duration of a sync."""

    def __init__(self, path: Path, *, lock_timeout: float = 0.0) -> None:
        self.path = path
        self.journal_path = companion(path, ".journal")
        self._lock = FileLock(companion(path, ".lock"), timeout=lock_timeout)
        self._mutex = threading.Lock()
        self._journal: IO[str] | None = None
        self._repos: dict[str, str] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}  # acknowledged since the last commit_repo

    def open(self) -> FileStore:
        """Lock, load the state, fold a journal left by a crash, and start a new journal."""
        self._lock.acquire()
        try:
            self._repos = load_repos(self.path)
            if fold_journal(self._repos, self.journal_path):
                self._write()
            self._journal = open(self.journal_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except BaseException:
            self._lock.release()
            raise
        return self

    def load_readonly(self) -> FileStore:
        """Load the state and any journal without locking or writing (for ``--dry-run``)."""
        self._repos = load_repos(self.path)
        fold_journal(self._repos, self.journal_path)
        return self

    def get(self, key: str) -> RepoState:
        """The stored state of ``key`` (a fresh object the caller may change)."""
        with self._mutex:
            text = self._repos.get(key)
            pending = list(self._pending.get(key, ()))
        state = RepoState.model_validate_json(text) if text else RepoState()
        for record in pending:
            state = apply_to_repo(state, record)
        return state

    def record_event(self, key: str, event_id: str, created_at: int) -> None:
        """Journal an acknowledged event."""
        self._append({"op": "event", "key": key, "id": event_id, "t": created_at})

    def record_run(self, key: str, run_id: str, created_at: int, state: str) -> None:
        """Journal an acknowledged run state."""
        self._append({"op": "run", "key": key, "id": run_id, "t": created_at, "s": state})

    def commit_repo(self, key: str, state: RepoState) -> None:
        """Journal the repository's full state (it includes every acknowledgement recorded before)."""
        text = state.model_dump_json()
        line = f'{{"op":"repo","key":{json.dumps(key)},"state":{text}}}\n'
        with self._mutex:
            self._repos[key] = text
            self._pending.pop(key, None)
            # Not flushed: if a crash loses this line, the acknowledgements before it are in the
            # journal already and only the ETags and poll time are forgotten (one extra poll).
            self._write_journal(line, flush=False)

    def finish_integration(self, integration_id: str, keys: Iterable[str]) -> None:
        """Nothing to do: the journal already holds everything."""

    def close(self) -> None:
        """Fold the journal into the state file, remove it, and release the lock."""
        try:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
                for key in list(self._pending):
                    self._repos[key] = self.get(key).model_dump_json()
                self._pending.clear()
                self._write()
                self.journal_path.unlink(missing_ok=True)
        finally:
            self._lock.release()

    def snapshot(self) -> StateFile:
        """The current state (for ``state show`` and ``state export``)."""
        return StateFile(repos={key: self.get(key) for key in sorted(set(self._repos) | set(self._pending))})

    def replace(self, state: StateFile) -> None:
        """Replace the whole state (``state import`` and ``state reset``)."""
        with self._mutex:
            self._repos = {key: value.model_dump_json() for key, value in state.repos.items()}
            self._pending.clear()

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._mutex:
            self._pending.setdefault(record["key"], []).append(record)
            self._write_journal(line)

    def _write_journal(self, line: str, *, flush: bool = True) -> None:
        """Append a line; flushed lines are written through to the kernel (survive a killed process)."""
        if self._journal is None:
            return
        try:
            self._journal.write(line)
            if flush:
                self._journal.flush()
        except OSError as error:
            raise StateError(f"cannot write journal {self.journal_path}: {error.strerror or error}") from None

    def _write(self) -> None:
        body = ",".join(f"{json.dumps(key)}:{self._repos[key]}" for key in sorted(self._repos))
        write_atomically(self.path, f'{{"version":{STATE_VERSION},"repos":{{{body}}}}}\n')
