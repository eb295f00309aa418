"""The deadline: interruptible waits (SIGTERM ends them at once), reads bounded in time, the retry loop."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from pydantic import SecretStr

from painchain_gh.errors import DeadlineReached, GitHubTemporaryError
from painchain_gh.github.client import GitHubClient, TokenBudget
from painchain_gh.http import DEADLINE_MARGIN, Deadline, Retry, RetryPolicy, with_retries


def test_expire_ends_a_wait_on_a_worker_thread_at_once() -> None:
    deadline = Deadline(60)
    took: list[float] = []

    def wait() -> None:
        started = time.monotonic()
        deadline.sleep(30)
        took.append(time.monotonic() - started)

    worker = threading.Thread(target=wait)
    worker.start()
    time.sleep(0.05)
    deadline.expire()
    worker.join(timeout=2)
    assert took and took[0] < 1
    assert deadline.expired() and deadline.remaining() == 0


def test_expire_ends_a_wait_on_the_main_thread_quickly() -> None:
    deadline = Deadline(60)
    threading.Timer(0.05, deadline.expire).start()
    started = time.monotonic()
    deadline.sleep(30)
    assert time.monotonic() - started < 1


def test_sigterm_on_the_main_thread_ends_its_wait() -> None:
    """The CLI's handler (deadline.expire) runs on the main thread, possibly in the middle of its wait."""
    deadline = Deadline(60)
    previous = signal.signal(signal.SIGTERM, lambda *_: deadline.expire())
    try:
        threading.Timer(0.1, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()
        deadline.sleep(30)
        assert time.monotonic() - started < 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_expire_twice_and_sleep_after_expiry_return_at_once() -> None:
    deadline = Deadline(60)
    deadline.expire()
    deadline.expire()
    started = time.monotonic()
    deadline.sleep(30)
    assert time.monotonic() - started < 0.1 and not deadline.fits(0)


def test_the_retry_loop_is_bounded_by_attempts_and_the_deadline() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def attempt() -> int | Retry:
        calls.append(1)
        return Retry(GitHubTemporaryError("still failing"), retry_after=2.0)

    with pytest.raises(GitHubTemporaryError):
        with_retries(attempt, policy=RetryPolicy(attempts=4), deadline=Deadline(60), sleep=sleeps.append)
    assert len(calls) == 4 and sleeps == [2.0, 2.0, 2.0]

    calls.clear()
    with pytest.raises(GitHubTemporaryError):
        with_retries(
            attempt, policy=RetryPolicy(attempts=4), deadline=Deadline(2.0 + DEADLINE_MARGIN / 2), sleep=sleeps.append
        )
    assert len(calls) == 1


@pytest.fixture
def trickling_server() -> Iterator[int]:
    """Sends a 200's headers, then one byte of the body every 0.2 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
        while not stop.wait(0.2):
            try:
                connection.sendall(b" ")
            except OSError:
                break
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


def test_a_trickling_body_is_abandoned_at_the_deadline(trickling_server: int) -> None:
    deadline = Deadline(1.5)
    client = GitHubClient(
        session=requests.Session(),
        api_url=f"http://127.0.0.1:{trickling_server}",
        token=SecretStr("ghp_x"),
        budget=TokenBudget("fp", reserve=0, max_concurrent=1),
        deadline=deadline,
    )
    started = time.monotonic()
    with pytest.raises(DeadlineReached, match="while GitHub's answer for /repos/a/b/events was arriving"):
        list(client.iter_pages("/repos/a/b/events", etag=None))
    assert time.monotonic() - started < 3
