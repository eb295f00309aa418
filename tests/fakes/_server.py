"""Shared base of the fake HTTP servers: lifecycle, request log, latency, faults and holds.

A subclass implements :meth:`FakeServer.handle`, and may admit or refuse each request as it
arrives (:meth:`FakeServer.arrive`, :meth:`FakeServer.depart`: requests in flight, rate limits);
everything else (threading, keep-alive, recording, fault injection) lives here. Handlers run on
daemon threads; shared state is guarded by ``self._lock`` (an ``RLock``, so subclasses may call
their own locked helpers).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import traceback
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

_S = TypeVar("_S", bound="FakeServer")

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class RecordedRequest:
    """One request as received; ``status`` is the answer sent (0: dropped or not answered yet)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    caller: str = ""  # who sent it, as the server told callers apart (FakeGitHub: the rate-limit identity)

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class Response:
    """An answer to send; ``status == 0`` means close the connection without answering."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: object, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer with the right Content-Type."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


@dataclass
class _Rule:
    method: str
    pattern: re.Pattern[str]

    def matches(self, req: RecordedRequest) -> bool:
        return self.method in ("*", req.method) and self.pattern.search(req.path) is not None


@dataclass
class _Fault(_Rule):
    status: int
    count: int
    headers: dict[str, str]
    body: object | None


@dataclass
class _Hold(_Rule):
    after: int
    seen: int = 0
    released: threading.Event = field(default_factory=threading.Event)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never join handler threads (idle keep-alive ones) on close
    request_queue_size = 256  # the default 5 makes concurrent benchmark clients wait for SYN retries

    def __init__(self, port: int, app: FakeServer) -> None:
        self.app = app
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away (e.g. killed mid-request); keep anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            with self.app._lock:
                self.app.errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake"
    sys_version = ""
    timeout = 5  # idle keep-alive connections give up after this
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.app._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging to stderr."""

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        req = RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        resp = self.server.app._serve(req)
        if resp.status == 0:
            self.close_connection = True  # the socket is closed without a byte sent
            return
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        has_body = resp.status not in (204, 304) and self.command != "HEAD"
        if has_body:
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if has_body:
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)


class FakeServer:
    """A real HTTP/1.1 server on 127.0.0.1; subclasses implement :meth:`handle`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # tracebacks of exceptions raised by handle()
        self.latency = 0.0
        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._holds: list[_Hold] = []
        self._held = 0
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._port = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self: _S) -> _S:
        """Listen (on a free port, or on the previous one after a restart) and serve."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self._port, self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop quickly: wake held requests, close open connections, free the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        self.release()
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port listened on (0 before the first start)."""
        return self._port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` without any base path."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        """The base URL a client is configured with."""
        return self.origin

    # -- log, faults, holds ----------------------------------------------------------------

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """Logged requests whose method matches (``"*"`` = any) and path matches ``re.search``."""
        rule = _Rule(method.upper(), re.compile(path_regex))
        with self._lock:
            return [r for r in self.requests if rule.matches(r)]

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        count: int = 1,
        headers: dict[str, str] | None = None,
        body: object | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (0 = drop the connection)."""
        fault = _Fault(method.upper(), re.compile(path_regex), status, count, headers or {}, body)
        with self._lock:
            self._faults.append(fault)

    def hold(self, method: str, path_regex: str, *, after: int = 0) -> None:
        """Block matching requests, except the first ``after`` ones, until :meth:`release`."""
        with self._lock:
            self._holds.append(_Hold(method.upper(), re.compile(path_regex), after))

    def release(self) -> None:
        """Let every held request proceed and forget the hold rules."""
        with self._lock:
            holds, self._holds = self._holds, []
        for rule in holds:
            rule.released.set()

    def held_count(self) -> int:
        """How many requests are blocked by a hold right now."""
        with self._lock:
            return self._held

    # -- for subclasses ----------------------------------------------------------------------

    def handle(self, req: RecordedRequest) -> Response:
        """Answer one request (called on a handler thread)."""
        raise NotImplementedError

    def fault_headers(self, req: RecordedRequest) -> dict[str, str]:
        """Headers added to injected fault answers (before the ones given to fail_next)."""
        return {}

    def arrive(self, req: RecordedRequest) -> Response | None:
        """Called as a request arrives, before latency and holds: an answer that replaces the
        normal one (after the same latency and holds), or None. Paired with one :meth:`depart`."""
        return None

    def depart(self, req: RecordedRequest) -> None:
        """Called once the answer to ``req`` is ready (or the request was dropped)."""

    # -- internals -----------------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _serve(self, req: RecordedRequest) -> Response:
        refusal = self.arrive(req)
        try:
            with self._lock:
                self.requests.append(req)
                hold = next((h for h in self._holds if h.matches(req)), None)
                if hold is not None:
                    hold.seen += 1
                    if hold.seen <= hold.after:
                        hold = None
                    else:
                        self._held += 1
            if self.latency > 0:
                self._stopping.wait(self.latency)
            if hold is not None:
                hold.released.wait()
                with self._lock:
                    self._held -= 1
            if self._stopping.is_set():
                return Response(0)
            resp = self._answer(req) if refusal is None else refusal
            req.status = resp.status
            return resp
        finally:
            self.depart(req)

    def _answer(self, req: RecordedRequest) -> Response:
        with self._lock:
            fault = next((f for f in self._faults if f.matches(req)), None)
            if fault is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
        try:
            if fault is None:
                return self.handle(req)
            if fault.status == 0:
                return Response(0)
            headers = {**self.fault_headers(req), **fault.headers}
            if fault.body is None:
                return Response(fault.status, b"", headers)
            return json_response(fault.status, fault.body, headers)
        except Exception:
            with self._lock:
                self.errors.append(traceback.format_exc())
            return json_response(500, {"message": "fake server error (see .errors)"})
