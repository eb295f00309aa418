"""Low-level file helpers of the state store: private files, atomic replace and an exclusive lock.

The state directory is created ``0700`` and every file in it ``0600`` (dead letters hold the
full bodies of private repositories' events). The lock, journal, dead-letter and temporary
files are opened with ``O_NOFOLLOW``: a symbolic link planted in their place is refused. The
state file itself may be a symbolic link; it is resolved and the target is replaced.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from painchain_gh.errors import LockHeldError, StateError

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700


def describe(error: OSError) -> str:
    """An OS error in words, naming a refused symbolic link as such."""
    if error.errno == errno.ELOOP:
        return "it is a symbolic link, which is refused"
    return error.strerror or str(error)


def ensure_private_directory(directory: Path) -> None:
    """Create ``directory`` (and parents) if missing; the directory itself is created ``0700``."""
    directory.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)


def open_private(path: Path, flags: int) -> int:
    """``os.open`` without following a symbolic link, creating the file ``0600`` (an existing file
    of ours is narrowed to ``0600``). Raises OSError."""
    descriptor = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        if os.fstat(descriptor).st_uid == os.geteuid():
            os.fchmod(descriptor, PRIVATE_FILE)
    except OSError:
        os.close(descriptor)
        raise
    return descriptor


def read_private_text(
    path: Path, *, what: str, hint: str = "move it away to continue", follow_link: bool = False
) -> str | None:
    """The UTF-8 text of one of our files (a companion file never through a symbolic link; the
    state file itself may be one: ``follow_link``); None when it is missing. Raises
    :class:`StateError` naming the file, with ``hint``, when it cannot be decoded, and naming it
    when it cannot be read."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (0 if follow_link else os.O_NOFOLLOW)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"cannot read {what} {path}: {describe(error)}") from None
    try:
        with os.fdopen(descriptor, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise StateError(f"cannot read {what} {path}: {describe(error)}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StateError(f"{what} {path} is not UTF-8 text (byte {error.start}); {hint}") from None


def resolve_link(path: Path) -> Path:
    """The file a symbolic link at ``path`` points to (``path`` itself when it is not a link)."""
    return path.resolve() if path.is_symlink() else path


def write_atomically(
    path: Path, text: str | Iterable[str], *, what: str = "state file", follow_link: bool = True
) -> None:
    """Replace ``path`` with ``text`` (or its pieces, written one by one): a private temporary file
    beside it, fsync, ``os.replace``, fsync of the folder. A symbolic link at ``path`` is written
    through to its target when ``follow_link``, else replaced itself. On any failure (a full disk
    included) the file is left as it was and a :class:`StateError` names it."""
    target = resolve_link(path) if follow_link else path
    temporary: str | None = None
    try:
        ensure_private_directory(target.parent)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.writelines([text] if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as error:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise StateError(f"cannot write {what} {path}: {describe(error)}; it was left as it was") from None
    fsync_directory(target.parent)


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
            ensure_private_directory(self.path.parent)
            descriptor = open_private(self.path, os.O_RDWR | os.O_CREAT)
            handle = os.fdopen(descriptor, "r+", encoding="utf-8")
        except OSError as error:
            raise StateError(f"cannot open lock file {self.path}: {describe(error)}") from None
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
        with contextlib.suppress(OSError):  # the pid is informative only (a full disk must not stop a run)
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Release the lock (closing the file releases the flock)."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
