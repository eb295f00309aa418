"""``painchain-gh sync``: poll every repository once, then the summary, the metrics and the exit code."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from painchain_gh.cli.shared import (
    DEFAULT_BACKFILL_DETAILS,
    DEFAULT_INITIAL_LOOKBACK,
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_LOG_FORMAT,
    DEFAULT_MAX_RUNTIME,
    DEFAULT_STATE_KIND,
    DEFAULT_SWEEP_INTERVAL,
    AllowApiHostOption,
    BackfillDetailsOption,
    ConcurrencyOption,
    LogFormat,
    MaxRuntimeOption,
    PerTokenConcurrencyOption,
    PointsPerMinuteOption,
    RateLimitReserveOption,
    RepoOption,
    ShardOption,
    StateFileOption,
    StateKindOption,
    SweepIntervalOption,
    Verbose,
    build_settings,
    known_errors,
    log,
    setup_logging,
)
from painchain_gh.errors import PainChainError, UsageError
from painchain_gh.settings import Settings

if TYPE_CHECKING:
    from painchain_gh.jobs import Shard
    from painchain_gh.results import SyncReport


def sync(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fetch and transform; print events as JSON lines; change nothing.")
    ] = Settings.dry_run,
    repo: RepoOption = None,
    integration: Annotated[
        str | None,
        typer.Option(
            "--integration",
            metavar="ID",
            help="Sync only this backend integration; with --repo, post as it (its tenant and credentials;"
            " GITHUB_TOKEN wins).",
        ),
    ] = None,
    state: StateKindOption = DEFAULT_STATE_KIND,
    state_file: StateFileOption = None,
    initial_lookback: Annotated[
        str,
        typer.Option(envvar="PAINCHAIN_GH_INITIAL_LOOKBACK", help="First sync of a repository: how far back."),
    ] = DEFAULT_INITIAL_LOOKBACK,
    backfill_details: BackfillDetailsOption = DEFAULT_BACKFILL_DETAILS,
    max_runtime: MaxRuntimeOption = DEFAULT_MAX_RUNTIME,
    concurrency: ConcurrencyOption = Settings.concurrency,
    per_token_concurrency: PerTokenConcurrencyOption = Settings.per_token_concurrency,
    points_per_minute: PointsPerMinuteOption = Settings.points_per_minute,
    sweep_interval: SweepIntervalOption = DEFAULT_SWEEP_INTERVAL,
    rate_limit_reserve: RateLimitReserveOption = Settings.rate_limit_reserve,
    force: Annotated[
        bool, typer.Option("--force", help="Poll every repository, even if not due yet.")
    ] = Settings.force,
    shard: ShardOption = None,
    allow_api_host: AllowApiHostOption = None,
    lock_timeout: Annotated[str, typer.Option(help="Wait this long for another sync's lock.")] = DEFAULT_LOCK_TIMEOUT,
    max_response_mb: Annotated[
        int,
        typer.Option(
            min=1,
            max=1024,
            envvar="PAINCHAIN_GH_MAX_RESPONSE_MB",
            help="Largest answer read from GitHub or the backend, in MiB; a larger one fails that request.",
        ),
    ] = Settings.max_response_mb,
    backend_max_body_kb: Annotated[
        int,
        typer.Option(
            min=16,
            max=1024 * 1024,
            envvar="PAINCHAIN_GH_BACKEND_MAX_BODY_KB",
            help="The backend's request body limit in KiB (NestJS's default is 100): --state backend keeps each"
            " integration's config, cursor included, under it.",
        ),
    ] = Settings.backend_max_body_kb,
    metrics_file: Annotated[
        Path | None,
        typer.Option(envvar="PAINCHAIN_GH_METRICS_FILE", help="Write the run's metrics here (node-exporter textfile)."),
    ] = None,
    pushgateway: Annotated[
        str | None, typer.Option(envvar="PAINCHAIN_GH_PUSHGATEWAY", help="Push the run's metrics to this Pushgateway.")
    ] = None,
    log_format: LogFormat = DEFAULT_LOG_FORMAT,
    verbose: Verbose = False,
) -> None:
    """Poll every configured repository once, forward new events, record cursors, exit."""
    with known_errors():
        interactive = setup_logging(log_format, verbose)
        settings = build_settings(
            repo=repo,
            integration=integration,
            dry_run=dry_run,
            state=state,
            state_file=state_file,
            initial_lookback=initial_lookback,
            backfill_details=backfill_details,
            max_runtime=max_runtime,
            concurrency=concurrency,
            per_token_concurrency=per_token_concurrency,
            points_per_minute=points_per_minute,
            sweep_interval=sweep_interval,
            rate_limit_reserve=rate_limit_reserve,
            force=force,
            shard=shard,
            allow_api_host=allow_api_host,
            lock_timeout=lock_timeout,
            max_response_mb=max_response_mb,
            backend_max_body_kb=backend_max_body_kb,
        )
        if settings.repos and not settings.dry_run and settings.integration_id is None:
            from painchain_gh.runner import ADHOC_NEEDS_INTEGRATION  # noqa: PLC0415

            raise UsageError(ADHOC_NEEDS_INTEGRATION)
        report = run(settings, interactive=interactive)
        export_metrics(report, metrics_file=metrics_file, pushgateway=pushgateway, shard=settings.shard)
        from painchain_gh.output import log_summary, print_summary_table  # noqa: PLC0415

        log_summary(report)
        if interactive:
            print_summary_table(report)
    raise typer.Exit(int(report.exit_code()))


def run(settings: Settings, *, interactive: bool) -> SyncReport:
    """The sync itself; a known failure before or around it becomes a report with that failure."""
    from painchain_gh.output import Progress, log_result  # noqa: PLC0415
    from painchain_gh.results import SyncReport  # noqa: PLC0415
    from painchain_gh.runner import Runner  # noqa: PLC0415

    progress = Progress(enabled=interactive)
    try:
        runner = Runner(settings)
        signal.signal(signal.SIGTERM, lambda *_: runner.deadline.expire())  # stop cleanly, state saved
        return runner.sync(on_result=progress.wrap(log_result), on_jobs=progress.start)
    except PainChainError as error:
        log.error("%s", error, extra={"fields": {"event": "error", "exit_code": int(error.exit_code)}})
        return SyncReport(fatal=str(error), fatal_code=error.exit_code)
    finally:
        progress.finish()


def export_metrics(
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
