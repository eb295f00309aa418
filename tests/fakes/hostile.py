"""A hostile HTTP server on raw sockets: it trickles, floods, sends what no JSON parser should
recurse into, and records every connection's first bytes (so a TLS handshake, i.e. a scheme
switch, shows up too).

Each connection serves one request and is closed. Routes map a path regex to a behaviour
(a function that writes whatever it likes to the socket); unmatched paths answer 404.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType

MB = 1024 * 1024


@dataclass
class Seen:
    """One connection: its first bytes, and the request line and headers if it was plain HTTP."""

    first_bytes: bytes
    method: str = ""
    path: str = ""
    headers: dict[str, str] | None = None


Behaviour = Callable[[socket.socket, threading.Event], None]


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Connection: close", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: str, body: bytes, headers: dict[str, str] | None = None) -> Behaviour:
    """A fixed answer with a Content-Length."""

    def send(conn: socket.socket, stop: threading.Event) -> None:
        head = {"Content-Type": "application/json", **(headers or {}), "Content-Length": str(len(body))}
        conn.sendall(_head(status, head) + body)

    return send


def trickle(every: float = 2.0, announced: int = 1_000_000) -> Behaviour:
    """A 200 whose headers arrive at once and whose body then arrives one byte every ``every`` seconds."""

    def send(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head("200 OK", {"Content-Type": "application/json", "Content-Length": str(announced)}) + b"[")
        while not stop.wait(every):
            conn.sendall(b" ")

    return send


def flood(size: int = 60 * MB) -> Behaviour:
    """A 200 with a chunked body of ``size`` bytes (no Content-Length to refuse it by), generated lazily."""

    def send(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head("200 OK", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        piece = b"[" + b" " * (MB - 1)
        sent = 0
        while sent < size and not stop.is_set():
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
            piece = b" " * MB
        conn.sendall(b"0\r\n\r\n")

    return send


class HostileServer:
    """Listens on 127.0.0.1 and answers each request with the behaviour of the first matching route."""

    def __init__(self, routes: dict[str, Behaviour] | None = None) -> None:
        self.routes: dict[str, Behaviour] = dict(routes or {})
        self.seen: list[Seen] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._conns: list[socket.socket] = []

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileServer:
        """Serve on a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop every behaviour, close every connection and the listener."""
        self._stop.set()
        self._thread.join(timeout=2)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._listener.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def requests_to(self, path_regex: str) -> list[Seen]:
        """Plain HTTP requests whose path matches."""
        with self._lock:
            return [seen for seen in self.seen if seen.path and re.search(path_regex, seen.path)]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            seen = Seen(first_bytes=data[:64])
            with self._lock:
                self.seen.append(seen)
            if not data[:1].isalpha():
                return  # not plain HTTP (e.g. a TLS ClientHello): recorded, not answered
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            seen.method, seen.path = head[0].split(" ")[0], head[0].split(" ")[1].split("?")[0]
            seen.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            behaviour = next((b for pattern, b in self.routes.items() if re.search(pattern, seen.path)), None)
            (behaviour or answer("404 Not Found", b'{"message":"Not Found"}'))(conn, self._stop)
        except OSError:
            pass  # the client went away (as it should, from a trickle or a flood)
        except Exception as error:  # a bug in a behaviour: the test fails on it
            with self._lock:
                self.errors.append(repr(error))
        finally:
            with suppress(OSError):
                conn.close()
