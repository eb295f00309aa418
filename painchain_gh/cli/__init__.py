"""The command line: flags and environment in, one-line errors and documented exit codes out.

``app`` assembles one module per command group (``sync``, ``state``, ``deadletter``,
``check``, ``register``) on top of ``shared`` (error boundary, logging setup, options).
"""

from painchain_gh.cli.app import app, main

__all__ = ["app", "main"]
