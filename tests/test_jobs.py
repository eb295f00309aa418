"""Jobs: state keys that keep ids as given, and API origins allowed exactly."""

from __future__ import annotations

from typing import Any

import pytest

from painchain_gh.jobs import build_jobs, check_api_url, parse_allowed_origin, state_key
from painchain_gh.models import Integration, select_integrations


def row(integration_id: str, *, tenant: str | None = "Tenant-A", **config: Any) -> dict[str, Any]:
    base = {"token": "ghp_test_token", "repositories": [{"owner": "Acme", "repo": "API"}]}
    return {"id": integration_id, "tenantId": tenant, "type": "github", "name": "Team", "config": {**base, **config}}


def integrations(*rows: dict[str, Any]) -> list[Integration]:
    return select_integrations(list(rows)).valid


def jobs_of(items: list[Integration], allowed: frozenset[str], default: str = "https://api.github.com") -> Any:
    return build_jobs(items, default_api_url=default, allowed_hosts=allowed, default_interval=None, shard=None)


def test_ids_keep_their_case_and_only_owner_and_repository_are_lower_cased() -> None:
    jobs, refused = jobs_of(integrations(row("ABC"), row("abc")), frozenset())
    assert refused == []
    assert [job.key for job in jobs] == ["Tenant-A/ABC/acme/api", "Tenant-A/abc/acme/api"]
    assert state_key(None, "GH-Prod", "Owner/Repo") == "-/GH-Prod/owner/repo"


def test_shard_key_is_unchanged_so_shards_keep_their_repositories() -> None:
    jobs, _ = jobs_of(integrations(row("GH-Prod")), frozenset())
    assert jobs[0].shard_key == "gh-prod/acme/api"


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("ghe.example.com", "https://ghe.example.com:443"),
        ("  GHE.Example.com ", "https://ghe.example.com:443"),
        ("ghe.example.com:8443", "https://ghe.example.com:8443"),
        ("https://ghe.example.com", "https://ghe.example.com:443"),
        ("https://ghe.example.com/", "https://ghe.example.com:443"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_allowed_entries_become_exact_origins(text: str, origin: str) -> None:
    assert parse_allowed_origin(text) == origin


@pytest.mark.parametrize(
    "text",
    [
        "",
        "http://ghe.example.com",  # plain http must name its port
        "ftp://ghe.example.com",
        "https://ghe.example.com/api/v3",
        "user:pw@ghe.example.com",
        "ghe.example.com:99999",
        "ghe.example.com:port",
        "https://ghe.example.com?x=1",
    ],
)
def test_entries_that_are_not_origins_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_allowed_origin(text)


def test_a_bare_host_allows_only_https_on_443() -> None:
    allowed = frozenset({parse_allowed_origin("ghe.example.com")})
    assert check_api_url("https://ghe.example.com/api/v3", allowed) is None
    assert check_api_url("https://GHE.example.com:443/api/v3", allowed) is None
    assert "not allowed" in (check_api_url("https://ghe.example.com:8443/api/v3", allowed) or "")
    assert "not allowed" in (check_api_url("http://ghe.example.com/api/v3", allowed) or "")
    assert "not allowed" in (check_api_url("http://ghe.example.com:443/api/v3", allowed) or "")
    assert "not allowed" in (check_api_url("https://evil.example.net/api/v3", allowed) or "")
    assert check_api_url("https://ghe.example.com:bad/api/v3", allowed) is not None


def test_plain_http_only_where_written_with_its_port() -> None:
    allowed = frozenset({parse_allowed_origin("http://10.0.0.5:8080")})
    assert check_api_url("http://10.0.0.5:8080/api/v3", allowed) is None
    assert check_api_url("http://10.0.0.5/api/v3", allowed) is not None
    assert check_api_url("https://10.0.0.5:8080/api/v3", allowed) is not None


def test_build_jobs_compares_origins_and_always_allows_the_default_api() -> None:
    rows = [
        row("default-api", apiUrl="http://127.0.0.1:5000"),
        row("same-host-other-port", apiUrl="http://127.0.0.1:5001"),
        row("enterprise", apiUrl="https://ghe.example.com/api/v3"),
        row("enterprise-http", apiUrl="http://ghe.example.com/api/v3"),
    ]
    jobs, refused = jobs_of(
        integrations(*rows), frozenset({"https://ghe.example.com:443"}), default="http://127.0.0.1:5000"
    )
    assert [job.integration.id for job in jobs] == ["default-api", "enterprise"]
    assert [(item.id, item.reason) for item in refused] == [
        ("same-host-other-port", "apiUrl origin http://127.0.0.1:5001 is not allowed (add it with --allow-api-host)"),
        ("enterprise-http", "apiUrl origin http://ghe.example.com:80 is not allowed (add it with --allow-api-host)"),
    ]
