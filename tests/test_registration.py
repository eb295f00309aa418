"""The registered form as PainChain's UI draws it: controls it can draw, help that matches them, examples
that are accepted as the UI sends them, a description that tells the status round trip, a logo that reads on
the dark theme."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from painchain_gh.models import LAST_ERROR_KEY, select_integrations
from painchain_gh.registration import CONNECTOR_TYPE, FORM_EXAMPLES

# What Integrations.tsx (PainChain d107043) draws: a JSON box, a password box; any other type is a text box.
DRAWN_TYPES = {"text", "textarea", "password"}
# PainChain's dark theme (App.css, index.css): page background and cards.
BACKGROUNDS = ("#0f1419", "#1a1f2e")


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


FIELDS = {field["key"]: field for field in rendered_fields()}


def ui_value(field: dict[str, Any], typed: list[str]) -> Any:
    """What the UI stores for ``typed``: chips for tags, JSON.parse for a textarea, the string otherwise."""
    if field["key"] == "tags":
        return [text.strip() for text in typed if text.strip()]
    (text,) = typed
    if field["type"] == "textarea":
        return json.loads(text)
    return text


def test_every_field_is_a_control_the_ui_draws_with_a_label_and_help() -> None:
    for key, field in FIELDS.items():
        assert field["type"] in DRAWN_TYPES, key
        assert field["label"] and field["help"].endswith("."), key
        assert "`" not in field["help"], key  # the UI shows help as plain text


def test_only_the_tags_json_box_has_a_placeholder_and_it_starts_as_an_empty_list() -> None:
    # The UI starts a textarea at its placeholder (parsed when it is JSON): a placeholder would be a value.
    assert {key for key, field in FIELDS.items() if "placeholder" in field} == {"tags"}
    assert json.loads(FIELDS["tags"]["placeholder"]) == []  # the form refuses to save without a tags list


def test_the_tags_help_describes_the_chip_input_not_commas() -> None:
    help_text = FIELDS["tags"]["help"]
    assert "press Enter" in help_text and "comma stays inside" in help_text
    assert "Comma-separated" not in help_text


def test_the_last_error_field_is_in_the_form_and_says_who_writes_it() -> None:
    field = FIELDS[LAST_ERROR_KEY]
    assert field["label"] == "Last error (set by painchain-gh)" and field["type"] == "text"
    assert "Written by painchain-gh" in field["help"] and not field["required"]
    assert list(FIELDS).index(LAST_ERROR_KEY) == 1  # right below the name: seen when the panel opens


def test_secret_fields_are_passwords_and_no_field_is_required_but_the_name() -> None:
    assert FIELDS["token"]["type"] == FIELDS["privateKey"]["type"] == "password"
    assert [key for key, field in FIELDS.items() if field["required"]] == ["name"]


def test_every_example_is_in_its_help_and_every_fillable_field_has_one() -> None:
    fillable = set(FIELDS) - {"name", LAST_ERROR_KEY, "token", "privateKey"}
    assert set(FORM_EXAMPLES) == fillable
    for key, examples in FORM_EXAMPLES.items():
        for example in examples:
            assert example in FIELDS[key]["help"], (key, example)


EXAMPLES = [(key, example) for key, examples in FORM_EXAMPLES.items() for example in examples if key != "tags"]


@pytest.mark.parametrize(("key", "example"), [*EXAMPLES, ("tags", "chips")])
def test_every_example_typed_into_the_form_is_accepted(key: str, example: str) -> None:
    field = FIELDS[key]
    value = ui_value(field, FORM_EXAMPLES["tags"] if key == "tags" else [example])
    token_config = {"name": "From the UI", "tags": [], "token": "ghp_example_token", "repositories": ["acme/api"]}
    app_config = {"name": "From the UI", "tags": [], "appId": "12345", "privateKey": PEM}
    for base in (token_config, app_config):
        if key in {"appId", "installationId"} and base is token_config:
            continue  # App fields go with the App's private key
        row = {"id": "ui", "type": "github", "name": "From the UI", "config": {**base, key: value}}
        selection = select_integrations([row])
        assert [invalid.message for invalid in selection.invalid] == []
        (integration,) = selection.valid
        if key == "repositories":
            assert integration.config.repositories
        if key == "containerImages":
            assert integration.config.container_images is True
        if key == "tags":
            assert integration.config.tags == ("backend", "team-a")


def test_the_description_names_every_stream_and_the_status_round_trip() -> None:
    description = CONNECTOR_TYPE["description"]
    for words in ("workflow runs", "deployments", "container images", "status to error", "Last error", "inactive"):
        assert words in description


def _channels(colour: str) -> list[float]:
    values = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in values]


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours."""
    lighter, darker = sorted(
        (0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in (_channels(first), _channels(second))), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def test_the_logo_reads_on_the_dark_theme() -> None:
    prefix = "data:image/svg+xml;base64,"
    assert CONNECTOR_TYPE["logo"].startswith(prefix)  # the backend serves data:<type>;base64,<data>
    svg = ET.fromstring(base64.b64decode(CONNECTOR_TYPE["logo"][len(prefix) :]))
    shape = svg.find("{http://www.w3.org/2000/svg}circle")
    assert shape is not None and shape.get("r") == "8"  # the background disc fills the whole 16x16 box
    for background in BACKGROUNDS:
        assert contrast(shape.get("fill", ""), background) >= 3  # WCAG's minimum for graphics
    glyph = {element.get(attribute) for element in svg.iter() for attribute in ("fill", "stroke")} - {None, "none"}
    glyph.discard(shape.get("fill"))
    assert glyph and all(contrast(colour or "", shape.get("fill", "")) >= 3 for colour in glyph)
    assert contrast("#24292f", BACKGROUNDS[0]) < 1.5  # the old dark disc: the test can tell
    assert contrast(CONNECTOR_TYPE["color"], BACKGROUNDS[1]) >= 3
