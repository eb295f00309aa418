"""Parsing and formatting of GitHub timestamps and human durations (pure)."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_time(value: object) -> int | None:
    """Epoch seconds of an ISO-8601 timestamp such as ``2026-11-25T10:03:12Z``; None if not one."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return int(parsed.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


MIN_EPOCH = 0  # 1970-01-01T00:00:00Z
MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can show


def is_sane_epoch(value: object) -> bool:
    """Whether ``value`` is a whole number of seconds between 1970 and the end of year 9999."""
    return isinstance(value, int) and not isinstance(value, bool) and MIN_EPOCH <= value <= MAX_EPOCH


def format_time(epoch: float) -> str:
    """ISO-8601 UTC with a ``Z`` suffix, second precision; values outside 1970..9999 (or not
    finite) are clamped to the nearest end instead of raising."""
    if isinstance(epoch, float) and math.isnan(epoch):
        epoch = MIN_EPOCH
    seconds = int(min(max(epoch, MIN_EPOCH), MAX_EPOCH))
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(value: str) -> float:
    """Seconds in ``90``, ``45s``, ``15m``, ``24h`` or ``7d``; raises ValueError otherwise."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 45s, 15m, 24h, 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


def format_duration(seconds: float) -> str:
    """``seconds`` as :func:`parse_duration` reads it, in the largest whole unit up to hours (``24h``)."""
    for unit in ("h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
