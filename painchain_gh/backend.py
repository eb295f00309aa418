"""The PainChain backend client (CONTRACT.md): integrations, events, type registration.

Temporary failures (5xx, 408, 429, timeouts, refused connections) are retried with backoff
and jitter, bounded in attempts and by the run's deadline. Then a connection failure means
the backend is down (the run stops), while a 5xx is reported for the integration concerned:
the real backend answers 500 for one tenant's bad data, which must not stop the others.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import requests
from pydantic import SecretStr

from painchain_gh.errors import (
    BackendAuthError,
    BackendError,
    BackendRejected,
    BackendTemporaryError,
    BackendUnavailable,
)
from painchain_gh.http import USER_AGENT, Deadline, RetryPolicy, Sleep, parse_retry_after, proxies_for

_TEMPORARY = frozenset({408, 429})


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
        sleep: Sleep = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._proxies = proxies_for(self.base_url)
        self._session = session
        self._token = token
        self._deadline = deadline
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    def list_integrations(self) -> Any:
        """``GET /integrations``: every integration of every type and tenant (raw JSON)."""
        response = self._send("GET", "/integrations")
        return _json_or_raise(response, "/integrations")

    def get_integration(self, integration_id: str) -> dict[str, Any] | None:
        """``GET /integrations/{id}``; None when it is gone (the real backend answers 200 with no body)."""
        response = self._send("GET", f"/integrations/{path_segment(integration_id)}")
        if not response.content.strip():
            return None
        body = _json_or_raise(response, "/integrations/{id}")
        return body if isinstance(body, dict) else None

    def put_integration(self, integration_id: str, fields: dict[str, Any]) -> None:
        """``PUT /integrations/{id}`` merging the top-level ``fields`` (``config`` replaces the whole config)."""
        self._send("PUT", f"/integrations/{path_segment(integration_id)}", json=fields)

    def post_event(self, body: dict[str, Any], *, tenant_id: str | None) -> None:
        """``POST /events`` with ``x-tenant-id`` exactly when the integration has a tenant; 2xx is stored."""
        headers = {"x-tenant-id": tenant_id} if tenant_id is not None else {}
        self._send("POST", "/events", json=body, headers=headers)

    def register_type(self, payload: dict[str, Any]) -> None:
        """``POST /integrations/types/register`` (idempotent)."""
        self._send("POST", "/integrations/types/register", json=payload)

    def _send(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        if self._token is not None:
            all_headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        where = f"{method} {path}"
        for attempt in range(self._policy.attempts):
            try:
                response = self._session.request(
                    method,
                    self.base_url + path,
                    json=json,
                    headers=all_headers,
                    timeout=self._deadline.timeout(15.0),
                    proxies=self._proxies,
                )
            except requests.RequestException as error:
                self._pause(
                    attempt,
                    None,
                    BackendUnavailable(f"backend unreachable at {self.base_url} ({where}: {type(error).__name__})"),
                )
                continue
            status = response.status_code
            if 200 <= status < 300:
                return response
            if status in (401, 403):
                raise BackendAuthError(f"backend refused {where} with {status}: set BACKEND_API_TOKEN to a valid token")
            if status >= 500 or status in _TEMPORARY:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                self._pause(
                    attempt,
                    retry_after,
                    BackendTemporaryError(f"backend kept answering {status} to {where}{_detail(response)}"),
                )
                continue
            raise BackendRejected(f"backend rejected {where} with {status}{_detail(response)}", status=status)
        raise BackendError(f"backend kept failing {where}")  # not reached: _pause raises on the last attempt

    def _pause(self, attempt: int, retry_after: float | None, failure: BackendError) -> None:
        delay = self._policy.delay(attempt, retry_after)
        if attempt + 1 >= self._policy.attempts or delay + 0.5 > self._deadline.remaining():
            raise failure
        self._sleep(delay)


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one URL path segment; ``""``, ``.`` and ``..`` are refused (requests
    decodes ``%2E`` back to a dot, and a dot segment would name another resource)."""
    if value in {"", ".", ".."}:
        raise BackendError(f"integration id {value!r} cannot be used in a URL; the integration is skipped")
    return quote(value, safe="")


def _detail(response: requests.Response) -> str:
    text = response.text.strip().replace("\n", " ")[:160]
    return f": {text}" if text else ""


def _json_or_raise(response: requests.Response, where: str) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise BackendError(f"backend answered {where} with something that is not JSON") from None
