"""Every secret this process has seen, so that log output can be scrubbed as a last line of defence.

Tokens are kept out of messages by construction (SecretStr, messages built from paths and
statuses); this registry catches what construction missed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from painchain_gh.text import escape

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


def _candidates(extra: Iterable[str]) -> list[str]:
    own = [value for value in extra if len(value) >= _MINIMUM_LENGTH]
    return sorted(own, key=len, reverse=True) + list(_longest_first) if own else list(_longest_first)


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret (and every one of ``extra``) replaced by ``***``."""
    for secret in _candidates(extra):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def contains_secret(text: str, extra: Iterable[str] = ()) -> bool:
    """Whether ``text`` holds a known secret (or one of ``extra``)."""
    return any(secret in text for secret in extra if len(secret) >= _MINIMUM_LENGTH) or any(
        secret in text for secret in _longest_first
    )


def safe_text(text: str, *, limit: int, extra: Iterable[str] = ()) -> str:
    """Untrusted text ready for a message: secrets scrubbed first, then escaped and cut to ``limit``
    (cutting first could leave the start of a secret that the scrubber no longer recognizes)."""
    return escape(scrub(text, extra), limit)
