"""What the run keeps of each object an extra request fetched: only the fields the transforms read.

The enrichment cache (:class:`~painchain_gh.streams.enrich.Enricher`) holds every answer while its
repository is polled so that no object is asked for twice; keeping GitHub's whole answers (a
compare with 300 file patches, pull requests with every ``*_url``) made a first sync of 1,000
active repositories peak near 200 MB.
Each function here is a pure projection of one answer onto the fields read downstream, with strings
and lists bounded; it never raises, whatever the JSON. The field names stay GitHub's, so the
transforms read a slim object exactly as they would read the full one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from painchain_gh.transform.common import as_dict, as_int, as_str

MAX_BODY = 1000  # a pull request's description (events.MAX_BODY)
MAX_TEXT = 300
MAX_MESSAGE = 2000  # a commit message: its first lines name the pull request and the reverted commit
MAX_FILES = 300  # GitHub's own cap on a comparison's files
MAX_COMMITS = 250  # GitHub's own cap on a comparison's commits
MAX_ITEMS = 100
MAX_LABELS = 20
MAX_STEPS = 100


def _text(value: object, limit: int = MAX_TEXT) -> str | None:
    text = as_str(value)
    return text[:limit] if text is not None else None


def _user(value: object) -> dict[str, Any] | None:
    name = _text(as_dict(value).get("login"), 100)
    return {"login": name} if name else None


def _ref(value: object) -> dict[str, Any]:
    ref = as_dict(value)
    return {"ref": _text(ref.get("ref"), 255), "sha": _text(ref.get("sha"), 64)}


def _items(value: object, limit: int = MAX_ITEMS) -> list[Mapping[str, Any]]:
    return [item for item in value[:limit] if isinstance(item, Mapping)] if isinstance(value, list) else []


def slim_pull(pull: object) -> dict[str, Any]:
    """A pull request (``GET /pulls/{n}``, an item of ``GET /pulls`` or of ``commits/{sha}/pulls``)."""
    source = as_dict(pull)
    slim: dict[str, Any] = {
        "number": as_int(source.get("number")),
        "title": _text(source.get("title")),
        "user": _user(source.get("user")),
        "html_url": _text(source.get("html_url"), 500),
        "state": _text(source.get("state"), 20),
        "merged_at": _text(source.get("merged_at"), 40),
        "updated_at": _text(source.get("updated_at"), 40),
        "head": _ref(source.get("head")),
        "base": _ref(source.get("base")),
    }
    if isinstance(source.get("merged"), bool):
        slim["merged"] = source["merged"]
    for key in ("additions", "deletions", "changed_files", "comments", "review_comments"):
        if key in source:
            slim[key] = as_int(source.get(key))
    if "merged_by" in source:
        slim["merged_by"] = _user(source.get("merged_by"))
    if isinstance(source.get("labels"), list):
        slim["labels"] = [
            {"name": _text(as_dict(label).get("name"), 200)} for label in _items(source["labels"], MAX_LABELS)
        ]
    if "body" in source:
        slim["body"] = _text(source.get("body"), MAX_BODY + 1)
    return slim


def slim_pulls(pulls: object) -> list[dict[str, Any]]:
    """A list of pull requests (``GET /pulls``, ``GET /commits/{sha}/pulls``)."""
    return [slim_pull(item) for item in _items(pulls)]


def slim_reviews(reviews: object) -> list[dict[str, Any]]:
    """``GET /pulls/{n}/reviews``: who, which state, on which commit, when."""
    return [
        {
            "user": _user(item.get("user")),
            "state": _text(item.get("state"), 40),
            "commit_id": _text(item.get("commit_id"), 64),
            "submitted_at": _text(item.get("submitted_at"), 40),
        }
        for item in _items(reviews)
    ]


def _file(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "filename": _text(item.get("filename"), MAX_TEXT),
        "previous_filename": _text(item.get("previous_filename"), MAX_TEXT),
        "status": _text(item.get("status"), 20),
        "additions": as_int(item.get("additions")),
        "deletions": as_int(item.get("deletions")),
    }


def slim_files(files: object) -> list[dict[str, Any]]:
    """``GET /pulls/{n}/files`` (one page): names and sizes, no patches."""
    return [_file(item) for item in _items(files)]


def _commit(item: Mapping[str, Any]) -> dict[str, Any]:
    commit = as_dict(item.get("commit"))
    author = as_dict(commit.get("author"))
    return {
        "sha": _text(item.get("sha"), 64),
        "parents": [{"sha": _text(as_dict(p).get("sha"), 64)} for p in _items(item.get("parents"), 8)],
        "author": _user(item.get("author")),
        "commit": {
            "message": _text(commit.get("message"), MAX_MESSAGE),
            "author": {"name": _text(author.get("name"), 200), "date": _text(author.get("date"), 40)},
        },
    }


def slim_compare(compare: object) -> dict[str, Any]:
    """``GET /compare/{base}...{head}``: status, counts, commits (message, author, parents) and file names."""
    source = as_dict(compare)
    return {
        "status": _text(source.get("status"), 20),
        "ahead_by": as_int(source.get("ahead_by")),
        "behind_by": as_int(source.get("behind_by")),
        "total_commits": as_int(source.get("total_commits")),
        "commits": [_commit(item) for item in _items(source.get("commits"), MAX_COMMITS)],
        "files": [_file(item) for item in _items(source.get("files"), MAX_FILES)],
    }


def slim_jobs(jobs: object) -> list[dict[str, Any]]:
    """The jobs of a run: name, conclusion, link and each step's name and conclusion."""
    return (
        [
            {
                "name": _text(item.get("name"), 200),
                "conclusion": _text(item.get("conclusion"), 40),
                "html_url": _text(item.get("html_url"), 500),
                "steps": [
                    {
                        "name": _text(as_dict(step).get("name"), 200),
                        "conclusion": _text(as_dict(step).get("conclusion"), 40),
                    }
                    for step in _items(item.get("steps"), MAX_STEPS)
                ],
            }
            for item in (value for value in jobs if isinstance(value, Mapping))
        ]
        if isinstance(jobs, list)
        else []
    )


def slim_approvals(approvals: object) -> list[dict[str, Any]]:
    """``GET /actions/runs/{id}/approvals``: state, comment, environment names, reviewer."""
    return [
        {
            "state": _text(item.get("state"), 20),
            "comment": _text(item.get("comment"), 200),
            "environments": [
                {"name": _text(as_dict(env).get("name"), 255)} for env in _items(item.get("environments"), 20)
            ],
            "user": _user(item.get("user")),
        }
        for item in _items(approvals)
    ]


def slim_releases(releases: object) -> list[dict[str, Any]]:
    """``GET /releases`` (one page): tag, flags and times."""
    return [
        {
            "tag_name": _text(item.get("tag_name"), 255),
            "draft": item.get("draft") is True,
            "prerelease": item.get("prerelease") is True,
            "created_at": _text(item.get("created_at"), 40),
            "published_at": _text(item.get("published_at"), 40),
        }
        for item in _items(releases)
    ]
