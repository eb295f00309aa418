"""The HTTP plumbing shared by the GitHub and backend clients: sessions, deadlines, bounded reads, retries.

Every answer is untrusted: bodies are read as a stream, one socket read at a time, against
a size cap and the run's deadline; what servers ask for (``Retry-After``) is clamped; and the
one retry loop below is bounded by attempts and by the deadline, with waits that end at once
when the run is stopped (SIGTERM).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from urllib3.connectionpool import ConnectionPool

from painchain_gh import __version__
from painchain_gh.errors import PainChainError

USER_AGENT = f"painchain-gh/{__version__}"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
MAX_RETRY_AFTER = 3600.0
# A retry is only worth its wait if, once the wait is over, there is still time to connect
# and read a small answer; one second covers that on a healthy link. Less, and attempts would
# start that the deadline cuts off (wasting a rate-limit unit); more, and short runs would
# give up retries they could finish. Both clients use this one margin.
DEADLINE_MARGIN = 1.0
# A request always gets this long, even once the deadline has passed, so that the writes a
# run does while stopping (cursors, lastSync) are not cut off before they start.
MIN_REQUEST_SECONDS = 1.0
# How long the main thread sleeps between two looks at the stop flag (see Deadline.sleep).
_MAIN_THREAD_SLICE = 0.05

Sleep = Callable[[float], None]
T = TypeVar("T")


def new_session(*, pool_size: int) -> requests.Session:
    """A session with pooled keep-alive connections per host and no hidden retries.

    The environment (proxies, CA bundle) is read once here and in :func:`proxies_for`, not on
    every request as ``requests`` does by default (with a ``~/.netrc`` lookup each time).
    """
    session = _Session()
    session.cookies = _NoCookies()
    session.trust_env = False
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    adapter = LeanAdapter(pool_connections=16, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class _Session(requests.Session):
    """A session that leaves redirects to its callers (they follow them within their origin).

    ``Session.send`` otherwise looks for the next request even with ``allow_redirects=False``,
    and reads a redirect's whole body first, past the size cap and the deadline."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """None: no redirect is ever followed (nor its body read) here."""
        return None


class LeanAdapter(HTTPAdapter):
    """``requests``' adapter, building each response without the per-response work these
    clients never use: no copy of the headers (urllib3's are case-insensitive already), no
    cookie extraction, no charset guess (bodies are read as bytes and decoded as JSON)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[str, object], ConnectionPool] = {}

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> ConnectionPool:
        """The pool of the request's origin, looked up once per origin when no proxy or client
        certificate is involved (``requests`` parses the URL and its proxy settings every time)."""
        url = request.url or ""
        end = url.find("/", url.find("://") + 3)
        if proxies or cert is not None or end < 0:
            return super().get_connection_with_tls_context(request, verify, dict(proxies or {}), cert)
        key = (url[:end], verify)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = super().get_connection_with_tls_context(request, verify, None, cert)
        return pool

    def close(self) -> None:
        """Close every pool, those looked up here included."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        super().close()

    def request_url(self, request: requests.PreparedRequest, proxies: Mapping[str, str] | None) -> str:
        """The path and query to send (the whole URL only through a proxy)."""
        if proxies:
            return super().request_url(request, dict(proxies))
        return request.path_url

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        """The :class:`requests.Response` of urllib3's ``resp`` (body unread)."""
        response = requests.Response()
        response.status_code = resp.status
        response.headers = resp.headers
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url  # type: ignore[assignment]  # always str here: URLs are built as str
        response.request = req
        response.connection = self
        return response


# What ``PreparedRequest.prepare_url`` leaves as it is after a base URL it left as it is: unreserved
# characters, "/" and a non-empty query of "name=value&..." (no "%", which it would re-quote, and no
# "." or ".." segment, which urllib3 would remove).
_PLAIN_REST = re.compile(r"(?!.*/\.\.?(?:/|\?|$))/[A-Za-z0-9._~/-]*(?:\?[A-Za-z0-9._~=&-]+)?")


def plain_base(base: str) -> str | None:
    """``base`` + ``/`` when ``requests`` prepares that URL unchanged (then :func:`prepare_get`
    can skip its parsing for URLs under it), else None."""
    url = f"{base}/"
    try:
        return url if requests.Request("GET", url).prepare().url == url else None
    except (requests.RequestException, ValueError):
        return None


def prepare_get(url: str, headers: Mapping[str, str], *, base: str | None = None) -> requests.PreparedRequest:
    """A GET of ``url`` ready to send, the same as ``requests.Request("GET", url, headers).prepare()``.

    A URL under ``base`` (from :func:`plain_base`) whose rest ``requests`` would leave as it is
    skips the parsing and re-quoting, the costliest part of preparing a request; its headers
    must already be known to be sendable (constants, a token checked by :func:`header_safe`, a
    checked ETag). Anything else goes through ``requests`` (which raises for what it refuses).
    """
    if base is None or not url.startswith(base) or _PLAIN_REST.fullmatch(url, len(base) - 1) is None:
        return requests.Request("GET", url, headers=dict(headers)).prepare()
    prepared = requests.PreparedRequest()
    prepared.method = "GET"
    prepared.url = url
    prepared.headers = CaseInsensitiveDict(headers)
    prepared.prepare_cookies(None)  # an empty jar, as ``prepare`` leaves (a plain Session merges into it)
    return prepared


class _NoCookies(RequestsCookieJar):
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
            return clamp(retry_after, 0.0, MAX_RETRY_AFTER)
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class Deadline:
    """The time a run may still take (``--max-runtime``), and the stop signal every wait listens to."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds
        self._stopped = threading.Event()
        self._stopping = False

    def expire(self) -> None:
        """End the run now (SIGTERM): nothing new starts, every wait ends at once.

        Safe in a signal handler: the main thread never waits on the event (see :meth:`sleep`),
        so it cannot hold the event's lock when the handler runs; a second signal returns early.
        """
        self._end = self._clock()
        if self._stopping:
            return
        self._stopping = True
        self._stopped.set()

    def now(self) -> float:
        """The deadline's clock."""
        return self._clock()

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        """Whether no time is left."""
        return self._stopped.is_set() or self.remaining() <= 0

    def fits(self, wait: float) -> bool:
        """Whether waiting ``wait`` seconds still leaves :data:`DEADLINE_MARGIN` for a request."""
        return not self._stopped.is_set() and wait + DEADLINE_MARGIN <= self.remaining()

    def allows(self, started: float) -> bool:
        """Whether a request started at ``started`` (deadline clock) may go on reading."""
        return self._clock() < max(self._end, started + MIN_REQUEST_SECONDS)

    def timeout(self, read: float = READ_TIMEOUT) -> tuple[float, float]:
        """A (connect, read) timeout that does not outlive the deadline by much."""
        left = max(MIN_REQUEST_SECONDS, self.remaining())
        return (min(CONNECT_TIMEOUT, left), min(read, left))

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less: the wait ends at once when the run is stopped (:meth:`expire`)."""
        if seconds <= 0 or self._stopped.is_set():
            return
        if threading.current_thread() is not threading.main_thread():
            self._stopped.wait(seconds)
            return
        # The SIGTERM handler runs on the main thread between two bytecodes: had this thread been
        # inside Event.wait (holding the event's internal lock), the handler's set() would deadlock.
        end = time.monotonic() + seconds
        while not self._stopped.is_set() and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, _MAIN_THREAD_SLICE))


def clamp(value: float, low: float, high: float) -> float:
    """``value`` within [low, high]; a NaN becomes ``low``."""
    if math.isnan(value):
        return low
    return min(high, max(low, value))


def proxies_for(url: str) -> dict[str, str]:
    """The proxies the environment (``HTTPS_PROXY``, ``NO_PROXY``, ...) sets for ``url``'s host."""
    try:
        return dict(requests.utils.get_environ_proxies(url))
    except ValueError:  # not a URL: the request itself will fail with a known error
        return {}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds, clamped to an hour (HTTP dates: ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return None if math.isnan(seconds) else clamp(seconds, 0.0, MAX_RETRY_AFTER)


def int_header(headers: Mapping[str, str], name: str) -> int | None:
    """An integer header, or None when absent or not a (reasonably sized) integer."""
    value = headers.get(name)
    if value is None or len(value) > 30:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, with the scheme's default port; None if it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def resolve(base: str, reference: str) -> str:
    """``reference`` (a ``Link`` or ``Location``) made absolute against ``base``; ``""`` if unusable."""
    try:
        return urljoin(base, reference)
    except ValueError:
        return ""


_HEADER_VALUE = re.compile("(?:[!-~\xa0-\xff](?:[\t -~\xa0-\xff]*[!-~\xa0-\xff])?)?")


def header_safe(value: str) -> bool:
    """Whether ``value`` can be sent as an HTTP header value (Latin-1, no control characters, not
    starting or ending with a space)."""
    return _HEADER_VALUE.fullmatch(value) is not None


class InvalidJSON(ValueError):
    """A body that is not JSON (or too deeply nested to decode)."""


def decode_json(body: bytes) -> Any:
    """The JSON value of ``body``; raises :class:`InvalidJSON` for anything else."""
    try:
        return json.loads(body)
    except RecursionError:
        raise InvalidJSON("nested too deeply") from None
    except ValueError as error:  # also UnicodeDecodeError and oversized integers
        raise InvalidJSON(type(error).__name__) from None


# -- one exchange: send, then read the body within bounds -----------------------------------------


class TransportError(Exception):
    """An exchange that did not produce a whole answer; each client maps it to its own error."""


class Unreachable(TransportError):
    """Connecting, sending or reading failed (``str`` is the exception's type name)."""


class Unsendable(TransportError):
    """The request cannot be encoded (e.g. a header that is not Latin-1); never retried."""


class BodyTooLarge(TransportError):
    """The answer's body is larger than the cap."""


class OutOfTime(TransportError):
    """The deadline passed while the body was still arriving."""


@dataclass(frozen=True)
class Reply:
    """A whole answer: status, headers and the (decoded) body, at most the cap in size."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    links: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; raises :class:`InvalidJSON`."""
        return decode_json(self.body)


# Errors no retry can fix: a header or URL that cannot be encoded (requests raises some of them as
# RequestException, http.client raises UnicodeEncodeError for a header that is not Latin-1).
_UNSENDABLE = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    UnicodeError,
    ValueError,
)


def exchange(
    session: requests.Session,
    request: requests.PreparedRequest,
    *,
    deadline: Deadline,
    max_body_bytes: int,
    proxies: Mapping[str, str],
    read_timeout: float = READ_TIMEOUT,
    on_headers: Callable[[requests.Response], None] | None = None,
) -> Reply:
    """Send ``request`` (never following redirects) and read the whole answer within bounds."""
    started = deadline.now()
    try:
        response = session.send(
            request,
            timeout=deadline.timeout(read_timeout),
            proxies=dict(proxies),
            allow_redirects=False,
            verify=session.verify,
            stream=True,
        )
    except _UNSENDABLE as error:
        raise Unsendable(type(error).__name__) from None
    except requests.RequestException as error:
        raise Unreachable(plain_reason(error)) from None
    try:
        if on_headers is not None:
            on_headers(response)
        body = read_body(response, deadline=deadline, started=started, max_bytes=max_body_bytes)
    except BaseException:
        response.close()  # a half-read connection must not go back to the pool
        raise
    return Reply(response.status_code, response.headers, body, _links(response))


def read_body(response: requests.Response, *, deadline: Deadline, started: float, max_bytes: int) -> bytes:
    """The decoded body, read one socket read at a time so that the deadline is checked between
    chunks even when a server trickles bytes (``iter_content`` waits for a whole chunk)."""
    declared = int_header(response.headers, "Content-Length")
    if declared is not None and declared > max_bytes:
        raise BodyTooLarge(f"{declared} bytes announced")
    raw = response.raw
    body = bytearray()
    try:
        while True:
            if not deadline.allows(started):
                raise OutOfTime("deadline")
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            if len(body) + len(chunk) > max_bytes:
                raise BodyTooLarge(f"more than {max_bytes} bytes")
            body += chunk
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError):
        raise Unreachable("the connection dropped in the middle of the answer") from None
    return bytes(body)


def plain_reason(error: BaseException) -> str:
    """Why a request could not be made, in words (no exception class names)."""
    text = str(error)
    if isinstance(error, requests.exceptions.SSLError):
        return "the TLS handshake failed (certificate or protocol)"
    if isinstance(error, requests.exceptions.ProxyError):
        return "the proxy refused the connection"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "connecting timed out"
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer in time"
    if "NameResolution" in text or "Name or service not known" in text or "nodename nor servname" in text:
        return "the host name could not be resolved"
    if "Connection refused" in text:
        return "connection refused"
    if isinstance(error, requests.exceptions.ChunkedEncodingError) or "RemoteDisconnected" in text:
        return "the connection dropped in the middle of the answer"
    return "the connection failed"


def _links(response: requests.Response) -> Mapping[str, Mapping[str, str]]:
    try:
        return response.links
    except (ValueError, IndexError):
        return {}


def size_text(limit: int) -> str:
    """``10 MB`` for a byte count, for messages."""
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit} bytes"


# -- the retry loop ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """An attempt's verdict: worth retrying after ``retry_after`` (None: backoff), else ``failure``."""

    failure: PainChainError
    retry_after: float | None = None
    on_give_up: Callable[[], None] | None = None


def with_retries(attempt_once: Callable[[], T | Retry], *, policy: RetryPolicy, deadline: Deadline, sleep: Sleep) -> T:
    """Call ``attempt_once`` until it returns an answer, at most ``policy.attempts`` times.

    A :class:`Retry` waits (the server's ``Retry-After`` wins over backoff) when another attempt
    is left and the wait plus :data:`DEADLINE_MARGIN` fits the deadline; otherwise its failure is
    raised. Waits go through ``sleep`` (by default :meth:`Deadline.sleep`, which SIGTERM ends).
    """
    attempt = 0
    while True:
        outcome = attempt_once()
        if not isinstance(outcome, Retry):
            return outcome
        delay = policy.delay(attempt, outcome.retry_after)
        attempt += 1
        if attempt >= policy.attempts or not deadline.fits(delay):
            if outcome.on_give_up is not None:
                outcome.on_give_up()
            raise outcome.failure
        sleep(delay)
