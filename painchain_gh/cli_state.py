"""``painchain-gh state ...`` and ``painchain-gh deadletter ...``: look at and repair what is stored."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from painchain_gh.cli import (
    LogFormat,
    ShardOption,
    StateFileOption,
    StateKind,
    _known_errors,
    _setup_logging,
    build_settings,
    deadletter_app,
    log,
    state_app,
)
from painchain_gh.errors import ExitCode, UsageError

RepoFilter = Annotated[str | None, typer.Option("--repo", metavar="OWNER/NAME", help="Only this repository.")]


def _matches(key: str, repo: str | None) -> bool:
    return repo is None or key.endswith("/" + repo.lower())


@state_app.command("show")
def state_show(
    repo: RepoFilter = None,
    state: StateKind = "file",
    state_file: StateFileOption = None,
    shard: ShardOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw cursors as JSON.")] = False,
) -> None:
    """Print the cursors, one repository per line."""
    with _known_errors():
        from painchain_gh.state_io import load_state  # noqa: PLC0415
        from painchain_gh.timeutil import format_time  # noqa: PLC0415

        settings = build_settings(state=state, state_file=state_file, shard=shard)
        snapshot = load_state(settings)
        repos = {key: value for key, value in sorted(snapshot.repos.items()) if _matches(key, repo)}
        if as_json:
            typer.echo(json.dumps({key: value.model_dump(mode="json") for key, value in repos.items()}, indent=2))
            return
        if not repos:
            typer.echo("no cursors stored" + (f" for {repo}" if repo else ""))
        for key, value in repos.items():
            polled = format_time(value.last_polled_at) if value.last_polled_at else "never"
            open_runs = sum(1 for _, run_state in value.runs.runs.values() if ":completed" not in run_state)
            typer.echo(
                f"{key}: last polled {polled}; {len(value.events.seen)} events seen"
                f" (floor {format_time(value.events.floor) if value.events.floor else '-'}); "
                f"{len(value.runs.runs)} runs tracked ({open_runs} open); "
                f"ETags: events {'yes' if value.events.etag else 'no'}, runs {'yes' if value.runs.etag else 'no'}"
            )


@state_app.command("reset")
def state_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: forget the cursors.")] = False,
    repo: RepoFilter = None,
    state: StateKind = "file",
    state_file: StateFileOption = None,
    shard: ShardOption = None,
    log_format: LogFormat = "auto",
) -> None:
    """Forget cursors (all, or one repository's): the next sync starts over within --initial-lookback.

    A corrupt state file is moved aside (``*.corrupt-<time>``) rather than deleted.
    """
    with _known_errors():
        _setup_logging(log_format, False)
        if not yes:
            raise UsageError("state reset forgets cursors; the next sync re-sends within --initial-lookback. Add --yes")
        from painchain_gh.state_io import reset_state  # noqa: PLC0415

        removed = reset_state(build_settings(state=state, state_file=state_file, shard=shard), repo=repo)
        log.info("state reset: %s", removed)


@state_app.command("export")
def state_export(state: StateKind = "file", state_file: StateFileOption = None, shard: ShardOption = None) -> None:
    """Print the whole state as JSON (the state file format) on stdout."""
    with _known_errors():
        from painchain_gh.state_io import load_state  # noqa: PLC0415

        typer.echo(
            load_state(build_settings(state=state, state_file=state_file, shard=shard)).model_dump_json(indent=2)
        )


@state_app.command("import")
def state_import(
    source: Annotated[Path, typer.Argument(help="A file written by 'state export' ('-' for stdin).")],
    state: StateKind = "file",
    state_file: StateFileOption = None,
    shard: ShardOption = None,
    log_format: LogFormat = "auto",
) -> None:
    """Replace the configured store's cursors with an exported state (e.g. to move from file to backend)."""
    with _known_errors():
        _setup_logging(log_format, False)
        from painchain_gh.state_io import import_state  # noqa: PLC0415

        text = sys.stdin.read() if str(source) == "-" else _read(source)
        count = import_state(build_settings(state=state, state_file=state_file, shard=shard), text)
        log.info("imported the cursors of %d repositories", count)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None


@deadletter_app.command("list")
def deadletter_list(state_file: StateFileOption = None, shard: ShardOption = None) -> None:
    """Print rejected events, one JSON object per line."""
    with _known_errors():
        from painchain_gh.store.deadletter import DeadLetterFile  # noqa: PLC0415

        settings = build_settings(state_file=state_file, shard=shard)
        for letter in DeadLetterFile(settings.dead_letter_file).read():
            typer.echo(letter.to_json())


@deadletter_app.command("retry")
def deadletter_retry(
    state_file: StateFileOption = None, shard: ShardOption = None, log_format: LogFormat = "auto"
) -> None:
    """Send rejected events again; those accepted leave the file, the others stay."""
    with _known_errors():
        _setup_logging(log_format, False)
        from painchain_gh.errors import BackendRejected, BackendTemporaryError  # noqa: PLC0415
        from painchain_gh.runner import Runner  # noqa: PLC0415
        from painchain_gh.store.deadletter import DeadLetterFile  # noqa: PLC0415

        settings = build_settings(state_file=state_file, shard=shard)
        letters_file = DeadLetterFile(settings.dead_letter_file)
        backend = Runner(settings).backend
        kept = []
        letters = letters_file.read()
        for letter in letters:
            try:
                backend.post_event(letter.body, tenant_id=letter.tenant_id)
            except (BackendRejected, BackendTemporaryError) as error:
                log.warning("still rejected: %s (%s)", letter.body.get("externalId"), error)
                kept.append(letter)
        letters_file.rewrite(kept)
        log.info("dead letters: %d re-sent, %d kept", len(letters) - len(kept), len(kept))
        if kept:
            raise typer.Exit(int(ExitCode.PARTIAL))
