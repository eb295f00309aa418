"""Helpers shared by the fault-injection tests (``test_faults_*.py``): seeding, waiting, counting."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from tests.e2e.conftest import Connector, Run
from tests.fakes import FakeBackend, FakeGitHub
from tests.fakes.github import issues_event, utc_iso

REPO = "acme/api-gateway"
KEY = "tenant-a/clx1/acme/api-gateway"  # the state key of the default integration's repository


def seed_issues(github: FakeGitHub, repo: str = REPO, count: int = 5, *, start: float | None = None) -> list[str]:
    """``count`` IssuesEvents, oldest first one second apart; returns their externalIds in send order."""
    owner, name = repo.split("/")
    start = time.time() - 600 if start is None else start
    ids = []
    for index in range(count):
        event = issues_event("opened", index + 1, f"Issue {index + 1}", user="erin")
        stored = github.add_event(owner, name, {**event, "created_at": utc_iso(start + index)})
        ids.append(f"github-event-{stored['id']}")
    return ids


def flatten(groups: Iterable[list[str]]) -> list[str]:
    """One list of the externalIds of several repositories."""
    return [external_id for group in groups for external_id in group]


def add_integration(
    connector: Connector,
    *,
    id: str = "clx1",
    tenant_id: str | None = "tenant-a",
    repos: Iterable[str] = (REPO,),
    token: str | None = "ghp_test_token",
    **extra: Any,
) -> dict[str, Any]:
    """A valid GitHub integration watching ``repos`` (``owner/name`` strings)."""
    repositories = [{"owner": r.split("/")[0], "repo": r.split("/")[1]} for r in repos]
    return connector.backend.add_integration(
        id=id, tenant_id=tenant_id, name=f"Integration {id}", token=token, repositories=repositories, **extra
    )


def wait_until(predicate: Callable[[], bool], *, what: str, timeout: float = 10.0) -> None:
    """Poll ``predicate`` every 10 ms; fail the test after ``timeout`` seconds."""
    give_up = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def start_and_hold(
    connector: Connector, server: FakeBackend | FakeGitHub, method: str, path: str, after: int, *args: str
) -> subprocess.Popen[str]:
    """Start ``painchain-gh sync ARGS`` and return once it is blocked on the matching request."""
    server.hold(method, path, after=after)
    process = connector.start("sync", *args)
    try:
        wait_until(lambda: server.held_count() == 1, what=f"{method} {path} to be held")
    except AssertionError as error:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"{error}; the process logged:\n{stderr}") from None
    return process


def kill9(process: subprocess.Popen[str]) -> Run:
    """``kill -9`` and reap the process; returns what it wrote before dying."""
    process.kill()
    stdout, stderr = process.communicate(timeout=10)
    return Run(process.returncode, stdout, stderr)


def finish(process: subprocess.Popen[str]) -> Run:
    """Wait for a started process and return it as a :class:`Run`."""
    stdout, stderr = process.communicate(timeout=30)
    return Run(process.returncode, stdout, stderr)


def all_answered(server: FakeBackend | FakeGitHub) -> bool:
    """Whether every recorded request got its answer (held ones have been served)."""
    return server.held_count() == 0 and all(request.status for request in server.requests)


def delivery(backend: FakeBackend, expected: Iterable[str]) -> tuple[int, int]:
    """(events lost, events stored twice or more) among ``expected``, with ``backend.dedupe = False``."""
    counts = Counter(backend.external_ids())
    wanted = list(expected)
    lost = sum(1 for external_id in wanted if counts[external_id] == 0)
    twice = sum(counts[external_id] - 1 for external_id in wanted if counts[external_id] > 1)
    return lost, twice


def print_figures(scenario: str, backend: FakeBackend, expected: list[str]) -> tuple[int, int]:
    """Print the fault-injection figures of a scenario (shown with ``pytest -s``) and return them."""
    lost, twice = delivery(backend, expected)
    print(f"\n[fault-figures] {scenario}: events={len(expected)} lost={lost} sent_twice={twice}")
    return lost, twice


def posts_of(backend: FakeBackend, external_id: str) -> int:
    """How many times an event was POSTed (answered or not)."""
    return sum(1 for r in backend.requests_to("POST", "/events$") if _external_id(r.body) == external_id)


def _external_id(body: bytes) -> object:
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    return decoded.get("externalId") if isinstance(decoded, dict) else None


def state_json(connector: Connector) -> dict[str, Any]:
    """The state file as JSON."""
    return json.loads(connector.state_file.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def seen_external_ids(connector: Connector, key: str = KEY) -> set[str]:
    """The events and run states the state file records as handled for ``key``, as externalIds."""
    repo = state_json(connector)["repos"].get(key, {})
    events = {f"github-event-{event_id}" for event_id in repo.get("events", {}).get("seen", {})}
    runs = repo.get("runs", {}).get("runs", {})  # run id -> [created_at, "attempt:status[:conclusion]"]
    return events | {f"github-run-{run_id}-{state.replace(':', '-')}" for run_id, (_, state) in runs.items()}


def messages(run: Run, *levels: str) -> list[str]:
    """The messages of JSON log records at these levels (all levels when none given)."""
    return [r["message"] for r in run.log if not levels or r.get("level") in levels]


def error_lines(run: Run) -> list[str]:
    """The ERROR lines of a run logged with ``--log-format text``."""
    return [line for line in run.stderr.splitlines() if line.startswith("ERROR")]


def github_requests_with(github: FakeGitHub, token: str) -> list[str]:
    """Paths of the GitHub requests sent with ``token``."""
    with github._lock:
        return [r.path for r in github.requests if r.headers.get("authorization") == f"Bearer {token}"]
