"""What each deployment says and what it costs: forward, forward, rollback, redeploy in two environments.

Usage (from the repository root)::

    python -m benchmarks.shipped                       # the table, as Markdown
    python -m benchmarks.shipped --painchain-gh PATH   # another build

One repository on the fake GitHub (``tests/fakes``) with the history c1 <- c2 (squash-merged #12)
<- m3 (merge of #14, its branch commit b3) <- c4 (pushed straight to main). A first sync sees c1
deployed to both environments; then each deployment (an ``in_progress`` then a ``success`` status)
is made and synced on its own, so that every GitHub request of that sync belongs to it:
``production`` c1 -> c2 -> m3 (approved in its Actions run) -> c2 (rollback) -> c2 (redeploy),
``staging`` c1 -> m3 -> c4 -> m3 (rollback) -> m3 (redeploy). The stream requests every sync
makes anyway (events, runs, deployments: conditional) are shown apart from what the deployment
itself costs. Writes ``benchmarks/results/shipped.md`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import child_env
from tests.e2e.command import painchain_gh_command
from tests.fakes import FakeBackend, FakeGitHub
from tests.fakes.github import pull, utc_iso
from tests.fakes.shipped import approval, commit, comparison, sha_of

RESULTS = Path(__file__).with_name("results") / "shipped.md"
OWNER, REPO = "acme", "api"
STREAMS = frozenset({"deployments"})  # asked by every sync with the deployment kind chosen
C2 = commit("c2", "Fix login redirect (#12)", author="alice", parents=["c1"])
B3 = commit("b3", "Cache sessions", author="bob", parents=["c2"])
M3 = commit("m3", "Merge pull request #14 from acme/cache\n\nCache sessions", author="carol", parents=["c2", "b3"])
C4 = commit("c4", "Bump the version", author="erin", parents=["m3"])
STEPS = [  # (environment, step, commit deployed, made by an approved Actions run)
    ("production", "forward", "c2", False),
    ("staging", "forward", "m3", False),
    ("production", "forward", "m3", True),
    ("staging", "forward", "c4", False),
    ("production", "rollback", "c2", False),
    ("staging", "rollback", "m3", False),
    ("production", "redeploy", "c2", False),
    ("staging", "redeploy", "m3", False),
]


@dataclass
class Row:
    """One deployment's sync."""

    environment: str
    step: str
    titles: list[str]
    says: str
    extra: dict[str, int]
    streams: dict[str, int]
    units: int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shipped", description=__doc__.split("\n\n")[0])
    parser.add_argument("--painchain-gh", metavar="PATH", help="the painchain-gh executable (default: this one)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def seed(github: FakeGitHub) -> None:
    """The commits' comparisons, the two pull requests and an approving review of #14."""
    pairs = {
        ("c1", "c2"): comparison([C2], files=["src/login.py"]),
        ("c1", "m3"): comparison([C2, B3, M3], files=["src/login.py", "src/session.py"]),
        ("c2", "m3"): comparison([B3, M3], files=["src/session.py"]),
        ("m3", "c4"): comparison([C4], files=["VERSION"]),
        ("m3", "c2"): comparison([], status="behind", behind_by=2),
        ("c4", "m3"): comparison([], status="behind", behind_by=1),
    }
    for (base, head), answer in pairs.items():
        github.set_compare(OWNER, REPO, sha_of(base), sha_of(head), answer)
    github.add_pull(OWNER, REPO, pull(12, "Fix login redirect", "alice", merged=True))
    github.add_pull(OWNER, REPO, pull(14, "Cache sessions", "bob", merged=True))
    github.add_review(OWNER, REPO, 14, {"user": {"login": "dave"}, "state": "APPROVED", "commit_id": sha_of("b3")})


def deploy(github: FakeGitHub, environment: str, name: str, *, approved: bool, run_id: int) -> None:
    """A deployment of commit ``name``: in_progress, then success."""
    now = github.clock()
    log = f"{github.url}/{OWNER}/{REPO}/actions/runs/{run_id}/job/1" if approved else ""
    created = github.add_deployment(
        OWNER, REPO, {"sha": sha_of(name), "environment": environment, "created_at": utc_iso(now - 30)}
    )
    for offset, state in ((10, "in_progress"), (20, "success")):
        github.add_deployment_status(
            OWNER, REPO, created["id"], {"state": state, "log_url": log, "created_at": utc_iso(now - 30 + offset)}
        )
    if approved:
        github.shipped.add_approval(OWNER, REPO, run_id, approval("erin", environment, "Ship it"))


def sync(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One ``painchain-gh sync``; its summary record."""
    done = subprocess.run(
        [*command, "sync", "--log-format", "json", "--force"], env=env, capture_output=True, text=True, check=False
    )
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    summary = next(record for record in reversed(records) if record.get("event") == "summary")
    if summary["exit_code"] != 0:
        raise SystemExit(f"painchain-gh exited {summary['exit_code']}: {done.stderr[-2000:]}")
    return dict(summary)


def says(data: dict[str, Any]) -> str:
    """What a deployment event says about what it shipped, in a few words."""
    parts = []
    if "previous_sha" in data:
        parts.append(f"after {data['previous_sha'][:7]}")
    if data.get("rollback"):
        parts.append(f"rollback of {', '.join(data.get('rolled_back_pull_requests') or []) or 'commits'}")
    elif data.get("redeploy"):
        parts.append("redeploy")
    elif "commit_count" in data:
        count = data["commit_count"]
        pulls = ", ".join(data.get("pull_requests") or []) or "no pull request"
        parts.append(f"{count} commit{'s' if count != 1 else ''}: {pulls}")
    if data.get("pr_approvers"):
        parts.append(f"reviewed by {', '.join(data['pr_approvers'])}")
    if data.get("deploy_approvers"):
        parts.append(f"approved by {', '.join(data['deploy_approvers'])}")
    if data.get("change_kinds"):
        parts.append(f"kinds {', '.join(data['change_kinds'])}")
    return "; ".join(parts) or "nothing to compare (first deployment)"


def measure(command: list[str]) -> list[Row]:
    """The first sync, then one sync per step."""
    rows: list[Row] = []
    with FakeGitHub() as github, FakeBackend() as backend, tempfile.TemporaryDirectory() as scratch:
        github.poll_interval = 0
        seed(github)
        backend.add_integration(
            id="clx1",
            tenant_id=None,
            name="Shipped",
            token="ghp_test_token",
            repositories=[{"owner": OWNER, "repo": REPO}],
            extra_config={"events": ["deployment"]},
        )
        env = child_env(
            BACKEND_API_URL=backend.url,
            GITHUB_API_URL=github.url,
            PAINCHAIN_GH_STATE_FILE=str(Path(scratch) / "state.json"),
        )
        plan = [("production", "first sync", "c1", False), ("staging", "first sync", "c1", False), *STEPS]
        for number, (environment, step, name, approved) in enumerate(plan):
            deploy(github, environment, name, approved=approved, run_id=5000 + number)
            if step == "first sync" and environment == "production":
                continue  # both first deployments go out in one sync
            sent = len(backend.events)
            spent = github.units_spent("ghp_test_token")
            summary = sync(command, env)
            events = [stored.body for stored in backend.events[sent:]]
            by_kind: dict[str, int] = summary["github_requests_by_kind"]
            rows.append(
                Row(
                    environment="both" if step == "first sync" else environment,
                    step=step,
                    titles=[event["title"] for event in events],
                    says=says(events[-1]["data"]) if events else "",
                    extra={k: v for k, v in by_kind.items() if k not in STREAMS},
                    streams={"deployments": by_kind.get("deployments", 0)},
                    units=github.units_spent("ghp_test_token") - spent,
                )
            )
    return rows


def report(rows: list[Row]) -> str:
    """The Markdown table."""
    lines = [
        "| # | environment | deployment | events (titles) | what the success event says | requests for it "
        "(besides the conditional deployments list) | rate-limit units of the sync |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, row in enumerate(rows):
        extra = ", ".join(f"{kind} {n}" for kind, n in sorted(row.extra.items())) or "none"
        total = sum(row.extra.values())
        lines.append(
            f"| {number} | {row.environment} | {row.step} | {'<br>'.join(row.titles)} | {row.says} | "
            f"{total}: {extra} | {row.units} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure, print and write the table."""
    args = parse_args(argv)
    command = [args.painchain_gh] if args.painchain_gh else painchain_gh_command()
    text = report(measure(command))
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
