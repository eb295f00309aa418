"""Integrations as PainChain's forms save them, end to end: the real process against the fake backend.

Each form (GitHub with a token, GitHub App) filled in only where it marks a field required syncs, and so
does every UI-default value of every field; a broken integration shows ``error`` and why in
``config.lastError``, and turns ``active`` again once fixed; an ``inactive`` one is never touched.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from painchain_gh.registration import APP_CONNECTOR_TYPE, CONNECTOR_TYPE
from tests.e2e.conftest import Connector
from tests.e2e.faults_support import seed_issues
from tests.fakes.github import DEFAULT_TOKEN

FIELDS = [field["key"] for field in CONNECTOR_TYPE["configSchema"]["fields"]]
APP_FIELDS = [field["key"] for field in APP_CONNECTOR_TYPE["configSchema"]["fields"]]
NEEDED = {field["key"] for field in CONNECTOR_TYPE["configSchema"]["fields"] if field["required"]}
APP_NEEDED = {field["key"] for field in APP_CONNECTOR_TYPE["configSchema"]["fields"] if field["required"]}
UI_DEFAULTS: list[Any] = ["", "   ", {}, [], None]  # untouched, spaces, an emptied JSON box, null
APP_ID = 31337


def untouched_form(fields: list[str] = FIELDS, /, **filled: Any) -> dict[str, Any]:
    """The config PainChain's form saves: every registered field at its starting value, then ``filled``."""
    config: dict[str, Any] = {key: ([] if key == "tags" else "") for key in fields}
    return {**config, **filled}


def add_form_integration(
    connector: Connector, integration_id: str, config: dict[str, Any], type_id: str = "github", **row: Any
) -> None:
    connector.backend.add_raw_integration(
        {
            "id": integration_id,
            "tenantId": None,
            "type": type_id,
            "name": config.get("name") or integration_id,
            "status": row.get("status", "active"),
            "lastSync": None,
            "registeredAt": "2026-11-01T09:00:00.000Z",
            "config": config,
        }
    )


def one_line(pem: str, separator: str) -> str:
    """A PEM key as the form's one-line password box keeps it."""
    return separator.join(pem.strip().splitlines())


def test_every_ui_default_value_of_every_field_syncs(connector: Connector) -> None:
    expected = seed_issues(connector.github, "acme/api", count=1)
    filled = {"name": "Form", "token": DEFAULT_TOKEN, "repositories": ["acme/api"]}
    assert set(filled) == NEEDED  # "untouched" is the form filled in only where it marks a field required
    ids = []
    add_form_integration(connector, "untouched", untouched_form(**filled))
    json_boxes = [field["key"] for field in CONNECTOR_TYPE["configSchema"]["fields"] if field["type"] == "textarea"]
    blurred: dict[str, Any] = {
        key: {} for key in json_boxes if key not in NEEDED and key != "tags"
    }  # focused, left empty
    assert blurred == {"events": {}}
    add_form_integration(connector, "blurred", untouched_form(**blurred, **filled))
    ids += ["untouched", "blurred"]
    for number, value in enumerate(UI_DEFAULTS):
        every_field = {key: value for key in FIELDS if key not in NEEDED}
        add_form_integration(connector, f"default{number}", {**every_field, **filled})
        ids.append(f"default{number}")

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert run.summary()["invalid_integrations"] == 0
    for integration_id in ids:
        assert [event.body["externalId"] for event in connector.backend.events_for(integration_id)] == expected
        row = connector.backend.integration(integration_id) or {}
        assert row["status"] == "active" and row["lastSync"], integration_id
    assert not [body for _, body in connector.backend.puts if "status" in body]  # nothing to change


def app_key(connector: Connector, app_id: int = APP_ID) -> str:
    """A new App's private key (PEM), the App registered with the fake GitHub and installed on acme."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    connector.github.apps.add_app(app_id, key.public_key())
    connector.github.apps.add_installation(app_id, "acme")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize("separator", [" ", ""], ids=["spaces", "nothing"])
def test_a_github_app_integration_with_only_its_required_fields_syncs(connector: Connector, separator: str) -> None:
    pem = app_key(connector)
    connector.github.apps.add_listed_repo("acme", "api")
    expected = seed_issues(connector.github, "acme/api", count=1)
    filled = {"name": "App", "appId": str(APP_ID), "privateKey": one_line(pem, separator)}
    assert set(filled) == APP_NEEDED
    config = untouched_form(APP_FIELDS, **filled)
    add_form_integration(connector, "app-untouched", config, "github-app")
    add_form_integration(connector, "app-blurred", {**config, "repositories": [], "events": {}}, "github-app")
    # Created before the GitHub App type existed: a github integration holding an App's credentials.
    add_form_integration(connector, "app-as-github", untouched_form(FIELDS, **filled), "github")

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    for integration_id in ("app-untouched", "app-blurred", "app-as-github"):
        events = connector.backend.events_for(integration_id)
        assert [event.body["externalId"] for event in events] == expected
        assert {event.body["connector"] for event in events} == {"github"}
        row = connector.backend.integration(integration_id) or {}
        assert row["status"] == "active" and row["lastSync"], integration_id
    assert "BEGIN" not in run.stderr


def test_a_github_app_integration_without_its_key_or_with_another_apps_key_shows_error_then_active(
    connector: Connector,
) -> None:
    pem = app_key(connector)
    other = app_key(connector, APP_ID + 1)  # a key GitHub knows, of another App
    connector.github.apps.add_listed_repo("acme", "api")
    expected = seed_issues(connector.github, "acme/api", count=1)
    add_form_integration(connector, "no-key", untouched_form(APP_FIELDS, name="App", appId=str(APP_ID)), "github-app")
    wrong = untouched_form(APP_FIELDS, name="App", appId=str(APP_ID), privateKey=one_line(other, " "))
    add_form_integration(connector, "wrong-key", wrong, "github-app")
    token_only = untouched_form(APP_FIELDS, name="App", token=DEFAULT_TOKEN, repositories=["acme/api"])
    add_form_integration(connector, "token-only", token_only, "github-app")

    first = connector.run("sync")

    assert first.returncode == 3, first.stderr
    reasons = {i: (connector.backend.integration(i) or {})["config"].get("lastError") for i in ("no-key", "wrong-key")}
    assert reasons["no-key"] == "privateKey: missing; a GitHub App needs both appId and privateKey"
    assert "GitHub refused the App's signed token" in str(reasons["wrong-key"])
    assert str(reasons["wrong-key"]).endswith("check appId and privateKey, and that the machine's clock is right")
    token_row = connector.backend.integration("token-only") or {}
    assert token_row["config"]["lastError"] == (
        "appId and privateKey: missing; a GitHub App integration needs the App's id and private key"
    )  # a github-app integration never falls back to a token
    for integration_id in ("no-key", "wrong-key", "token-only"):
        assert (connector.backend.integration(integration_id) or {})["status"] == "error"
        assert connector.backend.events_for(integration_id) == []

    for integration_id in ("no-key", "wrong-key"):
        (connector.backend.integration(integration_id) or {})["config"]["privateKey"] = one_line(pem, " ")  # saved
    fixed = connector.run("sync")

    assert fixed.returncode == 3, fixed.stderr  # token-only is still refused
    for integration_id in ("no-key", "wrong-key"):
        row = connector.backend.integration(integration_id) or {}
        assert row["status"] == "active" and "lastError" not in row["config"], integration_id
        assert [event.body["externalId"] for event in connector.backend.events_for(integration_id)] == expected


def test_a_broken_integration_shows_error_and_why_then_active_once_fixed(connector: Connector) -> None:
    github = connector.github
    expected = seed_issues(github, "acme/api", count=1)
    filled = {"name": "Form", "token": DEFAULT_TOKEN, "repositories": ["acme/api"]}
    add_form_integration(connector, "no-token", untouched_form(**{**filled, "token": ""}))
    add_form_integration(connector, "refused", untouched_form(**{**filled, "token": "ghp_revoked_token"}))
    add_form_integration(connector, "missing", untouched_form(**{**filled, "repositories": ["acme/missing"]}))
    add_form_integration(connector, "typo", untouched_form(**{**filled, "events": ["push", "stars"]}))
    broken = ["no-token", "refused", "missing", "typo"]

    first = connector.run("sync")

    assert first.returncode == 3, first.stderr
    reasons = {i: (connector.backend.integration(i) or {})["config"].get("lastError") for i in broken}
    assert reasons == {
        "no-token": "token: missing; fill in a GitHub token (for a GitHub App, use the GitHub App connector)",
        "refused": "acme/api: the token was rejected (401 Bad credentials) on /repos/acme/api/events",
        "missing": "acme/missing: GitHub answered 404 for /repos/acme/missing/events: Not Found",
        "typo": 'events: "stars" is not a kind painchain-gh sends; choose among push, pull_request, review, '
        "issue, release, workflow_run, deployment, image",
    }
    for integration_id in broken:
        row = connector.backend.integration(integration_id) or {}
        assert row["status"] == "error" and row["config"]["name"] == "Form" and row["config"]["tags"] == []
    assert (connector.backend.integration("refused") or {})["config"]["token"] == "ghp_revoked_token"  # kept
    written = len(connector.backend.puts)

    again = connector.run("sync")  # nothing fixed: the same reasons, nothing written

    assert again.returncode == 3
    assert [body for _, body in connector.backend.puts[written:] if "status" in body or "config" in body] == []

    for integration_id, fix in {
        "no-token": {"token": DEFAULT_TOKEN},
        "refused": {"token": DEFAULT_TOKEN},
        "missing": {"repositories": ["acme/api"]},
        "typo": {"events": ["issue"]},
    }.items():
        (connector.backend.integration(integration_id) or {})["config"].update(fix)  # saved in the form

    fixed = connector.run("sync")

    assert fixed.returncode == 0, fixed.stderr
    for integration_id in broken:
        row = connector.backend.integration(integration_id) or {}
        assert row["status"] == "active" and "lastError" not in row["config"], integration_id
        assert [event.body["externalId"] for event in connector.backend.events_for(integration_id)] == expected
    messages = [record["message"] for record in fixed.log if record.get("event") == "integration_status"]
    assert len(messages) == 4 and all("status set back to active" in message for message in messages)


def test_an_inactive_integration_is_never_polled_nor_written(connector: Connector) -> None:
    seed_issues(connector.github, "acme/api", count=1)
    broken = untouched_form(name="Paused", token="", repositories=["acme/api"])
    add_form_integration(connector, "paused", broken, status="inactive")
    add_form_integration(
        connector, "paused-ok", untouched_form(name="Paused", token=DEFAULT_TOKEN, repositories=["acme/api"])
    )
    (connector.backend.integration("paused-ok") or {})["status"] = "inactive"
    before = copy.deepcopy(connector.backend.integrations)

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    assert connector.backend.integrations == before
    assert connector.backend.puts == [] and connector.backend.events == []
    assert not [r for r in connector.backend.requests if r.path.startswith("/api/integrations/paused")]


def test_register_puts_both_forms_in_the_backend_and_a_repeat_changes_nothing(connector: Connector) -> None:
    backend = connector.backend
    backend.required_token = "backend-token-for-register"
    env = {"BACKEND_API_TOKEN": "backend-token-for-register"}

    first = connector.run("register", env=env)
    stored = copy.deepcopy(backend.registered_types)
    again = connector.run("register", env=env)

    assert (first.returncode, again.returncode) == (0, 0), first.stderr
    assert [record["message"] for record in first.log] == [
        "connector type 'github' registered",
        "connector type 'github-app' registered",
    ]
    assert stored == {"github": CONNECTOR_TYPE, "github-app": APP_CONNECTOR_TYPE} == backend.registered_types
    required = {
        type_id: [field["label"] for field in schema["configSchema"]["fields"] if field["required"]]
        for type_id, schema in stored.items()
    }
    assert required == {
        "github": ["Name", "GitHub token", "Repositories"],
        "github-app": ["Name", "App id", "Private key"],
    }
