"""Failure mode 6: broken input: hostile integrations, odd GitHub payloads, unreadable state files."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Connector
from tests.e2e.faults_support import KEY, add_integration, error_lines, seed_issues
from tests.fakes.github import issues_event, pull_request_event, push_event, release_event, review_event, watch_event

WELL_FORMED_PATH = re.compile(r"^/repos/[A-Za-z0-9-]+/[A-Za-z0-9._-]+/(events|actions/runs|deployments|pulls/\d+)$")


SKIP_REASONS = {
    "no-token": "token: missing; fill in a GitHub token (for a GitHub App, use the GitHub App connector)",
    "repos-string": 'repositories must be a list, e.g. ["acme/api", "acme/web"]',
    "tags-string": 'tags must be a list, e.g. ["backend", "team-a"]',
    "config-null": "config must be an object",
    "repos-null": "repositories: none given; list them",
    "empty-repos": "repositories: none given; list them",
    "../../etc": "id must be 1-200 letters, digits",
}


def raw_integration(id: str, config: Any, **row: Any) -> dict[str, Any]:
    """A GitHub integration row exactly as given (no defaults filled into ``config``)."""
    return {
        "id": id,
        "tenantId": None,
        "type": "github",
        "name": f"Broken {id}",
        "status": "active",
        **row,
        "config": config,
    }


def test_broken_integrations_are_skipped_with_a_clear_error_and_the_others_go_on(connector: Connector) -> None:
    """Missing token, wrong types, hostile repository names, unknown fields, duplicates: each named, none fatal."""
    backend, github = connector.backend, connector.github
    good = seed_issues(github, count=2)
    extra = seed_issues(github, "acme/extra", count=1)
    dup = seed_issues(github, "acme/dup", count=1)
    backend.dedupe = False
    token = "ghp_test_token"
    backend.add_integration(id="no-token", name="Broken no-token", token=None)
    backend.add_integration(id="repos-string", name="Broken repos-string", repositories=5)
    backend.add_integration(id="tags-string", name="Broken tags-string", tags=7)
    backend.add_raw_integration(raw_integration("config-null", None))
    backend.add_raw_integration(raw_integration("repos-null", {"token": token, "repositories": None}))
    backend.add_raw_integration(raw_integration("../../etc", {"token": token, "repositories": []}))
    backend.add_raw_integration(raw_integration("empty-repos", {"token": token, "repositories": []}))
    hostile = [
        {"owner": "..", "repo": "x"},
        {"owner": "acme", "repo": ".."},
        {"owner": "a", "repo": "b/c"},
        {"owner": "a/b", "repo": "c"},
        {"owner": "", "repo": ""},
        {"owner": "acme", "repo": "x" * 300},
        {"owner": "acme"},
        "acme/api-gateway/x",
        None,
        {"owner": "acme", "repo": "extra", "color": "red"},  # unknown fields are ignored
    ]
    backend.add_integration(id="hostile", repositories=hostile, extra_config={"unknown": {"nested": True}})
    duplicates = [{"owner": "acme", "repo": "dup"}, {"owner": "ACME", "repo": "Dup", "tags": ["x"]}]
    backend.add_integration(id="dups", repositories=[*duplicates, {"owner": "acme", "repo": "dup"}])
    backend.add_raw_integration({"id": "not-github", "type": "gitlab", "config": None})
    main = add_integration(connector, tenant_id=None)
    main["surprise"] = {"unknown": "top-level field"}
    # the same row listed twice, and rows that are not objects (served once: the fake keeps only objects)
    backend.fail_next("GET", "/integrations$", 200, body=[*backend.integrations, main, "not an object", None, 42])

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 3
    assert "Traceback" not in run.stderr
    skipped = "\n".join(error_lines(run))
    for bad, reason in SKIP_REASONS.items():
        assert f"integration {bad} (Broken {bad}) skipped: {reason}" in skipped, bad
    assert f"{len(hostile) - 1} of {len(hostile)} repositories skipped: " in skipped
    assert "integration clx1 (Integration clx1) skipped: listed more than once" in skipped
    assert "not-github" not in run.stderr
    # exactly once each: duplicates polled once; acme/extra is the valid entry of "hostile"
    assert sorted(backend.external_ids()) == sorted(good + extra + dup)
    assert all(WELL_FORMED_PATH.match(request.path) for request in github.requests), [r.path for r in github.requests]
    assert len(github.requests_to("GET", "/repos/acme/dup/events$")) == 1
    assert backend.events_for("dups")[0].body["data"]["tags"] == ["team", "x"]


def test_odd_github_payloads_are_skipped_or_forwarded_with_author_and_url(connector: Connector) -> None:
    """Null or missing fields, wrong types, unknown types, non-objects: no crash; each event has author and url."""
    github = connector.github

    def add(event: dict[str, Any]) -> dict[str, Any]:
        return github.add_event("acme", "api-gateway", event)

    forwarded = [
        add(issues_event()),
        add({**issues_event(), "payload": None}),
        add({**push_event(), "actor": None, "payload": {"ref": None}}),
        add({**pull_request_event("opened", 5), "payload": {"action": "opened", "number": "x", "pull_request": None}}),
        add(pull_request_event("merged", 999)),  # the pull request is gone: GET /pulls/999 answers 404
        add({**release_event(), "payload": {"action": "published", "release": []}}),
        add({**review_event(3), "payload": {"review": None, "pull_request": {"number": 3}}}),
    ]
    ignored = [
        add(watch_event()),
        add({**issues_event(), "type": "SponsorshipEvent"}),
        add({**issues_event(), "type": None}),
        add({**issues_event(), "id": None}),
        add({**issues_event(), "created_at": None}),
        add({**issues_event(), "created_at": "yesterday"}),
        add({**pull_request_event("labeled", 5)}),
    ]
    not_objects: list[Any] = [None, 42, "event", []]
    github.repo("acme", "api-gateway").events[0:0] = not_objects
    odd_run = github.add_run("acme", "api-gateway", {"name": None, "status": None, "actor": None, "html_url": None})
    github.add_run("acme", "api-gateway", {"id": "not-a-number"})
    github.add_run("acme", "api-gateway", {"created_at": None})
    add_integration(connector)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(
        [f"github-event-{event['id']}" for event in forwarded if event.get("id")]
        + [f"github-run-{odd_run['id']}-1-unknown"]
    )
    for stored in connector.backend.events:
        data = stored.body["data"]
        assert isinstance(data["author"], str) and data["author"]
        assert isinstance(data["url"], str) and data["url"].startswith("http")
    assert run.summary()["forwarded"] == len(forwarded) + 1
    assert len(ignored) == 7


STATE_FILES = {
    "corrupt": b"{this is not json",
    "truncated": b'{"version": 1, "repos": {"tenant-a/clx1/acme/api-gateway": {"last_polled_at": 17',
    "empty": b"",
    "future version": b'{"version": 99, "repos": {}}',
    "wrong shape": b'{"version": 1, "repos": {"k": {"events": "nope"}}}',
}


@pytest.mark.parametrize("kind", list(STATE_FILES))
def test_unreadable_state_file_exits_6_naming_it_and_leaves_it_untouched(connector: Connector, kind: str) -> None:
    """Corrupt, truncated, empty, future-version or invalid state: exit 6, one line naming the path, no change."""
    seed_issues(connector.github, count=1)
    add_integration(connector)
    connector.state_dir.mkdir(parents=True)
    connector.state_file.write_bytes(STATE_FILES[kind])

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 6
    assert "Traceback" not in run.stderr
    assert len(error_lines(run)) == 1
    assert str(connector.state_file) in error_lines(run)[0]
    assert connector.state_file.read_bytes() == STATE_FILES[kind]
    assert connector.backend.event_posts == 0
    assert sorted(p.name for p in connector.state_dir.iterdir()) == ["state.json", "state.json.lock"]


def test_corrupt_journal_exits_6_naming_it(connector: Connector) -> None:
    """A journal corrupt before its last line (not a torn write): exit 6 naming the journal, nothing changed."""
    add_integration(connector)
    connector.state_dir.mkdir(parents=True)
    journal = connector.state_dir / "state.json.journal"
    journal.write_text('garbage\n{"op":"event","key":"k","id":"1","t":1}\n')

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 6
    assert f"journal {journal} is corrupt at line 1" in error_lines(run)[0]
    assert journal.read_text().startswith("garbage")
    assert not connector.state_file.exists()


def test_state_reset_moves_an_unreadable_state_aside_and_sync_starts_over(connector: Connector) -> None:
    """``state reset --yes`` on a corrupt state file: it is kept aside, and the next sync starts over."""
    expected = seed_issues(connector.github, count=2)
    add_integration(connector)
    connector.state_dir.mkdir(parents=True)
    connector.state_file.write_bytes(STATE_FILES["truncated"])

    reset = connector.run("state", "reset", "--yes", "--log-format", "text")

    assert reset.returncode == 0, reset.stderr
    aside = list(connector.state_dir.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == STATE_FILES["truncated"]
    run = connector.run("sync")
    assert run.returncode == 0, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    assert KEY in connector.state_file.read_text()
