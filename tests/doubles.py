"""In-process doubles for the core: an in-memory state store, a list sink, and builders of jobs,
clients and GitHub pages for requests-mock."""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests
import requests_mock
from pydantic import SecretStr

from painchain_gh.cursor import Polled, RepoState, mark_event, mark_item, mark_run, polled_of
from painchain_gh.github.client import GitHubClient, TokenBudget, TokenSource, token_fingerprint
from painchain_gh.http import Deadline, RetryPolicy
from painchain_gh.jobs import RepoJob, build_jobs
from painchain_gh.models import Integration
from painchain_gh.store.checks import checked_for_storage
from painchain_gh.transform import PainChainEvent
from tests.fakes.github import utc_iso

API = "https://api.github.com"
BACKEND = "http://backend.test/api"
TOKEN = "ghp_inprocess_test_token"


class MemoryStore:
    """A :class:`~painchain_gh.store.base.StateStore` in a dict, recording every call."""

    def __init__(self, repos: dict[str, RepoState] | None = None) -> None:
        self.repos: dict[str, RepoState] = dict(repos or {})
        self.recorded: list[tuple[str, str]] = []  # (key, event or run id), in acknowledgement order
        self.committed: list[str] = []
        self.finished: list[tuple[str, list[str]]] = []
        self.forgotten: list[str] = []
        self.closed = False
        self._lock = threading.Lock()

    def get(self, key: str) -> RepoState:
        """A deep copy of the stored state (empty on a first sync)."""
        with self._lock:
            return self.repos.get(key, RepoState()).model_copy(deep=True)

    def polled(self, key: str) -> Polled | None:
        """When ``key`` was last polled, and its place in that run."""
        with self._lock:
            state = self.repos.get(key)
            return polled_of(state) if state else None

    def record_event(self, key: str, event_id: str, created_at: int) -> None:
        """Mark the event handled."""
        with self._lock:
            mark_event(self.repos.setdefault(key, RepoState()).events, event_id, created_at)
            self.recorded.append((key, event_id))

    def record_run(self, key: str, run_id: str, created_at: int, state: str) -> None:
        """Mark the run's state forwarded."""
        with self._lock:
            mark_run(self.repos.setdefault(key, RepoState()).runs, run_id, created_at, state)
            self.recorded.append((key, run_id))

    def record_item(self, key: str, stream: str, item_id: str, created_at: int) -> None:
        """Mark the deployment status or image version sent."""
        with self._lock:
            mark_item(self.repos.setdefault(key, RepoState()), stream, item_id, created_at)
            self.recorded.append((key, item_id))

    def commit_repo(self, key: str, state: RepoState) -> None:
        """Keep the repository's state, once it passes the checks the real stores apply."""
        checked = checked_for_storage(state, key=key)
        with self._lock:
            self.repos[key] = checked
            self.committed.append(key)

    def forget(self, key: str) -> None:
        """Delete the state of ``key``."""
        with self._lock:
            self.repos.pop(key, None)
            self.forgotten.append(key)

    def finish_integration(self, integration_id: str, keys: Iterable[str]) -> None:
        """Note the call."""
        self.finished.append((integration_id, list(keys)))

    def close(self) -> None:
        """Note the call."""
        self.closed = True


class ListSink:
    """Keeps sent events; ``fail`` may raise for an event (by repository name) instead."""

    def __init__(self, fail: Callable[[PainChainEvent], Exception | None] = lambda event: None) -> None:
        self.sent: list[tuple[str | None, PainChainEvent]] = []
        self.fail = fail
        self._lock = threading.Lock()

    def send(self, event: PainChainEvent, *, tenant_id: str | None) -> None:
        """Record ``event``, or raise what ``fail`` returns for it."""
        error = self.fail(event)
        if error is not None:
            raise error
        with self._lock:
            self.sent.append((tenant_id, event))

    @property
    def titles(self) -> list[str]:
        """Titles of the events sent, in order."""
        return [event.title for _, event in self.sent]

    @property
    def events(self) -> list[PainChainEvent]:
        """The events sent, in order."""
        return [event for _, event in self.sent]


def integration(
    *repos: str, identifier: str = "clx1", token: str | None = TOKEN, tenant: str | None = "tenant-a", **config: Any
) -> Integration:
    """A valid GitHub integration watching ``repos`` (``owner/name``)."""
    repositories = [{"owner": text.split("/")[0], "repo": text.split("/")[1]} for text in repos or ("acme/api",)]
    return Integration.model_validate(
        {
            "id": identifier,
            "type": "github",
            "name": f"integration {identifier}",
            "tenantId": tenant,
            "config": {"token": token, "repositories": repositories, **config},
        }
    )


def jobs_of(*integrations: Integration) -> list[RepoJob]:
    """The jobs of ``integrations`` against api.github.com."""
    jobs, refused = build_jobs(
        list(integrations),
        default_api_url=API,
        allowed_hosts=frozenset({"api.github.com"}),
        default_interval=None,
        shard=None,
    )
    assert not refused
    return jobs


def client_for(token: SecretStr | None = None, *, runtime: float = 60.0, reserve: int = 0) -> GitHubClient:
    """A GitHub client on its own session (requests-mock answers it), retrying without sleeping."""
    return GitHubClient(
        session=requests.Session(),
        api_url=API,
        token=token,
        budget=TokenBudget(token_fingerprint(token), reserve=reserve, max_concurrent=4),
        deadline=Deadline(runtime),
        policy=RetryPolicy(attempts=2, base_delay=0.0),
        sleep=lambda seconds: None,
    )


def factory(api_url: str, token: TokenSource, budget: TokenBudget, scope: str = "") -> GitHubClient:
    """A :data:`~painchain_gh.sync.ClientFactory` for requests-mock."""
    return GitHubClient(
        cache_scope=scope,
        session=requests.Session(),
        api_url=api_url,
        token=token,
        budget=budget,
        deadline=Deadline(60),
        policy=RetryPolicy(attempts=2, base_delay=0.0),
        sleep=lambda seconds: None,
    )


def at(seconds_ago: float) -> str:
    """A GitHub timestamp ``seconds_ago`` before now."""
    return utc_iso(time.time() - seconds_ago)


def with_id(event: dict[str, Any], identifier: int, seconds_ago: float) -> dict[str, Any]:
    """A payload builder's event with an id and a creation time."""
    return {**event, "id": str(identifier), "created_at": at(seconds_ago)}


def workflow_run(
    identifier: int, seconds_ago: float, *, status: str = "completed", conclusion: str | None = "success"
) -> dict[str, Any]:
    """A workflow run as ``GET /actions/runs`` lists it."""
    return {
        "id": identifier,
        "name": "CI",
        "status": status,
        "conclusion": conclusion,
        "run_attempt": 1,
        "run_number": identifier % 1000,
        "created_at": at(seconds_ago),
        "updated_at": at(max(0.0, seconds_ago - 30)),
        "run_started_at": at(seconds_ago),
        "head_branch": "main",
        "event": "push",
        "actor": {"login": "octocat"},
    }


def mock_repo(
    mocker: requests_mock.Mocker,
    repo: str = "acme/api",
    *,
    events: list[dict[str, Any]] | None = None,
    runs: list[dict[str, Any]] | None = None,
    events_status: int = 200,
    runs_status: int = 200,
    deployments: list[dict[str, Any]] | None = None,
    releases: list[dict[str, Any]] | None = None,
) -> None:
    """One page of events, one of runs and one of deployments for ``repo`` (or the given error
    statuses), and its releases (none unless given: a release event is then the first one)."""
    base = f"{API}/repos/{repo}"
    headers = {"ETag": f'W/"{repo}-events"', "X-Poll-Interval": "60", "X-RateLimit-Remaining": "4000"}
    if events_status == 200:
        mocker.get(f"{base}/events?per_page=100", json=events or [], headers=headers)
    else:
        mocker.get(f"{base}/events?per_page=100", status_code=events_status, json={"message": "nope"})
    if runs_status == 200:
        body = {"total_count": len(runs or []), "workflow_runs": runs or []}
        mocker.get(f"{base}/actions/runs?per_page=100", json=body, headers={"ETag": f'W/"{repo}-runs"'})
    else:
        mocker.get(f"{base}/actions/runs?per_page=100", status_code=runs_status, json={"message": "nope"})
    mocker.get(f"{base}/deployments?per_page=100", json=deployments or [], headers={"ETag": f'W/"{repo}-deployments"'})
    mocker.get(f"{base}/releases?per_page=100", json=releases or [])


class BackendDouble:
    """The PainChain backend's integrations and events, answered through requests-mock."""

    def __init__(self, mocker: requests_mock.Mocker, integrations: list[dict[str, Any]]) -> None:
        self.integrations = {row["id"]: row for row in integrations}
        self.events: list[tuple[str | None, dict[str, Any]]] = []
        self.registered: list[dict[str, Any]] = []
        self.reject_titles: set[str] = set()
        mocker.get(f"{BACKEND}/integrations", json=lambda request, context: list(self.integrations.values()))
        matcher = re.compile(re.escape(BACKEND) + r"/integrations/(?P<id>[^/]+)$")
        mocker.get(matcher, json=self._get)
        mocker.put(matcher, json=self._put)
        mocker.post(f"{BACKEND}/events", json=self._post_event)
        mocker.post(f"{BACKEND}/integrations/types/register", json=self._register)

    @staticmethod
    def _id(request: Any) -> str:
        return str(request.path.rsplit("/", 1)[-1])

    def _get(self, request: Any, context: Any) -> Any:
        return copy.deepcopy(self.integrations.get(self._id(request)))

    def _put(self, request: Any, context: Any) -> Any:
        row = self.integrations[self._id(request)]
        row.update(request.json())
        return row

    def _post_event(self, request: Any, context: Any) -> Any:
        body = request.json()
        if body.get("title") in self.reject_titles:
            context.status_code = 400
            return {"error": "bad event"}
        self.events.append((request.headers.get("x-tenant-id"), body))
        context.status_code = 201
        return {"id": len(self.events)}

    def _register(self, request: Any, context: Any) -> Any:
        self.registered.append(request.json())
        return {"ok": True}


def integration_row(*repos: str, identifier: str = "clx1", tenant: str | None = "tenant-a") -> dict[str, Any]:
    """An integration as ``GET /integrations`` lists it."""
    return {
        "id": identifier,
        "type": "github",
        "name": f"integration {identifier}",
        "tenantId": tenant,
        "status": "active",
        "config": {
            "token": TOKEN,
            "repositories": [{"owner": text.split("/")[0], "repo": text.split("/")[1]} for text in repos],
        },
    }


def cursor_repos(cursor: Any) -> dict[str, Any]:
    """The repositories' raw cursors of a backend ``config.cursor`` of any version (version 3 is packed)."""
    from painchain_gh.store.backend_store import raw_entries

    assert isinstance(cursor, dict), cursor
    return raw_entries(cursor)
