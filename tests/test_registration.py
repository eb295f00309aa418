"""The registered form: every example in its help texts is what the UI sends and what the validator accepts."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from painchain_gh.models import select_integrations
from painchain_gh.registration import CONNECTOR_TYPE

_EXAMPLE = re.compile(r"`([^`]+)`")


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


PEM = _pem()


def rendered_fields() -> list[dict[str, Any]]:
    """The schema as the backend stores it and the UI reads it (through JSON)."""
    schema = json.loads(json.dumps(CONNECTOR_TYPE))
    fields: list[dict[str, Any]] = schema["configSchema"]["fields"]
    return fields


def ui_value(field: dict[str, Any], text: str) -> Any:
    """What the UI sends for ``text`` typed into ``field``: a textarea goes through JSON.parse."""
    if field["type"] == "textarea":
        return json.loads(text)  # the UI refuses text that is not JSON
    if field["type"] == "checkbox":
        return json.loads(text) is True
    return text


EXAMPLES = [(field["key"], example) for field in rendered_fields() for example in _EXAMPLE.findall(field["help"])]


def test_every_field_that_people_fill_has_an_example() -> None:
    keys = {key for key, _ in EXAMPLES}
    assert {"tags", "appId", "installationId", "repositories", "events", "containerImages"} <= keys
    assert len([key for key, _ in EXAMPLES if key == "repositories"]) >= 3


@pytest.mark.parametrize(("key", "example"), EXAMPLES)
def test_every_example_parses_and_is_accepted(key: str, example: str) -> None:
    field = next(field for field in rendered_fields() if field["key"] == key)
    value = ui_value(field, example)
    token_config = {"token": "ghp_example_token", "repositories": ["acme/api"]}
    app_config = {"appId": "12345", "privateKey": PEM, "repositories": ["acme/api"]}
    for base in (token_config, app_config):
        if key in {"appId", "installationId"} and base is token_config:
            continue  # App fields go with the App's private key
        row = {"id": "ui", "type": "github", "name": "From the UI", "config": {**base, key: value}}
        selection = select_integrations([row])
        assert [invalid.message for invalid in selection.invalid] == []
        (integration,) = selection.valid
        if key == "repositories":
            assert integration.config.repositories


def test_secret_fields_are_passwords_and_no_field_is_required_but_the_name() -> None:
    fields = {field["key"]: field for field in rendered_fields()}
    assert fields["token"]["type"] == fields["privateKey"]["type"] == "password"
    assert [key for key, field in fields.items() if field["required"]] == ["name"]
