"""A fake PainChain backend (newer generation, quirks included; see /work/shared/CONTRACT.md).

Quirks imitated: validation errors are 500, an unknown integration reads as 200 with an empty
body, PUT replaces ``config`` whole, an unknown ``x-tenant-id`` is 500 on POST and ``[]`` on GET,
and (with ``dedupe``) a repeated (integrationId, externalId) answers 201 with the existing row.
A request body over 100 kB is refused with 413 (NestJS's default body parser), and ``status`` is
any string (the UI shows it as a badge; ``active``, ``inactive`` and ``error`` are the model's values).
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ._server import FakeServer, RecordedRequest, Response, json_response

JSON = dict[str, Any]
_UPDATABLE = ("name", "status", "lastSync", "config")  # other top-level keys are stripped
_EVENT_STRINGS = ("title", "connector", "project", "timestamp")
MAX_BODY_BYTES = 100 * 1024  # body-parser's "100kb"


def now_iso() -> str:
    """Now as the backend writes it: ``2026-11-25T10:00:00.000Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class StoredEvent:
    """One stored row: the body as POSTed, the ``x-tenant-id`` sent (or None), its id."""

    body: JSON
    tenant: str | None
    event_id: str
    stored_at: str = ""


def _nest(status: int, message: str, error: str | None = None) -> Response:
    body: JSON = {"statusCode": status, "message": message}
    if error:
        body["error"] = error
    return json_response(status, body)


def _server_error() -> Response:
    """How the real backend answers validation errors and unknown ids."""
    return _nest(500, "Internal server error")


class FakeBackend(FakeServer):
    """The PainChain backend API under ``/api``."""

    def __init__(self) -> None:
        super().__init__()
        self.integrations: list[JSON] = []  # live rows, in creation order
        self.events: list[StoredEvent] = []
        self.event_posts = 0
        self.puts: list[tuple[str, Any]] = []
        self.registered_types: dict[str, JSON] = {}
        self.reject_external_ids: set[str] = set()
        self.dedupe = True
        self.require_name_and_tags = True
        self.required_token: str | None = None
        self._by_key: dict[tuple[str, str], StoredEvent] = {}

    @property
    def url(self) -> str:
        return self.origin + "/api"

    # -- data helpers -------------------------------------------------------------------------

    def add_integration(
        self,
        *,
        id: str | None = None,
        tenant_id: str | None = None,
        name: str = "Test",
        token: str | None = "ghp_test_token",
        repositories: object = None,
        tags: object = None,
        status: str = "active",
        type: str = "github",
        extra_config: JSON | None = None,
        api_url: str | None = None,
    ) -> JSON:
        """Create a realistic row and return it (live: edits show in later answers).

        ``repositories`` defaults to acme/api-gateway tagged ``backend``, ``tags`` to ``["team"]``;
        ``token=None`` leaves the token out; ``api_url`` goes to ``config["apiUrl"]``.
        """
        config: JSON = {
            "name": name,
            "tags": ["team"] if tags is None else tags,
            "token": token,
            "repositories": [{"owner": "acme", "repo": "api-gateway", "tags": ["backend"]}]
            if repositories is None
            else repositories,
        }
        if token is None:
            del config["token"]
        if api_url is not None:
            config["apiUrl"] = api_url
        config.update(extra_config or {})
        row: JSON = {
            "id": id or "c" + secrets.token_hex(12),
            "tenantId": tenant_id,
            "type": type,
            "name": name,
            "status": status,
            "lastSync": None,
            "registeredAt": now_iso(),
            "config": config,
        }
        return self.add_raw_integration(row)

    def add_raw_integration(self, row: JSON) -> JSON:
        """Store any row as it is (for hostile or malformed configurations)."""
        with self._lock:
            self.integrations.append(row)
        return row

    def integration(self, integration_id: str) -> JSON | None:
        """The current row with this id, or None."""
        with self._lock:
            return next((r for r in self.integrations if r.get("id") == integration_id), None)

    def events_for(self, integration_id: str) -> list[StoredEvent]:
        """Stored rows whose top-level ``integrationId`` is this id."""
        with self._lock:
            return [e for e in self.events if e.body.get("integrationId") == integration_id]

    def external_ids(self) -> list[str]:
        """The ``externalId`` of every stored row, in order (repeats show without ``dedupe``)."""
        with self._lock:
            return [e.body["externalId"] for e in self.events if isinstance(e.body.get("externalId"), str)]

    def tenants(self) -> set[str]:
        """Known tenants: the non-null ``tenantId`` of the integrations."""
        with self._lock:
            return {r["tenantId"] for r in self.integrations if isinstance(r.get("tenantId"), str)}

    # -- HTTP ------------------------------------------------------------------------------------

    def handle(self, req: RecordedRequest) -> Response:
        with self._lock:
            auth = req.headers.get("authorization", "")
            if self.required_token is not None and auth != f"Bearer {self.required_token}":
                return _nest(401, "Unauthorized")
            if len(req.body) > MAX_BODY_BYTES:
                return _nest(413, "request entity too large", "Payload Too Large")
            path = req.path.rstrip("/")
            tenant = req.headers.get("x-tenant-id")
            if req.method == "GET" and path == "/api/integrations":
                return json_response(200, [r for r in self.integrations if self._visible(r, tenant)])
            if m := re.fullmatch(r"/api/integrations/([^/]+)", path):
                if req.method == "GET":
                    row = self.integration(m[1])
                    if row is None or not self._visible(row, tenant):
                        return Response(200)  # the real backend's "not found"
                    return json_response(200, row)
                if req.method == "PUT":
                    return self._put(m[1], req)
            if req.method == "POST" and path == "/api/events":
                return self._post_event(req, tenant)
            if req.method == "POST" and path == "/api/integrations/types/register":
                return self._register(req, auth)
            return _nest(404, f"Cannot {req.method} {req.path}", "Not Found")

    @staticmethod
    def _visible(row: JSON, tenant: str | None) -> bool:
        return tenant is None or row.get("tenantId") == tenant

    def _put(self, integration_id: str, req: RecordedRequest) -> Response:
        body = _json_or_none(req.body)
        self.puts.append((integration_id, body))
        row = self.integration(integration_id)
        if row is None or not isinstance(body, dict):
            return _server_error()
        if "status" in body and not isinstance(body["status"], str):
            return _server_error()
        if "config" in body:
            config = body["config"]
            if not isinstance(config, dict):
                return _server_error()
            if self.require_name_and_tags and not (
                isinstance(config.get("name"), str) and isinstance(config.get("tags"), list)
            ):
                return _server_error()
        row.update({k: body[k] for k in _UPDATABLE if k in body})
        return json_response(200, row)

    def _post_event(self, req: RecordedRequest, tenant: str | None) -> Response:
        self.event_posts += 1
        body = _json_or_none(req.body)
        if not (
            isinstance(body, dict)
            and all(isinstance(body.get(k), str) for k in _EVENT_STRINGS)
            and isinstance(body.get("data"), dict)
        ):
            return _server_error()
        if tenant is not None and tenant not in self.tenants():
            return _server_error()
        iid, xid = body.get("integrationId"), body.get("externalId")
        if self.dedupe and iid is not None and not (isinstance(iid, str) and self.integration(iid)):
            return _server_error()  # the old generation drops integrationId unchecked
        if isinstance(xid, str) and xid in self.reject_external_ids:
            return json_response(400, {"statusCode": 400, "message": "rejected"})
        key = (iid, xid) if self.dedupe and isinstance(iid, str) and isinstance(xid, str) else None
        stored = self._by_key.get(key) if key else None
        if stored is None:
            stored = StoredEvent(body, tenant, str(uuid.uuid4()), now_iso())
            self.events.append(stored)
            if key:
                self._by_key[key] = stored
        return json_response(201, {"event_id": stored.event_id, "stored_at": stored.stored_at})

    def _register(self, req: RecordedRequest, auth: str) -> Response:
        if not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
            return _nest(401, "Unauthorized")
        body = _json_or_none(req.body)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return _server_error()
        entry = self.registered_types.setdefault(body["id"], {})
        entry.update(body)
        return json_response(200, {"id": entry["id"], "displayName": entry.get("displayName"), "registered": True})


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
