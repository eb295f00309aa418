"""The GitHub the real-UI check syncs from: a fake (``tests.fakes.FakeGitHub``) holding a push, a merged
pull request, a failed workflow run and a deployment in ``acme/api``, a push in ``acme/web`` and one in
``acme/docs`` (the repository the broken integration is fixed to point at). Times are minutes ago, so the
timeline's default range (the last 24 hours) shows them and the first sync fetches their details."""

from __future__ import annotations

import hashlib

from tests.fakes import FakeGitHub
from tests.fakes.github import pull, pull_request_event, push_event, utc_iso

TOKEN = "ghp_realUiCheckToken0000000000000000000"  # accepted by the fake only
OWNER = "acme"
REPOSITORIES = ["acme/api", "acme/web"]  # what the form-created integration watches
MAIN_REPOSITORY = "acme/api"  # holds one of each kind the timeline must show
MISSING_REPOSITORY = "acme/dcos"  # the broken integration's typo: GitHub answers 404
FIXED_REPOSITORY = "acme/docs"

COMMITS = ("Fix login redirect loop", "Retry webhook deliveries", "Bump version to 2.4.1")
FAILED_JOB, FAILED_STEP = "test", "Run unit tests"
PULL_TITLE = "Fix login redirect"


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _push(github: FakeGitHub, repo: str, minutes_ago: int, messages: tuple[str, ...], author: str) -> None:
    now = github.clock()
    before, head = _sha(f"{repo} before"), _sha(f"{repo} head")
    github.add_event(
        OWNER,
        repo,
        {**push_event(before=before, head=head, actor=author), "created_at": utc_iso(now - 60 * minutes_ago)},
    )
    commits = [
        {
            "sha": _sha(f"{repo} {message}"),
            "commit": {"message": f"{message}\n\nDetails.", "author": {"name": author}},
            "author": {"login": author},
        }
        for message in messages
    ]
    github.set_compare(OWNER, repo, before, head, {"total_commits": len(commits), "commits": commits})


def seed(github: FakeGitHub) -> None:
    """Store the scenario's repositories and accept ``TOKEN``."""
    github.poll_interval = 0
    github.add_token(TOKEN, repos={*REPOSITORIES, FIXED_REPOSITORY})
    now = github.clock()

    _push(github, "api", 30, COMMITS, "alice")
    github.add_pull(OWNER, "api", pull(42, PULL_TITLE, user="alice", merged=True, merged_by="bob"))
    github.add_review(OWNER, "api", 42, {"user": {"login": "bob"}, "state": "APPROVED"})
    github.add_pull_file(OWNER, "api", 42, {"filename": "auth/redirect.py", "additions": 12, "deletions": 3})
    github.add_event(OWNER, "api", {**pull_request_event("merged", 42, actor="bob"), "created_at": utc_iso(now - 1500)})
    run = github.add_run(
        OWNER, "api", {"name": "CI", "status": "completed", "conclusion": "failure", "created_at": utc_iso(now - 1200)}
    )
    steps = [
        {"name": "Set up job", "conclusion": "success", "number": 1},
        {"name": FAILED_STEP, "conclusion": "failure", "number": 2},
    ]
    github.add_jobs(
        OWNER,
        "api",
        run["id"],
        [
            {"name": "lint", "conclusion": "success", "steps": []},
            {"name": FAILED_JOB, "conclusion": "failure", "steps": steps, "html_url": run["html_url"] + "/job/1"},
        ],
    )
    deployment = github.add_deployment(OWNER, "api", {"created_at": utc_iso(now - 900), "environment": "production"})
    github.add_deployment_status(OWNER, "api", deployment["id"], {"state": "success", "created_at": utc_iso(now - 880)})

    _push(github, "web", 20, ("Update landing page copy",), "carol")
    github.add_repo(OWNER, "docs")
    _push(github, "docs", 10, ("Fix typo in setup guide",), "dave")
