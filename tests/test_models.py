"""Validation of integrations typed by people."""

from __future__ import annotations

from typing import Any

import pytest

from painchain_gh.jobs import Shard, build_jobs, check_api_url, web_url_for
from painchain_gh.models import select_integrations


def row(**config: Any) -> dict[str, Any]:
    base = {"token": "ghp_test_token", "repositories": [{"owner": "acme", "repo": "api"}]}
    return {"id": "int1", "type": "github", "name": "Team", "config": {**base, **config}}


def test_other_types_inactive_and_disabled_integrations_are_not_polled() -> None:
    selection = select_integrations(
        [
            {**row(), "type": "gitlab"},
            {**row(), "id": "b", "status": "inactive"},
            row(polling={"enabled": False}),
            {**row(), "id": "ok"},
        ]
    )
    assert [integration.id for integration in selection.valid] == ["ok"]
    assert selection.disabled == 2


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"token": None}, "config.token"),
        ({"token": "  "}, "config.token"),
        ({"repositories": "acme/api"}, "config.repositories"),
        ({"repositories": []}, "config.repositories"),
        ({"tags": "backend"}, "config.tags"),
    ],
)
def test_invalid_integration_is_reported_by_id_and_name(config: dict[str, Any], expected: str) -> None:
    selection = select_integrations([row(**config), {**row(), "id": "other"}])
    assert [integration.id for integration in selection.valid] == ["other"]
    (invalid,) = selection.invalid
    assert invalid.label == "integration int1 (Team)"
    assert expected in invalid.reason


@pytest.mark.parametrize(
    "repository",
    [
        {"owner": "acme", "repo": ".."},
        {"owner": "..", "repo": "x"},
        {"owner": "a/b", "repo": "c"},
        {"owner": "acme", "repo": "b/c"},
        {"owner": "acme", "repo": ""},
        {"owner": "acme", "repo": "x" * 300},
        {"owner": "acme", "repo": "x?y=1"},
        {"owner": "acme"},
        "acme/api",
    ],
)
def test_bad_repository_is_skipped_and_the_others_go_on(repository: Any) -> None:
    selection = select_integrations([row(repositories=[repository, {"owner": "acme", "repo": "good"}])])
    (integration,) = selection.valid
    assert [r.full_name for r in integration.unique_repositories()] == ["acme/good"]
    assert "config.repositories.0 skipped" in selection.invalid[0].reason


def test_validation_messages_never_echo_the_token() -> None:
    selection = select_integrations([row(token="ghp_SECRETcanary", repositories=5)])
    assert "ghp_SECRETcanary" not in selection.invalid[0].reason


def test_duplicate_repositories_are_polled_once_with_merged_tags() -> None:
    selection = select_integrations(
        [
            row(
                tags=["team"],
                repositories=[
                    {"owner": "acme", "repo": "api", "tags": ["a"]},
                    {"owner": "ACME", "repo": "API", "tags": ["b"]},
                ],
            )
        ]
    )
    jobs, refused = build_jobs(
        selection.valid,
        default_api_url="https://api.github.com",
        allowed_hosts=frozenset({"api.github.com"}),
        default_interval=None,
        shard=None,
    )
    assert refused == []
    (job,) = jobs
    assert job.tags == ("team", "a", "b")
    assert job.key == "-/int1/acme/api"


def test_api_url_must_be_an_allowed_host() -> None:
    allowed = frozenset({"api.github.com", "ghe.example.com"})
    assert check_api_url("https://ghe.example.com/api/v3", allowed) is None
    assert "not allowed" in (check_api_url("https://evil.example.net/api/v3", allowed) or "")
    assert check_api_url("https://user:pw@ghe.example.com/api/v3", allowed) is not None
    assert check_api_url("file:///etc/passwd", allowed) is not None
    assert web_url_for("https://ghe.example.com/api/v3") == "https://ghe.example.com"
    assert web_url_for("https://api.github.com") == "https://github.com"


def test_every_repository_lands_in_exactly_one_shard() -> None:
    keys = [f"int{i % 7}/owner/repo-{i}" for i in range(2000)]
    shards = [Shard(index, 4) for index in range(4)]
    owners = [sum(shard.owns(key) for shard in shards) for key in keys]
    assert set(owners) == {1}
    sizes = [sum(shard.owns(key) for key in keys) for shard in shards]
    assert min(sizes) > 400  # roughly balanced


@pytest.mark.parametrize("text", ["4/4", "-1/2", "1", "a/b", "0/0"])
def test_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"shard|invalid literal|not enough"):
        Shard.parse(text)


def test_jobs_are_interleaved_across_tokens_keeping_each_tokens_order() -> None:
    from painchain_gh.jobs import interleave_by_token

    rows = [
        {**row(repositories=[{"owner": "a", "repo": f"r{i}"} for i in range(3)]), "id": "one"},
        {**row(token="ghp_other_token", repositories=[{"owner": "b", "repo": "s0"}]), "id": "two"},
    ]
    jobs, _ = build_jobs(
        select_integrations(rows).valid,
        default_api_url="https://api.github.com",
        allowed_hosts=frozenset({"api.github.com"}),
        default_interval=None,
        shard=None,
    )
    ordered = interleave_by_token(jobs)
    assert [job.repository.full_name for job in ordered] == ["a/r0", "b/s0", "a/r1", "a/r2"]
