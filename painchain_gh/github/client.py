"""The GitHub REST client: conditional pages, pagination, rate limits and error classification.

Only this module and ``backend.py`` know ``requests``. Every request carries a timeout, the
documented headers, and the integration's token; a token is never put in a URL or a message,
and never sent to another origin (scheme, host and port) than the API base's: ``Link: next``
and redirects are followed only within it. Bodies are read within a size cap and the run's
deadline; what GitHub says (messages, ETags, intervals, reset times) is bounded before use.
References: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
and https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from pydantic import SecretStr

from painchain_gh import secrets
from painchain_gh.errors import (
    DeadlineReached,
    GitHubAuthError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubRepoError,
    GitHubTemporaryError,
)
from painchain_gh.github.pacing import GET_POINTS, Pacer
from painchain_gh.http import (
    DEFAULT_MAX_BODY_BYTES,
    USER_AGENT,
    BodyTooLarge,
    Deadline,
    InvalidJSON,
    OutOfTime,
    Reply,
    Retry,
    RetryPolicy,
    Sleep,
    Unreachable,
    Unsendable,
    clamp,
    exchange,
    header_safe,
    int_header,
    origin,
    parse_retry_after,
    plain_base,
    prepare_get,
    proxies_for,
    resolve,
    size_text,
    with_retries,
)
from painchain_gh.text import escape
from painchain_gh.timeutil import format_time

API_VERSION = "2022-11-28"
PER_PAGE = 100
SECONDARY_LIMIT_DEFAULT_WAIT = 60.0  # GitHub: "wait for at least one minute before retrying"
MAX_POLL_INTERVAL = 3600  # X-Poll-Interval above an hour is not believed
MAX_RESET_AHEAD = 7200  # X-RateLimit-Reset further than two hours ahead is not believed
MAX_ETAG_LENGTH = 200
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 307, 308})
_ETAG = re.compile(f"[!-~](?:[ -~]{{0,{MAX_ETAG_LENGTH - 2}}}[!-~])?")  # printable ASCII, trimmed
_MESSAGE_LENGTH = 300
_DEADLINE_MESSAGE = "the run's deadline (--max-runtime) was reached"
_HEADERS = {  # every request's; the token and ETag are added per request
    "Accept": "application/vnd.github+json",
    "Accept-Encoding": "gzip, deflate",
    "X-GitHub-Api-Version": API_VERSION,
    "User-Agent": USER_AGENT,
}


TokenSource = SecretStr | Callable[[], SecretStr | None] | None
"""A token, a zero-argument callable returning the token to use now (a GitHub App installation), or None."""


def token_fingerprint(token: SecretStr | None) -> str:
    """A short, non-reversible name for a token, to key caches and ETags per token."""
    if token is None:
        return "anonymous"
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16]


class TokenBudget:
    """What is known of one token's rate limit, shared by every thread that uses the token: the primary
    limit from GitHub's headers, its requests in flight (``max_concurrent``), and its pace (points per
    window, see :mod:`painchain_gh.github.pacing`; None: unpaced)."""

    def __init__(self, fingerprint: str, *, reserve: int, max_concurrent: int, pacer: Pacer | None = None) -> None:
        self.fingerprint = fingerprint
        self.pacer = pacer
        self.reserve = reserve
        self.remaining: int | None = None
        self.limit: int | None = None
        self.reset: int | None = None
        self.stopped: str | None = None
        self.units_spent = 0
        self.requests = 0
        self.not_modified = 0
        self.slots = threading.BoundedSemaphore(max(1, max_concurrent))
        self._in_flight = 0
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise :class:`GitHubRateLimited` if this token must not be used any more in this run."""
        if self.stopped:
            raise GitHubRateLimited(self.stopped)

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """One request of this token in flight: refused (:class:`GitHubRateLimited`) when the requests
        already in flight could take the token under its reserve, so that concurrency never spends it."""
        with self._lock:
            reserve = self.effective_reserve()
            if self.remaining is not None and self.remaining - self._in_flight - 1 < reserve and not self.stopped:
                self.stopped = (
                    f"token rate limit under the reserve ({self.remaining} left, {self._in_flight} requests in "
                    f"flight, reserve {reserve}); its remaining repositories wait for the next run"
                )
            if self.stopped:
                raise GitHubRateLimited(self.stopped)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def pace(self, cost: int, *, deadline: Deadline, sleep: Sleep) -> None:
        """Wait until ``cost`` points fit this token's pace; :class:`DeadlineReached` (nothing sent, the
        points given back) when that wait would pass the run's deadline. A secondary limit (or the end of
        the token) that comes during the wait sends the caller back to wait its new turn (or raises)."""
        if self.pacer is None:
            return
        wait = self.pacer.reserve(cost)
        while wait > 0:
            if not deadline.fits(wait):
                self.pacer.cancel(cost)
                if self.pacer.held():
                    raise DeadlineReached(
                        "the token is held by GitHub's secondary rate limit (its Retry-After) past the run's "
                        "deadline; it waits for the next run"
                    )
                raise DeadlineReached(
                    "the token's request budget (--points-per-minute) leaves no room for this request before the "
                    "run's deadline; it waits for the next run"
                )
            sleep(wait)
            if deadline.expired():  # stopped (SIGTERM) during the wait: nothing new is sent
                self.pacer.cancel(cost)
                raise DeadlineReached(_DEADLINE_MESSAGE)
            if not self.stopped and not self.pacer.held():
                return
            self.pacer.cancel(cost)
            self.check()
            wait = self.pacer.reserve(cost)

    @contextmanager
    def turn(
        self, cost: int, process_slots: AbstractContextManager[object], *, deadline: Deadline, sleep: Sleep
    ) -> Iterator[None]:
        """This token's pace, then a slot of this token and one of the process (``process_slots``): the
        body sends one request. A secondary limit answered to another request while this one waited for
        its slots sends it back to wait for the end of the hold: nothing is sent while the token is held."""
        while True:
            self.pace(cost, deadline=deadline, sleep=sleep)
            with self.slots, process_slots:
                if self.pacer is None or not self.pacer.held():
                    with self.sending():  # refused when stopped, or when in-flight requests could pass the reserve
                        yield
                    return
            self.pacer.cancel(cost)

    def ready_before(self, deadline: Deadline) -> bool:
        """Whether a request could still start within the run's deadline at this token's pace."""
        if self.pacer is None:
            return True
        wait = self.pacer.ready_in()
        return wait <= 0 or deadline.fits(wait)

    @property
    def points(self) -> int:
        """Points this token spent in this run (see :mod:`painchain_gh.github.pacing`; the requests when unpaced)."""
        return self.pacer.spent if self.pacer is not None else self.requests

    @property
    def waited(self) -> float:
        """Seconds of this run during which requests of this token waited for its pace (0 when unpaced)."""
        return self.pacer.waited if self.pacer is not None else 0.0

    def stop(self, reason: str) -> None:
        """Spend no more of this token in this run."""
        with self._lock:
            self.stopped = self.stopped or reason

    def effective_reserve(self) -> int:
        """The reserve, but never more than a tenth of the token's limit (an anonymous caller has 60)."""
        return min(self.reserve, self.limit // 10) if self.limit else self.reserve

    def observe(self, response: requests.Response) -> None:
        """Update from a response's ``X-RateLimit-*`` headers (read before its body, while the request
        still holds its slot: a secondary limit holds the token before anyone else may send)."""
        headers = response.headers
        held = secondary_limit_wait(response.status_code, headers)
        if held is not None and self.pacer is not None:
            self.pacer.hold(held)
        with self._lock:
            self.requests += 1
            if response.status_code == 304:
                self.not_modified += 1
            else:
                self.units_spent += 1
            remaining = int_header(headers, "X-RateLimit-Remaining")
            if remaining is None:
                return
            self.remaining = remaining
            self.limit = int_header(headers, "X-RateLimit-Limit") or self.limit
            self.reset = reset_time(headers) or self.reset
            reserve = self.effective_reserve()
            if remaining < reserve and not self.stopped:
                until = f" until {format_time(self.reset)}" if self.reset else ""
                self.stopped = (
                    f"token rate limit under the reserve ({remaining} left < {reserve}){until}; "
                    "its remaining repositories wait for the next run"
                )


def secondary_limit_wait(status: int, headers: Mapping[str, str]) -> float | None:
    """Seconds a secondary-limit answer asks to wait, as far as its headers tell (a 403 or 429 with
    ``Retry-After``, or any 429: GitHub's minute); None for any other answer. A 403 that says so only in
    its body is found by :func:`classify`."""
    if status not in (403, 429) or headers.get("X-RateLimit-Remaining") == "0":
        return None
    wait = parse_retry_after(headers.get("Retry-After"))
    if wait is None and status == 429:
        return SECONDARY_LIMIT_DEFAULT_WAIT
    return wait


def reset_time(headers: Mapping[str, str], *, now: float | None = None) -> int | None:
    """``X-RateLimit-Reset`` clamped to [now, now + 2 h]: a reset far away (or past) is not believed."""
    reset = int_header(headers, "X-RateLimit-Reset")
    if reset is None:
        return None
    current = time.time() if now is None else now
    return int(clamp(reset, current, current + MAX_RESET_AHEAD))


def usable_etag(value: object, *, secret_values: Iterable[str] = ()) -> str | None:
    """An ETag kept opaque and bounded: printable ASCII, at most 200 characters, no known secret."""
    if not isinstance(value, str) or _ETAG.fullmatch(value) is None:
        return None
    return None if secrets.contains_secret(value, secret_values) else value


class Verdict(Enum):
    """What to do with a GitHub response."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    RETRY = "retry"
    PRIMARY_LIMIT = "primary_limit"
    SECONDARY_LIMIT = "secondary_limit"
    BAD_CREDENTIALS = "bad_credentials"
    NOT_ACCESSIBLE = "not_accessible"
    END_OF_PAGES = "end_of_pages"


def classify(status: int, headers: Any, message: str) -> Verdict:
    """Classify a response, the one place that knows GitHub's ways of saying no (pure)."""
    if 200 <= status < 300:
        return Verdict.OK
    if status == 304:
        return Verdict.NOT_MODIFIED
    if status == 401:
        return Verdict.BAD_CREDENTIALS
    if status in (403, 429):
        if headers.get("X-RateLimit-Remaining") == "0":
            return Verdict.PRIMARY_LIMIT
        if status == 429 or "Retry-After" in headers or "secondary rate limit" in message.lower():
            return Verdict.SECONDARY_LIMIT
        return Verdict.NOT_ACCESSIBLE
    if status == 422 and "pagination" in message.lower():
        return Verdict.END_OF_PAGES  # beyond the 300 events GitHub keeps
    if status >= 500 or status == 408:
        return Verdict.RETRY
    return Verdict.NOT_ACCESSIBLE


@dataclass
class Page:
    """One page of a list endpoint (``items`` is empty on 304)."""

    status: int
    items: list[Any] = field(default_factory=list)
    etag: str | None = None
    next_url: str | None = None
    poll_interval: int | None = None


@dataclass
class Probe:
    """What one diagnostic request found."""

    ok: bool
    detail: str
    body: dict[str, Any] = field(default_factory=dict)
    scopes: str | None = None
    accepted_permissions: str | None = None
    status: int | None = None
    remaining: int | None = None
    limit: int | None = None


class GitHubClient:
    """Requests to one GitHub API base URL with one token, on behalf of one tenant.

    ``cache_scope`` (the tenant) keys whatever is cached of the answers beside the token's
    fingerprint, so that nothing fetched for one tenant is handed to another.
    """

    def __init__(
        self,
        *,
        session: requests.Session,
        api_url: str,
        token: TokenSource,
        budget: TokenBudget,
        deadline: Deadline,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        cache_scope: str = "",
        slots: threading.Semaphore | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.cache_scope = cache_scope
        self._slots = slots or threading.BoundedSemaphore(64)  # the process's cap on requests in flight
        self._origin = origin(self.api_url)
        self._plain_base = plain_base(self.api_url)
        self._proxies = proxies_for(self.api_url)
        self._session = session
        self._token = token
        self._auth_lock = threading.Lock()
        self._auth: tuple[str | None, tuple[str, ...], bool] = (None, (), True)
        self._auth_for: str | None = None
        if not callable(token):
            self._auth = self._authorization_of(token)
        self.budget = budget
        self._deadline = deadline
        self._policy = policy or RetryPolicy()
        self._sleep = sleep or deadline.sleep
        self._max_body_bytes = max_body_bytes

    @staticmethod
    def _authorization_of(token: SecretStr | None) -> tuple[str | None, tuple[str, ...], bool]:
        """(``Authorization`` header, secret values, whether the header can be sent) for one token."""
        if token is None:
            return None, (), True
        authorization = f"Bearer {token.get_secret_value()}"
        return authorization, (token.get_secret_value(),), header_safe(authorization)

    def _current_auth(self) -> tuple[str | None, tuple[str, ...], bool]:
        """The header for the token to use now: a token source is asked before every request (an
        App's installation token is minted again near its expiry); the header is built once per token."""
        if not callable(self._token):
            return self._auth
        token = self._token()
        value = token.get_secret_value() if token is not None else None
        with self._auth_lock:
            if value != self._auth_for or self._auth_for is None:
                self._auth, self._auth_for = self._authorization_of(token), value
            return self._auth

    @property
    def _secrets(self) -> tuple[str, ...]:
        return self._auth[1]

    def iter_pages(self, path: str, *, etag: str | None, list_key: str | None = None) -> Iterator[Page]:
        """Pages of a list endpoint, newest first: page 1 conditionally, then ``Link: next``."""
        return self.iter_query_pages(path, {}, etag=etag, list_key=list_key)

    def iter_query_pages(
        self,
        path: str,
        query: dict[str, str],
        *,
        etag: str | None,
        list_key: str | None = None,
        per_page: int | None = PER_PAGE,
    ) -> Iterator[Page]:
        """:meth:`iter_pages` for a list endpoint that needs query parameters (``state=all``, ...);
        ``per_page=None`` for an endpoint that documents no page size (GitHub's default applies)."""
        params = {**query, "per_page": str(per_page)} if per_page is not None else query
        url: str | None = f"{self.api_url}{path}?{urlencode(params)}" if params else f"{self.api_url}{path}"
        conditional = etag
        while url:
            page = self._get_page(url, etag=conditional, list_key=list_key)
            yield page
            url, conditional = page.next_url, None

    def page(self, url: str, *, etag: str | None, list_key: str | None = None) -> Page:
        """One page of a list endpoint by its whole URL (a first page built by the caller, or a stored
        next-page link); the URL must be under this client's API base (the token goes nowhere else)."""
        if not url.startswith(f"{self.api_url}/") or origin(url) != self._origin:
            raise GitHubRepoError(f"the page {url_path(url)} is not under the API base; not requested")
        return self._get_page(url, etag=etag, list_key=list_key)

    def get_object(self, path: str) -> dict[str, Any] | None:
        """One object (e.g. a pull request); None if GitHub answers 404 or 410."""
        try:
            reply = self._request(f"{self.api_url}{path}", etag=None)
        except GitHubRepoError:
            return None
        body = _json(reply)
        return body if isinstance(body, dict) else None

    def probe(self, path: str) -> Probe:
        """One GET for diagnostics: never raises for 401/403/404, reports scopes and rate limit.

        Everything taken from the answer (message, request id, scopes, strings of the body such
        as ``login``) is scrubbed of secrets and escaped, since ``check`` prints it."""
        try:
            reply = self._request(f"{self.api_url}{path}", etag=None)
        except (GitHubAuthError, GitHubRepoError) as error:
            status = 401 if isinstance(error, GitHubAuthError) else None
            return Probe(ok=False, detail=str(error), status=status)
        body = _json(reply)
        scopes = reply.headers.get("X-OAuth-Scopes")
        accepted = reply.headers.get("X-Accepted-GitHub-Permissions")
        return Probe(
            ok=True,
            detail="",
            body={key: self._safe(value) for key, value in body.items()} if isinstance(body, dict) else {},
            scopes=None if scopes is None else secrets.safe_text(scopes, limit=_MESSAGE_LENGTH, extra=self._secrets),
            accepted_permissions=None
            if accepted is None
            else secrets.safe_text(accepted, limit=_MESSAGE_LENGTH, extra=self._secrets),
            status=reply.status,
            remaining=int_header(reply.headers, "X-RateLimit-Remaining"),
            limit=int_header(reply.headers, "X-RateLimit-Limit"),
        )

    def _safe(self, value: object) -> object:
        return secrets.safe_text(value, limit=_MESSAGE_LENGTH, extra=self._secrets) if isinstance(value, str) else value

    def _get_page(self, url: str, *, etag: str | None, list_key: str | None) -> Page:
        reply = self._request(url, etag=etag)
        if reply.status == 304:
            return Page(status=304, etag=etag)
        if reply.status == 422:
            return Page(status=422)
        try:
            body = reply.json()
        except InvalidJSON as error:
            raise GitHubTemporaryError(
                f"GitHub answered {url_path(url)} with a body that is not JSON ({error})"
            ) from None
        items = body.get(list_key) if list_key and isinstance(body, dict) else body
        if not isinstance(items, list):
            raise GitHubTemporaryError(f"GitHub answered {url_path(url)} with an unexpected body")
        if len(items) > PER_PAGE:
            raise GitHubTemporaryError(
                f"GitHub answered {url_path(url)} with {len(items)} items, more than the {PER_PAGE} asked for"
            )
        next_url = reply.links.get("next", {}).get("url")
        if next_url:
            next_url = resolve(url, next_url)
            if origin(next_url) != self._origin:
                shown = secrets.safe_text(_origin_text(next_url), limit=100, extra=self._secrets)
                raise GitHubTemporaryError(
                    f"GitHub's next-page link points to another host or scheme ({shown}); not followed"
                )
        poll = int_header(reply.headers, "X-Poll-Interval")
        return Page(
            status=200,
            items=items,
            etag=usable_etag(reply.headers.get("ETag"), secret_values=self._secrets),
            next_url=next_url,
            poll_interval=None if poll is None else int(clamp(poll, 0, MAX_POLL_INTERVAL)),
        )

    def _request(self, url: str, *, etag: str | None) -> Reply:
        headers = dict(_HEADERS)
        authorization, secret_values, authorization_ok = self._current_auth()
        if not authorization_ok:
            raise GitHubAuthError(
                f"the token cannot be sent in an HTTP header (characters outside Latin-1, or control "
                f"characters) on {url_path(url)}"
            )
        if authorization is not None:
            headers["Authorization"] = authorization
        if etag and usable_etag(etag, secret_values=secret_values):
            headers["If-None-Match"] = etag
        return with_retries(
            lambda: self._attempt(url, headers), policy=self._policy, deadline=self._deadline, sleep=self._sleep
        )

    def _attempt(self, url: str, headers: dict[str, str]) -> Reply | Retry:
        """One attempt (redirects within the API's origin included): an answer, a Retry, or an error."""
        self.budget.check()
        if self._deadline.expired():
            raise DeadlineReached(_DEADLINE_MESSAGE)
        reply = self._follow(url, headers)
        if isinstance(reply, Retry):
            return reply
        # Only refusals need GitHub's message; parsing every body twice would cost CPU per request.
        message = _message(reply) if reply.status in (403, 422, 429) else ""
        verdict = classify(reply.status, reply.headers, message)
        if verdict in (Verdict.OK, Verdict.NOT_MODIFIED, Verdict.END_OF_PAGES):
            return reply
        where = url_path(url)
        described = describe(reply, where, secret_values=self._secrets)
        if verdict is Verdict.RETRY:
            return Retry(GitHubTemporaryError(described), parse_retry_after(reply.headers.get("Retry-After")))
        if verdict is Verdict.BAD_CREDENTIALS:
            raise GitHubAuthError(f"the token was rejected (401 Bad credentials) on {where}")
        if verdict is Verdict.PRIMARY_LIMIT:
            reset = reset_time(reply.headers)
            self.budget.stop("token rate limit exhausted" + (f" until {format_time(reset)}" if reset else ""))
            self.budget.check()
        if verdict is Verdict.SECONDARY_LIMIT:
            wait = parse_retry_after(reply.headers.get("Retry-After"))
            wait = SECONDARY_LIMIT_DEFAULT_WAIT if wait is None else wait  # "Retry-After: 0" means now
            if self.budget.pacer is not None:
                self.budget.pacer.hold(wait)  # every caller of this token waits, not only this request
            reason = f"secondary rate limit hit (GitHub asked to wait {wait:.0f}s)"
            return Retry(GitHubRateLimited(reason), wait, on_give_up=lambda: self.budget.stop(reason))
        if reply.status in (404, 410):
            raise GitHubNotFound(described)
        raise GitHubRepoError(described)

    def _follow(self, url: str, headers: dict[str, str]) -> Reply | Retry:
        """Send, following at most :data:`MAX_REDIRECTS` redirects within the API's origin."""
        asked = url  # named in messages by its path, worked out only when one is needed
        for _ in range(MAX_REDIRECTS + 1):
            try:
                prepared = prepare_get(url, headers, base=self._plain_base)
            except (requests.RequestException, ValueError) as error:
                raise GitHubRepoError(
                    f"the request for {url_path(asked)} could not be encoded ({type(error).__name__})"
                ) from None
            try:
                with self.budget.turn(GET_POINTS, self._slots, deadline=self._deadline, sleep=self._sleep):
                    reply = exchange(
                        self._session,
                        prepared,
                        deadline=self._deadline,
                        max_body_bytes=self._max_body_bytes,
                        proxies=self._proxies,
                        on_headers=self.budget.observe,
                    )
            except Unreachable as error:
                return Retry(GitHubTemporaryError(f"GitHub unreachable for {url_path(asked)}: {error}"))
            except BodyTooLarge:
                raise GitHubTemporaryError(
                    f"GitHub's answer for {url_path(asked)} is larger than {size_text(self._max_body_bytes)}; not read"
                ) from None
            except OutOfTime:
                raise DeadlineReached(
                    f"{_DEADLINE_MESSAGE} while GitHub's answer for {url_path(asked)} was arriving"
                ) from None
            except Unsendable as error:
                raise GitHubRepoError(
                    f"the request for {url_path(asked)} could not be sent or its answer not parsed ({error})"
                ) from None
            if reply.status not in _REDIRECTS:
                return reply
            target = resolve(url, reply.headers.get("Location", ""))
            if not reply.headers.get("Location") or origin(target) != self._origin:
                shown = secrets.safe_text(_origin_text(target), limit=100, extra=self._secrets)
                raise GitHubRepoError(
                    f"GitHub redirected {url_path(asked)} ({reply.status}) to another host or scheme ({shown}); "
                    "not followed"
                )
            url = target
        raise GitHubRepoError(f"GitHub redirected {url_path(asked)} more than {MAX_REDIRECTS} times; not followed")


def url_path(url: str) -> str:
    """The path of a URL, for messages (no host, no query, so never a secret)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return "an unusable URL"
    return escape(path or "/", 300)


def _origin_text(url: str) -> str:
    found = origin(url)
    return f"{found[0]}://{found[1]}:{found[2]}" if found else "an unusable URL"


def describe(reply: Reply, where: str, *, secret_values: Iterable[str] = ()) -> str:
    """One line: status, GitHub's message and request id (secrets scrubbed, then escaped and cut)."""
    message = secrets.safe_text(_message(reply), limit=_MESSAGE_LENGTH, extra=secret_values)
    request_id = secrets.safe_text(reply.headers.get("X-GitHub-Request-Id") or "", limit=80, extra=secret_values)
    parts = [f"GitHub answered {reply.status} for {where}"]
    if message:
        parts.append(f": {message}")
    if request_id:
        parts.append(f" (request id {request_id})")
    return "".join(parts)


def _message(reply: Reply) -> str:
    body = _json(reply)
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else ""


def _json(reply: Reply) -> Any:
    try:
        return reply.json()
    except InvalidJSON:
        return None
