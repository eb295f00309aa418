"""``painchain-gh register``: register the connector type with the backend."""

from __future__ import annotations

from painchain_gh.cli.shared import DEFAULT_LOG_FORMAT, LogFormat, build_settings, known_errors, log, setup_logging


def register(log_format: LogFormat = DEFAULT_LOG_FORMAT) -> None:
    """Register the GitHub connector type with the backend (needs BACKEND_API_TOKEN)."""
    with known_errors():
        setup_logging(log_format, False)
        from painchain_gh.runner import Runner  # noqa: PLC0415

        Runner(build_settings()).register()
        log.info("connector type 'github' registered")
