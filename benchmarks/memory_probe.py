"""Run ``painchain-gh`` in this process under ``tracemalloc`` and write what held the most memory.

Usage: ``python -m benchmarks.memory_probe OUTPUT.json -- SYNC ARGS...``

A sampler thread looks at the traced size every ``PAINCHAIN_BENCH_SAMPLE`` seconds (default 0.5)
and takes a snapshot whenever it is 5% above the largest seen so far, so the snapshot kept is
close to the run's peak. The top allocation sites (file:line, and the 6-frame tracebacks of
the largest ones) are written as JSON. Tracing slows the run down; its RSS is not the one to
report (the benchmark measures that on an untraced run).
"""

from __future__ import annotations

import importlib
import json
import linecache
import os
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any

FRAMES = 6
TOP = 15
GROWTH = 1.05


class Sampler(threading.Thread):
    """Keeps the snapshot taken at the largest traced size."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="tracemalloc-sampler", daemon=True)
        self.interval = interval
        self.best: tracemalloc.Snapshot | None = None
        self.best_size = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Snapshot now if memory grew enough since the last snapshot."""
        current, _ = tracemalloc.get_traced_memory()
        if current > self.best_size * GROWTH:
            self.best = tracemalloc.take_snapshot()
            self.best_size = current


def _line(frame: tracemalloc.Frame) -> str:
    return f"{_short(frame.filename)}:{frame.lineno} {linecache.getline(frame.filename, frame.lineno).strip()}"


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename.split("/work/wt/", 1)[-1]


def summarize(snapshot: tracemalloc.Snapshot, size: int, peak: int) -> dict[str, Any]:
    """The top allocation sites of ``snapshot``."""
    snapshot = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    by_line = snapshot.statistics("lineno")[:TOP]
    by_trace = snapshot.statistics("traceback")[:5]
    by_file = snapshot.statistics("filename")[:TOP]
    return {
        "snapshot_mb": size / 2**20,
        "peak_traced_mb": peak / 2**20,
        "by_line": [{"mb": s.size / 2**20, "blocks": s.count, "where": _line(s.traceback[0])} for s in by_line],
        "by_file": [
            {"mb": s.size / 2**20, "blocks": s.count, "file": _short(s.traceback[0].filename)} for s in by_file
        ],
        "tracebacks": [
            {"mb": s.size / 2**20, "blocks": s.count, "frames": [_line(f) for f in s.traceback]} for s in by_trace
        ],
    }


def main(argv: list[str]) -> int:
    """Trace, run the CLI, write the summary."""
    output, sync_args = Path(argv[0]), argv[2:]
    tracemalloc.start(FRAMES)
    sampler = Sampler(float(os.environ.get("PAINCHAIN_BENCH_SAMPLE", "0.5")))
    sampler.start()
    app = importlib.import_module("painchain_gh.cli.app")  # its app, not main(): main() ends with os._exit
    sys.argv = ["painchain-gh", *sync_args]
    code = 0
    try:
        app.app()
    except SystemExit as exit_:
        code = app.exit_status(exit_.code)
    sampler.stopped.set()
    sampler.join()
    sampler.sample()
    _, peak = tracemalloc.get_traced_memory()
    if sampler.best is not None:
        output.write_text(json.dumps(summarize(sampler.best, sampler.best_size, peak)), encoding="utf-8")
    return code


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
