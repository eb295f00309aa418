"""What the fake GitHub answers for "what shipped" (issue 19): releases, a commit's pull requests,
a run's deployment approvals, deployments filtered by environment; and builders of the real
shapes of compares and commits (field names from GitHub's REST reference and the recordings in
``tests/fixtures/github``).

Kept beside :mod:`tests.fakes.github` so the routes live in one block: ``FakeGitHub.shipped``
holds the data; ``FakeGitHub._route`` asks :meth:`ShippedRoutes.route` before its own routes.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ._server import RecordedRequest, Response, json_response

JSON = dict[str, Any]
_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
ROUTES = {
    "releases": re.compile(_REPO + r"/releases"),
    "commit_pulls": re.compile(_REPO + r"/commits/(?P<sha>[^/]+)/pulls"),
    "approvals": re.compile(_REPO + r"/actions/runs/(?P<id>\d+)/approvals"),
    "deployments": re.compile(_REPO + r"/deployments"),
}


@dataclass
class ShippedData:
    """One repository's releases (newest first), pull requests by commit, approvals by run."""

    releases: list[JSON] = field(default_factory=list)
    commit_pulls: dict[str, list[JSON]] = field(default_factory=dict)
    approvals: dict[int, list[JSON]] = field(default_factory=dict)


class ShippedRoutes:
    """The data and the routes; a commit or run nobody described answers ``[]``, as GitHub does for
    a commit pushed straight to a branch or a run into an environment without reviewers."""

    def __init__(self) -> None:
        self._repos: dict[str, ShippedData] = {}
        self._lock = threading.Lock()

    def data(self, owner: str, repo: str) -> ShippedData:
        """The repository's data, created empty."""
        with self._lock:
            return self._repos.setdefault(f"{owner}/{repo}".lower(), ShippedData())

    def add_release(self, owner: str, repo: str, release: JSON) -> None:
        """A release (``tag_name``, ``draft``, ``prerelease``, times) as the newest one."""
        self.data(owner, repo).releases.insert(0, release)

    def set_commit_pulls(self, owner: str, repo: str, sha: str, pulls: list[JSON]) -> None:
        """What ``GET /commits/{sha}/pulls`` answers."""
        self.data(owner, repo).commit_pulls[sha] = pulls

    def add_approval(self, owner: str, repo: str, run_id: int, approval: JSON) -> None:
        """One entry of ``GET /actions/runs/{run_id}/approvals``."""
        self.data(owner, repo).approvals.setdefault(run_id, []).append(approval)

    def route(
        self,
        req: RecordedRequest,
        path: str,
        *,
        repo_exists: Callable[[str, str], bool],
        deployments: Callable[[str, str], list[JSON] | None],
        paginate: Callable[[RecordedRequest, list[JSON]], Response],
    ) -> Response | None:
        """The answer for one of these routes, or None for any other path."""
        for kind, pattern in ROUTES.items():
            match = pattern.fullmatch(path)
            if match is None:
                continue
            owner, repo = unquote(match["owner"]), unquote(match["repo"])
            if kind == "deployments":
                if "environment" not in req.query:
                    return None  # the unfiltered list is the fake's own route
                listed = deployments(owner, repo)
                if listed is None:
                    return None
                return paginate(req, [d for d in listed if d.get("environment") == req.query["environment"]])
            if not repo_exists(owner, repo):
                return None  # the fake's own 404
            data = self.data(owner, repo)
            if kind == "releases":
                return paginate(req, list(data.releases))
            if kind == "commit_pulls":
                return paginate(req, list(data.commit_pulls.get(unquote(match["sha"]), [])))
            return json_response(200, list(data.approvals.get(int(match["id"]), [])))
        return None


# -- builders of real shapes --------------------------------------------------------------------


def sha_of(text: str) -> str:
    """A deterministic 40-hex SHA for a name (so tests can refer to commits by name)."""
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def commit(
    name: str,
    message: str,
    *,
    author: str = "alice",
    parents: Sequence[str] = (),
) -> JSON:
    """A commit as a compare lists it (``sha``, ``commit.message``, ``author.login``, ``parents``)."""
    sha = sha_of(name)
    return {
        "sha": sha,
        "commit": {
            "author": {"name": author, "email": f"{author}@example.com", "date": "2026-11-30T10:00:00Z"},
            "message": message,
        },
        "author": {"login": author, "type": "Bot" if author.endswith("[bot]") else "User"},
        "parents": [{"sha": sha_of(parent)} for parent in parents],
    }


def comparison(
    commits: Sequence[JSON],
    *,
    status: str = "ahead",
    files: Sequence[str] = (),
    behind_by: int = 0,
    total: int | None = None,
) -> JSON:
    """``GET /compare/{base}...{head}``: status, counts, commits (oldest first), files."""
    return {
        "status": status,
        "ahead_by": len(commits) if status != "behind" else 0,
        "behind_by": behind_by,
        "total_commits": len(commits) if total is None else total,
        "commits": list(commits),
        "files": [{"filename": name, "status": "modified", "additions": 1, "deletions": 0} for name in files],
    }


def pull_answer(number: int, title: str, user: str, *, head_sha: str, merged: bool = True) -> JSON:
    """A pull request as ``GET /commits/{sha}/pulls`` lists it."""
    return {
        "number": number,
        "title": title,
        "user": {"login": user},
        "state": "closed" if merged else "open",
        "merged_at": "2026-11-30T10:00:00Z" if merged else None,
        "head": {"ref": f"feature-{number}", "sha": head_sha},
        "base": {"ref": "main", "sha": sha_of("base")},
        "labels": [],
        "html_url": f"https://github.com/acme/api/pull/{number}",
    }


def approval(user: str, environment: str, comment: str = "", state: str = "approved") -> JSON:
    """One entry of a run's deployment review history."""
    return {"state": state, "comment": comment, "environments": [{"name": environment}], "user": {"login": user}}
