"""Deployments and their statuses (``GET /repos/{o}/{r}/deployments[/{id}/statuses]``) to events.

Every deployment status is its own event (``github-deployment-<id>-status-<status id>``); a
deployment that has no status yet is sent once as ``github-deployment-<id>-created``.
Field names: https://docs.github.com/en/rest/deployments/deployments and
https://docs.github.com/en/rest/deployments/statuses
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from painchain_gh.timeutil import format_time, parse_time
from painchain_gh.transform.change_kinds import change_kinds, shipped_facts
from painchain_gh.transform.common import (
    PainChainEvent,
    RepoContext,
    Skip,
    as_dict,
    as_int,
    as_str,
    as_url,
    base_data,
    first_line,
    login,
)

_MAX_FIELD = 200


def deployment_id(deployment: Mapping[str, Any]) -> str | None:
    """The deployment's id as a string of digits, or None."""
    value = as_int(deployment.get("id")) if isinstance(deployment, Mapping) else None
    return str(value) if value is not None and value >= 0 else None


def status_key(deployment: Mapping[str, Any], status: Mapping[str, Any] | None) -> str | None:
    """The cursor key of a status (its id), or ``created-<deployment id>`` for no status."""
    if status is None:
        identifier = deployment_id(deployment)
        return f"created-{identifier}" if identifier else None
    value = as_int(status.get("id")) if isinstance(status, Mapping) else None
    return str(value) if value is not None and value >= 0 else None


def to_deployment_event(
    deployment: Mapping[str, Any], status: Mapping[str, Any] | None, ctx: RepoContext
) -> PainChainEvent | Skip:
    """One event for ``status`` of ``deployment`` (or for the deployment itself when ``status`` is None)."""
    if not isinstance(deployment, Mapping) or (status is not None and not isinstance(status, Mapping)):
        return Skip("malformed")
    dep_id = deployment_id(deployment)
    key = status_key(deployment, status)
    moment = parse_time((status or deployment).get("created_at"))
    if dep_id is None or key is None or moment is None:
        return Skip("malformed")
    current = status or {}
    environment = _short(current.get("environment")) or _short(deployment.get("environment")) or "unknown environment"
    state = _short(current.get("state")) or "created"
    if status is None:
        external_id = f"github-deployment-{dep_id}-created"
    else:
        external_id = f"github-deployment-{dep_id}-status-{key}"
    author = login(current.get("creator")) or login(deployment.get("creator")) or "unknown"
    url = (
        as_url(current.get("log_url"))
        or as_url(current.get("environment_url"))
        or as_url(current.get("target_url"))
        or f"{ctx.repo_url}/deployments"
    )
    data: dict[str, Any] = base_data(
        event_type="deployment", action=state, author=author, url=url, external_id=external_id, ctx=ctx
    )
    data.update(
        {
            "environment": environment,
            "state": state,
            "sha": _short(deployment.get("sha")),
            "ref": _short(deployment.get("ref")),
            "task": _short(deployment.get("task")),
            "deployment_id": int(dep_id),
            "status_id": int(key) if status is not None else None,
            "description": first_line(current.get("description")) or first_line(deployment.get("description")),
            "production_environment": deployment.get("production_environment") is True,
            "transient_environment": deployment.get("transient_environment") is True,
            "created_at": format_time(moment),
        }
    )
    # From the ref alone until a comparison with the previous deployment says more (painchain_gh.streams.shipped).
    data["change_kinds"] = change_kinds(shipped_facts("deployment", None, {}, ref=data["ref"]))
    return ctx.event(
        title=f"Deployment to {environment}: {state}",
        moment=moment,
        external_id=external_id,
        data=data,
        tiebreak=int(key) if status is not None else int(dep_id),
    )


def with_shipped(event: PainChainEvent, data: dict[str, Any]) -> PainChainEvent:
    """``event`` with ``data`` (what it shipped); a rollback's or redeploy's title says so."""
    suffix = " (rollback)" if data.get("rollback") is True else " (redeploy)" if data.get("redeploy") is True else ""
    title = event.title if not suffix or event.title.endswith(suffix) else event.title + suffix
    return dataclasses.replace(event, title=title, data=data)


def _short(value: object) -> str | None:
    text = as_str(value)
    return text[:_MAX_FIELD] if text else None


def deployment_times(deployment: Mapping[str, Any]) -> tuple[int, str] | None:
    """``(created_at epoch, updated_at text)`` of a deployment, or None if it has no creation time."""
    created = parse_time(deployment.get("created_at")) if isinstance(deployment, Mapping) else None
    if created is None:
        return None
    return created, (as_str(as_dict(deployment).get("updated_at")) or "")[:40]
