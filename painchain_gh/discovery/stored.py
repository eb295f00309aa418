"""The discovered lists a state already keeps, read without locking or writing anything (for ``plan``).

An integration that discovers its repositories (an App without repositories, ``owner/*`` entries) keeps
the last listing in its state entry ``{tenant or -}/{id}/*/*`` (:func:`painchain_gh.discovery.tasks.discovery_key`):
in the state file, or in each shard's file beside it (``state.shard-I-of-N.json``), or with ``--state
backend`` in the integration's own ``config.cursor``. What cannot be read is said in words, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from painchain_gh.discovery.tasks import DISCOVERY_ENTRY, discovery_key
from painchain_gh.errors import PainChainError
from painchain_gh.models import Integration
from painchain_gh.plan.grouping import Listed
from painchain_gh.store.backend_store import parse_cursor
from painchain_gh.store.file_store import FileStore


def shard_files(state_file: Path) -> list[Path]:
    """The shards' state files beside ``state_file`` (``state.shard-I-of-N.json``), in name order."""
    if not state_file.parent.is_dir():
        return []
    pattern = f"{state_file.stem}.shard-*-of-*{state_file.suffix}"
    return sorted(path for path in state_file.parent.glob(pattern) if path.is_file())


class FileLists:
    """Discovered lists from a state file and its shards' files, each loaded once, when first needed."""

    def __init__(self, state_file: Path) -> None:
        self._paths = [state_file, *shard_files(state_file)]
        self._stores: dict[Path, FileStore | str] = {}

    def _store(self, path: Path) -> FileStore | str:
        if path not in self._stores:
            try:
                self._stores[path] = FileStore(path).load_readonly()
            except PainChainError as error:
                self._stores[path] = str(error)
        return self._stores[path]

    def __call__(self, integration: Integration) -> Listed:
        """The integration's discovered lists from the first file that has them, else why none could be read."""
        problem: str | None = None
        for path in self._paths:
            store = self._store(path)
            if isinstance(store, str):
                problem = problem or f"the state cannot be read ({store})"
                continue
            cache = store.get(discovery_key(integration)).discovery
            if cache is not None:
                return cache
        return problem


def backend_lists(integration: Integration) -> Listed:
    """The integration's discovered lists from its ``config.cursor`` (``--state backend``)."""
    try:
        states = parse_cursor(integration.config.cursor, label=integration.label)
    except PainChainError as error:
        return f"its cursor cannot be read ({error})"
    state = states.get(DISCOVERY_ENTRY)
    return state.discovery if state is not None else None


def lists_reader(state_kind: str, state_file: Path) -> Callable[[Integration], Listed]:
    """How ``plan`` reads discovered lists from the configured state."""
    return backend_lists if state_kind == "backend" else FileLists(state_file)
