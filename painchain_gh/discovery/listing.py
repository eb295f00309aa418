"""Repository discovery: every repository of an App installation, or of an owner (``owner/*``).

An App integration without ``repositories`` polls its installation's repositories
(``GET /installation/repositories``); an entry ``{"owner": "acme", "repo": "*"}`` polls every
repository of ``acme`` the credential can see (``GET /orgs/acme/repos``, or ``/users/acme/repos``
when ``acme`` is not an organisation). Archived and disabled repositories are left out.

Every page goes through the integration's :class:`~painchain_gh.github.client.GitHubClient`, so it is
paced, counted and stopped by the rate-limit reserve like any other request, and requested with its
last ``ETag`` (an unchanged page is a free 304). A listing is read as far as ``stop()`` allows and
keeps its progress: the pages read so far replace their cached copies, the rest of the cache still
counts, and the next run carries on from the first page not read (``SourceCache.resume``). Only a
pass that reached the last page says which repositories disappeared. A listing stops at
:data:`~painchain_gh.discovery.cache.MAX_PAGES` pages and says so. :func:`diff_repositories`,
:func:`note_gone` and :func:`prune_gone` are pure.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from pydantic import SecretStr

from painchain_gh.discovery.cache import MAX_PAGES, PER_PAGE, URL_MAX, CachedPage, DiscoveryCache, SourceCache
from painchain_gh.errors import DeadlineReached, GitHubAuthError, GitHubError, GitHubNotFound, GitHubRateLimited
from painchain_gh.github.app import TIMEOUT, Sleep
from painchain_gh.github.client import GitHubClient, TokenBudget, token_fingerprint
from painchain_gh.http import Deadline, RetryPolicy
from painchain_gh.models import Integration, RepositoryConfig, check_owner, check_repo_name, escape
from painchain_gh.streams.enrich import RequestCounts

GONE_MAX_AGE = 30 * 86400.0  # state of a repository gone this long may be deleted
INSTALLATION = "installation"

TokenSource = Callable[[], SecretStr]
Stop = Callable[[], bool]
OnRepositories = Callable[[list[RepositoryConfig]], None]


@dataclass(frozen=True)
class RepoDiff:
    """Repositories that appeared and disappeared between two listings (``owner/name``, sorted)."""

    appeared: list[str]
    disappeared: list[str]


@dataclass
class DiscoveryResult:
    """The repositories an integration polls this run, the cache to store, and what changed.

    ``complete`` is True when every source was read to its last page in this pass; only then does
    ``diff.disappeared`` (and the ``gone`` record of the cache) say anything.
    """

    repositories: list[RepositoryConfig]
    cache: DiscoveryCache
    diff: RepoDiff
    complete: bool = True
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


def sources_of(integration: Integration, api_url: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(cache key, first page's URL, tags) of each source an integration lists."""
    wanted: list[tuple[str, str, tuple[str, ...]]] = []
    if integration.discovers_installation:
        wanted.append((INSTALLATION, f"{api_url}/installation/repositories?per_page={PER_PAGE}", ()))
    for entry in integration.wildcard_owners():
        first = f"{api_url}/orgs/{entry.owner}/repos?per_page={PER_PAGE}&type=all"
        wanted.append((f"owner:{entry.owner.lower()}", first, entry.tags))
    return wanted


def discovered_repositories(
    integration: Integration, cache: DiscoveryCache, *, api_url: str | None = None
) -> list[RepositoryConfig]:
    """The repositories a cache lists for ``integration`` that it does not name itself, with their
    source's tags (sources of another API, or no longer configured, are left out)."""
    tags: dict[str, tuple[str, ...]] = {}
    names: list[str] = []
    explicit = {repository.full_name.lower() for repository in integration.unique_repositories()}
    for key, _, source_tags in sources_of(integration, (api_url or "").rstrip("/")):
        source = cache.sources.get(key)
        if source is None or (api_url is not None and source.api_url != api_url.rstrip("/")):
            continue
        for name in source.repositories:
            if name.lower() not in tags and name.lower() not in explicit:
                tags[name.lower()] = source_tags
                names.append(name)
    return [_repository(name, tags[name.lower()]) for name in names]


def _repository(name: str, tags: tuple[str, ...]) -> RepositoryConfig:
    owner, _, repo = name.partition("/")
    return RepositoryConfig(owner=owner, repo=repo, tags=tags)


def discover(
    integration: Integration,
    *,
    client: GitHubClient,
    cache: DiscoveryCache | None = None,
    clock: Callable[[], float] = time.time,
    stop: Stop = lambda: False,
    on_repositories: OnRepositories = lambda repositories: None,
    counts: RequestCounts | None = None,
) -> DiscoveryResult:
    """The repositories ``integration`` polls besides those it names: its listing, read with ``client``
    as far as ``stop()`` allows (see the module doc), starting from ``cache``.

    ``on_repositories`` hears of repositories not known before as soon as their page is read.
    GitHubAuthError and GitHubRateLimited propagate (the integration's scope); any other failure of
    one source keeps that source's cached pages and is reported in ``problems``.
    """
    cache = cache or DiscoveryCache()
    api_url = client.api_url
    explicit = {repository.full_name.lower() for repository in integration.unique_repositories()}
    known = {name.lower() for name in cache.repositories()} | explicit
    sources: dict[str, SourceCache] = {}
    problems: list[str] = []
    complete = True
    tally = _Tally()

    def heard(names: tuple[str, ...], *, tags: tuple[str, ...]) -> None:
        fresh = [name for name in names if name.lower() not in known]
        known.update(name.lower() for name in fresh)
        if fresh:
            on_repositories([_repository(name, tags) for name in fresh])

    for key, first_url, source_tags in sources_of(integration, api_url):
        previous = cache.sources.get(key)
        if previous is not None and previous.api_url != api_url:
            previous = None
        lister = _SourceLister(client, tally=tally, counts=counts, stop=stop, clock=clock)
        try:
            listed = lister.read(key, first_url, previous, on_page=functools.partial(heard, tags=source_tags))
        except (GitHubAuthError, GitHubRateLimited, DeadlineReached):
            raise
        except GitHubError as error:
            problems.append(f"listing {_describe(key)} failed ({error}); its last known list is used")
            complete = False
            if previous is not None:
                sources[key] = previous
            continue
        sources[key] = listed.source
        problems += listed.problems
        complete = complete and listed.source.resume is None
    new_cache = DiscoveryCache(sources=sources, gone=cache.gone)
    listed_now = new_cache.repositories()
    diff = diff_repositories(cache.repositories(), listed_now)
    if complete:
        new_cache = new_cache.model_copy(update={"gone": note_gone(cache.gone, diff, listed_now, clock())})
    else:
        diff = RepoDiff(appeared=diff.appeared, disappeared=[])  # an unfinished pass proves nothing gone
    return DiscoveryResult(
        repositories=discovered_repositories(integration, new_cache, api_url=api_url),
        cache=new_cache,
        diff=diff,
        complete=complete,
        problems=problems,
        requests=tally.requests,
        not_modified=tally.not_modified,
    )


@dataclass
class _Tally:
    requests: int = 0
    not_modified: int = 0


@dataclass
class _Listed:
    source: SourceCache
    problems: list[str]


class _SourceLister:
    """One source's pass: pages from the first (or where the last run stopped) to the last."""

    def __init__(
        self,
        client: GitHubClient,
        *,
        tally: _Tally,
        counts: RequestCounts | None,
        stop: Stop,
        clock: Callable[[], float],
    ) -> None:
        self._client = client
        self._tally = tally
        self._counts = counts
        self._stop = stop
        self._clock = clock

    def read(
        self,
        key: str,
        first_url: str,
        previous: SourceCache | None,
        *,
        on_page: Callable[[tuple[str, ...]], None],
    ) -> _Listed:
        old = list(previous.pages) if previous is not None else []
        if key != INSTALLATION and old:
            first_url = old[0].url  # an owner found under /users/ stays there
        resume_url = previous.resume_url if previous is not None else None
        start = previous.resume if previous is not None and previous.resume is not None and resume_url else 0
        start = start if 0 < start <= len(old) else 0
        list_key = "repositories" if key == INSTALLATION else None
        try:
            return self._pass(
                key, first_url, old, start, list_key=list_key, on_page=on_page, resume_url=resume_url if start else None
            )
        except GitHubNotFound:
            if key == INSTALLATION or "/orgs/" not in first_url:
                raise
            owner = key.removeprefix("owner:")
            fallback = f"{self._client.api_url}/users/{owner}/repos?per_page={PER_PAGE}&type=owner"
            return self._pass(key, fallback, [], 0, list_key=None, on_page=on_page)

    def _pass(
        self,
        key: str,
        first_url: str,
        old: list[CachedPage],
        start: int,
        *,
        list_key: str | None,
        on_page: Callable[[tuple[str, ...]], None],
        resume_url: str | None = None,
    ) -> _Listed:
        pages = old[:start]  # read by an earlier run of this pass
        url: str | None = resume_url if start and resume_url else first_url
        index, problems, resume = start, [], None
        while url:
            if len(url) > URL_MAX:
                problems.append(f"GitHub's page link for {_describe(key)} is too long to keep; listing stopped")
                break
            if index >= MAX_PAGES:
                problems.append(
                    f"listing {_describe(key)} stopped at {MAX_PAGES} pages ({MAX_PAGES * PER_PAGE} repositories); "
                    "the rest is not polled"
                )
                break
            if self._stop():
                resume, resume_url = index or None, url
                pages += old[index:]  # not read again yet: the last known pages still count
                break
            prior = old[index] if index < len(old) and old[index].url == url else None
            try:
                answer = self._client.page(url, etag=prior.etag if prior else None, list_key=list_key)
            except (GitHubRateLimited, DeadlineReached) as error:  # paused, not failed: the next run carries on
                if index == 0 and not old:
                    raise
                problems.append(f"listing {_describe(key)} paused ({error}); the next run carries on")
                resume, resume_url = index or None, url
                pages += old[index:]
                break
            self._tally.requests += 1
            if self._counts is not None:
                self._counts.add("discovery")
            next_url = answer.next_url
            if answer.status == 304 and prior is not None:
                self._tally.not_modified += 1
                page = prior
                if next_url is None and index + 1 < len(old):
                    next_url = old[index + 1].url  # a 304 may come without its Link header
            else:
                page = CachedPage(url=url, etag=answer.etag, repositories=_repository_names(answer.items))
            pages.append(page)
            on_page(page.repositories)
            url, index = next_url, index + 1
        source = SourceCache(
            api_url=self._client.api_url,
            pages=tuple(pages),
            listed_at=self._clock(),
            resume=resume,
            resume_url=resume_url if resume else None,
        )
        return _Listed(source, problems)


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


def _describe(key: str) -> str:
    return "the installation's repositories" if key == INSTALLATION else f"the repositories of {escape(key[6:], 60)}"


class Discoverer:
    """Lists repositories with a client of its own per call (``check``, and tests): no pace, one run's deadline."""

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
        self._deadline = deadline or Deadline(sum(timeout) * 10)

    def client(self, api_url: str, token: TokenSource) -> GitHubClient:
        """A client of its own for ``api_url`` and ``token`` (its own budget, this deadline)."""
        return GitHubClient(
            session=self._session,
            api_url=api_url,
            token=token,
            budget=TokenBudget(token_fingerprint(None), reserve=0, max_concurrent=4),
            deadline=self._deadline,
            policy=RetryPolicy(attempts=3),
            sleep=self._sleep,
        )

    def discover(
        self, integration: Integration, *, api_url: str, token: TokenSource, cache: DiscoveryCache | None = None
    ) -> DiscoveryResult:
        """:func:`discover` with a client for ``api_url`` and ``token``, read to the end (or the deadline)."""
        client = self.client(api_url, token)
        return discover(integration, client=client, cache=cache, clock=self._clock, stop=self._deadline.expired)
