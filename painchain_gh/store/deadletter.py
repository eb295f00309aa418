"""Events the backend rejected permanently (a 4xx), kept beside the state for a later re-send."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from painchain_gh import secrets
from painchain_gh.errors import StateError
from painchain_gh.store.files import write_atomically


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
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(secrets.scrub(letter.to_json()) + "\n")  # a reason may echo a token
            except OSError as error:
                raise StateError(f"cannot write dead-letter file {self.path}: {error.strerror or error}") from None

    def read(self) -> list[DeadLetter]:
        """All records; unreadable lines are an error naming the file."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StateError(f"cannot read dead-letter file {self.path}: {error.strerror or error}") from None
        letters = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                letters.append(DeadLetter(**json.loads(line)))
            except (ValueError, TypeError):
                raise StateError(f"dead-letter file {self.path} is corrupt at line {number}") from None
        return letters

    def rewrite(self, letters: list[DeadLetter]) -> None:
        """Keep only ``letters`` (after a re-send), atomically."""
        with self._mutex:
            write_atomically(self.path, "".join(letter.to_json() + "\n" for letter in letters))
