"""What a deployment, release, push or run carried: commits, pull requests, approvals (pure).

From answers already fetched (``GET /compare/{base}...{head}``, ``GET /commits/{sha}/pulls``,
``GET /pulls/{n}/reviews``, ``GET /actions/runs/{id}/approvals``) to readable data fields: lists
of strings the PainChain timeline shows as chips (``"#12 Fix login redirect (alice)"``), beside
numbers for machines. The requests themselves are made by :mod:`painchain_gh.streams.shipped`.

Pull requests are found in commit messages first (free): GitHub's merge commit says ``Merge pull
request #12 from owner/branch`` and carries the title on its third line; a squash commit ends its
first line with ``(#12)`` by default (a convention, not a guarantee). The commits a merge brought in
(its second parent's side) belong to that pull request. Only commits that none of this explains
(rebase merges, edited squash messages, direct pushes) need ``GET /commits/{sha}/pulls``.
Sources: https://docs.github.com/en/rest/commits/commits#compare-two-commits,
https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit,
https://docs.github.com/en/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from painchain_gh.timeutil import format_time, parse_time
from painchain_gh.transform.common import as_dict, as_int, as_str, first_line, login

MAX_LISTED = 20  # commits listed as strings (the newest), as pushes list them
MAX_PULLS = 50  # pull requests listed per event
MAX_LINE = 160  # one readable string
SHORT_SHA = 7
_MERGE = re.compile(r"^Merge pull request #(\d{1,9}) from (\S+)")
_SQUASH = re.compile(r"\(#(\d{1,9})\)\s*$")
_REVERT = re.compile(r'^Revert "')
COMPARE_STATUSES = frozenset({"ahead", "behind", "identical", "diverged"})


@dataclass(frozen=True)
class ShippedPull:
    """A pull request as far as the fetched answers tell."""

    number: int
    title: str | None = None
    author: str | None = None
    head_sha: str | None = None
    head_branch: str | None = None
    labels: tuple[str, ...] = ()


@dataclass
class CommitPulls:
    """The pull requests a list of commits came from, and the commits nothing explained yet."""

    pulls: dict[int, ShippedPull] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)  # shas, newest first


def pull_reference(message: object) -> int | None:
    """The pull request number a merge or squash commit message names, or None."""
    line = first_line(message, limit=1000)
    if line is None:
        return None
    merge = _MERGE.match(line)
    match = merge or _SQUASH.search(line)
    return int(match.group(1)) if match else None


def _merge_branch(message: str) -> str | None:
    """``feature`` of ``Merge pull request #1 from owner/feature``."""
    match = _MERGE.match(message)
    if not match:
        return None
    _, _, branch = match.group(2).partition("/")
    return branch or None


def _merge_title(message: str) -> str | None:
    """The title GitHub writes on a merge commit's third line (its first non-empty line after the first)."""
    lines = [line.strip() for line in message.splitlines()[1:] if line.strip()]
    return lines[0][:MAX_LINE] if lines else None


def _squash_title(message: str) -> str | None:
    line = first_line(message, limit=1000) or ""
    return _SQUASH.sub("", line).strip()[:MAX_LINE] or None


def commit_message(commit: Mapping[str, Any]) -> str:
    """A compare commit's whole message ('' when absent)."""
    return as_str(as_dict(commit.get("commit")).get("message")) or ""


def commit_author(commit: Mapping[str, Any]) -> str | None:
    """A compare commit's GitHub login, else its git author name."""
    return login(commit.get("author")) or as_str(as_dict(as_dict(commit.get("commit")).get("author")).get("name"))


def _parents(commit: Mapping[str, Any]) -> list[str]:
    parents = commit.get("parents")
    if not isinstance(parents, list):
        return []
    return [sha for parent in parents if (sha := as_str(as_dict(parent).get("sha")))]


def commits_of(compare: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The commits of a compare answer, oldest first as GitHub lists them."""
    items = as_dict(compare).get("commits")
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def pulls_from_commits(commits: Sequence[Mapping[str, Any]]) -> CommitPulls:
    """Pull requests named by merge and squash messages, and the commits none of them explains."""
    found = CommitPulls()
    by_sha = {sha: commit for commit in commits if (sha := as_str(commit.get("sha")))}
    claimed: set[str] = set()
    for commit in commits:
        message = commit_message(commit)
        number = pull_reference(message)
        sha = as_str(commit.get("sha"))
        if number is None or sha is None:
            continue
        claimed.add(sha)
        parents = _parents(commit)
        if _MERGE.match(message) and len(parents) > 1:
            claimed |= _reachable(parents[1:], by_sha) - _reachable(parents[:1], by_sha)
            head = by_sha.get(parents[1])
            author = commit_author(head) if head is not None else None
            pull = ShippedPull(number, _merge_title(message), author, parents[1], _merge_branch(message))
        else:
            pull = ShippedPull(number, _squash_title(message), commit_author(commit))
        found.pulls.setdefault(number, pull)
    for commit in reversed(commits):
        sha = as_str(commit.get("sha"))
        if sha and sha not in claimed and pull_reference(commit_message(commit)) is None:
            found.unexplained.append(sha)
    return found


def _reachable(starts: Iterable[str], by_sha: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The listed commits reachable from ``starts`` through listed commits (a merge brought in
    what its second parent reaches and its first does not)."""
    seen: set[str] = set()
    stack = [sha for sha in starts if sha in by_sha]
    while stack:
        sha = stack.pop()
        if sha not in seen:
            seen.add(sha)
            stack.extend(parent for parent in _parents(by_sha[sha]) if parent in by_sha)
    return seen


def pull_from_answer(item: Mapping[str, Any]) -> ShippedPull | None:
    """A pull request of ``GET /commits/{sha}/pulls`` (merged ones; open ones are not shipped)."""
    number = as_int(item.get("number"))
    if number is None or as_str(item.get("merged_at")) is None:
        return None
    head = as_dict(item.get("head"))
    labels = item.get("labels")
    names = [as_str(as_dict(label).get("name")) for label in labels] if isinstance(labels, list) else []
    return ShippedPull(
        number,
        (as_str(item.get("title")) or "")[:MAX_LINE] or None,
        login(item.get("user")),
        as_str(head.get("sha")),
        as_str(head.get("ref")),
        tuple(name[:100] for name in names if name),
    )


def merge_pulls(known: Mapping[int, ShippedPull], answers: Iterable[Mapping[str, Any]]) -> dict[int, ShippedPull]:
    """``known`` completed with the pull requests of ``commits/{sha}/pulls`` answers (an answer's
    title, author, head and labels win over what a message said)."""
    merged = dict(known)
    for item in answers:
        pull = pull_from_answer(item)
        if pull is not None:
            merged[pull.number] = pull
    return merged


def commit_entry(commit: Mapping[str, Any]) -> dict[str, Any]:
    """``{sha, message, author}`` of a compare commit (its message's first line), as pushes list commits."""
    return {
        "sha": as_str(commit.get("sha")),
        "message": first_line(commit_message(commit)),
        "author": commit_author(commit),
    }


def commit_line(entry: Mapping[str, Any]) -> str:
    """``1a2b3c4 Fix login redirect (alice)`` of a ``{sha, message, author}`` entry."""
    sha = (as_str(entry.get("sha")) or "")[:SHORT_SHA] or "???????"
    message = as_str(entry.get("message")) or "(no message)"
    author = as_str(entry.get("author"))
    return _cut(f"{sha} {message}" + (f" ({author})" if author else ""))


def pull_line(pull: ShippedPull) -> str:
    """``#12 Fix login redirect (alice)``."""
    text = f"#{pull.number}" + (f" {pull.title}" if pull.title else "")
    return _cut(text + (f" ({pull.author})" if pull.author else ""))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


def diff_url(repo_url: str, base: str, head: str) -> str:
    """The web page comparing two commits or tags (``/compare/{base}...{head}``; SHAs shortened)."""
    return f"{repo_url}/compare/{_short_ref(base)}...{_short_ref(head)}"


def _short_ref(ref: str) -> str:
    is_full_sha = len(ref) == 40 and all(c in "0123456789abcdef" for c in ref)
    return ref[:12] if is_full_sha else quote(ref, safe="")


def compare_status(compare: Mapping[str, Any] | None) -> str | None:
    """``ahead``, ``behind``, ``identical`` or ``diverged``; None for anything else."""
    status = as_str(as_dict(compare).get("status"))
    return status if status in COMPARE_STATUSES else None


def commit_fields(compare: Mapping[str, Any], pulls: Mapping[int, ShippedPull], *, prefix: str = "") -> dict[str, Any]:
    """``commit_count``, ``commits``, ``commit_list``, ``pull_requests``, ``pull_request_numbers``
    of a compare answer (``prefix`` ``rolled_back_`` for what a rollback takes away)."""
    commits = commits_of(compare)
    total = as_int(compare.get("total_commits"))
    count = total if total is not None and total >= 0 else len(commits)
    entries = [commit_entry(commit) for commit in commits[-MAX_LISTED:]]
    ordered = sorted(pulls.values(), key=lambda pull: pull.number, reverse=True)[:MAX_PULLS]
    fields: dict[str, Any] = {
        f"{prefix}commit_count": count,
        f"{prefix}commits": entries,
        f"{prefix}commit_list": [commit_line(entry) for entry in entries],
        f"{prefix}pull_requests": [pull_line(pull) for pull in ordered],
        f"{prefix}pull_request_numbers": [pull.number for pull in ordered],
    }
    if count > len(commits):
        fields[f"{prefix}commits_truncated"] = True  # GitHub lists at most 250 commits of a comparison
    return fields


def file_names(compare_or_files: object) -> list[str]:
    """The file names of a compare answer (``files``) or of a list of files."""
    files = as_dict(compare_or_files).get("files") if isinstance(compare_or_files, Mapping) else compare_or_files
    if not isinstance(files, list):
        return []
    return [name for item in files if (name := as_str(as_dict(item).get("filename")))]


# -- approvals ------------------------------------------------------------------------------


def approver_fields(reviews: Mapping[int, list[Any] | None], pulls: Mapping[int, ShippedPull]) -> dict[str, Any]:
    """``pr_approvers`` (``bob (#12)``) from each shipped pull request's reviews, and
    ``stale_approval: true`` when an approval was given on an earlier commit than the head that
    was merged (a review's ``commit_id`` against the pull request's head, where both are known)."""
    lines: list[str] = []
    stale = False
    for number in sorted(reviews, reverse=True):
        latest: dict[str, Mapping[str, Any]] = {}
        for review in reviews[number] or []:
            user = login(as_dict(review).get("user"))
            state = as_str(as_dict(review).get("state"))
            if user and state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[user] = as_dict(review)
        head = pulls[number].head_sha if number in pulls else None
        for user, review in latest.items():
            if review.get("state") != "APPROVED":
                continue
            commit = as_str(review.get("commit_id"))
            earlier = bool(head and commit and commit != head)
            stale = stale or earlier
            lines.append(_cut(f"{user} (#{number}" + (", an earlier commit)" if earlier else ")")))
    fields: dict[str, Any] = {"pr_approvers": lines[:MAX_PULLS]}
    if stale:
        fields["stale_approval"] = True
    return fields


def run_id_from_url(url: object, repo_url: str) -> int | None:
    """The workflow run a status link names (``{repo}/actions/runs/{id}[/job/{job}]``), else None."""
    text = as_str(url)
    prefix = f"{repo_url}/actions/runs/".lower()
    if text is None or not text.lower().startswith(prefix):
        return None
    digits = text[len(prefix) :].split("/", 1)[0].split("?", 1)[0]
    return as_int(digits)


def deployment_run_id(statuses: Iterable[Mapping[str, Any]], repo_url: str) -> int | None:
    """The Actions run that made a deployment, named by one of its statuses' ``log_url``/``target_url``."""
    for status in statuses:
        for key in ("log_url", "target_url"):
            run_id = run_id_from_url(status.get(key), repo_url)
            if run_id is not None:
                return run_id
    return None


def approval_fields(
    approvals: Sequence[Any], environment: str, statuses: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """``deploy_approvers`` (``alice (production): Ship it``) from a run's review history, for
    ``environment``; rejections as ``deploy_rejections``. ``approved_at`` is when the deployment
    left GitHub's ``waiting`` state (the first status after one), when its statuses show it."""
    approved: list[str] = []
    rejected: list[str] = []
    for item in approvals:
        entry = as_dict(item)
        names = [
            as_str(as_dict(env).get("name")) for env in entry.get("environments") or [] if isinstance(env, Mapping)
        ]
        if names and environment not in names:
            continue
        user = login(entry.get("user")) or "unknown"
        comment = first_line(entry.get("comment"), limit=120)
        line = _cut(f"{user} ({environment})" + (f": {comment}" if comment else ""))
        state = as_str(entry.get("state"))
        if state == "approved":
            approved.append(line)
        elif state == "rejected":
            rejected.append(line)
    fields: dict[str, Any] = {"deploy_approvers": approved[:MAX_PULLS]}
    if rejected:
        fields["deploy_rejections"] = rejected[:MAX_PULLS]
    moment = _left_waiting(statuses) if approved else None
    if moment is not None:
        fields["approved_at"] = format_time(moment)
    return fields


def _left_waiting(statuses: Sequence[Mapping[str, Any]]) -> int | None:
    ordered = sorted(
        (
            (moment, as_str(status.get("state")))
            for status in statuses
            if (moment := parse_time(status.get("created_at")))
        ),
        key=lambda item: item[0],
    )
    waited = False
    for moment, state in ordered:
        if state == "waiting":
            waited = True
        elif waited:
            return moment
    return None


# -- releases and runs -----------------------------------------------------------------------


def previous_release(releases: Sequence[Any], tag: str, *, prerelease: bool) -> str | None:
    """The tag of the release published before ``tag`` in a ``GET /releases`` page (newest first):
    drafts never count; before a full release, neither do prereleases."""
    listed = [as_dict(item) for item in releases if isinstance(item, Mapping)]
    position = next((i for i, item in enumerate(listed) if item.get("tag_name") == tag), None)
    candidates = listed[position + 1 :] if position is not None else listed
    for item in candidates:
        name = as_str(item.get("tag_name"))
        if not name or name == tag or item.get("draft") is True:
            continue
        if item.get("prerelease") is True and not prerelease:
            continue
        return name
    return None


def release_baselines(raws: Sequence[Mapping[str, Any]], last: str | None) -> tuple[dict[int, str | None], str | None]:
    """For Events API objects oldest first: the tag each ``ReleaseEvent`` is compared with (keyed by
    ``id(raw)``; None means "look it up"), and the last full release's tag after them. A prerelease
    is compared with the last full release and does not become the next one's baseline."""
    bases: dict[int, str | None] = {}
    current = last
    for raw in raws:
        if not isinstance(raw, Mapping) or raw.get("type") != "ReleaseEvent":
            continue
        release = as_dict(as_dict(raw.get("payload")).get("release"))
        tag = as_str(release.get("tag_name"))
        if tag is None or release.get("draft") is True:
            continue
        bases[id(raw)] = current if current != tag else None
        if release.get("prerelease") is not True:
            current = tag
    return bases, current


def is_revert(message: object) -> bool:
    """Whether a commit message or title is GitHub's ``Revert "…"``."""
    line = first_line(message, limit=1000)
    return bool(line and _REVERT.match(line))


def run_pull_numbers(run: Mapping[str, Any]) -> list[int]:
    """The pull requests a run names (``pull_requests``: open ones whose head matches the run)."""
    items = run.get("pull_requests")
    if not isinstance(items, list):
        return []
    numbers = [as_int(as_dict(item).get("number")) for item in items[:MAX_PULLS]]
    return sorted({number for number in numbers if number is not None})


def message_pull(message: object) -> ShippedPull | None:
    """The pull request (number and title) a merge or squash commit message names."""
    text = as_str(message) or ""
    number = pull_reference(text)
    if number is None:
        return None
    return ShippedPull(number, _merge_title(text) if _MERGE.match(text) else _squash_title(text))


def head_commit_pull(run: Mapping[str, Any]) -> ShippedPull | None:
    """The pull request a push-triggered run's head commit message names (merge or squash)."""
    return message_pull(as_dict(run.get("head_commit")).get("message"))
