"""Untrusted text in terminals and logs: escaping, the text-log filter, JSON logs and the dry-run printer."""

from __future__ import annotations

import io
import json
import logging

import pytest

from painchain_gh import secrets
from painchain_gh.forward import PrintSink
from painchain_gh.output import JsonFormatter, RedactSecrets
from painchain_gh.text import MAX_LENGTH, EscapeForText, escape
from painchain_gh.transform import PainChainEvent

HOSTILE = "a\x1b[31mred\x1b]0;title\x07\r\nforged\x00\x7f\x85\x9b\u2028\u2029\u202e\udfff\ud800 end"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\r\n\t", "\\x0d\\x0a\\x09"),
        ("\x7f\x85\x9b", "\\x7f\\x85\\x9b"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("\u202e\u2066", "\\u202e\\u2066"),
        ("\ud83d", "\\ud83d"),
        ("Grüße, 東京 😀 C:\\path", "Grüße, 東京 😀 C:\\path"),
    ],
)
def test_escape_makes_every_unsafe_character_visible(raw: str, shown: str) -> None:
    assert escape(raw) == shown


def test_escaped_text_has_no_unsafe_character_left_and_is_stable() -> None:
    shown = escape(HOSTILE)
    assert all(ch.isprintable() or ch == " " for ch in shown), shown
    assert escape(shown) == shown
    shown.encode("utf-8")  # no lone surrogate left


@pytest.mark.parametrize("text", ["x" * 5000, "\x1b" * 5000, "ab\x1b" * 3000])
def test_escape_bounds_the_length_without_splitting_an_escape(text: str) -> None:
    shown = escape(text, limit=100)
    assert len(shown) <= 101 and shown.endswith("…")
    assert not shown[:-1].endswith(("\\", "\\x", "\\x1"))
    assert len(escape(text)) <= MAX_LENGTH + 1


def record(message: str, *args: object, fields: dict[str, object] | None = None) -> logging.LogRecord:
    made = logging.LogRecord("painchain_gh", logging.ERROR, __file__, 1, message, args, None)
    if fields is not None:
        made.fields = fields
    return made


def test_the_text_log_filter_escapes_the_message_and_string_fields() -> None:
    item = record("%s: failed - %s", "acme/x", HOSTILE, fields={"error": HOSTILE, "count": 3})
    assert EscapeForText().filter(item)
    line = logging.Formatter("%(levelname)s %(message)s").format(item)
    assert "\x1b" not in line and "\r" not in line and "\n" not in line and "\\x1b[31mred" in line
    assert item.fields == {"error": escape(HOSTILE), "count": 3}  # type: ignore[attr-defined]


def test_secrets_are_scrubbed_before_the_text_filter_cuts(caplog: pytest.LogCaptureFixture) -> None:
    token = "ghp_textCANARY0123456789abcdef"
    secrets.register([token])
    item = record("%s", "x" * (MAX_LENGTH - 10) + token)
    RedactSecrets().filter(item)
    EscapeForText().filter(item)
    assert "ghp_text" not in item.getMessage() and "***" in item.getMessage()


def test_json_logs_survive_lone_surrogates_and_escape_controls() -> None:
    line = JsonFormatter().format(record("%s", HOSTILE, fields={"error": HOSTILE}))
    line.encode("utf-8")
    assert "\x1b" not in line and "\r" not in line and "\u2028" not in line
    assert json.loads(line)["error"] == HOSTILE


def test_the_dry_run_printer_survives_lone_surrogates_in_titles() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")  # strict, like a real stdout
    event = PainChainEvent(
        title="PR: \ud800 \x1b[31m\u2028 東京",
        project="acme/x",
        timestamp="2026-11-30T00:00:00Z",
        external_id="github-event-1",
        integration_id="i",
    )
    PrintSink(stream).send(event, tenant_id="t")
    printed = raw.getvalue().decode("ascii")
    assert "\x1b" not in printed and "\u2028" not in printed
    assert json.loads(printed)["title"] == event.title


def test_transport_failures_are_told_in_plain_words() -> None:
    import requests

    from painchain_gh.http import plain_reason

    name = requests.exceptions.ConnectionError("Failed to resolve 'x' (NameResolutionError)")
    refused = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    reasons = [
        plain_reason(error)
        for error in (
            requests.exceptions.SSLError("bad"),
            requests.exceptions.ConnectTimeout("slow"),
            requests.exceptions.ReadTimeout("slow"),
            name,
            refused,
            requests.exceptions.ChunkedEncodingError("cut"),
            requests.exceptions.ConnectionError("other"),
        )
    ]
    assert reasons == [
        "the TLS handshake failed (certificate or protocol)",
        "connecting timed out",
        "no answer in time",
        "the host name could not be resolved",
        "connection refused",
        "the connection dropped in the middle of the answer",
        "the connection failed",
    ]
    assert not any("Error" in reason for reason in reasons)
