"""Running a program as a child process and measuring it: wall time, CPU time, peak RSS.

Each measured command runs under :mod:`benchmarks.rusage`, a small wrapper process that spawns
it and reaps it with ``os.wait4(pid)``, which returns that one child's own ``rusage`` (Linux:
``ru_maxrss`` is its high-water mark of resident memory in KiB, ``ru_utime``/``ru_stime`` its
user and system CPU). Not ``getrusage(RUSAGE_CHILDREN)`` deltas: their ``ru_maxrss`` is the
maximum over *all* children ever waited for. And not ``wait4`` from this process either: a
child's ``ru_maxrss`` includes the memory of whoever spawned it (see :mod:`benchmarks.rusage`),
and this process holds the fakes. The wrapper measures wall time from spawn to reap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRAPPER = Path(__file__).with_name("rusage.py")


@dataclass(frozen=True)
class Measured:
    """One finished child process."""

    returncode: int
    wall: float  # seconds, from spawn to reaped
    user: float  # CPU seconds in user mode
    system: float  # CPU seconds in the kernel
    peak_rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def cpu(self) -> float:
        """User plus system CPU seconds."""
        return self.user + self.system

    def json_lines(self, stream: str = "stderr") -> list[dict[str, Any]]:
        """The JSON objects printed one per line on ``stream`` (other lines are skipped)."""
        records = []
        for line in getattr(self, stream).splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records


def run_measured(command: list[str], *, env: dict[str, str], timeout: float = 3600.0) -> Measured:
    """Run ``command`` to completion through the :mod:`benchmarks.rusage` wrapper and measure it.

    The command is killed (and the result marked) after ``timeout`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="painchain-bench-") as scratch:
        usage_file = Path(scratch) / "usage.json"
        wrapper = [sys.executable, str(WRAPPER), str(usage_file), str(timeout), "--", *command]
        with open(Path(scratch) / "out", "w+b") as out, open(Path(scratch) / "err", "w+b") as err:
            subprocess.run(wrapper, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=False)
            usage = json.loads(usage_file.read_text(encoding="utf-8"))
            return Measured(
                returncode=int(usage["returncode"]),
                wall=float(usage["wall"]),
                user=float(usage["user"]),
                system=float(usage["system"]),
                peak_rss_mb=float(usage["peak_rss_mb"]),
                stdout=_read(out),
                stderr=_read(err),
                timed_out=bool(usage["timed_out"]),
            )


def run_parallel(commands: list[list[str]], *, env: dict[str, str], timeout: float = 3600.0) -> list[Measured]:
    """Run ``commands`` at the same time (e.g. the shards of one sync) and measure each."""
    if len(commands) == 1:
        return [run_measured(commands[0], env=env, timeout=timeout)]
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(lambda command: run_measured(command, env=env, timeout=timeout), commands))


def _read(handle: Any) -> str:
    handle.seek(0)
    return str(handle.read().decode("utf-8", errors="replace"))


def child_env(**extra: str) -> dict[str, str]:
    """A small, clean environment for a child: no proxies, no inherited tokens or settings."""
    keep = {name: value for name, value in os.environ.items() if name in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {**keep, "NO_PROXY": "127.0.0.1,localhost", **extra}


def best_wall(command: list[str], *, repeat: int = 5) -> Measured:
    """The fastest of ``repeat`` runs of ``command`` (for start-up time)."""
    runs = [run_measured(command, env=child_env(), timeout=60) for _ in range(repeat)]
    return min(runs, key=lambda run: run.wall)
