"""The command line: flags and environment in, one-line errors and documented exit codes out.

``app`` assembles one module per command group (``sync``, ``state``, ``deadletter``,
``check``, ``plan``, ``register``) on top of ``shared`` (error boundary, logging setup, options).
"""

import os

# pydantic looks for third-party plugins in every installed distribution's metadata when it is
# first imported (about 10 ms per start of a one-shot process); this program uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from painchain_gh.cli.app import app, main

__all__ = ["app", "main"]
