"""The kinds of event an integration may choose (``config.events``), and which kind an event is."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from painchain_gh.transform.common import PainChainEvent

EVENT_KINDS = ("push", "pull_request", "review", "issue", "release", "workflow_run", "deployment", "image")

_BY_EVENT_TYPE = {
    "push": "push",
    "pull_request": "pull_request",
    "pull_request_review": "review",
    "issue": "issue",
    "release": "release",
    "workflow_run": "workflow_run",
    "deployment": "deployment",
    "image": "image",
}
_BY_GITHUB_TYPE = {
    "PushEvent": "push",
    "PullRequestEvent": "pull_request",
    "PullRequestReviewEvent": "review",
    "IssuesEvent": "issue",
    "ReleaseEvent": "release",
}


def kind_of(event: PainChainEvent) -> str | None:
    """The kind of a built event (one of :data:`EVENT_KINDS`), or None for an unknown type."""
    event_type = event.data.get("event_type")
    return _BY_EVENT_TYPE.get(event_type) if isinstance(event_type, str) else None


def kind_of_raw(raw: Mapping[str, Any]) -> str | None:
    """The kind an Events API object would become, before any transform or enrichment."""
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    return _BY_GITHUB_TYPE.get(kind) if isinstance(kind, str) else None


def wanted(kind: str | None, chosen: Collection[str] | None) -> bool:
    """Whether an integration that chose ``chosen`` kinds (None: all) wants ``kind``."""
    return chosen is None or (kind is not None and kind in chosen)
