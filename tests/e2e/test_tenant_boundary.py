"""Tenants against each other: one tenant's config never reaches another tenant's data, time or state.

Each test plays an attacker's integration next to a victim's, in both row orders where order matters,
and checks that the attacker's tenant gets nothing of the victim's, that the victim's events are all
delivered exactly once, and that the run ends with its documented exit code, without a traceback.
(docs/failure-modes.md, "Tenants against each other", names each test.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.doubles import cursor_repos
from tests.e2e.conftest import Connector, Run
from tests.e2e.faults_support import seed_issues
from tests.fakes.github import utc_iso

APP_ID = 424242
NOT_A_KEY = "-----BEGIN RSA PRIVATE KEY-----\nnot-a-key\n-----END RSA PRIVATE KEY-----"
KEYS = Path(__file__).parent.parent / "fixtures" / "keys"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def assert_no_traceback(run: Run) -> None:
    assert "Traceback" not in run.stdout + run.stderr, run.stderr


def add_app_integration(connector: Connector, *, id: str, tenant: str, private_key: str, **config: Any) -> None:
    connector.backend.add_integration(
        id=id,
        tenant_id=tenant,
        name=f"{tenant} App",
        token=None,
        repositories=config.pop("repositories", []),
        extra_config={"appId": str(APP_ID), "privateKey": private_key, **config},
        type="github-app",
    )


def error_lines(run: Run) -> list[str]:
    return [record["message"] for record in run.log if record.get("level") == "error"]


@pytest.mark.parametrize("attacker_first", [True, False], ids=["attacker-first", "victim-first"])
@pytest.mark.parametrize("names", ["installation id", "repository name"])
def test_another_tenants_app_installation_is_not_usable_with_any_other_key(
    connector: Connector, key: rsa.RSAPrivateKey, attacker_first: bool, names: str
) -> None:
    github = connector.github
    github.apps.add_app(APP_ID, key.public_key())
    installation = github.apps.add_installation(APP_ID, "acme", repositories=["acme/private"])
    github.apps.add_listed_repo("acme", "private", private=True)
    victims = seed_issues(github, "acme/private", count=3)
    # The attacker knows what is public (the App id, the installation id, the repository name), not the key.
    known: dict[str, Any] = {"installationId": installation.id} if names == "installation id" else {}
    attacker: dict[str, Any] = {
        "id": "evil",
        "tenant": "mallory",
        "private_key": NOT_A_KEY,
        "repositories": ["acme/private"],
        **known,
    }
    victim: dict[str, Any] = {
        "id": "app1",
        "tenant": "tenant-a",
        "private_key": pem(key),
        "repositories": ["acme/private"],
        **known,
    }
    for row in [attacker, victim] if attacker_first else [victim, attacker]:
        add_app_integration(connector, **row)

    run = connector.run("sync")

    assert_no_traceback(run)
    assert run.returncode == 3, run.stderr
    assert connector.backend.events_for("evil") == []
    assert sorted(connector.backend.external_ids()) == sorted(victims), run.stderr
    assert {event.tenant for event in connector.backend.events} == {"tenant-a"}
    (line,) = [message for message in error_lines(run) if "privateKey" in message]
    assert line.startswith("integration evil (mallory App)"), line  # the attacker's, not the victim's
    assert not [message for message in error_lines(run) if "app1" in message]


def test_a_tenants_token_is_never_a_pattern_that_rewrites_other_tenants_output_or_stored_bytes(
    connector: Connector,
) -> None:
    """Tokens such as ``"event"`` (quotes included: a JSON key as encoded), ``github`` or ``failed`` (a tenant
    writes its own config) neither break the
    JSON log records nor hide words of other lines, nor rewrite stored dead letters; with ``--state
    backend`` the victim's cursor is saved, so the next run re-sends nothing."""
    backend = connector.backend
    victims = seed_issues(connector.github, "acme/api-gateway", count=3)
    backend.add_integration(id="victim", tenant_id="tenant-a", repositories=["acme/api-gateway"])
    backend.add_integration(id="evil-event", tenant_id="mallory", token='"event"', repositories=["acme/api-gateway"])
    backend.add_integration(id="evil-github", tenant_id="mallory", token="github", type="gitlab")
    backend.add_integration(id="evil-failed", tenant_id="mallory", token="failed", status="inactive")
    backend.fail_next("POST", "/events$", 400, body={"message": "rejected"})  # the victim's first event

    first = connector.run("sync", "--state", "backend")

    assert_no_traceback(first)
    assert first.returncode == 3, first.stderr  # the "event" token is refused by GitHub: that integration fails
    assert all(line.startswith("{") for line in first.stderr.splitlines()), first.stderr
    assert [json_line["event"] for json_line in first.log if json_line.get("event") == "summary"] == ["summary"]
    assert "***" not in first.stderr  # no word of anybody's line was taken for a secret
    assert any("failed" in record["message"] for record in first.log)
    assert sorted(backend.external_ids()) == sorted(victims[1:])
    assert cursor_repos(backend.integration("victim")["config"]["cursor"])  # type: ignore[index]
    letters = (connector.state_dir / "state.json.deadletter.jsonl").read_text()
    assert '"connector":"github"' in letters and "https://github.com/" in letters

    retried = connector.run("deadletter", "retry")
    second = connector.run("sync", "--state", "backend", "--force")

    assert retried.returncode == 0, retried.stderr
    assert second.returncode == 3, second.stderr
    assert sorted(backend.external_ids()) == sorted(victims)  # nothing sent twice
    assert [event.body["connector"] for event in backend.events] == ["github"] * 3
    assert all(event.body["data"]["url"].startswith("https://github.com/") for event in backend.events)


def test_what_one_tenants_github_answers_write_to_the_shared_state_the_next_run_reads(connector: Connector) -> None:
    """A container package name longer than 200 characters and a deployment id of 121 digits (both
    chosen by whoever publishes) used to be stored unchecked and refused when read: from the second run
    on, the shared state file was an error for every tenant (exit 6)."""
    github, backend = connector.github, connector.backend
    long_name = "p" * 250  # OCI allows names of about 255 characters
    github.add_package_version("acme", long_name, ["v1"])
    github.add_package_version("acme", "api", ["v2"])
    github.add_deployment("acme", "api-gateway", {"id": int("9" * 121), "created_at": utc_iso(time.time() - 60)})
    deployment = github.add_deployment("acme", "api-gateway")
    github.add_deployment_status("acme", "api-gateway", deployment["id"], {"state": "success"})
    backend.add_integration(
        id="publisher",
        tenant_id="mallory",
        repositories=["acme/api-gateway"],
        extra_config={"containerImages": True, "events": ["deployment", "image"]},
    )
    others = seed_issues(github, "acme/web", count=2)
    backend.add_integration(id="other", tenant_id="tenant-a", repositories=["acme/web"])

    runs = [connector.run("sync"), connector.run("sync", "--force"), connector.run("state", "show")]

    for run in runs:
        assert_no_traceback(run)
        assert run.returncode == 0, run.stderr
    assert [event.body["externalId"] for event in backend.events_for("other")] == others
    published = sorted(event.body["title"] for event in backend.events_for("publisher"))
    assert published[0] == "Deployment to production: success"
    assert published[1].startswith("Image published: ") and published[1].endswith("/acme/api:v2")
    assert published[2].startswith("Image published: ") and published[2].endswith(f"/acme/{long_name}:v1")
    assert "mallory/publisher/acme/api-gateway" in runs[2].stdout


def test_huge_or_weak_app_keys_fail_their_own_integration_at_once(connector: Connector) -> None:
    """Two 8192-bit keys used to take seconds of CPU each (16384 bits: half a minute) with the GIL held,
    keeping every other tenant waiting past --max-runtime; a 1024-bit key was accepted, with PyJWT's
    warning raw on stderr in the middle of JSON-lines logs."""
    github, backend = connector.github, connector.backend
    others = seed_issues(github, "acme/web", count=2)
    backend.add_integration(id="other", tenant_id="tenant-a", repositories=["acme/web"])
    for bits in (8192, 8192, 1024):
        add_app_integration(
            connector,
            id=f"key-{bits}-{len(backend.integrations)}",
            tenant=f"t{bits}",
            private_key=(KEYS / f"test-only-rsa-{bits}.pem").read_text(),
            repositories=["acme/api-gateway"],
            installationId=1,
        )

    started = time.monotonic()
    run = connector.run("sync", "--max-runtime", "20s")
    elapsed = time.monotonic() - started

    assert_no_traceback(run)
    assert run.returncode == 3, run.stderr
    assert elapsed < 20, elapsed  # within --max-runtime: nothing waits for a key
    assert all(line.startswith("{") for line in run.stderr.splitlines()), run.stderr  # no raw library warning
    assert [event.body["externalId"] for event in backend.events_for("other")] == others
    refused = [message for message in error_lines(run) if "privateKey" in message]
    assert len(refused) == 3, refused
    assert sum("too long for a GitHub App key" in message for message in refused) == 2
    assert sum("1024-bit RSA key; painchain-gh accepts 2048 to 4096 bits" in message for message in refused) == 1


def test_a_thousand_repository_installation_keeps_its_backend_cursor_under_100_kb(
    connector: Connector, key: rsa.RSAPrivateKey
) -> None:
    """The real backend refuses bodies over 100 kB (413): a version-2 cursor of an App installation of
    150 repositories no longer fit, every run exited 6 and re-sent every event. The fake backend here
    refuses bodies over 100 kB the same way."""
    github, backend = connector.github, connector.backend
    github.apps.add_app(APP_ID, key.public_key())
    names = [f"service-{number:04d}" for number in range(1000)]
    for name in names:
        github.apps.add_listed_repo("acme", name)
    github.apps.add_installation(APP_ID, "acme")
    expected = [external_id for name in names[::10] for external_id in seed_issues(github, f"acme/{name}", count=1)]
    for name in names:  # every timeline different (so is every ETag), as on GitHub; older than the lookback
        seed_issues(github, f"acme/{name}", count=1, start=time.time() - 3 * 86400)
    add_app_integration(connector, id="big", tenant="tenant-a", private_key=pem(key))
    github.poll_interval = 0

    fast = {"PAINCHAIN_GH_BUDGET_WINDOW": "1s"}  # 600 points a second: this test is about the cursor, not the pace
    github.secondary.window_seconds = 1.0  # and GitHub's 900 points a second, to match
    args = ("sync", "--state", "backend", "--concurrency", "32", "--max-runtime", "120s")
    first = connector.run(*args, env=fast, timeout=180)
    second = connector.run(*args, env=fast, timeout=180)

    for run in (first, second):
        assert_no_traceback(run)
        assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(backend.external_ids()) == sorted(expected)  # each once: the second run re-sent nothing
    assert second.summary()["forwarded"] == 0
    cursor = backend.integration("big")["config"]["cursor"]  # type: ignore[index]
    assert len(cursor_repos(cursor)) == 1001  # every repository, and the discovery entry
    biggest_put = max(len(json.dumps(body)) for _, body in backend.puts if "config" in body)
    assert biggest_put <= 100 * 1024


def listed_pages(connector: Connector) -> list[str]:
    """The page numbers of every ``/orgs/bigorg/repos`` request, in order ("1" for the first page)."""
    return [r.query.get("page", "1") for r in connector.github.requests_to("GET", r"^/orgs/bigorg/repos$")]


def test_one_tenants_big_discovery_never_holds_up_the_others_and_progresses_across_runs(connector: Connector) -> None:
    """A big ``bigorg/*`` used to be listed to its end before any repository of any tenant was polled, and
    nothing was kept when the run's deadline came first: nobody was polled, on every run."""
    github, backend = connector.github, connector.backend
    for number in range(1000):  # ten pages
        github.apps.add_listed_repo("bigorg", f"svc-{number:04d}")
    others = seed_issues(github, "acme/web", count=2)
    backend.add_integration(id="big", tenant_id="tenant-big", repositories=["bigorg/*"])
    backend.add_integration(id="small", tenant_id="tenant-small", repositories=["acme/web"])
    github.latency = 0.3  # a slow listing: each page takes 0.3 s

    first = connector.run("sync", "--max-runtime", "3s", timeout=30)

    assert_no_traceback(first)
    assert [event.body["externalId"] for event in backend.events_for("small")] == others
    summary = first.summary()
    assert summary["github_requests_by_kind"]["discovery"] == len(listed_pages(connector)) > 0
    read_first = listed_pages(connector)
    assert read_first[0] == "1" and len(read_first) < 10  # the run's share ended the listing early

    github.latency = 0
    github.secondary.window_seconds = 1.0  # GitHub's 900 points a window, in a 1 s window ...
    second = connector.run("sync", "--max-runtime", "30s", env={"PAINCHAIN_GH_BUDGET_WINDOW": "1s"})  # ... and ours

    assert_no_traceback(second)
    read_second = listed_pages(connector)[len(read_first) :]
    assert read_second[0] == str(len(read_first) + 1)  # carried on where the first run stopped
    assert read_second[-1] == "10"
    polled = {r.path for r in github.requests_to("GET", r"^/repos/bigorg/[^/]+/events$")}
    assert len(polled) == 1000  # every repository of the big tenant is polled, none waits for the listing's end
    assert [event.body["externalId"] for event in backend.events_for("small")] == others  # nothing twice


def test_shards_sharing_the_backend_state_list_once(connector: Connector) -> None:
    github, backend = connector.github, connector.backend
    for number in range(5):
        github.apps.add_listed_repo("bigorg", f"svc-{number}")
    backend.add_integration(id="big", tenant_id="tenant-big", repositories=["bigorg/*"])
    args = ("sync", "--state", "backend")

    second_shard = connector.run(*args, "--shard", "1/2")
    assert second_shard.returncode == 0, second_shard.stderr
    assert listed_pages(connector) == []  # the first shard lists for everyone
    first_shard = connector.run(*args, "--shard", "0/2")
    assert first_shard.returncode == 0, first_shard.stderr
    assert listed_pages(connector) == ["1"]
    again = connector.run(*args, "--shard", "1/2")
    assert again.returncode == 0, again.stderr
    assert listed_pages(connector) == ["1"]  # still once: the second shard polls what the first stored
    polled = {r.path for r in github.requests_to("GET", r"^/repos/bigorg/[^/]+/events$")}
    assert len(polled) == 5  # each repository by the shard that owns it


def test_discovery_obeys_the_rate_limit_reserve_and_keeps_its_progress(connector: Connector) -> None:
    github, backend = connector.github, connector.backend
    for number in range(1000):
        github.apps.add_listed_repo("bigorg", f"svc-{number:04d}")
    spec = github.add_token("ghp_limited_token_0123456789abcdefABCDEF")
    backend.add_integration(id="big", repositories=["bigorg/*"], token="ghp_limited_token_0123456789abcdefABCDEF")
    github.set_remaining("ghp_limited_token_0123456789abcdefABCDEF", 105)

    run = connector.run("sync", "--rate-limit-reserve", "100")

    assert_no_traceback(run)
    assert run.returncode == 3, run.stderr
    assert spec.remaining >= 99  # the reserve was kept: before, discovery drained the token to 0
    assert any("paused" in record["message"] and "next run carries on" in record["message"] for record in run.log)
    assert run.summary()["github_requests_by_kind"]["discovery"] == len(listed_pages(connector))


def test_too_many_owner_entries_or_a_huge_next_link_fail_their_integration_alone(connector: Connector) -> None:
    github, backend = connector.github, connector.backend
    others = seed_issues(github, "acme/web", count=1)
    backend.add_integration(id="many", tenant_id="t1", repositories=[f"owner{number}/*" for number in range(1001)])
    backend.add_integration(id="small", tenant_id="t2", repositories=["acme/web"])

    for command in ("sync", "check"):
        run = connector.run(command)
        assert_no_traceback(run)
        assert run.returncode == 3, run.stdout + run.stderr
        assert "1001" in run.stdout + run.stderr and "entries; at most 100 owners" in run.stdout + run.stderr
    assert [event.body["externalId"] for event in backend.events_for("small")] == others
