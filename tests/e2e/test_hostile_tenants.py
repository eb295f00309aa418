"""A hostile tenant's integration (odd bytes in its token, tenant id, id or name) never stops another
tenant, in ``sync`` or in ``check``; nothing raw reaches the terminal and no secret is printed."""

from __future__ import annotations

import re

from tests.e2e.conftest import Connector, Run
from tests.e2e.faults_support import add_integration, seed_issues
from tests.fakes.github import issues_event, utc_iso

RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u2028\u2029]")  # newline (\x0a) ends a line: allowed
GOOD_TOKEN = "ghp_test_token"
HOSTILE_TOKENS = ["ghp_zero\u200bwidth_space_token", "ghp_\u201csmart\u201d_quotes_token"]
BACKEND_SECRET = "backend_secret_canary_7f3a"


def add_hostile_tenants(connector: Connector) -> None:
    """Four integrations a careless or hostile tenant could write, next to the good one."""
    backend = connector.backend
    for number, token in enumerate(HOSTILE_TOKENS):
        backend.add_integration(id=f"bad-token-{number}", tenant_id="tenant-b", name="Pasted token", token=token)
    backend.add_integration(id="bad-tenant", tenant_id="t\u00e9nant\r\nX-Evil: 1", name="Odd tenant")
    backend.add_integration(id="bad\x1b]0;owned\x07id", tenant_id="tenant-c", name="\x1b[2J\x1b[31mred\rforged")
    backend.add_integration(id="..", tenant_id="tenant-d", name="dot dot")


def assert_clean(run: Run) -> None:
    """No traceback, no raw control character, no secret in any output."""
    output = run.stdout + run.stderr
    assert "Traceback" not in output
    assert not RAW_CONTROL.search(output), RAW_CONTROL.findall(output)
    for secret in [*HOSTILE_TOKENS, BACKEND_SECRET]:
        assert secret not in output


def test_hostile_tenants_are_skipped_and_the_good_one_is_synced(connector: Connector) -> None:
    expected = seed_issues(connector.github, count=3)
    add_integration(connector)
    add_hostile_tenants(connector)

    run = connector.run("sync", "--log-format", "text")

    assert_clean(run)
    assert run.returncode == 3, run.stderr
    assert connector.backend.external_ids() == expected
    assert {event.tenant for event in connector.backend.events} == {"tenant-a"}
    skipped = [line for line in run.stderr.splitlines() if "skipped" in line]
    assert len(skipped) == 5, run.stderr
    assert all(line.startswith("ERROR integration ") for line in skipped)
    assert "\\x1b" in run.stderr  # escaped, visible, harmless


def test_check_reports_hostile_tenants_and_checks_the_good_one(connector: Connector) -> None:
    seed_issues(connector.github, count=1)
    add_integration(connector)
    add_hostile_tenants(connector)

    run = connector.run("check")

    assert_clean(run)
    assert run.returncode == 3, run.stdout
    assert re.search(r"^ok\s+acme/api-gateway \[clx1\]", run.stdout, re.MULTILINE), run.stdout


def test_check_never_prints_a_backend_token_echoed_in_an_error(connector: Connector) -> None:
    connector.backend.fail_next("GET", "/integrations$", 500, count=10, body={"message": f"bad {BACKEND_SECRET}"})

    run = connector.run("check", env={"BACKEND_API_TOKEN": BACKEND_SECRET})

    assert_clean(run)
    assert run.returncode == 4, run.stdout


def test_check_never_prints_a_token_github_echoes(connector: Connector) -> None:
    add_integration(connector)
    echo = f"\x1b[31m{GOOD_TOKEN}\r\n"
    connector.github.fail_next(
        "GET", "/user$", 403, headers={"X-GitHub-Request-Id": GOOD_TOKEN}, body={"message": echo}
    )
    connector.github.fail_next("GET", "/repos/acme/api-gateway$", 404, body={"message": echo * 20})

    run = connector.run("check")

    assert "Traceback" not in run.stdout + run.stderr
    assert GOOD_TOKEN not in run.stdout + run.stderr
    assert not RAW_CONTROL.search(run.stdout + run.stderr)
    assert run.returncode == 3


def test_dry_run_survives_a_lone_surrogate_in_a_title(connector: Connector) -> None:
    connector.github.add_event(
        "acme", "api-gateway", {**issues_event("opened", 1, "broken \ud800 title"), "created_at": utc_iso()}
    )

    run = connector.run("sync", "--dry-run", "--repo", "acme/api-gateway")

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    [event] = run.printed_events
    assert event["title"].startswith("Issue opened: broken ")
