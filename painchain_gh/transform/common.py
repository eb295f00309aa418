"""Shared pieces of the transforms: the output type, the repository context, safe accessors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from painchain_gh.timeutil import format_time

CONNECTOR = "github"

# PainChain's timeline (its generic renderer) shows a list of strings as chips but any other list only as
# "N items", and null as "null". Each of these structured lists (kept for machines reading the events)
# travels with a list of strings beside it, which the timeline shows as readable text.
STRUCTURED_LISTS = {
    "commits": "commit_list",
    "rolled_back_commits": "rolled_back_commit_list",
    "failed_jobs": "failed_job_list",
    "pull_request_numbers": "pull_requests",
    "rolled_back_pull_request_numbers": "rolled_back_pull_requests",
}
ONLY_WHEN_TRUE = frozenset({"details_missing", "details_skipped"})  # a red cross would read as a failure


def timeline_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as sent to the timeline: without null values, and with the flags of :data:`ONLY_WHEN_TRUE`
    only when true (each list of :data:`STRUCTURED_LISTS` goes with its readable companion)."""
    return {
        key: value
        for key, value in data.items()
        if value is not None and not (key in ONLY_WHEN_TRUE and value is not True)
    }


@dataclass(frozen=True)
class RepoContext:
    """What a transform needs to know about where an object came from."""

    owner: str
    repo: str
    integration_id: str
    tags: tuple[str, ...] = ()
    web_url: str = "https://github.com"

    @property
    def project(self) -> str:
        """``owner/repo``, the PainChain project."""
        return f"{self.owner}/{self.repo}"

    @property
    def repo_url(self) -> str:
        """The repository's page."""
        return f"{self.web_url}/{self.owner}/{self.repo}"

    def event(
        self, *, title: str, moment: int, external_id: str, data: dict[str, Any], tiebreak: int
    ) -> PainChainEvent:
        """The event of this repository that happened at ``moment`` (``tiebreak`` orders equal moments)."""
        return PainChainEvent(
            title=title,
            project=self.project,
            timestamp=format_time(moment),
            external_id=external_id,
            integration_id=self.integration_id,
            data=data,
            sort_key=(moment, tiebreak),
        )


@dataclass(frozen=True)
class PainChainEvent:
    """One event for ``POST /events``; ``sort_key`` orders a repository's events oldest first. ``data`` is
    everything the transforms know; :meth:`body` sends what PainChain's timeline can show of it."""

    title: str
    project: str
    timestamp: str
    external_id: str
    integration_id: str
    data: dict[str, Any] = field(default_factory=dict)
    sort_key: tuple[int, int] = (0, 0)

    def body(self) -> dict[str, Any]:
        """The JSON body the backend expects (CONTRACT.md, "Events")."""
        return {
            "title": self.title,
            "connector": CONNECTOR,
            "project": self.project,
            "timestamp": self.timestamp,
            "integrationId": self.integration_id,
            "externalId": self.external_id,
            "data": timeline_data(self.data),
        }


@dataclass(frozen=True)
class Skip:
    """A raw object that produces no event, and why (e.g. ``unsupported:WatchEvent``)."""

    reason: str


def as_dict(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_str(value: object) -> str | None:
    """``value`` if it is a non-empty string (numbers are accepted as ids), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


INT64 = 2**63  # GitHub's ids and counts are 64-bit integers: anything larger is not one of them


def as_int(value: object) -> int | None:
    """``value`` as an int if it is one (or a string of digits) within 64 bits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -INT64 <= value < INT64 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:  # not '²' or '٣'
        return int(value)
    return None


def as_url(value: object) -> str | None:
    """``value`` if it is an http(s) URL, a link the timeline can show; else None."""
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def login(value: object) -> str | None:
    """The ``login`` of a GitHub user object."""
    return as_str(as_dict(value).get("login"))


def first_line(text: object, limit: int = 200) -> str | None:
    """The first line of a commit message or body, cut to ``limit`` characters."""
    if not isinstance(text, str) or not text.strip():
        return None
    line = text.strip().splitlines()[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def base_data(
    *, event_type: str, action: str, author: str, url: str, external_id: str, ctx: RepoContext
) -> dict[str, Any]:
    """The ``data`` fields every event carries."""
    return {
        "event_type": event_type,
        "action": action,
        "author": author,
        "url": url,
        "repository": ctx.project,
        "tags": list(ctx.tags),
        "external_id": external_id,
        "integration_id": ctx.integration_id,
    }
