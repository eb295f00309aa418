"""A small pool of daemon threads for calls a repository's poll makes side by side.

A repository's streams (events, workflow runs, deployments) are independent requests: sent
together, a repository costs one round trip instead of three (see ``poll._fetch``). ``ThreadPoolExecutor`` would do,
but its threads are joined when the interpreter exits, so one request stuck on a silent server
would hold the process (and the state lock) after the run's deadline; these threads are daemons,
like the run's workers, and are bounded by the same deadline through the requests they make.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_Task = tuple[Callable[[], Any], "Future[Any]"]


class SidePool:
    """Runs submitted calls on up to ``workers`` daemon threads, started as they are needed."""

    def __init__(self, *, workers: int, name: str = "side") -> None:
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._workers = max(1, workers)
        self._name = name
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """Run ``call`` on a pool thread; its result or exception arrives through the future."""
        future: Future[T] = Future()
        self._queue.put((call, future))
        with self._lock:
            if self._idle:  # a waiting thread takes it
                self._idle -= 1
            elif len(self._threads) < self._workers:
                thread = threading.Thread(target=self._serve, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            # else: every thread is busy; the call waits in the queue for the first one free
        return future

    def close(self) -> None:
        """Let every thread end once the calls queued before are done (never waits)."""
        for _ in self._threads:
            self._queue.put(None)

    def _serve(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            call, future = task
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # handed to whoever waits on the future
                    future.set_exception(error)
            with self._lock:
                self._idle += 1
