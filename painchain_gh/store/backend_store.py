"""Cursors kept in the PainChain backend, under each integration's ``config.cursor``.

This makes CronJob pods stateless. The backend has no cursor endpoint and ``PUT`` replaces
the whole config, so every write is a read-modify-write done immediately before writing:
``GET /integrations/{id}``, change only ``config.cursor``, ``PUT`` the config exactly as read
(a token is only ever sent back in the same form it was just read): ``BackendClient.edit_integration``,
which the integration status writer shares. Shards write their own
repositories' entries and verify them after writing, retrying when another shard's write
crossed theirs. Each repository's cursor is bounded (:data:`EVENTS_BOUND` event ids and
:data:`RUNS_BOUND` runs, a few kilobytes at most).

``config.cursor`` is ``{"version": 2, "repos": {"owner/repo": ...}}`` (owner and repository in
lower case; version 1 had the same shape and is read as is). Every cursor is untrusted: one
integration's cursor that cannot be used (not an object, no ``repos`` object, an unknown or newer
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
from painchain_gh.cursor import (
    DeploymentsCursor,
    EventsCursor,
    ImagesCursor,
    RepoState,
    RunsCursor,
    mark_deployment,
    mark_event,
    mark_image,
    mark_item,
    mark_run,
    mark_status,
)
from painchain_gh.errors import BackendError, StateError
from painchain_gh.jobs import state_key
from painchain_gh.models import Integration
from painchain_gh.store.checks import CursorError, checked_for_storage, checked_record, parse_repo_state
from painchain_gh.store.model import OLDEST_VERSION, STATE_VERSION, StateFile

log = logging.getLogger("painchain_gh")

EVENTS_BOUND = 200
RUNS_BOUND = 100
DEPLOYMENTS_BOUND = 50
STATUSES_BOUND = 200
IMAGES_BOUND = 200
WRITE_ATTEMPTS = 3


class CursorUnusable(BackendError):
    """One integration's ``config.cursor`` cannot be used: its repositories fail, the others go on."""


def split_key(key: str) -> tuple[str, str]:
    """``tenant/integration/owner/repo`` → (integration id, ``owner/repo`` in lower case); the
    owner-wide entry of container images has ``*`` as its repository (``owner/*``)."""
    parts = key.split("/")
    if len(parts) != 4 or not parts[1]:
        raise StateError(f"unexpected state key {key!r}")
    return parts[1], f"{parts[2]}/{parts[3]}".lower()


def compact(state: RepoState) -> RepoState:
    """The same cursor within the backend bounds (oldest entries fold into the floor)."""
    events = EventsCursor(floor=state.events.floor, etag=state.events.etag, etag_owner=state.events.etag_owner)
    for event_id, created in sorted(state.events.seen.items(), key=lambda item: item[1]):
        mark_event(events, event_id, created, window=EVENTS_BOUND)
    runs = RunsCursor(floor=state.runs.floor, etag=state.runs.etag, etag_owner=state.runs.etag_owner)
    for run_id, (created, run_state) in sorted(state.runs.runs.items(), key=lambda item: item[1][0]):
        mark_run(runs, run_id, created, run_state, window=RUNS_BOUND)
    return RepoState(
        last_polled_at=state.last_polled_at,
        poll_interval=state.poll_interval,
        events=events,
        runs=runs,
        deployments=_compact_deployments(state.deployments),
        images=_compact_images(state.images),
        discovery=state.discovery,
    )


def _compact_deployments(cursor: DeploymentsCursor) -> DeploymentsCursor:
    kept = DeploymentsCursor(floor=cursor.floor, etag=cursor.etag, etag_owner=cursor.etag_owner)
    for key, created in sorted(cursor.statuses.items(), key=lambda item: item[1]):
        mark_status(kept, key, created, window=STATUSES_BOUND)
    for key, (created, updated) in sorted(cursor.deployments.items(), key=lambda item: item[1][0]):
        mark_deployment(kept, key, created, updated, window=DEPLOYMENTS_BOUND)
    return kept


def _compact_images(cursor: ImagesCursor | None) -> ImagesCursor | None:
    if cursor is None:
        return None
    kept = cursor.model_copy(update={"versions": {}}, deep=True)
    for key, created in sorted(cursor.versions.items(), key=lambda item: item[1]):
        mark_image(kept, key, created, window=IMAGES_BOUND)
    return kept


def cursor_problem(raw: object) -> str | None:
    """Why a whole ``config.cursor`` cannot be used, or None (absent counts as empty)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return "config.cursor is not an object"
    version = raw.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > STATE_VERSION:
        return (
            f"config.cursor has format version {version}, newer than this painchain-gh understands "
            f"({STATE_VERSION}); upgrade painchain-gh"
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < OLDEST_VERSION:
        return "config.cursor has no known format version"
    if not isinstance(raw.get("repos"), dict):
        return "config.cursor has no repos object"
    return None


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
    parsed: dict[str, RepoState] = {}
    for name, value in raw["repos"].items():
        try:
            parsed[str(name).lower()] = parse_repo_state(value)
        except CursorError as error:
            log.error("%s: the cursor of %s is unreadable (%s); it starts over", label, name, error)
    return parsed


class BackendStore:
    """Cursors in ``config.cursor`` of each integration."""

    def __init__(self, backend: BackendClient, integrations: Iterable[Integration]) -> None:
        self._backend = backend
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
            changed = {
                repo: compact(self._cursor(integration_id)[repo]) for repo in self._dirty.pop(integration_id, ())
            }
            removed = self._removed.pop(integration_id, set())
        if not changed and not removed:
            return
        label = self._labels.get(integration_id, f"integration {integration_id}")
        try:
            write_cursor(self._backend, integration_id, changed, label=label, removed=removed)
        except (BackendError, StateError) as error:
            message = f"{label}: cursor not saved in the backend ({error}); the next run may re-send this run's events"
            raise StateError(message) from None

    def close(self) -> None:
        """Nothing left: every integration was written in finish_integration."""


def write_cursor(
    backend: BackendClient,
    integration_id: str,
    changed: dict[str, RepoState],
    *,
    label: str,
    removed: Iterable[str] = (),
) -> None:
    """Merge ``changed`` into ``config.cursor`` of a freshly read integration (dropping ``removed``), PUT it,
    and verify.

    A cursor written meanwhile by a newer painchain-gh is never replaced.
    """
    wanted = {repo: state.model_dump(mode="json") for repo, state in changed.items()}
    gone = set(removed) - set(wanted)

    def merge(fresh: dict[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = fresh["config"]
        cursor = config.get("cursor")
        version = cursor.get("version") if isinstance(cursor, dict) else None
        if isinstance(version, int) and version > STATE_VERSION:
            raise StateError(f"{label}: config.cursor has a newer format version ({version}); not written over")
        repos = cursor.get("repos") if isinstance(cursor, dict) else None
        repos = repos if isinstance(repos, dict) else {}
        kept = {repo: value for repo, value in repos.items() if repo not in gone}
        config["cursor"] = {"version": STATE_VERSION, "repos": {**kept, **wanted}}
        return {"config": config}

    for _ in range(WRITE_ATTEMPTS):
        if backend.edit_integration(integration_id, merge) is None:
            raise StateError(f"{label} is gone from the backend")
        check = backend.get_integration(integration_id) or {}
        stored_config = check.get("config")
        stored = stored_config.get("cursor") if isinstance(stored_config, dict) else None
        stored_repos = stored.get("repos") if isinstance(stored, dict) else None
        if (
            isinstance(stored_repos, dict)
            and all(stored_repos.get(repo) == value for repo, value in wanted.items())
            and not gone & stored_repos.keys()
        ):
            return
    raise StateError(f"{label}: another writer kept replacing config.cursor")


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


def import_backend_state(backend: BackendClient, state: StateFile) -> None:
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
        write_cursor(
            backend,
            integration_id,
            {repo: compact(v) for repo, v in repos.items()},
            label=f"integration {integration_id}",
        )


def reset_backend_state(backend: BackendClient, *, repo: str | None) -> str:
    """Remove cursors (all, or one repository's) from every GitHub integration."""
    from painchain_gh.models import select_integrations  # noqa: PLC0415

    def remove(fresh: dict[str, Any]) -> dict[str, Any] | None:
        config: dict[str, Any] = fresh["config"]
        if "cursor" not in config:
            return None
        if repo is None:
            del config["cursor"]
        else:
            cursor = config["cursor"]
            repos = cursor.get("repos") if isinstance(cursor, dict) else None
            if not isinstance(repos, dict) or repos.pop(repo.lower(), None) is None:
                return None
        return {"config": config}

    integrations = select_integrations(backend.list_integrations()).valid
    touched = sum(backend.edit_integration(integration.id, remove) is not None for integration in integrations)
    return f"cursors removed from {touched} integration(s)"
