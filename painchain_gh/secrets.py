"""Every secret this run uses, so that log output can be scrubbed as a last line of defence.

Tokens are kept out of messages by construction (SecretStr, messages built from paths and
statuses); this registry catches what construction missed. Only values that can be secrets are
registered: a tenant writes its own config, so a "token" such as ``event`` or ``github`` must not
become a pattern that rewrites everybody's output. Scrubbing works on values (a message, a field's
text), never on encoded structure (JSON text, stored bodies), so a secret can hide a value but
never break a record.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from painchain_gh.text import escape

# Every real GitHub token is at least 40 characters (ghp_, gho_, ghs_, github_pat_, the older 40
# hex digits) and every line of an App's private key 64; a value from a tenant's config shorter than
# this, or made of one kind of character only, is no secret worth a pattern in everybody's output.
TENANT_MINIMUM = 30
# Trusted values need only be this long: what the operator sets in the environment
# (BACKEND_API_TOKEN, GITHUB_TOKEN), and a request's own credential in messages about that request.
TRUSTED_MINIMUM = 8

_known: set[str] = set()
_longest_first: list[str] = []
_lock = threading.Lock()


def can_be_secret(value: object, *, trusted: bool = False) -> bool:
    """Whether ``value`` can be a secret: from a tenant, at least :data:`TENANT_MINIMUM` characters of
    at least two kinds among lower case letters, upper case letters and digits; when ``trusted``
    (the operator's own, or a request's own credential), at least :data:`TRUSTED_MINIMUM` characters."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if trusted:
        return len(text) >= TRUSTED_MINIMUM
    if len(text) < TENANT_MINIMUM:
        return False
    kinds = (any(ch.islower() for ch in text), any(ch.isupper() for ch in text), any(ch.isdigit() for ch in text))
    return sum(kinds) >= 2


def register(values: Iterable[object], *, trusted: bool = False) -> None:
    """Remember secrets; values that cannot be secrets (see :func:`can_be_secret`) are ignored."""
    fresh = {value.strip() for value in values if isinstance(value, str) and can_be_secret(value, trusted=trusted)}
    if not fresh:
        return
    with _lock:
        _known.update(fresh)
        _longest_first[:] = sorted(_known, key=len, reverse=True)


def _candidates(extra: Iterable[str]) -> list[str]:
    # ``extra`` is the credential of the request a message is about: it only ever hides text in
    # messages about its own requests, so the operator's (lower) floor applies.
    own = [value for value in extra if can_be_secret(value, trusted=True)]
    return sorted(own, key=len, reverse=True) + list(_longest_first) if own else list(_longest_first)


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret (and every one of ``extra``, the credential the text is about,
    that can be a secret) replaced by ``***``."""
    for secret in _candidates(extra):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def scrub_values(value: Any) -> Any:
    """A copy of a record's fields with every text value scrubbed; keys, numbers and structure stay."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {key: scrub_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_values(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))


def contains_secret(text: str, extra: Iterable[str] = ()) -> bool:
    """Whether ``text`` holds a known secret (or one of ``extra`` that can be a secret)."""
    return any(secret in text for secret in extra if can_be_secret(secret, trusted=True)) or any(
        secret in text for secret in _longest_first
    )


def safe_text(text: str, *, limit: int, extra: Iterable[str] = ()) -> str:
    """Untrusted text ready for a message: secrets scrubbed first, then escaped and cut to ``limit``
    (cutting first could leave the start of a secret that the scrubber no longer recognizes)."""
    return escape(scrub(text, extra), limit)
