"""The deployments stream of one repository: what is new in ``GET /repos/{o}/{r}/deployments``.

Page 1 of the list is conditional (``If-None-Match``): a quiet repository costs one request,
answered 304 for free. GitHub bumps a deployment's ``updated_at`` when a status is added, so the
statuses (``GET /deployments/{id}/statuses``) are read only for deployments that are new or whose
``updated_at`` moved. Each status is its own event, sent once (late and out-of-order safe: the
cursor keys statuses by id, not by time). See https://docs.github.com/en/rest/deployments

What a deployment shipped (with ``shipped`` lookups, :mod:`painchain_gh.streams.shipped`): its first new
status in a run does the work and the deployment's other new statuses of that run carry the same
fields (every lookup is cached while the repository is polled). The baseline is the last deployment to the same
environment that reached success, remembered per environment in the cursor (``successes``), so it
costs nothing once known. ``inactive`` statuses (a deployment replaced) and first-sync history
older than ``--backfill-details`` get only what the state already knows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from painchain_gh.cursor import (
    IN_PROGRESS_BOUND,
    STUCK_RUN_AGE,
    DeploymentsCursor,
    deployment_needs_statuses,
    is_new_status,
    is_sha,
    mark_deployment,
    mark_status,
    previous_success,
    remember_success,
)
from painchain_gh.errors import GitHubRepoError, GitHubTemporaryError
from painchain_gh.github.client import GitHubClient
from painchain_gh.streams.enrich import RequestCounts
from painchain_gh.streams.shipped import Baseline, ShippedLookups
from painchain_gh.timeutil import parse_time
from painchain_gh.transform.common import PainChainEvent, RepoContext, Skip, as_dict, as_str
from painchain_gh.transform.deployments import (
    deployment_id,
    deployment_times,
    status_key,
    to_deployment_event,
    with_shipped,
)

UNFINISHED_STATES = frozenset({"queued", "pending", "in_progress"})  # a deployment with no status is pending too
MAX_DEPLOYMENT_PAGES = 3
MAX_STATUS_PAGES = 2


@dataclass(frozen=True)
class DeploymentItem:
    """One event to forward; after the backend acknowledges it, pass it to :func:`acknowledge`."""

    event: PainChainEvent
    key: str
    created: int
    deployment_id: str


@dataclass
class DeploymentsFetched:
    """What one poll of the deployments stream found."""

    items: list[DeploymentItem] = field(default_factory=list)
    settled: dict[str, tuple[int, str]] = field(default_factory=dict)  # deployment id -> (created, updated_at)
    etag: str | None = None
    not_modified: bool = False
    complete: bool = True  # False when some deployment's statuses could not be read
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # deployment id -> statuses read
    warning: str | None = None
    ignored: int = 0
    in_progress: dict[str, int] = field(default_factory=dict)  # read now: latest status not final (id -> created)
    finished: set[str] = field(default_factory=set)  # read now: latest status final


def fetch_deployments(
    client: GitHubClient,
    ctx: RepoContext,
    cursor: DeploymentsCursor,
    *,
    etag: str | None,
    counts: RequestCounts,
    shipped: ShippedLookups | None = None,
    details_since: int | None = None,
) -> DeploymentsFetched:
    """New deployment events of ``ctx``'s repository, oldest first. ``cursor.floor`` must be set
    (``start_floor``). Rate-limit, auth and deadline errors propagate like the other streams'.
    With ``shipped``, each deployment says what it shipped (statuses created before
    ``details_since``, a first sync's older history, only what the state knows)."""
    base = f"/repos/{ctx.owner}/{ctx.repo}/deployments"
    fetched = DeploymentsFetched()
    deployments: list[dict[str, Any]] = []
    for number, page in enumerate(client.iter_pages(base, etag=etag), start=1):
        counts.add("deployments")
        if page.status == 304:
            return DeploymentsFetched(etag=etag, not_modified=True)
        if number == 1:
            fetched.etag = page.etag
        listed = [item for item in page.items if isinstance(item, dict)]
        deployments.extend(listed)
        times = [t for t in (deployment_times(item) for item in listed) if t is not None]
        reached_known = any(deployment_id(item) in cursor.deployments for item in listed)
        below_floor = cursor.floor is not None and any(created <= cursor.floor for created, _ in times)
        if not page.next_url or reached_known or below_floor or number >= MAX_DEPLOYMENT_PAGES:
            break
    # Oldest first, so that a deployment that reached success is the baseline of the next ones.
    for deployment in sorted(deployments, key=lambda item: int(deployment_id(item) or 0)):
        _collect(client, deployment, ctx=ctx, cursor=cursor, fetched=fetched, counts=counts)
        if shipped is not None:
            _what_shipped(shipped, deployment, cursor=cursor, fetched=fetched, since=details_since, counts=counts)
    fetched.items.sort(key=lambda item: item.event.sort_key)
    fetched.statuses.clear()  # read once, used above
    return fetched


def _collect(
    client: GitHubClient,
    deployment: dict[str, Any],
    *,
    ctx: RepoContext,
    cursor: DeploymentsCursor,
    fetched: DeploymentsFetched,
    counts: RequestCounts,
) -> None:
    identifier, times = deployment_id(deployment), deployment_times(deployment)
    if identifier is None or times is None:
        fetched.ignored += 1
        return
    created, updated = times
    if identifier in fetched.settled or not deployment_needs_statuses(cursor, identifier, created, updated):
        return
    path = f"/repos/{ctx.owner}/{ctx.repo}/deployments/{identifier}/statuses"
    statuses: list[dict[str, Any]] = []
    try:
        for number, page in enumerate(client.iter_pages(path, etag=None), start=1):
            counts.add("deployment_statuses")
            statuses.extend(item for item in page.items if isinstance(item, dict))
            if not page.next_url or number >= MAX_STATUS_PAGES:
                break
    except (GitHubRepoError, GitHubTemporaryError) as error:  # this deployment waits for the next run
        counts.add("deployment_statuses")
        counts.fail("deployment_statuses")
        fetched.complete = False
        fetched.warning = f"deployment statuses not readable: {error}"
        return
    latest = as_str(statuses[0].get("state")) if statuses else None  # GitHub lists the newest first
    if latest is None or latest in UNFINISHED_STATES:
        fetched.in_progress[identifier] = created
    else:
        fetched.finished.add(identifier)
    fetched.statuses[identifier] = statuses
    candidates: list[dict[str, Any] | None] = [*statuses] if statuses else [None]
    for status in candidates:
        key = status_key(deployment, status)
        moment = parse_time((status or deployment).get("created_at"))
        if key is None or moment is None:
            fetched.ignored += 1
            continue
        if not is_new_status(cursor, key, moment):
            continue
        built = to_deployment_event(deployment, status, ctx)
        if isinstance(built, Skip):
            fetched.ignored += 1
            continue
        fetched.items.append(DeploymentItem(built, key, moment, identifier))
    fetched.settled[identifier] = (created, updated)


def _what_shipped(
    shipped: ShippedLookups,
    deployment: dict[str, Any],
    *,
    cursor: DeploymentsCursor,
    fetched: DeploymentsFetched,
    since: int | None,
    counts: RequestCounts,
) -> None:
    """Add what ``deployment`` shipped to its new status events, and remember it as its
    environment's latest success when one of its statuses says so."""
    identifier = deployment_id(deployment)
    environment, sha = as_str(deployment.get("environment")) or "", as_str(deployment.get("sha")) or ""
    if identifier is None or identifier not in fetched.statuses:
        return
    number, statuses = int(identifier), fetched.statuses[identifier]
    positions = [i for i, item in enumerate(fetched.items) if item.deployment_id == identifier]
    active = [i for i in positions if fetched.items[i].event.data.get("state") != "inactive"]
    baseline = _baseline(cursor, environment, number)
    if active and since is not None and all(fetched.items[i].created < since for i in active):
        counts.skip("deployment")
        extra: dict[str, Any] = {**_known(shipped, baseline, sha), "details_skipped": True}
        _decorate(fetched, active, extra)
        active = []
    elif active and is_sha(sha):
        if baseline is None:
            looked_up = shipped.previous_deployment(environment, number)
            if isinstance(looked_up, Baseline):
                remember_success(cursor, environment, looked_up.deployment_id, looked_up.sha)
                baseline = looked_up
            elif looked_up is False:
                _decorate(fetched, active, {"details_missing": True})
        extra = _known(shipped, baseline, sha)
        missing = False
        if baseline is not None:
            found = shipped.shipped(
                baseline.sha, sha, kind="deploy_compare", event_type="deployment", ref=as_str(deployment.get("ref"))
            )
            extra.update(found.fields)
            missing = found.missing
        approval = shipped.approval(environment, statuses)
        extra.update(approval.fields)
        if missing or approval.missing:
            extra["details_missing"] = True
        _decorate(fetched, active, extra)
    inactive = [i for i in positions if i not in active]
    _decorate(fetched, inactive, _known(shipped, baseline, sha), only_new=True)
    if is_sha(sha) and any(as_dict(status).get("state") == "success" for status in statuses):
        remember_success(cursor, environment, number, sha)


def _baseline(cursor: DeploymentsCursor, environment: str, number: int) -> Baseline | None:
    known = previous_success(cursor, environment, number)
    return Baseline(*known) if known is not None else None


def _known(shipped: ShippedLookups, baseline: Baseline | None, sha: str) -> dict[str, Any]:
    """What the state alone tells: the previous deployment, the diff link, a redeploy."""
    if baseline is None:
        return {}
    fields: dict[str, Any] = {"previous_deployment_id": baseline.deployment_id, "previous_sha": baseline.sha}
    if is_sha(sha):
        fields["diff_url"] = f"{shipped.repo_url}/compare/{baseline.sha[:12]}...{sha[:12]}"
        if baseline.sha == sha:
            fields["redeploy"] = True
    return fields


def _decorate(
    fetched: DeploymentsFetched, positions: list[int], extra: dict[str, Any], *, only_new: bool = False
) -> None:
    for position in positions:
        item = fetched.items[position]
        data = {**extra, **item.event.data} if only_new else {**item.event.data, **extra}
        fetched.items[position] = dataclasses.replace(item, event=with_shipped(item.event, data))


def acknowledge(cursor: DeploymentsCursor, item: DeploymentItem) -> None:
    """Record ``item`` as sent (call after the backend acknowledged it, before the next one)."""
    mark_status(cursor, item.key, item.created)


def settle(cursor: DeploymentsCursor, fetched: DeploymentsFetched, *, fingerprint: str, now: int) -> None:
    """After every item was acknowledged: remember each deployment's ``updated_at`` (its statuses
    are not read again until it moves), which deployments are still in progress (their repository is
    read every run meanwhile, at most a day), when the list was read and, if the whole stream was
    read, the list's ETag."""
    for identifier, (created, updated) in fetched.settled.items():
        mark_deployment(cursor, identifier, created, updated)
    still = {key: created for key, created in cursor.in_progress.items() if key not in fetched.finished}
    still.update(fetched.in_progress)
    recent = sorted(
        ((key, created) for key, created in still.items() if now - created < STUCK_RUN_AGE), key=lambda item: -item[1]
    )
    cursor.in_progress = dict(recent[:IN_PROGRESS_BOUND])
    cursor.read_at = now
    if fetched.complete and not fetched.not_modified:
        cursor.etag, cursor.etag_owner = fetched.etag, fingerprint
