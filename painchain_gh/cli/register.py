"""``painchain-gh register``: register the connector types with the backend."""

from __future__ import annotations

from painchain_gh.cli.shared import (
    DEFAULT_LOG_FORMAT,
    LogFormat,
    build_settings,
    fail,
    known_errors,
    log,
    setup_logging,
)


def register(log_format: LogFormat = DEFAULT_LOG_FORMAT) -> None:
    """Register the connector types GitHub (a token) and GitHub App with the backend (needs BACKEND_API_TOKEN)."""
    with known_errors():
        setup_logging(log_format, False)
        from painchain_gh.runner import Runner  # noqa: PLC0415

        outcomes = Runner(build_settings()).register()
        for outcome in outcomes:
            if outcome.error is None:
                log.info("connector type '%s' registered", outcome.type_id)
        refused = [(outcome.type_id, outcome.error) for outcome in outcomes if outcome.error is not None]
        for type_id, error in refused[1:]:
            log.error("connector type '%s' not registered: %s", type_id, error)
        if refused:  # the first refusal is the command's error line and exit code
            type_id, error = refused[0]
            fail(f"connector type '{type_id}' not registered: {error}", error.exit_code)
