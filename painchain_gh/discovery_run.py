"""Discovery within a sync: which repositories App and ``owner/*`` integrations poll this run.

For each integration that discovers (an App without repositories, or ``owner/*`` entries) the
listing is made with its cache from the integration-wide state entry ``{tenant or -}/{id}/*/*``
(so an unchanged organisation costs no rate-limit unit), the cache is stored back, repositories
that appeared are added (a first poll starts ``--initial-lookback`` ago), those that disappeared
are reported once, and the state of those gone for 30 days is deleted. A failure is contained
to its integration: one line, and the run's exit code 3.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from painchain_gh.discovery import Discoverer, prune_gone, with_repositories
from painchain_gh.discovery_cache import DiscoveryCache
from painchain_gh.errors import GitHubAuthError, PainChainError
from painchain_gh.github import TokenSource
from painchain_gh.jobs import state_key
from painchain_gh.models import Integration, InvalidIntegration
from painchain_gh.store.base import StateStore

log = logging.getLogger("painchain_gh")

DISCOVERY_ENTRY = "*/*"  # the repository part of an integration-wide state key
_SHOWN = 10


def discovery_key(integration: Integration) -> str:
    """The state key holding an integration's discovery cache: ``{tenant or -}/{id}/*/*``."""
    return state_key(integration.tenant_id, integration.id, DISCOVERY_ENTRY)


def discovers(integration: Integration) -> bool:
    """Whether ``integration`` lists repositories (an App without repositories, or ``owner/*``)."""
    return integration.discovers_installation or bool(integration.wildcard_owners())


@dataclass
class DiscoveryOutcome:
    """The integrations with their discovered repositories, and those that could not be listed."""

    integrations: list[Integration]
    invalid: list[InvalidIntegration] = field(default_factory=list)
    discovered: list[str] = field(default_factory=list)  # ids of integrations that listed repositories
    requests: int = 0
    not_modified: int = 0


def _names(names: list[str]) -> str:
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def discover_integrations(
    integrations: list[Integration],
    *,
    discoverer: Discoverer,
    api_url_for: Callable[[Integration], str | None],
    token_for: Callable[[Integration, str], TokenSource],
    store: StateStore | None,
    now: float,
    write: bool = True,
) -> DiscoveryOutcome:
    """Every integration, those that discover with their repositories added (see the module doc).

    ``api_url_for`` gives None for an integration whose API may not be contacted (left as is:
    building jobs refuses it). ``store`` None lists without a cache (``check``); ``write`` False
    reads the cache but neither stores it nor deletes state (shards other than the first that
    share the backend's state leave that to the first).
    """
    outcome = DiscoveryOutcome(integrations=[])
    for integration in integrations:
        api_url = api_url_for(integration) if discovers(integration) else None
        if api_url is None:
            outcome.integrations.append(integration)
            continue
        try:
            discovered = _discover_one(
                integration,
                api_url,
                discoverer=discoverer,
                token_for=token_for,
                store=store,
                now=now,
                outcome=outcome,
                write=write,
            )
        except PainChainError as error:
            reason = f"repository discovery failed: {error}"
            outcome.invalid.append(InvalidIntegration(integration.id, integration.name, reason, lasting=error.lasting))
            continue
        outcome.integrations.append(discovered)
        outcome.discovered.append(integration.id)
    return outcome


def _discover_one(
    integration: Integration,
    api_url: str,
    *,
    discoverer: Discoverer,
    token_for: Callable[[Integration, str], TokenSource],
    store: StateStore | None,
    now: float,
    outcome: DiscoveryOutcome,
    write: bool,
) -> Integration:
    source = token_for(integration, api_url)

    def token() -> SecretStr:
        value = source() if callable(source) else source
        if value is None:
            raise GitHubAuthError("listing an owner's repositories (owner/*) needs a token or a GitHub App")
        return value

    key = discovery_key(integration)
    state = store.get(key) if store is not None else None
    before = state.discovery if state is not None else None
    result = discoverer.discover(integration, api_url=api_url, token=token, cache=before)
    outcome.requests += result.requests
    outcome.not_modified += result.not_modified
    fields = {"event": "discovery", "integration": integration.id}
    log.debug(
        "%s: listing its repositories took %d GitHub requests (%d not modified)",
        integration.label,
        result.requests,
        result.not_modified,
        extra={"fields": {**fields, "requests": result.requests, "not_modified": result.not_modified}},
    )
    if result.problems:
        reason = "; ".join(result.problems)
        outcome.invalid.append(
            InvalidIntegration(integration.id, integration.name, reason, skipped=False, lasting=False)
        )
    if before is not None and result.diff.appeared:
        log.info(
            "%s: %d repositories appeared (%s); first polled from --initial-lookback ago",
            integration.label,
            len(result.diff.appeared),
            _names(result.diff.appeared),
            extra={"fields": {**fields, "appeared": result.diff.appeared}},
        )
    elif before is None:
        log.info(
            "%s: %d repositories discovered",
            integration.label,
            len(result.cache.repositories()),
            extra={"fields": fields},
        )
    if result.diff.disappeared:
        log.warning(
            "%s: %d repositories no longer listed (%s); not polled any more, their state is deleted after 30 days",
            integration.label,
            len(result.diff.disappeared),
            _names(result.diff.disappeared),
            extra={"fields": {**fields, "disappeared": result.diff.disappeared}},
        )
    keep, expired = prune_gone(result.cache.gone, now)
    if write and store is not None and state is not None:
        for name in expired:
            store.forget(state_key(integration.tenant_id, integration.id, name))
        if expired:
            log.info("%s: state of %s deleted (gone for 30 days)", integration.label, _names(expired))
        cache = result.cache.model_copy(update={"gone": keep})
        if before is None or _comparable(cache) != _comparable(before):
            store.commit_repo(key, state.model_copy(update={"discovery": cache}))
    return with_repositories(integration, result.repositories)


def _comparable(cache: DiscoveryCache) -> dict[str, object]:
    """The cache without the times of listing: an unchanged listing is not written again."""
    return cache.model_dump(exclude={"sources": {"__all__": {"listed_at"}}})
