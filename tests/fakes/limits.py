"""GitHub's secondary rate limits, as :class:`~tests.fakes.github.FakeGitHub` applies them.

Source: GitHub's documentation, "Rate limits for the REST API", section "About secondary rate
limits" (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api; the
github/docs reusable ``data/reusables/rest-api/secondary-rate-limit-rest-graphql.md``):

- "No more than 100 concurrent requests are allowed" (REST and GraphQL together);
- "No more than 900 points per minute are allowed for REST API endpoints"; a GET, HEAD or
  OPTIONS request costs 1 point, a POST, PATCH, PUT or DELETE 5 (a ``304`` is a GET: 1 point);
- past either, GitHub answers 403 or 429 with ``Retry-After`` and the message below, and
  "continuing to make requests while you are rate limited may result in the banning of your
  integration".

Limits apply per identity: a personal token, an App installation (whichever of its tokens is
used), an App itself (requests signed with its JWT, the token mint included), or the anonymous
caller. GraphQL has its own points budget (2,000 a minute), which the fake does not model:
``POST /graphql`` counts towards concurrency only. The CPU-time and content-creation limits are
not modelled either.

:class:`SecondaryUsage` keeps, per identity, the requests in flight and the points of a rolling
window (a deque of ``(time, points, admitted)``), with its peaks and violations. It counts
whether or not the limits are enforced: with ``enforce`` off nothing is refused, and a violation
is a request that would have been refused by the concurrency or points rule.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

CONCURRENCY, POINTS, WHILE_LIMITED = "concurrency", "points", "while_limited"
KINDS = (CONCURRENCY, POINTS, WHILE_LIMITED)
ANONYMOUS = "anonymous"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_POINTS, WRITE_POINTS = 1, 5
MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
DOCUMENTATION_URL = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"


def token_identity(token: str) -> str:
    """The identity of a personal (or any non-installation) token."""
    return f"token:{token}"


def installation_identity(installation_id: int) -> str:
    """The identity shared by every token minted for an App installation."""
    return f"installation:{installation_id}"


def app_identity(app_id: object) -> str:
    """The identity of an App authenticating with its JWT."""
    return f"app:{app_id}"


def points_of(method: str, path: str) -> int:
    """Secondary-limit points of one REST request (GraphQL: 0 here, it has its own budget)."""
    if path.endswith("/graphql"):
        return 0
    return READ_POINTS if method.upper() in READ_METHODS else WRITE_POINTS


@dataclass
class SecondaryLimits:
    """The limits a fake GitHub applies; GitHub's documented values by default, not enforced.

    ``window_seconds`` scales time: at 6.0, 900 points per 6 s and ``Retry-After: 6`` stand for
    GitHub's 900 per minute and 60 s, so that a benchmark runs ten minutes in one.
    """

    enforce: bool = False
    max_concurrent: int = 100
    points: int = 900
    window_seconds: float = 60.0
    status: int = 403  # GitHub answers 403 or 429

    @property
    def retry_after(self) -> int:
        """Seconds an identity stays limited after a violation (GitHub's 60, scaled with the window)."""
        return max(1, math.ceil(self.window_seconds))


@dataclass(frozen=True)
class Refusal:
    """A request refused with the secondary-limit answer: why, and the ``Retry-After`` to send."""

    kind: str
    retry_after: int


@dataclass
class _Usage:
    """One identity's live counters (guarded by :class:`SecondaryUsage`'s lock)."""

    in_flight: int = 0
    peak_in_flight: int = 0
    requests: int = 0
    points: int = 0
    peak_points: int = 0
    window: deque[tuple[float, int, bool]] = field(default_factory=deque)
    window_points: int = 0  # every request in the window, refused ones included
    window_admitted: int = 0  # the requests answered normally: what the points rule checks
    limited_until: float = 0.0
    violations: dict[str, int] = field(default_factory=dict)

    def expire(self, horizon: float) -> None:
        """Drop the entries at or before ``horizon`` (the window is ``(now - window, now]``)."""
        window = self.window
        while window and window[0][0] <= horizon:
            _, points, admitted = window.popleft()
            self.window_points -= points
            if admitted:
                self.window_admitted -= points


@dataclass(frozen=True)
class IdentityReport:
    """What one identity did since the counts were last cleared."""

    identity: str
    requests: int
    points: int
    peak_in_flight: int
    peak_points: int  # the most points sent in any one window (refused requests included)
    violations: Mapping[str, int]

    @property
    def total_violations(self) -> int:
        """Violations of every kind."""
        return sum(self.violations.values())


@dataclass(frozen=True)
class UsageReport:
    """Every identity's counts, and the peak of requests in flight over all of them."""

    identities: Mapping[str, IdentityReport]
    peak_in_flight: int

    @property
    def requests(self) -> int:
        """Requests of every identity."""
        return sum(r.requests for r in self.identities.values())

    @property
    def points(self) -> int:
        """Points sent by every identity."""
        return sum(r.points for r in self.identities.values())

    @property
    def peak_points(self) -> int:
        """The most points any one identity sent in one window."""
        return max((r.peak_points for r in self.identities.values()), default=0)

    @property
    def peak_in_flight_per_identity(self) -> int:
        """The most requests any one identity had in flight at once."""
        return max((r.peak_in_flight for r in self.identities.values()), default=0)

    def violations(self) -> dict[str, int]:
        """Violations by kind, over every identity (every kind present, zeros included)."""
        return {kind: sum(r.violations.get(kind, 0) for r in self.identities.values()) for kind in KINDS}

    @property
    def total_violations(self) -> int:
        """Violations of every kind and identity: the secondary-limit answers when enforced."""
        return sum(self.violations().values())


class SecondaryUsage:
    """Per-identity requests in flight and rolling-window points, thread-safe; decides refusals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}
        self._in_flight = 0
        self._peak_in_flight = 0

    def arrive(self, identity: str, points: int, now: float, limits: SecondaryLimits) -> Refusal | None:
        """Count a request arriving at ``now``; a :class:`Refusal` when ``limits`` are enforced and passed.

        Every call must be followed by one :meth:`leave` for the same identity once it is answered.
        """
        with self._lock:
            usage = self._usage.get(identity)
            if usage is None:
                usage = self._usage[identity] = _Usage()
            usage.in_flight += 1
            usage.peak_in_flight = max(usage.peak_in_flight, usage.in_flight)
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            usage.requests += 1
            usage.points += points
            usage.expire(now - limits.window_seconds)
            kind = self._violation(usage, points, now, limits)
            admitted = kind is None or not limits.enforce
            usage.window.append((now, points, admitted))
            usage.window_points += points
            if admitted:
                usage.window_admitted += points
            usage.peak_points = max(usage.peak_points, usage.window_points)
            if kind is None:
                return None
            usage.violations[kind] = usage.violations.get(kind, 0) + 1
            if not limits.enforce:
                return None
            if kind == WHILE_LIMITED:
                return Refusal(kind, max(1, math.ceil(usage.limited_until - now)))
            usage.limited_until = now + limits.retry_after
            return Refusal(kind, limits.retry_after)

    @staticmethod
    def _violation(usage: _Usage, points: int, now: float, limits: SecondaryLimits) -> str | None:
        if limits.enforce and now < usage.limited_until:
            return WHILE_LIMITED
        if usage.in_flight > limits.max_concurrent:
            return CONCURRENCY
        if usage.window_admitted + points > limits.points:
            return POINTS
        return None

    def leave(self, identity: str) -> None:
        """A request of ``identity`` was answered."""
        with self._lock:
            usage = self._usage.get(identity)
            if usage is not None and usage.in_flight > 0:
                usage.in_flight -= 1
                self._in_flight -= 1

    def in_flight(self, identity: str | None = None) -> int:
        """Requests in flight now, of one identity or of all."""
        with self._lock:
            if identity is None:
                return self._in_flight
            usage = self._usage.get(identity)
            return 0 if usage is None else usage.in_flight

    def report(self) -> UsageReport:
        """A snapshot of every identity's counts."""
        with self._lock:
            identities = {
                name: IdentityReport(
                    identity=name,
                    requests=u.requests,
                    points=u.points,
                    peak_in_flight=u.peak_in_flight,
                    peak_points=u.peak_points,
                    violations=dict(u.violations),
                )
                for name, u in self._usage.items()
            }
            return UsageReport(identities, self._peak_in_flight)

    def clear_counts(self) -> None:
        """Start counting afresh (requests, points, peaks, violations); windows, requests in
        flight and limited identities stay as they are, as they would on GitHub."""
        with self._lock:
            for usage in self._usage.values():
                usage.requests = usage.points = 0
                usage.peak_in_flight = usage.in_flight
                usage.peak_points = usage.window_points
                usage.violations.clear()
            self._peak_in_flight = self._in_flight

    def forget(self) -> None:
        """:meth:`clear_counts`, and forget the windows and limited identities too (a fresh start
        for benchmarks that run syncs back to back, faster than any real schedule)."""
        with self._lock:
            for usage in self._usage.values():
                usage.window.clear()
                usage.window_points = usage.window_admitted = 0
                usage.limited_until = 0.0
        self.clear_counts()
