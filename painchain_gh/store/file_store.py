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

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from painchain_gh.cursor import Polled, RepoState, mark_event, mark_item, mark_run
from painchain_gh.errors import StateError
from painchain_gh.store.checks import (
    CursorError,
    checked_epoch,
    checked_for_storage,
    checked_identifier,
    checked_record,
    checked_run_state,
    parse_repo_state,
)
from painchain_gh.store.files import (
    FileLock,
    describe,
    ensure_private_directory,
    open_private,
    read_private_text,
    write_atomically,
)
from painchain_gh.store.json_members import read_object
from painchain_gh.store.model import OLDEST_VERSION, STATE_VERSION, StateFile
from painchain_gh.text import escape

ITEM_STREAMS = ("deployments", "images")
_HINT = "restore it, or run 'painchain-gh state reset' to start over"


def companion(path: Path, suffix: str) -> Path:
    """A file that lives beside the state file, e.g. ``state.json.journal``."""
    return path.with_name(path.name + suffix)


@dataclass
class LoadedState:
    """A state file's entries as compact JSON text: current keys, and version-1 (lower-case) keys."""

    repos: dict[str, str] = field(default_factory=dict)
    unmigrated: dict[str, str] = field(default_factory=dict)


def load_state(path: Path) -> LoadedState:
    """Every repository's validated state as compact JSON text; a missing file is an empty state.

    Anything unreadable (not UTF-8, empty, truncated, invalid, out of range, nested too deeply,
    newer version) is a :class:`StateError` naming the path: nothing is ever reset silently.
    Repositories are parsed one at a time. A version-1 file's entries come back as unmigrated.
    """
    text = read_private_text(path, what="state file", hint=_HINT, follow_link=True)
    if text is None:
        return LoadedState()
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
                loaded[key] = parse_repo_state(value).model_dump_json()
            except CursorError as error:
                problem = f"repos.{key}.{error}"
    except json.JSONDecodeError as error:
        raise StateError(f"state file {path} is not a valid JSON object (line {error.lineno}); {_HINT}") from None
    except (ValueError, RecursionError):  # e.g. an integer of thousands of digits, or [[[[... nested
        raise StateError(f"state file {path} is not a JSON object painchain-gh can read; {_HINT}") from None
    version = top.get("version", STATE_VERSION)
    if isinstance(version, int) and version > STATE_VERSION:
        raise StateError(
            f"state file {path} has format version {version}, newer than this painchain-gh understands "
            f"({STATE_VERSION}); upgrade painchain-gh"
        )
    unmigrated, top_problem = _check_top(top)
    problem = problem or top_problem
    if problem:
        raise StateError(f"state file {path} is invalid at {escape(problem, 300)}; {_HINT}")
    if version == OLDEST_VERSION:
        return LoadedState(unmigrated={key.lower(): value for key, value in loaded.items()})
    return LoadedState(repos=loaded, unmigrated=unmigrated)


def _check_top(top: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """The unmigrated entries of a state file's top level, and what is wrong with it (if anything)."""
    version = top.get("version", STATE_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < OLDEST_VERSION:
        return {}, "version: not a known format version"
    raw = top.get("unmigrated", {})
    if not isinstance(raw, dict):
        return {}, "unmigrated: not an object"
    unmigrated: dict[str, str] = {}
    for key, value in raw.items():
        try:
            unmigrated[key.lower()] = parse_repo_state(value).model_dump_json()
        except CursorError as error:
            return {}, f"unmigrated.{key}.{error}"
    try:
        StateFile.model_validate({**top, "repos": {}, "unmigrated": {}})
    except ValidationError as error:
        return {}, _where(error)
    return unmigrated, None


def load_repos(path: Path) -> dict[str, str]:
    """The current-version entries of a state file (see :func:`load_state`)."""
    return load_state(path).repos


def read_state_file(path: Path) -> StateFile:
    """Load and validate a whole state file (for small tools; the sync uses :func:`load_state`)."""
    loaded = load_state(path)
    return StateFile(
        repos={key: RepoState.model_validate_json(text) for key, text in loaded.repos.items()},
        unmigrated={key: RepoState.model_validate_json(text) for key, text in loaded.unmigrated.items()},
    )


def _where(error: ValidationError) -> str:
    first = error.errors(include_input=False)[0]
    return ".".join(str(part) for part in first["loc"]) + f": {first['msg']}"


def apply_to_repo(state: RepoState, record: dict[str, Any]) -> RepoState:
    """Apply one journal record to one repository's state; returns the resulting state.

    Raises ValueError (a :class:`CursorError`), KeyError or TypeError on a record that is not one.
    """
    if record["op"] == "event":
        event_id = checked_identifier(record["id"], where="id")
        mark_event(state.events, event_id, checked_epoch(record["t"], where="t"))
    elif record["op"] == "run":
        run_id = checked_identifier(record["id"], where="id")
        created = checked_epoch(record["t"], where="t")
        mark_run(state.runs, run_id, created, checked_run_state(record["s"], where="s"))
    elif record["op"] == "item" and record["stream"] in ITEM_STREAMS:
        item_id = checked_identifier(record["id"], where="id")
        mark_item(state, record["stream"], item_id, checked_epoch(record["t"], where="t"))
    elif record["op"] == "repo":
        return parse_repo_state(record["state"])
    else:
        raise KeyError(record["op"])
    return state


_POLLED = re.compile(r'^\{"last_polled_at":(\d{1,12})(?:,"poll_rank":(\d{1,9}))?[,}]')


def polled_from_text(text: str) -> Polled | None:
    """``last_polled_at`` and ``poll_rank`` of a repository's stored JSON text (written first by
    ``model_dump_json``); a rank not kept (older states) counts as 0."""
    match = _POLLED.match(text)
    return Polled(int(match.group(1)), int(match.group(2) or 0)) if match else None


class _Seed:
    """Where a key's state starts when it has none yet: a version-1 entry its key lower-cases to."""

    def __init__(self, unmigrated: dict[str, str]) -> None:
        self.unmigrated = unmigrated
        self.claimed: set[str] = set()

    def text(self, key: str) -> str | None:
        legacy = self.unmigrated.get(key.lower())
        if legacy is not None:
            self.claimed.add(key.lower())
        return legacy


def fold_journal(repos: dict[str, str], path: Path, seed: _Seed | None = None) -> int:
    """Fold the journal's records into ``repos``; returns how many were applied.

    Only the last line can be torn by a crash; it is ignored. Any other unreadable line (not
    JSON, numbers out of range, nested too deeply) is a :class:`StateError` naming the journal.
    """
    text = read_private_text(path, what="journal")
    if text is None:
        return 0
    lines = text.splitlines()
    applied = 0
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            key = record["key"]
            if not isinstance(key, str):
                raise TypeError("key")
            if record["op"] == "forget":
                repos.pop(key, None)
                applied += 1
                continue
            base = repos.get(key) or (seed.text(key) if seed else None)
            current = RepoState.model_validate_json(base) if base else RepoState()
            repos[key] = apply_to_repo(current, record).model_dump_json()
        except (ValueError, KeyError, TypeError, ValidationError, RecursionError):
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
        self._seed = _Seed({})
        self._pending: dict[str, list[dict[str, Any]]] = {}  # acknowledged since the last commit_repo

    def _load(self) -> int:
        loaded = load_state(self.path)
        self._repos, self._seed = loaded.repos, _Seed(loaded.unmigrated)
        return fold_journal(self._repos, self.journal_path, self._seed)

    def open(self) -> FileStore:
        """Lock, load the state, fold a journal left by a crash, and start a new journal."""
        self._lock.acquire()
        try:
            if self._load() or self._seed.unmigrated:
                self._write(drop_claimed=False)  # written as the current version from now on
            try:
                descriptor = open_private(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                self._journal = os.fdopen(descriptor, "w", encoding="utf-8")
            except OSError as error:
                raise StateError(f"cannot write journal {self.journal_path}: {describe(error)}") from None
        except BaseException:
            self._lock.release()
            raise
        return self

    def load_readonly(self) -> FileStore:
        """Load the state and any journal without locking or writing (for ``--dry-run``)."""
        self._load()
        return self

    def get(self, key: str) -> RepoState:
        """The stored state of ``key`` (a fresh object the caller may change).

        A key with no entry of its own starts from the version-1 entry it lower-cases to, if any.
        """
        with self._mutex:
            text = self._repos.get(key)
            if text is None:
                text = self._seed.text(key)
                if text is not None:
                    self._repos[key] = text
            pending = list(self._pending.get(key, ()))
        state = RepoState.model_validate_json(text) if text else RepoState()
        for record in pending:
            state = apply_to_repo(state, record)
        return state

    def polled(self, key: str) -> Polled | None:
        """When the stored state was last polled and its place in that run, read from its text
        without validating all of it."""
        with self._mutex:
            text = self._repos.get(key)
            if text is None:
                text = self._seed.unmigrated.get(key.lower())
        return polled_from_text(text) if text else None

    def record_event(self, key: str, event_id: str, created_at: int) -> None:
        """Journal an acknowledged event."""
        self._append({"op": "event", "key": key, "id": event_id, "t": created_at})

    def record_run(self, key: str, run_id: str, created_at: int, state: str) -> None:
        """Journal an acknowledged run state."""
        self._append({"op": "run", "key": key, "id": run_id, "t": created_at, "s": state})

    def record_item(self, key: str, stream: str, item_id: str, created_at: int) -> None:
        """Journal an acknowledged deployment status or container image version."""
        if stream not in ITEM_STREAMS:
            raise KeyError(stream)
        self._append({"op": "item", "key": key, "stream": stream, "id": item_id, "t": created_at})

    def commit_repo(self, key: str, state: RepoState) -> None:
        """Journal the repository's full state (it includes every acknowledgement recorded before).

        The state passes the checks it must pass when read back, or it is not stored
        (:class:`~painchain_gh.errors.UnstorableState`: that repository fails, the file stays usable).
        """
        text = checked_for_storage(state, key=key).model_dump_json()
        line = f'{{"op":"repo","key":{json.dumps(key)},"state":{text}}}\n'
        with self._mutex:
            self._repos[key] = text
            self._pending.pop(key, None)
            # Not flushed: if a crash loses this line, the acknowledgements before it are in the
            # journal already and only the ETags and poll time are forgotten (one extra poll).
            self._write_journal(line, flush=False)

    def forget(self, key: str) -> None:
        """Journal the deletion of ``key``'s state."""
        line = f'{{"op":"forget","key":{json.dumps(key)}}}\n'
        with self._mutex:
            self._repos.pop(key, None)
            self._pending.pop(key, None)
            self._write_journal(line)

    def finish_integration(self, integration_id: str, keys: Iterable[str]) -> None:
        """Nothing to do: the journal already holds everything."""

    def close(self) -> None:
        """Fold the journal into the state file, remove it, and release the lock.

        If the state file cannot be written (a full disk), it is left as it was, the journal
        stays for the next run to fold, and a :class:`StateError` names the file.
        """
        try:
            if self._journal is not None:
                journal, self._journal = self._journal, None
                with contextlib.suppress(OSError):  # unflushed lines: only ETags and poll times, all written below
                    journal.close()
                for key in list(self._pending):
                    self._repos[key] = self.get(key).model_dump_json()
                self._pending.clear()
                self._write(drop_claimed=True)
                self.journal_path.unlink(missing_ok=True)
        finally:
            self._lock.release()

    def snapshot(self) -> StateFile:
        """The current state (for ``state show`` and ``state export``)."""
        keys = sorted(set(self._repos) | set(self._pending))
        repos = {key: self.get(key) for key in keys}
        unmigrated = {
            key: RepoState.model_validate_json(text)
            for key, text in sorted(self._seed.unmigrated.items())
            if key not in self._seed.claimed
        }
        return StateFile(repos=repos, unmigrated=unmigrated)

    def replace(self, state: StateFile) -> None:
        """Replace the whole state (``state import`` and ``state reset``)."""
        with self._mutex:
            self._repos = {key: value.model_dump_json() for key, value in state.repos.items()}
            self._seed = _Seed({key.lower(): value.model_dump_json() for key, value in state.unmigrated.items()})
            self._pending.clear()

    def _append(self, record: dict[str, Any]) -> None:
        checked_record(record)  # what the journal holds is what the next run can fold
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
            raise StateError(f"cannot write journal {self.journal_path}: {describe(error)}") from None

    def _write(self, *, drop_claimed: bool) -> None:
        """Write the state file in the current format; claimed version-1 entries are dropped when
        ``drop_claimed`` (at the end of a run, once every job had its chance to claim them).

        The file is written entry by entry: with thousands of repositories, building it as one
        string would double the process's peak memory at the very end of a run.
        """
        left = {
            key: text for key, text in self._seed.unmigrated.items() if not (drop_claimed and key in self._seed.claimed)
        }
        ensure_private_directory(self.path.parent)
        write_atomically(self.path, self._pieces(left))

    def _pieces(self, unmigrated: dict[str, str]) -> Iterator[str]:
        yield f'{{"version":{STATE_VERSION},"repos":{{'
        for number, key in enumerate(sorted(self._repos)):
            yield f"{',' if number else ''}{json.dumps(key)}:{self._repos[key]}"
        yield "}"
        if unmigrated:
            yield ',"unmigrated":{' + ",".join(f"{json.dumps(key)}:{unmigrated[key]}" for key in sorted(unmigrated))
            yield "}"
        yield "}\n"
