"""The pure rules that decide what is new."""

from __future__ import annotations

from painchain_gh.cursor import (
    EventsCursor,
    RunsCursor,
    events_paging_bound,
    gap_span,
    is_changed_run,
    is_new_event,
    mark_event,
    mark_run,
    runs_paging_bound,
    start_floor,
)


def test_first_sync_floor_is_now_minus_lookback_and_then_kept() -> None:
    assert start_floor(None, now=1000, lookback=100) == 900
    assert start_floor(500, now=1000, lookback=100) == 500


def test_event_is_new_until_marked_whatever_its_id_order() -> None:
    cursor = EventsCursor(floor=100)
    mark_event(cursor, "500", 200)
    assert not is_new_event(cursor, "500", 200)
    # A late event: lower id, older timestamp than one already seen, but above the floor.
    assert is_new_event(cursor, "400", 150)
    assert not is_new_event(cursor, "300", 100)  # at the floor: old


def test_window_evicts_oldest_into_the_floor() -> None:
    cursor = EventsCursor(floor=0)
    for number in range(10):
        mark_event(cursor, str(number), 100 + number, window=5)
    assert sorted(cursor.seen) == ["5", "6", "7", "8", "9"]
    assert cursor.floor == 104
    assert not is_new_event(cursor, "3", 103)  # evicted, and below the floor: never re-sent


def test_events_paging_goes_an_overlap_below_the_newest_seen() -> None:
    cursor = EventsCursor(floor=0)
    assert events_paging_bound(cursor) == 0
    mark_event(cursor, "1", 10_000)
    assert events_paging_bound(cursor) == 10_000 - 3600


def test_run_is_resent_only_when_its_state_changes() -> None:
    cursor = RunsCursor(floor=100)
    assert is_changed_run(cursor, "7", 200, "1:queued")
    mark_run(cursor, "7", 200, "1:queued")
    assert not is_changed_run(cursor, "7", 200, "1:queued")
    assert is_changed_run(cursor, "7", 200, "1:completed:success")
    assert not is_changed_run(cursor, "8", 50, "1:queued")  # created before the floor


def test_runs_paging_reaches_back_to_the_oldest_open_run() -> None:
    cursor = RunsCursor(floor=0)
    mark_run(cursor, "1", 1_000, "1:in_progress")
    mark_run(cursor, "2", 50_000, "1:completed:success")
    assert runs_paging_bound(cursor) == 1_000
    mark_run(cursor, "1", 1_000, "1:completed:failure")
    assert runs_paging_bound(cursor) == 50_000 - 600


def test_gap_only_when_everything_was_read_and_nothing_known_reached() -> None:
    assert gap_span(bound=100, oldest_fetched=200, reached_known=False, exhausted=True) == (100, 200)
    assert gap_span(bound=100, oldest_fetched=200, reached_known=True, exhausted=True) is None
    assert gap_span(bound=100, oldest_fetched=200, reached_known=False, exhausted=False) is None
    assert gap_span(bound=100, oldest_fetched=90, reached_known=False, exhausted=True) is None


def test_runs_stuck_in_a_queue_for_days_do_not_extend_paging() -> None:
    cursor = RunsCursor(floor=0)
    mark_run(cursor, "1", 1_000, "1:queued")
    mark_run(cursor, "2", 1_000 + 3 * 86_400, "1:completed:success")
    assert runs_paging_bound(cursor) == 1_000 + 3 * 86_400 - 600
