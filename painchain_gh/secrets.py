"""Every secret this process has seen, so that log output can be scrubbed as a last line of defence.

Tokens are kept out of messages by construction (SecretStr, messages built from paths and
statuses); this registry catches what construction missed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

_MINIMUM_LENGTH = 6  # shorter strings would scrub ordinary words
_known: set[str] = set()
_longest_first: list[str] = []
_lock = threading.Lock()


def register(values: Iterable[object]) -> None:
    """Remember secrets (non-strings and short values are ignored)."""
    fresh = {value.strip() for value in values if isinstance(value, str) and len(value.strip()) >= _MINIMUM_LENGTH}
    with _lock:
        _known.update(fresh)
        _longest_first[:] = sorted(_known, key=len, reverse=True)


def scrub(text: str) -> str:
    """``text`` with every known secret replaced by ``***``."""
    for secret in list(_longest_first):
        if secret in text:
            text = text.replace(secret, "***")
    return text
