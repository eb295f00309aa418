"""The registered forms as PainChain's UI draws them (GitHub with a token, GitHub App): controls it can draw,
required marks that are true, help that matches them, examples that are accepted as the UI sends them,
descriptions that tell the status round trip, a logo that reads on the dark theme, both types registered."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from painchain_gh.errors import BackendRejected
from painchain_gh.models import LAST_ERROR_KEY, select_integrations
from painchain_gh.registration import (
    APP_CONNECTOR_TYPE,
    CONNECTOR_TYPE,
    CONNECTOR_TYPES,
    FORM_EXAMPLES,
    Registration,
    register_all,
)
from painchain_gh.transform.common import CONNECTOR

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


FORMS = {connector["id"]: connector for connector in CONNECTOR_TYPES}
REQUIRED = {"github": ["name", "token", "repositories"], "github-app": ["name", "appId", "privateKey"]}
# The config each form saves when only its required fields are filled (the tags box starts as a list).
ONLY_REQUIRED = {
    "github": {"name": "From the UI", "tags": [], "token": "ghp_example_token", "repositories": ["acme/api"]},
    "github-app": {"name": "From the UI", "tags": [], "appId": "12345", "privateKey": PEM},
}


def rendered_fields(type_id: str) -> dict[str, dict[str, Any]]:
    """A form's fields by key, as the backend stores the schema and the UI reads it (through JSON)."""
    schema = json.loads(json.dumps(FORMS[type_id]))
    return {field["key"]: field for field in schema["configSchema"]["fields"]}


FIELDS = {type_id: rendered_fields(type_id) for type_id in FORMS}
FORM_IDS = list(FORMS)


def untouched(type_id: str, **filled: Any) -> dict[str, Any]:
    """What a form saves: every field at its starting value (the tags chips at []), then ``filled``."""
    return {**{key: ([] if key == "tags" else "") for key in FIELDS[type_id]}, **filled}


def ui_value(field: dict[str, Any], typed: list[str]) -> Any:
    """What the UI stores for ``typed``: chips for tags, JSON.parse for a textarea, the string otherwise."""
    if field["key"] == "tags":
        return [text.strip() for text in typed if text.strip()]
    (text,) = typed
    if field["type"] == "textarea":
        return json.loads(text)
    return text


def select(type_id: str, config: dict[str, Any]) -> Any:
    return select_integrations([{"id": "ui", "type": type_id, "name": "From the UI", "config": config}])


def test_two_connector_types_are_registered_and_their_events_say_github() -> None:
    assert [(c["id"], c["displayName"]) for c in CONNECTOR_TYPES] == [
        ("github", "GitHub"),
        ("github-app", "GitHub App"),
    ]
    assert CONNECTOR_TYPE is FORMS["github"] and APP_CONNECTOR_TYPE is FORMS["github-app"]
    assert CONNECTOR == "github"  # the connector name on every event, whichever type polled it


@pytest.mark.parametrize("type_id", FORM_IDS)
def test_every_field_is_a_control_the_ui_draws_with_a_label_and_help(type_id: str) -> None:
    for key, field in FIELDS[type_id].items():
        assert field["type"] in DRAWN_TYPES, key
        assert field["label"] and field["help"].endswith("."), key
        assert "`" not in field["help"], key  # the UI shows help as plain text


@pytest.mark.parametrize("type_id", FORM_IDS)
def test_only_the_tags_json_box_has_a_placeholder_and_it_starts_as_an_empty_list(type_id: str) -> None:
    # The UI starts a textarea at its placeholder (parsed when it is JSON): a placeholder would be a value.
    fields = FIELDS[type_id]
    assert {key for key, field in fields.items() if "placeholder" in field} == {"tags"}
    assert json.loads(fields["tags"]["placeholder"]) == []  # the form refuses to save without a tags list


@pytest.mark.parametrize("type_id", FORM_IDS)
def test_the_tags_help_describes_the_chip_input_not_commas(type_id: str) -> None:
    help_text = FIELDS[type_id]["tags"]["help"]
    assert "press Enter" in help_text and "comma stays inside" in help_text
    assert "Comma-separated" not in help_text


@pytest.mark.parametrize("type_id", FORM_IDS)
def test_the_required_fields_come_first_then_the_last_error_field(type_id: str) -> None:
    keys = list(FIELDS[type_id])
    assert [key for key in keys if FIELDS[type_id][key]["required"]] == REQUIRED[type_id] == keys[:3]
    field = FIELDS[type_id][LAST_ERROR_KEY]
    assert field["label"] == "Last error (set by painchain-gh)" and field["type"] == "text"
    assert "Written by painchain-gh" in field["help"] and not field["required"]
    assert keys.index(LAST_ERROR_KEY) == 3  # seen, without scrolling, when a broken integration is opened


def test_each_form_asks_only_for_its_own_credentials() -> None:
    token, app = set(FIELDS["github"]), set(FIELDS["github-app"])
    assert token - app == {"token"}
    assert app - token == {"appId", "privateKey", "installationId"}
    for fields in FIELDS.values():
        assert all(fields[key]["type"] == "password" for key in ("token", "privateKey") if key in fields)
    assert FIELDS["github"]["repositories"]["required"] and not FIELDS["github-app"]["repositories"]["required"]
    assert "every repository the App is installed on" in FIELDS["github-app"]["repositories"]["help"]


@pytest.mark.parametrize("type_id", FORM_IDS)
def test_a_form_saved_with_only_its_required_fields_is_polled(type_id: str) -> None:
    selection = select(type_id, untouched(type_id, **ONLY_REQUIRED[type_id]))
    assert [invalid.reason for invalid in selection.invalid] == []
    (integration,) = selection.valid
    assert integration.config.uses_app is (type_id == "github-app")


@pytest.mark.parametrize(("type_id", "key"), [(t, k) for t, keys in REQUIRED.items() for k in keys if k != "name"])
def test_every_required_mark_is_true_the_integration_is_refused_without_that_field(type_id: str, key: str) -> None:
    selection = select(type_id, untouched(type_id, **{**ONLY_REQUIRED[type_id], key: ""}))
    (invalid,) = selection.invalid
    assert key in invalid.reason and selection.valid == []


def test_a_token_alone_is_not_a_github_app_integration() -> None:
    config = untouched("github-app", name="App", token="ghp_example_token", repositories=["acme/api"])
    (invalid,) = select("github-app", config).invalid
    assert invalid.reason == (
        "appId and privateKey: missing; a GitHub App integration needs the App's id and private key"
    )


@pytest.mark.parametrize("type_id", FORM_IDS)
def test_every_example_is_in_its_help_and_every_fillable_field_has_one(type_id: str) -> None:
    fields = FIELDS[type_id]
    fillable = set(fields) - {"name", LAST_ERROR_KEY, "token", "privateKey"}
    assert {key for key in FORM_EXAMPLES if key in fields} == fillable
    for key in fillable:
        for example in FORM_EXAMPLES[key]:
            assert example in fields[key]["help"], (key, example)


EXAMPLES = [
    (type_id, key, example)
    for type_id in FORM_IDS
    for key, examples in FORM_EXAMPLES.items()
    for example in examples
    if key in FIELDS[type_id] and key != "tags"
]


@pytest.mark.parametrize(
    ("type_id", "key", "example"), [*EXAMPLES, *[(type_id, "tags", "chips") for type_id in FORM_IDS]]
)
def test_every_example_typed_into_the_form_is_accepted(type_id: str, key: str, example: str) -> None:
    field = FIELDS[type_id][key]
    value = ui_value(field, FORM_EXAMPLES["tags"] if key == "tags" else [example])
    selection = select(type_id, untouched(type_id, **{**ONLY_REQUIRED[type_id], key: value}))
    assert [invalid.message for invalid in selection.invalid] == []
    (integration,) = selection.valid
    if key == "repositories":
        assert integration.config.repositories
    if key == "containerImages":
        assert integration.config.container_images is True
    if key == "tags":
        assert integration.config.tags == ("backend", "team-a")


@pytest.mark.parametrize("type_id", FORM_IDS)
def test_each_description_names_every_stream_the_other_type_and_the_status_round_trip(type_id: str) -> None:
    description = FORMS[type_id]["description"]
    for words in ("workflow runs", "deployments", "container images", "status to error", "Last error", "inactive"):
        assert words in description
    assert ("choose GitHub App" in description) if type_id == "github" else ("no personal token" in description)


def test_register_all_registers_both_and_one_refused_does_not_stop_the_other() -> None:
    sent: list[str] = []

    def refuse_the_first(payload: dict[str, Any]) -> None:
        sent.append(payload["id"])
        if len(sent) == 1:
            raise BackendRejected("backend rejected POST /integrations/types/register with 400", status=400)

    outcomes = register_all(refuse_the_first)

    assert sent == ["github", "github-app"]
    assert [(o.type_id, o.error is None) for o in outcomes] == [("github", False), ("github-app", True)]
    assert register_all(lambda payload: None) == [Registration("github"), Registration("github-app")]


def _channels(colour: str) -> list[float]:
    values = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    return [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in values]


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours."""
    lighter, darker = sorted(
        (0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in (_channels(first), _channels(second))), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("type_id", FORM_IDS)
def test_the_logo_reads_on_the_dark_theme(type_id: str) -> None:
    connector = FORMS[type_id]
    prefix = "data:image/svg+xml;base64,"
    assert connector["logo"].startswith(prefix)  # the backend serves data:<type>;base64,<data>
    svg = ET.fromstring(base64.b64decode(connector["logo"][len(prefix) :]))
    shape = svg.find("{http://www.w3.org/2000/svg}circle")
    assert shape is not None and shape.get("r") == "8"  # the background disc fills the whole 16x16 box
    for background in BACKGROUNDS:
        assert contrast(shape.get("fill", ""), background) >= 3  # WCAG's minimum for graphics
    glyph = {element.get(attribute) for element in svg.iter() for attribute in ("fill", "stroke")} - {None, "none"}
    glyph.discard(shape.get("fill"))
    assert glyph and all(contrast(colour or "", shape.get("fill", "")) >= 3 for colour in glyph)
    assert contrast("#24292f", BACKGROUNDS[0]) < 1.5  # the old dark disc: the test can tell
    assert contrast(connector["color"], BACKGROUNDS[1]) >= 3
