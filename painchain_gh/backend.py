"""The PainChain backend client (CONTRACT.md): integrations, events, type registration.

Temporary failures (5xx, 408, 429, timeouts, refused connections) are retried with backoff
and jitter, bounded in attempts and by the run's deadline (the retry loop of ``http.py``).
Then a connection failure means the backend is down (the run stops), while a 5xx is reported
for the integration concerned: the real backend answers 500 for one tenant's bad data, which
must not stop the others. Redirects are never followed: a 3xx is not an acknowledgement
(a ``307`` on ``POST /events`` would otherwise send the event, and count it delivered, elsewhere).
Bodies are read within a size cap and the deadline; what the backend says is scrubbed of
secrets before it is cut to a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
from pydantic import SecretStr

from painchain_gh import secrets
from painchain_gh.errors import (
    BackendAuthError,
    BackendError,
    BackendRejected,
    BackendTemporaryError,
    BackendUnavailable,
)
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
    exchange,
    header_safe,
    origin,
    parse_retry_after,
    proxies_for,
    resolve,
    size_text,
    with_retries,
)

# Given an integration as just read (its config a dict), the top-level fields to PUT, or None for no write.
IntegrationEdit = Callable[[dict[str, Any]], dict[str, Any] | None]

_TEMPORARY = frozenset({408, 429})
_READ_TIMEOUT = 15.0
_DETAIL_LENGTH = 300


class BackendClient:
    """Requests to the PainChain backend at ``base_url`` (e.g. ``http://backend:8000/api``)."""

    def __init__(
        self,
        *,
        session: requests.Session,
        base_url: str,
        token: SecretStr | None,
        deadline: Deadline,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._proxies = proxies_for(self.base_url)
        self._session = session
        self._token = token
        self._secrets = (token.get_secret_value(),) if token is not None else ()
        self._deadline = deadline
        self._policy = policy or RetryPolicy()
        self._sleep = sleep or deadline.sleep
        self._max_body_bytes = max_body_bytes

    def list_integrations(self) -> Any:
        """``GET /integrations``: every integration of every type and tenant (raw JSON)."""
        reply = self._send("GET", "/integrations")
        return _json_or_raise(reply, "/integrations")

    def get_integration(self, integration_id: str) -> dict[str, Any] | None:
        """``GET /integrations/{id}``; None when it is gone (the real backend answers 200 with no body)."""
        reply = self._send("GET", f"/integrations/{path_segment(integration_id)}")
        if not reply.body.strip():
            return None
        body = _json_or_raise(reply, "/integrations/{id}")
        return body if isinstance(body, dict) else None

    def put_integration(self, integration_id: str, fields: dict[str, Any]) -> None:
        """``PUT /integrations/{id}`` merging the top-level ``fields`` (``config`` replaces the whole config)."""
        self._send("PUT", f"/integrations/{path_segment(integration_id)}", json=fields)

    def edit_integration(self, integration_id: str, edit: IntegrationEdit) -> dict[str, Any] | None:
        """Read-modify-write of one integration. ``PUT`` replaces ``config`` whole, so the integration is
        read immediately before writing and ``edit`` changes only its own keys of that fresh config.

        Returns the fields written; None when nothing was written: the integration is gone (or its
        config is not an object), or ``edit`` returned None.
        """
        fresh = self.get_integration(integration_id)
        if fresh is None or not isinstance(fresh.get("config"), dict):
            return None
        fields = edit(fresh)
        if fields is not None:
            self.put_integration(integration_id, fields)
        return fields

    def post_event(self, body: dict[str, Any], *, tenant_id: str | None) -> None:
        """``POST /events`` with ``x-tenant-id`` exactly when the integration has a tenant; 2xx is stored."""
        if tenant_id is not None and not header_safe(tenant_id):
            raise BackendRejected(
                "the tenant id cannot be sent as the x-tenant-id header (characters outside Latin-1, control "
                "characters or surrounding spaces); POST /events not sent",
                status=0,
            )
        headers = {"x-tenant-id": tenant_id} if tenant_id is not None else {}
        self._send("POST", "/events", json=body, headers=headers)

    def register_type(self, payload: dict[str, Any]) -> None:
        """``POST /integrations/types/register`` (idempotent)."""
        self._send("POST", "/integrations/types/register", json=payload)

    def _send(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Reply:
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        where = f"{method} {secrets.safe_text(path, limit=200)}"
        if self._token is not None:
            authorization = f"Bearer {self._token.get_secret_value()}"
            if not header_safe(authorization):
                raise BackendAuthError(
                    "BACKEND_API_TOKEN cannot be sent in an HTTP header (characters outside Latin-1, or control "
                    f"characters); {where} not sent"
                )
            all_headers["Authorization"] = authorization
        try:
            prepared = self._session.prepare_request(
                requests.Request(method, self.base_url + path, json=json, headers=all_headers)
            )
        except (requests.RequestException, ValueError) as error:
            raise BackendRejected(f"{where} could not be encoded ({type(error).__name__})", status=0) from None
        return with_retries(
            lambda: self._attempt(prepared, where), policy=self._policy, deadline=self._deadline, sleep=self._sleep
        )

    def _attempt(self, prepared: requests.PreparedRequest, where: str) -> Reply | Retry:
        try:
            reply = exchange(
                self._session,
                prepared.copy(),
                deadline=self._deadline,
                max_body_bytes=self._max_body_bytes,
                proxies=self._proxies,
                read_timeout=_READ_TIMEOUT,
            )
        except Unreachable as error:
            return Retry(BackendUnavailable(f"backend unreachable at {self._base_text()} ({where}: {error})"))
        except BodyTooLarge:
            raise BackendTemporaryError(
                f"backend's answer to {where} is larger than {size_text(self._max_body_bytes)}; not read"
            ) from None
        except OutOfTime:
            raise BackendTemporaryError(f"backend's answer to {where} did not arrive before the deadline") from None
        except Unsendable as error:  # e.g. a header that is not Latin-1, or an unparsable Location
            raise BackendTemporaryError(f"{where} could not be sent or its answer not parsed ({error})") from None
        status = reply.status
        if 200 <= status < 300:
            return reply
        if 300 <= status < 400:
            raise BackendTemporaryError(
                f"backend answered {where} with a redirect ({status}{self._location(reply)}); not followed "
                "(set BACKEND_API_URL to the final address)"
            )
        if status in (401, 403):
            raise BackendAuthError(f"backend refused {where} with {status}: set BACKEND_API_TOKEN to a valid token")
        if status >= 500 or status in _TEMPORARY:
            return Retry(
                BackendTemporaryError(f"backend kept answering {status} to {where}{self._detail(reply)}"),
                parse_retry_after(reply.headers.get("Retry-After")),
            )
        raise BackendRejected(f"backend rejected {where} with {status}{self._detail(reply)}", status=status)

    def _detail(self, reply: Reply) -> str:
        """The backend's answer for a message: secrets scrubbed first, then escaped and cut."""
        text = reply.body.decode("utf-8", "replace").strip()
        return f": {secrets.safe_text(text, limit=_DETAIL_LENGTH, extra=self._secrets)}" if text else ""

    def _location(self, reply: Reply) -> str:
        location = reply.headers.get("Location")
        if not location:
            return ""
        found = origin(resolve(self.base_url + "/", location))
        shown = f"{found[0]}://{found[1]}:{found[2]}" if found else "an unusable URL"
        return f" to {secrets.safe_text(shown, limit=100, extra=self._secrets)}"

    def _base_text(self) -> str:
        return secrets.safe_text(self.base_url, limit=200, extra=self._secrets)


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one URL path segment; ``""``, ``.`` and ``..`` are refused (requests
    decodes ``%2E`` back to a dot, and a dot segment would name another resource)."""
    if value in {"", ".", ".."}:
        raise BackendError(f"integration id {value!r} cannot be used in a URL; the integration is skipped")
    return quote(value, safe="")


def _json_or_raise(reply: Reply, where: str) -> Any:
    try:
        return reply.json()
    except InvalidJSON:
        raise BackendError(f"backend answered {where} with something that is not JSON") from None
