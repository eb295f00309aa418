"""Add what an extra GitHub request found to a built event (pure; the requests are in ``enrich``).

Each function returns a new event; ``None`` for the fetched object means the request failed
(deadline, rate limit, error) and the event goes out as it is, marked ``details_missing``.
Field names: compare https://docs.github.com/en/rest/commits/commits#compare-two-commits,
reviews and files https://docs.github.com/en/rest/pulls, jobs
https://docs.github.com/en/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run-attempt
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from painchain_gh.transform.change_kinds import change_kinds, pull_facts, push_facts
from painchain_gh.transform.common import PainChainEvent, as_dict, as_int, as_str, as_url, login
from painchain_gh.transform.shipped import (
    ShippedPull,
    approver_fields,
    commit_entry,
    commit_line,
    compare_status,
    pull_line,
    pulls_from_commits,
)

MAX_LISTED = 20
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out"})
_MISSING = {"details_missing": True}
_SKIPPED = {"details_skipped": True}


def missing(event: PainChainEvent) -> PainChainEvent:
    """``event`` marked ``details_missing`` (an enrichment request failed)."""
    return dataclasses.replace(event, data={**event.data, **_MISSING})


def skipped(event: PainChainEvent) -> PainChainEvent:
    """``event`` marked ``details_skipped``: first-sync history, sent without extra requests."""
    return dataclasses.replace(event, data={**event.data, **_SKIPPED})


def with_compare(event: PainChainEvent, compare: Mapping[str, Any] | None) -> PainChainEvent:
    """A push event with the commits and files of ``GET /compare/{before}...{head}``."""
    if not isinstance(compare, Mapping):
        return missing(event)
    commits = [as_dict(item) for item in compare.get("commits") or [] if isinstance(item, Mapping)]
    total = as_int(compare.get("total_commits"))
    count = total if total is not None else len(commits)
    files = _list(compare.get("files"))
    # GitHub lists the oldest commit first (as push payloads do); keep the newest 20 in that order.
    entries = [commit_entry(item) for item in commits[-MAX_LISTED:]]
    pulls = pulls_from_commits(commits).pulls  # named by merge and squash messages: no request
    data = {
        **event.data,
        "commit_count": count,
        "commits": entries,
        "commit_list": [commit_line(entry) for entry in entries],
        "files_changed": _file_names(files),
        "additions": sum(as_int(as_dict(item).get("additions")) or 0 for item in files),
        "deletions": sum(as_int(as_dict(item).get("deletions")) or 0 for item in files),
        "pull_requests": [pull_line(pull) for _, pull in sorted(pulls.items(), reverse=True)],
        "pull_request_numbers": sorted(pulls, reverse=True),
    }
    if count > len(commits):
        data["commits_truncated"] = True  # GitHub lists at most 250 commits of a comparison
    status = compare_status(compare)
    if status is not None:
        data["compare_status"] = status
    data["change_kinds"] = change_kinds(push_facts(data, compare))
    title = event.title if "(" in event.title else f"{event.title} ({count} commit{'s' if count != 1 else ''})"
    return dataclasses.replace(event, title=title, data=data)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _file_names(files: object) -> list[str]:
    if not isinstance(files, list):
        return []
    names = [as_str(as_dict(item).get("filename")) for item in files[:MAX_LISTED]]
    return [name[:300] for name in names if name]


def with_reviews(event: PainChainEvent, reviews: list[Any] | None) -> PainChainEvent:
    """A pull request (or review) event with its reviewers, approvals and change requests."""
    if reviews is None:
        return missing(event)
    reviewers: list[str] = []
    for review in reviews:
        name = login(as_dict(review).get("user"))
        if name and name not in reviewers:
            reviewers.append(name)
    states = [as_str(as_dict(review).get("state")) for review in reviews]
    data = {
        **event.data,
        "reviewers": reviewers[:50],
        "approvals": states.count("APPROVED"),
        "changes_requested": states.count("CHANGES_REQUESTED"),
    }
    number, head = as_int(data.get("number")), as_str(data.get("head_sha"))
    if number is not None and data.get("merged") is True and head:
        # An approval given on an earlier commit than the merged head (GitHub's review commit_id).
        judged = approver_fields({number: reviews}, {number: ShippedPull(number, head_sha=head)})
        if judged.get("stale_approval"):
            data["stale_approval"] = True
    return dataclasses.replace(event, data=data)


def with_files(event: PainChainEvent, files: list[Any] | None) -> PainChainEvent:
    """A pull request event with the names of its first changed files."""
    if files is None:
        return missing(event)
    data = {**event.data, "files_changed": _file_names(files)}
    data["change_kinds"] = change_kinds(pull_facts(data, files))
    return dataclasses.replace(event, data=data)


def failed_jobs(jobs: list[Any]) -> list[dict[str, Any]]:
    """``{name, conclusion, url, failed_step}`` of each failed or timed-out job (bounded)."""
    failed: list[dict[str, Any]] = []
    for item in jobs:
        job = as_dict(item)
        conclusion = as_str(job.get("conclusion"))
        if conclusion not in FAILED_CONCLUSIONS:
            continue
        steps = _list(job.get("steps"))
        failing = [as_dict(s) for s in steps if as_str(as_dict(s).get("conclusion")) in FAILED_CONCLUSIONS]
        step = as_str(failing[0].get("name")) if failing else None
        failed.append(
            {
                "name": (as_str(job.get("name")) or "unnamed job")[:200],
                "conclusion": conclusion,
                "url": as_url(job.get("html_url")),
                "failed_step": step[:200] if step else None,
            }
        )
        if len(failed) >= MAX_LISTED:
            break
    return failed


def needs_jobs(event: PainChainEvent) -> bool:
    """Whether a workflow run event is a completed failure or time-out (the only runs whose jobs are read)."""
    data = event.data
    return (
        data.get("event_type") == "workflow_run"
        and data.get("status") == "completed"
        and data.get("conclusion") in FAILED_CONCLUSIONS
    )


def with_failed_jobs(event: PainChainEvent, run: Mapping[str, Any], jobs: list[Any] | None) -> PainChainEvent:
    """A failed run's event with its failed jobs, the page of the first one (``failed_job_url``, where its
    log is one click away) and the run's ``logs_url`` (the API's log archive)."""
    data = {**event.data, "logs_url": as_url(as_dict(run).get("logs_url"))}
    if jobs is None:
        return dataclasses.replace(event, data={**data, **_MISSING})
    data["failed_jobs"] = failed_jobs(jobs)
    data["failed_job_list"] = [failed_job_line(job) for job in data["failed_jobs"]]
    data["failed_job_url"] = next((job["url"] for job in data["failed_jobs"] if job["url"]), None)
    return dataclasses.replace(event, data=data)


def failed_job_line(job: Mapping[str, Any]) -> str:
    """``test: Run tests`` (the job and its first failed step), or the job's name alone; ``(timed out)``
    after a job that timed out."""
    name, step = as_str(job.get("name")) or "unnamed job", as_str(job.get("failed_step"))
    line = f"{name}: {step}" if step else name
    return f"{line} (timed out)" if job.get("conclusion") == "timed_out" else line
