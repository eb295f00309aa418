"""What the state remembers for "what shipped" (each environment's last successes, the last release
tag): bounded when written, checked as strictly when read, small when nothing was deployed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from painchain_gh.cursor import (
    ENVIRONMENTS_REMEMBERED,
    SUCCESSES_PER_ENVIRONMENT,
    DeploymentsCursor,
    EventsCursor,
    RepoState,
    previous_success,
    remember_release,
    remember_success,
)
from painchain_gh.store.checks import CursorError, check_repo_state, parse_repo_state

SHA = "a" * 40


def test_previous_success_is_the_newest_older_one_of_the_same_environment() -> None:
    cursor = DeploymentsCursor()
    for deployment_id, sha in ((10, "1" * 40), (30, "3" * 40), (20, "2" * 40)):
        remember_success(cursor, "production", deployment_id, sha)
    remember_success(cursor, "staging", 25, "9" * 40)
    assert previous_success(cursor, "production", 31) == (30, "3" * 40)
    assert previous_success(cursor, "production", 30) == (20, "2" * 40)  # itself is not its own baseline
    assert previous_success(cursor, "production", 10) is None
    assert previous_success(cursor, "qa", 99) is None


def test_remembered_successes_are_bounded() -> None:
    cursor = DeploymentsCursor()
    for n in range(10):
        remember_success(cursor, "production", n, SHA)
    assert [entry[0] for entry in cursor.successes["production"]] == [8, 9]
    assert len(cursor.successes["production"]) == SUCCESSES_PER_ENVIRONMENT
    for n in range(ENVIRONMENTS_REMEMBERED + 5):
        remember_success(cursor, f"preview-{n}", 100 + n, SHA)
    assert len(cursor.successes) == ENVIRONMENTS_REMEMBERED
    newest = f"preview-{ENVIRONMENTS_REMEMBERED + 4}"
    assert newest in cursor.successes and "production" not in cursor.successes  # the stalest went
    size = len(json.dumps(cursor.successes))
    assert size < 700, size  # per repository, at most


@pytest.mark.parametrize(
    ("environment", "deployment_id", "sha"),
    [("x" * 101, 1, SHA), ("prod\nuction", 1, SHA), ("", 1, SHA), ("production", -1, SHA),
     ("production", 10**18, SHA), ("production", 1, "not-a-sha"), ("production", 1, "ABCDEF1")],
)  # fmt: skip
def test_what_cannot_be_stored_is_not_remembered(environment: str, deployment_id: int, sha: str) -> None:
    cursor = DeploymentsCursor()
    remember_success(cursor, environment, deployment_id, sha)
    assert cursor.successes == {}


def test_a_release_tag_that_cannot_be_stored_is_forgotten() -> None:
    cursor = EventsCursor(release_tag="v1")
    remember_release(cursor, "v2")
    assert cursor.release_tag == "v2"
    remember_release(cursor, "v" * 101)
    assert cursor.release_tag is None


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"deployments": {"successes": {"x" * 101: [[1, SHA]]}}}, "deployments.successes"),
        ({"deployments": {"successes": {"production": [[1, SHA]] * 3}}}, "too many deployments"),
        ({"deployments": {"successes": {"production": [[1, "zz"]]}}}, "deployment id and commit SHA"),
        ({"deployments": {"successes": {"production": [[-1, SHA]]}}}, "deployment id and commit SHA"),
        ({"deployments": {"successes": {f"e{n}": [[1, SHA]] for n in range(6)}}}, "too many environments"),
        ({"events": {"release_tag": "v1\u202e"}}, "events.release_tag"),
        ({"events": {"release_tag": "v" * 101}}, "events.release_tag"),
    ],
)
def test_reading_refuses_what_writing_never_produces(change: dict[str, Any], where: str) -> None:
    with pytest.raises(CursorError, match=where.replace(".", r"\.")):
        parse_repo_state(change)


def test_an_entry_without_deployments_stays_small() -> None:
    state = RepoState()
    without = state.model_dump_json(exclude={"events": {"release_tag"}, "deployments": {"successes"}})
    assert len(state.model_dump_json()) - len(without) < 40  # for a repository that never deployed or released


@given(
    steps=st.lists(
        st.tuples(
            st.text(min_size=0, max_size=120),
            st.integers(min_value=-5, max_value=10**19),
            st.text(alphabet="0123456789abcdefXYZ", min_size=0, max_size=70),
        ),
        max_size=40,
    ),
    tags=st.lists(st.text(max_size=130), max_size=5),
)
def test_whatever_a_run_remembers_is_read_back(steps: list[tuple[str, int, str]], tags: list[str]) -> None:
    state = RepoState()
    for environment, deployment_id, sha in steps:
        remember_success(state.deployments, environment, deployment_id, sha)
    for tag in tags:
        remember_release(state.events, tag)
    written = json.loads(state.model_dump_json())
    assert parse_repo_state(written) == check_repo_state(state)
