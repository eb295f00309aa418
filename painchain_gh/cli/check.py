"""``painchain-gh check``: verify everything a sync needs, one row per thing."""

from __future__ import annotations

from typing import Annotated

import typer

from painchain_gh.cli.shared import AllowApiHostOption, build_settings, known_errors
from painchain_gh.errors import ExitCode


def check(
    repo: Annotated[
        list[str] | None, typer.Option("--repo", metavar="OWNER/NAME", help="Check these repositories instead.")
    ] = None,
    allow_api_host: AllowApiHostOption = None,
) -> None:
    """Verify the backend, each integration, each token (scopes, rate limit) and each repository."""
    with known_errors():
        from painchain_gh.check import render, run_checks  # noqa: PLC0415
        from painchain_gh.runner import Runner  # noqa: PLC0415

        rows = run_checks(Runner(build_settings(repo=repo, allow_api_host=allow_api_host)))
        typer.echo(render(rows))
        failed = sum(not row.ok for row in rows)
        typer.echo(f"\n{len(rows) - failed} ok, {failed} to fix")
    if failed:
        backend_down = rows[0].subject == "backend" and not rows[0].ok
        raise typer.Exit(int(ExitCode.UPSTREAM if backend_down else ExitCode.PARTIAL))
