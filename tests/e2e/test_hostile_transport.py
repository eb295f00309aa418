"""Hostile servers against the real process: one odd reply never crashes the run, hangs it, or leaks a secret.

Each test runs one integration against a hostile server (raw sockets, ``tests/fakes/hostile.py``, or
a fault injected into the fakes) and another one against the well-behaved fake GitHub, and checks:
no traceback, the documented exit code, the other integration's events all forwarded, and no
secret and no raw control character in anything printed.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator

import pytest

from tests.e2e.command import painchain_gh_command
from tests.e2e.conftest import Connector, Run
from tests.e2e.faults_support import add_integration, seed_issues, state_json, wait_until
from tests.fakes.github import utc_iso
from tests.fakes.hostile import MB, HostileServer, answer, flood, trickle

TOKEN = "ghp_hostile_canary_token_0123456789"
OTHER_TOKEN = "ghp_other_canary_token_0123456789"
BACKEND_TOKEN = "pcb_hostileCANARY0123456789"
CANARIES = (TOKEN, OTHER_TOKEN, BACKEND_TOKEN)
SECONDARY_LIMIT = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A hostile GitHub for one integration (routes are set by each test)."""
    with HostileServer() as server:
        yield server
        assert not server.errors, server.errors


def two_integrations(connector: Connector, hostile_repos: Iterable[str], *, api_url: str | None = None) -> list[str]:
    """``evil`` (TOKEN, on ``api_url``; only if it has repositories) and ``good`` (OTHER_TOKEN, on the
    fake GitHub, 3 issues seeded); returns the externalIds of ``good``."""
    connector.github.add_token(TOKEN)
    connector.github.add_token(OTHER_TOKEN)
    connector.env["BACKEND_API_TOKEN"] = BACKEND_TOKEN
    expected = seed_issues(connector.github, "acme/good", count=3)
    extra = {"api_url": api_url} if api_url else {}
    if hostile_repos:
        add_integration(connector, id="evil", tenant_id="tenant-a", token=TOKEN, repos=list(hostile_repos), **extra)
    add_integration(connector, id="good", tenant_id="tenant-b", token=OTHER_TOKEN, repos=["acme/good"])
    return expected


def assert_clean(*runs: Run) -> None:
    """No traceback, no secret (nor an 8-character piece of one), no raw control character."""
    for run in runs:
        for name, text in (("stdout", run.stdout), ("stderr", run.stderr)):
            assert "Traceback" not in text, f"{name}:\n{text}"
            assert "\x1b" not in text and "\r" not in text and "\x07" not in text and "\u2028" not in text, text
            for secret in CANARIES:
                pieces = [secret[i : i + 8] for i in range(len(secret) - 7)]
                assert not any(piece in text for piece in pieces), f"a piece of a secret in {name}:\n{text}"


def warnings_about(run: Run, repository: str) -> list[str]:
    return [line for line in run.stderr.splitlines() if repository in line]


def test_a_trickling_github_cannot_keep_the_run_past_max_runtime(connector: Connector, hostile: HostileServer) -> None:
    """Headers, then one byte every 2 s: the run still ends soon after --max-runtime 5s (exit 3), lock released."""
    hostile.routes["/events$"] = trickle(every=2.0)
    expected = two_integrations(connector, ["acme/slow"], api_url=hostile.url)

    started = time.monotonic()
    run = connector.run("sync", "--max-runtime", "5s", "--allow-api-host", hostile.url, "--log-format", "text")
    elapsed = time.monotonic() - started

    assert run.returncode == 3, run.stderr
    assert elapsed < 10, elapsed
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    [line] = [line for line in warnings_about(run, "acme/slow [evil]") if "deferred" in line]
    assert "deadline (--max-runtime) was reached while GitHub's answer for /repos/acme/slow/events was arriving" in line
    assert_clean(run)

    hostile.routes["/events$"] = answer("404 Not Found", b'{"message":"Not Found"}')
    again = connector.run("sync", "--allow-api-host", hostile.url)  # the lock was released
    assert again.returncode == 3, again.stderr
    assert again.summary()["failed"] == 1
    assert_clean(again)


# Started from this (large) pytest process, the connector's ru_maxrss would include this process's
# resident memory (Linux counts the memory a child shares with its parent until its exec), so a
# small Python process in between starts it and prints its exit code and its own peak.
_MEASURE = (
    "import os, subprocess, sys; "
    "out, err = int(sys.argv[1]), int(sys.argv[2]); "
    "p = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err, stdin=subprocess.DEVNULL); "
    "_, status, usage = os.wait4(p.pid, 0); "
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)"
)


def _peak_rss_mb(connector: Connector, *args: str) -> tuple[Run, float]:
    """Run the CLI and return it with its peak resident memory (wait4's ru_maxrss, in MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        fds = (out.fileno(), err.fileno())
        measured = subprocess.run(
            [sys.executable, "-c", _MEASURE, *map(str, fds), *painchain_gh_command(), *args],
            env=connector.base_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            pass_fds=fds,
            check=True,
        )
        returncode_text, rss_text = measured.stdout.split()
        out.seek(0)
        err.seek(0)
        return Run(int(returncode_text), out.read(), err.read()), int(rss_text) / 1024


def test_a_60_mb_body_fails_only_that_repository_without_being_held_in_memory(
    connector: Connector, hostile: HostileServer
) -> None:
    """60 MB (chunked, nothing announced): reading stops at the 10 MB cap; that repository fails (exit 3)."""
    hostile.routes["/events$"] = flood(60 * MB)
    expected = two_integrations(connector, ["acme/huge"], api_url=hostile.url)

    run, peak_mb = _peak_rss_mb(connector, "sync", "--allow-api-host", hostile.url, "--log-format", "json")

    assert run.returncode == 3, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    [message] = [r["message"] for r in run.log if r.get("repository") == "acme/huge"]
    assert ": failed, " in message
    assert message.endswith("- GitHub's answer for /repos/acme/huge/events is larger than 10 MB; not read")
    assert len(hostile.requests_to("/events$")) == 1  # not retried
    print(f"peak RSS {peak_mb:.0f} MB")
    assert peak_mb < 80, peak_mb  # the connector alone is about 45 MB; 60 MB of body were never held
    assert_clean(run)


def test_a_deeply_nested_json_body_fails_only_that_repository(connector: Connector, hostile: HostileServer) -> None:
    """``[`` * 200000: no RecursionError, that repository fails with a plain message (exit 3)."""
    hostile.routes["/events$"] = answer("200 OK", b"[" * 200_000)
    expected = two_integrations(connector, ["acme/deep"], api_url=hostile.url)

    run = connector.run("sync", "--allow-api-host", hostile.url, "--log-format", "text")

    assert run.returncode == 3, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    [line] = [line for line in warnings_about(run, "acme/deep [evil]") if "failed" in line]
    assert "GitHub answered /repos/acme/deep/events with a body that is not JSON (nested too deeply)" in line
    assert_clean(run)


def test_next_links_to_another_scheme_or_port_are_not_followed(connector: Connector, hostile: HostileServer) -> None:
    """``Link: next`` to https on the same host and port, or to another port: refused; the token goes nowhere else."""
    with HostileServer() as elsewhere:
        recent = {"id": "1", "type": "WatchEvent", "created_at": utc_iso(), "payload": {}}  # worth a page 2
        page = json.dumps([recent]).encode()
        to_https = f'<https://127.0.0.1:{hostile.port}/repositories/1/events?page=2>; rel="next"'
        to_port = f'<http://127.0.0.1:{elsewhere.port}/repositories/1/events?page=2>; rel="next"'
        hostile.routes["/acme/scheme/events$"] = answer("200 OK", page, {"Link": to_https})
        hostile.routes["/acme/port/events$"] = answer("200 OK", page, {"Link": to_port})
        expected = two_integrations(connector, ["acme/scheme", "acme/port"], api_url=hostile.url)

        run = connector.run("sync", "--allow-api-host", hostile.url, "--log-format", "text")

        assert run.returncode == 3, run.stderr
        assert sorted(connector.backend.external_ids()) == sorted(expected)
        for name, target in (("scheme", f"https://127.0.0.1:{hostile.port}"), ("port", elsewhere.url)):
            [line] = [line for line in warnings_about(run, f"acme/{name} [evil]") if "failed" in line]
            assert f"next-page link points to another host or scheme ({target}); not followed" in line
        assert elsewhere.seen == []  # not even a connection
        assert [seen.first_bytes[:4] for seen in hostile.seen] == [b"GET ", b"GET "]  # no TLS handshake either
        assert_clean(run)


def test_a_backend_redirect_on_post_events_is_not_an_acknowledgement(connector: Connector) -> None:
    """307 to another host on ``POST /events``: not followed, that repository fails (exit 3); the next run delivers."""
    with HostileServer({".": answer("201 Created", b'{"event_id":"x"}')}) as elsewhere:
        expected = two_integrations(connector, ["acme/evil"])
        evil = seed_issues(connector.github, "acme/evil", count=2)
        connector.backend.fail_next("POST", "/events$", 307, headers={"Location": f"{elsewhere.url}/api/events"})

        run = connector.run("sync", "--concurrency", "1", "--log-format", "text")

        assert run.returncode == 3, run.stderr
        assert elsewhere.seen == []  # neither the event nor its tenant went there
        [line] = [line for line in run.stderr.splitlines() if ": failed" in line]
        assert f"backend answered POST /events with a redirect (307 to {elsewhere.url}); not followed" in line
        failed = "acme/good" if line.startswith("WARNING acme/good") else "acme/evil"
        delivered = set(connector.backend.external_ids())
        assert delivered == set(evil if failed == "acme/good" else expected)  # the other integration: all of it
        assert_clean(run)

        again = connector.run("sync")

        assert again.returncode == 0, again.stderr
        assert sorted(connector.backend.external_ids()) == sorted(expected + evil)
        assert elsewhere.seen == []


def test_hostile_error_messages_are_escaped_and_scrubbed_in_text_logs(connector: Connector) -> None:
    """ANSI escapes, CR-LF, a bell, an echoed token in GitHub's and the backend's messages: escaped, scrubbed."""
    expected = two_integrations(connector, ["acme/evil"])
    seed_issues(connector.github, "acme/evil", count=1)
    forged = "\r\nINFO acme/evil [evil]: synced, 0 new\x1b]0;pwned\x07\u2028"
    connector.github.fail_next(
        "GET",
        "/acme/evil/events$",
        404,
        body={"message": "\x1b[31m" + "x" * 290 + TOKEN + forged},
        headers={"X-GitHub-Request-Id": f"\x1b[2J{TOKEN}"},
    )
    connector.backend.fail_next(
        "PUT", "/integrations/good$", 400, body={"message": "\x1b[2J" + "y" * 290 + f"Bearer {BACKEND_TOKEN}\r\nforged"}
    )

    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 3, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    [line] = [line for line in warnings_about(run, "acme/evil [evil]") if "failed" in line]
    assert (
        line.startswith("WARNING acme/evil [evil]: failed") and "GitHub answered 404" in line and "\\x1b[31mxxx" in line
    )
    assert [line for line in run.stderr.splitlines() if line.startswith("INFO acme/evil")] == []  # nothing forged
    [put] = [line for line in run.stderr.splitlines() if "lastSync of integration good not recorded" in line]
    assert '{"message":"\\u001b[2Jyyy' in put  # JSON-escaped by the backend, and cut after scrubbing
    assert_clean(run)


def test_an_absurd_poll_interval_is_capped_at_an_hour(connector: Connector) -> None:
    """``X-Poll-Interval: 9999999999`` would stop the repository being polled for 317 years: an hour at most."""
    expected = two_integrations(connector, [])
    connector.github.poll_interval = 9_999_999_999

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    assert [repo["poll_interval"] for repo in state_json(connector)["repos"].values()] == [3600]
    assert_clean(run)


def test_a_rate_limit_reset_far_in_the_future_is_clamped(connector: Connector) -> None:
    """``X-RateLimit-Reset`` in the year 33658 with the token under its reserve: deferred with a sane time, no crash."""
    expected = two_integrations(connector, ["acme/far"])
    seed_issues(connector.github, "acme/far", count=1)
    connector.github.set_remaining(TOKEN, 50, reset=10**12)

    started = time.time()
    run = connector.run("sync", "--log-format", "text")

    assert run.returncode == 3, run.stderr
    assert sorted(connector.backend.external_ids()) == sorted(expected)
    [line] = [line for line in warnings_about(run, "acme/far [evil]") if "deferred" in line]
    until = re.search(r"until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", line)
    assert until, line
    reset = time.mktime(time.strptime(until[1], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert started - 5 <= reset <= started + 7200 + 60
    assert_clean(run)


def test_sigterm_ends_a_long_retry_after_wait_at_once(connector: Connector) -> None:
    """A secondary limit with ``Retry-After: 40`` is being waited out; SIGTERM ends the run within ~2 s, state saved."""
    expected = two_integrations(connector, ["acme/limited"])
    connector.github.fail_next("GET", "/acme/limited/events$", 403, headers={"Retry-After": "40"}, body=SECONDARY_LIMIT)
    process = connector.start("sync", "--max-runtime", "60s", "--log-format", "json")
    try:
        wait_until(
            lambda: any(r.status == 403 for r in connector.github.requests_to("GET", "/acme/limited/")), what="the 403"
        )
        wait_until(lambda: sorted(connector.backend.external_ids()) == sorted(expected), what="the other events")
        time.sleep(0.3)  # the worker is now waiting out the 40 s
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=20)
        took = time.monotonic() - signalled
    finally:
        process.kill()
    run = Run(process.returncode, stdout, stderr)

    assert run.returncode == 3, run.stderr
    assert took < 3, took
    assert len(connector.github.requests_to("GET", "/acme/limited/events$")) == 1
    saved = state_json(connector)["repos"]
    assert any(key.endswith("acme/good") and repo["last_polled_at"] for key, repo in saved.items())
    assert run.summary()["deferred"] == 1
    assert_clean(run)
