"""What PainChain's integrations list shows after a run: ``status`` and the reason in ``config.lastError``.

The person at PainChain's form sees neither the connector's log nor ``painchain-gh check``, so a
problem only they can fix is written where the form shows it:

- ``"error"`` and one plain line in ``config.lastError`` (a field of the registered form) when an
  integration has a lasting problem: a config painchain-gh cannot use, credentials GitHub refuses,
  a repository GitHub cannot find or show, an ``apiUrl`` not allowed, a discovery that failed for good;
- ``"active"`` with ``lastError`` removed once a sync of it succeeded (every repository it polled was
  synced or not modified, none failed or waited);
- nothing otherwise: temporary trouble (GitHub's 5xx, timeouts, rate limits, the run's deadline,
  the backend) leaves the status as it is. Integrations with any other status (``"inactive"``: a
  person's choice) are never polled and never written.

:func:`decide_statuses` is the pure decision; it only returns changes, so an unchanged integration
costs no request. :func:`write_status` writes one, reading the integration immediately before (``PUT``
replaces the config whole) and changing only ``status`` and ``lastError``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from painchain_gh import secrets
from painchain_gh.backend import BackendClient
from painchain_gh.errors import BackendError
from painchain_gh.models import (
    INTEGRATION_TYPES,
    LAST_ERROR_KEY,
    POLLED_STATUSES,
    InvalidIntegration,
    ListedStatus,
    escape,
)
from painchain_gh.results import UNFINISHED, RepoResult, RepoStatus

log = logging.getLogger("painchain_gh")

ACTIVE = "active"
ERROR = "error"
LAST_ERROR_LIMIT = 500  # characters of config.lastError
MAX_REASONS = 3  # problems named in config.lastError; the rest are counted
_SUCCESS = frozenset({RepoStatus.SYNCED, RepoStatus.NOT_MODIFIED})
# GitHub's request id differs on every request: kept, the same problem would be written again each run.
_REQUEST_ID = re.compile(r" \(request id [^)]*\)")


@dataclass(frozen=True)
class StatusChange:
    """The status (and ``config.lastError``, None: removed) one integration should have after this run."""

    integration_id: str
    status: str
    last_error: str | None
    label: str


def decide_statuses(
    listed: Mapping[str, ListedStatus],
    invalid: Iterable[InvalidIntegration],
    results: Iterable[RepoResult],
    *,
    repository_problems: bool = True,
) -> list[StatusChange]:
    """The integrations whose status or reason this run changes, in ``listed`` order.

    ``listed``: every polled integration's status as read at the start of the run. ``repository_problems``
    False (a shard sees only some repositories): repository and credential failures set no error (another
    shard may succeed with the integration's other repositories); problems with the integration's config,
    which every shard sees alike, still do.
    """
    problems: dict[str, list[str]] = {}
    unsure: set[str] = set()  # trouble that may pass: the status stays as it is
    for item in invalid:
        if item.lasting:
            problems.setdefault(item.id, []).append(item.reason)
        else:
            unsure.add(item.id)
    polled: dict[str, list[RepoResult]] = {}
    for result in results:
        integration_id = result.job.integration.id
        polled.setdefault(integration_id, []).append(result)
        if result.lasting and repository_problems:
            where = result.job.repository.full_name
            problems.setdefault(integration_id, []).append(f"{where}: {result.error or 'failed'}")
    changes: list[StatusChange] = []
    for integration_id, before in listed.items():
        if before.status not in POLLED_STATUSES:
            continue
        label = f"integration {escape(integration_id)} ({escape(before.name) or 'unnamed'})"
        if integration_id in problems:
            wanted = StatusChange(integration_id, ERROR, reason_line(problems[integration_id]), label)
        elif integration_id not in unsure and succeeded(polled.get(integration_id, [])):
            wanted = StatusChange(integration_id, ACTIVE, None, label)
        else:
            continue
        if (wanted.status, wanted.last_error) != (before.status, before.last_error):
            changes.append(wanted)
    return changes


def succeeded(results: list[RepoResult]) -> bool:
    """Whether a sync of an integration succeeded: something was polled and nothing failed or waited."""
    return any(result.status in _SUCCESS for result in results) and not any(
        result.status in UNFINISHED for result in results
    )


def reason_line(problems: list[str]) -> str:
    """The problems as one plain line for ``config.lastError``: stable from run to run, secrets scrubbed,
    escaped and bounded."""
    unique = list(dict.fromkeys(_REQUEST_ID.sub("", problem).strip() for problem in problems))
    more = len(unique) - MAX_REASONS
    text = "; ".join(unique[:MAX_REASONS]) + (f"; and {more} more" if more > 0 else "")
    return secrets.safe_text(text, limit=LAST_ERROR_LIMIT)


def apply_change(row: dict[str, Any], change: StatusChange) -> dict[str, Any] | None:
    """The fields to ``PUT`` for ``change`` given the integration ``row`` as just read (its config changed
    in place: only ``lastError``), or None when nothing is to be written: it already says so, or it is no
    longer a GitHub integration painchain-gh polls (a person set it inactive meanwhile). A config without
    ``name`` and ``tags``, which newer backends refuse to store, gets the status alone."""
    if row.get("type") not in INTEGRATION_TYPES or row.get("status", ACTIVE) not in POLLED_STATUSES:
        return None
    config: dict[str, Any] = row["config"]
    status = row.get("status", ACTIVE)
    if not (isinstance(config.get("name"), str) and isinstance(config.get("tags"), list)):
        # A newer backend refuses such a config (500) whatever else it holds: the status alone, then.
        return None if status == change.status else {"status": change.status}
    current = config.get(LAST_ERROR_KEY)
    current_error = current if isinstance(current, str) and current.strip() else None
    if (status, current_error) == (change.status, change.last_error):
        return None
    if change.last_error is None:
        config.pop(LAST_ERROR_KEY, None)
    else:
        config[LAST_ERROR_KEY] = change.last_error
    return {"status": change.status, "config": config}


def write_status(backend: BackendClient, change: StatusChange) -> None:
    """Write one change (read-modify-write); a failure is a warning: the next run tries again."""
    fields = {"event": "integration_status", "integration": change.integration_id, "status": change.status}
    try:
        written = backend.edit_integration(change.integration_id, lambda row: apply_change(row, change))
    except BackendError as error:
        log.warning("%s: status %s not recorded in PainChain: %s", change.label, change.status, error)
        return
    if written is None:
        return
    if change.status == ERROR:
        log.info(
            "%s: status set to error in PainChain (%s: %s)",
            change.label,
            LAST_ERROR_KEY,
            change.last_error,
            extra={"fields": fields},
        )
    else:
        log.info("%s: status set back to active in PainChain", change.label, extra={"fields": fields})
