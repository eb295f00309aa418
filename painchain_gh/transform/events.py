"""Events API objects (``GET /repos/{owner}/{repo}/events``) to PainChain events.

Since 2025-10-07 github.com trims Events API payloads: a PushEvent has no commits and a
PullRequestEvent carries only a stub (no title, author, state or ``html_url``; a merge is
the action ``merged``). GitHub Enterprise Server and older data keep full payloads, where a
merge is ``closed`` with ``pull_request.merged == true``. Both shapes are handled here; the
sync enriches stubs with ``GET /repos/{o}/{r}/pulls/{n}`` and passes the result in ``pulls``.
See https://github.blog/changelog/2025-08-08-upcoming-changes-to-github-events-api-payloads/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from painchain_gh.timeutil import format_time, parse_time
from painchain_gh.transform.change_kinds import change_kinds, pull_facts, push_facts
from painchain_gh.transform.common import (
    PainChainEvent,
    RepoContext,
    Skip,
    as_dict,
    as_int,
    as_str,
    as_url,
    base_data,
    first_line,
    login,
)
from painchain_gh.transform.shipped import commit_line

PULL_REQUEST_ACTIONS = frozenset({"opened", "closed", "reopened", "merged"})
REVIEW_TITLES = {
    "approved": "Pull request approved",
    "changes_requested": "Changes requested on pull request",
    "commented": "Pull request reviewed",
    "dismissed": "Pull request review dismissed",
}
_ZERO_SHA = "0" * 40
_MAX_COMMITS = 20
MAX_BODY = 1000

Pulls = Mapping[int, Mapping[str, Any]]


def event_id(raw: Mapping[str, Any]) -> str | None:
    """The event's id as a string of at most 20 digits (GitHub's are 64-bit integers), or None."""
    value = as_str(raw.get("id"))
    return value if value and len(value) <= 20 and value.isascii() and value.isdigit() else None


def pull_number(raw: Mapping[str, Any]) -> int | None:
    """The pull request number of a PullRequestEvent or PullRequestReviewEvent."""
    payload = as_dict(raw.get("payload"))
    return as_int(payload.get("number")) or as_int(as_dict(payload.get("pull_request")).get("number"))


def needs_pull_details(raw: Mapping[str, Any]) -> bool:
    """Whether the event is a pull request event whose payload lacks the PR's title (trimmed)."""
    if raw.get("type") not in {"PullRequestEvent", "PullRequestReviewEvent"}:
        return False
    pull = as_dict(as_dict(raw.get("payload")).get("pull_request"))
    return as_str(pull.get("title")) is None and pull_number(raw) is not None


def to_event(raw: Mapping[str, Any], ctx: RepoContext, pulls: Pulls | None = None) -> PainChainEvent | Skip:
    """Transform one Events API object; never raises, whatever the JSON."""
    if not isinstance(raw, Mapping):
        return Skip("malformed")
    identifier = event_id(raw)
    created = parse_time(raw.get("created_at"))
    if identifier is None or created is None:
        return Skip("malformed")
    kind = raw.get("type")
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        return Skip(f"unsupported:{kind if isinstance(kind, str) else '?'}"[:80])
    external_id = f"github-event-{identifier}"
    built = builder(raw, as_dict(raw.get("payload")), ctx, pulls or {})
    if isinstance(built, Skip):
        return built
    title, data = built
    data.update(
        base_data(
            event_type=data.pop("event_type"),
            action=data.pop("action"),
            author=data.pop("author"),
            url=data.pop("url"),
            external_id=external_id,
            ctx=ctx,
        )
    )
    data["github_event_id"] = identifier
    data["created_at"] = format_time(created)
    return ctx.event(
        title=title,
        moment=created,
        external_id=external_id,
        data=data,
        tiebreak=int(identifier[:18]),
    )


Built = tuple[str, dict[str, Any]] | Skip


def _actor(raw: Mapping[str, Any]) -> str:
    actor = as_dict(raw.get("actor"))
    return as_str(actor.get("display_login")) or login(actor) or "unknown"


def _push(raw: Mapping[str, Any], payload: Mapping[str, Any], ctx: RepoContext, _: Pulls) -> Built:
    ref = as_str(payload.get("ref")) or ""
    head = as_str(payload.get("head"))
    before = as_str(payload.get("before"))
    is_tag = ref.startswith("refs/tags/")
    deleted = head == _ZERO_SHA
    if is_tag:
        name = ref.removeprefix("refs/tags/")
        title = f"Tag deleted: {name}" if deleted else f"Tag pushed: {name}"
    else:
        name = ref.removeprefix("refs/heads/") or "unknown branch"
        title = f"Branch deleted: {name}" if deleted else f"Push to {name}"
    if deleted:
        url = f"{ctx.repo_url}/tags" if is_tag else f"{ctx.repo_url}/branches"
    elif head and before and before != _ZERO_SHA:
        url = f"{ctx.repo_url}/compare/{before[:12]}...{head[:12]}"
    elif head:
        url = f"{ctx.repo_url}/commit/{head}"
    else:
        url = f"{ctx.repo_url}/tree/{name}"
    data: dict[str, Any] = {
        "event_type": "push",
        "action": "deleted" if deleted else "pushed",
        "author": _actor(raw),
        "url": url,
        "ref": ref,
        "branch" if not ref.startswith("refs/tags/") else "tag": name,
        "head_sha": head,
        "before_sha": before,
        "compare_url": url,
    }
    if deleted:
        data["deleted"] = True
    commits = payload.get("commits")
    if isinstance(commits, list) and not is_tag:  # GitHub Enterprise Server and pre-2025 payloads only
        data["commit_count"] = as_int(payload.get("size")) or len(commits)
        data["commits"] = [
            {
                "sha": as_str(as_dict(commit).get("sha")),
                "message": first_line(as_dict(commit).get("message")),
                "author": as_str(as_dict(as_dict(commit).get("author")).get("name")),
            }
            for commit in commits[:_MAX_COMMITS]
        ]
        data["commit_list"] = [commit_line(commit) for commit in data["commits"]]
        count = data["commit_count"]
        title += f" ({count} commit{'s' if count != 1 else ''})"
    data["change_kinds"] = change_kinds(push_facts(data, None))
    return title, data


def _pull_request(raw: Mapping[str, Any], payload: Mapping[str, Any], ctx: RepoContext, pulls: Pulls) -> Built:
    action = as_str(payload.get("action"))
    if action not in PULL_REQUEST_ACTIONS:
        return Skip(f"ignored:pull_request.{action or '?'}"[:80])
    number = pull_number(raw)
    stub = as_dict(payload.get("pull_request"))
    details = pulls.get(number, {}) if number is not None else {}
    merged = action == "merged" or (
        action == "closed" and (stub.get("merged") is True or ("merged" not in stub and _details_merged(details)))
    )
    verb = "merged" if merged else action
    data = _pull_fields(raw, stub, details, ctx, number)
    data.update({"event_type": "pull_request", "action": verb, "merged": merged})
    data["change_kinds"] = change_kinds(pull_facts(data, None))
    return f"Pull request {verb}: {data['title']}", data


def _details_merged(details: Mapping[str, Any]) -> bool:
    """Whether the enrichment says merged: ``merged`` (``GET /pulls/{n}``) or ``merged_at`` (the list)."""
    if "merged" in details:
        return details.get("merged") is True
    return as_str(details.get("merged_at")) is not None


def _review(raw: Mapping[str, Any], payload: Mapping[str, Any], ctx: RepoContext, pulls: Pulls) -> Built:
    review = as_dict(payload.get("review"))
    state = (as_str(review.get("state")) or "commented").lower()
    number = pull_number(raw)
    stub = as_dict(payload.get("pull_request"))
    data = _pull_fields(raw, stub, as_dict(pulls.get(number)) if number is not None else {}, ctx, number)
    data.update(
        {
            "event_type": "pull_request_review",
            "action": state,
            "reviewer": login(review.get("user")) or _actor(raw),
            "review_url": as_url(review.get("html_url")),
            "pull_request_author": data["author"],
        }
    )
    data["author"] = data["reviewer"]
    data["url"] = data["review_url"] or data["url"]
    prefix = REVIEW_TITLES.get(state, f"Pull request review {state}")
    return f"{prefix}: {data['title']}", data


def _pull_fields(
    raw: Mapping[str, Any],
    stub: Mapping[str, Any],
    details: Mapping[str, Any],
    ctx: RepoContext,
    number: int | None,
) -> dict[str, Any]:
    """Fields shared by pull request and review events, from the payload or the enrichment."""
    title = as_str(stub.get("title")) or as_str(details.get("title"))
    author = login(stub.get("user")) or login(details.get("user"))
    url = as_url(stub.get("html_url")) or as_url(details.get("html_url"))
    head = as_dict(stub.get("head")) or as_dict(details.get("head"))
    base = as_dict(stub.get("base")) or as_dict(details.get("base"))
    return {
        "title": title or f"#{number if number is not None else '?'}",
        "number": number,
        "author": author or _actor(raw),
        "actor": _actor(raw),
        "url": url or (f"{ctx.repo_url}/pull/{number}" if number is not None else ctx.repo_url),
        "head_branch": as_str(head.get("ref")),
        "head_sha": as_str(head.get("sha")),
        "base_branch": as_str(base.get("ref")),
        "enriched": bool(details),
        "details_missing": title is None,
        **_pull_extras(stub, details),
    }


def _pull_extras(stub: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
    """Size, labels, merger and body of a pull request, from a full payload or the enrichment."""

    def pick(key: str) -> object:
        return stub[key] if key in stub else details.get(key)

    extras: dict[str, Any] = {}
    for key in ("additions", "deletions", "changed_files", "comments", "review_comments"):
        value = as_int(pick(key))
        if value is not None:
            extras[key] = value
    merged_by = login(pick("merged_by"))
    if merged_by:
        extras["merged_by"] = merged_by
    if isinstance(pick("labels"), list):
        extras["labels"] = _names(pick("labels"), "name")
    body = _body(pick("body"))
    if body:
        extras["description"] = body
    return extras


def _names(items: object, key: str, limit: int = 20) -> list[str]:
    """The ``key`` of each object in a JSON list (bounded)."""
    if not isinstance(items, list):
        return []
    names = [as_str(as_dict(item).get(key)) for item in items[:limit]]
    return [name[:200] for name in names if name]


def _body(value: object) -> str | None:
    """A description cut to :data:`MAX_BODY` characters."""
    text = as_str(value)
    if text is None or not text.strip():
        return None
    text = text.strip()
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 1] + "…"


def _issue(raw: Mapping[str, Any], payload: Mapping[str, Any], ctx: RepoContext, _: Pulls) -> Built:
    action = as_str(payload.get("action")) or "updated"
    issue = as_dict(payload.get("issue"))
    number = as_int(issue.get("number"))
    title = as_str(issue.get("title")) or f"#{number if number is not None else '?'}"
    labels = [as_str(as_dict(label).get("name")) for label in issue.get("labels") or [] if as_dict(label)]
    data: dict[str, Any] = {
        "event_type": "issue",
        "action": action,
        "author": _actor(raw),
        "url": as_url(issue.get("html_url")) or (f"{ctx.repo_url}/issues/{number}" if number else ctx.repo_url),
        "number": number,
        "title": title,
        "state": as_str(issue.get("state")),
        "issue_author": login(issue.get("user")),
        "labels": [name for name in labels if name] if isinstance(issue.get("labels"), list) else [],
    }
    label = as_str(as_dict(payload.get("label")).get("name"))
    if label:
        data["label"] = label
    return f"Issue {action}: {title}", data


def _release(raw: Mapping[str, Any], payload: Mapping[str, Any], ctx: RepoContext, _: Pulls) -> Built:
    action = as_str(payload.get("action")) or "published"
    release = as_dict(payload.get("release"))
    tag = as_str(release.get("tag_name"))
    name = as_str(release.get("name")) or tag or "unnamed release"
    data: dict[str, Any] = {
        "event_type": "release",
        "action": action,
        "author": login(release.get("author")) or _actor(raw),
        "url": as_url(release.get("html_url"))
        or (f"{ctx.repo_url}/releases/tag/{tag}" if tag else f"{ctx.repo_url}/releases"),
        "tag": tag,
        "name": name,
        "prerelease": release.get("prerelease") is True,
        "draft": release.get("draft") is True,
        "assets": _names(release.get("assets"), "name"),
        "description": _body(release.get("body")),
        "change_kinds": [],  # from the compare with the previous release, when enriched
    }
    return f"Release {action}: {name}", data


_BUILDERS = {
    "PushEvent": _push,
    "PullRequestEvent": _pull_request,
    "PullRequestReviewEvent": _review,
    "IssuesEvent": _issue,
    "ReleaseEvent": _release,
}


def redundant_closes(raws: list[Mapping[str, Any]]) -> set[str]:
    """Ids of trimmed ``closed`` events whose pull request also has a ``merged`` event in ``raws``.

    On github.com a merge is its own action since 2025-10-07; if a ``closed`` stub arrives for
    the same pull request it says nothing more, and forwarding both would show the merge twice.
    """
    merged: set[int] = set()
    closes: dict[str, int] = {}
    for raw in raws:
        if not isinstance(raw, Mapping) or raw.get("type") != "PullRequestEvent":
            continue
        payload = as_dict(raw.get("payload"))
        number = pull_number(raw)
        identifier = event_id(raw)
        if number is None or identifier is None:
            continue
        if payload.get("action") == "merged":
            merged.add(number)
        elif payload.get("action") == "closed" and "merged" not in as_dict(payload.get("pull_request")):
            closes[identifier] = number
    return {identifier for identifier, number in closes.items() if number in merged}
