"""The ``painchain-gh`` command: the root, ``--version``, and every command group attached."""

from __future__ import annotations

from typing import Annotated

import typer

from painchain_gh import __version__
from painchain_gh.cli.check import check
from painchain_gh.cli.deadletter import deadletter_app
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


def main() -> None:
    """Console-script entry point."""
    app()
