"""Property tests: the transforms never raise on arbitrary JSON and always yield a usable event or a Skip."""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from painchain_gh.transform import PainChainEvent, RepoContext, Skip, to_event, to_run_event

CTX = RepoContext(owner="acme", repo="api-gateway", integration_id="clx1", tags=("team",))
EVENT_TYPES = ["PushEvent", "PullRequestEvent", "PullRequestReviewEvent", "IssuesEvent", "ReleaseEvent", "WatchEvent"]
REQUIRED = ("author", "url", "event_type", "external_id")

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
# Field values of event-shaped dicts: shallow, so that many examples stay cheap.
values = scalars | st.lists(scalars, max_size=2) | st.dictionaries(st.text(max_size=6), scalars, max_size=2)
# Ids and times that are almost right are where parsers break: digits of every script, odd ISO forms.
digit_strings = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=25)
ids = st.integers(min_value=-5, max_value=10**20) | digit_strings | values
times = (
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat())
    | st.sampled_from(["2026-11-25T10:03:12Z", "2026-11-25T10:03:12", "2026-11-25", "0001-01-01T00:00:00Z", ""])
    | values
)
users = st.fixed_dictionaries({}, optional={"login": values, "display_login": values}) | values


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with some of ``fields`` (each maybe missing) plus random extra keys."""
    return st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries({}, optional=fields),
        st.dictionaries(st.text(max_size=8), values, max_size=2),
    )


pull_requests = shaped(
    {
        "number": ids,
        "title": values,
        "user": users,
        "html_url": values,
        "merged": values,
        "head": values,
        "base": values,
    }
)
payloads = shaped(
    {
        "action": st.sampled_from(["opened", "closed", "merged", "reopened", "created", "published"]) | values,
        "number": ids,
        "pull_request": pull_requests | values,
        "review": shaped({"state": values, "user": users, "html_url": values}) | values,
        "issue": shaped({"number": ids, "title": values, "labels": values, "html_url": values}),
        "release": shaped({"tag_name": values, "name": values, "author": users, "html_url": values}),
        "ref": st.sampled_from(["refs/heads/main", "refs/tags/v1", ""]) | values,
        "head": values,
        "before": values,
        "commits": st.lists(values, max_size=3) | values,
        "size": values,
    }
)
events = shaped(
    {
        "id": ids,
        "type": st.sampled_from(EVENT_TYPES) | values,
        "created_at": times,
        "actor": users,
        "payload": payloads | values,
    }
)
pulls = st.dictionaries(st.integers(min_value=-1, max_value=10**6), pull_requests | values, max_size=3)
runs = shaped(
    {
        "id": ids,
        "created_at": times,
        "updated_at": times,
        "run_started_at": times,
        "status": st.sampled_from(["queued", "in_progress", "completed"]) | values,
        "conclusion": st.sampled_from(["success", "failure", None]) | values,
        "run_attempt": ids,
        "run_number": ids,
        "name": values,
        "display_title": values,
        "html_url": values,
        "actor": users,
        "triggering_actor": users,
        "head_branch": values,
    }
)


def check(result: object) -> None:
    """A Skip, or an event whose body is strict JSON and whose data has what the timeline reads."""
    assert isinstance(result, PainChainEvent | Skip)
    if isinstance(result, Skip):
        assert isinstance(result.reason, str) and result.reason
        return
    for key in REQUIRED:
        assert isinstance(result.data.get(key), str) and result.data[key], key
    assert result.data["external_id"] == result.external_id
    assert result.data["url"].startswith("http")
    json.dumps(result.body(), allow_nan=False)  # what requests sends


@settings(max_examples=200, deadline=None)
@given(raw=json_values)
def test_to_event_never_raises_on_any_json(raw: Any) -> None:
    check(to_event(raw, CTX, None))


@settings(max_examples=250, deadline=None)
@given(raw=events, details=pulls)
def test_to_event_never_raises_on_event_shaped_json(raw: dict[str, Any], details: dict[int, Any]) -> None:
    check(to_event(raw, CTX, details))


@settings(max_examples=200, deadline=None)
@given(raw=json_values)
def test_to_run_event_never_raises_on_any_json(raw: Any) -> None:
    check(to_run_event(raw, CTX))


@settings(max_examples=250, deadline=None)
@given(run=runs)
def test_to_run_event_never_raises_on_run_shaped_json(run: dict[str, Any]) -> None:
    check(to_run_event(run, CTX))
