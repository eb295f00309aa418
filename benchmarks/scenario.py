"""The benchmark's world: N repositories spread over integrations and tokens, mostly quiet.

Repositories are generated lazily by ``FakeGitHub.repo_factory`` the first time a client asks
for them, so the harness holds no data for a repository nobody polled. Every repository starts
with a small history (a push, an issue, a star and one workflow run); a deterministic sample of
them (``active_share``) is "active": between two syncs each gets new events and a workflow run
state change through the fake's data API.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes import FakeBackend, FakeGitHub, RepoData, SecondaryLimits, _server
from tests.fakes.github import (
    issues_event,
    pull,
    pull_request_event,
    push_event,
    stable_id,
    utc_iso,
    watch_event,
)

JSON = dict[str, Any]

HISTORY_EVENT_ID = 30_000_000_000  # seeded ids, below the fake's own counter (40_000_000_000)
HISTORY_RUN_ID = 8_000_000_000
FILLER_EVENT_ID = 20_000_000_000  # + index * 1000 + n: older history when history_events > 3
FILLER_SPAN = 6 * 86400  # filler events are spread over the 6 days before the seeded ones (inside a 7d look-back)
TOKEN_LIMIT = 5000  # GitHub's primary rate limit for a personal access token, per hour
ACTIVE_PULL_NUMBER = 7
FORWARDABLE_HISTORY = 3  # push + issue + run; the star (WatchEvent) is not a supported type
FORWARDABLE_ACTIVITY = 4  # push + pull request + issue + run state change
HISTORY_PULL_EVENT_ID = 25_000_000_000  # + index * 1000 + n
HISTORY_PULL_NUMBER = 100  # + n: the pull requests of the seeded history
HISTORY_PULL_ACTIONS = ("opened", "merged", "closed")
HISTORY_PULL_AGE = 4 * 3600  # the newest history pull request event; older than --backfill-details' default
GITHUB_MINUTE = 60.0  # the window of GitHub's secondary limits (900 points a minute)
RECORDED_COMPARE = (  # a real compare answer: 9 commits (merges, squash merges, direct pushes), 6 files, 57 kB
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "github"
    / "compare_merge-and-squash-merges_2019.hub4j.json"
)


@dataclass(frozen=True)
class Scenario:
    """How many repositories, how they are grouped, and which of them are active."""

    repos: int
    repos_per_integration: int = 100
    integrations_per_token: int = 2
    active_share: float = 0.05
    history_events: int = 3  # events per repository before the first sync (3 seeded; more: a full window)
    history_pulls: int = 0  # trimmed pull request events per repository before the first sync, one pull request each
    events: tuple[str, ...] | None = None  # the integrations' config.events (None: every kind but images)
    recorded_compares: bool = False  # every push's compare answers a recorded 57 kB one (else: 404, unknown pair)
    seed: int = 42
    active: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        count = round(self.repos * self.active_share)
        chosen = random.Random(self.seed).sample(range(self.repos), count) if count else []
        object.__setattr__(self, "active", frozenset(chosen))

    @property
    def integrations(self) -> int:
        """How many integrations hold the repositories."""
        return -(-self.repos // self.repos_per_integration)

    @property
    def tokens(self) -> int:
        """How many distinct GitHub tokens the integrations use."""
        return -(-self.integrations // self.integrations_per_token)

    @property
    def quiet(self) -> int:
        """How many repositories get no new activity between the two syncs."""
        return self.repos - len(self.active)

    def full_name(self, index: int) -> str:
        """``owner/name`` of repository ``index`` (the owner is its integration's organisation)."""
        return f"bench-org-{index // self.repos_per_integration:04d}/repo-{index:06d}"

    def index_of(self, owner: str, name: str) -> int | None:
        """The index of a repository of this scenario, or None for any other name."""
        prefix = "repo-"
        if not owner.startswith("bench-org-") or not name.startswith(prefix) or not name[len(prefix) :].isdigit():
            return None
        index = int(name[len(prefix) :])
        return index if index < self.repos and self.full_name(index) == f"{owner}/{name}" else None

    def token(self, integration: int) -> str:
        """The token of integration number ``integration``."""
        return f"ghp_bench_{integration // self.integrations_per_token:05d}"


def integration_id(number: int) -> str:
    """A cuid-like, stable integration id."""
    return "cbench" + hashlib.sha256(str(number).encode()).hexdigest()[:18]


def run_payload(full_name: str, run_id: int, *, status: str, created: float) -> JSON:
    """A workflow run as ``GET /actions/runs`` lists it (the fields ``FakeGitHub.add_run`` fills)."""
    name = full_name.split("/")[1]
    when = utc_iso(created)
    return {
        "id": run_id,
        "name": "CI",
        "head_branch": "main",
        "head_sha": hashlib.sha1(str(run_id).encode(), usedforsecurity=False).hexdigest(),
        "path": ".github/workflows/ci.yml",
        "display_title": "CI",
        "run_number": 1,
        "event": "push",
        "status": status,
        "conclusion": "success" if status == "completed" else None,
        "workflow_id": stable_id(f"{full_name}:CI"),
        "url": f"https://api.github.com/repos/{full_name}/actions/runs/{run_id}",
        "html_url": f"https://github.com/{full_name}/actions/runs/{run_id}",
        "pull_requests": [],
        "created_at": when,
        "updated_at": when,
        "actor": {"login": "octocat"},
        "run_attempt": 1,
        "run_started_at": when,
        "triggering_actor": {"login": "octocat"},
        "repository": {"id": stable_id(full_name), "name": name, "full_name": full_name},
    }


def history(scenario: Scenario, index: int, now: float) -> RepoData:
    """Repository ``index`` as it is before the first sync (events newest first).

    An active repository's run is still in progress (it completes between the syncs); a quiet
    one's has completed.
    """
    full_name = scenario.full_name(index)
    owner, name = full_name.split("/")
    seeded = [  # newest first, all within the last few hours
        (watch_event(actor="stargazer", repo=full_name), 1 * 3600),
        (issues_event("opened", 1, "Flaky login test", user="erin", repo=full_name), 2 * 3600),
        (push_event(actor="bob", repo=full_name), 3 * 3600),
    ]
    events = [
        {"id": str(HISTORY_EVENT_ID + index * 10 + offset), **event, "created_at": utc_iso(now - age)}
        for offset, (event, age) in enumerate(seeded)
    ]
    pulls, pull_events = history_pulls(full_name, index, now, scenario.history_pulls)
    events = sorted(events + pull_events, key=lambda event: str(event["created_at"]), reverse=True)
    events += filler_events(full_name, index, now, scenario.history_events - len(events))
    status = "in_progress" if index in scenario.active else "completed"
    run = run_payload(full_name, HISTORY_RUN_ID + index, status=status, created=now - 1800)
    compares = push_compares(events) if scenario.recorded_compares else {}
    return RepoData(owner, name, events=events, runs=[run], pulls=pulls, compares=compares)


@functools.cache
def recorded_compare() -> JSON:
    """The recorded compare answer (tests/fixtures/github/SOURCES.md), loaded once and shared."""
    answer: JSON = json.loads(RECORDED_COMPARE.read_text(encoding="utf-8"))
    return answer


def push_compares(events: list[JSON]) -> dict[str, JSON]:
    """The recorded compare for every push among ``events``, keyed as the fake looks it up."""
    return {
        f"{event['payload']['before']}...{event['payload']['head']}": recorded_compare()
        for event in events
        if event.get("type") == "PushEvent"
    }


def history_pulls(full_name: str, index: int, now: float, count: int) -> tuple[dict[int, JSON], list[JSON]]:
    """``count`` pull requests and one trimmed event each (opened, merged, closed in turn), 4 to
    about 4 + count/6 hours old, newest first; each pull request last updated by its event."""
    pulls: dict[int, JSON] = {}
    events: list[JSON] = []
    for n in range(count):
        number, action = HISTORY_PULL_NUMBER + n, HISTORY_PULL_ACTIONS[n % len(HISTORY_PULL_ACTIONS)]
        when = utc_iso(now - HISTORY_PULL_AGE - n * 600)
        merged, state = action == "merged", "open" if action == "opened" else "closed"
        pulls[number] = {
            **pull(number, title=f"Change {n}", merged=merged, state=state, repo=full_name),
            "updated_at": when,
        }
        event = pull_request_event(action, number, actor="alice", repo=full_name)
        events.append({**event, "id": str(HISTORY_PULL_EVENT_ID + index * 1000 + n), "created_at": when})
    return pulls, events


def filler_events(full_name: str, index: int, now: float, count: int) -> list[JSON]:
    """``count`` older events (push, issue opened, star in turn), newest first, to fill a window.

    Events of one repository share their nested objects (the fake only serialises them), so a
    full 300-event window costs the harness about 0.5 kB per event.
    """
    if count <= 0:
        return []
    templates = [
        push_event(actor="bob", repo=full_name),
        issues_event("opened", 2, "Timeouts in the nightly job", user="erin", repo=full_name),
        watch_event(actor="stargazer", repo=full_name),
    ]
    step = FILLER_SPAN / count
    return [
        {
            **templates[n % len(templates)],
            "id": str(FILLER_EVENT_ID + index * 1000 + n),
            "created_at": utc_iso(now - 4 * 3600 - (n + 1) * step),
        }
        for n in range(count)
    ]


def make_active(github: FakeGitHub, scenario: Scenario) -> int:
    """Give every active repository new events and a run state change; returns how many repositories."""
    for index in sorted(scenario.active):
        owner, name = scenario.full_name(index).split("/")
        github.add_pull(owner, name, pull(ACTIVE_PULL_NUMBER, title="Speed up the cache", user="alice"))
        push = push_event(actor="bob")
        github.add_event(owner, name, push)
        if scenario.recorded_compares:
            payload = push["payload"]
            github.set_compare(owner, name, payload["before"], payload["head"], recorded_compare())
        github.add_event(owner, name, pull_request_event("opened", ACTIVE_PULL_NUMBER, actor="alice"))
        github.add_event(owner, name, issues_event("closed", 1, "Flaky login test", user="erin"))
        github.update_run(owner, name, HISTORY_RUN_ID + index, status="completed", conclusion="success")
    return len(scenario.active)


def register_integrations(backend: FakeBackend, github: FakeGitHub, scenario: Scenario) -> None:
    """Create the integrations (one tenant each, as on a shared SaaS instance) and their tokens."""
    for number in range(scenario.integrations):
        first = number * scenario.repos_per_integration
        indices = range(first, min(first + scenario.repos_per_integration, scenario.repos))
        repositories = []
        for index in indices:
            owner, name = scenario.full_name(index).split("/")
            repositories.append({"owner": owner, "repo": name, "tags": ["bench"]})
        token = scenario.token(number)
        if token not in github.tokens:
            github.add_token(token, limit=TOKEN_LIMIT)
        backend.add_integration(
            id=integration_id(number),
            tenant_id=f"tenant-{number:04d}",
            name=f"Bench integration {number}",
            token=token,
            repositories=repositories,
            tags=["benchmark"],
            extra_config=None if scenario.events is None else {"events": list(scenario.events)},
        )


def disable_nagle() -> None:
    """Make the fakes send each answer without waiting (``TCP_NODELAY`` on accepted sockets).

    The fakes' handler writes the headers and the body of an answer in two ``send`` calls; with
    Nagle's algorithm on, the body waits for the client's delayed ACK of the headers (about
    40 ms on Linux). That would add ~40 ms to every answer with a body (200s and POSTs) but not
    to 304s, on top of the latency being simulated, and distort both contestants. Setting the
    handler's standard ``disable_nagle_algorithm`` switch removes it; the fakes' files are unchanged.
    """
    _server._Handler.disable_nagle_algorithm = True


def budget_window_env(window: float | None) -> dict[str, str]:
    """painchain-gh's environment for a scaled budget window (``None``: its own minute)."""
    return {} if window is None else {"PAINCHAIN_GH_BUDGET_WINDOW": f"{window:g}"}


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    """``--history-pulls`` and ``--recorded-compares``: what each repository's history holds."""
    parser.add_argument(
        "--history-pulls",
        type=int,
        default=0,
        help="trimmed pull request events per repository before the first sync (opened, merged, closed in turn)",
    )
    parser.add_argument(
        "--recorded-compares",
        action="store_true",
        help="every push's compare answers a recorded real one (57 kB, 9 commits) instead of 404",
    )


def budget_window_argument(text: str) -> float:
    """``--budget-window``: seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds above zero: {text!r}")
    return value


BUDGET_WINDOW_HELP = (
    "seconds that stand for GitHub's minute, both for painchain-gh's pacing (PAINCHAIN_GH_BUDGET_WINDOW) and "
    "for the fake's secondary-limit window (e.g. 6: ten times faster; its primary hourly limit is not scaled); "
    "default: a real minute for both"
)


@contextmanager
def fakes(
    scenario: Scenario, *, latency: float, backend_latency: float, window_seconds: float | None = None
) -> Iterator[tuple[FakeGitHub, FakeBackend]]:
    """Fake GitHub and backend serving ``scenario`` on 127.0.0.1, in this process's threads; GitHub's
    secondary limits counted (not enforced) in windows of ``window_seconds`` (default: a minute)."""
    disable_nagle()
    now = time.time()
    with FakeGitHub() as github, FakeBackend() as backend:
        github.secondary = SecondaryLimits(window_seconds=window_seconds or GITHUB_MINUTE)
        github.latency = latency
        backend.latency = backend_latency
        github.poll_interval = 0
        github.anonymous_allowed = False

        def factory(owner: str, name: str) -> RepoData | None:
            index = scenario.index_of(owner, name)
            return None if index is None else history(scenario, index, now)

        github.repo_factory = factory
        register_integrations(backend, github, scenario)
        yield github, backend
