"""``painchain-gh plan``: from the integrations to what each credential polls, sized, and whether it all fits.

Pure: the caller lists the integrations and reads the discovered lists from the state
(:mod:`painchain_gh.discovery.stored`); this module groups the repositories by the credential that
polls them (a token, or an App installation, by the fingerprint the sync keys budgets with), sizes each
with :mod:`painchain_gh.plan.sizing`, and checks the settings against GitHub's documented limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from painchain_gh.discovery.cache import DiscoveryCache
from painchain_gh.discovery.tasks import discovers
from painchain_gh.github.app import AppCredentials
from painchain_gh.github.credentials import credential_fingerprint
from painchain_gh.jobs import with_api_urls
from painchain_gh.models import Integration, InvalidIntegration
from painchain_gh.plan.sizing import (
    APP_HOURLY,
    APP_HOURLY_FREE_REPOSITORIES,
    APP_HOURLY_MAX,
    APP_HOURLY_PER_REPOSITORY,
    GITHUB_IN_FLIGHT,
    GITHUB_POINTS_PER_MINUTE,
    TOKEN_HOURLY,
    Load,
    Portion,
    ProcessLoad,
    Schedule,
    Sizing,
    Streams,
    hourly_room,
    process_load,
    size,
)
from painchain_gh.transform.kinds import wanted

EVENTS_API_KINDS = ("push", "pull_request", "review", "issue", "release")  # as poll.EVENTS_API_KINDS
NOT_LISTED_YET = "its discovered repositories are not known yet: run a sync first"
INSTALLATION_SOURCE = "installation"  # discovery.INSTALLATION

Listed = DiscoveryCache | str | None
"""What the state says of an integration's discovered lists: the cache, why it cannot be read, or None."""


@dataclass(frozen=True)
class Member:
    """An integration polled with a credential: how many of its repositories are counted."""

    id: str
    name: str
    repositories: int
    unknown: str | None = None  # why its discovered repositories are not counted (None: they are)


@dataclass(frozen=True)
class CredentialPlan:
    """One credential (never its secret): who uses it, and its figures."""

    fingerprint: str
    kind: Literal["token", "app"]
    api_url: str
    members: tuple[Member, ...]
    sizing: Sizing
    app_id: str | None = None
    installation_id: int | None = None


@dataclass(frozen=True)
class LimitCheck:
    """One of GitHub's documented limits against what the settings allow."""

    limit: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Plan:
    """Everything ``painchain-gh plan`` says."""

    schedule: Schedule
    points_per_minute: int
    credentials: list[CredentialPlan]
    process: ProcessLoad
    checks: list[LimitCheck]
    invalid: list[InvalidIntegration] = field(default_factory=list)
    disabled: int = 0

    @property
    def unknown(self) -> list[Member]:
        """Integrations whose discovered repositories could not be counted."""
        return [member for credential in self.credentials for member in credential.members if member.unknown]

    @property
    def fits(self) -> bool:
        """Whether every credential, every process and every limit fits, and nothing is unknown."""
        return (
            all(credential.sizing.fits for credential in self.credentials)
            and self.process.shards_needed is None
            and all(check.ok for check in self.checks)
            and not self.unknown
        )


def make_plan(
    integrations: Iterable[Integration],
    *,
    listed: Callable[[Integration], Listed],
    schedule: Schedule,
    points_per_minute: int,
    polling_interval: int | None,
    default_api_url: str,
    allowed_hosts: frozenset[str],
    invalid: Iterable[InvalidIntegration] = (),
    disabled: int = 0,
) -> Plan:
    """The plan of ``integrations`` (valid ones; ``invalid`` are only reported) at ``schedule``."""
    allowed, refused_now = with_api_urls(
        list(integrations), default_api_url=default_api_url, allowed_hosts=allowed_hosts
    )
    refused = list(invalid) + refused_now
    groups: dict[str, list[tuple[Integration, str, Portion, Member]]] = {}
    for integration, api_url in allowed:
        interval = integration.config.polling.interval
        interval = interval if interval is not None else polling_interval
        portion, member = _portion(
            integration, api_url, listed(integration) if discovers(integration) else None, float(interval or 0)
        )
        fingerprint = credential_fingerprint(integration, api_url)
        groups.setdefault(fingerprint, []).append((integration, api_url, portion, member))
    credentials = [
        _credential(fingerprint, group, schedule, points_per_minute) for fingerprint, group in groups.items()
    ]
    sizings = [credential.sizing for credential in credentials]
    return Plan(
        schedule=schedule,
        points_per_minute=points_per_minute,
        credentials=credentials,
        process=process_load(sizings, schedule),
        checks=limit_checks(credentials, schedule),
        invalid=refused,
        disabled=disabled,
    )


def streams_of(integration: Integration) -> Streams:
    """The streams a repository of ``integration`` is read for (``config.events``)."""
    chosen = integration.config.events
    return Streams(
        events=any(wanted(kind, chosen) for kind in EVENTS_API_KINDS),
        runs=wanted("workflow_run", chosen),
        deployments=wanted("deployment", chosen),
    )


def discovered_sources(integration: Integration) -> list[str]:
    """The discovery sources ``integration`` lists (cache keys: ``installation``, ``owner:<login>``)."""
    sources = [INSTALLATION_SOURCE] if integration.discovers_installation else []
    return sources + [f"owner:{entry.owner.lower()}" for entry in integration.wildcard_owners()]


def _portion(integration: Integration, api_url: str, listed: Listed, interval: float) -> tuple[Portion, Member]:
    """The repositories ``integration`` polls (those it names, and those its discovered lists hold), every
    ``interval`` seconds at most."""
    names = {repository.full_name.lower() for repository in integration.unique_repositories()}
    sources = discovered_sources(integration)
    pages = len(sources)
    unknown: str | None = None
    if sources:
        cache = listed if isinstance(listed, DiscoveryCache) else None
        known = cache is not None and all(
            key in cache.sources and cache.sources[key].api_url == api_url.rstrip("/") for key in sources
        )
        if cache is not None and known:
            pages = sum(max(1, len(cache.sources[key].pages)) for key in sources)
            names.update(name.lower() for key in sources for name in cache.sources[key].repositories)
        else:
            unknown = listed if isinstance(listed, str) and listed else NOT_LISTED_YET
    config = integration.config
    images = config.container_images and wanted("image", config.events)
    owners = len({name.split("/")[0] for name in names}) if images else 0
    portion = Portion(len(names), interval, streams_of(integration), image_owners=owners, listing_pages=pages)
    return portion, Member(integration.id, integration.name, len(names), unknown)


def _credential(
    fingerprint: str, group: list[tuple[Integration, str, Portion, Member]], schedule: Schedule, flag_points: int
) -> CredentialPlan:
    """One credential: its load, budget (the lowest an integration asks, as the sync's pacer) and figures."""
    first, api_url = group[0][0], group[0][1]
    asked = [integration.config.points_per_minute for integration, *_ in group]
    points = min([ask for ask in asked if ask is not None] + ([flag_points] if None in asked else []))
    app = AppCredentials.of(first, api_url)
    repositories = sum(portion.repositories for _, _, portion, _ in group)
    if app is None:
        hourly = TOKEN_HOURLY
    else:
        extra = APP_HOURLY_PER_REPOSITORY * max(0, repositories - APP_HOURLY_FREE_REPOSITORIES)
        hourly = min(APP_HOURLY_MAX, APP_HOURLY + extra)
    load = Load(tuple(portion for _, _, portion, _ in group), points_per_minute=points, hourly_limit=hourly)
    return CredentialPlan(
        fingerprint=fingerprint,
        kind="token" if app is None else "app",
        api_url=api_url,
        members=tuple(member for *_, member in group),
        sizing=size(load, schedule),
        app_id=app.app_id if app else None,
        installation_id=app.installation_id if app else None,
    )


def limit_checks(credentials: list[CredentialPlan], schedule: Schedule) -> list[LimitCheck]:
    """GitHub's documented limits (per user or App installation) against what the settings allow."""
    sizings = [credential.sizing for credential in credentials]
    peak = max((sizing.peak_points_per_minute for sizing in sizings), default=0.0)
    in_flight = max((sizing.in_flight for sizing in sizings), default=0)
    over = [
        credential
        for credential in credentials
        if credential.sizing.hourly_counted > hourly_room(credential.sizing.hourly_limit, schedule)
    ]
    hourly_detail = (
        f"{len(over)} of {len(credentials)} credentials would spend more requests an hour than their limit allows"
        if over
        else "every credential stays within its hourly limit (a 304 does not count)"
    )
    return [
        LimitCheck(
            "points a minute",
            peak <= GITHUB_POINTS_PER_MINUTE,
            f"at most {peak:,.0f} points in one minute per credential (two runs' bursts and the discovered lists"
            f" included); GitHub allows {GITHUB_POINTS_PER_MINUTE}",
        ),
        LimitCheck(
            "requests in flight",
            in_flight <= GITHUB_IN_FLIGHT,
            f"at most {in_flight} at once per credential, every shard together; GitHub allows {GITHUB_IN_FLIGHT}",
        ),
        LimitCheck("requests an hour", not over, hourly_detail),
        LimitCheck(
            "runs apart",
            schedule.max_runtime < schedule.every,
            "--max-runtime ends a run before the next one starts"
            if schedule.max_runtime < schedule.every
            else "--max-runtime is not shorter than the schedule: runs would overlap, or be skipped",
        ),
    ]
