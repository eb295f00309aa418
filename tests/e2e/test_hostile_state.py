"""State that tenants' data or a hostile directory could break, with the real process.

Ids that differ only by case, a version-1 state file after an upgrade, unusable cursors in one
integration, an id ``..``, corrupt state and journal files, symbolic links planted beside the
state, and file permissions.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from painchain_gh.github.client import token_fingerprint
from tests.doubles import cursor_repos
from tests.e2e.conftest import Connector
from tests.e2e.faults_support import add_integration, error_lines, seed_issues, state_json
from tests.fakes import FakeGitHub

BACKEND_STATE = {"PAINCHAIN_GH_STATE": "backend"}
TOKEN = "ghp_test_token"


def external_ids_of(connector: Connector, integration_id: str) -> list[str]:
    return sorted(str(event.body["externalId"]) for event in connector.backend.events_for(integration_id))


def as_version_1(connector: Connector) -> None:
    """Rewrite the state file as painchain-gh with format version 1 wrote it: whole keys in lower case."""
    state = state_json(connector)
    repos = {key.lower(): value for key, value in state["repos"].items()}
    connector.state_file.write_text(json.dumps({"version": 1, "repos": repos}), encoding="utf-8")


def test_after_an_upgrade_from_version_1_nothing_is_sent_twice_and_nothing_skipped(connector: Connector) -> None:
    connector.backend.dedupe = False  # the old backend generation: a re-send would be a second row
    old = seed_issues(connector.github, count=3)
    add_integration(connector, id="GH-Prod", tenant_id="Tenant-A")
    assert connector.run("sync").returncode == 0
    assert sorted(connector.backend.external_ids()) == sorted(old)
    as_version_1(connector)
    assert set(state_json(connector)["repos"]) == {"tenant-a/gh-prod/acme/api-gateway"}

    new = seed_issues(connector.github, count=2)
    posts_before = connector.backend.event_posts
    upgraded = connector.run("sync")

    assert upgraded.returncode == 0, upgraded.stderr
    assert connector.backend.event_posts - posts_before == 2  # only the new events
    assert sorted(connector.backend.external_ids()) == sorted(old + new)  # each exactly once
    written = state_json(connector)
    assert written["version"] == 2
    assert set(written["repos"]) == {"Tenant-A/GH-Prod/acme/api-gateway"}
    assert "unmigrated" not in written
    again = connector.run("sync")
    assert again.returncode == 0 and again.summary()["forwarded"] == 0


def test_integrations_differing_only_by_case_each_forward_their_events(connector: Connector) -> None:
    ids = seed_issues(connector.github, count=2)
    add_integration(connector, id="ABC")
    add_integration(connector, id="abc")
    run = connector.run("sync")
    assert run.returncode == 0, run.stderr
    assert external_ids_of(connector, "ABC") == sorted(ids)
    assert external_ids_of(connector, "abc") == sorted(ids)  # before: skipped, the cursor was shared
    assert set(state_json(connector)["repos"]) == {"tenant-a/ABC/acme/api-gateway", "tenant-a/abc/acme/api-gateway"}


def test_backend_cursor_of_an_id_with_capitals_is_saved_and_its_twin_untouched(connector: Connector) -> None:
    connector.backend.dedupe = False
    seed_issues(connector.github, count=2)
    add_integration(connector, id="GH-Prod")
    twin = add_integration(connector, id="gh-prod", repos=["acme/billing"])
    connector.github.add_repo("acme", "billing")
    twin_cursor = {"version": 2, "repos": {"acme/billing": {"events": {"floor": 1_700_000_000}}}}
    twin["config"]["cursor"] = json.loads(json.dumps(twin_cursor))

    first = connector.run("sync", env=BACKEND_STATE)
    assert first.returncode == 0, first.stderr
    posts = connector.backend.event_posts
    second = connector.run("sync", env=BACKEND_STATE)

    assert second.returncode == 0, second.stderr
    assert connector.backend.event_posts == posts  # before: every run re-sent everything, exit 0
    cursor = connector.backend.integration("GH-Prod")["config"]["cursor"]  # type: ignore[index]
    assert cursor["version"] == 3 and set(cursor_repos(cursor)) == {"acme/api-gateway"}
    twin_written = connector.backend.integration("gh-prod")["config"]["cursor"]  # type: ignore[index]
    assert cursor_repos(twin_written).keys() == {"acme/billing"}


@pytest.mark.parametrize(
    ("cursor", "problem"),
    [
        (
            {"version": 99, "repos": {}},
            "config.cursor has format version 99, newer than this painchain-gh understands (3); upgrade painchain-gh",
        ),
        ("not a cursor", "config.cursor is not an object"),
        ({"version": 2, "repos": []}, "config.cursor has no repos object"),
        ({"version": 3, "encoding": "zlib+base64", "data": "bm90IHpsaWI="}, "config.cursor data is not readable"),
        ({"version": 3, "encoding": "gzip", "data": ""}, "config.cursor version 3 has no data in a known encoding"),
    ],
)
def test_one_unusable_backend_cursor_skips_that_integration_alone(
    connector: Connector, cursor: Any, problem: str
) -> None:
    ids = seed_issues(connector.github, count=2)
    add_integration(connector, id="good")
    broken = add_integration(connector, id="broken")
    broken["config"]["cursor"] = cursor

    run = connector.run("sync", "--log-format", "text", env=BACKEND_STATE)

    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr
    assert [line for line in error_lines(run) if "config.cursor" in line] == [
        f"ERROR integration broken (Integration broken): {problem}; its repositories are skipped"
    ]
    assert external_ids_of(connector, "good") == sorted(ids)
    assert external_ids_of(connector, "broken") == []
    assert connector.backend.integration("broken")["config"]["cursor"] == cursor  # type: ignore[index]
    assert [put_id for put_id, body in connector.backend.puts if "config" in body] == ["good"]


def test_a_backend_cursor_with_a_non_ascii_etag_drops_the_etag(connector: Connector) -> None:
    ids = seed_issues(connector.github, count=2)
    integration = add_integration(connector, id="clx1")
    owner = token_fingerprint(SecretStr(TOKEN))
    integration["config"]["cursor"] = {
        "version": 2,
        "repos": {"acme/api-gateway": {"events": {"etag": 'W/"caf\u00e9\u20ac"', "etag_owner": owner}}},
    }
    run = connector.run("sync", env=BACKEND_STATE)
    assert run.returncode == 0, run.stderr  # before: a traceback
    assert sorted(connector.backend.external_ids()) == sorted(ids)
    sent = [request.headers.get("if-none-match") for request in connector.github.requests_to("GET", "/events")]
    assert sent and all(value is None for value in sent)


def test_an_id_dot_dot_is_never_a_url_path(connector: Connector) -> None:
    ids = seed_issues(connector.github, count=1)
    add_integration(connector, id="..")
    add_integration(connector, id="good")

    run = connector.run("sync", "--log-format", "text", env=BACKEND_STATE)

    assert run.returncode in {2, 3}, run.stderr
    assert "Traceback" not in run.stderr
    assert connector.backend.requests_to("*", r"^/api/?$") == []  # before: PUT /api/ with the config and token
    assert {put_id for put_id, _ in connector.backend.puts} == {"good"}
    assert external_ids_of(connector, "good") == ids


def full_journal(connector: Connector) -> bytes:
    good = json.dumps({"op": "event", "key": "tenant-a/clx1/acme/api-gateway", "id": "2", "t": 1_700_000_000})
    return b'{"op": "event", "key": "tenant-a/clx1/acme/api-gateway", "id": "1", "t": 1e999}\n' + good.encode() + b"\n"


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("state.json", b'{"version": 2, "repos": {}}\xff\n', "is not UTF-8 text"),
        ("state.json", b'{"version": 2, "repos": {"k": ' + b"[" * 200_000 + b"}}", "is not a JSON object"),
        ("state.json", b'{"version": 2, "repos": {"k": {"last_polled_at": 1e999}}}', "is invalid at repos.k"),
        ("state.json.journal", b"", "is corrupt at line 1"),
    ],
)
def test_corrupt_state_is_exit_6_with_one_line_and_left_untouched(
    connector: Connector, name: str, content: bytes, problem: str
) -> None:
    seed_issues(connector.github, count=1)
    add_integration(connector)
    connector.state_dir.mkdir(parents=True)
    path = connector.state_dir / name
    path.write_bytes(content or full_journal(connector))
    before = path.read_bytes()

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 6, run.stderr
    assert "Traceback" not in run.stderr
    (line,) = error_lines(run)
    assert str(path) in line and problem in line
    assert path.read_bytes() == before
    assert connector.backend.event_posts == 0
    shown = connector.run("state", "show")
    assert shown.returncode == 6 and "Traceback" not in shown.stderr and str(path) in shown.stderr


def test_a_corrupt_dead_letter_file_is_one_line(connector: Connector) -> None:
    connector.state_dir.mkdir(parents=True)
    (connector.state_dir / "state.json.deadletter.jsonl").write_bytes(b"[" * 200_000 + b"\n")
    run = connector.run("deadletter", "list")
    assert run.returncode == 6 and "Traceback" not in run.stderr
    assert "dead-letter file" in run.stderr and "corrupt at line 1" in run.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_state_directory_and_files_are_private(connector: Connector) -> None:
    ids = seed_issues(connector.github, count=2)
    connector.backend.reject_external_ids = {ids[0]}  # a dead letter holds a full event body
    add_integration(connector)
    run = connector.run("sync")
    assert run.returncode == 3, run.stderr
    assert mode(connector.state_dir) == 0o700
    names = sorted(entry.name for entry in connector.state_dir.iterdir())
    assert names == ["state.json", "state.json.deadletter.jsonl", "state.json.lock"]
    assert {name: mode(connector.state_dir / name) for name in names} == dict.fromkeys(names, 0o600)


@pytest.mark.parametrize("suffix", [".lock", ".journal", ".deadletter.jsonl"])
def test_a_symbolic_link_planted_beside_the_state_is_refused(connector: Connector, tmp_path: Path, suffix: str) -> None:
    ids = seed_issues(connector.github, count=2)
    if suffix == ".deadletter.jsonl":
        connector.backend.reject_external_ids = {ids[0]}
    add_integration(connector)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    connector.state_dir.mkdir(parents=True)
    (connector.state_dir / f"state.json{suffix}").symlink_to(victim)

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 6, run.stderr
    assert "Traceback" not in run.stderr
    assert any("is a symbolic link, which is refused" in line for line in error_lines(run))
    assert victim.read_text() == "precious\n"


def test_a_symlinked_state_file_is_written_through(connector: Connector, tmp_path: Path) -> None:
    seed_issues(connector.github, count=1)
    add_integration(connector)
    target = tmp_path / "elsewhere" / "state.json"
    target.parent.mkdir()
    connector.state_dir.mkdir(parents=True)
    connector.state_file.symlink_to(target)
    assert connector.run("sync").returncode == 0
    assert connector.state_file.is_symlink()
    assert set(json.loads(target.read_text())["repos"]) == {"tenant-a/clx1/acme/api-gateway"}


def test_a_bare_allowed_host_does_not_allow_plain_http(connector: Connector) -> None:
    seed_issues(connector.github, count=1)
    with FakeGitHub() as other:
        other.poll_interval = 0
        other.add_token("ghp_enterprise_token")
        add_integration(connector, id="ghes", token="ghp_enterprise_token", api_url=other.ghes_url)
        bare = connector.run("sync", "--allow-api-host", f"127.0.0.1:{other.port}", "--log-format", "text")
        assert bare.returncode == 3
        assert error_lines(bare) == [
            f"ERROR integration ghes (Integration ghes) skipped: apiUrl origin http://127.0.0.1:{other.port} "
            "is not allowed (add it with --allow-api-host)"
        ]
        no_port = connector.run("sync", "--allow-api-host", "http://127.0.0.1")
        assert no_port.returncode == 2 and "plain http must name its port" in no_port.stderr
        assert other.requests == []
