"""Per-repository cursors and the pure rules that decide what is new (no I/O).

GitHub event ids are not monotonic and events can arrive up to hours late, so "largest id
seen" is not a safe high-water mark. Instead each stream keeps a bounded window of what it
has already handled (event ids; run ids with their last forwarded state) plus a ``floor``:
anything created at or before the floor is old. The floor starts at ``now - lookback`` on a
repository's first sync and only rises when the window is full and its oldest entries are
evicted. An item is new when it is above the floor and not in the window.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from painchain_gh.discovery.cache import DiscoveryCache
from painchain_gh.transform.runs import RunState

EVENTS_WINDOW = 400  # GitHub keeps at most 300 events per repository timeline.
RUNS_WINDOW = 200
EVENTS_OVERLAP = 3600  # how far below the newest handled event to keep paging, in seconds
RUNS_OVERLAP = 600
STUCK_RUN_AGE = 86400  # open runs older than this (relative to the newest) no longer extend paging
DEPLOYMENTS_WINDOW = 200
STATUSES_WINDOW = 1000  # a deployment has a handful of statuses (queued, in_progress, success, inactive)
IMAGES_WINDOW = 500
IN_PROGRESS_BOUND = 50  # deployments still in progress that a repository remembers
SUCCESSES_PER_ENVIRONMENT = 2  # the last deployments that reached success, per environment
ENVIRONMENTS_REMEMBERED = 5  # about 130 bytes each in the state: the backend keeps 100 kB for all repositories
ENVIRONMENT_MAX = 100  # longer environment names are not remembered (GitHub allows 255)
RELEASE_TAG_MAX = 100  # a longer tag is not remembered
SHA_MIN, SHA_MAX = 7, 64
DEPLOYMENT_ID_LIMIT = 10**18  # ids at or above it are not remembered

# Bounds of what a cursor stores, checked the same way when it is written and when it is read
# (store/checks.py): a value a run writes is always one the next run can read.
ID_MAX = 100  # an event, run, deployment or status id (GitHub's are 64-bit integers: 20 digits)
NAME_MAX = 300  # a container package name (OCI allows about 255 characters)
RUN_STATE_MAX = 200  # a run state such as "1:completed:success", a deployment's updated_at


class EventsCursor(BaseModel):
    """What the Events API stream of one repository has handled."""

    model_config = ConfigDict(extra="forbid")

    floor: int | None = None
    seen: dict[str, int] = Field(default_factory=dict, description="event id -> created_at (epoch seconds)")
    etag: str | None = None
    etag_owner: str | None = Field(default=None, description="fingerprint of the token the ETag was got with")
    release_tag: str | None = Field(
        default=None, description="the tag of the last full release sent (what the next release is compared with)"
    )


class RunsCursor(BaseModel):
    """What the workflow runs stream of one repository has handled."""

    model_config = ConfigDict(extra="forbid")

    floor: int | None = None
    runs: dict[str, tuple[int, str]] = Field(
        default_factory=dict, description="run id -> (created_at epoch seconds, last forwarded state)"
    )
    etag: str | None = None
    etag_owner: str | None = None
    read_at: int | None = Field(default=None, description="when the runs list was last read (the sweep)")


class DeploymentsCursor(BaseModel):
    """What the deployments stream of one repository has handled.

    A deployment's statuses are read only when it is new or its ``updated_at`` moved (GitHub
    bumps it when a status is added); each status is sent once, keyed by its own id.
    """

    model_config = ConfigDict(extra="forbid")

    floor: int | None = None
    deployments: dict[str, tuple[int, str]] = Field(
        default_factory=dict, description="deployment id -> (created_at epoch seconds, updated_at as GitHub wrote it)"
    )
    statuses: dict[str, int] = Field(
        default_factory=dict,
        description="status id (or 'created-<deployment id>' for a deployment sent before any status) -> created_at",
    )
    etag: str | None = None
    etag_owner: str | None = None
    read_at: int | None = Field(default=None, description="when the deployments list was last read (the sweep)")
    in_progress: dict[str, int] = Field(
        default_factory=dict,
        description="deployment id -> created_at, for deployments whose latest status is not final yet",
    )
    successes: dict[str, list[tuple[int, str]]] = Field(
        default_factory=dict,
        description="environment -> its last deployments that reached success, oldest first: (deployment id, sha)",
    )


class ImagesCursor(BaseModel):
    """What the container images stream of one package owner (organization or user) has handled."""

    model_config = ConfigDict(extra="forbid")

    floor: int | None = None
    packages: dict[str, str] = Field(default_factory=dict, description="package name -> its last seen updated_at")
    versions: dict[str, int] = Field(default_factory=dict, description="tagged version id -> created_at")
    etag: str | None = None
    etag_owner: str | None = None
    owner_kind: str | None = Field(default=None, description="'orgs' or 'users', once known")


POLL_RANK_MAX = 999_999_999  # a place in one run (the file store reads it with up to 9 digits)


class Polled(NamedTuple):
    """When a repository was last polled (a run's start) and its place among those that run polled:
    sorted, the least recently polled first, and repositories of one run in the order it polled them."""

    at: int
    rank: int


class RepoState(BaseModel):
    """Everything remembered about one (tenant, integration, repository)."""

    model_config = ConfigDict(extra="forbid")

    last_polled_at: int | None = None
    poll_rank: int | None = Field(
        default=None, description="its place among the repositories the same run polled: ties keep their order"
    )
    poll_interval: int | None = Field(default=None, description="the last X-Poll-Interval GitHub asked for")
    events: EventsCursor = Field(default_factory=EventsCursor)
    runs: RunsCursor = Field(default_factory=RunsCursor)
    deployments: DeploymentsCursor = Field(default_factory=DeploymentsCursor)
    images: ImagesCursor | None = Field(
        default=None, description="only in an owner-wide entry ('{tenant}/{integration}/{owner}/*'): container images"
    )
    discovery: DiscoveryCache | None = Field(
        default=None, description="repository discovery (only in the integration-wide entry '{tenant}/{id}/*/*')"
    )


def polled_of(state: RepoState) -> Polled | None:
    """When ``state``'s repository was last polled and its place in that run (None: never polled)."""
    if state.last_polled_at is None:
        return None
    return Polled(state.last_polled_at, state.poll_rank or 0)


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


def _evict(entries: dict[str, int], floor: int | None, window: int) -> int | None:
    """Drop the oldest entries beyond ``window``; the floor rises to the newest dropped time."""
    if len(entries) <= window:
        return floor
    ordered = sorted(entries.items(), key=lambda item: (item[1], item[0]))
    evicted = ordered[: len(ordered) - window]
    for key, _ in evicted:
        del entries[key]
    return max([floor or 0, *(created for _, created in evicted)])


def deployment_needs_statuses(cursor: DeploymentsCursor, deployment_id: str, created_at: int, updated_at: str) -> bool:
    """Whether a deployment's statuses must be read: it is new (above the floor) or it changed."""
    known = cursor.deployments.get(deployment_id)
    if known is not None:
        return known[1] != updated_at
    return cursor.floor is None or created_at > cursor.floor


def is_new_status(cursor: DeploymentsCursor, key: str, created_at: int) -> bool:
    """Whether a deployment status (or a deployment's ``created-<id>`` event) has not been sent."""
    return key not in cursor.statuses and (cursor.floor is None or created_at > cursor.floor)


def mark_status(cursor: DeploymentsCursor, key: str, created_at: int, *, window: int = STATUSES_WINDOW) -> None:
    """Record a status as sent (after the backend acknowledged it)."""
    cursor.statuses[key] = created_at
    cursor.floor = _evict(cursor.statuses, cursor.floor, window)


def mark_deployment(
    cursor: DeploymentsCursor,
    deployment_id: str,
    created_at: int,
    updated_at: str,
    *,
    window: int = DEPLOYMENTS_WINDOW,
) -> None:
    """Record that every status of a deployment as of ``updated_at`` was sent."""
    cursor.deployments[deployment_id] = (created_at, updated_at)
    if len(cursor.deployments) > window:
        created = {key: value[0] for key, value in cursor.deployments.items()}
        cursor.floor = _evict(created, cursor.floor, window)
        for key in [key for key in cursor.deployments if key not in created]:
            del cursor.deployments[key]


def mark_item(state: RepoState, stream: str, item_id: str, created_at: int) -> None:
    """Record one acknowledged deployment status (``stream="deployments"``) or image version
    (``stream="images"``) in ``state``; raises KeyError for any other stream."""
    if stream == "deployments":
        mark_status(state.deployments, item_id, created_at)
    elif stream == "images":
        if state.images is None:
            state.images = ImagesCursor()
        mark_image(state.images, item_id, created_at)
    else:
        raise KeyError(stream)


def package_changed(cursor: ImagesCursor, name: str, updated_at: str) -> bool:
    """Whether a package's versions must be read (new package, or its ``updated_at`` moved)."""
    return cursor.packages.get(name) != updated_at


def is_new_image(cursor: ImagesCursor, version_id: str, created_at: int) -> bool:
    """Whether a tagged package version has not been sent."""
    return version_id not in cursor.versions and (cursor.floor is None or created_at > cursor.floor)


def mark_image(cursor: ImagesCursor, version_id: str, created_at: int, *, window: int = IMAGES_WINDOW) -> None:
    """Record a tagged version as sent."""
    cursor.versions[version_id] = created_at
    cursor.floor = _evict(cursor.versions, cursor.floor, window)


def is_sha(value: object) -> bool:
    """A commit SHA as GitHub writes it: 7 to 64 lower-case hexadecimal characters."""
    return isinstance(value, str) and SHA_MIN <= len(value) <= SHA_MAX and all(c in "0123456789abcdef" for c in value)


def rememberable_environment(name: object) -> bool:
    """An environment name short and plain enough to be a state key."""
    return isinstance(name, str) and 0 < len(name) <= ENVIRONMENT_MAX and name.isprintable()


def rememberable_tag(tag: object) -> bool:
    """A release tag short and plain enough to be remembered."""
    return isinstance(tag, str) and 0 < len(tag) <= RELEASE_TAG_MAX and tag.isprintable()


def previous_success(cursor: DeploymentsCursor, environment: str, deployment_id: int) -> tuple[int, str] | None:
    """The newest remembered deployment to ``environment`` that reached success before ``deployment_id``
    (GitHub's deployment ids grow with time)."""
    older = [entry for entry in cursor.successes.get(environment, []) if entry[0] < deployment_id]
    return max(older) if older else None


def remember_success(cursor: DeploymentsCursor, environment: str, deployment_id: int, sha: str) -> None:
    """Record that a deployment to ``environment`` reached success; bounded per environment and in
    environments (the one whose newest success is the oldest goes). Names and SHAs that could not
    be stored are ignored (the next deployment to that environment looks its predecessor up)."""
    if not rememberable_environment(environment) or not is_sha(sha) or not 0 <= deployment_id < DEPLOYMENT_ID_LIMIT:
        return
    entries = {entry[0]: entry for entry in cursor.successes.get(environment, [])}
    entries[deployment_id] = (deployment_id, sha)
    cursor.successes[environment] = sorted(entries.values())[-SUCCESSES_PER_ENVIRONMENT:]
    while len(cursor.successes) > ENVIRONMENTS_REMEMBERED:
        stalest = min(cursor.successes, key=lambda name: (max(cursor.successes[name], default=(0, "")), name))
        del cursor.successes[stalest]


def remember_release(cursor: EventsCursor, tag: str) -> None:
    """Record the last full release sent (a tag that could not be stored is forgotten instead)."""
    cursor.release_tag = tag if rememberable_tag(tag) else None
