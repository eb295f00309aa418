"""``painchain-gh state ...``: look at, reset, export and import the cursors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from painchain_gh.cli.shared import (
    DEFAULT_LOG_FORMAT,
    DEFAULT_STATE_KIND,
    LogFormat,
    ShardOption,
    StateFileOption,
    StateKindOption,
    build_settings,
    known_errors,
    log,
    setup_logging,
)
from painchain_gh.errors import UsageError

if TYPE_CHECKING:
    from painchain_gh.backend import BackendClient
    from painchain_gh.settings import Settings
    from painchain_gh.store.model import StateFile

state_app = typer.Typer(help="Inspect, reset, export or import the cursors.", no_args_is_help=True)

RepoFilter = Annotated[str | None, typer.Option("--repo", metavar="OWNER/NAME", help="Only this repository.")]


def matches(key: str, repo: str | None) -> bool:
    """Whether a state key belongs to ``repo`` (any repository when None)."""
    return repo is None or key.endswith("/" + repo.lower())


def backend_for(settings: Settings) -> BackendClient | None:
    """The backend client, when the cursors live there."""
    if settings.state_kind != "backend":
        return None
    from painchain_gh.runner import Runner  # noqa: PLC0415

    return Runner(settings).backend


def load(settings: Settings) -> StateFile:
    """The stored cursors of the configured store."""
    from painchain_gh.state_ops import load_state  # noqa: PLC0415

    return load_state(settings, backend_for(settings))


@state_app.command("show")
def state_show(
    repo: RepoFilter = None,
    state: StateKindOption = DEFAULT_STATE_KIND,
    state_file: StateFileOption = None,
    shard: ShardOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw cursors as JSON.")] = False,
) -> None:
    """Print the cursors, one repository per line."""
    with known_errors():
        from painchain_gh.output import describe_cursor  # noqa: PLC0415

        snapshot = load(build_settings(state=state, state_file=state_file, shard=shard))
        repos = {key: value for key, value in sorted(snapshot.repos.items()) if matches(key, repo)}
        if as_json:
            typer.echo(json.dumps({key: value.model_dump(mode="json") for key, value in repos.items()}, indent=2))
            return
        if not repos:
            typer.echo("no cursors stored" + (f" for {repo}" if repo else ""))
        for key, value in repos.items():
            typer.echo(f"{key}: {describe_cursor(value)}")


@state_app.command("reset")
def state_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: forget the cursors.")] = False,
    repo: RepoFilter = None,
    state: StateKindOption = DEFAULT_STATE_KIND,
    state_file: StateFileOption = None,
    shard: ShardOption = None,
    log_format: LogFormat = DEFAULT_LOG_FORMAT,
) -> None:
    """Forget cursors (all, or one repository's): the next sync starts over within --initial-lookback.

    A corrupt state file is moved aside (``*.corrupt-<time>``) rather than deleted.
    """
    with known_errors():
        setup_logging(log_format, False)
        if not yes:
            raise UsageError("state reset forgets cursors; the next sync re-sends within --initial-lookback. Add --yes")
        from painchain_gh.state_ops import reset_state  # noqa: PLC0415

        settings = build_settings(state=state, state_file=state_file, shard=shard)
        removed = reset_state(settings, backend_for(settings), repo=repo)
        log.info("state reset: %s", removed)


@state_app.command("export")
def state_export(
    state: StateKindOption = DEFAULT_STATE_KIND, state_file: StateFileOption = None, shard: ShardOption = None
) -> None:
    """Print the whole state as JSON (the state file format) on stdout."""
    with known_errors():
        typer.echo(load(build_settings(state=state, state_file=state_file, shard=shard)).model_dump_json(indent=2))


@state_app.command("import")
def state_import(
    source: Annotated[Path, typer.Argument(help="A file written by 'state export' ('-' for stdin).")],
    state: StateKindOption = DEFAULT_STATE_KIND,
    state_file: StateFileOption = None,
    shard: ShardOption = None,
    log_format: LogFormat = DEFAULT_LOG_FORMAT,
) -> None:
    """Replace the configured store's cursors with an exported state (e.g. to move from file to backend)."""
    with known_errors():
        setup_logging(log_format, False)
        from painchain_gh.state_ops import import_state  # noqa: PLC0415

        text = sys.stdin.read() if str(source) == "-" else read_text(source)
        settings = build_settings(state=state, state_file=state_file, shard=shard)
        count = import_state(settings, backend_for(settings), text)
        log.info("imported the cursors of %d repositories", count)


def read_text(path: Path) -> str:
    """A file's text; an unreadable file is a usage error."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
