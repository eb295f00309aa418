"""The compact form of cursors kept in the backend (``config.cursor`` version 3), within a size budget (pure).

The real PainChain backend refuses request bodies over 100 kB (NestJS's default), and the whole
``config`` travels in one ``PUT``. Version 2 stored each repository's cursor as plain JSON, a few
kilobytes each: an App installation of 150 repositories no longer fit. Version 3 keeps only what
deduplication needs and packs it:

- **Slim windows.** An event, run, deployment status or image version is remembered only while it
  could still show up as new: created after ``last_polled_at - LATE_WINDOW`` (GitHub documents event
  latencies of up to 6 hours), plus every run or deployment that is still open. Older entries fold
  into the stream's ``floor`` (anything at or below it is old), so a quiet repository carries no ids.
- **One copy of each ETag.** GitHub's ETags hash the answer: every empty list of one credential has
  the same one. ETags are kept in a table and referenced by number; the fingerprint that owns them is
  written once when every stream shares it.
- **zlib, then base64** of the resulting JSON: ``{"version": 3, "encoding": "zlib+base64", "data": ...}``.

When even that is larger than the budget, the ETags that save the least are dropped first (runs,
deployments, images and discovery pages, then events of the repositories least recently changed):
a dropped ETag costs one rate-limit unit when its stream is next read, never an event. Ids and
floors are never dropped to make room; a cursor that cannot fit without them is refused
(:class:`CursorTooLarge`), and the caller says so with the size and what to do.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from painchain_gh.cursor import (
    DeploymentsCursor,
    EventsCursor,
    ImagesCursor,
    RepoState,
    RunsCursor,
)
from painchain_gh.transform.runs import RunState

CURSOR_VERSION = 3
ENCODING = "zlib+base64"
LATE_WINDOW = 8 * 3600  # GitHub: events arrive 30 s to 6 h late; two hours more for a run that was skipped
MAX_DECODED_BYTES = 16 * 1024 * 1024  # what a version-3 cursor may inflate to (a zip bomb is refused)
EVENTS_BOUND = 200
RUNS_BOUND = 100
DEPLOYMENTS_BOUND = 50
STATUSES_BOUND = 200
IMAGES_BOUND = 200
_STREAMS = ("events", "runs", "deployments", "images")
_OPTIONAL_FIRST = ("runs", "deployments", "images")  # dropped before any events ETag


class CursorFormatError(ValueError):
    """A version-3 cursor that cannot be decoded (the message says why, never the data)."""


class CursorTooLarge(ValueError):
    """Even without any ETag the cursor is larger than the budget."""

    def __init__(self, size: int, budget: int) -> None:
        super().__init__(f"{size} bytes, over the {budget} bytes left for it")
        self.size = size
        self.budget = budget


@dataclass(frozen=True)
class Encoded:
    """A cursor ready for ``config.cursor``, its size, and which ETags were left out to make it fit."""

    cursor: dict[str, Any]
    size: int
    dropped_etags: int = 0


# -- slim windows --------------------------------------------------------------------------------


def slim(state: RepoState) -> RepoState:
    """``state`` with only the entries that can still matter (see the module doc), each stream bounded."""
    horizon = (state.last_polled_at or 0) - LATE_WINDOW
    events = EventsCursor(floor=state.events.floor, etag=state.events.etag, etag_owner=state.events.etag_owner)
    events.seen, events.floor = _kept(state.events.seen, events.floor, horizon, EVENTS_BOUND)
    runs = RunsCursor(floor=state.runs.floor, etag=state.runs.etag, etag_owner=state.runs.etag_owner)
    open_runs = frozenset(key for key, (_, run) in state.runs.runs.items() if not RunState.parse(run).is_completed)
    created = {key: value[0] for key, value in state.runs.runs.items()}
    kept, runs.floor = _kept(created, runs.floor, horizon, RUNS_BOUND, keep=open_runs)
    runs.runs = {key: state.runs.runs[key] for key in kept}
    return RepoState(
        last_polled_at=state.last_polled_at,
        poll_rank=state.poll_rank,
        poll_interval=state.poll_interval,
        events=events,
        runs=runs,
        deployments=_slim_deployments(state.deployments, horizon),
        images=_slim_images(state.images, horizon),
        discovery=state.discovery,
    )


def _kept(
    entries: Mapping[str, int], floor: int | None, horizon: int, bound: int, *, keep: frozenset[str] = frozenset()
) -> tuple[dict[str, int], int | None]:
    """The entries created after ``horizon`` (or in ``keep``), the newest ``bound`` of them; the floor
    rises to the newest creation time of what is left out."""
    ordered = sorted(entries.items(), key=lambda item: (item[1], item[0]), reverse=True)
    kept: dict[str, int] = {}
    for key, created in ordered:
        if (created > horizon or key in keep) and len(kept) < bound:
            kept[key] = created
        else:
            floor = max(floor or 0, created)
    return kept, floor


def _slim_deployments(cursor: DeploymentsCursor, horizon: int) -> DeploymentsCursor:
    slimmed = cursor.model_copy(deep=True)
    slimmed.statuses, slimmed.floor = _kept(cursor.statuses, cursor.floor, horizon, STATUSES_BOUND)
    created = {key: value[0] for key, value in cursor.deployments.items()}
    kept, slimmed.floor = _kept(created, slimmed.floor, horizon, DEPLOYMENTS_BOUND)
    slimmed.deployments = {key: cursor.deployments[key] for key in kept}
    return slimmed


def _slim_images(cursor: ImagesCursor | None, horizon: int) -> ImagesCursor | None:
    if cursor is None:
        return None
    slimmed = cursor.model_copy(deep=True)
    slimmed.versions, slimmed.floor = _kept(cursor.versions, cursor.floor, horizon, IMAGES_BOUND)
    return slimmed


# -- packing -------------------------------------------------------------------------------------


def _pack(repos: Mapping[str, RepoState], drop: Callable[[str, str], bool]) -> dict[str, Any]:
    """The JSON document: ETags as numbers into one table, one shared owner written once.
    ``drop(repo, stream)`` says which ETags to leave out."""
    owners = {
        stream_cursor.etag_owner
        for state in repos.values()
        for stream_cursor in _stream_cursors(state)
        if stream_cursor.etag is not None
    }
    shared_owner = owners.pop() if len(owners) == 1 else None
    table: dict[str, int] = {}
    packed: dict[str, Any] = {}
    for name, state in repos.items():
        document = state.model_dump(mode="json", exclude_defaults=True)
        for stream in _STREAMS:
            part = document.get(stream)
            if not isinstance(part, dict):
                continue
            etag, owner = part.pop("etag", None), part.pop("etag_owner", None)
            if etag is not None and not drop(name, stream):
                part["e"] = table.setdefault(etag, len(table))
                if owner != shared_owner:
                    part["o"] = owner
        discovery = document.get("discovery")
        for source in (discovery or {}).get("sources", {}).values():
            for page in source.get("pages", []):
                if page.get("etag") is not None and drop(name, "discovery"):
                    page.pop("etag")
        packed[name] = document
    return {"owner": shared_owner, "etags": list(table), "repos": packed}


def _stream_cursors(state: RepoState) -> list[EventsCursor | RunsCursor | DeploymentsCursor | ImagesCursor]:
    cursors: list[EventsCursor | RunsCursor | DeploymentsCursor | ImagesCursor] = [
        state.events,
        state.runs,
        state.deployments,
    ]
    return cursors + ([state.images] if state.images is not None else [])


def _wrap(document: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    data = base64.b64encode(zlib.compress(text, 9)).decode("ascii")
    return {"version": CURSOR_VERSION, "encoding": ENCODING, "data": data}


def size_of(cursor: Mapping[str, Any]) -> int:
    """How many bytes ``cursor`` adds to a JSON request body."""
    return len(json.dumps(cursor, separators=(",", ":")))


def encode(repos: Mapping[str, RepoState], *, budget: int) -> Encoded:
    """``repos`` (slimmed by the caller) as a version-3 cursor of at most ``budget`` bytes.

    ETags are dropped, those that save the least first, until it fits; raises :class:`CursorTooLarge`
    when it does not fit without any."""
    cursor = _wrap(_pack(repos, lambda repo, stream: False))
    if size_of(cursor) <= budget:
        return Encoded(cursor, size_of(cursor))
    order = _drop_order(repos)
    low, high = 1, len(order)  # the fewest ETags whose removal makes it fit (binary search)
    best: dict[str, Any] | None = None
    while low <= high:
        middle = (low + high) // 2
        attempt = _wrap(_pack(repos, _dropping(set(order[:middle]))))
        if size_of(attempt) <= budget:
            best, high = attempt, middle - 1
        else:
            low = middle + 1
    if best is None:
        raise CursorTooLarge(size_of(_wrap(_pack(repos, lambda repo, stream: True))), budget)
    return Encoded(best, size_of(best), dropped_etags=low)


def _dropping(gone: set[tuple[str, str]]) -> Callable[[str, str], bool]:
    return lambda repo, stream: (repo, stream) in gone


def _drop_order(repos: Mapping[str, RepoState]) -> list[tuple[str, str]]:
    """Which ETags to give up first: every one but the events', then the events' of the repositories
    whose newest known event is oldest (the least likely to change; each costs a unit per poll)."""
    optional = [
        (name, stream)
        for name, state in repos.items()
        for stream in (*_OPTIONAL_FIRST, "discovery")
        if _has_etag(state, stream)
    ]
    quiet_first = sorted(
        (name for name, state in repos.items() if state.events.etag is not None),
        key=lambda name: (max(repos[name].events.seen.values(), default=repos[name].events.floor or 0), name),
    )
    return optional + [(name, "events") for name in quiet_first]


def _has_etag(state: RepoState, stream: str) -> bool:
    if stream == "discovery":
        sources = state.discovery.sources.values() if state.discovery is not None else []
        return any(page.etag is not None for source in sources for page in source.pages)
    part = getattr(state, stream)
    return part is not None and part.etag is not None


# -- unpacking -----------------------------------------------------------------------------------


def decode(cursor: Mapping[str, Any]) -> dict[str, Any]:
    """The repositories' raw cursors (JSON, to be checked by the caller) of a version-3 cursor.

    Raises :class:`CursorFormatError` for anything but the documented form (an unknown encoding,
    data that is not base64, zlib or JSON, more than :data:`MAX_DECODED_BYTES` once inflated)."""
    if cursor.get("encoding") != ENCODING or not isinstance(cursor.get("data"), str):
        raise CursorFormatError("config.cursor version 3 has no data in a known encoding")
    try:
        packed = base64.b64decode(cursor["data"].encode("ascii"), validate=True)
        inflater = zlib.decompressobj()
        text = inflater.decompress(packed, MAX_DECODED_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise CursorFormatError("config.cursor data is truncated or larger than painchain-gh reads")
        document = json.loads(text)
    except (UnicodeEncodeError, binascii.Error, zlib.error, ValueError, RecursionError) as error:
        if isinstance(error, CursorFormatError):
            raise
        raise CursorFormatError("config.cursor data is not readable") from None
    if not isinstance(document, dict) or not isinstance(document.get("repos"), dict):
        raise CursorFormatError("config.cursor data has no repos object")
    etags = document.get("etags")
    owner = document.get("owner")
    if not isinstance(etags, list) or not all(isinstance(etag, str) for etag in etags):
        raise CursorFormatError("config.cursor data has no ETag table")
    return {name: _unpack(value, etags, owner) for name, value in document["repos"].items()}


def _unpack(value: Any, etags: list[str], owner: Any) -> Any:
    """One repository's document with its ETag references resolved (left as they are when odd: the
    caller's checks refuse that repository alone)."""
    if not isinstance(value, dict):
        return value
    for stream in _STREAMS:
        part = value.get(stream)
        if not isinstance(part, dict) or "e" not in part:
            continue
        index = part.pop("e")
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(etags):
            part["etag"] = etags[index]
            part["etag_owner"] = part.pop("o", owner)
        else:
            part.pop("o", None)
    return value
