"""Cursors kept in the PainChain backend, under each integration's ``config.cursor``.

This makes CronJob pods stateless. The backend has no cursor endpoint and ``PUT`` replaces
the whole config, so every write is a read-modify-write done immediately before writing:
``GET /integrations/{id}``, change only ``config.cursor``, ``PUT`` the config exactly as read
(a token is only ever sent back in the same form it was just read): ``BackendClient.edit_integration``,
which the integration status writer shares. Shards write their own
repositories' entries and verify them after writing, retrying when another shard's write
crossed theirs.

The backend refuses request bodies over 100 kB (``--backend-max-body-kb``), and the whole config is
one body: ``config.cursor`` is written in version 3, the compact form of
:mod:`painchain_gh.store.cursor_codec` (only what deduplication still needs, zlib and base64), within
what the rest of the config leaves of that limit; when it would not fit, ETags are given up first
(each costs one rate-limit unit when its stream is next read, and the run says how many), and a
cursor that cannot fit without them is not written (a :class:`StateError` with its size and what to
do). Versions 1 and 2 (``{"version": 2, "repos": {"owner/repo": ...}}``, owner and repository in
lower case) are read as they are. Every cursor is untrusted: one
integration's cursor that cannot be used (not an object, no readable data, an unknown or newer
version) makes that integration's repositories fail with :class:`CursorUnusable` (exit 3, one
line naming it) and is never written over; the other integrations go on. Starting over is left
to the operator (``painchain-gh state reset --state backend``): it would re-send up to
``--initial-lookback`` of events, which a backend without ``externalId`` deduplication stores
twice, and could destroy a newer version's cursor. One repository's entry that is unreadable
(bad types, timestamps out of range) starts over within ``--initial-lookback``, with an error
line; an ETag that is not printable ASCII (at most 200 characters) is dropped.

If a write fails the run reports it and exits non-zero; the next run re-sends at most that
run's events (which a backend with ``externalId`` deduplication stores once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from painchain_gh.backend import BackendClient, path_segment
from painchain_gh.cursor import Polled, RepoState, mark_event, mark_item, mark_run, polled_of
from painchain_gh.errors import BackendError, BackendRejected, StateError
from painchain_gh.jobs import state_key
from painchain_gh.models import Integration
from painchain_gh.store.checks import CursorError, checked_for_storage, checked_record, parse_repo_state
from painchain_gh.store.cursor_codec import (
    CURSOR_VERSION,
    CursorFormatError,
    CursorTooLarge,
    Encoded,
    decode,
    encode,
    size_of,
    slim,
)
from painchain_gh.store.model import OLDEST_VERSION, StateFile

log = logging.getLogger("painchain_gh")

WRITE_ATTEMPTS = 3
DEFAULT_MAX_BODY_BYTES = 100 * 1024  # NestJS's default body limit ("100kb"), the real backend's
BODY_MARGIN = 512  # bytes kept free in the PUT body (JSON separators, a config edited meanwhile)


class CursorUnusable(BackendError):
    """One integration's ``config.cursor`` cannot be used: its repositories fail, the others go on."""


def split_key(key: str) -> tuple[str, str]:
    """``tenant/integration/owner/repo`` → (integration id, ``owner/repo`` in lower case); the
    owner-wide entry of container images has ``*`` as its repository (``owner/*``)."""
    parts = key.split("/")
    if len(parts) != 4 or not parts[1]:
        raise StateError(f"unexpected state key {key!r}")
    return parts[1], f"{parts[2]}/{parts[3]}".lower()


def cursor_problem(raw: object) -> str | None:
    """Why a whole ``config.cursor`` cannot be used, or None (absent counts as empty)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return "config.cursor is not an object"
    version = raw.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > CURSOR_VERSION:
        return (
            f"config.cursor has format version {version}, newer than this painchain-gh understands "
            f"({CURSOR_VERSION}); upgrade painchain-gh"
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < OLDEST_VERSION:
        return "config.cursor has no known format version"
    if version < CURSOR_VERSION and not isinstance(raw.get("repos"), dict):
        return "config.cursor has no repos object"
    return None


def raw_entries(raw: dict[str, Any]) -> dict[str, Any]:
    """The repositories' raw cursors of a usable ``config.cursor`` (see :func:`cursor_problem`), any
    version; raises :class:`~painchain_gh.store.cursor_codec.CursorFormatError` for version-3 data that
    cannot be decoded."""
    if raw.get("version") == CURSOR_VERSION:
        return decode(raw)
    repos: dict[str, Any] = raw["repos"]
    return repos


def parse_cursor(raw: object, *, label: str) -> dict[str, RepoState]:
    """The repositories' cursors stored in one integration (keys ``owner/repo`` in lower case).

    Raises :class:`CursorUnusable` when the whole cursor cannot be used; an unreadable
    repository entry is reported and left out (that repository starts over).
    """
    problem = cursor_problem(raw)
    if problem:
        raise CursorUnusable(f"{label}: {problem}; its repositories are skipped")
    if raw is None:
        return {}
    assert isinstance(raw, dict)
    try:
        entries = raw_entries(raw)
    except CursorFormatError as error:
        raise CursorUnusable(f"{label}: {error}; its repositories are skipped") from None
    parsed: dict[str, RepoState] = {}
    for name, value in entries.items():
        try:
            parsed[str(name).lower()] = parse_repo_state(value)
        except CursorError as error:
            log.error("%s: the cursor of %s is unreadable (%s); it starts over", label, name, error)
    return parsed


class BackendStore:
    """Cursors in ``config.cursor`` of each integration."""

    def __init__(
        self, backend: BackendClient, integrations: Iterable[Integration], *, max_body: int = DEFAULT_MAX_BODY_BYTES
    ) -> None:
        self._backend = backend
        self._max_body = max_body
        integrations = list(integrations)
        self._labels = {integration.id: integration.label for integration in integrations}
        self._raw = {integration.id: integration.config.cursor for integration in integrations}
        self._keys = {
            state_key(integration.tenant_id, integration.id, repository.full_name): (
                integration.id,
                repository.full_name.lower(),
            )
            for integration in integrations
            for repository in integration.unique_repositories()
        }
        self._cursors: dict[str, dict[str, RepoState]] = {}
        self._unusable: dict[str, CursorUnusable] = {}
        self._dirty: dict[str, set[str]] = {}
        self._removed: dict[str, set[str]] = {}
        self._mutex = threading.Lock()

    def _where(self, key: str) -> tuple[str, str]:
        """(integration id, ``owner/repo``) of a key: known from the integrations, else parsed."""
        return self._keys.get(key) or split_key(key)

    def _cursor(self, integration_id: str) -> dict[str, RepoState]:
        """The integration's parsed cursor; raises :class:`CursorUnusable` (logged once) if it has none usable."""
        if integration_id in self._unusable:
            raise self._unusable[integration_id]
        if integration_id not in self._cursors:
            label = self._labels.get(integration_id, f"integration {integration_id}")
            try:
                try:
                    path_segment(integration_id)  # an id the backend cannot be asked about keeps no cursor
                except BackendError as error:
                    raise CursorUnusable(f"{label}: {error}") from None
                self._cursors[integration_id] = parse_cursor(self._raw.get(integration_id), label=label)
            except CursorUnusable as error:
                self._unusable[integration_id] = error
                log.error("%s", error, extra={"fields": {"event": "integration", "integration": integration_id}})
                raise
        return self._cursors[integration_id]

    def get(self, key: str) -> RepoState:
        """A copy of the stored state of ``key``."""
        integration_id, repo = self._where(key)
        with self._mutex:
            stored = self._cursor(integration_id).get(repo)
            return stored.model_copy(deep=True) if stored else RepoState()

    def polled(self, key: str) -> Polled | None:
        """When the stored cursor was last polled, and its place in that run (None when there is none,
        or it cannot be used)."""
        integration_id, repo = self._where(key)
        with self._mutex:
            try:
                stored = self._cursor(integration_id).get(repo)
            except CursorUnusable:
                return None
            return polled_of(stored) if stored else None

    def record_event(self, key: str, event_id: str, created_at: int) -> None:
        """Kept in memory; written with the integration's cursor."""
        checked_record({"key": key, "id": event_id, "t": created_at})
        integration_id, repo = self._where(key)
        with self._mutex:
            mark_event(self._cursor(integration_id).setdefault(repo, RepoState()).events, event_id, created_at)
            self._dirty.setdefault(integration_id, set()).add(repo)

    def record_run(self, key: str, run_id: str, created_at: int, state: str) -> None:
        """Kept in memory; written with the integration's cursor."""
        checked_record({"key": key, "id": run_id, "t": created_at, "s": state})
        integration_id, repo = self._where(key)
        with self._mutex:
            mark_run(self._cursor(integration_id).setdefault(repo, RepoState()).runs, run_id, created_at, state)
            self._dirty.setdefault(integration_id, set()).add(repo)

    def record_item(self, key: str, stream: str, item_id: str, created_at: int) -> None:
        """Kept in memory; written with the integration's cursor."""
        checked_record({"key": key, "id": item_id, "t": created_at})
        integration_id, repo = self._where(key)
        with self._mutex:
            mark_item(self._cursor(integration_id).setdefault(repo, RepoState()), stream, item_id, created_at)
            self._dirty.setdefault(integration_id, set()).add(repo)

    def commit_repo(self, key: str, state: RepoState) -> None:
        """Kept in memory (once it passes the checks it must pass when read back); written with the
        integration's cursor."""
        checked = checked_for_storage(state, key=key)
        integration_id, repo = self._where(key)
        with self._mutex:
            cursor = self._cursor(integration_id)
            if cursor.get(repo) != checked:
                cursor[repo] = checked
                self._dirty.setdefault(integration_id, set()).add(repo)

    def forget(self, key: str) -> None:
        """Removed from the integration's cursor when it is written."""
        integration_id, repo = self._where(key)
        with self._mutex:
            self._cursor(integration_id).pop(repo, None)
            self._dirty.get(integration_id, set()).discard(repo)
            self._removed.setdefault(integration_id, set()).add(repo)

    def finish_integration(self, integration_id: str, keys: Iterable[str]) -> None:
        """Write the changed repositories' cursors of this integration (read-modify-write, verified)."""
        with self._mutex:
            changed = {repo: self._cursor(integration_id)[repo] for repo in self._dirty.pop(integration_id, ())}
            removed = self._removed.pop(integration_id, set())
        if not changed and not removed:
            return
        label = self._labels.get(integration_id, f"integration {integration_id}")
        try:
            written = write_cursor(
                self._backend, integration_id, changed, label=label, removed=removed, max_body=self._max_body
            )
        except (BackendError, StateError) as error:
            message = f"{label}: cursor not saved in the backend ({error}); the next run may re-send this run's events"
            raise StateError(message) from None
        if written.dropped_etags:
            log.warning(
                "%s: its cursor (%s) fits the backend's %s body limit only without %d ETags; those streams cost "
                "a rate-limit unit each time they are read (split the integration, or use --state file)",
                label,
                _kb(written.size),
                _kb(self._max_body),
                written.dropped_etags,
                extra={"fields": {"event": "cursor_size", "integration": integration_id, "bytes": written.size}},
            )

    def close(self) -> None:
        """Nothing left: every integration was written in finish_integration."""


def write_cursor(
    backend: BackendClient,
    integration_id: str,
    changed: dict[str, RepoState],
    *,
    label: str,
    removed: Iterable[str] = (),
    max_body: int = DEFAULT_MAX_BODY_BYTES,
) -> Encoded:
    """Merge ``changed`` into ``config.cursor`` of a freshly read integration (dropping ``removed``), PUT it
    in the compact form within ``max_body`` bytes of request body, and verify; returns what was written.

    A cursor written meanwhile by a newer painchain-gh is never replaced. Raises :class:`StateError`
    when the cursor cannot fit the body limit, or the backend refuses its size anyway (413).
    """
    wanted = {repo: slim(state) for repo, state in changed.items()}
    gone = set(removed) - set(wanted)
    written: list[Encoded] = []

    def merge(fresh: dict[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = fresh["config"]
        raw = config.get("cursor")
        version = raw.get("version") if isinstance(raw, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > CURSOR_VERSION:
            raise StateError(f"{label}: config.cursor has a newer format version ({version}); not written over")
        existing = _readable_states(raw, label=label)
        merged = {repo: slim(state) for repo, state in existing.items() if repo not in gone}
        merged.update(wanted)
        rest = size_of({"config": {key: value for key, value in config.items() if key != "cursor"}})
        budget = max_body - rest - BODY_MARGIN - len(',"cursor":')
        try:
            encoded = encode(merged, budget=budget)
        except CursorTooLarge as error:
            raise StateError(
                f"{label}: its cursor needs {_kb(error.size)} even without ETags, more than the {_kb(budget)} "
                f"that the backend's {_kb(max_body)} body limit leaves beside its config "
                f"({len(merged)} repositories); split the integration, or keep cursors in a state file (--state file)"
            ) from None
        written.append(encoded)
        config["cursor"] = encoded.cursor
        return {"config": config}

    for _ in range(WRITE_ATTEMPTS):
        try:
            edited = backend.edit_integration(integration_id, merge)
        except BackendRejected as error:
            if error.status != 413:
                raise
            size = _kb(written[-1].size) if written else "its"
            raise StateError(
                f"{label}: the backend refused the cursor ({size}) as too large (413): its body limit is lower "
                f"than --backend-max-body-kb {max_body // 1024}; set that to the backend's limit"
            ) from None
        if edited is None:
            raise StateError(f"{label} is gone from the backend")
        ours = decode(written[-1].cursor)
        check = backend.get_integration(integration_id) or {}
        stored_config = check.get("config")
        stored = stored_config.get("cursor") if isinstance(stored_config, dict) else None
        try:
            stored_repos = raw_entries(stored) if isinstance(stored, dict) and not cursor_problem(stored) else None
        except CursorFormatError:
            stored_repos = None
        if (
            isinstance(stored_repos, dict)
            and all(stored_repos.get(repo) == ours.get(repo) for repo in wanted)
            and not gone & stored_repos.keys()
        ):
            return written[-1]
    raise StateError(f"{label}: another writer kept replacing config.cursor")


def _readable_states(raw: object, *, label: str) -> dict[str, RepoState]:
    """The readable repository cursors of a ``config.cursor`` as just read (none when it is unusable)."""
    try:
        return parse_cursor(raw, label=label)
    except CursorUnusable:
        return {}


def _kb(size: int) -> str:
    return f"{size / 1024:.1f} kB"


def load_backend_state(backend: BackendClient) -> StateFile:
    """Every GitHub integration's cursors as one state (for ``state show`` and ``state export``).

    An integration whose cursor cannot be used is reported and left out.
    """
    from painchain_gh.models import select_integrations  # noqa: PLC0415 - avoids a cycle at import

    state = StateFile()
    for integration in select_integrations(backend.list_integrations()).valid:
        try:
            cursor = parse_cursor(integration.config.cursor, label=integration.label)
        except CursorUnusable as error:
            log.error("%s", error)
            continue
        for repo, value in cursor.items():
            state.repos[state_key(integration.tenant_id, integration.id, repo)] = value
    return state


def import_backend_state(backend: BackendClient, state: StateFile, *, max_body: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Write an exported state's cursors into their integrations.

    Entries of a version-1 export (ids in lower case) go to every integration of the same
    tenant whose id lower-cases to theirs, as they would in a state file.
    """
    from painchain_gh.models import select_integrations  # noqa: PLC0415

    grouped: dict[str, dict[str, RepoState]] = {}
    for key, value in state.repos.items():
        integration_id, repo = split_key(key)
        grouped.setdefault(integration_id, {})[repo] = value
    if state.unmigrated:
        integrations = select_integrations(backend.list_integrations()).valid
        for key, value in state.unmigrated.items():
            tenant = key.partition("/")[0]
            lower_id, repo = split_key(key)
            for integration in integrations:
                same_tenant = (integration.tenant_id or "-").lower() == tenant.lower()
                if same_tenant and integration.id.lower() == lower_id.lower():
                    grouped.setdefault(integration.id, {}).setdefault(repo, value)
    for integration_id, repos in grouped.items():
        write_cursor(backend, integration_id, repos, label=f"integration {integration_id}", max_body=max_body)


def reset_backend_state(backend: BackendClient, *, repo: str | None, max_body: int = DEFAULT_MAX_BODY_BYTES) -> str:
    """Remove cursors (all, or one repository's) from every GitHub integration."""
    from painchain_gh.models import select_integrations  # noqa: PLC0415

    def remove_all(fresh: dict[str, Any]) -> dict[str, Any] | None:
        config: dict[str, Any] = fresh["config"]
        if "cursor" not in config:
            return None
        del config["cursor"]
        return {"config": config}

    touched = 0
    for integration in select_integrations(backend.list_integrations()).valid:
        if repo is None:
            touched += backend.edit_integration(integration.id, remove_all) is not None
        elif repo.lower() in _readable_states(integration.config.cursor, label=integration.label):
            write_cursor(
                backend, integration.id, {}, label=integration.label, removed=[repo.lower()], max_body=max_body
            )
            touched += 1
    return f"cursors removed from {touched} integration(s)"
