"""Low-level file helpers of the state store: atomic replace and an exclusive lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import IO

from painchain_gh.errors import LockHeldError, StateError


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: temporary file, fsync, ``os.replace``, fsync of the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StateError(f"cannot write state file {path}: {error.strerror or error}") from None
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class FileLock:
    """An exclusive ``flock`` on ``path``, waited for at most ``timeout`` seconds."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeldError` when the wait runs out."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        except OSError as error:
            raise StateError(f"cannot open lock file {self.path}: {error.strerror or error}") from None
        give_up = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    handle.close()
                    raise LockHeldError(
                        f"another sync holds the lock {self.path}; try again later (or raise --lock-timeout)"
                    ) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Release the lock (closing the file releases the flock)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
