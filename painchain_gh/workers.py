"""Worker threads over a queue of jobs that may grow while they run (discovery adds repositories).

Unlike ``ThreadPoolExecutor.map`` this creates no future per job, which matters with tens of
thousands of repositories. Results come back in the order jobs were queued. Once the deadline has
expired, threads get a grace period; jobs still unfinished then (a thread stuck in I/O) or never
started are reported by the caller's ``unfinished``, and a stuck thread is left to die with the
process (threads are daemons). An exception escaping a job stops the workers and is re-raised.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

WAIT_STEP = 0.1  # how often the waiting thread looks at the deadline


class JobQueue(Generic[Job]):
    """Jobs in the order they are to be taken; more may be added (or withdrawn) while workers run.

    An open queue (``open_=True``) keeps its workers waiting for more jobs until :meth:`close`.
    """

    def __init__(self, jobs: Iterable[Job] = (), *, open_: bool = False) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._all: list[Job] = []
        self._pending: deque[int] = deque()
        self._withdrawn: set[int] = set()
        self._open = open_
        self.add(jobs)

    def add(self, jobs: Iterable[Job], *, front: bool = False) -> None:
        """Queue more jobs behind those already queued (before them with ``front``, in their order)."""
        with self._changed:
            added = []
            for job in jobs:
                added.append(len(self._all))
                self._all.append(job)
            if front:
                self._pending.extendleft(reversed(added))
            else:
                self._pending.extend(added)
            self._changed.notify_all()

    def close(self) -> None:
        """No more jobs will be added: workers stop once the queue is empty."""
        with self._changed:
            self._open = False
            self._changed.notify_all()

    def withdraw(self, unwanted: Callable[[Job], bool]) -> int:
        """Drop queued jobs that were not taken yet and that ``unwanted`` names; returns how many."""
        with self._lock:
            dropped = [index for index in self._pending if unwanted(self._all[index])]
            self._withdrawn.update(dropped)
            self._pending = deque(index for index in self._pending if index not in self._withdrawn)
            return len(dropped)

    def take(self, give_up: Callable[[], bool] = lambda: False) -> tuple[int, Job] | None:
        """The next job and its position; None when none is left and the queue is closed (or ``give_up()``
        while waiting for one)."""
        with self._changed:
            while not self._pending:
                if not self._open or give_up():
                    return None
                self._changed.wait(WAIT_STEP)
            index = self._pending.popleft()
            return index, self._all[index]

    def jobs(self) -> list[tuple[int, Job]]:
        """Every job ever queued and not withdrawn, with its position."""
        with self._lock:
            return [(index, job) for index, job in enumerate(self._all) if index not in self._withdrawn]


class WorkerPool(Generic[Job, Result]):
    """Daemon threads that each take the next job as they finish one."""

    def __init__(
        self,
        work: Callable[[Job], Result],
        queue: JobQueue[Job],
        *,
        workers: int,
        give_up: Callable[[], bool] = lambda: False,
    ) -> None:
        self.work = work
        self.queue = queue
        self.give_up = give_up
        self.workers = max(1, workers)
        self.results: dict[int, Result] = {}
        self.failures: list[BaseException] = []
        self.all_done = threading.Event()
        self._running = self.workers
        self._lock = threading.Lock()
        self._go = threading.Event()

    def start(self) -> None:
        """Start the threads (daemons: one stuck in I/O never keeps the process alive). They all start
        before any of them works: a thread started while others run Python code waits for the
        interpreter lock (milliseconds each), a thread started while they wait does not."""
        try:
            for number in range(self.workers):
                threading.Thread(target=self.worker, name=f"poll-{number}", daemon=True).start()
        finally:
            self._go.set()

    def worker(self) -> None:
        """One thread's loop: take a job, do it, until none is left or a job raised."""
        self._go.wait()
        try:
            while not self.failures:
                taken = self.queue.take(self.give_up)
                if taken is None:
                    return
                index, job = taken
                try:
                    self.results[index] = self.work(job)
                except BaseException as error:  # a bug or Ctrl-C: stop and re-raise it in the caller
                    self.failures.append(error)
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self.all_done.set()

    def wait(self, *, deadline_expired: Callable[[], bool], grace: float) -> None:
        """Until every thread is done, or ``grace`` seconds after the deadline expired."""
        while not self.all_done.wait(WAIT_STEP):
            if deadline_expired():
                self.all_done.wait(grace)
                return


def run_in_threads(
    work: Callable[[Job], Result],
    jobs: Sequence[Job] | JobQueue[Job],
    *,
    workers: int,
    unfinished: Callable[[Job], Result],
    deadline_expired: Callable[[], bool] = lambda: False,
    grace: float = 5.0,
) -> list[Result]:
    """``work`` on every job of ``jobs`` (a queue may grow meanwhile) with ``workers`` daemon threads.

    Results are in the order jobs were queued; a job not finished ``grace`` seconds after the deadline
    expired (or never started) gets ``unfinished(job)``. An exception escaping ``work`` is re-raised.
    """
    queue = jobs if isinstance(jobs, JobQueue) else JobQueue(jobs)
    pool = WorkerPool(work, queue, workers=workers, give_up=deadline_expired)
    pool.start()
    pool.wait(deadline_expired=deadline_expired, grace=grace)
    if pool.failures:
        raise pool.failures[0]
    results = dict(pool.results)  # a stuck thread may still write its result later: a snapshot
    return [results[index] if index in results else unfinished(job) for index, job in queue.jobs()]
