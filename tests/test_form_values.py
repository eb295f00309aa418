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

from painchain_gh.github.app import load_private_key
from painchain_gh.models import IntegrationSelection, is_unset, parse_flag, select_integrations
from painchain_gh.registration import CONNECTOR_TYPES, FORM_EXAMPLES

FORM_FIELDS = {
    connector["id"]: {field["key"]: field for field in connector["configSchema"]["fields"]}
    for connector in CONNECTOR_TYPES
}
ALL_FIELDS = {key: field for fields in FORM_FIELDS.values() for key, field in fields.items()}
UNSET_VALUES: list[Any] = ["", " ", "\t\n", {}, [], None]


def ui_defaults(key: str) -> list[Any]:
    """What the form stores for a field nobody typed into (plus the other "not set" spellings)."""
    field = ALL_FIELDS[key]
    blurred = ([] if key == "repositories" else {}) if field["type"] == "textarea" else ""
    return [*UNSET_VALUES, blurred]


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
).decode()
TOKEN_BASE = {"name": "From the form", "tags": [], "token": "ghp_form_token", "repositories": ["acme/api"]}
APP_BASE = {"name": "From the form", "tags": [], "appId": "12345", "privateKey": PEM}
# (integration type, form whose fields it is saved with, config): the two forms, and an integration of type
# github created before the GitHub App type existed, holding an App's credentials, edited in the GitHub form.
FORMS = {
    "token": ("github", "github", TOKEN_BASE),
    "app": ("github-app", "github-app", APP_BASE),
    "older github with an App": ("github", "github", APP_BASE),
}
CASES = [(form, key) for form, (_, fields, _) in FORMS.items() for key in FORM_FIELDS[fields]]


def select(config: dict[str, Any], type_id: str = "github") -> IntegrationSelection:
    return select_integrations([{"id": "ui", "type": type_id, "name": "From the form", "config": config}])


def outcome(selection: IntegrationSelection) -> tuple[list[dict[str, Any]], list[str]]:
    """What a run would poll and what it would report, comparable between two selections."""
    valid = [integration.model_dump(mode="json") for integration in selection.valid]
    return valid, [invalid.reason for invalid in selection.invalid]


@pytest.mark.parametrize(("form", "key"), CASES)
def test_every_ui_default_of_every_field_reads_as_the_field_left_out(form: str, key: str) -> None:
    type_id, _, base = FORMS[form]
    absent = outcome(select({name: value for name, value in base.items() if name != key}, type_id))
    for value in ui_defaults(key):
        assert outcome(select({**base, key: value}, type_id)) == absent, (key, value)


@pytest.mark.parametrize("form", list(FORMS))
def test_a_form_saved_untouched_but_for_its_needed_fields_is_polled(form: str) -> None:
    type_id, fields, base = FORMS[form]
    untouched = {key: ([] if key == "tags" else "") for key in FORM_FIELDS[fields]}
    selection = select({**untouched, **base}, type_id)
    assert selection.invalid == [] and len(selection.valid) == 1
    assert selection.valid[0].config.uses_app is (base is APP_BASE)
    blurred = {key: value for key in FORM_FIELDS[fields] for value in ui_defaults(key)[-1:]}
    assert outcome(select({**blurred, **base}, type_id)) == outcome(selection)


def test_only_what_is_really_needed_is_reported_when_left_empty() -> None:
    untouched = {key: ([] if key == "tags" else "") for key in FORM_FIELDS["github"]} | {"name": "x"}
    (invalid,) = select(untouched).invalid
    assert invalid.reason.startswith("token: missing; fill in a GitHub token (for a GitHub App, use the GitHub App")
    (invalid,) = select({**untouched, "token": "ghp_form_token"}).invalid
    assert invalid.reason.startswith('repositories: none given; list them, e.g. ["acme/api", "acme/web"]')
    app_untouched = {key: ([] if key == "tags" else "") for key in FORM_FIELDS["github-app"]} | {"name": "x"}
    (invalid,) = select(app_untouched, "github-app").invalid
    assert invalid.reason.startswith("appId and privateKey: missing")


@pytest.mark.parametrize(("key", "example"), [(k, e) for k, examples in FORM_EXAMPLES.items() for e in examples])
def test_every_filled_field_changes_what_is_polled(key: str, example: str) -> None:
    value: Any = FORM_EXAMPLES["tags"] if key == "tags" else example
    if ALL_FIELDS[key]["type"] == "textarea" and key != "tags":
        value = json.loads(example)
    type_id, base = ("github-app", APP_BASE) if key in {"appId", "installationId"} else ("github", TOKEN_BASE)
    filled = select({**base, key: value}, type_id)
    assert filled.invalid == []
    assert outcome(filled) != outcome(select({name: v for name, v in base.items() if name != key}, type_id))


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
    (integration,) = select({**APP_BASE, "privateKey": one_line}, "github-app").valid
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
