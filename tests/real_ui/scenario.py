"""The GitHub the real-UI check syncs from: a fake (``tests.fakes.FakeGitHub``) holding, in ``acme/api``, a
push of three commits, a merged pull request (#42), the CI run of its merge commit that failed, and a
deployment to production that shipped all of them, made by a "Deploy" workflow run that a reviewer approved
(statuses waiting, in_progress, success; compared with the previous successful deployment, two days old,
which the state does not know: found with ``deploy_previous``); a push in ``acme/web`` and one in
``acme/docs`` (the repository the broken integration is fixed to point at), read with a token (acme/web's
push is to ``release-2.4``, a branch name the timeline shows as a date); and a GitHub App (its key generated
here) installed on ``globex``, whose only repository ``globex/billing`` holds a push. Times are minutes ago,
so the timeline's default range (the last 24 hours) shows them and the first sync fetches their details."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import FakeGitHub
from tests.fakes.github import pull, pull_request_event, push_event, utc_iso
from tests.fakes.shipped import approval, commit, comparison, pull_answer, sha_of

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
SHIPPED_PULL = f"#{PULL_NUMBER} {PULL_TITLE} (alice)"  # what the deployment card and the failed run must list
APPROVER = f"bob (#{PULL_NUMBER})"
RUN_PULL = f"#{PULL_NUMBER}"  # what the failed CI run of #42's merge commit names (the number alone)
DEPLOY_APPROVER = "carol (production): Ship it"  # who let the Deploy run into the protected environment
ACTIONS_BOT = {"login": "github-actions[bot]", "type": "Bot"}  # who creates a workflow's deployment

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
    """acme/api: a push, a merged pull request, the failed CI run of its merge, and an approved deployment
    that shipped them."""
    now = github.clock()
    before, head = _BASE["sha"], _PUSHED[-1]["sha"]
    push = {**push_event(before=before, head=head, actor="alice"), "created_at": utc_iso(now - 1800)}
    github.add_event(OWNER, "api", push)
    github.set_compare(OWNER, "api", before, head, comparison(_PUSHED, files=["auth/redirect.py", "VERSION"]))

    merged_pull = pull(PULL_NUMBER, PULL_TITLE, user="alice", merged=True, merged_by="bob")
    pull_head = {"ref": "fix-login", "sha": _BRANCH["sha"]}  # the event's stub and the pull request agree
    merged_pull["head"] = {**merged_pull["head"], "label": "acme:fix-login", **pull_head}
    merged_pull.update(additions=12, deletions=3, merge_commit_sha=_MERGE["sha"])
    github.add_pull(OWNER, "api", merged_pull)
    review = {"user": {"login": "bob"}, "state": "APPROVED", "commit_id": _BRANCH["sha"]}
    github.add_review(OWNER, "api", PULL_NUMBER, review)
    github.add_pull_file(OWNER, "api", PULL_NUMBER, {"filename": "auth/redirect.py", "additions": 12, "deletions": 3})
    merged = pull_request_event("merged", PULL_NUMBER, actor="bob")
    stub = merged["payload"]["pull_request"]
    stub["head"] = {**stub["head"], **pull_head}
    github.add_event(OWNER, "api", {**merged, "created_at": utc_iso(now - 1500)})
    # GitHub lists #42 for its head commit and for its merge commit.
    shipped_pull = pull_answer(PULL_NUMBER, PULL_TITLE, "alice", head_sha=_BRANCH["sha"])
    shipped_pull["head"] = {**shipped_pull["head"], "ref": "fix-login"}
    for sha in (_BRANCH["sha"], _MERGE["sha"]):
        github.shipped.set_commit_pulls(OWNER, "api", sha, [shipped_pull])

    run = github.add_run(
        OWNER,
        "api",
        {
            "name": "CI",
            "head_sha": _MERGE["sha"],
            "actor": {"login": "bob"},  # the merge, pushed by the person who merged
            "triggering_actor": {"login": "bob"},
            "status": "completed",
            "conclusion": "failure",
            "created_at": utc_iso(now - 1490),
            "run_started_at": utc_iso(now - 1490),
            "updated_at": utc_iso(now - 1200),
        },
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
    _deployment(github)


def _deployment(github: FakeGitHub) -> None:
    """acme/api's deployment of the merge to production by a "Deploy" run, held for a reviewer (carol), against
    the previous successful deployment, two days old: older than the first sync's lookback, not an event."""
    now = github.clock()
    previous = github.add_deployment(
        OWNER, "api", {"sha": _BASE["sha"], "environment": "production", "created_at": utc_iso(now - 2 * 86400)}
    )
    github.add_deployment_status(
        OWNER, "api", previous["id"], {"state": "success", "created_at": utc_iso(now - 2 * 86400 + 60)}
    )
    shipped = [*_PUSHED, _BRANCH, _MERGE]
    github.set_compare(OWNER, "api", _BASE["sha"], _MERGE["sha"], comparison(shipped, files=["auth/redirect.py"]))
    deploy_run = github.add_run(
        OWNER,
        "api",
        {
            "name": "Deploy",
            "path": ".github/workflows/deploy.yml",
            "head_sha": _MERGE["sha"],
            "status": "completed",
            "conclusion": "success",
            "actor": {"login": "bob"},
            "triggering_actor": {"login": "bob"},
            "created_at": utc_iso(now - 900),
            "run_started_at": utc_iso(now - 900),
            "updated_at": utc_iso(now - 700),
        },
    )
    github.shipped.add_approval(OWNER, "api", deploy_run["id"], approval("carol", "production", "Ship it"))
    deployment = github.add_deployment(
        OWNER,
        "api",
        {
            "sha": _MERGE["sha"],
            "environment": "production",
            "creator": ACTIONS_BOT,
            "created_at": utc_iso(now - 895),
        },
    )
    # GitHub's own statuses of a run's deployment name the run (the web address of its job).
    log = f"{github.url}/{OWNER}/api/actions/runs/{deploy_run['id']}/job/2"
    for state, ago in (("waiting", 894), ("in_progress", 760), ("success", 700)):
        status = {"state": state, "creator": ACTIONS_BOT, "log_url": log, "target_url": log}
        status["created_at"] = utc_iso(now - ago)
        github.add_deployment_status(OWNER, "api", deployment["id"], status)


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
