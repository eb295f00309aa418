"""``painchain-gh plan``: what each token or App installation can keep fresh, and what the configuration needs."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from painchain_gh.cli.shared import (
    DEFAULT_BACKFILL_DETAILS,
    DEFAULT_MAX_RUNTIME,
    DEFAULT_STATE_KIND,
    DEFAULT_SWEEP_INTERVAL,
    AllowApiHostOption,
    BackfillDetailsOption,
    ConcurrencyOption,
    MaxRuntimeOption,
    PerTokenConcurrencyOption,
    PointsPerMinuteOption,
    RateLimitReserveOption,
    StateFileOption,
    StateKindOption,
    SweepIntervalOption,
    build_settings,
    duration,
    known_errors,
)
from painchain_gh.errors import ExitCode, UsageError
from painchain_gh.settings import Settings

DEFAULT_EVERY = "1m"
DEFAULT_ACTIVE = "5%"
DEFAULT_ACTIVE_PER = "5m"
DEFAULT_LATENCY = "300ms"


def parse_share(flag: str, text: str) -> float:
    """A share of repositories: ``5%`` or ``0.05``; a usage error otherwise."""
    cleaned = text.strip()
    try:
        value = float(cleaned.removesuffix("%")) / (100 if cleaned.endswith("%") else 1)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise UsageError(f"{flag} must be a share of repositories such as 5% or 0.05, not {text.strip()[:40]!r}")
    return value


def positive_duration(flag: str, text: str) -> float:
    """A duration above zero (``1m``, ``300ms``); a usage error otherwise."""
    seconds = duration(flag, text)
    if not seconds or seconds <= 0:
        raise UsageError(f"{flag} must be a duration above zero, e.g. 1m")
    return seconds


def plan(
    every: Annotated[
        str, typer.Option(help="How often sync runs (the CronJob's schedule, or cron's).")
    ] = DEFAULT_EVERY,
    active: Annotated[
        str,
        typer.Option(
            help="Assumed share of repositories with new activity (a push, a pull request...) per --active-per."
        ),
    ] = DEFAULT_ACTIVE,
    active_per: Annotated[str, typer.Option(help="The span --active counts activity in.")] = DEFAULT_ACTIVE_PER,
    recent: Annotated[
        str | None,
        typer.Option(
            help="Assumed share of repositories with history inside --backfill-details at their first sync"
            " (default: from --active)."
        ),
    ] = None,
    backfill_details: BackfillDetailsOption = DEFAULT_BACKFILL_DETAILS,
    latency: Annotated[str, typer.Option(help="Assumed time GitHub takes to answer a request.")] = DEFAULT_LATENCY,
    shards: Annotated[
        int,
        typer.Option(
            min=1, max=1000, envvar="PAINCHAIN_GH_SHARD_COUNT", help="Shards each run is split into (--shard I/N)."
        ),
    ] = 1,
    max_runtime: MaxRuntimeOption = DEFAULT_MAX_RUNTIME,
    points_per_minute: PointsPerMinuteOption = Settings.points_per_minute,
    per_token_concurrency: PerTokenConcurrencyOption = Settings.per_token_concurrency,
    concurrency: ConcurrencyOption = Settings.concurrency,
    sweep_interval: SweepIntervalOption = DEFAULT_SWEEP_INTERVAL,
    rate_limit_reserve: RateLimitReserveOption = Settings.rate_limit_reserve,
    state: StateKindOption = DEFAULT_STATE_KIND,
    state_file: StateFileOption = None,
    allow_api_host: AllowApiHostOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object.")] = False,
) -> None:
    """Say what each token or App installation polls and can keep fresh at this schedule and budget, and what
    the configuration needs (more tokens, shards, a longer --max-runtime or schedule). Exit 0 when everything
    fits, 3 when something does not or is not known yet. Sends nothing to GitHub."""
    with known_errors():
        from painchain_gh.discovery.stored import lists_reader  # noqa: PLC0415
        from painchain_gh.plan.grouping import make_plan  # noqa: PLC0415
        from painchain_gh.plan.output import render_text, to_json  # noqa: PLC0415
        from painchain_gh.plan.sizing import Schedule  # noqa: PLC0415
        from painchain_gh.runner import Runner  # noqa: PLC0415

        settings = build_settings(
            state=state,
            state_file=state_file,
            backfill_details=backfill_details,
            max_runtime=max_runtime,
            concurrency=concurrency,
            per_token_concurrency=per_token_concurrency,
            points_per_minute=points_per_minute,
            sweep_interval=sweep_interval,
            rate_limit_reserve=rate_limit_reserve,
            allow_api_host=allow_api_host,
        )
        schedule = Schedule(
            every=positive_duration("--every", every),
            max_runtime=settings.max_runtime,
            sweep_interval=settings.sweep_interval,
            shards=shards,
            concurrency=settings.concurrency,
            per_token_concurrency=settings.per_token_concurrency,
            rate_limit_reserve=settings.rate_limit_reserve,
            active=parse_share("--active", active),
            active_per=positive_duration("--active-per", active_per),
            backfill_details=settings.backfill_details,
            recent=parse_share("--recent", recent) if recent is not None else None,
            latency=positive_duration("--latency", latency),
        )
        selection = Runner(settings).integrations()
        result = make_plan(
            selection.valid,
            listed=lists_reader(settings.state_kind, settings.state_file),
            schedule=schedule,
            points_per_minute=settings.points_per_minute,
            polling_interval=settings.polling_interval,
            default_api_url=settings.github_api_url,
            allowed_hosts=settings.allowed_hosts,
            invalid=selection.invalid,
            disabled=selection.disabled,
        )
        typer.echo(json.dumps(to_json(result), indent=2) if as_json else render_text(result))
    raise typer.Exit(int(ExitCode.OK if result.fits else ExitCode.PARTIAL))
