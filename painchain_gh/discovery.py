"""Repository discovery: every repository of an App installation, or of an owner (``owner/*``).

An App integration without ``repositories`` polls its installation's repositories
(``GET /installation/repositories``); an entry ``{"owner": "acme", "repo": "*"}`` polls every
repository of ``acme`` the credential can see (``GET /orgs/acme/repos``, or ``/users/acme/repos``
when ``acme`` is not an organisation). Archived and disabled repositories are left out.

Every page is requested with its last ``ETag`` (``If-None-Match``), so an unchanged list costs no
rate-limit unit. The caller keeps a :class:`DiscoveryCache` per integration in its state, keyed
like job keys without the repository: ``{tenantId or "-"}/{integration id}`` in lower case (see
:func:`cache_key`). :func:`diff_repositories` and :func:`prune_gone` are pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from painchain_gh.discovery_cache import MAX_PAGES, PER_PAGE, CachedPage, DiscoveryCache, SourceCache
from painchain_gh.errors import GitHubAuthError, GitHubError, GitHubRateLimited, GitHubTemporaryError
from painchain_gh.github_app import TIMEOUT, GitHubNotFound, Sleep, request
from painchain_gh.http import Deadline, InvalidJSON, Reply, header_safe, origin, resolve
from painchain_gh.models import Integration, RepositoryConfig, check_owner, check_repo_name, escape

GONE_MAX_AGE = 30 * 86400.0  # state of a repository gone this long may be deleted
INSTALLATION = "installation"

TokenSource = Callable[[], SecretStr]


@dataclass(frozen=True)
class RepoDiff:
    """Repositories that appeared and disappeared between two listings (``owner/name``, sorted)."""

    appeared: list[str]
    disappeared: list[str]


@dataclass
class DiscoveryResult:
    """The repositories an integration polls this run, the cache to store, and what changed."""

    repositories: list[RepositoryConfig]
    cache: DiscoveryCache
    diff: RepoDiff
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    not_modified: int = 0


def cache_key(integration: Integration) -> str:
    """Where a state store keeps this integration's :class:`DiscoveryCache`."""
    return f"{integration.tenant_id or '-'}/{integration.id}".lower()


def diff_repositories(before: Iterable[str], after: Iterable[str]) -> RepoDiff:
    """Which repositories appeared and disappeared (names compared case-insensitively; pure)."""
    old = {name.lower(): name for name in before}
    new = {name.lower(): name for name in after}
    return RepoDiff(
        appeared=sorted(new[key] for key in new.keys() - old.keys()),
        disappeared=sorted(old[key] for key in old.keys() - new.keys()),
    )


def note_gone(gone: Mapping[str, float], diff: RepoDiff, present: Iterable[str], now: float) -> dict[str, float]:
    """``gone`` updated: newly disappeared repositories are stamped ``now``, present ones forgotten (pure)."""
    here = {name.lower() for name in present}
    updated = {name: since for name, since in gone.items() if name not in here}
    for name in diff.disappeared:
        updated.setdefault(name.lower(), now)
    return updated


def prune_gone(
    gone: Mapping[str, float], now: float, max_age: float = GONE_MAX_AGE
) -> tuple[dict[str, float], list[str]]:
    """Split ``gone`` into those still waiting and those missing for ``max_age`` or more (pure).

    The caller deletes the state (cursors) of the second list and stores the first.
    """
    keep = {name: since for name, since in gone.items() if now - since < max_age}
    return keep, sorted(name for name in gone if name not in keep)


def with_repositories(integration: Integration, discovered: list[RepositoryConfig]) -> Integration:
    """``integration`` with ``discovered`` repositories added to its configured ones, for ``build_jobs``."""
    config = integration.config
    combined = config.repositories + tuple(discovered)
    return integration.model_copy(update={"config": config.model_copy(update={"repositories": combined})})


class Discoverer:
    """Lists repositories for integrations through one session, with a bearer token per call.

    The ``requests``/``not_modified`` counters are not locked: use one Discoverer per thread.
    """

    def __init__(
        self,
        *,
        session: requests.Session,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = time.sleep,
        timeout: tuple[float, float] = TIMEOUT,
        deadline: Deadline | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self._deadline = deadline
        self.requests = 0
        self.not_modified = 0

    def discover(
        self, integration: Integration, *, api_url: str, token: TokenSource, cache: DiscoveryCache | None = None
    ) -> DiscoveryResult:
        """The repositories to poll for ``integration``: configured ones plus discovered ones.

        GitHubAuthError and GitHubRateLimited propagate (the integration's scope); any other
        failure of one source keeps that source's cached list and is reported in ``problems``.
        """
        cache = cache or DiscoveryCache()
        api_url = api_url.rstrip("/")
        before_requests, before_304 = self.requests, self.not_modified
        sources: dict[str, SourceCache] = {}
        tags: dict[str, tuple[str, ...]] = {}
        problems: list[str] = []
        wanted: list[tuple[str, str, tuple[str, ...]]] = []
        if integration.discovers_installation:
            wanted.append((INSTALLATION, f"{api_url}/installation/repositories?per_page={PER_PAGE}", ()))
        for entry in integration.wildcard_owners():
            first = f"{api_url}/orgs/{entry.owner}/repos?per_page={PER_PAGE}&type=all"
            wanted.append((f"owner:{entry.owner.lower()}", first, entry.tags))
        for key, first_url, source_tags in wanted:
            previous = cache.sources.get(key)
            if previous is not None and previous.api_url != api_url:
                previous = None
            try:
                sources[key] = self._list(key, first_url, api_url, token, previous)
            except (GitHubAuthError, GitHubRateLimited):
                raise
            except GitHubError as error:
                problems.append(f"listing {_describe(key)} failed ({error}); its last known list is used")
                if previous is not None:
                    sources[key] = previous
            for name in sources[key].repositories if key in sources else []:
                tags.setdefault(name.lower(), source_tags)
        explicit = {repository.full_name.lower() for repository in integration.unique_repositories()}
        new_cache_sources = DiscoveryCache(sources=sources)
        listed = new_cache_sources.repositories()
        diff = diff_repositories(cache.repositories(), listed)
        now = self._clock()
        gone = note_gone(cache.gone, diff, listed, now)
        discovered = [
            RepositoryConfig(owner=name.split("/")[0], repo=name.split("/")[1], tags=tags.get(name.lower(), ()))
            for name in listed
            if name.lower() not in explicit
        ]
        return DiscoveryResult(
            repositories=discovered,
            cache=DiscoveryCache(sources=sources, gone=gone),
            diff=diff,
            problems=problems,
            requests=self.requests - before_requests,
            not_modified=self.not_modified - before_304,
        )

    def _list(
        self, key: str, first_url: str, api_url: str, token: TokenSource, previous: SourceCache | None
    ) -> SourceCache:
        if key != INSTALLATION and previous is not None and previous.pages:
            first_url = previous.pages[0].url  # an owner found under /users/ stays there
        try:
            pages = self._pages(first_url, token, previous, list_key="repositories" if key == INSTALLATION else None)
        except GitHubNotFound:
            if key == INSTALLATION or "/orgs/" not in first_url:
                raise
            owner = key.removeprefix("owner:")
            fallback = f"{api_url}/users/{owner}/repos?per_page={PER_PAGE}&type=owner"
            pages = self._pages(fallback, token, None, list_key=None)
        return SourceCache(api_url=api_url, pages=tuple(pages), listed_at=self._clock())

    def _pages(
        self, first_url: str, token: TokenSource, previous: SourceCache | None, *, list_key: str | None
    ) -> list[CachedPage]:
        old = list(previous.pages) if previous is not None else []
        host = urlsplit(first_url).netloc
        pages: list[CachedPage] = []
        url: str | None = first_url
        while url and len(pages) < MAX_PAGES:
            index = len(pages)
            prior = old[index] if index < len(old) and old[index].url == url else None
            response = request(
                self._session,
                "GET",
                url,
                bearer=token().get_secret_value(),
                etag=prior.etag if prior else None,
                sleep=self._sleep,
                timeout=self._timeout,
                deadline=self._deadline,
            )
            self.requests += 1
            next_url = response.links.get("next", {}).get("url")
            if next_url:
                next_url = resolve(url, next_url)
            if response.status == 304 and prior is not None:
                self.not_modified += 1
                pages.append(prior)
                if next_url is None and index + 1 < len(old):
                    next_url = old[index + 1].url  # a 304 may come without its Link header
            else:
                names = _repository_names(_items(response, list_key, url))
                etag = response.headers.get("ETag")
                pages.append(
                    CachedPage(
                        url=url,
                        etag=etag if etag and len(etag) <= 200 and header_safe(etag) else None,
                        repositories=names,
                    )
                )
            if next_url and (urlsplit(next_url).netloc != host or origin(next_url) != origin(first_url)):
                raise GitHubTemporaryError(f"GitHub's next-page link points to another host ({escape(next_url, 80)})")
            url = next_url
        return pages


def _items(response: Reply, list_key: str | None, url: str) -> list[Any]:
    try:
        body = response.json()
    except InvalidJSON:  # also JSON nested thousands deep
        body = None
    items = body.get(list_key) if list_key and isinstance(body, dict) else body
    if not isinstance(items, list):
        raise GitHubTemporaryError(f"GitHub answered {urlsplit(url).path} with an unexpected body")
    return items


def _repository_names(items: list[Any]) -> tuple[str, ...]:
    """``owner/name`` of each active repository; archived, disabled and malformed entries are left out."""
    names: list[str] = []
    for item in items[:PER_PAGE]:
        if not isinstance(item, Mapping) or item.get("archived") is True or item.get("disabled") is True:
            continue
        owner = item.get("owner")
        login = owner.get("login") if isinstance(owner, Mapping) else None
        name = item.get("name")
        if not isinstance(login, str) or not isinstance(name, str):
            continue
        try:
            names.append(f"{check_owner(login)}/{check_repo_name(name)}")
        except ValueError:
            continue
    return tuple(names)


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def _describe(key: str) -> str:
    return "the installation's repositories" if key == INSTALLATION else f"the repositories of {key[6:]}"
