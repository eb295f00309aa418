"""Pull request details fetched once per run, shared by every repository's poll."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from painchain_gh.errors import DeadlineReached, GitHubError
from painchain_gh.github import GitHubClient


class PullCache:
    """Pull request details fetched in this run, per (API, token, repository, number)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str, int], Mapping[str, Any] | None] = {}
        self._lock = threading.Lock()

    def get(self, client: GitHubClient, owner: str, repo: str, number: int) -> Mapping[str, Any] | None:
        """The pull request ``number``, fetched at most once per run and token; None when unavailable."""
        key = (client.api_url, client.budget.fingerprint, f"{owner}/{repo}".lower(), number)
        with self._lock:
            if key in self._items:
                return self._items[key]
        try:
            details = client.get_object(f"/repos/{owner}/{repo}/pulls/{number}")
        except (GitHubError, DeadlineReached):
            return None  # the event goes out with the number as its title, marked details_missing
        with self._lock:
            self._items[key] = details
        return details

    def details(self, client: GitHubClient, owner: str, repo: str, numbers: set[int]) -> dict[int, Mapping[str, Any]]:
        """The details of each pull request in ``numbers`` that could be fetched, in number order."""
        return {n: found for n in sorted(numbers) if (found := self.get(client, owner, repo, n)) is not None}
