"""From integrations to the list of repositories this run polls (pure).

Each (integration, repository) becomes one :class:`RepoJob` with its state key, tags, API
base URL and minimum polling interval; shards keep only the jobs whose stable hash is theirs.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from painchain_gh.models import Integration, InvalidIntegration, RepositoryConfig


@dataclass(frozen=True)
class Shard:
    """This process's part of the work: ``index`` of ``count`` (``--shard 0/4``)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse ``INDEX/COUNT``; raises ValueError when it is not one."""
        index_text, _, count_text = text.partition("/")
        index, count = int(index_text), int(count_text)
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"shard must be INDEX/COUNT with 0 <= INDEX < COUNT, not {text!r}")
        return cls(index, count)

    def owns(self, shard_key: str) -> bool:
        """Whether this shard polls the repository with ``shard_key`` (a stable hash, not Python's)."""
        digest = hashlib.sha256(shard_key.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


@dataclass(frozen=True)
class RepoJob:
    """One repository of one integration to poll in this run."""

    integration: Integration
    repository: RepositoryConfig
    tags: tuple[str, ...]
    api_url: str
    web_url: str
    interval: int | None

    @property
    def key(self) -> str:
        """The state key: tenant and integration ids as given, repository in lower case."""
        return state_key(self.integration.tenant_id, self.integration.id, self.repository.full_name)

    @property
    def shard_key(self) -> str:
        """What sharding hashes: integration and repository."""
        return f"{self.integration.id}/{self.repository.full_name}".lower()

    @property
    def label(self) -> str:
        """How messages name this job."""
        return f"{self.repository.full_name} [{self.integration.id}]"


def state_key(tenant_id: str | None, integration_id: str, full_name: str) -> str:
    """``{tenant or -}/{integration id}/{owner}/{repo}``: ids exactly as given (``ABC`` and ``abc``
    are two integrations), owner and repository in lower case (GitHub names ignore case)."""
    return f"{tenant_id or '-'}/{integration_id}/{full_name.lower()}"


def web_url_for(api_url: str) -> str:
    """The web address matching an API base: github.com, or ``https://HOST`` for Enterprise Server."""
    parts = urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{parts.netloc}"


_DEFAULT_PORTS = {"https": 443, "http": 80}


def _origin(parts: SplitResult) -> str:
    """``scheme://host:port`` with the port always written (raises ValueError on a bad port)."""
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def parse_allowed_origin(text: str) -> str:
    """An ``--allow-api-host`` entry as an exact origin ``scheme://host:port``.

    A bare ``HOST`` or ``HOST:PORT`` means https (port 443 unless given); plain http is allowed
    only when written out with its port, ``http://HOST:PORT``. Raises ValueError otherwise.
    """
    entry = text.strip()
    if not entry:
        raise ValueError("an allowed API host must not be empty")
    parts = urlsplit(entry if "://" in entry else f"https://{entry}")
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an API host or origin: {text!r} (use HOST, HOST:PORT or http://HOST:PORT)")
    if parts.username or parts.password or parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError(f"an allowed API host is only scheme, host and port, not {text!r}")
    try:
        explicit_port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    if parts.scheme == "http" and explicit_port is None:
        raise ValueError(f"plain http must name its port explicitly: {text!r} (e.g. http://HOST:8080)")
    return _origin(parts)


def api_origin(api_url: str) -> str | None:
    """The origin of an API base URL, or None when it has none (or a bad port)."""
    parts = urlsplit(api_url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        return _origin(parts)
    except ValueError:
        return None


def check_api_url(api_url: str, allowed_origins: frozenset[str]) -> str | None:
    """Why ``api_url`` may not be contacted, or None if it may: its exact origin (scheme, host,
    port) must be one of ``allowed_origins`` (entries as :func:`parse_allowed_origin` returns)."""
    parts = urlsplit(api_url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        return "apiUrl must be an http(s) URL"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "apiUrl must not carry credentials, a query or a fragment"
    origin = api_origin(api_url)
    if origin is None:
        return "apiUrl has no valid host and port"
    if origin not in _normalized_origins(allowed_origins):
        return f"apiUrl origin {origin} is not allowed (add it with --allow-api-host)"
    return None


def _normalized_origins(entries: frozenset[str]) -> frozenset[str]:
    """Every entry as an origin; entries that are not one are ignored (the CLI refuses them)."""
    origins = set()
    for entry in entries:
        try:
            origins.add(parse_allowed_origin(entry))
        except ValueError:
            continue
    return frozenset(origins)


def integration_api_url(
    integration: Integration, *, default_api_url: str, allowed: frozenset[str]
) -> tuple[str, str | None]:
    """The API base an integration uses, and why it may not be contacted (None when it may).

    ``allowed`` holds origins (or entries :func:`parse_allowed_origin` accepts); the origin of
    ``default_api_url`` is always allowed, and an integration without ``apiUrl`` uses it.
    """
    default = default_api_url.rstrip("/")
    if not integration.config.api_url:
        return default, None
    api_url = integration.config.api_url.rstrip("/")
    default_origin = api_origin(default)
    origins = _normalized_origins(allowed) | ({default_origin} if default_origin else set())
    return api_url, check_api_url(api_url, frozenset(origins))


def with_api_urls(
    integrations: list[Integration], *, default_api_url: str, allowed_hosts: frozenset[str]
) -> tuple[list[tuple[Integration, str]], list[InvalidIntegration]]:
    """Each integration whose API may be contacted, with its API base; the others refused, with why."""
    allowed: list[tuple[Integration, str]] = []
    refused: list[InvalidIntegration] = []
    for integration in integrations:
        api_url, reason = integration_api_url(integration, default_api_url=default_api_url, allowed=allowed_hosts)
        if reason:
            refused.append(InvalidIntegration(integration.id, integration.name, reason))
        else:
            allowed.append((integration, api_url))
    return allowed, refused


def build_jobs(
    integrations: list[Integration],
    *,
    default_api_url: str,
    allowed_hosts: frozenset[str],
    default_interval: int | None,
    shard: Shard | None,
) -> tuple[list[RepoJob], list[InvalidIntegration]]:
    """The jobs of this run (in integration order) and the integrations refused for their apiUrl.

    ``allowed_hosts`` holds origins (or entries :func:`parse_allowed_origin` accepts); the origin
    of ``default_api_url`` is always allowed.
    """
    jobs: list[RepoJob] = []
    allowed, refused = with_api_urls(integrations, default_api_url=default_api_url, allowed_hosts=allowed_hosts)
    for integration, api_url in allowed:
        interval = integration.config.polling.interval
        for repository in integration.unique_repositories():
            job = RepoJob(
                integration=integration,
                repository=repository,
                tags=tuple(dict.fromkeys(integration.config.tags + repository.tags)),
                api_url=api_url,
                web_url=web_url_for(api_url),
                interval=interval if interval is not None else default_interval,
            )
            if shard is None or shard.owns(job.shard_key):
                jobs.append(job)
    return jobs, refused


def interleave_by_token(jobs: list[RepoJob], credential: Callable[[RepoJob], str]) -> list[RepoJob]:
    """Jobs reordered round-robin across credentials (keeping each credential's order), so that workers
    spread over every token instead of queueing behind one token's limits; ``credential`` names a job's
    credential (a digest, never the secret)."""
    queues: dict[tuple[str, str], list[RepoJob]] = {}
    for job in jobs:
        queues.setdefault((job.api_url, credential(job)), []).append(job)
    ordered: list[RepoJob] = []
    for round_ in itertools.zip_longest(*queues.values()):
        ordered.extend(job for job in round_ if job is not None)
    return ordered
