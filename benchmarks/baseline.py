"""The original connector's polling strategy, as its README describes it, for comparison.

One poll of the original (TypeScript) GitHub connector, reproduced in a few lines of Python:

- fetch the integrations (``GET /integrations?type=github``) and keep the active GitHub ones;
- for each repository of each integration, one after the other (sequential):
  ``GET /repos/{o}/{r}/events?per_page=30`` and ``GET /repos/{o}/{r}/actions/runs?per_page=20``,
  with no ``If-None-Match`` (every request costs a rate-limit unit);
- processed event and run ids live in memory only, so a fresh process (one CronJob run, or a
  restarted pod) has seen nothing and POSTs every supported event and every run it fetched;
- POST each one to ``/events`` (``x-tenant-id`` when the integration has a tenant), without
  ``externalId``/``integrationId``, so the backend cannot deduplicate.

It uses one keep-alive ``requests.Session`` (the most favourable reading of the original).
Configured like painchain-gh: ``BACKEND_API_URL`` and ``GITHUB_API_URL``. It prints one JSON
line with its own counts on stdout and exits 0 (1 if any request failed).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import requests

JSON = dict[str, Any]
SUPPORTED_EVENTS = {
    "PushEvent": "push",
    "PullRequestEvent": "pull_request",
    "PullRequestReviewEvent": "pull_request",
    "IssuesEvent": "issues",
    "ReleaseEvent": "release",
}
TIMEOUT = 30


@dataclass
class Counts:
    """What one poll did."""

    repositories: int = 0
    github_requests: int = 0
    posts: int = 0
    errors: int = 0


@dataclass
class Connector:
    """One process of the original connector: a session, and the ids it has processed so far."""

    backend_url: str
    github_url: str
    session: requests.Session
    processed: set[str]
    counts: Counts

    def integrations(self) -> Iterator[JSON]:
        """The active GitHub integrations."""
        response = self.session.get(f"{self.backend_url}/integrations", params={"type": "github"}, timeout=TIMEOUT)
        response.raise_for_status()
        for row in response.json():
            if row.get("type") == "github" and row.get("status", "active") == "active":
                yield row

    def github_list(self, path: str, token: str, per_page: int, key: str | None = None) -> list[JSON]:
        """One unconditional GET of a list endpoint (page 1 only)."""
        self.counts.github_requests += 1
        response = self.session.get(
            f"{self.github_url}{path}",
            params={"per_page": per_page},
            headers={"Authorization": f"token {token}", "Accept": "application/vnd.github+json"},
            timeout=TIMEOUT,
        )
        if response.status_code != 200:
            self.counts.errors += 1
            return []
        body = response.json()
        return list(body.get(key, []) if key else body)

    def post(self, event: JSON, tenant: str | None) -> None:
        """POST one event to the backend."""
        self.counts.posts += 1
        headers = {"x-tenant-id": tenant} if tenant else {}
        response = self.session.post(f"{self.backend_url}/events", json=event, headers=headers, timeout=TIMEOUT)
        if not response.ok:
            self.counts.errors += 1

    def poll_repository(self, integration: JSON, repository: JSON) -> None:
        """Fetch events and runs of one repository and forward the ones not processed in this process."""
        self.counts.repositories += 1
        owner, repo = repository["owner"], repository["repo"]
        token = integration["config"]["token"]
        tags = [*integration["config"].get("tags", []), *repository.get("tags", [])]
        project = f"{owner}/{repo}"
        for raw in self.github_list(f"/repos/{owner}/{repo}/events", token, 30):
            kind = SUPPORTED_EVENTS.get(raw.get("type", ""))
            key = f"event-{raw.get('id')}"
            if kind and key not in self.processed:
                self.post(event_body(raw, kind, project, tags), integration.get("tenantId"))
                self.processed.add(key)
        for run in self.github_list(f"/repos/{owner}/{repo}/actions/runs", token, 20, "workflow_runs"):
            key = f"run-{run.get('id')}"
            if key not in self.processed:
                self.post(run_body(run, project, tags), integration.get("tenantId"))
                self.processed.add(key)

    def poll(self) -> Counts:
        """One pass over every repository of every integration, sequentially."""
        for integration in self.integrations():
            repositories = integration.get("config", {}).get("repositories", [])
            for repository in repositories:
                self.poll_repository(integration, repository)
        return self.counts


def event_body(raw: JSON, kind: str, project: str, tags: list[str]) -> JSON:
    """A PainChain event from an Events API object (the original's fields, no external id)."""
    payload = raw.get("payload", {})
    action = payload.get("action", "pushed")
    return {
        "title": f"{raw.get('type')}: {action}",
        "connector": "github",
        "project": project,
        "timestamp": raw.get("created_at", ""),
        "data": {
            "event_type": kind,
            "action": action,
            "author": raw.get("actor", {}).get("login"),
            "url": f"https://github.com/{project}",
            "tags": tags,
            "payload": payload,
        },
    }


def run_body(run: JSON, project: str, tags: list[str]) -> JSON:
    """A PainChain event from a workflow run in its current state."""
    state = run.get("conclusion") or run.get("status")
    return {
        "title": f"[Workflow] {run.get('name')}: {state}",
        "connector": "github",
        "project": project,
        "timestamp": run.get("updated_at") or run.get("created_at", ""),
        "data": {
            "event_type": "workflow_run",
            "status": run.get("status"),
            "conclusion": run.get("conclusion"),
            "author": (run.get("actor") or {}).get("login"),
            "url": run.get("html_url"),
            "tags": tags,
        },
    }


def main() -> int:
    """Poll once and print the counts as one JSON line."""
    connector = Connector(
        backend_url=os.environ.get("BACKEND_API_URL", "http://localhost:8000/api").rstrip("/"),
        github_url=os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
        session=requests.Session(),
        processed=set(),
        counts=Counts(),
    )
    counts = connector.poll()
    print(json.dumps(asdict(counts)))
    return 1 if counts.errors else 0


if __name__ == "__main__":
    sys.exit(main())
