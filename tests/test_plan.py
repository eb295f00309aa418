"""``painchain-gh plan`` without I/O: integrations grouped by credential as the sync groups budgets,
discovered lists counted from the state's cache (or said unknown), the limits, and the text and JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from painchain_gh.discovery.cache import CachedPage, DiscoveryCache, SourceCache
from painchain_gh.github.credentials import credential_fingerprint
from painchain_gh.models import Integration, InvalidIntegration
from painchain_gh.plan.grouping import EVENTS_API_KINDS, NOT_LISTED_YET, Listed, Plan, make_plan, streams_of
from painchain_gh.plan.output import flag_duration, human_duration, render_text, to_json
from painchain_gh.plan.sizing import Schedule, Streams, size
from painchain_gh.streams import poll
from painchain_gh.timeutil import parse_duration
from tests.doubles import API, TOKEN

KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIBkeyMaterialForTests\n-----END RSA PRIVATE KEY-----\n"


def named(identifier: str, count: int, *, token: str = TOKEN, owner: str = "acme", **config: Any) -> Integration:
    """An integration polling ``count`` repositories of ``owner``."""
    repositories = [f"{owner}/{identifier}-{index}" for index in range(count)]
    return Integration.model_validate(
        {
            "id": identifier,
            "type": "github",
            "name": f"Team {identifier}",
            "config": {"token": token, "repositories": repositories, **config},
        }
    )


def app(identifier: str, *, installation: int = 7654321, **config: Any) -> Integration:
    """An App integration polling its whole installation."""
    return Integration.model_validate(
        {
            "id": identifier,
            "type": "github",
            "name": "Acme App",
            "config": {"appId": "123456", "privateKey": KEY, "installationId": installation, **config},
        }
    )


def flat(text: str) -> str:
    """``text`` with its line wrapping undone."""
    return " ".join(text.split())


def never_listed(integration: Integration) -> Listed:
    return None


def plan_of(
    integrations: list[Integration],
    *,
    listed: Any = never_listed,
    schedule: Schedule | None = None,
    points: int = 600,
    interval: int | None = None,
    invalid: list[InvalidIntegration] | None = None,
) -> Plan:
    return make_plan(
        integrations,
        listed=listed,
        schedule=schedule or Schedule(),
        points_per_minute=points,
        polling_interval=interval,
        default_api_url=API,
        allowed_hosts=frozenset({"api.github.com"}),
        invalid=invalid or [],
    )


def cache(names: list[str], *, source: str = "installation", api_url: str = API, per_page: int = 100) -> DiscoveryCache:
    pages = tuple(
        CachedPage(
            url=f"{api_url}/installation/repositories?page={start // per_page + 1}",
            etag='W/"1"',
            repositories=tuple(names[start : start + per_page]),
        )
        for start in range(0, len(names), per_page)
    )
    return DiscoveryCache(sources={source: SourceCache(api_url=api_url, pages=pages, listed_at=1.0)})


def test_the_events_api_kinds_are_the_ones_a_poll_reads() -> None:
    assert EVENTS_API_KINDS == poll.EVENTS_API_KINDS


def test_integrations_sharing_a_token_share_one_credential_and_its_budget() -> None:
    plan = plan_of([named("a", 100), named("b", 200), named("c", 50, token="ghp_other_token_value")])
    assert [credential.sizing.repositories for credential in plan.credentials] == [300, 50]
    assert [member.id for member in plan.credentials[0].members] == ["a", "b"]
    first = plan.credentials[0]
    assert first.fingerprint == credential_fingerprint(named("a", 1), API)
    assert first.sizing == size_of(plan, 0)


def size_of(plan: Plan, index: int) -> Any:
    """The sizing the model gives the credential's repositories directly (one portion per integration)."""
    from painchain_gh.plan.sizing import Load, Portion

    credential = plan.credentials[index]
    portions = tuple(Portion(member.repositories) for member in credential.members)
    return size(Load(portions, credential.sizing.budget_per_minute, credential.sizing.hourly_limit), plan.schedule)


def test_the_lowest_points_an_integration_asks_for_is_the_credential_budget() -> None:
    plan = plan_of([named("a", 10, pointsPerMinute=300), named("b", 10, pointsPerMinute=450)])
    assert plan.credentials[0].sizing.budget_per_minute == 300
    plan = plan_of([named("a", 10, pointsPerMinute=800), named("b", 10)], points=600)
    assert plan.credentials[0].sizing.budget_per_minute == 600  # the one that asks nothing has the flag's


def test_an_app_installation_is_its_own_credential_with_a_larger_hourly_limit() -> None:
    names = [f"acme/repo-{index}" for index in range(120)]
    plan = plan_of([app("app1")], listed=lambda integration: cache(names))
    credential = plan.credentials[0]
    assert credential.kind == "app" and credential.app_id == "123456" and credential.installation_id == 7654321
    assert credential.sizing.repositories == 120
    assert credential.sizing.hourly_limit == 5000 + 50 * 100
    assert credential.sizing.listing_per_run == 2  # two pages, listed every run
    big = plan_of([app("app1")], listed=lambda integration: cache([f"acme/r{index}" for index in range(1000)]))
    assert big.credentials[0].sizing.hourly_limit == 12500


def test_a_discovered_list_counts_its_repositories_once_with_the_named_ones() -> None:
    integration = named("org", 2, repositories=["acme/org-0", "acme/org-1", "acme/*"])
    listed = cache(["acme/org-0", "acme/ORG-1", "acme/tools"], source="owner:acme")
    plan = plan_of([integration], listed=lambda _: listed)
    assert plan.credentials[0].members[0].repositories == 3
    assert plan.credentials[0].members[0].unknown is None
    assert not plan.unknown


@pytest.mark.parametrize(
    "listed",
    [
        None,
        "the state cannot be read (broken)",
        cache(["acme/x"], source="owner:other"),
        cache(["acme/x"], source="owner:acme", api_url="https://ghe.example.com/api/v3"),
    ],
)
def test_a_discovered_list_the_state_does_not_hold_is_said_unknown(listed: Listed) -> None:
    integration = named("org", 1, repositories=["acme/named", "acme/*"])
    plan = plan_of([integration, named("ok", 10, token="ghp_another_token_x")], listed=lambda _: listed)
    member = plan.credentials[0].members[0]
    assert member.repositories == 1  # only the named one
    assert member.unknown == (listed if isinstance(listed, str) else NOT_LISTED_YET)
    assert plan.unknown == [member]
    assert all(credential.sizing.fits for credential in plan.credentials)
    assert not plan.fits
    assert "Not everything is known yet (exit 3)." in render_text(plan)


def test_a_list_is_only_asked_of_integrations_that_discover() -> None:
    asked: list[str] = []

    def listed(integration: Integration) -> Listed:
        asked.append(integration.id)
        return None

    plan_of([named("a", 3), app("app1")], listed=listed)
    assert asked == ["app1"]


def test_the_streams_follow_the_chosen_kinds() -> None:
    assert streams_of(named("a", 1)) == Streams()
    assert streams_of(named("a", 1, events=["push", "workflow_run"])) == Streams(runs=True, deployments=False)
    assert streams_of(named("a", 1, events=["deployment"])) == Streams(events=False, runs=False)
    cheap = plan_of([named("a", 100, events=["push"])]).credentials[0].sizing
    full = plan_of([named("a", 100)]).credentials[0].sizing
    assert cheap.requests_per_run < full.requests_per_run


def test_container_images_add_a_request_per_owner() -> None:
    integration = named(
        "a", 4, repositories=["acme/a", "acme/b", "beta/c"], containerImages=True, events=["push", "image"]
    )
    with_images = plan_of([integration]).credentials[0].sizing
    without = plan_of([named("a", 4, repositories=["acme/a", "acme/b", "beta/c"], events=["push"])])
    assert with_images.requests_per_run == pytest.approx(without.credentials[0].sizing.requests_per_run + 2)


def test_a_polling_interval_makes_a_repository_cheaper_and_staler() -> None:
    every_run = plan_of([named("a", 100)]).credentials[0].sizing
    slower = plan_of([named("a", 100, polling={"interval": 300})]).credentials[0].sizing
    assert slower.polled_every == 300  # a fifth of the polls, each more likely to sweep or find activity
    assert slower.requests_per_run < every_run.requests_per_run / 2
    assert plan_of([named("a", 100)], interval=600).credentials[0].sizing.polled_every == 600  # POLLING_INTERVAL


def test_an_api_url_not_allowed_is_reported_not_counted() -> None:
    refused = named("ghe", 10, apiUrl="https://ghe.example.com/api/v3")
    plan = plan_of([refused, named("a", 1)], invalid=[InvalidIntegration("bad", "Bad", "token: missing")])
    assert [credential.members[0].id for credential in plan.credentials] == ["a"]
    assert [item.id for item in plan.invalid] == ["bad", "ghe"]
    text = flat(render_text(plan))
    assert "integration ghe (Team ghe) is not counted: apiUrl origin" in text
    assert "integration bad (Bad) is not counted: token: missing" in text


def test_the_limits_fail_when_the_settings_pass_github_s() -> None:
    assert all(check.ok for check in plan_of([named("a", 10)]).checks)
    loud = {check.limit: check.ok for check in plan_of([named("a", 10)], points=800).checks}
    assert loud["points a minute"] is False  # two runs' bursts: 960 in a minute
    late = {check.limit: check.ok for check in plan_of([named("a", 10)], schedule=Schedule(max_runtime=60)).checks}
    assert late["runs apart"] is False


def test_what_fits_exits_0_and_what_does_not_says_what_would() -> None:
    small = plan_of([named("a", 100)])
    assert small.fits
    assert render_text(small).endswith("Everything fits (exit 0).")
    large = plan_of([named(f"t{index}", 100) for index in range(10)])
    assert not large.fits
    text = flat(render_text(large))
    assert "What does not fit:" in text
    needs = large.credentials[0].sizing.needs
    assert needs is not None
    assert f"{needs.credentials} tokens or App installations in all" in text
    assert "Tokens of one GitHub user share that user's budget" in text
    assert "More shards do not help a credential" in text
    assert text.endswith("Something does not fit (exit 3).")


def test_twenty_credentials_with_the_same_shortfall_are_named_together() -> None:
    plan = plan_of([named(f"t{index}", 500, token=f"ghp_token_number_{index}") for index in range(20)])
    text = flat(render_text(plan))
    assert text.count("a run needs about") == 1
    assert "and 15 more:" in text


def test_names_from_the_backend_are_escaped_and_secrets_never_printed() -> None:
    hostile = Integration.model_validate(
        {
            "id": "evil",
            "type": "github",
            "name": "\x1b]0;pwned\x07Team\u202e",
            "config": {"token": TOKEN, "repositories": ["acme/api"]},
        }
    )
    plan = plan_of([hostile, app("app1", installation=99)], listed=lambda _: cache(["acme/one"]))
    text = render_text(plan)
    document = json.dumps(to_json(plan))
    for output in (text, document):
        assert TOKEN not in output and "MIIBkeyMaterial" not in output
        assert "\x1b" not in output and "\u202e" not in output
    assert "evil (\\x1b]0;pwned\\x07" in text  # the table's cell, cut to its width
    assert f"token {plan.credentials[0].fingerprint[:8]}" in text
    assert "App 123456 installation 99" in text


def test_the_json_carries_every_figure() -> None:
    plan = plan_of([named("a", 1000)])
    document = json.loads(json.dumps(to_json(plan)))
    credential = document["credentials"][0]
    sizing = plan.credentials[0].sizing
    assert document["fits"] is False
    assert credential["repositories"] == 1000
    assert credential["fresh_repositories"] == sizing.fresh
    assert credential["stalest_seconds"] == sizing.stalest
    assert credential["first_sync"]["requests"] == sizing.first_sync_requests
    assert credential["needs"]["credentials"] == sizing.needs.credentials  # type: ignore[union-attr]
    assert credential["fingerprint"] == plan.credentials[0].fingerprint
    assert {check["limit"] for check in document["github_limits"]} >= {"points a minute", "requests an hour"}
    assert document["assumptions"]["active_extra_requests"] == {"workflow_runs": 6, "deployments": 1, "enrichment": 3}


@pytest.mark.parametrize(
    ("seconds", "text"), [(45, "45s"), (290, "4m 50s"), (300, "5m"), (3530, "59m"), (25200, "7h"), (6000, "1h 40m")]
)
def test_durations_read_well(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize("seconds", [290.0, 300.0, 203.4, 3600.0])
def test_suggested_flags_are_durations_the_cli_reads(seconds: float) -> None:
    assert parse_duration(flag_duration(seconds)) >= seconds


def test_no_integration_at_all_is_a_plan_too() -> None:
    plan = plan_of([])
    assert plan.fits and plan.credentials == []
    text = render_text(plan)
    assert "total, 0 credentials" in text and text.endswith("Everything fits (exit 0).")
    assert to_json(plan)["credentials"] == []


def test_a_process_that_cannot_carry_its_share_is_told_to_shard() -> None:
    many = [named(f"t{index}", 100, token=f"ghp_token_number_{index}") for index in range(100)]
    plan = plan_of(many)
    assert all(credential.sizing.fits for credential in plan.credentials) and not plan.fits
    assert plan.process.shards_needed is not None and plan.process.shards_needed > 1
    text = flat(render_text(plan))
    assert f"Any one of these would carry it: {plan.process.shards_needed} shards (they add processes" in text
    sharded = plan_of(many, schedule=Schedule(shards=plan.process.shards_needed))
    assert sharded.fits
