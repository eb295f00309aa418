"""From integrations to the list of repositories this run polls (pure).

Each (integration, repository) becomes one :class:`RepoJob` with its state key, tags, API
base URL and minimum polling interval; shards keep only the jobs whose stable hash is theirs.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from urllib.parse import urlsplit

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
        """The state key: tenant, integration and repository, in lower case."""
        tenant = self.integration.tenant_id or "-"
        return f"{tenant}/{self.integration.id}/{self.repository.full_name}".lower()

    @property
    def shard_key(self) -> str:
        """What sharding hashes: integration and repository."""
        return f"{self.integration.id}/{self.repository.full_name}".lower()

    @property
    def label(self) -> str:
        """How messages name this job."""
        return f"{self.repository.full_name} [{self.integration.id}]"


def web_url_for(api_url: str) -> str:
    """The web address matching an API base: github.com, or ``https://HOST`` for Enterprise Server."""
    parts = urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{parts.netloc}"


def check_api_url(api_url: str, allowed_hosts: frozenset[str]) -> str | None:
    """Why ``api_url`` may not be contacted, or None if it may (only operator-allowed hosts)."""
    parts = urlsplit(api_url)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        return "apiUrl must be an http(s) URL"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "apiUrl must not carry credentials, a query or a fragment"
    if parts.netloc.lower() not in allowed_hosts and (parts.hostname or "").lower() not in allowed_hosts:
        return f"apiUrl host {parts.netloc} is not allowed (add it with --allow-api-host)"
    return None


def build_jobs(
    integrations: list[Integration],
    *,
    default_api_url: str,
    allowed_hosts: frozenset[str],
    default_interval: int | None,
    shard: Shard | None,
) -> tuple[list[RepoJob], list[InvalidIntegration]]:
    """The jobs of this run (in integration order) and the integrations refused for their apiUrl."""
    jobs: list[RepoJob] = []
    refused: list[InvalidIntegration] = []
    for integration in integrations:
        api_url = (integration.config.api_url or default_api_url).rstrip("/")
        if integration.config.api_url:
            reason = check_api_url(api_url, allowed_hosts)
            if reason:
                refused.append(InvalidIntegration(integration.id, integration.name, reason))
                continue
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


def interleave_by_token(jobs: list[RepoJob]) -> list[RepoJob]:
    """Jobs reordered round-robin across tokens (keeping each token's order), so that workers
    spread over every token instead of queueing behind one token's concurrency limit."""
    queues: dict[tuple[str, str], list[RepoJob]] = {}
    for job in jobs:
        token = job.integration.config.token
        key = (job.api_url, token.get_secret_value() if token is not None else "")
        queues.setdefault(key, []).append(job)
    ordered: list[RepoJob] = []
    for round_ in itertools.zip_longest(*queues.values()):
        ordered.extend(job for job in round_ if job is not None)
    return ordered
