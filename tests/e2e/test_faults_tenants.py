"""Failure modes 8 and 9: tenants sharing a repository keep their tokens, ETags and events apart;
an integration's ``apiUrl`` is only contacted when the operator allows its host."""

from __future__ import annotations

from tests.e2e.conftest import Connector
from tests.e2e.faults_support import add_integration, error_lines, github_requests_with, seed_issues
from tests.fakes import FakeGitHub

SHARED = "acme/shared"
TOKEN_A, TOKEN_B = "ghp_tenant_a_token", "ghp_tenant_b_token"


def etags_sent_with(github: FakeGitHub, token: str, path: str = "/repos/acme/shared/events") -> list[str | None]:
    """The If-None-Match header of each request for ``path`` sent with ``token``, in order."""
    with github._lock:
        return [
            r.headers.get("if-none-match")
            for r in github.requests
            if r.path == path and r.headers.get("authorization") == f"Bearer {token}"
        ]


def two_tenants(connector: Connector, *, b_repos: set[str] | None = None) -> list[str]:
    """acme/shared watched by tenant-a (token A) and tenant-b (token B, seeing only ``b_repos``)."""
    expected = seed_issues(connector.github, SHARED, count=3)
    connector.github.add_token(TOKEN_A)
    connector.github.add_token(TOKEN_B, repos=b_repos)
    add_integration(connector, id="int-a", tenant_id="tenant-a", token=TOKEN_A, repos=[SHARED])
    add_integration(connector, id="int-b", tenant_id="tenant-b", token=TOKEN_B, repos=[SHARED])
    return expected


def test_each_tenant_polls_with_its_own_token_and_gets_only_its_events(connector: Connector) -> None:
    """Tenants: one repository, two tenants; each polled with its own token, each event to its own tenant."""
    expected = two_tenants(connector)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert {"/repos/acme/shared/events", "/repos/acme/shared/actions/runs"} <= set(
        github_requests_with(connector.github, TOKEN_A)
    )
    assert set(github_requests_with(connector.github, TOKEN_A)) == set(github_requests_with(connector.github, TOKEN_B))
    stored = {(e.tenant, e.body["integrationId"], e.body["externalId"]) for e in connector.backend.events}
    assert stored == {("tenant-a", "int-a", x) for x in expected} | {("tenant-b", "int-b", x) for x in expected}
    assert len(connector.backend.events) == 6

    again = connector.run("sync")  # each token gets its own 304 with its own ETag

    assert again.returncode == 0 and again.summary()["not_modified"] == 2
    assert [etag is not None for etag in etags_sent_with(connector.github, TOKEN_A)] == [False, True]
    assert [etag is not None for etag in etags_sent_with(connector.github, TOKEN_B)] == [False, True]


def test_tenant_whose_token_cannot_see_the_repository_gets_nothing_and_the_other_everything(
    connector: Connector,
) -> None:
    """Tenants: tenant-b's token has no access (404); tenant-a still gets every event, tenant-b none, no ETag leak."""
    expected = two_tenants(connector, b_repos={"other/repo"})

    run = connector.run("sync")

    assert run.returncode == 3, run.stderr
    assert {(e.tenant, e.body["externalId"]) for e in connector.backend.events} == {("tenant-a", x) for x in expected}
    assert any(m.startswith("acme/shared [int-b]: failed") and "404" in m for m in (r["message"] for r in run.log))

    assert connector.run("sync").returncode == 3
    assert etags_sent_with(connector.github, TOKEN_B) == [None, None]  # tenant-a's ETag never sent with B's token
    assert etags_sent_with(connector.github, TOKEN_A)[1] is not None
    assert {e.tenant for e in connector.backend.events} == {"tenant-a"}


def test_etag_is_not_reused_after_the_token_changes(connector: Connector) -> None:
    """Tenants: an ETag got with one token is never sent with another (a rotated token starts unconditional)."""
    expected = seed_issues(connector.github, SHARED, count=2)
    connector.github.add_token(TOKEN_A)
    connector.github.add_token(TOKEN_B)
    row = add_integration(connector, id="int-a", token=TOKEN_A, repos=[SHARED])
    assert connector.run("sync").returncode == 0

    row["config"]["token"] = TOKEN_B  # the user rotates the token
    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert etags_sent_with(connector.github, TOKEN_B) == [None]
    assert sorted(connector.backend.external_ids()) == sorted(expected)  # the cursor still holds: nothing re-sent
    assert run.summary()["forwarded"] == 0


def test_api_url_on_a_host_not_allowed_is_refused_and_never_sent_the_token(connector: Connector) -> None:
    """Untrusted apiUrl: refused with one line naming the integration, token never sent; --allow-api-host allows it."""
    good = seed_issues(connector.github, count=1)
    with FakeGitHub() as other:
        other.poll_interval = 0
        other.add_token("ghp_enterprise_token")
        internal = seed_issues(other, "corp/internal", count=2)
        add_integration(connector)
        add_integration(
            connector, id="ghes", token="ghp_enterprise_token", repos=["corp/internal"], api_url=other.ghes_url
        )

        refused = connector.run("sync", "--log-format", "text")

        assert refused.returncode == 3
        assert error_lines(refused) == [
            f"ERROR integration ghes (Integration ghes) skipped: apiUrl origin http://127.0.0.1:{other.port} "
            "is not allowed (add it with --allow-api-host)"
        ]
        assert other.requests == []
        assert connector.backend.external_ids() == good

        allowed = connector.run("sync", "--allow-api-host", f"http://127.0.0.1:{other.port}")

        assert allowed.returncode == 0, allowed.stderr
        assert github_requests_with(other, "ghp_enterprise_token")
        assert github_requests_with(connector.github, "ghp_enterprise_token") == []
        assert sorted(connector.backend.external_ids()) == sorted(good + internal)
        assert not other.errors
