"""Log records are scrubbed of every secret seen, whatever the code that logged them."""

from __future__ import annotations

import io
import json
import logging

from painchain_gh import secrets
from painchain_gh.output import JsonFormatter, RedactSecrets


def test_known_secrets_are_scrubbed_from_messages_and_fields() -> None:
    secrets.register(["ghp_SECRETcanary1234", None, "abc"])  # short and non-string values are ignored
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("test_secrets")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("failed with %s", "ghp_SECRETcanary1234", extra={"fields": {"error": "x ghp_SECRETcanary1234 y"}})
    record = json.loads(stream.getvalue())
    assert record["message"] == "failed with ***"
    assert record["error"] == "x *** y"
    assert secrets.scrub("abc") == "abc"
