"""Deployment statuses and container images in every store: journal records, owner-wide keys,
backend bounds, checks on untrusted cursors, and the per-kind request counts in the report."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from painchain_gh.cursor import ImagesCursor, RepoState
from painchain_gh.metrics import build_registry
from painchain_gh.output import log_summary, summary_fields
from painchain_gh.results import SyncReport
from painchain_gh.store.backend_store import split_key
from painchain_gh.store.base import ReadOnlyStore
from painchain_gh.store.checks import CursorError, parse_repo_state
from painchain_gh.store.cursor_codec import DEPLOYMENTS_BOUND, IMAGES_BOUND, STATUSES_BOUND, slim
from painchain_gh.store.file_store import FileStore, read_state_file

REPO_KEY = "tenant-a/clx1/acme/api"
OWNER_KEY = "tenant-a/clx1/acme/*"
T0 = 1_800_000_000


def test_acknowledged_items_survive_a_kill_and_fold_into_their_entries(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = FileStore(path).open()
    store.record_item(REPO_KEY, "deployments", "501", T0)
    store.record_item(OWNER_KEY, "images", "9001", T0 + 1)
    assert store.get(REPO_KEY).deployments.statuses == {"501": T0}
    # no close(): the process was killed; the next run folds the journal
    store._lock.release()

    reopened = FileStore(path).open()
    assert reopened.get(REPO_KEY).deployments.statuses == {"501": T0}
    images = reopened.get(OWNER_KEY).images
    assert images is not None and images.versions == {"9001": T0 + 1}
    reopened.close()
    assert set(read_state_file(path).repos) == {REPO_KEY, OWNER_KEY}


def test_an_unknown_item_stream_is_refused(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state.json").open()
    with pytest.raises(KeyError):
        store.record_item(REPO_KEY, "secrets", "1", T0)
    store.close()


def test_a_dry_run_records_nothing(tmp_path: Path) -> None:
    inner = FileStore(tmp_path / "state.json").open()
    ReadOnlyStore(inner).record_item(REPO_KEY, "deployments", "1", T0)
    assert inner.get(REPO_KEY).deployments.statuses == {}
    inner.close()


def test_backend_keys_take_the_owner_wide_entry() -> None:
    assert split_key(OWNER_KEY) == ("clx1", "acme/*")
    assert split_key("-/ID/Acme/API") == ("ID", "acme/api")


def test_backend_cursor_keeps_deployments_and_images_within_bounds() -> None:
    state = RepoState(last_polled_at=T0 + 1000)  # every entry is recent: only the bounds apply
    state.deployments.statuses = {str(n): T0 + n for n in range(STATUSES_BOUND + 10)}
    state.deployments.deployments = {str(n): (T0 + n, "x") for n in range(DEPLOYMENTS_BOUND + 5)}
    state.deployments.etag = 'W/"d"'
    state.images = ImagesCursor(versions={str(n): T0 + n for n in range(IMAGES_BOUND + 3)}, owner_kind="orgs")

    kept = slim(state)

    assert len(kept.deployments.statuses) == STATUSES_BOUND and "0" not in kept.deployments.statuses
    assert len(kept.deployments.deployments) == DEPLOYMENTS_BOUND
    assert kept.deployments.floor is not None and kept.deployments.floor >= T0 + 9
    assert kept.deployments.etag == 'W/"d"'
    assert kept.images is not None and len(kept.images.versions) == IMAGES_BOUND
    assert kept.images.owner_kind == "orgs" and kept.images.floor == T0 + 2
    assert slim(RepoState()).images is None


@pytest.mark.parametrize(
    ("images", "where"),
    [
        ({"versions": {"1": -5}}, "images.versions.1"),
        ({"versions": {"x" * 101: T0}}, "images.versions"),
        ({"owner_kind": "teams"}, "images.owner_kind"),
        ({"packages": {"": "2026-01-01T00:00:00Z"}}, "images.packages"),
    ],
)
def test_untrusted_image_cursors_are_refused(images: dict[str, object], where: str) -> None:
    with pytest.raises(CursorError, match=where.replace(".", r"\.")):
        parse_repo_state({"images": images})


def test_an_unsafe_images_etag_is_dropped() -> None:
    state = parse_repo_state({"images": {"etag": "bad\nheader", "etag_owner": "fp"}})
    assert state.images is not None and state.images.etag is None


def test_extra_requests_by_kind_reach_the_summary_and_the_metrics(caplog: pytest.LogCaptureFixture) -> None:
    report = SyncReport(requests_by_kind={"pull_list": 2, "compare": 1}, details_missing={"compare": 1})

    assert summary_fields(report)["github_requests_by_kind"] == {"compare": 1, "pull_list": 2}
    with caplog.at_level(logging.INFO, logger="painchain_gh"):
        log_summary(report)
    assert "extra requests: compare 1, pull_list 2" in caplog.records[-1].getMessage()
    assert "1 lookups failed" in caplog.records[-1].getMessage()
    registry = build_registry(report, last_success=None)
    assert registry.get_sample_value("painchain_gh_last_run_github_requests_by_kind", {"kind": "pull_list"}) == 2
    assert registry.get_sample_value("painchain_gh_last_run_details_missing", {"kind": "compare"}) == 1
