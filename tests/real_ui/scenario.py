"""The GitHub the real-UI check syncs from: a fake (``tests.fakes.FakeGitHub``) holding, in ``acme/api``, a
push of three commits, a merged pull request, a failed workflow run and a deployment to production that
shipped all of them (compared with the previous successful deployment, two days old, which the state does
not know: found with ``deploy_previous``); a push in ``acme/web`` and one in ``acme/docs`` (the repository the
broken integration is fixed to point at), read with a token (acme/web's push is to ``release-2.4``, a
branch name the timeline shows as a date); and a GitHub App (its key generated here)
installed on ``globex``, whose only repository ``globex/billing`` holds a push. Times are minutes ago, so the
timeline's default range (the last 24 hours) shows them and the first sync fetches their details."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import FakeGitHub
from tests.fakes.github import pull, pull_request_event, push_event, utc_iso
from tests.fakes.shipped import commit, comparison, sha_of

TOKEN = "ghp_realUiCheckToken0000000000000000000"  # accepted by the fake only
OWNER = "acme"
REPOSITORIES = ["acme/api", "acme/web"]  # what the token integration created in the form watches
MAIN_REPOSITORY = "acme/api"  # holds one of each kind the timeline must show
MISSING_REPOSITORY = "acme/dcos"  # the broken integration's typo: GitHub answers 404
FIXED_REPOSITORY = "acme/docs"
APP_ID = 424242
APP_OWNER = "globex"
APP_REPOSITORY = "globex/billing"  # the App's installation: found by discovery, never typed in the form
DATE_LIKE_BRANCH = "release-2.4"  # acme/web's push: Date.parse reads it as 2001-02-04

COMMITS = ("Fix login redirect loop", "Retry webhook deliveries", "Bump version to 2.4.1")
FAILED_JOB, FAILED_STEP = "test", "Run unit tests"
PULL_NUMBER, PULL_TITLE = 42, "Fix login redirect"
SHIPPED_PULL = f"#{PULL_NUMBER} {PULL_TITLE} (alice)"  # what the deployment card must list
APPROVER = f"bob (#{PULL_NUMBER})"

# acme/api: base (deployed two days ago) <- three pushed commits <- merge of #42 (branch commit "fix"), deployed.
_BASE = commit("api-base", "Release 2.4.0", author="alice")
_PUSHED = [
    commit("api-1", COMMITS[0], author="alice", parents=["api-base"]),
    commit("api-2", COMMITS[1], author="alice", parents=["api-1"]),
    commit("api-3", COMMITS[2], author="alice", parents=["api-2"]),
]
_BRANCH = commit("api-fix", PULL_TITLE, author="alice", parents=["api-3"])
_MERGE = commit(
    "api-merge",
    f"Merge pull request #{PULL_NUMBER} from acme/fix-login\n\n{PULL_TITLE}",
    author="bob",
    parents=["api-3", "api-fix"],
)


@dataclass(frozen=True)
class App:
    """The GitHub App the check creates an integration for: its id and private key (PEM)."""

    app_id: int
    private_key: str


def _push(
    github: FakeGitHub,
    owner: str,
    repo: str,
    minutes_ago: int,
    messages: tuple[str, ...],
    author: str,
    branch: str = "main",
) -> None:
    """A push of ``messages`` (one commit each) to ``branch`` and the compare its event asks for."""
    now = github.clock()
    names = [f"{owner}/{repo} {message}" for message in messages]
    before, head = sha_of(f"{owner}/{repo} before"), sha_of(names[-1])
    pushed = push_event(ref=f"refs/heads/{branch}", before=before, head=head, actor=author)
    event = {**pushed, "created_at": utc_iso(now - 60 * minutes_ago)}
    github.add_event(owner, repo, event)
    pairs = zip(names, messages, strict=True)
    commits = [commit(name, f"{message}\n\nDetails.", author=author) for name, message in pairs]
    github.set_compare(owner, repo, before, head, comparison(commits))


def _main_repository(github: FakeGitHub) -> None:
    """acme/api: a push, a merged pull request, a failed run, and a deployment that shipped them."""
    now = github.clock()
    before, head = _BASE["sha"], _PUSHED[-1]["sha"]
    push = {**push_event(before=before, head=head, actor="alice"), "created_at": utc_iso(now - 1800)}
    github.add_event(OWNER, "api", push)
    github.set_compare(OWNER, "api", before, head, comparison(_PUSHED, files=["auth/redirect.py", "VERSION"]))

    github.add_pull(OWNER, "api", pull(PULL_NUMBER, PULL_TITLE, user="alice", merged=True, merged_by="bob"))
    github.add_review(OWNER, "api", PULL_NUMBER, {"user": {"login": "bob"}, "state": "APPROVED"})
    github.add_pull_file(OWNER, "api", PULL_NUMBER, {"filename": "auth/redirect.py", "additions": 12, "deletions": 3})
    merged = pull_request_event("merged", PULL_NUMBER, actor="bob")
    github.add_event(OWNER, "api", {**merged, "created_at": utc_iso(now - 1500)})

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

    # The previous successful deployment is older than the first sync's lookback: not an event of its own.
    previous = github.add_deployment(
        OWNER, "api", {"sha": _BASE["sha"], "environment": "production", "created_at": utc_iso(now - 2 * 86400)}
    )
    github.add_deployment_status(
        OWNER, "api", previous["id"], {"state": "success", "created_at": utc_iso(now - 2 * 86400 + 60)}
    )
    shipped = [*_PUSHED, _BRANCH, _MERGE]
    github.set_compare(OWNER, "api", _BASE["sha"], _MERGE["sha"], comparison(shipped, files=["auth/redirect.py"]))
    deployment = github.add_deployment(
        OWNER, "api", {"sha": _MERGE["sha"], "environment": "production", "created_at": utc_iso(now - 900)}
    )
    github.add_deployment_status(OWNER, "api", deployment["id"], {"state": "success", "created_at": utc_iso(now - 880)})


def _app(github: FakeGitHub) -> App:
    """A GitHub App installed on globex (every repository: globex/billing, which holds a push)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    github.apps.add_app(APP_ID, key.public_key(), owner=APP_OWNER)
    github.apps.add_listed_repo(APP_OWNER, "billing", private=True)
    github.apps.add_installation(APP_ID, APP_OWNER)
    _push(github, APP_OWNER, "billing", 5, ("Round invoice totals to cents",), "erin")
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    return App(APP_ID, pem)


def seed(github: FakeGitHub) -> App:
    """Store the scenario's repositories, accept ``TOKEN`` for acme's, and return the App installed on globex."""
    github.poll_interval = 0
    github.add_token(TOKEN, repos={*REPOSITORIES, FIXED_REPOSITORY})
    _main_repository(github)
    # A branch name the timeline's renderer takes for a date (reported by the check, see docs/ui.md).
    _push(github, OWNER, "web", 20, ("Update landing page copy",), "carol", branch=DATE_LIKE_BRANCH)
    github.add_repo(OWNER, "docs")
    _push(github, OWNER, "docs", 10, ("Fix typo in setup guide",), "dave")
    return _app(github)
