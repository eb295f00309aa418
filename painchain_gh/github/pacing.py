"""How fast one credential may send: a points budget per window, so that GitHub's secondary limits are
never passed by a run that could have foreseen them.

GitHub counts, per user or App installation, at most 900 points a minute for the REST API (a GET, a
304 included, costs 1 point; a POST, PATCH, PUT or DELETE 5) and at most 100 requests in flight, and
warns that an integration that keeps sending while limited may be banned ("Rate limits for the REST
API", secondary rate limits). :class:`Pacer` is a generic cell rate algorithm (a token bucket in
arrival times): a request may start once its points fit the budget; callers wait their turn in
order, and a secondary-limit answer holds every caller of the credential until its ``Retry-After``.

Within any window the pacer lets through at most the budget plus a small burst (a tenth of it, also
available at the start of a run): two runs that meet in one window (a CronJob every minute) stay
under ``budget + 2 * burst``, which for the default of 600 is 720, well under GitHub's 900. Nothing
is remembered between runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_POINTS = 600  # per window: well under GitHub's 900, with room for other tools and a second run
DEFAULT_WINDOW = 60.0  # seconds: GitHub counts points per minute
BURST = 0.1  # of the budget, usable at once (and at the start of a run)
GET_POINTS = 1
WRITE_POINTS = 5  # POST, PATCH, PUT, DELETE


class Pacer:
    """At most ``points`` points per ``window`` seconds for one credential (thread-safe)."""

    def __init__(
        self, points: int, window: float = DEFAULT_WINDOW, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.window = window
        self.points = max(1, points)
        self._interval = window / self.points  # seconds per point
        self._tolerance = self._interval * max(1.0, self.points * BURST)
        self._next = clock()  # the theoretical time the next point is due
        self._held_until = 0.0
        self._waited = 0.0  # seconds of the clock during which a caller had to wait, up to _waited_until
        self._waited_until = self._next
        self.spent = 0

    def tighten(self, points: int) -> None:
        """Lower the budget (another integration using this credential asks for less); never raises it."""
        with self._lock:
            if points < self.points:
                self.points = max(1, points)
                self._interval = self.window / self.points
                self._tolerance = self._interval * max(1.0, self.points * BURST)

    def reserve(self, cost: int) -> float:
        """Take ``cost`` points; returns how many seconds to wait before sending (0: at once). A caller
        that will not wait gives the points back with :meth:`cancel`."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next - self._tolerance, self._held_until)
            self._next = max(self._next, start) + cost * self._interval
            wait = start - now
            if wait > 0:  # calls come in time order: the union of the waits only grows at its end
                self._waited += max(0.0, start - max(now, self._waited_until))
                self._waited_until = max(self._waited_until, start)
            self.spent += cost
            return wait

    @property
    def waited(self) -> float:
        """Seconds, up to now, during which at least one caller waited for this pace (a wall-clock
        time, not a sum over callers: at most the time since the pacer was made)."""
        with self._lock:
            return max(0.0, self._waited - max(0.0, self._waited_until - self._clock()))

    def cancel(self, cost: int) -> None:
        """Give back points reserved by a caller that did not send."""
        with self._lock:
            self._next = max(self._clock(), self._next - cost * self._interval)
            self.spent -= cost

    def ready_in(self) -> float:
        """Seconds until a request of one point could start (0: now)."""
        with self._lock:
            now = self._clock()
            return max(0.0, self._next - self._tolerance - now, self._held_until - now)

    def held(self) -> bool:
        """Whether a secondary limit holds every caller now."""
        with self._lock:
            return self._held_until > self._clock()

    def hold(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (GitHub answered with a secondary limit and its ``Retry-After``)."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)
