"""The secondary-limits benchmark's own logic (benchmarks/limits.py): durations, flags, staleness, events."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from benchmarks.limits import (
    ACTIVITY_EVENTS,
    HISTORY_EVENTS,
    World,
    longest_gaps,
    missing_events,
    parse_args,
    percentile,
    plan_command,
    request_kind,
    simulated_seconds,
    staleness,
    summary_of,
    supported_flags,
    sync_command,
)
from benchmarks.scenario import Scenario
from tests.fakes import FakeBackend, FakeGitHub


def test_durations_are_read_in_githubs_time() -> None:
    assert [simulated_seconds(text) for text in ("300", "90s", "4.5m", "1h")] == [300.0, 90.0, 270.0, 3600.0]
    for bad in ("", "5x", "-1m", "0s", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            simulated_seconds(bad)


def test_only_the_optional_flags_a_build_shows_are_passed_and_every_duration_is_scaled() -> None:
    help_text = "│ --max-runtime  <str> │\n│ --sweep-interval <str>  Poll runs of quiet repositories... │"
    flags = supported_flags(help_text)
    assert flags == {"--sweep-interval"}
    args = parse_args(["--time-scale", "10", "--points-per-minute", "600"])
    command = sync_command(["painchain-gh"], args, Path("s.json"), flags)
    assert command[command.index("--max-runtime") + 1] == "27s"  # 4.5 minutes / 10
    assert command[command.index("--sweep-interval") + 1] == "90s"  # 15 minutes / 10
    assert "--points-per-minute" not in command and "--concurrency" not in command
    both = sync_command(["painchain-gh"], args, Path("s.json"), supported_flags("--points-per-minute --sweep-interval"))
    assert both[both.index("--points-per-minute") + 1] == "600"
    assert supported_flags("--max-runtime only") == frozenset()


def test_staleness_counts_never_polled_repositories_from_the_start() -> None:
    polled = {"acme/api": 95.0, "acme/web": 40.0}
    ages = staleness(polled, ["acme/API", "acme/web", "acme/new"], now=100.0, since=10.0)
    assert ages == [5.0, 60.0, 90.0]
    assert percentile(ages, 0.95) == 90.0 and percentile(ages, 0.5) == 60.0
    assert percentile(list(map(float, range(1, 101))), 0.95) == 95.0
    assert percentile([], 0.95) == 0.0


def test_missing_events_are_counted_per_repository() -> None:
    expected = {"a/x": 3, "a/y": 7, "a/z": 3}
    assert missing_events(expected, {"a/x": 3, "a/y": 5, "a/z": 9}) == 2  # z's extra rows do not cover y
    assert missing_events(expected, {}) == 13


def test_the_summary_is_the_last_one_logged() -> None:
    records: list[dict[str, Any]] = [
        {"event": "summary", "deferred": 1},
        {"event": "repository"},
        {"event": "summary", "deferred": 2},
    ]
    assert summary_of(records) == {"event": "summary", "deferred": 2}
    assert summary_of([{"event": "repository"}]) == {}


def test_activity_adds_four_forwardable_events_to_a_new_sample_each_round() -> None:
    scenario = Scenario(repos=40, repos_per_integration=20, active_share=0.0)
    github, backend = FakeGitHub(), FakeBackend()
    world = World(scenario, github, backend)
    assert sum(world.expected.values()) == 40 * HISTORY_EVENTS
    first = world.add_activity(0.1)
    second = world.add_activity(0.1)
    assert first == second == 4
    assert sum(world.expected.values()) == 40 * HISTORY_EVENTS + 8 * ACTIVITY_EVENTS
    active = [name for name, count in world.expected.items() if count > HISTORY_EVENTS]
    owner, repo = active[0].split("/")
    data = github.repo(owner, repo)
    rounds = (world.expected[active[0]] - HISTORY_EVENTS) // ACTIVITY_EVENTS
    assert len(data.runs) == rounds and len(data.pulls) == rounds
    assert {event["type"] for event in data.events} == {"PushEvent", "PullRequestEvent", "IssuesEvent"}


def test_the_longest_gap_runs_from_the_previous_poll_through_the_phase_to_its_end() -> None:
    polls = {"acme/api": [10.0, 40.0, 70.0], "acme/web": [10.0, 80.0], "acme/old": [10.0]}
    gaps = longest_gaps(polls, ["acme/API", "acme/web", "acme/old", "acme/new"], origin=0.0, start=30.0, end=90.0)
    # api: 10 -> 40 -> 70 -> 90; web: 10 -> 80; old: never again, 10 -> 90; new: never, from the origin
    assert gaps == [30.0, 70.0, 80.0, 90.0]
    first = longest_gaps(polls, ["acme/api", "acme/new"], origin=0.0, start=0.0, end=20.0)
    assert first == [10.0, 20.0]  # the first sync: from the start to the poll, or to the end if none


def test_requests_are_told_apart_by_what_they_read() -> None:
    assert request_kind("/repos/a/b/events?per_page=100") == "events"
    assert request_kind("/repos/a/b/actions/runs") == "runs"
    assert request_kind("/repos/a/b/deployments") == "deployments"
    assert request_kind("/repos/a/b/deployments/7/statuses") == "deployments"
    assert request_kind("/repos/a/b/actions/runs/7/jobs") == "other"
    assert request_kind("/repos/a/b/compare/x...y") == "other"


def test_the_plan_is_asked_in_githubs_time_with_the_runs_settings() -> None:
    args = parse_args(["--time-scale", "10", "--schedule", "1m", "--max-runtime", "50s", "--concurrency", "16"])
    command = plan_command(["painchain-gh"], args, Path("s.json"))
    assert command[:2] == ["painchain-gh", "plan"]
    value = {flag: command[command.index(flag) + 1] for flag in ("--every", "--max-runtime", "--active-per")}
    assert value == {"--every": "60s", "--max-runtime": "50s", "--active-per": "60s"}
    assert command[command.index("--active") + 1] == "5%"
    assert command[command.index("--concurrency") + 1] == "16"
    assert command[command.index("--sweep-interval") + 1] == "900s"
    assert "--points-per-minute" not in command
