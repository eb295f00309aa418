"""Property: whatever GitHub or the backend answers (status, headers, random bytes or JSON), the clients
raise nothing but a PainChainError subclass."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import requests
import requests_mock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from painchain_gh.backend import BackendClient
from painchain_gh.errors import PainChainError
from painchain_gh.github.client import GitHubClient, TokenBudget
from painchain_gh.http import Deadline, RetryPolicy

API = "https://api.github.com"
BACKEND = "http://backend.test/api"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
shaped = st.fixed_dictionaries(
    {"message": st.text(max_size=30)},
    optional={"workflow_runs": json_values, "login": json_values, "id": json_values},
)
bodies = st.one_of(
    st.binary(max_size=3000),
    json_values.map(lambda value: json.dumps(value).encode()),
    shaped.map(lambda value: json.dumps(value).encode()),
    st.lists(shaped, max_size=120).map(lambda value: json.dumps(value).encode()),
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
)
header_text = st.text(alphabet=st.characters(max_codepoint=255), max_size=60)
headers = st.dictionaries(
    st.sampled_from(
        [
            "Link",
            "ETag",
            "Location",
            "Retry-After",
            "X-Poll-Interval",
            "X-RateLimit-Reset",
            "X-RateLimit-Remaining",
            "X-RateLimit-Limit",
            "X-OAuth-Scopes",
            "X-GitHub-Request-Id",
            "Content-Length",
        ]
    ),
    st.one_of(
        header_text,
        st.integers(-(10**30), 10**30).map(str),
        st.sampled_from(
            ['<https://api.github.com/x?page=2>; rel="next"', "/repos/acme/api/events", "http://api.github.com/x"]
        ),
    ),
    max_size=6,
)
statuses = st.one_of(
    st.sampled_from([200, 201, 204, 301, 302, 304, 307, 308, 400, 401, 403, 404, 408, 410, 422, 429, 500, 503]),
    st.integers(100, 599),
)
answers = st.lists(st.tuples(statuses, headers, bodies), min_size=1, max_size=4)


def only_known_errors(call: Callable[[], Any]) -> None:
    with contextlib.suppress(PainChainError):  # anything else fails the test
        call()


def first_pages(client: GitHubClient, path: str, list_key: str | None) -> None:
    """At most five pages (a hostile Link could lead on forever; the poller caps pages the same way)."""
    for number, page in enumerate(client.iter_pages(path, etag='W/"e"', list_key=list_key)):
        assert isinstance(page.items, list) and len(page.items) <= 100
        if number >= 4:
            break


def mock(mocker: requests_mock.Mocker, replies: list[tuple[int, dict[str, str], bytes]]) -> None:
    responses = [{"status_code": status, "headers": dict(head), "content": body} for status, head, body in replies]
    mocker.register_uri(requests_mock.ANY, requests_mock.ANY, responses)


def new_github() -> GitHubClient:
    return GitHubClient(
        session=requests.Session(),
        api_url=API,
        token=SecretStr("ghp_propertyCANARY"),
        budget=TokenBudget("fp", reserve=0, max_concurrent=1),
        deadline=Deadline(60),
        policy=RetryPolicy(attempts=2, base_delay=0),
        sleep=lambda seconds: None,
        max_body_bytes=2048,
    )


def new_backend() -> BackendClient:
    return BackendClient(
        session=requests.Session(),
        base_url=BACKEND,
        token=SecretStr("pcb_propertyCANARY"),
        deadline=Deadline(60),
        policy=RetryPolicy(attempts=2, base_delay=0),
        sleep=lambda seconds: None,
        max_body_bytes=2048,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replies=answers)
def test_any_github_answer_raises_only_known_errors(replies: list[tuple[int, dict[str, str], bytes]]) -> None:
    with requests_mock.Mocker() as mocker:
        mock(mocker, replies)
        client = new_github()

        only_known_errors(lambda: first_pages(client, "/repos/acme/api/events", None))
        only_known_errors(lambda: first_pages(client, "/repos/acme/api/actions/runs", "workflow_runs"))
        only_known_errors(lambda: client.get_object("/repos/acme/api/pulls/1"))
        only_known_errors(lambda: client.probe("/user"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replies=answers)
def test_any_backend_answer_raises_only_known_errors(replies: list[tuple[int, dict[str, str], bytes]]) -> None:
    with requests_mock.Mocker() as mocker:
        mock(mocker, replies)
        client = new_backend()
        only_known_errors(client.list_integrations)
        only_known_errors(lambda: client.get_integration("clx1"))
        only_known_errors(lambda: client.put_integration("clx1", {"lastSync": "now"}))
        only_known_errors(lambda: client.post_event({"title": "t"}, tenant_id="tenant-a"))
        only_known_errors(lambda: client.register_type({"id": "github"}))
