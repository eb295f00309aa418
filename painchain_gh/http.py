"""The HTTP plumbing shared by the GitHub and backend clients: sessions, retries, deadlines."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from painchain_gh import __version__

USER_AGENT = f"painchain-gh/{__version__}"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0

Sleep = Callable[[float], None]


def new_session(*, pool_size: int) -> requests.Session:
    """A session with pooled keep-alive connections per host and no hidden retries.

    The environment (proxies, CA bundle) is read once here and in :func:`proxies_for`, not on
    every request as ``requests`` does by default (with a ``~/.netrc`` lookup each time).
    """
    session = requests.Session()
    session.cookies = _NoCookies()
    session.trust_env = False
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class _NoCookies(requests.cookies.RequestsCookieJar):
    """Neither GitHub's API nor the backend needs cookies; the shared jar's lock would make
    every response of every worker thread wait for the others."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Keep nothing."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts; a server's ``Retry-After`` wins."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class Deadline:
    """The time a run may still take (``--max-runtime``)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def expire(self) -> None:
        """End the run now (SIGTERM): nothing new starts, in-flight work stops at the next step."""
        self._end = self._clock()

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        """Whether no time is left."""
        return self.remaining() <= 0

    def timeout(self, read: float = READ_TIMEOUT) -> tuple[float, float]:
        """A (connect, read) timeout that does not outlive the deadline by much."""
        left = max(1.0, self.remaining())
        return (min(CONNECT_TIMEOUT, left), min(read, left))


def proxies_for(url: str) -> dict[str, str]:
    """The proxies the environment (``HTTPS_PROXY``, ``NO_PROXY``, ...) sets for ``url``'s host."""
    return dict(requests.utils.get_environ_proxies(url))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (HTTP dates are rare here: ignored)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None
