"""The benchmarks' shared options: a scaled budget window for painchain-gh and the fake alike."""

from __future__ import annotations

import argparse

import pytest

from benchmarks import fixed_cost, memory
from benchmarks.scenario import (
    Scenario,
    budget_window_argument,
    budget_window_env,
    fakes,
    history,
    make_active,
    recorded_compare,
)


def test_a_scaled_window_reaches_painchain_gh_only_when_given() -> None:
    assert budget_window_env(None) == {}
    assert budget_window_env(6.0) == {"PAINCHAIN_GH_BUDGET_WINDOW": "6"}
    assert budget_window_argument("0.5") == 0.5
    for bad in ("0", "-6", "six", "inf", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            budget_window_argument(bad)


def test_the_fake_counts_secondary_limits_in_the_same_window() -> None:
    scenario = Scenario(repos=2, repos_per_integration=2)
    with fakes(scenario, latency=0.0, backend_latency=0.0, window_seconds=6.0) as (github, _):
        assert github.secondary.window_seconds == 6.0 and not github.secondary.enforce
    with fakes(scenario, latency=0.0, backend_latency=0.0) as (github, _):
        assert github.secondary.window_seconds == 60.0


def test_another_build_is_measured_as_given() -> None:
    args = fixed_cost.parse_args(["--painchain-gh", "/opt/old/bin/painchain-gh", "--no-probe", "--budget-window", "6"])
    assert fixed_cost.program_of(args) == ["/opt/old/bin/painchain-gh"] and args.budget_window == 6.0
    with pytest.raises(SystemExit):  # the probes import this build
        fixed_cost.parse_args(["--painchain-gh", "/opt/old/bin/painchain-gh"])
    with pytest.raises(SystemExit):  # its memory can only be measured untraced
        memory.parse_args(["--painchain-gh", "/opt/old/bin/painchain-gh"])
    chosen = memory.parse_args(
        ["--painchain-gh", "p", "--no-trace", "--history-pulls", "5", "--backfill-details", "7d"]
    )
    assert (chosen.history_pulls, chosen.backfill_details) == (5, "7d")


def test_recorded_compares_answer_every_push_of_the_history_and_the_activity() -> None:
    scenario = Scenario(repos=2, repos_per_integration=2, history_events=9, active_share=1.0, recorded_compares=True)
    data = history(scenario, 0, now=1_800_000_000.0)
    pushes = [event["payload"] for event in data.events if event["type"] == "PushEvent"]
    assert pushes and all(data.compares[f"{p['before']}...{p['head']}"] is recorded_compare() for p in pushes)
    assert recorded_compare()["total_commits"] == 9 and recorded_compare()["status"] == "ahead"
    assert history(Scenario(repos=2, repos_per_integration=2), 0, now=1_800_000_000.0).compares == {}
    with fakes(scenario, latency=0.0, backend_latency=0.0) as (github, _):
        make_active(github, scenario)
        owner, name = scenario.full_name(1).split("/")
        events = github.repo(owner, name).events
        newest = next(event["payload"] for event in events if event["type"] == "PushEvent")
        assert f"{newest['before']}...{newest['head']}" in github.repo(owner, name).compares
