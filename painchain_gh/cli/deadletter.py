"""``painchain-gh deadletter ...``: events the backend rejected for good."""

from __future__ import annotations

import typer

from painchain_gh.cli.shared import (
    DEFAULT_LOG_FORMAT,
    LogFormat,
    ShardOption,
    StateFileOption,
    build_settings,
    known_errors,
    log,
    setup_logging,
)
from painchain_gh.errors import ExitCode

deadletter_app = typer.Typer(help="Events the backend rejected for good.", no_args_is_help=True)


@deadletter_app.command("list")
def deadletter_list(state_file: StateFileOption = None, shard: ShardOption = None) -> None:
    """Print rejected events, one JSON object per line."""
    with known_errors():
        from painchain_gh.store.deadletter import DeadLetterFile  # noqa: PLC0415

        settings = build_settings(state_file=state_file, shard=shard)
        for letter in DeadLetterFile(settings.dead_letter_file).read():
            typer.echo(letter.to_json())


@deadletter_app.command("retry")
def deadletter_retry(
    state_file: StateFileOption = None, shard: ShardOption = None, log_format: LogFormat = DEFAULT_LOG_FORMAT
) -> None:
    """Send rejected events again; those accepted leave the file, the others stay."""
    with known_errors():
        setup_logging(log_format, False)
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
