"""Private state files, refused symbolic links, and corrupt or unwritable state as one clear error."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from painchain_gh.cursor import Polled, RepoState
from painchain_gh.errors import StateError, UnstorableState
from painchain_gh.store.deadletter import DeadLetter, DeadLetterFile
from painchain_gh.store.file_store import FileStore, fold_journal, load_state, polled_from_text, read_state_file
from painchain_gh.store.files import FileLock, write_atomically
from painchain_gh.timeutil import format_time

KEY = "-/GH-Prod/acme/api"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def letter() -> DeadLetter:
    return DeadLetter(tenant_id="t", status=422, reason="bad", at="2026-11-30T00:00:00Z", body={"title": "private"})


def test_state_directory_is_0700_and_every_file_0600(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "state"
    path = directory / "state.json"
    store = FileStore(path).open()
    store.record_event(KEY, "1", 1_700_000_000)
    assert mode(directory) == 0o700
    assert mode(path.with_name("state.json.journal")) == 0o600
    assert mode(path.with_name("state.json.lock")) == 0o600
    store.close()
    assert mode(path) == 0o600
    DeadLetterFile(path.with_name("state.json.deadletter.jsonl")).append(letter())
    assert mode(path.with_name("state.json.deadletter.jsonl")) == 0o600
    assert sorted(entry.name for entry in directory.iterdir()) == [
        "state.json",
        "state.json.deadletter.jsonl",
        "state.json.lock",
    ]  # no temporary file left behind


def test_existing_companion_files_are_narrowed_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    for suffix in (".lock", ".journal"):
        path.with_name(path.name + suffix).write_text("")
        path.with_name(path.name + suffix).chmod(0o644)
    FileStore(path).open().close()
    assert mode(path.with_name("state.json.lock")) == 0o600


@pytest.mark.parametrize("suffix", [".lock", ".journal"])
def test_a_symlinked_lock_or_journal_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "state.json"
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path.with_name(path.name + suffix).symlink_to(victim)
    with pytest.raises(StateError, match="symbolic link"):
        FileStore(path).open()
    assert victim.read_text() == "precious\n"


def test_a_symlinked_dead_letter_file_is_refused_for_writing_and_reading(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("")
    link = tmp_path / "state.json.deadletter.jsonl"
    link.symlink_to(victim)
    letters = DeadLetterFile(link)
    with pytest.raises(StateError, match="symbolic link"):
        letters.append(letter())
    with pytest.raises(StateError, match="symbolic link"):
        letters.read()
    assert victim.read_text() == ""
    letters.rewrite([letter()])  # replaces the link itself, never writes through it
    assert victim.read_text() == ""
    assert not link.is_symlink()
    assert len(letters.read()) == 1


def test_a_symlinked_state_file_is_written_through_to_its_target(tmp_path: Path) -> None:
    target_dir = tmp_path / "real"
    target_dir.mkdir()
    target = target_dir / "state.json"
    target.write_text('{"version": 2, "repos": {}}')
    link = tmp_path / "state.json"
    link.symlink_to(target)
    store = FileStore(link).open()
    store.commit_repo(KEY, RepoState(last_polled_at=1_700_000_000))
    store.close()
    assert link.is_symlink()
    assert set(json.loads(target.read_text())["repos"]) == {KEY}
    assert mode(target) == 0o600


def test_temporary_files_are_private_and_never_follow_a_planted_link(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / f".state.json.{os.getpid()}.tmp").symlink_to(victim)  # the old fixed temporary name
    write_atomically(path, "{}\n")
    assert victim.read_text() == "precious\n"
    assert path.read_text() == "{}\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"version": 2, "repos": {"k": {"last_polled_at": 1}}}\xff\xfe', "not UTF-8"),
        (b'{"version": 2, "repos": {"k": ' + b"[" * 200_000 + b"}}", "painchain-gh can read"),
        (b'{"version": 2, "repos": {"k": {"last_polled_at": 1e999}}}', "last_polled_at"),
        (b'{"version": 2, "repos": {"k": {"last_polled_at": ' + b"9" * 5000 + b"}}}", "painchain-gh can read"),
        (b'{"version": 2, "repos": {"k": {"events": {"seen": {"1": 99999999999999}}}}}', "events.seen.1"),
        (b'{"version": 2, "repos": {"k": {"runs": {"runs": {"7": [-5, "1:queued"]}}}}}', "runs.runs.7"),
        (b'{"version": 2, "repos": {"k": {"deployments": {"floor": -1}}}}', "deployments.floor"),
        (b'{"version": 2, "repos": {"k": {"deployments": {"statuses": {"9": 1e300}}}}}', "deployments.statuses"),
        (b'{"version": 1e999, "repos": {}}', "version"),
        (b'{"version": 2, "repos": {}, "unmigrated": []}', "unmigrated"),
    ],
)
def test_a_corrupt_state_file_is_one_error_naming_it_and_is_left_untouched(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    for load in (load_state, read_state_file, lambda p: FileStore(p).open()):
        with pytest.raises(StateError, match=message) as caught:
            load(path)
        assert str(path) in str(caught.value)
        assert "\n" not in str(caught.value)
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    "line",
    [
        '{"op": "event", "key": "k", "id": "1", "t": 1e999}',
        '{"op": "event", "key": "k", "id": "1", "t": ' + "9" * 5000 + "}",
        '{"op": "event", "key": "k", "id": "1", "t": 99999999999999}',
        '{"op": "run", "key": "k", "id": "1", "t": 5, "s": 7}',
        '{"op": "event", "key": "k", "id": {"x": 1}, "t": 5}',
        '{"op": "repo", "key": "k", "state": ' + "[" * 200_000 + "}",
        '["op", "event"]',
        "\udcff",
    ],
)
def test_a_corrupt_journal_line_is_one_error_naming_the_journal(tmp_path: Path, line: str) -> None:
    journal = tmp_path / "state.json.journal"
    good = '{"op": "event", "key": "k", "id": "2", "t": 5}'
    journal.write_bytes((line + "\n" + good + "\n").encode("utf-8", "surrogateescape"))
    before = journal.read_bytes()
    with pytest.raises(StateError, match=r"journal .* (is corrupt at line 1|is not UTF-8)"):
        fold_journal({}, journal)
    assert journal.read_bytes() == before


def test_a_torn_last_journal_line_is_still_ignored(tmp_path: Path) -> None:
    journal = tmp_path / "state.json.journal"
    journal.write_text('{"op": "event", "key": "k", "id": "2", "t": 5}\n{"op": "event", "key": "k", "id": "3", "t')
    repos: dict[str, str] = {}
    assert fold_journal(repos, journal) == 1
    assert set(RepoState.model_validate_json(repos["k"]).events.seen) == {"2"}


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\n", b"[" * 200_000 + b"\n", b'{"tenant_id": 5, "status": 1, "reason": "", "at": "", "body": {}}\n'],
)
def test_a_corrupt_dead_letter_file_is_one_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json.deadletter.jsonl"
    path.write_bytes(content)
    with pytest.raises(StateError, match="dead-letter file"):
        DeadLetterFile(path).read()


def full_disk(*_args: Any, **_kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_leaves_the_state_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    store = FileStore(path).open()
    store.commit_repo(KEY, RepoState(last_polled_at=1_700_000_000))
    store.close()
    before = path.read_bytes()

    store = FileStore(path).open()
    store.commit_repo(KEY, RepoState(last_polled_at=1_700_000_999))
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StateError, match=r"cannot write state file .*No space left on device"):
        store.close()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir() if entry.name.endswith(".tmp")] == []
    assert FileStore(path).load_readonly().get(KEY).last_polled_at == 1_700_000_999  # the journal kept it


def test_a_full_disk_while_journaling_is_one_error_naming_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = FileStore(path).open()
    store._journal = open("/dev/full", "w", encoding="utf-8")  # noqa: SIM115 - closed by store.close()
    with pytest.raises(StateError, match=r"cannot write journal .*No space left on device"):
        store.record_event(KEY, "1", 1_700_000_000)
    store.close()  # the state file still gets everything acknowledged in memory
    assert set(read_state_file(path).repos[KEY].events.seen) == {"1"}


def test_a_lock_file_on_a_full_disk_still_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = FileLock(tmp_path / "state.json.lock", timeout=0)
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _FullFile(fd))
    lock.acquire()
    lock.release()


class _FullFile:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def seek(self, _offset: int) -> None:
        pass

    def truncate(self) -> None:
        pass

    def write(self, _text: str) -> None:
        full_disk()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        os.close(self.fd)


@pytest.mark.parametrize("value", [10**400, float("inf"), float("-inf"), float("nan"), -1, 1e300])
def test_format_time_of_any_value_does_not_raise(value: float) -> None:
    assert format_time(value) in {"9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"}


def test_the_poll_time_and_place_are_read_back_cheaply_from_the_stored_text(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = FileStore(path).open()
    store.commit_repo(KEY, RepoState(last_polled_at=1_700_000_000, poll_rank=41))
    store.commit_repo("-/GH-Prod/acme/old", RepoState(last_polled_at=1_700_000_000))  # written before ranks
    store.close()
    reopened = FileStore(path).open()
    assert reopened.polled(KEY) == Polled(1_700_000_000, 41)
    assert reopened.polled("-/GH-Prod/acme/old") == Polled(1_700_000_000, 0)
    assert reopened.polled("-/GH-Prod/acme/never") is None
    reopened.close()
    assert polled_from_text('{"last_polled_at":5,"poll_rank":null,"poll_interval":60}') == Polled(5, 0)
    assert polled_from_text('{"last_polled_at":5}') == Polled(5, 0)
    assert polled_from_text('{"last_polled_at":null}') is None


def test_a_place_out_of_range_is_not_stored(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state.json").open()
    with pytest.raises(UnstorableState, match="poll_rank"):
        store.commit_repo(KEY, RepoState(last_polled_at=1_700_000_000, poll_rank=10**12))
    store.close()
