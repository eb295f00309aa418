"""Reading state files: member by member, any valid JSON layout, clear errors otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from painchain_gh.cursor import RepoState, mark_event
from painchain_gh.errors import StateError
from painchain_gh.store.file_store import FileStore, load_repos
from painchain_gh.store.json_members import read_object


def test_read_object_streams_one_member_and_parses_the_rest() -> None:
    text = ' { "a" : 1 , "big" : { "x" : [1, {"y": 2}], "z": {} } , "b": "t" } \n'
    top, members = read_object(text, streamed="big")
    assert members is not None
    assert list(members) == [("x", [1, {"y": 2}]), ("z", {})]
    assert top == {"a": 1, "b": "t"}


@pytest.mark.parametrize("text", ["[]", '{"a": 1', '{"a": 1} x', "{1: 2}", '{"big": {"x": }}'])
def test_read_object_refuses_what_is_not_one_json_object(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        _top, members = read_object(text, streamed="big")
        list(members or ())


def test_pretty_printed_state_with_version_after_repos_loads(tmp_path: Path) -> None:
    state = RepoState()
    mark_event(state.events, "42", 100)
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"repos": {"-/i/o/r": state.model_dump(mode="json")}, "version": 2}, indent=4))
    assert RepoState.model_validate_json(load_repos(path)["-/i/o/r"]) == state


def test_a_newer_version_is_reported_even_when_it_follows_repos_of_another_shape(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"repos": {"k": {"cursor": "v3"}}, "version": 3}')
    with pytest.raises(StateError, match="format version 3"):
        load_repos(path)


def test_an_invalid_repository_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 2, "repos": {"-/i/o/r": {"events": {"seen": {"1": "yesterday"}}}}}')
    with pytest.raises(StateError, match=r"repos\.-/i/o/r\.events\.seen\.1"):
        load_repos(path)


def test_written_state_round_trips_through_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = FileStore(path).open()
    state = RepoState(last_polled_at=5)
    mark_event(state.events, "7", 3)
    store.commit_repo("-/i/o/r", state)
    store.record_event("-/i/o/s", "9", 4)  # acknowledged, repository never committed
    store.close()
    reread = FileStore(path).load_readonly()
    assert reread.get("-/i/o/r") == state
    assert "9" in reread.get("-/i/o/s").events.seen
    assert not (tmp_path / "state.json.journal").exists()
