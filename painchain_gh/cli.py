"""The command line: flags and environment in, one-line errors and documented exit codes out.

Only this module reads the environment and configures logging; heavy modules are imported
inside the commands so that ``painchain-gh --version`` stays fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from painchain_gh import __version__
from painchain_gh.errors import ExitCode, PainChainError, UsageError

if TYPE_CHECKING:  # types only: importing these at run time would slow down --version
    from pydantic import SecretStr

    from painchain_gh.jobs import Shard
    from painchain_gh.runner import Settings
    from painchain_gh.sync import SyncReport

log = logging.getLogger("painchain_gh")

app = typer.Typer(
    name="painchain-gh",
    help="GitHub connector for PainChain: one-shot sync of repository events and workflow runs.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
state_app = typer.Typer(help="Inspect, reset, export or import the cursors.", no_args_is_help=True)
deadletter_app = typer.Typer(help="Events the backend rejected for good.", no_args_is_help=True)
app.add_typer(state_app, name="state")
app.add_typer(deadletter_app, name="deadletter")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"painchain-gh {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """GitHub connector for PainChain."""


@contextmanager
def _known_errors() -> Iterator[None]:
    """The error boundary: a known failure becomes one line on stderr and its exit code."""
    try:
        yield
    except PainChainError as error:
        _fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INTERNAL)


def _fail(message: str, code: ExitCode) -> NoReturn:
    if log.handlers:
        log.error("%s", message, extra={"fields": {"event": "error", "exit_code": int(code)}})
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(int(code))


def _secret(name: str) -> SecretStr | None:
    from pydantic import SecretStr  # noqa: PLC0415 - keep --version fast

    value = os.environ.get(name, "").strip()
    return SecretStr(value) if value else None


def _duration(name: str, text: str) -> float:
    from painchain_gh.timeutil import parse_duration  # noqa: PLC0415

    try:
        return parse_duration(text)
    except ValueError as error:
        raise UsageError(f"{name}: {error}") from None


def _default_state_file() -> Path:
    from platformdirs import user_state_path  # noqa: PLC0415

    return user_state_path("painchain-gh") / "state.json"


def _shard(text: str | None) -> Shard | None:
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


def _state_path(state_file: Path | None, shard: Shard | None) -> Path:
    path = state_file or _default_state_file()
    if shard is not None:  # shards never share a state file
        path = path.with_name(f"{path.stem}.shard-{shard.index}-of-{shard.count}{path.suffix}")
    return path


def _setup_logging(log_format: str, verbose: bool) -> bool:
    """Configure logs on stderr; True when a person is watching (text logs on a terminal)."""
    from painchain_gh.report import configure_logging  # noqa: PLC0415

    if log_format not in {"auto", "text", "json"}:
        raise UsageError("--log-format must be auto, text or json")
    json_format = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    secrets = [os.environ.get(name, "") for name in ("GITHUB_TOKEN", "BACKEND_API_TOKEN")]
    configure_logging(json_format=json_format, verbose=verbose, known_secrets=secrets)
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
StateKind = Annotated[
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


def build_settings(
    *,
    repo: list[str] | None = None,
    dry_run: bool = False,
    state: str = "file",
    state_file: Path | None = None,
    initial_lookback: str = "24h",
    max_runtime: str = "50s",
    concurrency: int = 32,
    per_token_concurrency: int = 16,
    rate_limit_reserve: int = 100,
    force: bool = False,
    shard: str | None = None,
    allow_api_host: list[str] | None = None,
    lock_timeout: str = "0s",
) -> Settings:
    """Settings from flags plus the environment (the only place that reads it)."""
    from painchain_gh.runner import Settings  # noqa: PLC0415

    if state not in {"file", "backend"}:
        raise UsageError("--state must be file or backend")
    parsed_shard = _shard(shard)
    interval_text = os.environ.get("POLLING_INTERVAL", "").strip()
    try:
        polling_interval = int(interval_text) if interval_text else None
        retry_base = float(os.environ.get("PAINCHAIN_GH_RETRY_BASE_DELAY", "0.5"))
    except ValueError:
        raise UsageError("POLLING_INTERVAL must be whole seconds; PAINCHAIN_GH_RETRY_BASE_DELAY seconds") from None
    hosts = {"api.github.com"}
    for item in [*(allow_api_host or []), *os.environ.get("PAINCHAIN_GH_ALLOW_API_HOSTS", "").split(",")]:
        if item.strip():
            hosts.add(item.strip().lower())
    return Settings(
        backend_url=os.environ.get("BACKEND_API_URL", "").strip() or "http://localhost:8000/api",
        backend_token=_secret("BACKEND_API_TOKEN"),
        github_api_url=os.environ.get("GITHUB_API_URL", "").strip() or "https://api.github.com",
        github_token=_secret("GITHUB_TOKEN"),
        repos=tuple(repo or ()),
        dry_run=dry_run,
        state_kind=state,
        state_file=_state_path(state_file, parsed_shard),
        initial_lookback=_duration("--initial-lookback", initial_lookback),
        max_runtime=_duration("--max-runtime", max_runtime),
        concurrency=concurrency,
        per_token_concurrency=per_token_concurrency,
        rate_limit_reserve=rate_limit_reserve,
        polling_interval=polling_interval,
        force=force,
        allowed_hosts=frozenset(hosts),
        shard=parsed_shard,
        lock_timeout=_duration("--lock-timeout", lock_timeout),
        retry_base_delay=retry_base,
    )


@app.command()
def sync(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fetch and transform; print events as JSON lines; change nothing.")
    ] = False,
    repo: Annotated[
        list[str] | None,
        typer.Option("--repo", metavar="OWNER/NAME", help="Poll these repositories instead of the backend's."),
    ] = None,
    state: StateKind = "file",
    state_file: StateFileOption = None,
    initial_lookback: Annotated[
        str,
        typer.Option(envvar="PAINCHAIN_GH_INITIAL_LOOKBACK", help="First sync of a repository: how far back."),
    ] = "24h",
    max_runtime: Annotated[
        str, typer.Option(envvar="PAINCHAIN_GH_MAX_RUNTIME", help="Deadline of the run; the rest waits.")
    ] = "50s",
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, envvar="PAINCHAIN_GH_CONCURRENCY", help="Repositories polled at once.")
    ] = 32,
    per_token_concurrency: Annotated[
        int, typer.Option(min=1, max=20, help="Concurrent GitHub requests per token.")
    ] = 16,
    rate_limit_reserve: Annotated[
        int,
        typer.Option(
            min=0, envvar="PAINCHAIN_GH_RATE_LIMIT_RESERVE", help="Stop using a token when fewer calls are left."
        ),
    ] = 100,
    force: Annotated[bool, typer.Option("--force", help="Poll every repository, even if not due yet.")] = False,
    shard: ShardOption = None,
    allow_api_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-api-host",
            metavar="HOST",
            help="Also allow this host in an integration's apiUrl (env PAINCHAIN_GH_ALLOW_API_HOSTS, comma-separated).",
        ),
    ] = None,
    lock_timeout: Annotated[str, typer.Option(help="Wait this long for another sync's lock.")] = "0s",
    metrics_file: Annotated[
        Path | None,
        typer.Option(envvar="PAINCHAIN_GH_METRICS_FILE", help="Write the run's metrics here (node-exporter textfile)."),
    ] = None,
    pushgateway: Annotated[
        str | None, typer.Option(envvar="PAINCHAIN_GH_PUSHGATEWAY", help="Push the run's metrics to this Pushgateway.")
    ] = None,
    log_format: LogFormat = "auto",
    verbose: Verbose = False,
) -> None:
    """Poll every configured repository once, forward new events, record cursors, exit."""
    with _known_errors():
        interactive = _setup_logging(log_format, verbose)
        settings = build_settings(
            repo=repo,
            dry_run=dry_run,
            state=state,
            state_file=state_file,
            initial_lookback=initial_lookback,
            max_runtime=max_runtime,
            concurrency=concurrency,
            per_token_concurrency=per_token_concurrency,
            rate_limit_reserve=rate_limit_reserve,
            force=force,
            shard=shard,
            allow_api_host=allow_api_host,
            lock_timeout=lock_timeout,
        )
    from painchain_gh.report import Progress, log_result, log_summary, print_summary_table  # noqa: PLC0415
    from painchain_gh.runner import Runner  # noqa: PLC0415
    from painchain_gh.sync import SyncReport  # noqa: PLC0415

    progress = Progress(enabled=interactive)
    try:
        runner = Runner(settings)
        signal.signal(signal.SIGTERM, lambda *_: runner.deadline.expire())  # stop cleanly, state saved
        report = runner.sync(on_result=progress.wrap(log_result), on_jobs=progress.start)
    except PainChainError as error:
        report = SyncReport(fatal=str(error), fatal_code=error.exit_code)
        log.error("%s", error, extra={"fields": {"event": "error", "exit_code": int(error.exit_code)}})
    finally:
        progress.finish()
    _export_metrics(report, metrics_file=metrics_file, pushgateway=pushgateway, shard=settings.shard)
    log_summary(report)
    if interactive:
        print_summary_table(report)
    raise typer.Exit(int(report.exit_code()))


def _export_metrics(
    report: SyncReport, *, metrics_file: Path | None, pushgateway: str | None, shard: Shard | None
) -> None:
    """Write or push the run's metrics; a failure here is a warning, never the run's outcome."""
    if metrics_file is None and pushgateway is None:
        return
    from painchain_gh.metrics import push_metrics, write_metrics_file  # noqa: PLC0415

    try:
        if metrics_file is not None:
            write_metrics_file(metrics_file, report)
        if pushgateway is not None:
            grouping = {"shard": f"{shard.index}-of-{shard.count}"} if shard is not None else {}
            push_metrics(pushgateway, report, grouping=grouping)
    except (OSError, ValueError) as error:
        log.warning("metrics not exported: %s", error)


@app.command()
def register(log_format: LogFormat = "auto") -> None:
    """Register the GitHub connector type with the backend (needs BACKEND_API_TOKEN)."""
    with _known_errors():
        _setup_logging(log_format, False)
        from painchain_gh.runner import Runner  # noqa: PLC0415

        Runner(build_settings()).register()
        log.info("connector type 'github' registered")


@app.command()
def check(
    repo: Annotated[
        list[str] | None, typer.Option("--repo", metavar="OWNER/NAME", help="Check these repositories instead.")
    ] = None,
    allow_api_host: Annotated[list[str] | None, typer.Option("--allow-api-host", metavar="HOST")] = None,
) -> None:
    """Verify the backend, each integration, each token (scopes, rate limit) and each repository."""
    with _known_errors():
        from painchain_gh.check import render, run_checks  # noqa: PLC0415
        from painchain_gh.runner import Runner  # noqa: PLC0415

        rows = run_checks(Runner(build_settings(repo=repo, allow_api_host=allow_api_host)))
        typer.echo(render(rows))
        failed = sum(not row.ok for row in rows)
        typer.echo(f"\n{len(rows) - failed} ok, {failed} to fix")
    if failed:
        raise typer.Exit(
            int(ExitCode.UPSTREAM if rows[0].subject == "backend" and not rows[0].ok else ExitCode.PARTIAL)
        )


def main() -> None:
    """Console-script entry point."""
    app()


# The state and deadletter commands live in their own module; importing it registers them.
from painchain_gh import cli_state  # noqa: E402, F401
