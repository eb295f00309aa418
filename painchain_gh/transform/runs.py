"""Actions workflow runs (``GET /repos/{owner}/{repo}/actions/runs``) to PainChain events.

A run changes over time (queued → in_progress → completed with a conclusion, and re-runs
bump ``run_attempt``). Each distinct state is its own event with its own ``externalId``,
so a re-send of the same state is harmless and a new state is never mistaken for an old one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from painchain_gh.timeutil import format_time, parse_time
from painchain_gh.transform.common import (
    PainChainEvent,
    RepoContext,
    Skip,
    as_dict,
    as_int,
    as_str,
    as_url,
    base_data,
    login,
)
from painchain_gh.transform.shipped import ShippedPull, head_commit_pull, pull_line, run_pull_numbers


@dataclass(frozen=True)
class RunState:
    """A run's state as stored in cursors (``{attempt}:{status}[:{conclusion}]``), parsed."""

    attempt: int
    status: str
    conclusion: str | None = None

    @property
    def is_completed(self) -> bool:
        """Whether the run finished (it will not change again unless re-run)."""
        return self.status == "completed"

    @classmethod
    def parse(cls, text: str) -> RunState:
        """Parse a stored state; never raises (odd text parses as an open run of attempt 0)."""
        attempt, _, rest = text.partition(":")
        status, _, conclusion = rest.partition(":")
        return cls(int(attempt) if attempt.isdigit() else 0, status, conclusion or None)


def run_state(run: Mapping[str, Any]) -> str:
    """A compact fingerprint of a run's state: ``{attempt}:{status}[:{conclusion}]``."""
    attempt = as_int(run.get("run_attempt")) or 1
    status = as_str(run.get("status")) or "unknown"
    conclusion = as_str(run.get("conclusion"))
    return f"{attempt}:{status}:{conclusion}" if status == "completed" and conclusion else f"{attempt}:{status}"


def to_run_event(run: Mapping[str, Any], ctx: RepoContext) -> PainChainEvent | Skip:
    """Transform one workflow run in its current state; never raises, whatever the JSON."""
    if not isinstance(run, Mapping):
        return Skip("malformed")
    run_id = as_int(run.get("id"))
    created = parse_time(run.get("created_at"))
    if run_id is None or created is None:
        return Skip("malformed")
    status = as_str(run.get("status")) or "unknown"
    conclusion = as_str(run.get("conclusion")) if status == "completed" else None
    attempt = as_int(run.get("run_attempt")) or 1
    started = parse_time(run.get("run_started_at"))
    updated = parse_time(run.get("updated_at"))
    if status == "completed":
        moment = updated or started or created
    elif status == "in_progress":
        moment = started or updated or created
    else:
        moment = created
    name = as_str(run.get("name")) or as_str(run.get("display_title")) or "workflow"
    state_label = conclusion or status
    external_id = f"github-run-{run_id}-{attempt}-{status}" + (f"-{conclusion}" if conclusion else "")
    actor = login(run.get("actor"))
    # Older answers (2020) carry neither actor nor triggering_actor: the head commit's author then.
    head_author = as_str(as_dict(as_dict(run.get("head_commit")).get("author")).get("name"))
    author = login(run.get("triggering_actor")) or actor or head_author or "unknown"
    url = as_url(run.get("html_url")) or f"{ctx.repo_url}/actions/runs/{run_id}"
    data: dict[str, Any] = base_data(
        event_type="workflow_run", action=state_label, author=author, url=url, external_id=external_id, ctx=ctx
    )
    data.update(
        {
            "workflow": name,
            "display_title": as_str(run.get("display_title")),
            "status": status,
            "conclusion": conclusion,
            "branch": as_str(run.get("head_branch")),
            "commit": as_str(run.get("head_sha")),
            "actor": actor,
            "triggering_event": as_str(run.get("event")),
            "run_id": run_id,
            "run_number": as_int(run.get("run_number")),
            "run_attempt": attempt,
            "duration_seconds": (updated - started) if status == "completed" and started and updated else None,
            "created_at": format_time(created),
            **run_pull_fields(run),
        }
    )
    return ctx.event(
        title=f"[Workflow] {name}: {state_label}",
        moment=moment,
        external_id=external_id,
        data=data,
        tiebreak=run_id,
    )


def run_pull_fields(run: Mapping[str, Any]) -> dict[str, Any]:
    """``pull_request_numbers`` and ``pull_requests`` (``#12``) of a run: the open pull requests it
    names, or for a push-triggered run the pull request its head commit's message names."""
    numbers = run_pull_numbers(run)
    pulls = [ShippedPull(number) for number in numbers]
    if not numbers and run.get("event") == "push" and (named := head_commit_pull(run)) is not None:
        pulls = [named]
    return {
        "pull_request_numbers": [pull.number for pull in pulls],
        "pull_requests": [pull_line(pull) for pull in pulls],
    }
