"""Per-repository cursors and the pure rules that decide what is new (no I/O).

GitHub event ids are not monotonic and events can arrive up to hours late, so "largest id
seen" is not a safe high-water mark. Instead each stream keeps a bounded window of what it
has already handled (event ids; run ids with their last forwarded state) plus a ``floor``:
anything created at or before the floor is old. The floor starts at ``now - lookback`` on a
repository's first sync and only rises when the window is full and its oldest entries are
evicted. An item is new when it is above the floor and not in the window.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from painchain_gh.transform.runs import RunState

EVENTS_WINDOW = 400  # GitHub keeps at most 300 events per repository timeline.
RUNS_WINDOW = 200
EVENTS_OVERLAP = 3600  # how far below the newest handled event to keep paging, in seconds
RUNS_OVERLAP = 600
STUCK_RUN_AGE = 86400  # open runs older than this (relative to the newest) no longer extend paging


class EventsCursor(BaseModel):
    """What the Events API stream of one repository has handled."""

    model_config = ConfigDict(extra="forbid")

    floor: int | None = None
    seen: dict[str, int] = Field(default_factory=dict, description="event id -> created_at (epoch seconds)")
    etag: str | None = None
    etag_owner: str | None = Field(default=None, description="fingerprint of the token the ETag was got with")


class RunsCursor(BaseModel):
    """What the workflow runs stream of one repository has handled."""

    model_config = ConfigDict(extra="forbid")

    floor: int | None = None
    runs: dict[str, tuple[int, str]] = Field(
        default_factory=dict, description="run id -> (created_at epoch seconds, last forwarded state)"
    )
    etag: str | None = None
    etag_owner: str | None = None


class RepoState(BaseModel):
    """Everything remembered about one (tenant, integration, repository)."""

    model_config = ConfigDict(extra="forbid")

    last_polled_at: int | None = None
    poll_interval: int | None = Field(default=None, description="the last X-Poll-Interval GitHub asked for")
    events: EventsCursor = Field(default_factory=EventsCursor)
    runs: RunsCursor = Field(default_factory=RunsCursor)


def start_floor(floor: int | None, *, now: int, lookback: int) -> int:
    """The floor to use: the stored one, or ``now - lookback`` on a first sync."""
    return floor if floor is not None else now - lookback


def is_new_event(cursor: EventsCursor, event_id: str, created_at: int) -> bool:
    """Whether an event has not been handled yet."""
    return event_id not in cursor.seen and (cursor.floor is None or created_at > cursor.floor)


def mark_event(cursor: EventsCursor, event_id: str, created_at: int, *, window: int = EVENTS_WINDOW) -> None:
    """Record an event as handled, evicting the oldest ones beyond ``window`` into the floor."""
    cursor.seen[event_id] = created_at
    if len(cursor.seen) > window:
        ordered = sorted(cursor.seen.items(), key=lambda item: (item[1], item[0]))
        evicted = ordered[: len(ordered) - window]
        cursor.floor = max([cursor.floor or 0, *(created for _, created in evicted)])
        for key, _ in evicted:
            del cursor.seen[key]


def events_paging_bound(cursor: EventsCursor) -> int | None:
    """Stop following pages once they reach events older than this (None: follow all)."""
    if cursor.seen:
        return max(cursor.floor or 0, max(cursor.seen.values()) - EVENTS_OVERLAP)
    return cursor.floor


def is_changed_run(cursor: RunsCursor, run_id: str, created_at: int, state: str) -> bool:
    """Whether a run is new (above the floor) or its state differs from the last one forwarded."""
    known = cursor.runs.get(run_id)
    if known is not None:
        return known[1] != state
    return cursor.floor is None or created_at > cursor.floor


def mark_run(cursor: RunsCursor, run_id: str, created_at: int, state: str, *, window: int = RUNS_WINDOW) -> None:
    """Record a run's state as forwarded, evicting the oldest runs beyond ``window``."""
    cursor.runs[run_id] = (created_at, state)
    if len(cursor.runs) > window:
        ordered = sorted(cursor.runs.items(), key=lambda item: (item[1][0], item[0]))
        evicted = ordered[: len(ordered) - window]
        cursor.floor = max([cursor.floor or 0, *(created for _, (created, _state) in evicted)])
        for key, _ in evicted:
            del cursor.runs[key]


def runs_paging_bound(cursor: RunsCursor) -> int | None:
    """Stop following pages once they reach runs older than this: the overlap below the
    newest known run, or the oldest run still open (it may still change), whichever is older."""
    if not cursor.runs:
        return cursor.floor
    newest = max(created for created, _ in cursor.runs.values())
    bound = max(cursor.floor or 0, newest - RUNS_OVERLAP)
    # Runs stuck in a queue for more than a day do not make every poll read ten pages.
    open_runs = [
        created
        for created, state in cursor.runs.values()
        if not RunState.parse(state).is_completed and created >= newest - STUCK_RUN_AGE
    ]
    return min([bound, *open_runs])


def gap_span(
    *, bound: int | None, oldest_fetched: int | None, reached_known: bool, exhausted: bool
) -> tuple[int, int] | None:
    """The span of time the Events API may no longer hold, when its window did not reach back.

    ``exhausted`` means every page GitHub offers was read; if even then no handled event and
    nothing at or below ``bound`` was reached, events between the two may be missing.
    """
    if bound is None or oldest_fetched is None or reached_known or not exhausted:
        return None
    return (bound, oldest_fetched) if oldest_fetched > bound else None
