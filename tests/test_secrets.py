"""Log records are scrubbed of every secret a run uses, value by value, whatever the code that logged them;
values that cannot be secrets never become patterns, and stored bytes are never rewritten."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from painchain_gh import secrets
from painchain_gh.output import JsonFormatter, OneLineWarnings, RedactSecrets, configure_logging
from painchain_gh.store.deadletter import DeadLetter, DeadLetterFile

TOKEN = "ghp_SECRETcanary1234567890abcdefGHIJKLMN"  # 40 characters, like a classic personal access token


@pytest.fixture
def records() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(OneLineWarnings())
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("test_secrets")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.handlers.clear()


def test_known_secrets_are_scrubbed_from_messages_and_every_field_value(
    records: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = records
    secrets.register([TOKEN, None, 5])  # non-strings are ignored
    fields = {"error": f"x {TOKEN} y", "nested": {"list": [TOKEN, 3, True]}, "count": 7}
    logger.warning("failed with %s", TOKEN, extra={"fields": fields})
    record = json.loads(stream.getvalue())
    assert record["message"] == "failed with ***"
    assert record["error"] == "x *** y"
    assert record["nested"] == {"list": ["***", 3, True]}
    assert record["count"] == 7


@pytest.mark.parametrize(
    "value",
    [
        "event",  # a field name of every structured record
        "github",  # the connector's name, in every event and URL
        "failed",  # a word of every failure line
        "repository",
        "a" * 64,  # long, but one kind of character
        "ghp_short_but_mixed_1234567",  # mixed, but shorter than any real GitHub token
    ],
)
def test_values_that_cannot_be_secrets_never_become_patterns(
    records: tuple[logging.Logger, io.StringIO], value: str
) -> None:
    logger, stream = records
    assert not secrets.can_be_secret(value)
    secrets.register([value])
    logger.error("repository acme/api failed", extra={"fields": {"event": "repository", "status": "failed"}})
    record = json.loads(stream.getvalue())  # still one valid JSON object
    assert record["message"] == "repository acme/api failed"
    assert record["event"] == "repository"
    assert secrets.scrub(f"github {value} event") == f"github {value} event"


def test_a_secret_that_is_a_field_name_hides_only_values_never_the_structure(
    records: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = records
    secret = "status" + "Xy9" * 10  # can be a secret, and starts like a key
    secrets.register([secret])
    logger.info("ok", extra={"fields": {"status": "synced", secret: secret}})
    record = json.loads(stream.getvalue())
    assert record["status"] == "synced"
    assert record[secret] == "***"  # keys are ours, never scrubbed or re-parsed


def test_the_operators_own_secrets_are_scrubbed_from_a_shorter_length() -> None:
    secrets.register(["Backend42"], trusted=True)
    assert secrets.scrub("Bearer Backend42") == "Bearer ***"
    secrets.register(["Tenant42x"])  # the same length from a tenant's config is not a pattern
    assert secrets.scrub("Tenant42x") == "Tenant42x"


def test_dead_letters_keep_the_event_byte_for_byte_and_scrub_only_the_reason(tmp_path: Path) -> None:
    secrets.register([TOKEN])
    letters = DeadLetterFile(tmp_path / "state.deadletter.jsonl")
    body = {"title": f"Push {TOKEN}", "connector": "github", "data": {"url": "https://github.com/acme/api"}}
    letters.append(DeadLetter(tenant_id="t", status=400, reason=f"rejected {TOKEN}", at="now", body=body))
    (letter,) = letters.read()
    assert letter.body == body  # re-sent exactly as it was rejected
    assert letter.reason == "rejected ***"


def test_library_warnings_are_one_log_record_not_raw_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    logging.captureWarnings(False)  # another test may have configured logging in this process already
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        configure_logging(json_format=True, verbose=False)
        try:
            warnings.warn("The specified key is 1024 bits long, which is below the minimum", UserWarning, stacklevel=1)
        finally:
            logging.captureWarnings(False)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "library_warning"
    assert record["level"] == "warning"
    assert record["message"] == "library warning: The specified key is 1024 bits long, which is below the minimum"
