"""Run ``painchain-gh`` in this process with timers around its phases, and write them as JSON.

Usage: ``python -m benchmarks.phase_probe OUTPUT.json -- SYNC ARGS...`` with ``PAINCHAIN_BENCH_T0``
set by the parent to ``time.time()`` just before it spawned this process (so the interpreter's own
start-up is counted). The connector's code is not changed: functions are wrapped by their dotted
names at run time, and a name that no longer exists is reported as missing instead of failing.

Each phase records its total wall time and call count; phases run on worker threads (the poll,
thread start-up) are summed over threads. ``exit`` is filled in by the parent (process end
minus the time this probe saw ``SystemExit``).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

T0 = float(os.environ.get("PAINCHAIN_BENCH_T0", "0") or 0) or time.time()
PROBE_START = time.time()

# (phase, "module:Qualified.name"), in the order a sync runs them.
WRAPPED = (
    ("logging setup", "painchain_gh.cli.shared:setup_logging"),
    ("settings", "painchain_gh.cli.shared:build_settings"),
    ("clients (session, retry policy)", "painchain_gh.runner:Runner.__init__"),
    ("registration (POST connector type)", "painchain_gh.runner:Runner._register_quietly"),
    ("GET /integrations", "painchain_gh.backend:BackendClient.list_integrations"),
    ("integration validation", "painchain_gh.models:select_integrations"),
    ("jobs", "painchain_gh.runner:Runner.jobs"),
    ("state load + lock (FileStore.open)", "painchain_gh.store.file_store:FileStore.open"),
    ("sync (run_sync, total)", "painchain_gh.sync:run_sync"),
    ("thread start-up (Thread.start)", "threading:Thread.start"),
    ("poll (per repository, summed over threads)", "painchain_gh.streams.poll:poll_repository"),
    ("per-repository log line", "painchain_gh.output:log_result"),
    ("finish integrations (state + lastSync)", "painchain_gh.runner:Runner._finish_integrations"),
    ("lastSync PUTs", "painchain_gh.backend:BackendClient.put_integration"),
    ("store.finish_integration", "painchain_gh.store.file_store:FileStore.finish_integration"),
    ("state write (FileStore.close)", "painchain_gh.store.file_store:FileStore.close"),
    ("metrics export", "painchain_gh.cli.sync:export_metrics"),
    ("summary log line", "painchain_gh.output:log_summary"),
)
# Modules the sync command imports lazily: imported (and timed) up front, in this order.
LAZY_IMPORTS = (
    "painchain_gh.output",
    "painchain_gh.runner",
    "painchain_gh.sync",
    "painchain_gh.metrics",
)

_totals: dict[str, list[float]] = {}  # phase -> [seconds, calls]
_lock = threading.Lock()
_marks: dict[str, float] = {}


def _add(phase: str, seconds: float) -> None:
    with _lock:
        entry = _totals.setdefault(phase, [0.0, 0])
        entry[0] += seconds
        entry[1] += 1


def _timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        _marks.setdefault(f"first call: {phase}", started)
        try:
            return function(*args, **kwargs)
        finally:
            _add(phase, time.perf_counter() - started)

    return wrapper


def _wrap(phase: str, target: str) -> bool:
    module_name, _, qualified = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        return False
    *path, name = qualified.split(".")
    for part in path:
        owner = getattr(owner, part, None)
        if owner is None:
            return False
    function = getattr(owner, name, None)
    if function is None:
        return False
    setattr(owner, name, _timed(phase, function))
    # Modules that imported the function by name keep their own reference: rebind those too.
    if not path:
        for module in list(sys.modules.values()):
            if (
                module is not None
                and module.__name__.startswith("painchain_gh")
                and module.__dict__.get(name) is function
            ):
                setattr(module, name, owner.__dict__[name])
    return True


def main(argv: list[str]) -> int:
    """Wrap, run the CLI, write the timings."""
    output, sync_args = Path(argv[0]), argv[2:]
    started = time.perf_counter()
    cli = importlib.import_module("painchain_gh.cli")
    _marks["import painchain_gh.cli (typer, click, ...)"] = time.perf_counter() - started
    for name in LAZY_IMPORTS:
        started = time.perf_counter()
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        _marks[f"import {name}"] = time.perf_counter() - started
    missing = [target for phase, target in WRAPPED if not _wrap(phase, target)]

    def write() -> None:
        imports = {name: value for name, value in _marks.items() if name.startswith("import ")}
        called, parsed = _marks.get("main called"), _marks.get("first call: logging setup")
        if called is not None and parsed is not None:
            imports["command line parsing (typer: click command, pydantic adapters per option)"] = parsed - called
        result = {
            "interpreter start-up (spawn to first line of the probe)": PROBE_START - T0,
            "imports": imports,
            "phases": {phase: {"seconds": s, "calls": int(c)} for phase, (s, c) in _totals.items()},
            "missing": missing,
            "exit_seen": time.time() - T0,
        }
        output.write_text(json.dumps(result), encoding="utf-8")

    atexit.register(write)
    sys.argv = ["painchain-gh", *sync_args]
    _marks["main called"] = time.perf_counter()
    try:
        cli.main()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
