"""Validation of integrations typed by people: every shape the UI sends, plain-word messages."""

from __future__ import annotations

from typing import Any

import pytest

from painchain_gh import secrets
from painchain_gh.jobs import Shard, build_jobs, check_api_url, web_url_for
from painchain_gh.models import EVENT_KINDS, select_integrations


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


def test_both_github_types_are_polled_and_an_app_type_needs_an_apps_credentials() -> None:
    app_row = {**row(), "id": "app", "type": "github-app"}  # a token alone: not a GitHub App
    selection = select_integrations([{**row(), "id": "tok"}, app_row, {**row(), "id": "x", "type": "GitHub"}])
    assert [integration.id for integration in selection.valid] == ["tok"]
    assert [(invalid.id, invalid.reason.split(";")[0]) for invalid in selection.invalid] == [
        ("app", "appId and privateKey: missing")
    ]
    assert list(selection.listed) == ["tok", "app"]  # both types get their status written


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"token": None}, "token: missing; fill in a GitHub token (for a GitHub App, use the GitHub App connector)"),
        ({"token": "  "}, "token: missing; fill in a GitHub token"),
        ({"token": "ghp_a b"}, "token must be printable characters without spaces or line breaks"),
        ({"token": "ghp_abc\r\nX-Evil: 1"}, "token must be printable characters without spaces or line breaks"),
        ({"token": "x" * 2049}, "token must be printable characters"),
        ({"repositories": 5}, 'repositories must be a list, e.g. ["acme/api", "acme/web"]'),
        ({"repositories": []}, 'repositories: none given; list them, e.g. ["acme/api", "acme/web"]'),
        ({"repositories": {"owner": "acme"}}, "repositories must be a list"),
        ({"tags": 7}, 'tags must be a list, e.g. ["backend", "team-a"]'),
        ({"tags": ["ok", ""]}, "tags must be a list of short texts (at most 100 characters, not empty)"),
        ({"polling": {"interval": "soon"}}, "polling.interval must be a whole number, e.g. 300"),
        ({"polling": {"enabled": "maybe"}}, "polling.enabled must be true or false"),
        ({"polling": {"interval": -1}}, "polling.interval must be at least 0"),
        ({"pollInterval": 5}, "pollInterval must be at least 60"),
        ({"pollInterval": "soon"}, "pollInterval must be a whole number, e.g. 300"),
        ({"pollInterval": 7200}, "pollInterval must be at most 3600"),
        ({"apiUrl": "ghe.example.com"}, "apiUrl must be an http(s) address without spaces, e.g. https://ghe"),
        ({"apiUrl": "https://ghe.example.com/api v3"}, "apiUrl must be an http(s) address"),
        ({"baseUrl": "ftp://ghe", "isEnterprise": True}, "apiUrl must be an http(s) address"),
        ({"events": ["push", "stars"]}, 'events: "stars" is not a kind painchain-gh sends; choose among push, pull'),
        ({"events": ["push", 7, "forks"]}, 'events: 7, "forks" are not kinds painchain-gh sends; choose among push'),
        ({"events": {"push": True}}, 'events must be a list, e.g. ["push", "pull_request"]'),
        ({"containerImages": "maybe"}, "containerImages must be true or false"),
        (
            {"appId": "my-app", "privateKey": "-----BEGIN RSA PRIVATE KEY-----\nAA\n-----END RSA PRIVATE KEY-----"},
            "appId must be the GitHub App's numeric id, e.g. 123456",
        ),
        ({"appId": "12"}, "privateKey: missing; a GitHub App needs both appId and privateKey"),
        ({"installationId": "seven", "token": "ghp_ok_token"}, "installationId must be a number, e.g. 7654321"),
    ],
)
def test_invalid_integration_is_reported_in_plain_words(config: dict[str, Any], expected: str) -> None:
    selection = select_integrations([row(**config), {**row(), "id": "other"}])
    assert [integration.id for integration in selection.valid] == ["other"]
    (invalid,) = selection.invalid
    assert invalid.label == "integration int1 (Team)"
    assert expected in invalid.reason
    assert invalid.message.startswith("integration int1 (Team) skipped: ")
    for jargon in ("Input should", "instance of", "Value error", "Field required", "Tuple", "valid dictionary"):
        assert jargon not in invalid.reason
    for repeated in ("(for example", "true or false, e.g.", "e.g. true"):
        assert repeated not in invalid.reason


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ({"owner": "acme", "repo": ".."}, 'repositories[0] "acme/..": repo must be letters, digits'),
        ({"owner": "..", "repo": "x"}, 'repositories[0] "../x": owner must be a GitHub login'),
        ({"owner": "a/b", "repo": "c"}, "owner must be a GitHub login"),
        ({"owner": "acme", "repo": "b/c"}, "repo must be letters, digits"),
        ({"owner": "acme", "repo": ""}, "repo must be letters"),
        ({"owner": "acme", "repo": "x" * 300}, "at most 100 characters"),
        ({"owner": "acme", "repo": "x?y=1"}, "repo must be letters"),
        ({"owner": "acme"}, 'repositories[0] "acme/?": repo is missing'),
        ("acme", 'write a repository as "owner/name", e.g. "acme/api"'),
        ("acme/api/extra", 'write a repository as "owner/name"'),
        (42, 'repositories[0] 42: write it as "owner/name"'),
        (["acme/api"], 'repositories[0] ["acme/api"]: write it as "owner/name"'),
    ],
)
def test_bad_repository_is_skipped_and_the_others_go_on(repository: Any, expected: str) -> None:
    selection = select_integrations([row(repositories=[repository, {"owner": "acme", "repo": "good"}])])
    (integration,) = selection.valid
    assert [r.full_name for r in integration.unique_repositories()] == ["acme/good"]
    (invalid,) = selection.invalid
    assert not invalid.skipped
    assert invalid.reason.startswith("1 of 2 repositories skipped: ")
    assert expected in invalid.reason
    assert invalid.message.startswith("integration int1 (Team): 1 of 2 repositories skipped")


def test_an_integration_whose_repositories_are_all_invalid_is_skipped() -> None:
    app = {"token": None, "appId": "1", "privateKey": PEM}
    selection = select_integrations([row(**app, repositories=["nope", "acme/b/c"])])
    assert selection.valid == []  # an App would otherwise poll its whole installation
    (invalid,) = selection.invalid
    assert invalid.reason.startswith('all 2 repositories are invalid: repositories[0] "nope"')


PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1\n-----END RSA PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"repositories": ["acme/api", "acme/web"]}, ["acme/api", "acme/web"]),
        ({"repositories": "acme/api\nacme/web\n"}, ["acme/api", "acme/web"]),
        ({"repositories": "acme/api, acme/web"}, ["acme/api", "acme/web"]),
        ({"repositories": [{"owner": "acme", "repo": "api"}, "acme/web"]}, ["acme/api", "acme/web"]),
        ({"repositories": None, "repos": "acme/api,acme/web"}, ["acme/api", "acme/web"]),
        ({"repositories": "", "repos": "acme/api"}, ["acme/api"]),
        ({"repositories": ["acme/*", "acme/api"]}, ["acme/api"]),
    ],
)
def test_every_repository_shape_the_ui_sends_is_accepted(config: dict[str, Any], expected: list[str]) -> None:
    selection = select_integrations([row(**config)])
    assert selection.invalid == []
    (integration,) = selection.valid
    assert [r.full_name for r in integration.unique_repositories()] == expected


def test_upstream_aliases_and_new_fields() -> None:
    config = {
        "baseUrl": "https://ghe.example.com/api/v3",
        "isEnterprise": True,
        "pollInterval": 600,
        "tags": "backend, team-a",
        "events": "push, release",
        "containerImages": "true",
        "repositories": [{"owner": "acme", "repo": "*", "tags": "org"}],
    }
    (integration,) = select_integrations([row(**config)]).valid
    assert integration.config.api_url == "https://ghe.example.com/api/v3"
    assert integration.config.polling.interval == 600
    assert integration.config.tags == ("backend", "team-a")
    assert integration.config.events == ("push", "release")
    assert integration.config.container_images is True
    assert [(w.owner, w.tags) for w in integration.wildcard_owners()] == [("acme", ("org",))]
    assert integration.unique_repositories() == []
    default = select_integrations([row()]).valid[0].config
    assert "image" not in default.events
    assert set(default.events) | {"image"} == set(EVENT_KINDS)
    assert default.container_images is False
    not_enterprise = select_integrations([row(baseUrl="https://ghe.example.com/api/v3", isEnterprise=False)])
    assert not_enterprise.valid[0].config.api_url is None


def test_app_integration_without_repositories_discovers_its_installation() -> None:
    selection = select_integrations([row(token="", repositories=[], appId=42, privateKey=PEM, installationId=7)])
    (integration,) = selection.valid
    assert integration.config.uses_app
    assert integration.discovers_installation
    assert (integration.config.app_id, integration.config.installation_id) == ("42", 7)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("id", ".", "id must be 1-200 letters, digits or '_.:-' (not . or ..)"),
        ("id", "..", "id must be"),
        ("id", "a/b", "id must be"),
        ("id", "a\r\nb", "id must be"),
        ("tenantId", "..", "tenantId must be 1-200 printable ASCII characters without '/'"),
        ("tenantId", "a/b", "tenantId must be"),
        ("tenantId", "t\n1", "tenantId must be"),
        ("tenantId", 5, "tenantId must be text"),
    ],
)
def test_ids_are_checked_at_the_boundary(field: str, value: Any, expected: str) -> None:
    selection = select_integrations([{**row(), field: value}])
    assert selection.valid == []
    (invalid,) = selection.invalid
    assert expected in invalid.reason


def test_messages_escape_control_characters_in_ids_and_names() -> None:
    selection = select_integrations([{**row(token=None), "id": "bad\nid\x1b[2J", "name": "evil\r\x07\u2028name"}])
    (invalid,) = selection.invalid
    assert invalid.label == "integration bad\\x0aid\\x1b[2J (evil\\x0d\\x07\\u2028name)"
    assert all(ch.isprintable() for ch in invalid.message)


def test_validation_messages_never_echo_the_token_or_the_private_key() -> None:
    canary_key = "-----BEGIN RSA PRIVATE KEY-----\nSECRETcanaryKEY\n-----END RSA PRIVATE KEY-----"
    rows = [
        row(token="ghp_SECRETcanary", repositories=5),
        row(token="ghp_SECRET canary"),
        {**row(appId="x1", privateKey=canary_key), "id": "b"},
        {**row(appId="1", privateKey="SECRETcanaryKEY"), "id": "c"},
    ]
    selection = select_integrations(rows)
    assert len(selection.invalid) == 4
    for invalid in selection.invalid:
        assert "SECRET" not in invalid.message
    # Validation registers nothing: only the integrations a run uses register their secrets (the runner).
    assert secrets.scrub("x SECRETcanaryKEY y") == "x SECRETcanaryKEY y"


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
    from painchain_gh.github.credentials import credential_fingerprint
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
    ordered = interleave_by_token(jobs, lambda job: credential_fingerprint(job.integration, job.api_url))
    assert [job.repository.full_name for job in ordered] == ["a/r0", "b/s0", "a/r1", "a/r2"]
