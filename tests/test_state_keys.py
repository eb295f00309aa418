"""State keys with ids as given (format 2), and version-1 files migrated to the jobs they belong to."""

from __future__ import annotations

import json
from pathlib import Path

from painchain_gh.cursor import RepoState, mark_event
from painchain_gh.settings import Settings
from painchain_gh.state_ops import reset_state
from painchain_gh.store.file_store import FileStore, load_state, read_state_file
from painchain_gh.store.model import STATE_VERSION, StateFile


def cursor(*event_ids: str, floor: int = 1_700_000_000) -> RepoState:
    state = RepoState(last_polled_at=floor + 100)
    state.events.floor = floor
    for number, event_id in enumerate(event_ids):
        mark_event(state.events, event_id, floor + 1 + number)
    return state


def write_v1(path: Path, repos: dict[str, RepoState]) -> None:
    """A state file as version 1 wrote it: whole keys in lower case."""
    body = {key.lower(): value.model_dump(mode="json") for key, value in repos.items()}
    path.write_text(json.dumps({"version": 1, "repos": body}))


def test_ids_differing_only_by_case_get_two_cursors(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = FileStore(path).open()
    store.commit_repo("T/ABC/acme/api", cursor("1"))
    store.commit_repo("T/abc/acme/api", cursor("2"))
    store.close()
    reopened = FileStore(path).load_readonly()
    assert set(reopened.get("T/ABC/acme/api").events.seen) == {"1"}
    assert set(reopened.get("T/abc/acme/api").events.seen) == {"2"}
    assert json.loads(path.read_text())["version"] == STATE_VERSION == 2


def test_a_version_1_entry_goes_to_the_job_whose_key_lower_cases_to_it(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_v1(path, {"Tenant-A/GH-Prod/acme/api": cursor("41", "42")})
    store = FileStore(path).open()
    migrated = store.get("Tenant-A/GH-Prod/acme/api")
    assert set(migrated.events.seen) == {"41", "42"}  # nothing re-sent
    assert migrated.events.floor == 1_700_000_000  # nothing older re-sent either
    store.record_event("Tenant-A/GH-Prod/acme/api", "43", 1_700_000_050)
    store.close()

    written = json.loads(path.read_text())
    assert written["version"] == 2
    assert set(written["repos"]) == {"Tenant-A/GH-Prod/acme/api"}
    assert "unmigrated" not in written  # claimed, so written under its version-2 key only
    assert set(written["repos"]["Tenant-A/GH-Prod/acme/api"]["events"]["seen"]) == {"41", "42", "43"}


def test_every_job_that_shared_a_version_1_cursor_starts_from_a_copy(tmp_path: Path) -> None:
    """ABC and abc shared one cursor in version 1: both keep it (nothing sent twice), then part ways."""
    path = tmp_path / "state.json"
    write_v1(path, {"-/abc/acme/api": cursor("1")})
    store = FileStore(path).open()
    upper, lower = store.get("-/ABC/acme/api"), store.get("-/abc/acme/api")
    assert set(upper.events.seen) == set(lower.events.seen) == {"1"}
    store.record_event("-/ABC/acme/api", "2", 1_700_000_010)
    store.close()
    after = FileStore(path).load_readonly()
    assert set(after.get("-/ABC/acme/api").events.seen) == {"1", "2"}
    assert set(after.get("-/abc/acme/api").events.seen) == {"1"}  # new events of one are not skipped by the other


def test_unclaimed_version_1_entries_are_kept_for_later_runs(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_v1(path, {"-/one/acme/api": cursor("1"), "-/two/acme/web": cursor("2")})
    store = FileStore(path).open()
    store.get("-/One/acme/api")
    store.close()  # integration "two" was not polled this run (disabled, deadline, another shard)

    loaded = load_state(path)
    assert set(loaded.repos) == {"-/One/acme/api"}
    assert set(loaded.unmigrated) == {"-/two/acme/web"}
    later = FileStore(path).open()
    assert set(later.get("-/TWO/acme/web").events.seen) == {"2"}
    later.close()
    assert load_state(path).unmigrated == {}


def test_a_journal_left_by_a_crash_after_upgrade_builds_on_the_version_1_entry(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_v1(path, {"-/GH-Prod/acme/api": cursor("1", "2")})
    journal = path.with_name("state.json.journal")
    journal.write_text(json.dumps({"op": "event", "key": "-/GH-Prod/acme/api", "id": "3", "t": 1_700_000_020}) + "\n")
    store = FileStore(path).open()
    state = store.get("-/GH-Prod/acme/api")
    store.close()
    assert set(state.events.seen) == {"1", "2", "3"}
    assert state.events.floor == 1_700_000_000


def test_a_version_1_export_imports_as_unmigrated_entries() -> None:
    exported = {"version": 1, "repos": {"t/gh-prod/acme/api": cursor("9").model_dump(mode="json")}}
    state = StateFile.model_validate(exported)
    assert state.version == 2
    assert state.repos == {}
    assert set(state.unmigrated) == {"t/gh-prod/acme/api"}


def test_state_reset_of_one_repository_also_forgets_its_version_1_entry(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_v1(path, {"-/a/acme/api": cursor("1"), "-/a/acme/web": cursor("2")})
    reset_state(Settings(state_file=path), None, repo="Acme/API")
    assert set(read_state_file(path).unmigrated) == {"-/a/acme/web"}
