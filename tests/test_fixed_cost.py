"""The fixed-cost benchmark's parsing of what a run printed."""

from __future__ import annotations

from typing import Any

from benchmarks.fixed_cost import parse_importtime, slowest_repository


def test_the_slowest_repository_is_the_longest_logged_one() -> None:
    records: list[dict[str, Any]] = [
        {"event": "repository", "duration_ms": 120},
        {"event": "repository", "duration_ms": 310},
        {"event": "summary", "duration_ms": 900},  # the run, not a repository
        {"event": "repository"},
    ]
    assert slowest_repository(records) == 0.31
    assert slowest_repository([{"event": "summary", "duration_ms": 5}]) == 0.0


def test_import_times_read_top_down_with_nesting() -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:      5500 |       5500 |   child",
            "import time:      4000 |       9500 | parent",
            "import time:       100 |        100 | tiny",  # under 5 ms: left out
            "not an import line",
        ]
    )
    rows = parse_importtime(stderr)
    assert [(name.strip("\u2003"), own, total) for name, own, total in rows] == [
        ("parent", 4.0, 9.5),
        ("child", 5.5, 5.5),
    ]
    assert rows[1][0].startswith("\u2003")
