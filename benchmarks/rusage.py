"""A tiny wrapper that runs one command and writes its resource usage as JSON.

Usage: ``python rusage.py OUTPUT.json TIMEOUT_SECONDS -- COMMAND ARGS...``

Why a wrapper: on Linux a child's ``ru_maxrss`` (from ``wait4`` or ``RUSAGE_CHILDREN``) starts
from the high-water mark of the memory it had *before* ``exec``: a copy (fork) or a borrow
(vfork, which ``subprocess`` uses) of its parent's address space. Spawned straight from the
benchmark process, which holds the fake servers and their logs (hundreds of MB), every child
would report at least the benchmark's own RSS. Spawned from this small process (about 10 MB),
the floor is this wrapper's size, far below anything measured. The wrapper also measures the
wall time from spawn to reap, so its own start-up is not counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

KIB_PER_MB = 1024


def measure(command: list[str], timeout: float) -> dict[str, float | int | bool]:
    """Run ``command`` (inheriting stdin, stdout and stderr) and return its usage."""
    killed = threading.Event()
    started = time.perf_counter()
    process = subprocess.Popen(command)

    def kill() -> None:
        killed.set()
        process.kill()

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
    return {
        "returncode": process.returncode,
        "wall": wall,
        "user": usage.ru_utime,
        "system": usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / KIB_PER_MB,
        "timed_out": killed.is_set(),
    }


def main(argv: list[str]) -> int:
    """Parse ``OUTPUT TIMEOUT -- COMMAND...``, run, write the JSON, exit with the command's code."""
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    output, timeout, command = Path(argv[0]), float(argv[1]), argv[3:]
    result = measure(command, timeout)
    output.write_text(json.dumps(result), encoding="utf-8")
    return int(result["returncode"]) if int(result["returncode"]) >= 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
