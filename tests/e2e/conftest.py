"""End-to-end harness: fake GitHub and backend on 127.0.0.1, and the real ``painchain-gh`` process."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.command import painchain_gh_command
from tests.fakes import FakeBackend, FakeGitHub, SecondaryLimits


@dataclass
class Run:
    """A finished ``painchain-gh`` process."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def printed_events(self) -> list[dict[str, Any]]:
        """``--dry-run`` output: one JSON object per stdout line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def log(self) -> list[dict[str, Any]]:
        """stderr as JSON log records (with ``--log-format json``)."""
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def summary(self) -> dict[str, Any]:
        """The final summary record (JSON logs)."""
        return next(record for record in reversed(self.log) if record.get("event") == "summary")


@dataclass
class Connector:
    """Runs the real CLI against the fakes, with its own state directory."""

    github: FakeGitHub
    backend: FakeBackend
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        """The state file every run of this connector uses."""
        return self.state_dir / "state.json"

    def base_env(self) -> dict[str, str]:
        """A clean environment pointing at the fakes (no proxies, fast retries)."""
        keep = {name: value for name, value in os.environ.items() if name in {"PATH", "HOME", "LANG", "SYSTEMROOT"}}
        return {
            **keep,
            "BACKEND_API_URL": self.backend.url,
            "GITHUB_API_URL": self.github.url,
            "PAINCHAIN_GH_STATE_FILE": str(self.state_file),
            "PAINCHAIN_GH_RETRY_BASE_DELAY": "0.01",
            "NO_PROXY": "127.0.0.1,localhost",
            **self.env,
        }

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        """Run ``painchain-gh ARGS`` to completion (JSON logs unless ARGS say otherwise)."""
        command = [*painchain_gh_command(), *args]
        if args and args[0] == "sync" and "--log-format" not in args:
            command += ["--log-format", "json"]
        done = subprocess.run(
            command,
            env={**self.base_env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start ``painchain-gh ARGS`` without waiting (for kill -9 and lock tests)."""
        return subprocess.Popen(
            [*painchain_gh_command(), *args],
            env={**self.base_env(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )


PROVOKES_SECONDARY_LIMITS = "provokes_secondary_limits"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of tests that pass GitHub's secondary limits on purpose."""
    config.addinivalue_line(
        "markers", f"{PROVOKES_SECONDARY_LIMITS}: the test passes the fake GitHub's secondary limits on purpose"
    )


@pytest.fixture
def github(request: pytest.FixtureRequest) -> Iterator[FakeGitHub]:
    """A fake GitHub API that asks for no minimum poll interval (so syncs may follow each other) and
    enforces GitHub's documented secondary limits; a test not marked ``provokes_secondary_limits``
    must not pass them (a test that scales the budget window scales ``secondary.window_seconds`` too)."""
    with FakeGitHub() as server:
        server.poll_interval = 0
        server.secondary = SecondaryLimits(enforce=True)
        yield server
        assert not server.errors, server.errors
        if request.node.get_closest_marker(PROVOKES_SECONDARY_LIMITS) is None:
            violations = server.secondary_usage.report().violations()
            assert sum(violations.values()) == 0, f"secondary limits passed: {violations}"


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    """A fake PainChain backend."""
    with FakeBackend() as server:
        yield server
        assert not server.errors, server.errors


@pytest.fixture
def connector(github: FakeGitHub, backend: FakeBackend, tmp_path: Path) -> Connector:
    """The real CLI wired to the fakes."""
    return Connector(github=github, backend=backend, state_dir=tmp_path / "state")
