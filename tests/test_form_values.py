"""Every field of the registered form in its empty, UI-default and filled states (in-process).

PainChain's form (Integrations.tsx) starts every field at ``""``, turns an empty JSON box into ``{}`` (or
``[]`` for repositories) when it loses focus, stores chips for tags and strings in text boxes. Whatever
the form sends for an untouched field must read exactly like the field being absent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from painchain_gh.github_app import load_private_key
from painchain_gh.models import IntegrationSelection, is_unset, parse_flag, select_integrations
from painchain_gh.registration import CONNECTOR_TYPE, FORM_EXAMPLES

FIELDS = {field["key"]: field for field in CONNECTOR_TYPE["configSchema"]["fields"]}
UNSET_VALUES: list[Any] = ["", " ", "\t\n", {}, [], None]


def ui_defaults(key: str) -> list[Any]:
    """What the form stores for a field nobody typed into (plus the other "not set" spellings)."""
    field = FIELDS[key]
    blurred = ([] if key == "repositories" else {}) if field["type"] == "textarea" else ""
    return [*UNSET_VALUES, blurred]


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
).decode()
TOKEN_BASE = {"name": "From the form", "tags": [], "token": "ghp_form_token", "repositories": ["acme/api"]}
APP_BASE = {"name": "From the form", "tags": [], "appId": "12345", "privateKey": PEM}


def select(config: dict[str, Any]) -> IntegrationSelection:
    return select_integrations([{"id": "ui", "type": "github", "name": "From the form", "config": config}])


def outcome(selection: IntegrationSelection) -> tuple[list[dict[str, Any]], list[str]]:
    """What a run would poll and what it would report, comparable between two selections."""
    valid = [integration.model_dump(mode="json") for integration in selection.valid]
    return valid, [invalid.reason for invalid in selection.invalid]


@pytest.mark.parametrize("base", [TOKEN_BASE, APP_BASE], ids=["token", "app"])
@pytest.mark.parametrize("key", list(FIELDS))
def test_every_ui_default_of_every_field_reads_as_the_field_left_out(key: str, base: dict[str, Any]) -> None:
    absent = outcome(select({name: value for name, value in base.items() if name != key}))
    for value in ui_defaults(key):
        assert outcome(select({**base, key: value})) == absent, (key, value)


@pytest.mark.parametrize("base", [TOKEN_BASE, APP_BASE], ids=["token", "app"])
def test_a_form_saved_untouched_but_for_its_needed_fields_is_polled(base: dict[str, Any]) -> None:
    untouched = {key: ([] if key == "tags" else "") for key in FIELDS}
    selection = select({**untouched, **base})
    assert selection.invalid == [] and len(selection.valid) == 1
    blurred = {key: value for key in FIELDS for value in ui_defaults(key)[-1:]}
    assert outcome(select({**blurred, **base})) == outcome(selection)


def test_only_what_is_really_needed_is_reported_when_left_empty() -> None:
    untouched = {key: ([] if key == "tags" else "") for key in FIELDS} | {"name": "x"}
    (invalid,) = select(untouched).invalid
    assert invalid.reason.startswith("token: missing; give a GitHub token, or a GitHub App's appId and privateKey")
    (invalid,) = select({**untouched, "token": "ghp_form_token"}).invalid
    assert invalid.reason.startswith('repositories: none given; list them, e.g. ["acme/api", "acme/web"]')


@pytest.mark.parametrize(("key", "example"), [(k, e) for k, examples in FORM_EXAMPLES.items() for e in examples])
def test_every_filled_field_changes_what_is_polled(key: str, example: str) -> None:
    value: Any = FORM_EXAMPLES["tags"] if key == "tags" else example
    if FIELDS[key]["type"] == "textarea" and key != "tags":
        value = json.loads(example)
    base = APP_BASE if key in {"appId", "installationId"} else TOKEN_BASE
    filled = select({**base, key: value})
    assert filled.invalid == []
    assert outcome(filled) != outcome(select({name: v for name, v in base.items() if name != key}))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (True, True),
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("1", True),
        (False, False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("0", False),
    ],
)
def test_yes_no_fields_accept_true_false_and_words(typed: Any, expected: bool) -> None:
    assert parse_flag(typed) is expected
    (integration,) = select({**TOKEN_BASE, "containerImages": typed}).valid
    assert integration.config.container_images is expected
    polling = select({**TOKEN_BASE, "polling": {"enabled": typed}})
    assert (polling.disabled, len(polling.valid)) == ((0, 1) if expected else (1, 0))


def test_a_yes_no_field_with_another_word_is_refused_in_plain_words() -> None:
    (invalid,) = select({**TOKEN_BASE, "containerImages": "sure"}).invalid
    assert invalid.reason == "containerImages must be true or false"


@pytest.mark.parametrize("separator", [" ", ""], ids=["spaces", "nothing"])
def test_a_private_key_pasted_into_the_one_line_password_box_still_signs(separator: str) -> None:
    one_line = separator.join(PEM.strip().splitlines())
    (integration,) = select({**APP_BASE, "privateKey": one_line}).valid
    key = integration.config.private_key
    assert key is not None and key.get_secret_value() == PEM
    assert load_private_key(SecretStr(key.get_secret_value())).private_numbers() == KEY.private_numbers()


def test_a_chip_with_a_comma_stays_one_tag() -> None:
    (integration,) = select({**TOKEN_BASE, "tags": ["backend, team-a", "ops"]}).valid
    assert integration.config.tags == ("backend, team-a", "ops")


@pytest.mark.parametrize("value", UNSET_VALUES)
def test_unset_values(value: Any) -> None:
    assert is_unset(value)


@pytest.mark.parametrize("value", ["x", 0, False, {"a": 1}, [""], " x "])
def test_set_values(value: Any) -> None:
    assert not is_unset(value)
