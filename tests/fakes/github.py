"""A fake GitHub REST API with ETags, Link pagination and rate limits.

Endpoints: Events, Actions runs and jobs, pulls (one, list, reviews, files), compare, deployments
and their statuses, container packages and versions (orgs and users).

Rate limits: the primary (hourly) counter of each token (:class:`TokenSpec`; ``window`` scales
the hour), and GitHub's secondary limits per identity (:mod:`tests.fakes.limits`): requests in
flight and points per rolling window, always counted, enforced when ``secondary.enforce`` is set.

Payload builders at the bottom produce the real shapes (see /work/shared/fixtures/github). Called
without ``repo=``, they use the placeholder repository ``<owner>/<repo>``, which ``add_event`` and
``add_pull`` replace with the repository the object is added to.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode

from . import github_peers
from ._server import FakeServer, RecordedRequest, Response, json_response
from .github_app import FakeApps
from .limits import (
    ANONYMOUS,
    DOCUMENTATION_URL,
    MESSAGE,
    Refusal,
    SecondaryLimits,
    SecondaryUsage,
    installation_identity,
    points_of,
    token_identity,
)
from .shipped import ShippedRoutes

JSON = dict[str, Any]

EVENTS_WINDOW = 300  # GitHub keeps at most 300 events per timeline
FIRST_EVENT_ID = 40_000_000_000
FIRST_RUN_ID = 9_000_000_000
PLACEHOLDER = "<owner>/<repo>"
DEFAULT_TOKEN = "ghp_test_token"  # FakeBackend.add_integration's default token
_PAGINATION_LIMITED = "In order to keep the API fast for everyone, pagination is limited for this resource."


def utc_iso(epoch: float | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` for ``epoch`` (default: now), as GitHub writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if epoch is None else epoch))


def stable_id(text: str) -> int:
    """A deterministic positive id for a name (repository ids, user ids)."""
    return 100_000_000 + zlib.crc32(text.lower().encode()) % 900_000_000


@dataclass
class TokenSpec:
    """What a token may see, and its primary rate-limit counter."""

    repos: set[str] | None = None  # "owner/repo" names (any case); None = all
    scopes: str = "repo"
    limit: int = 5000
    remaining: int = -1  # -1: start at limit
    reset: int = 0  # epoch seconds; 0: now + window
    login: str = "tester"
    spent: int = 0
    window: int = 3600  # seconds of the primary limit's window: GitHub's hour, or a scaled one

    def __post_init__(self) -> None:
        if self.repos is not None:
            self.repos = {r.lower() for r in self.repos}
        if self.remaining < 0:
            self.remaining = self.limit
        if self.reset <= 0:
            self.reset = int(time.time()) + self.window

    def refill(self, now: int) -> None:
        """Start a new window once the reset time has passed."""
        if now >= self.reset:
            self.remaining, self.reset = self.limit, now + self.window

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers for the current counter."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Used": str(self.limit - self.remaining),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Resource": "core",
        }


@dataclass(slots=True)
class RepoData:
    """One repository: events newest first, runs in insertion order, pulls by number."""

    owner: str
    name: str
    private: bool = False
    events: list[JSON] = field(default_factory=list)
    runs: list[JSON] = field(default_factory=list)
    pulls: dict[int, JSON] = field(default_factory=dict)
    deployments: list[JSON] = field(default_factory=list)  # newest first
    statuses: dict[int, list[JSON]] = field(default_factory=dict)  # deployment id -> newest first
    compares: dict[str, JSON] = field(default_factory=dict)  # "base...head" -> comparison
    reviews: dict[int, list[JSON]] = field(default_factory=dict)
    pull_files: dict[int, list[JSON]] = field(default_factory=dict)
    jobs: dict[int, list[JSON]] = field(default_factory=dict)  # run id -> jobs

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def id(self) -> int:
        return stable_id(self.full_name)


_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_ROUTES = {
    "events": re.compile(_REPO + r"/events"),
    "runs": re.compile(_REPO + r"/actions/runs"),
    "run": re.compile(_REPO + r"/actions/runs/(?P<id>\d+)"),
    "jobs": re.compile(_REPO + r"/actions/runs/(?P<id>\d+)/jobs"),
    "pull": re.compile(_REPO + r"/pulls/(?P<number>\d+)"),
    "pulls": re.compile(_REPO + r"/pulls"),
    "reviews": re.compile(_REPO + r"/pulls/(?P<number>\d+)/reviews"),
    "files": re.compile(_REPO + r"/pulls/(?P<number>\d+)/files"),
    "compare": re.compile(_REPO + r"/compare/(?P<base>[^/]+?)\.\.\.(?P<head>[^/]+)"),
    "deployments": re.compile(_REPO + r"/deployments"),
    "statuses": re.compile(_REPO + r"/deployments/(?P<id>\d+)/statuses"),
    "repo": re.compile(_REPO),
}


_PACKAGES = re.compile(r"/(?P<kind>orgs|users)/(?P<owner>[^/]+)/packages")
_VERSIONS = re.compile(r"/(?P<kind>orgs|users)/(?P<owner>[^/]+)/packages/container/(?P<name>[^/]+)/versions")


class FakeGitHub(FakeServer):
    """GitHub (or GHES under ``/api/v3``) serving repositories stored in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, TokenSpec] = {DEFAULT_TOKEN: TokenSpec()}
        self.anonymous = TokenSpec(limit=60, scopes="", login="")
        self.anonymous_allowed = True
        self.poll_interval = 60
        self.repo_factory: Callable[[str, str], RepoData | None] | None = None
        self.clock: Callable[[], float] = time.time
        self._repos: dict[str, RepoData] = {}
        self._next_event_id = FIRST_EVENT_ID
        self._next_run_id = FIRST_RUN_ID
        self._next_object_id = 1_000
        self._request_ids = 0
        # ("orgs"|"users", owner lower) -> package name -> package; versions newest first
        self.packages: dict[tuple[str, str], dict[str, JSON]] = {}
        self.package_versions: dict[tuple[str, str, str], list[JSON]] = {}
        self.apps = FakeApps(self)  # GitHub App endpoints (JWT, installations, repository lists)
        self.secondary = SecondaryLimits()  # replace (or set .enforce) to enforce GitHub's secondary limits
        self.secondary_usage = SecondaryUsage()  # requests in flight, points and violations per identity
        self.events_polled_at: dict[str, float] = {}  # "owner/repo" (lower case) -> clock() of its last events answer
        self.shipped = ShippedRoutes()  # releases, commits' pull requests, run approvals (what shipped)

    @property
    def ghes_url(self) -> str:
        """The base URL in the GitHub Enterprise Server form (``.../api/v3``)."""
        return self.origin + "/api/v3"

    # -- tokens and rate limits ------------------------------------------------------------

    def add_token(
        self, token: str, repos: set[str] | None = None, scopes: str = "repo", limit: int = 5000
    ) -> TokenSpec:
        """Accept ``token``; ``repos`` limits what it sees (None = everything)."""
        spec = TokenSpec(repos=repos, scopes=scopes, limit=limit)
        with self._lock:
            self.tokens[token] = spec
        return spec

    def set_remaining(self, token: str | None, n: int, *, reset: int | None = None) -> None:
        """Set the remaining units (and optionally the reset epoch) of a token (None = anonymous)."""
        with self._lock:
            spec = self._spec(token)
            spec.remaining = n
            if reset is not None:
                spec.reset = reset

    def units_spent(self, token: str | None) -> int:
        """Units spent by a token (None = anonymous) since it was added."""
        with self._lock:
            return self._spec(token).spent

    def _spec(self, token: str | None) -> TokenSpec:
        return self.anonymous if token is None else self.tokens[token]

    # -- secondary limits ----------------------------------------------------------------------

    def identity_of(self, token: str | None) -> str:
        """The secondary-limit identity of a token (None = anonymous; an installation's tokens share one)."""
        if token is None:
            return ANONYMOUS
        with self._lock:
            minted = self.apps.minted.get(token)
        return token_identity(token) if minted is None else installation_identity(minted.installation.id)

    def arrive(self, req: RecordedRequest) -> Response | None:
        """Count the request against its identity's secondary limits; their answer if it passes them."""
        path = req.path.removeprefix("/api/v3")
        with self._lock:
            req.caller = self._caller(req, path)
            now = self.clock()
        refusal = self.secondary_usage.arrive(req.caller, points_of(req.method, path), now, self.secondary)
        return None if refusal is None else self._secondary_answer(req, refusal)

    def depart(self, req: RecordedRequest) -> None:
        """The request no longer counts as in flight."""
        self.secondary_usage.leave(req.caller)

    def _caller(self, req: RecordedRequest, path: str) -> str:
        auth = req.headers.get("authorization")
        if auth is None:
            return ANONYMOUS
        credential = auth.partition(" ")[2].strip()
        app = self.apps.caller(path, credential)
        if app is not None:
            return app
        minted = self.apps.minted.get(credential)
        return token_identity(credential) if minted is None else installation_identity(minted.installation.id)

    def _secondary_answer(self, req: RecordedRequest, refusal: Refusal) -> Response:
        """GitHub's secondary-limit answer: 403 or 429, ``Retry-After``, its message with the request id."""
        with self._lock:
            self._request_ids += 1
            request_id = f"FAKE:{self._request_ids:08X}"
            spec = self._authenticate(req)
            primary = spec.headers() if isinstance(spec, TokenSpec) else {}
        body = {"message": MESSAGE.format(request_id=request_id), "documentation_url": DOCUMENTATION_URL}
        headers = {
            **primary,
            "Retry-After": str(refusal.retry_after),
            "X-GitHub-Request-Id": request_id,
            "X-GitHub-Api-Version-Selected": "2022-11-28",
        }
        return json_response(self.secondary.status, body, headers)

    # -- data API ---------------------------------------------------------------------------

    def add_repo(self, owner: str, repo: str, *, private: bool = False) -> RepoData:
        """Create (or return) a repository; unknown repositories answer 404."""
        with self._lock:
            data = self._repos.setdefault(f"{owner}/{repo}".lower(), RepoData(owner, repo))
            data.private = private
            return data

    def repo(self, owner: str, repo: str) -> RepoData:
        """The repository (from ``repo_factory`` if set), created empty on first use."""
        with self._lock:
            return self._lookup(owner, repo) or self.add_repo(owner, repo)

    def _lookup(self, owner: str, repo: str) -> RepoData | None:
        key = f"{owner}/{repo}".lower()
        data = self._repos.get(key)
        if data is None and self.repo_factory is not None:
            data = self.repo_factory(owner, repo)
            if data is not None:
                self._repos[key] = data
        return data

    def add_event(self, owner: str, repo: str, event: JSON) -> JSON:
        """Store an event as the newest one; fills ``id``, ``created_at`` and ``repo`` if missing."""
        return self.insert_event_at(owner, repo, 0, event)

    def insert_event_at(self, owner: str, repo: str, index: int, event: JSON) -> JSON:
        """Store an event at ``index`` of the newest-first timeline (late, out-of-order events)."""
        with self._lock:
            data = self.repo(owner, repo)
            stored: JSON = _localize(event, data)
            if "id" not in stored:
                stored = {"id": str(self._next_event_id), **stored}
                self._next_event_id += 1
            stored.setdefault("created_at", utc_iso(self.clock()))
            stored.setdefault(
                "repo",
                {"id": data.id, "name": data.full_name, "url": f"{self.url}/repos/{data.full_name}"},
            )
            data.events.insert(index, stored)
            return stored

    def add_run(self, owner: str, repo: str, run: JSON) -> JSON:
        """Store a workflow run, filling the usual fields where missing."""
        with self._lock:
            data = self.repo(owner, repo)
            run_id = run.get("id")
            if run_id is None:
                run_id = self._next_run_id
                self._next_run_id += 1
            now = utc_iso(self.clock())
            name = run.get("name", "CI")
            api = f"{self.url}/repos/{data.full_name}"
            stored: JSON = {
                "id": run_id,
                "name": name,
                "head_branch": "main",
                "head_sha": hashlib.sha1(str(run_id).encode(), usedforsecurity=False).hexdigest(),
                "path": ".github/workflows/ci.yml",
                "display_title": name,
                "run_number": 1 + max((r.get("run_number", 0) for r in data.runs), default=0),
                "event": "push",
                "status": "queued",
                "conclusion": None,
                "workflow_id": stable_id(f"{data.full_name}:{name}"),
                "url": f"{api}/actions/runs/{run_id}",
                "html_url": f"https://github.com/{data.full_name}/actions/runs/{run_id}",
                "pull_requests": [],
                "created_at": now,
                "updated_at": run.get("created_at", now),
                "actor": {"login": "octocat"},
                "run_attempt": 1,
                "run_started_at": run.get("created_at", now),
                "triggering_actor": {"login": "octocat"},
                "repository": {"id": data.id, "name": data.name, "full_name": data.full_name},
                **run,
            }
            data.runs.append(stored)
            return stored

    def update_run(self, owner: str, repo: str, run_id: int, **fields: Any) -> JSON:
        """Change a run's fields; ``updated_at`` moves to now unless given. KeyError if unknown."""
        with self._lock:
            run = next((r for r in self.repo(owner, repo).runs if r["id"] == run_id), None)
            if run is None:
                raise KeyError(f"no run {run_id} in {owner}/{repo}")
            run.update({"updated_at": utc_iso(self.clock()), **fields})
            return run

    def add_pull(self, owner: str, repo: str, pull: JSON) -> JSON:
        """Store a pull request object by its ``number``."""
        with self._lock:
            data = self.repo(owner, repo)
            stored: JSON = _localize(pull, data)
            data.pulls[int(stored["number"])] = stored
            return stored

    def _object_id(self) -> int:
        self._next_object_id += 1
        return self._next_object_id

    def add_deployment(self, owner: str, repo: str, deployment: JSON | None = None) -> JSON:
        """Store a deployment as the newest one (``deployment`` overrides the defaults)."""
        with self._lock:
            data = self.repo(owner, repo)
            fields = dict(deployment or {})
            dep_id = fields.pop("id", None) or self._object_id()
            now = utc_iso(self.clock())
            api = f"{self.url}/repos/{data.full_name}"
            stored: JSON = {
                "url": f"{api}/deployments/{dep_id}",
                "id": dep_id,
                "node_id": f"DE_{dep_id}",
                "sha": hashlib.sha1(str(dep_id).encode(), usedforsecurity=False).hexdigest(),
                "ref": "main",
                "task": "deploy",
                "payload": {},
                "original_environment": fields.get("environment", "production"),
                "environment": "production",
                "description": None,
                "creator": _user("octocat"),
                "created_at": now,
                "updated_at": fields.get("created_at", now),
                "statuses_url": f"{api}/deployments/{dep_id}/statuses",
                "repository_url": api,
                "transient_environment": False,
                "production_environment": True,
                **fields,
            }
            data.deployments.insert(0, stored)
            data.statuses.setdefault(dep_id, [])
            return stored

    def add_deployment_status(self, owner: str, repo: str, deployment_id: int, status: JSON | None = None) -> JSON:
        """Add a status (newest first) and bump the deployment's ``updated_at``, as GitHub does."""
        with self._lock:
            data = self.repo(owner, repo)
            deployment = next(d for d in data.deployments if d["id"] == deployment_id)
            fields = dict(status or {})
            status_id = fields.pop("id", None) or self._object_id()
            now = utc_iso(self.clock())
            api = f"{self.url}/repos/{data.full_name}"
            stored: JSON = {
                "url": f"{api}/deployments/{deployment_id}/statuses/{status_id}",
                "id": status_id,
                "node_id": f"DES_{status_id}",
                "state": "success",
                "creator": _user("octocat"),
                "description": "",
                "environment": deployment["environment"],
                "target_url": "",
                "created_at": now,
                "updated_at": now,
                "deployment_url": f"{api}/deployments/{deployment_id}",
                "repository_url": api,
                "environment_url": "",
                "log_url": "",
                **fields,
            }
            data.statuses[deployment_id].insert(0, stored)
            deployment["updated_at"] = stored["created_at"]
            return stored

    def set_compare(self, owner: str, repo: str, base: str, head: str, comparison: JSON) -> None:
        """What ``GET /compare/{base}...{head}`` answers (unknown pairs answer 404)."""
        with self._lock:
            self.repo(owner, repo).compares[f"{base}...{head}"] = comparison

    def add_review(self, owner: str, repo: str, number: int, review: JSON) -> JSON:
        """Add a review (``user``, ``state`` such as ``APPROVED``) to pull request ``number``."""
        with self._lock:
            stored = {"id": self._object_id(), "submitted_at": utc_iso(self.clock()), **review}
            self.repo(owner, repo).reviews.setdefault(number, []).append(stored)
            return stored

    def add_pull_file(self, owner: str, repo: str, number: int, file: JSON) -> None:
        """Add a changed file (``filename``, ``additions``, ...) to pull request ``number``."""
        with self._lock:
            self.repo(owner, repo).pull_files.setdefault(number, []).append(file)

    def add_jobs(self, owner: str, repo: str, run_id: int, jobs: list[JSON]) -> None:
        """The jobs of a workflow run (its latest attempt)."""
        with self._lock:
            self.repo(owner, repo).jobs.setdefault(run_id, []).extend(jobs)

    def add_package(self, owner: str, name: str, *, kind: str = "orgs", repository: str | None = None) -> JSON:
        """Create (or return) a container package of an organization (``kind="orgs"``) or user."""
        with self._lock:
            packages = self.packages.setdefault((kind, owner.lower()), {})
            if name not in packages:
                now = utc_iso(self.clock())
                packages[name] = {
                    "id": self._object_id(),
                    "name": name,
                    "package_type": "container",
                    "owner": _user(owner),
                    "version_count": 0,
                    "visibility": "public",
                    "url": f"{self.url}/{kind}/{owner}/packages/container/{quote(name, safe='')}",
                    "html_url": f"https://github.com/{kind}/{owner}/packages/container/package/{name}",
                    "created_at": now,
                    "updated_at": now,
                    **({"repository": {"id": stable_id(repository), "full_name": repository}} if repository else {}),
                }
            return packages[name]

    def add_package_version(
        self, owner: str, name: str, tags: list[str], *, kind: str = "orgs", digest: str | None = None
    ) -> JSON:
        """Publish a version (newest first); bumps the package's ``updated_at`` and version count."""
        with self._lock:
            package = self.add_package(owner, name, kind=kind)
            version_id = self._object_id()
            now = utc_iso(self.clock())
            version: JSON = {
                "id": version_id,
                "name": digest or "sha256:" + hashlib.sha256(str(version_id).encode()).hexdigest(),
                "url": f"{package['url']}/versions/{version_id}",
                "package_html_url": package["html_url"],
                "created_at": now,
                "updated_at": now,
                "html_url": f"https://github.com/{kind}/{owner}/packages/container/{name}/{version_id}",
                "metadata": {"package_type": "container", "container": {"tags": list(tags)}},
            }
            self.package_versions.setdefault((kind, owner.lower(), name), []).insert(0, version)
            package["updated_at"] = now
            package["version_count"] += 1
            return version

    # -- HTTP -------------------------------------------------------------------------------

    def fault_headers(self, req: RecordedRequest) -> dict[str, str]:
        """Injected faults carry the caller's current rate-limit headers (no unit spent)."""
        with self._lock:
            spec = self._authenticate(req)
            return spec.headers() if isinstance(spec, TokenSpec) else {}

    def handle(self, req: RecordedRequest) -> Response:
        with self._lock:
            self._request_ids += 1
            base = {
                "X-GitHub-Request-Id": f"FAKE:{self._request_ids:08X}",
                "X-GitHub-Api-Version-Selected": "2022-11-28",
            }
            answer = self.apps.handle(req, req.path.removeprefix("/api/v3"))
            if answer is not None:
                answer.headers.update(base)
                return answer
            spec = self._authenticate(req)
            if isinstance(spec, Response):
                spec.headers.update(base)
                return spec
            if spec is not self.anonymous:
                base["X-OAuth-Scopes"] = spec.scopes
            spec.refill(int(self.clock()))
            path = req.path.removeprefix("/api/v3")
            if path == "/rate_limit" and req.method == "GET":
                return self._rate_limit(spec, base)
            if spec.remaining <= 0:
                doc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                resp = _message(403, "API rate limit exceeded for user ID 1.", doc)
            else:
                resp = _conditional(req, self._route(req, path, spec))
                if resp.status != 304:  # a 304 is free
                    spec.remaining -= 1
                    spec.spent += 1
            resp.headers.update({**base, **spec.headers()})
            return resp

    def _authenticate(self, req: RecordedRequest) -> TokenSpec | Response:
        auth = req.headers.get("authorization")
        if auth is None:
            if self.anonymous_allowed:
                return self.anonymous
            return _message(401, "Requires authentication")
        scheme, _, token = auth.partition(" ")
        spec = self.tokens.get(token.strip())
        if scheme.lower() not in ("bearer", "token") or spec is None:
            return _message(401, "Bad credentials")
        return spec

    def _rate_limit(self, spec: TokenSpec, base: dict[str, str]) -> Response:
        core = {
            "limit": spec.limit,
            "remaining": spec.remaining,
            "reset": spec.reset,
            "used": spec.limit - spec.remaining,
            "resource": "core",
        }
        resources = {"core": core, "graphql": github_peers.graphql_resource(core)}
        return json_response(200, {"resources": resources, "rate": core}, {**base, **spec.headers()})

    def _route(self, req: RecordedRequest, path: str, spec: TokenSpec) -> Response:
        if req.method == "POST" and path == "/graphql":
            return github_peers.graphql(req, lambda owner, name: self._repo_id(owner, name, spec))
        if req.method != "GET":
            return _message(404, "Not Found")
        if path == "/user":
            if spec is self.anonymous:
                return _message(401, "Requires authentication")
            return json_response(200, {"login": spec.login, "id": 1, "type": "User"}, {"X-OAuth-Scopes": spec.scopes})
        if packages := self._route_packages(req, path):
            return packages
        listed = self.apps.list_repos(req, path, spec)
        if listed is not None:
            return listed
        shipped = self.shipped.route(
            req,
            path,
            repo_exists=lambda owner, repo: self._visible_repo(owner, repo, spec) is not None,
            deployments=lambda owner, repo: (
                found.deployments if (found := self._visible_repo(owner, repo, spec)) else None
            ),
            paginate=self._paginate,
        )
        if shipped is not None:
            return shipped
        route = _match_route(path)
        if route is None:
            return _message(404, "Not Found")
        kind, m = route
        data = self._visible_repo(unquote(m["owner"]), unquote(m["repo"]), spec)
        if data is None:
            return _message(404, "Not Found")
        if kind == "events":
            self.events_polled_at[data.full_name.lower()] = self.clock()
            return self._paginate(
                req, data.events, limit=EVENTS_WINDOW, headers={"X-Poll-Interval": str(self.poll_interval)}
            )
        if kind == "runs":
            runs = sorted(reversed(data.runs), key=lambda r: str(r.get("created_at")), reverse=True)
            return self._paginate(req, runs, wrap="workflow_runs")
        if kind == "run":
            run = next((r for r in data.runs if str(r.get("id")) == m["id"]), None)
            return _message(404, "Not Found") if run is None else json_response(200, run)
        if kind == "pull":
            pull = data.pulls.get(int(m["number"]))
            return _message(404, "Not Found") if pull is None else json_response(200, pull)
        if kind in ("pulls", "reviews", "files", "jobs", "compare", "deployments", "statuses"):
            return self._route_more(req, kind, m, data)
        return json_response(
            200,
            {
                "id": data.id,
                "name": data.name,
                "full_name": data.full_name,
                "owner": {"login": data.owner},
                "private": data.private,
                "html_url": f"https://github.com/{data.full_name}",
            },
        )

    def _route_more(self, req: RecordedRequest, kind: str, m: re.Match[str], data: RepoData) -> Response:
        if kind == "pulls":
            return self._paginate(req, _list_pulls(list(data.pulls.values()), req.query))
        if kind in ("reviews", "files"):
            number = int(m["number"])
            if number not in data.pulls:
                return _message(404, "Not Found")
            return self._paginate(req, (data.reviews if kind == "reviews" else data.pull_files).get(number, []))
        if kind == "jobs":
            run_id = int(m["id"])
            if not any(str(r.get("id")) == m["id"] for r in data.runs):
                return _message(404, "Not Found")
            return self._paginate(req, data.jobs.get(run_id, []), wrap="jobs")
        if kind == "compare":
            comparison = data.compares.get(f"{unquote(m['base'])}...{unquote(m['head'])}")
            return _message(404, "Not Found") if comparison is None else json_response(200, comparison)
        if kind == "deployments":
            return self._paginate(req, data.deployments)
        statuses = data.statuses.get(int(m["id"]))
        return _message(404, "Not Found") if statuses is None else self._paginate(req, statuses)

    def _route_packages(self, req: RecordedRequest, path: str) -> Response | None:
        if m := _PACKAGES.fullmatch(path):
            packages = self.packages.get((m["kind"], unquote(m["owner"]).lower()))
            if packages is None:
                return _message(404, "Not Found")
            if req.query.get("package_type") != "container":
                return _message(400, "package_type is required and must be container in this fake")
            listed = sorted(packages.values(), key=lambda p: str(p["name"]))
            return self._paginate(req, listed)
        if m := _VERSIONS.fullmatch(path):
            key = (m["kind"], unquote(m["owner"]).lower(), unquote(m["name"]))
            versions = self.package_versions.get(key)
            return _message(404, "Package not found.") if versions is None else self._paginate(req, versions)
        return None

    def _repo_id(self, owner: str, repo: str, spec: TokenSpec) -> tuple[str, int] | None:
        data = self._visible_repo(owner, repo, spec)
        return None if data is None else (data.full_name, data.id)

    def _visible_repo(self, owner: str, repo: str, spec: TokenSpec) -> RepoData | None:
        data = self._lookup(owner, repo)
        if data is None or (spec.repos is not None and f"{owner}/{repo}".lower() not in spec.repos):
            return None
        if data.private and "repo" not in {s.strip() for s in spec.scopes.split(",")}:
            return None
        return data

    def _paginate(
        self,
        req: RecordedRequest,
        items: list[JSON],
        *,
        limit: int | None = None,
        wrap: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        per_page = min(_int_param(req.query, "per_page", 30), 100)
        page = _int_param(req.query, "page", 1)
        reachable = items if limit is None else items[:limit]
        if limit is not None and (page - 1) * per_page >= limit:
            return _message(422, _PAGINATION_LIMITED, "https://docs.github.com/v3/#pagination")
        chunk = reachable[(page - 1) * per_page : page * per_page]
        body: object = {"total_count": len(reachable), wrap: chunk} if wrap else chunk
        headers = dict(headers or {})
        last = max(1, -(-len(reachable) // per_page))
        if last > 1:
            headers["Link"] = self._link(req, page, last)
        return json_response(200, body, headers)

    def _link(self, req: RecordedRequest, page: int, last: int) -> str:
        """A ``Link`` header in GitHub's order: prev, next, last, first (each only when it applies)."""

        def url(n: int) -> str:
            return f"{self.origin}{req.path}?{urlencode({**req.query, 'page': str(n)})}"

        rels = []
        if page > 1:
            rels.append((page - 1, "prev"))
        if page < last:
            rels += [(page + 1, "next"), (last, "last")]
        if page > 1:
            rels.append((1, "first"))
        return ", ".join(f'<{url(n)}>; rel="{rel}"' for n, rel in rels)


def _match_route(path: str) -> tuple[str, re.Match[str]] | None:
    for kind, pattern in _ROUTES.items():
        if m := pattern.fullmatch(path):
            return kind, m
    return None


def _list_pulls(pulls: list[JSON], query: dict[str, str]) -> list[JSON]:
    """``GET /pulls``: ``state`` (open, closed, all; default open), ``sort`` (created, updated;
    default created), ``direction`` (default desc)."""
    state = query.get("state", "open")
    chosen = [p for p in pulls if state == "all" or p.get("state") == state]
    key = "updated_at" if query.get("sort") == "updated" else "created_at"
    ordered = sorted(chosen, key=lambda p: (str(p.get(key)), int(p.get("number", 0))))
    return ordered if query.get("direction") == "asc" else ordered[::-1]


def _conditional(req: RecordedRequest, resp: Response) -> Response:
    """Add a weak ETag (a hash of the body) to a 200; answer 304 when If-None-Match equals it."""
    if resp.status != 200:
        return resp
    etag = 'W/"' + hashlib.sha256(resp.body).hexdigest() + '"'
    resp.headers.update({"ETag": etag, "Cache-Control": "private, max-age=60, s-maxage=60"})
    if req.headers.get("if-none-match") != etag:
        return resp
    return Response(304, b"", {k: v for k, v in resp.headers.items() if k != "Content-Type"})


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError:
        return default
    return value if value >= 1 else default


def _message(status: int, message: str, doc: str = "https://docs.github.com/rest") -> Response:
    return json_response(status, {"message": message, "documentation_url": doc})


_PLACEHOLDER_ID = stable_id(PLACEHOLDER)


def _localize(value: Any, repo: RepoData) -> Any:
    """A deep copy of ``value`` with the placeholder repository replaced by ``repo``."""
    if isinstance(value, str):
        return value.replace("<owner>", repo.owner).replace("<repo>", repo.name)
    if isinstance(value, dict):
        return {k: _localize(v, repo) for k, v in value.items()}
    if isinstance(value, list):
        return [_localize(v, repo) for v in value]
    if value == _PLACEHOLDER_ID and isinstance(value, int):
        return repo.id
    return value


# -- payload builders -------------------------------------------------------------------------


def _sha() -> str:
    return secrets.token_hex(20)


def _user(login: str) -> JSON:
    return {
        "login": login,
        "id": stable_id(login),
        "type": "Bot" if login.endswith("[bot]") else "User",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
    }


def _event(kind: str, actor: str, payload: JSON, repo: str | None) -> JSON:
    event: JSON = {
        "type": kind,
        "actor": {
            "id": stable_id(actor),
            "login": actor,
            "display_login": actor.removesuffix("[bot]"),
            "gravatar_id": "",
            "url": f"https://api.github.com/users/{actor}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{stable_id(actor)}?",
        },
    }
    if repo is not None:
        event["repo"] = {"id": stable_id(repo), "name": repo, "url": f"https://api.github.com/repos/{repo}"}
    return {**event, "payload": payload, "public": True}


def _branch(ref: str, sha: str, repo: str) -> JSON:
    return {
        "ref": ref,
        "sha": sha,
        "repo": {
            "id": stable_id(repo),
            "url": f"https://api.github.com/repos/{repo}",
            "name": repo.split("/")[-1],
        },
    }


def push_event(
    ref: str = "refs/heads/main",
    head: str | None = None,
    before: str | None = None,
    actor: str = "octocat",
    trimmed: bool = True,
    *,
    message: str = "Update README",
    repo: str | None = None,
) -> JSON:
    """A PushEvent; ``trimmed`` is the github.com shape since 2025-10-07 (no commits, no size)."""
    head = head or _sha()
    payload: JSON = {
        "repository_id": stable_id(repo or PLACEHOLDER),
        "push_id": stable_id(head),
        "ref": ref,
        "head": head,
        "before": before or _sha(),
    }
    if not trimmed:
        commit = {
            "sha": head,
            "author": {"email": f"{actor}@example.com", "name": actor},
            "message": message,
            "distinct": True,
            "url": f"https://api.github.com/repos/{repo or PLACEHOLDER}/commits/{head}",
        }
        payload.update({"size": 1, "distinct_size": 1, "commits": [commit]})
    return _event("PushEvent", actor, payload, repo)


def pull(
    number: int,
    title: str = "Fix login redirect",
    user: str = "octocat",
    merged: bool = False,
    state: str = "open",
    *,
    merged_by: str | None = None,
    repo: str | None = None,
) -> JSON:
    """A full REST pull request object (``GET /repos/{o}/{r}/pulls/{n}``); merged implies closed."""
    full = repo or PLACEHOLDER
    now = utc_iso()
    closed = merged or state == "closed"
    return {
        "url": f"https://api.github.com/repos/{full}/pulls/{number}",
        "id": stable_id(f"{full}#{number}"),
        "html_url": f"https://github.com/{full}/pull/{number}",
        "number": number,
        "state": "closed" if closed else "open",
        "locked": False,
        "title": title,
        "user": _user(user),
        "body": "",
        "created_at": now,
        "updated_at": now,
        "closed_at": now if closed else None,
        "merged_at": now if merged else None,
        "labels": [],
        "draft": False,
        "head": {"label": f"{full.split('/')[0]}:feature", **_branch("feature", _sha(), full)},
        "base": {"label": f"{full.split('/')[0]}:main", **_branch("main", _sha(), full)},
        "author_association": "MEMBER",
        "merged": merged,
        "merged_by": _user(merged_by or user) if merged else None,
        "comments": 0,
        "commits": 1,
        "additions": 1,
        "deletions": 0,
        "changed_files": 1,
    }


def pull_request_event(
    action: str,
    number: int,
    trimmed: bool = True,
    title: str = "Fix login redirect",
    user: str = "octocat",
    merged: bool | None = None,
    *,
    actor: str | None = None,
    repo: str | None = None,
) -> JSON:
    """A PullRequestEvent; trimmed carries the 5-key ``pull-request-minimal`` stub only."""
    full = repo or PLACEHOLDER
    if trimmed:
        pr: JSON = {
            "url": f"https://api.github.com/repos/{full}/pulls/{number}",
            "id": stable_id(f"{full}#{number}"),
            "number": number,
            "head": _branch("feature", _sha(), full),
            "base": _branch("main", _sha(), full),
        }
    else:
        is_merged = action == "merged" if merged is None else merged
        state = "closed" if action in ("closed", "merged") else "open"
        pr = pull(number, title, user, merged=is_merged, state=state, repo=repo)
    return _event("PullRequestEvent", actor or user, {"action": action, "number": number, "pull_request": pr}, repo)


def review_event(
    number: int,
    state: str = "approved",
    reviewer: str = "reviewer",
    trimmed: bool = True,
    *,
    repo: str | None = None,
) -> JSON:
    """A PullRequestReviewEvent (action ``created``) by ``reviewer``."""
    full = repo or PLACEHOLDER
    review_id = secrets.randbelow(10**9) + 10**9
    html = f"https://github.com/{full}/pull/{number}#pullrequestreview-{review_id}"
    api_pull = f"https://api.github.com/repos/{full}/pulls/{number}"
    review: JSON = {
        "id": review_id,
        "node_id": f"PRR_{review_id}",
        "user": _user(reviewer),
        "body": None,
        "commit_id": _sha(),
        "submitted_at": utc_iso(),
        "state": state,
        "html_url": html,
        "pull_request_url": api_pull,
        "_links": {"html": {"href": html}, "pull_request": {"href": api_pull}},
    }
    pr = pull_request_event("opened", number, trimmed, repo=repo)["payload"]["pull_request"]
    if not trimmed:
        review["author_association"] = "MEMBER"
    return _event("PullRequestReviewEvent", reviewer, {"action": "created", "review": review, "pull_request": pr}, repo)


def issues_event(
    action: str = "opened",
    number: int = 1,
    title: str = "Login page returns 500",
    user: str = "octocat",
    *,
    labels: list[str] | None = None,
    repo: str | None = None,
) -> JSON:
    """An IssuesEvent with the full issue object (never trimmed)."""
    full = repo or PLACEHOLDER
    now = utc_iso()
    issue = {
        "url": f"https://api.github.com/repos/{full}/issues/{number}",
        "repository_url": f"https://api.github.com/repos/{full}",
        "html_url": f"https://github.com/{full}/issues/{number}",
        "id": stable_id(f"{full}!{number}"),
        "number": number,
        "title": title,
        "user": _user(user),
        "labels": [{"name": name} for name in labels or []],
        "state": "closed" if action == "closed" else "open",
        "locked": False,
        "assignee": None,
        "assignees": [],
        "comments": 0,
        "created_at": now,
        "updated_at": now,
        "closed_at": now if action == "closed" else None,
        "body": "",
    }
    return _event("IssuesEvent", user, {"action": action, "issue": issue}, repo)


def release_event(
    tag: str = "v1.0.0",
    name: str | None = None,
    author: str = "octocat",
    *,
    prerelease: bool = False,
    repo: str | None = None,
) -> JSON:
    """A ReleaseEvent (action ``published``) with the full release object."""
    full = repo or PLACEHOLDER
    release_id = stable_id(f"{full}@{tag}")
    now = utc_iso()
    release = {
        "url": f"https://api.github.com/repos/{full}/releases/{release_id}",
        "html_url": f"https://github.com/{full}/releases/tag/{tag}",
        "id": release_id,
        "author": _user(author),
        "tag_name": tag,
        "target_commitish": "main",
        "name": tag if name is None else name,
        "draft": False,
        "prerelease": prerelease,
        "created_at": now,
        "published_at": now,
        "assets": [],
        "body": "",
    }
    return _event("ReleaseEvent", author, {"action": "published", "release": release}, repo)


def watch_event(actor: str = "stargazer", *, repo: str | None = None) -> JSON:
    """A WatchEvent (a star): a type the connector does not support."""
    return _event("WatchEvent", actor, {"action": "started"}, repo)
