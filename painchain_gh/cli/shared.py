"""What every command shares: the error boundary, log setup, options, and settings from flags and environment.

Only the CLI reads the environment and configures logging. Heavy modules are imported
inside functions so that ``painchain-gh --version`` stays fast; defaults come from
:class:`~painchain_gh.settings.Settings`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from painchain_gh.errors import ExitCode, PainChainError, UsageError
from painchain_gh.settings import STATE_KINDS, Settings, StateKind, default_state_file
from painchain_gh.timeutil import format_duration, parse_duration

if TYPE_CHECKING:  # types only: importing these at run time would slow down --version
    from pydantic import SecretStr

    from painchain_gh.jobs import Shard

log = logging.getLogger("painchain_gh")

DEFAULT_LOG_FORMAT = "auto"
SECRET_VARIABLES = ("GITHUB_TOKEN", "BACKEND_API_TOKEN")


@contextmanager
def known_errors() -> Iterator[None]:
    """The error boundary: a known failure becomes one line on stderr and its exit code; Ctrl-C exits 130."""
    try:
        yield
    except PainChainError as error:
        fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.INTERRUPTED)


def fail(message: str, code: ExitCode) -> NoReturn:
    """Log (or print, before logging is set up) one error line and exit with ``code``."""
    if log.handlers:
        log.error("%s", message, extra={"fields": {"event": "error", "exit_code": int(code)}})
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(int(code))


def setup_logging(log_format: str, verbose: bool) -> bool:
    """Configure logs on stderr; True when a person is watching (text logs on a terminal)."""
    from painchain_gh.output import configure_logging  # noqa: PLC0415

    if log_format not in {"auto", "text", "json"}:
        raise UsageError("--log-format must be auto, text or json")
    json_format = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    known = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    configure_logging(json_format=json_format, verbose=verbose, known_secrets=known)
    return not json_format and sys.stderr.isatty()


LogFormat = Annotated[
    str,
    typer.Option(
        "--log-format",
        envvar="PAINCHAIN_GH_LOG_FORMAT",
        help="text, json (one object per line) or auto (json when stderr is not a terminal).",
    ),
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also log quiet repositories (not modified, not due).")]
StateKindOption = Annotated[
    str, typer.Option("--state", envvar="PAINCHAIN_GH_STATE", help="Where cursors live: file or backend.")
]
StateFileOption = Annotated[
    Path | None,
    typer.Option(
        "--state-file",
        envvar="PAINCHAIN_GH_STATE_FILE",
        help="State file path [default: the user state directory, e.g. ~/.local/state/painchain-gh/state.json].",
    ),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        envvar="PAINCHAIN_GH_SHARD",
        help="INDEX/COUNT: poll only this shard's repositories [default: from JOB_COMPLETION_INDEX and "
        "PAINCHAIN_GH_SHARD_COUNT].",
    ),
]
RepoOption = Annotated[
    list[str] | None,
    typer.Option("--repo", metavar="OWNER/NAME", help="Poll these repositories instead of the backend's."),
]
AllowApiHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-api-host",
        metavar="HOST",
        help="Also allow this origin in an integration's apiUrl: HOST[:PORT] (https) or http://HOST:PORT"
        " (env PAINCHAIN_GH_ALLOW_API_HOSTS, comma-separated).",
    ),
]

BackfillDetailsOption = Annotated[
    str,
    typer.Option(
        envvar="PAINCHAIN_GH_BACKFILL_DETAILS",
        help="First sync of a repository: fetch commits, files, reviews and failed jobs only for"
        " events this recent (0s: none); older history goes out with titles and authors.",
    ),
]
MaxRuntimeOption = Annotated[
    str, typer.Option(envvar="PAINCHAIN_GH_MAX_RUNTIME", help="Deadline of a run; the rest waits for the next one.")
]
ConcurrencyOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        envvar="PAINCHAIN_GH_CONCURRENCY",
        help="GitHub requests in flight at once, for the whole process.",
    ),
]
PerTokenConcurrencyOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=50,
        envvar="PAINCHAIN_GH_PER_TOKEN_CONCURRENCY",
        help="GitHub requests in flight at once per token or App installation (GitHub allows 100; shards share it).",
    ),
]
PointsPerMinuteOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=5000,
        envvar="PAINCHAIN_GH_POINTS_PER_MINUTE",
        help="GitHub points a minute per token or App installation (a request costs 1; GitHub allows 900;"
        " shards share it; an integration's pointsPerMinute may ask for less).",
    ),
]
SweepIntervalOption = Annotated[
    str,
    typer.Option(
        envvar="PAINCHAIN_GH_SWEEP_INTERVAL",
        help="Read a quiet repository's workflow runs and deployments at least this often (at once after"
        " activity, and while one is in progress).",
    ),
]
RateLimitReserveOption = Annotated[
    int,
    typer.Option(min=0, envvar="PAINCHAIN_GH_RATE_LIMIT_RESERVE", help="Never spend a token below this many requests."),
]

DEFAULT_STATE_KIND: str = Settings.state_kind
DEFAULT_INITIAL_LOOKBACK = format_duration(Settings.initial_lookback)
DEFAULT_BACKFILL_DETAILS = format_duration(Settings.backfill_details)
DEFAULT_MAX_RUNTIME = format_duration(Settings.max_runtime)
DEFAULT_SWEEP_INTERVAL = format_duration(Settings.sweep_interval)
DEFAULT_LOCK_TIMEOUT = format_duration(Settings.lock_timeout)


def build_settings(
    *,
    repo: list[str] | None = None,
    integration: str | None = None,
    dry_run: bool | None = None,
    state: str | None = None,
    state_file: Path | None = None,
    initial_lookback: str | None = None,
    backfill_details: str | None = None,
    max_runtime: str | None = None,
    concurrency: int | None = None,
    per_token_concurrency: int | None = None,
    points_per_minute: int | None = None,
    sweep_interval: str | None = None,
    rate_limit_reserve: int | None = None,
    force: bool | None = None,
    shard: str | None = None,
    allow_api_host: list[str] | None = None,
    lock_timeout: str | None = None,
    max_response_mb: int | None = None,
    backend_max_body_kb: int | None = None,
) -> Settings:
    """Settings from flags plus the environment (the only place that reads it); unset values keep
    the defaults of :class:`Settings`."""
    parsed_shard = parse_shard(shard)
    given: dict[str, Any] = {
        "backend_url": os.environ.get("BACKEND_API_URL", "").strip() or None,
        "backend_token": secret("BACKEND_API_TOKEN"),
        "github_api_url": os.environ.get("GITHUB_API_URL", "").strip() or None,
        "github_token": secret("GITHUB_TOKEN"),
        "repos": tuple(repo) if repo else None,
        "integration_id": integration.strip() if integration and integration.strip() else None,
        "dry_run": dry_run,
        "state_kind": parse_state_kind(state) if state is not None else None,
        "state_file": state_path(state_file, parsed_shard),
        "initial_lookback": duration("--initial-lookback", initial_lookback),
        "backfill_details": duration("--backfill-details", backfill_details),
        "max_runtime": duration("--max-runtime", max_runtime),
        "concurrency": concurrency,
        "per_token_concurrency": per_token_concurrency,
        "points_per_minute": points_per_minute,
        "sweep_interval": duration("--sweep-interval", sweep_interval),
        "rate_limit_reserve": rate_limit_reserve,
        "force": force,
        "allowed_hosts": allowed_hosts(allow_api_host),
        "shard": parsed_shard,
        "lock_timeout": duration("--lock-timeout", lock_timeout),
        "max_response_mb": max_response_mb,
        "backend_max_body_kb": backend_max_body_kb,
    }
    interval_text = os.environ.get("POLLING_INTERVAL", "").strip()
    retry_text = os.environ.get("PAINCHAIN_GH_RETRY_BASE_DELAY", "").strip()
    body_text = os.environ.get("PAINCHAIN_GH_BACKEND_MAX_BODY_KB", "").strip()
    window_text = os.environ.get("PAINCHAIN_GH_BUDGET_WINDOW", "").strip()
    if window_text:
        window = duration("PAINCHAIN_GH_BUDGET_WINDOW", window_text)
        if not window or window <= 0:
            raise UsageError("PAINCHAIN_GH_BUDGET_WINDOW must be a duration above zero, e.g. 60s")
        given["budget_window"] = window
    try:
        given["polling_interval"] = int(interval_text) if interval_text else None
        given["retry_base_delay"] = float(retry_text) if retry_text else None
        if given["backend_max_body_kb"] is None and body_text:
            given["backend_max_body_kb"] = int(body_text)
    except ValueError:
        raise UsageError(
            "POLLING_INTERVAL and PAINCHAIN_GH_BACKEND_MAX_BODY_KB must be whole numbers; "
            "PAINCHAIN_GH_RETRY_BASE_DELAY seconds"
        ) from None
    return Settings(**{name: value for name, value in given.items() if value is not None})


def parse_state_kind(text: str) -> StateKind:
    """``--state``: file or backend."""
    for kind in STATE_KINDS:
        if text == kind:
            return kind
    raise UsageError("--state must be file or backend")


def secret(name: str) -> SecretStr | None:
    """A secret from the environment, or None when unset or blank."""
    from pydantic import SecretStr  # noqa: PLC0415 - keep --version fast

    value = os.environ.get(name, "").strip()
    return SecretStr(value) if value else None


def duration(name: str, text: str | None) -> float | None:
    """Seconds in a duration flag (None when not given); a bad value is a usage error naming the flag."""
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        raise UsageError(f"{name}: {error}") from None


def allowed_hosts(flags: list[str] | None) -> frozenset[str]:
    """The API origins integrations may name: the default ones plus flags and PAINCHAIN_GH_ALLOW_API_HOSTS
    (``HOST[:PORT]`` means https; plain http only as ``http://HOST:PORT``)."""
    from painchain_gh.jobs import parse_allowed_origin  # noqa: PLC0415

    hosts = set(Settings.allowed_hosts)  # build_jobs reads a bare host as https://HOST:443
    for item in [*(flags or []), *os.environ.get("PAINCHAIN_GH_ALLOW_API_HOSTS", "").split(",")]:
        if item.strip():
            try:
                hosts.add(parse_allowed_origin(item))
            except ValueError as error:
                raise UsageError(f"--allow-api-host: {error}") from None
    return frozenset(hosts)


def parse_shard(text: str | None) -> Shard | None:
    """``--shard INDEX/COUNT``, else the Kubernetes indexed-job environment, else None."""
    from painchain_gh.jobs import Shard  # noqa: PLC0415

    if not text:
        index, count = os.environ.get("JOB_COMPLETION_INDEX"), os.environ.get("PAINCHAIN_GH_SHARD_COUNT")
        if index is None or count is None:
            return None
        text = f"{index}/{count}"
    try:
        return Shard.parse(text)
    except ValueError as error:
        raise UsageError(f"--shard: {error}") from None


def state_path(state_file: Path | None, shard: Shard | None) -> Path:
    """The state file of this process: shards never share one."""
    path = state_file or default_state_file()
    if shard is not None:
        path = path.with_name(f"{path.stem}.shard-{shard.index}-of-{shard.count}{path.suffix}")
    return path
