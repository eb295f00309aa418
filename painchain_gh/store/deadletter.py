"""Events the backend rejected permanently (a 4xx), kept beside the state for a later re-send."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from painchain_gh import secrets
from painchain_gh.errors import StateError
from painchain_gh.store.files import (
    describe,
    ensure_private_directory,
    open_private,
    read_private_text,
    write_atomically,
)


@dataclass(frozen=True)
class DeadLetter:
    """One rejected event with where it belongs."""

    tenant_id: str | None
    status: int
    reason: str
    at: str
    body: dict[str, Any]

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(self.__dict__, separators=(",", ":"), sort_keys=True)


class DeadLetterFile:
    """An append-only JSON-lines file of :class:`DeadLetter` records."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mutex = threading.Lock()

    def append(self, letter: DeadLetter) -> None:
        """Add a record (written through before returning)."""
        with self._mutex:
            # The backend's reason may echo a token: that value is scrubbed; the event itself is kept
            # byte for byte (it is what will be re-sent).
            kept = replace(letter, reason=secrets.scrub(letter.reason))
            line = (kept.to_json() + "\n").encode("utf-8")
            try:
                ensure_private_directory(self.path.parent)
                descriptor = open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                try:
                    written = os.write(descriptor, line)
                finally:
                    os.close(descriptor)
                if written != len(line):
                    raise OSError(0, "short write (disk full?)")
            except OSError as error:
                raise StateError(f"cannot write dead-letter file {self.path}: {describe(error)}") from None

    def read(self) -> list[DeadLetter]:
        """All records; unreadable lines are an error naming the file."""
        text = read_private_text(self.path, what="dead-letter file")
        letters = []
        for number, line in enumerate((text or "").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                letters.append(_letter(json.loads(line)))
            except (ValueError, TypeError, RecursionError):
                raise StateError(f"dead-letter file {self.path} is corrupt at line {number}") from None
        return letters

    def rewrite(self, letters: list[DeadLetter]) -> None:
        """Keep only ``letters`` (after a re-send), atomically."""
        with self._mutex:
            write_atomically(
                self.path,
                "".join(letter.to_json() + "\n" for letter in letters),
                what="dead-letter file",
                follow_link=False,
            )


def _letter(record: object) -> DeadLetter:
    """A record checked field by field (raises ValueError or TypeError)."""
    if not isinstance(record, dict):
        raise TypeError("not an object")
    letter = DeadLetter(**record)
    tenant_ok = letter.tenant_id is None or isinstance(letter.tenant_id, str)
    status_ok = isinstance(letter.status, int) and not isinstance(letter.status, bool)
    if not (tenant_ok and status_ok and isinstance(letter.reason, str) and isinstance(letter.at, str)):
        raise TypeError("field types")
    if not isinstance(letter.body, dict):
        raise TypeError("body")
    return letter
