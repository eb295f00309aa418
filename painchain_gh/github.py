"""The GitHub REST client: conditional pages, pagination, rate limits and error classification.

Only this module and ``backend.py`` know ``requests``. Every request carries a timeout, the
documented headers, and the integration's token; a token is never put in a URL or a message.
References: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
and https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from pydantic import SecretStr

from painchain_gh.errors import (
    DeadlineReached,
    GitHubAuthError,
    GitHubError,
    GitHubRateLimited,
    GitHubRepoError,
    GitHubTemporaryError,
)
from painchain_gh.http import USER_AGENT, Deadline, RetryPolicy, Sleep, parse_retry_after, proxies_for
from painchain_gh.timeutil import format_time

API_VERSION = "2022-11-28"
PER_PAGE = 100
SECONDARY_LIMIT_DEFAULT_WAIT = 60.0  # GitHub: "wait for at least one minute before retrying"


def token_fingerprint(token: SecretStr | None) -> str:
    """A short, non-reversible name for a token, to key caches and ETags per token."""
    if token is None:
        return "anonymous"
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16]


class TokenBudget:
    """What is known of one token's rate limit, shared by every thread that uses the token."""

    def __init__(self, fingerprint: str, *, reserve: int, max_concurrent: int) -> None:
        self.fingerprint = fingerprint
        self.reserve = reserve
        self.remaining: int | None = None
        self.limit: int | None = None
        self.reset: int | None = None
        self.stopped: str | None = None
        self.units_spent = 0
        self.requests = 0
        self.not_modified = 0
        self.slots = threading.BoundedSemaphore(max(1, max_concurrent))
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise :class:`GitHubRateLimited` if this token must not be used any more in this run."""
        if self.stopped:
            raise GitHubRateLimited(self.stopped)

    def stop(self, reason: str) -> None:
        """Spend no more of this token in this run."""
        with self._lock:
            self.stopped = self.stopped or reason

    def effective_reserve(self) -> int:
        """The reserve, but never more than a tenth of the token's limit (an anonymous caller has 60)."""
        return min(self.reserve, self.limit // 10) if self.limit else self.reserve

    def observe(self, response: requests.Response) -> None:
        """Update from a response's ``X-RateLimit-*`` headers."""
        headers = response.headers
        with self._lock:
            self.requests += 1
            if response.status_code == 304:
                self.not_modified += 1
            else:
                self.units_spent += 1
            remaining = _int_header(headers, "X-RateLimit-Remaining")
            if remaining is None:
                return
            self.remaining = remaining
            self.limit = _int_header(headers, "X-RateLimit-Limit") or self.limit
            self.reset = _int_header(headers, "X-RateLimit-Reset") or self.reset
            reserve = self.effective_reserve()
            if remaining < reserve and not self.stopped:
                until = f" until {format_time(self.reset)}" if self.reset else ""
                self.stopped = (
                    f"token rate limit under the reserve ({remaining} left < {reserve}){until}; "
                    "its remaining repositories wait for the next run"
                )


def _int_header(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


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
    remaining: int | None = None
    limit: int | None = None


class GitHubClient:
    """Requests to one GitHub API base URL with one token."""

    def __init__(
        self,
        *,
        session: requests.Session,
        api_url: str,
        token: SecretStr | None,
        budget: TokenBudget,
        deadline: Deadline,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._host = urlsplit(self.api_url).netloc
        self._proxies = proxies_for(self.api_url)
        self._session = session
        self._token = token
        self.budget = budget
        self._deadline = deadline
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    def iter_pages(self, path: str, *, etag: str | None, list_key: str | None = None) -> Iterator[Page]:
        """Pages of a list endpoint, newest first: page 1 conditionally, then ``Link: next``."""
        url: str | None = f"{self.api_url}{path}?per_page={PER_PAGE}"
        conditional = etag
        while url:
            page = self._get_page(url, etag=conditional, list_key=list_key)
            yield page
            url, conditional = page.next_url, None

    def iter_query_pages(
        self, path: str, query: dict[str, str], *, etag: str | None, list_key: str | None = None
    ) -> Iterator[Page]:
        """:meth:`iter_pages` for a list endpoint that needs query parameters (``state=all``, ...)."""
        url: str | None = f"{self.api_url}{path}?{urlencode({**query, 'per_page': str(PER_PAGE)})}"
        conditional = etag
        while url:
            page = self._get_page(url, etag=conditional, list_key=list_key)
            yield page
            url, conditional = page.next_url, None

    def get_object(self, path: str) -> dict[str, Any] | None:
        """One object (e.g. a pull request); None if GitHub answers 404 or 410."""
        try:
            response = self._request(f"{self.api_url}{path}", etag=None)
        except GitHubRepoError:
            return None
        body = _json(response)
        return body if isinstance(body, dict) else None

    def probe(self, path: str) -> Probe:
        """One GET for diagnostics: never raises for 401/403/404, reports scopes and rate limit."""
        try:
            response = self._request(f"{self.api_url}{path}", etag=None)
        except GitHubAuthError as error:
            return Probe(ok=False, detail=str(error))
        except GitHubRepoError as error:
            return Probe(ok=False, detail=str(error))
        body = _json(response)
        return Probe(
            ok=True,
            detail="",
            body=body if isinstance(body, dict) else {},
            scopes=response.headers.get("X-OAuth-Scopes"),
            remaining=_int_header(response.headers, "X-RateLimit-Remaining"),
            limit=_int_header(response.headers, "X-RateLimit-Limit"),
        )

    def _get_page(self, url: str, *, etag: str | None, list_key: str | None) -> Page:
        response = self._request(url, etag=etag)
        if response.status_code == 304:
            return Page(status=304, etag=etag)
        if response.status_code == 422:
            return Page(status=422)
        body = _json(response)
        items = body.get(list_key) if list_key and isinstance(body, dict) else body
        if not isinstance(items, list):
            raise GitHubTemporaryError(f"GitHub answered {url_path(url)} with an unexpected body")
        next_url = response.links.get("next", {}).get("url")
        if next_url and urlsplit(next_url).netloc != self._host:
            raise GitHubTemporaryError(f"GitHub's next-page link points to another host ({urlsplit(next_url).netloc})")
        poll = _int_header(response.headers, "X-Poll-Interval")
        return Page(status=200, items=items, etag=response.headers.get("ETag"), next_url=next_url, poll_interval=poll)

    def _request(self, url: str, *, etag: str | None) -> requests.Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "Accept-Encoding": "gzip, deflate",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        if etag:
            headers["If-None-Match"] = etag
        where = url_path(url)
        for attempt in range(self._policy.attempts):
            self.budget.check()
            if self._deadline.expired():
                raise DeadlineReached("the run's deadline (--max-runtime) was reached")
            try:
                # A prepared request skips Session.request's per-call merging of settings, which
                # costs more CPU than the request itself when thousands of repositories are quiet.
                prepared = requests.Request("GET", url, headers=headers).prepare()
                with self.budget.slots:
                    response = self._session.send(
                        prepared,
                        timeout=self._deadline.timeout(),
                        proxies=self._proxies,
                        allow_redirects=True,
                        verify=self._session.verify,
                    )
            except requests.RequestException as error:
                failure: GitHubError = GitHubTemporaryError(f"GitHub unreachable for {where}: {type(error).__name__}")
                self._pause(attempt, None, failure)
                continue
            self.budget.observe(response)
            # Only refusals need GitHub's message; parsing every body twice would cost CPU per request.
            message = _message(response) if response.status_code in (403, 422, 429) else ""
            verdict = classify(response.status_code, response.headers, message)
            if verdict in (Verdict.OK, Verdict.NOT_MODIFIED, Verdict.END_OF_PAGES):
                return response
            described = describe(response, where)
            if verdict is Verdict.RETRY:
                self._pause(
                    attempt, parse_retry_after(response.headers.get("Retry-After")), GitHubTemporaryError(described)
                )
                continue
            if verdict is Verdict.BAD_CREDENTIALS:
                raise GitHubAuthError(f"the token was rejected (401 Bad credentials) on {where}")
            if verdict is Verdict.PRIMARY_LIMIT:
                reset = _int_header(response.headers, "X-RateLimit-Reset")
                self.budget.stop("token rate limit exhausted" + (f" until {format_time(reset)}" if reset else ""))
                self.budget.check()
            if verdict is Verdict.SECONDARY_LIMIT:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                wait = SECONDARY_LIMIT_DEFAULT_WAIT if wait is None else wait  # "Retry-After: 0" means now
                if attempt + 1 < self._policy.attempts and wait + 1 < self._deadline.remaining():
                    self._sleep(wait)
                    continue
                self.budget.stop(f"secondary rate limit hit (GitHub asked to wait {wait:.0f}s)")
                self.budget.check()
            raise GitHubRepoError(described)
        raise GitHubTemporaryError(f"GitHub kept failing for {where} after {self._policy.attempts} attempts")

    def _pause(self, attempt: int, retry_after: float | None, failure: GitHubError) -> None:
        """Wait before the next attempt, or raise ``failure`` when no attempt or time is left."""
        delay = self._policy.delay(attempt, retry_after)
        if attempt + 1 >= self._policy.attempts or delay + 1 > self._deadline.remaining():
            raise failure
        self._sleep(delay)


def url_path(url: str) -> str:
    """The path of a URL, for messages (no host, no query, so never a secret)."""
    return urlsplit(url).path or "/"


def describe(response: requests.Response, where: str) -> str:
    """One line: status, GitHub's message and request id."""
    message = _message(response)[:160]
    request_id = response.headers.get("X-GitHub-Request-Id")
    parts = [f"GitHub answered {response.status_code} for {where}"]
    if message:
        parts.append(f": {message}")
    if request_id:
        parts.append(f" (request id {request_id})")
    return "".join(parts)


def _message(response: requests.Response) -> str:
    body = _json(response)
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else ""


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
