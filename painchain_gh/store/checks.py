"""Checks on cursors read from a state file, a journal or the backend (pure).

Every cursor is untrusted input: besides the model's types, timestamps must be whole seconds
between 1970 and 9999, identifiers and run states short strings, and an ETag (sent back to
GitHub as a header) printable ASCII of at most :data:`ETAG_MAX` characters. A bad ETag is only
an optimisation lost, so it is dropped; anything else makes the cursor unreadable.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ValidationError

from painchain_gh.cursor import (
    DEPLOYMENT_ID_LIMIT,
    ENVIRONMENTS_REMEMBERED,
    ID_MAX,
    IN_PROGRESS_BOUND,
    NAME_MAX,
    POLL_RANK_MAX,
    RUN_STATE_MAX,
    SUCCESSES_PER_ENVIRONMENT,
    DeploymentsCursor,
    ImagesCursor,
    RepoState,
    is_sha,
    rememberable_environment,
    rememberable_tag,
)
from painchain_gh.discovery.cache import DiscoveryCache
from painchain_gh.errors import UnstorableState
from painchain_gh.text import escape
from painchain_gh.timeutil import MAX_EPOCH, MIN_EPOCH, is_sane_epoch

ETAG_MAX = 200
POLL_INTERVAL_MAX = 7 * 86400


class CursorError(ValueError):
    """A cursor that cannot be trusted; the message says where (e.g. ``events.seen.12``)."""


def is_header_safe(value: str | None) -> bool:
    """Whether a stored ETag may be sent back as a header: printable ASCII, bounded."""
    return value is not None and 0 < len(value) <= ETAG_MAX and value.isascii() and value.isprintable()


def checked_identifier(value: object, *, where: str) -> str:
    """An event or run id from a journal or cursor: a short string or a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CursorError(f"{where}: not an identifier")
    text = str(value)
    if not 0 < len(text) <= ID_MAX:
        raise CursorError(f"{where}: identifier too long or empty")
    return text


def checked_epoch(value: object, *, where: str) -> int:
    """A timestamp in whole seconds between 1970 and 9999."""
    if not is_sane_epoch(value):
        raise CursorError(f"{where}: not a timestamp between 1970 and 9999")
    assert isinstance(value, int)
    return value


def checked_run_state(value: object, *, where: str) -> str:
    """A run state such as ``1:completed:success``."""
    if not isinstance(value, str) or not 0 < len(value) <= RUN_STATE_MAX:
        raise CursorError(f"{where}: not a run state")
    return value


def _checked_optional_epoch(value: int | None, *, where: str) -> None:
    if value is not None:
        checked_epoch(value, where=where)


def _streams(state: RepoState) -> list[tuple[str, BaseModel]]:
    """Every stream cursor of a repository by name (events, runs, deployments, and any added later)."""
    streams = [(name, getattr(state, name)) for name in type(state).model_fields if name != "discovery"]
    return [(name, value) for name, value in streams if isinstance(value, BaseModel)]


def check_repo_state(state: RepoState) -> RepoState:
    """``state`` with unsafe ETags dropped; raises :class:`CursorError` when anything else is out of range."""
    _checked_optional_epoch(state.last_polled_at, where="last_polled_at")
    if state.poll_interval is not None and not 0 <= state.poll_interval <= POLL_INTERVAL_MAX:
        raise CursorError("poll_interval: out of range")
    if state.poll_rank is not None and not 0 <= state.poll_rank <= POLL_RANK_MAX:
        raise CursorError("poll_rank: out of range")
    for event_id, created in state.events.seen.items():
        checked_identifier(event_id, where="events.seen")
        checked_epoch(created, where=f"events.seen.{event_id}")
    for run_id, (created, run_state) in state.runs.runs.items():
        checked_identifier(run_id, where="runs.runs")
        checked_epoch(created, where=f"runs.runs.{run_id}")
        checked_run_state(run_state, where=f"runs.runs.{run_id}")
    _check_deployments(state.deployments)
    _check_successes(state.deployments)
    _checked_optional_epoch(state.runs.read_at, where="runs.read_at")
    if state.events.release_tag is not None and not rememberable_tag(state.events.release_tag):
        raise CursorError("events.release_tag: not a release tag of at most 100 printable characters")
    if state.images is not None:
        _check_images(state.images)
    for name, stream in _streams(state):
        floor = getattr(stream, "floor", None)
        _checked_optional_epoch(floor, where=f"{name}.floor")
        etag, owner = getattr(stream, "etag", None), getattr(stream, "etag_owner", None)
        if any(value is not None and not is_header_safe(value) for value in (etag, owner)):
            stream.etag = stream.etag_owner = None  # type: ignore[attr-defined]
    if state.discovery is not None:
        state.discovery = check_discovery(state.discovery)
    return state


def _check_deployments(deployments: DeploymentsCursor) -> None:
    for deployment_id, (created, updated) in deployments.deployments.items():
        checked_identifier(deployment_id, where="deployments.deployments")
        checked_epoch(created, where=f"deployments.deployments.{deployment_id}")
        if updated:  # "" when GitHub gave no updated_at
            checked_run_state(updated, where=f"deployments.deployments.{deployment_id}")
    for status_id, created in deployments.statuses.items():
        checked_identifier(status_id, where="deployments.statuses")
        checked_epoch(created, where=f"deployments.statuses.{status_id}")
    if len(deployments.in_progress) > IN_PROGRESS_BOUND:
        raise CursorError("deployments.in_progress: too many entries")
    for deployment_id, created in deployments.in_progress.items():
        checked_identifier(deployment_id, where="deployments.in_progress")
        checked_epoch(created, where=f"deployments.in_progress.{deployment_id}")
    _checked_optional_epoch(deployments.read_at, where="deployments.read_at")


def _check_successes(cursor: DeploymentsCursor) -> None:
    """Each environment's last successful deployments: a bounded name, ids and commit SHAs."""
    if len(cursor.successes) > ENVIRONMENTS_REMEMBERED:
        raise CursorError("deployments.successes: too many environments")
    for environment, entries in cursor.successes.items():
        if not rememberable_environment(environment):
            raise CursorError("deployments.successes: not an environment name of at most 100 printable characters")
        if len(entries) > SUCCESSES_PER_ENVIRONMENT:
            raise CursorError(f"deployments.successes.{environment}: too many deployments")
        for deployment_id, sha in entries:
            if not 0 <= deployment_id < DEPLOYMENT_ID_LIMIT or not is_sha(sha):
                raise CursorError(f"deployments.successes.{environment}: not a deployment id and commit SHA")


def _check_images(images: ImagesCursor) -> None:
    for version_id, created in images.versions.items():
        checked_identifier(version_id, where="images.versions")
        checked_epoch(created, where=f"images.versions.{version_id}")
    for name, updated in images.packages.items():
        if not isinstance(name, str) or not 0 < len(name) <= NAME_MAX:
            raise CursorError("images.packages: not a package name")
        if updated:
            checked_run_state(updated, where=f"images.packages.{name}")
    if images.owner_kind not in (None, "orgs", "users"):
        raise CursorError("images.owner_kind: not 'orgs' or 'users'")


def check_discovery(cache: DiscoveryCache) -> DiscoveryCache:
    """A discovery cache safe to use: a source whose page URLs leave its API base is dropped (it would
    send the token elsewhere), unsafe ETags are dropped; a ``gone`` time out of range raises."""
    for name, since in cache.gone.items():
        if not (math.isfinite(since) and MIN_EPOCH <= since <= MAX_EPOCH):
            raise CursorError(f"discovery.gone.{name}: not a timestamp between 1970 and 9999")
    sources = {}
    for key, source in cache.sources.items():
        base = source.api_url.rstrip("/") + "/"
        urls = [page.url for page in source.pages] + ([source.resume_url] if source.resume_url else [])
        if not base.startswith(("https://", "http://")) or not all(url.startswith(base) for url in urls):
            continue
        pages = tuple(
            page if page.etag is None or is_header_safe(page.etag) else page.model_copy(update={"etag": None})
            for page in source.pages
        )
        sources[key] = source.model_copy(update={"pages": pages})
    return cache.model_copy(update={"sources": sources})


def checked_for_storage(state: RepoState, *, key: str) -> RepoState:
    """``state`` as it will be read back (the same checks as :func:`parse_repo_state`, unsafe ETags
    dropped); raises :class:`~painchain_gh.errors.UnstorableState` naming the key and the value's place."""
    try:
        return parse_repo_state(state.model_dump(mode="json"))
    except CursorError as error:
        raise UnstorableState(f"the state of {escape(key, 200)} cannot be stored ({error}); not saved") from None


def checked_record(record: dict[str, Any]) -> None:
    """Check a journal record before it is written, as :func:`~painchain_gh.store.file_store.apply_to_repo`
    checks it when it is read; raises :class:`~painchain_gh.errors.UnstorableState`."""
    try:
        checked_identifier(record["id"], where="id")
        checked_epoch(record["t"], where="t")
        if "s" in record:
            checked_run_state(record["s"], where="s")
    except CursorError as error:
        where = escape(str(record.get("key")), 200)
        raise UnstorableState(f"an acknowledgement for {where} cannot be stored ({error}); not saved") from None


def parse_repo_state(value: Any) -> RepoState:
    """Validate one repository's cursor from untrusted JSON; raises :class:`CursorError`."""
    try:
        state = RepoState.model_validate(value)
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "cursor"
        raise CursorError(f"{where}: {first['msg']}") from None
    except RecursionError:
        raise CursorError("cursor: nested too deeply") from None
    return check_repo_state(state)
