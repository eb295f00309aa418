"""Other GitHub connectors, run against the same fake GitHub: Meltano's tap-github and Airbyte's source-github.

Each is installed in its own virtualenv outside the repository (see ``benchmarks/README.md``)
and found through ``--tap-github`` / ``--source-github`` or the environment variables
``PAINCHAIN_BENCH_TAP_GITHUB`` / ``PAINCHAIN_BENCH_SOURCE_GITHUB`` (the path of its executable).
Both read only their ``events`` and ``workflow_runs`` streams of the scenario's repositories, with
every scenario token, a start date 7 days back (painchain-gh's ``--initial-lookback 7d``) and,
for the steady-state run, the state they emitted on the first run. They write records to
stdout instead of POSTing them; the benchmark counts them.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.connectors import PHASES, STEADY, Environment, check_fakes, with_note
from benchmarks.measure import Measured, child_env, run_measured
from benchmarks.metrics import RunMetrics, TrafficMeter
from benchmarks.scenario import Scenario, fakes, make_active
from tests.fakes.github import utc_iso

JSON = dict[str, Any]
STREAMS = ("events", "workflow_runs")
LOOKBACK_SECONDS = 7 * 86400
GITHUB_COM = "https://api.github.com"

# tap-github validates each personal token with a GET of the hard-coded
# https://api.github.com/rate_limit (tap_github/authenticator.py, TokenManager.is_valid_token),
# ignoring ``api_url_base``. This module, put first on the tap's PYTHONPATH as
# ``sitecustomize``, sends that one URL prefix to the fake instead; nothing else changes.
_REDIRECT = '''"""Benchmark only: send requests for https://api.github.com to PAINCHAIN_BENCH_GITHUB_URL."""
import os

_TARGET = os.environ.get("PAINCHAIN_BENCH_GITHUB_URL")
if _TARGET:
    import requests.sessions

    _request = requests.sessions.Session.request

    def _redirected(self, method, url, *args, **kwargs):
        if isinstance(url, str) and url.startswith("https://api.github.com"):
            url = _TARGET + url[len("https://api.github.com"):]
        return _request(self, method, url, *args, **kwargs)

    requests.sessions.Session.request = _redirected
'''


@dataclass(frozen=True)
class Output:
    """What a peer wrote on stdout: records per stream, and the state to resume from."""

    records: int
    state: Any


class Peer(ABC):
    """A peer connector: how to configure it, run it and read its output."""

    label: str
    startup_args: tuple[str, ...]

    def __init__(self, executable: Path) -> None:
        self.executable = executable

    @property
    def venv(self) -> Path:
        """The virtualenv the executable lives in."""
        return self.executable.parent.parent

    def version(self) -> str:
        """The installed distribution's version, read from the venv's ``pip``."""
        pip = self.executable.with_name("pip")
        completed = subprocess.run(
            [str(pip), "show", self.distribution], capture_output=True, text=True, check=False, timeout=60
        )
        for line in completed.stdout.splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
        return "unknown"

    @property
    @abstractmethod
    def distribution(self) -> str:
        """The PyPI distribution name."""

    def startup_command(self) -> list[str]:
        """The cheapest command that loads the connector (for start-up time)."""
        return [str(self.executable), *self.startup_args]

    @abstractmethod
    def prepare(self, work: Path, scenario: Scenario, github_url: str, now: float) -> None:
        """Write config and catalog files into ``work``."""

    @abstractmethod
    def command(self, work: Path, state: Path | None) -> list[str]:
        """The read command, resuming from ``state`` when given."""

    def env(self, work: Path, github_url: str) -> dict[str, str]:
        """The child's environment."""
        return child_env()

    @abstractmethod
    def read_output(self, stdout: str) -> Output:
        """Records emitted and the final state."""


def _messages(stdout: str) -> list[JSON]:
    messages = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                messages.append(message)
    return messages


def _repositories(scenario: Scenario) -> list[str]:
    return [scenario.full_name(index) for index in range(scenario.repos)]


def _tokens(scenario: Scenario) -> list[str]:
    return sorted({scenario.token(number) for number in range(scenario.integrations)})


class TapGitHub(Peer):
    """Meltano's tap-github (Singer SDK): ``tap-github --config --catalog [--state]``."""

    label = "tap-github (Meltano)"
    startup_args = ("--about",)
    distribution = "meltanolabs-tap-github"

    def prepare(self, work: Path, scenario: Scenario, github_url: str, now: float) -> None:
        tokens = _tokens(scenario)
        config = {
            "auth_token": tokens[0],
            "additional_auth_tokens": tokens[1:],
            "repositories": _repositories(scenario),
            "api_url_base": github_url,
            "start_date": utc_iso(now - LOOKBACK_SECONDS),
        }
        (work / "config.json").write_text(json.dumps(config), encoding="utf-8")
        discovered = subprocess.run(
            [str(self.executable), "--config", str(work / "config.json"), "--discover"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env=child_env(),
        )
        catalog = json.loads(discovered.stdout)
        for stream in catalog["streams"]:
            selected = stream["tap_stream_id"] in STREAMS
            for entry in stream.get("metadata", []):
                if entry.get("breadcrumb") == []:
                    entry["metadata"]["selected"] = selected
        (work / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")
        (work / "sitecustomize.py").write_text(_REDIRECT, encoding="utf-8")

    def command(self, work: Path, state: Path | None) -> list[str]:
        command = [str(self.executable), "--config", str(work / "config.json"), "--catalog", str(work / "catalog.json")]
        return [*command, "--state", str(state)] if state else command

    def env(self, work: Path, github_url: str) -> dict[str, str]:
        return child_env(PYTHONPATH=str(work), PAINCHAIN_BENCH_GITHUB_URL=github_url)

    def read_output(self, stdout: str) -> Output:
        messages = _messages(stdout)
        records = sum(1 for m in messages if m.get("type") == "RECORD" and m.get("stream") in STREAMS)
        states = [m["value"] for m in messages if m.get("type") == "STATE" and "value" in m]
        return Output(records, states[-1] if states else None)


class SourceGitHub(Peer):
    """Airbyte's source-github (low-code CDK): ``source-github read --config --catalog [--state]``."""

    label = "source-github (Airbyte)"
    startup_args = ("spec",)
    distribution = "airbyte-source-github"

    def prepare(self, work: Path, scenario: Scenario, github_url: str, now: float) -> None:
        config = {
            "credentials": {"option_title": "PAT Credentials", "personal_access_token": ",".join(_tokens(scenario))},
            "repositories": _repositories(scenario),
            "api_url": github_url,
            "start_date": utc_iso(now - LOOKBACK_SECONDS),
        }
        (work / "config.json").write_text(json.dumps(config), encoding="utf-8")
        streams = [
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": ["created_at"],
                },
                "sync_mode": "incremental",
                "cursor_field": ["created_at"],
                "destination_sync_mode": "append",
            }
            for name in STREAMS
        ]
        (work / "catalog.json").write_text(json.dumps({"streams": streams}), encoding="utf-8")

    def command(self, work: Path, state: Path | None) -> list[str]:
        command = [
            str(self.executable),
            "read",
            "--config",
            str(work / "config.json"),
            "--catalog",
            str(work / "catalog.json"),
        ]
        return [*command, "--state", str(state)] if state else command

    def read_output(self, stdout: str) -> Output:
        messages = _messages(stdout)
        records = sum(
            1 for m in messages if m.get("type") == "RECORD" and (m.get("record") or {}).get("stream") in STREAMS
        )
        latest: dict[str, JSON] = {}
        for message in messages:
            state = message.get("state") if message.get("type") == "STATE" else None
            if isinstance(state, dict) and state.get("type") == "STREAM":
                name = state["stream"]["stream_descriptor"]["name"]
                latest[name] = state
        return Output(records, list(latest.values()) or None)


PEERS: dict[str, type[Peer]] = {"tap-github": TapGitHub, "source-github": SourceGitHub}
ENV_VARS = {"tap-github": "PAINCHAIN_BENCH_TAP_GITHUB", "source-github": "PAINCHAIN_BENCH_SOURCE_GITHUB"}


def find_peers(paths: dict[str, str | None]) -> list[Peer]:
    """The peers whose executable was given (flag, else environment variable) and exists."""
    found: list[Peer] = []
    for name, kind in PEERS.items():
        text = paths.get(name) or os.environ.get(ENV_VARS[name])
        if not text:
            continue
        executable = Path(text).expanduser()
        if not executable.is_file():
            raise SystemExit(f"{name}: no executable at {executable}")
        found.append(kind(executable))
    return found


def run_peer(peer: Peer, scenario: Scenario, environment: Environment) -> dict[str, RunMetrics]:
    """A first read, then (after the activity) a steady-state read resuming from the first one's state."""
    results: dict[str, RunMetrics] = {}
    with (
        tempfile.TemporaryDirectory(prefix="painchain-bench-peer-") as scratch,
        fakes(
            scenario,
            latency=environment.latency,
            backend_latency=environment.backend_latency,
            window_seconds=environment.budget_window,
        ) as (gh, be),
    ):
        work = Path(scratch)
        peer.prepare(work, scenario, gh.url, time.time())
        meter = TrafficMeter(gh, be, scenario)
        state_file: Path | None = None
        for phase in PHASES:
            if phase == STEADY:
                make_active(gh, scenario)
            meter.start()
            run = run_measured(
                peer.command(work, state_file), env=peer.env(work, gh.url), timeout=environment.peer_timeout
            )
            output = peer.read_output(run.stdout)
            metrics = meter.stop([run])
            metrics = with_note(metrics.with_records(output.records), _note(run, output))
            results[phase] = metrics
            if output.state is not None:
                state_file = work / "state.json"
                state_file.write_text(json.dumps(output.state), encoding="utf-8")
        check_fakes(gh.errors + be.errors)
    return results


def _note(run: Measured, output: Output) -> str:
    if run.timed_out:
        return "timed out"
    if run.returncode:
        return f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
    if output.state is None:
        return "no state emitted"
    return ""
