"""The ``painchain-gh`` command: the root, ``--version``, and every command group attached."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import Annotated, NoReturn

import typer

from painchain_gh import __version__
from painchain_gh.cli.check import check
from painchain_gh.cli.deadletter import deadletter_app
from painchain_gh.cli.plan import plan
from painchain_gh.cli.register import register
from painchain_gh.cli.state import state_app
from painchain_gh.cli.sync import sync

app = typer.Typer(
    name="painchain-gh",
    help="GitHub connector for PainChain: one-shot sync of repository events and workflow runs.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command("sync")(sync)
app.command("register")(register)
app.command("check")(check)
app.command("plan")(plan)
app.add_typer(state_app, name="state")
app.add_typer(deadletter_app, name="deadletter")


def print_version(value: bool) -> None:
    """``--version``: print and exit before anything else is parsed."""
    if value:
        typer.echo(f"painchain-gh {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """GitHub connector for PainChain."""


def main() -> NoReturn:
    """Console-script entry point: run the command, then leave without tearing the interpreter down.

    A one-shot run has saved its state, released its lock and written its output by the time the
    command returns. What is left (freeing every module and object, closing pooled keep-alive
    sockets one by one) costs tens of milliseconds per run and changes nothing, so the process
    ends right after the exit handlers (log flushing among them) have run.
    """
    try:
        app()
        code: int = 0
    except SystemExit as done:
        code = exit_status(done.code)
    atexit._run_exitfuncs()  # what a normal exit runs first (logging.shutdown, flushes)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def exit_status(code: object) -> int:
    """The process status for ``SystemExit(code)``, as the interpreter would set it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1
