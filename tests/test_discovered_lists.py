"""The discovered lists ``plan`` reads from a state: a file, the shards' files beside it, or the backend's
``config.cursor``; what cannot be read is a reason, never an exception, and nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from painchain_gh.cursor import RepoState
from painchain_gh.discovery.cache import CachedPage, DiscoveryCache, SourceCache
from painchain_gh.discovery.stored import FileLists, backend_lists, lists_reader, shard_files
from painchain_gh.discovery.tasks import discovery_key
from painchain_gh.models import Integration
from painchain_gh.store.cursor_codec import encode
from painchain_gh.store.file_store import FileStore
from tests.doubles import API, TOKEN

LISTED = DiscoveryCache(
    sources={
        "owner:acme": SourceCache(
            api_url=API,
            pages=(CachedPage(url=f"{API}/orgs/acme/repos?per_page=100", repositories=("acme/api", "acme/web")),),
        )
    }
)


def wildcard(identifier: str = "org", cursor: Any = None) -> Integration:
    config: dict[str, Any] = {"token": TOKEN, "repositories": ["acme/*"]}
    if cursor is not None:
        config["cursor"] = cursor
    return Integration.model_validate({"id": identifier, "tenantId": "t1", "type": "github", "config": config})


def store_cache(path: Path, integration: Integration) -> None:
    store = FileStore(path).open()
    store.commit_repo(discovery_key(integration), RepoState(discovery=LISTED))
    store.close()


def test_a_state_file_gives_the_list_and_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store_cache(path, wildcard())
    before = {item.name: item.read_bytes() for item in tmp_path.iterdir()}
    assert FileLists(path)(wildcard()) == LISTED
    assert FileLists(path)(wildcard("other")) is None  # never listed
    assert {item.name: item.read_bytes() for item in tmp_path.iterdir()} == before


def test_a_missing_state_file_means_never_listed(tmp_path: Path) -> None:
    assert FileLists(tmp_path / "nowhere" / "state.json")(wildcard()) is None


def test_the_shards_files_beside_it_are_read_too(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    shard = tmp_path / "state.shard-1-of-2.json"
    store_cache(shard, wildcard())
    (tmp_path / "other.shard-0-of-2.json").write_text("{")
    assert shard_files(path) == [shard]
    assert FileLists(path)(wildcard()) == LISTED


def test_an_unreadable_state_is_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 2, "repos": [')
    reason = FileLists(path)(wildcard())
    assert isinstance(reason, str) and reason.startswith("the state cannot be read (state file")
    store_cache(tmp_path / "state.shard-0-of-2.json", wildcard())
    assert FileLists(path)(wildcard()) == LISTED  # a shard's file still knows it


def test_the_backend_cursor_gives_the_list() -> None:
    cursor = encode({"*/*": RepoState(discovery=LISTED)}, budget=100_000).cursor
    assert backend_lists(wildcard(cursor=cursor)) == LISTED
    assert backend_lists(wildcard()) is None
    reason = backend_lists(wildcard(cursor={"version": 99}))
    assert isinstance(reason, str) and "newer than this painchain-gh understands" in reason
    assert lists_reader("backend", Path("unused")) is backend_lists
    assert isinstance(lists_reader("file", Path("state.json")), FileLists)
