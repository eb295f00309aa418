"""The compact backend cursor (version 3): what it keeps, how it packs, and how it fits the body limit."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import zlib
from typing import Any

import pytest

from painchain_gh.cursor import RepoState, mark_event, mark_run
from painchain_gh.store.checks import parse_repo_state
from painchain_gh.store.cursor_codec import (
    LATE_WINDOW,
    MAX_DECODED_BYTES,
    CursorFormatError,
    CursorTooLarge,
    decode,
    encode,
    size_of,
    slim,
)

NOW = 1_790_000_000
OWNER = "0123456789abcdef"


def etag(seed: object) -> str:
    return 'W/"' + hashlib.sha256(str(seed).encode()).hexdigest() + '"'


def quiet(name: str, *, runs_etag: str | None = None, deployments_etag: str | None = None) -> RepoState:
    state = RepoState(last_polled_at=NOW, poll_interval=60)
    state.events.floor, state.events.etag, state.events.etag_owner = NOW - 86400, etag(name), OWNER
    state.runs.floor, state.runs.etag = NOW - 86400, runs_etag
    state.runs.etag_owner = OWNER if runs_etag else None
    state.deployments.floor, state.deployments.etag = NOW - 86400, deployments_etag
    state.deployments.etag_owner = OWNER if deployments_etag else None
    return state


def unpacked(repos: dict[str, RepoState], budget: int = 10**9) -> dict[str, RepoState]:
    return {name: parse_repo_state(value) for name, value in decode(encode(repos, budget=budget).cursor).items()}


def test_slim_keeps_what_can_still_arrive_and_folds_the_rest_into_the_floor() -> None:
    state = RepoState(last_polled_at=NOW)
    mark_event(state.events, "old", NOW - LATE_WINDOW - 10)
    mark_event(state.events, "older", NOW - LATE_WINDOW - 500)
    mark_event(state.events, "late", NOW - LATE_WINDOW + 10)  # could still be answered by a late twin
    mark_run(state.runs, "done", NOW - LATE_WINDOW - 100, "1:completed:success")
    mark_run(state.runs, "stuck", NOW - 3 * LATE_WINDOW, "1:in_progress")  # open: may still change
    slimmed = slim(state)
    assert slimmed.events.seen == {"late": NOW - LATE_WINDOW + 10}
    assert slimmed.events.floor == NOW - LATE_WINDOW - 10  # "old" and "older" are at or below it: old
    assert set(slimmed.runs.runs) == {"stuck"}
    assert slimmed.runs.floor == NOW - LATE_WINDOW - 100
    assert slim(slimmed) == slimmed


def test_a_round_trip_gives_back_the_slim_state_with_every_etag() -> None:
    repos = {f"acme/r{n}": quiet(f"acme/r{n}", runs_etag=etag("empty runs")) for n in range(5)}
    for place, state in enumerate(repos.values()):
        state.poll_rank = place
    mark_event(repos["acme/r1"].events, "40000000001", NOW - 60)
    repos["acme/r2"].runs.etag_owner = "another"
    assert unpacked(repos) == {name: slim(state) for name, state in repos.items()}
    assert unpacked(repos)["acme/r3"].poll_rank == 3  # each repository's place in its run travels too


def test_identical_etags_are_stored_once() -> None:
    shared = {f"acme/r{n}": quiet(f"acme/r{n}", runs_etag=etag("empty runs")) for n in range(50)}
    distinct = {f"acme/r{n}": quiet(f"acme/r{n}", runs_etag=etag(n)) for n in range(50)}
    assert size_of(encode(shared, budget=10**9).cursor) + 50 * 30 < size_of(encode(distinct, budget=10**9).cursor)


def test_over_the_budget_the_least_useful_etags_go_first_and_never_an_id() -> None:
    repos = {f"acme/r{n}": quiet(f"acme/r{n}", runs_etag=etag(f"runs{n}")) for n in range(40)}
    mark_event(repos["acme/r7"].events, "40000000007", NOW - 60)  # the most recently active
    full = encode(repos, budget=10**9)
    fitted = encode(repos, budget=full.size - 600)
    assert fitted.size <= full.size - 600 and 0 < fitted.dropped_etags <= 40
    back = unpacked(repos, budget=full.size - 600)
    assert all(state.events.etag is not None for state in back.values())  # runs ETags went first
    assert sum(state.runs.etag is None for state in back.values()) == fitted.dropped_etags
    tight = unpacked(repos, budget=full.size // 2)
    assert tight["acme/r7"].events.etag is not None  # the active repository keeps its events ETag longest
    assert tight["acme/r7"].events.seen == {"40000000007": NOW - 60}
    assert all(state.events.floor == NOW - 86400 for state in tight.values())


def test_a_cursor_that_cannot_fit_without_etags_is_refused_with_its_size() -> None:
    state = RepoState(last_polled_at=NOW)
    for number in range(200):
        mark_event(state.events, str(40_000_000_000 + number * 7919), NOW - number)
    with pytest.raises(CursorTooLarge) as refused:
        encode({"acme/api": state}, budget=200)
    assert refused.value.size > 200 and refused.value.budget == 200


def test_a_thousand_repositories_fit_the_backends_100_kb() -> None:
    """1,000 repositories in one integration, 5% of them recently active: events ETags for all, the
    other streams' ETags as far as they fit (the real backend refuses bodies over 100 kB)."""
    rng = random.Random(7)
    repos: dict[str, RepoState] = {}
    for number in range(1000):
        name = f"acme/service-{number:04d}-{rng.choice(['api', 'web', 'worker'])}"
        state = quiet(name, runs_etag=etag(f"runs{number}") if number % 10 < 7 else etag("empty runs"))
        state.deployments.etag = etag(f"deploys{number}") if number % 5 == 0 else etag("empty deployments")
        state.deployments.etag_owner = OWNER
        if number % 20 == 0:
            for event in range(8):
                mark_event(state.events, str(40_000_000_000 + number * 100 + event), NOW - rng.randint(60, 20_000))
            mark_run(state.runs, str(9_000_000_000 + number), NOW - 3000, "1:completed:failure")
        repos[name] = state
    encoded = encode({name: slim(state) for name, state in repos.items()}, budget=96 * 1024)
    assert encoded.size <= 96 * 1024
    back = {name: parse_repo_state(value) for name, value in decode(encoded.cursor).items()}
    assert len(back) == 1000
    assert all(state.events.etag is not None for state in back.values())
    assert {name: state.events.seen for name, state in back.items()} == {
        name: slim(state).events.seen for name, state in repos.items()
    }


def _cursor(data: bytes) -> dict[str, Any]:
    return {"version": 3, "encoding": "zlib+base64", "data": base64.b64encode(data).decode()}


@pytest.mark.parametrize(
    ("cursor", "problem"),
    [
        ({"version": 3, "encoding": "zlib+base64", "data": "%%%"}, "not readable"),
        (_cursor(b"not zlib at all"), "not readable"),
        (_cursor(zlib.compress(b"[1, 2]")), "has no repos object"),
        (_cursor(zlib.compress(b'{"repos": {}, "etags": "x"}')), "has no ETag table"),
        (_cursor(zlib.compress(b"{" * 100_000)), "not readable"),
        (_cursor(zlib.compress(b" " * (MAX_DECODED_BYTES + 1))), "truncated or larger"),
        (_cursor(zlib.compress(b'{"repos": {}, "etags": []}')[:-4]), "truncated or larger"),
        ({"version": 3, "encoding": "lz4", "data": ""}, "no data in a known encoding"),
    ],
)
def test_undecodable_cursors_are_refused_in_plain_words(cursor: dict[str, Any], problem: str) -> None:
    with pytest.raises(CursorFormatError, match=problem):
        decode(cursor)


def test_an_etag_reference_out_of_the_table_leaves_that_stream_without_an_etag() -> None:
    document = {"etags": ['W/"a"'], "owner": OWNER, "repos": {"acme/api": {"events": {"e": 5}, "runs": {"e": 0}}}}
    repos = decode(_cursor(zlib.compress(json.dumps(document).encode())))
    state = parse_repo_state(repos["acme/api"])
    assert state.events.etag is None
    assert (state.runs.etag, state.runs.etag_owner) == ('W/"a"', OWNER)
