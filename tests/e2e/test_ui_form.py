"""Integrations as PainChain's form saves them, end to end: the real process against the fake backend.

Every UI-default value of every field syncs; a broken integration shows ``error`` and why in
``config.lastError``, and turns ``active`` again once fixed; an ``inactive`` one is never touched.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from painchain_gh.registration import CONNECTOR_TYPE
from tests.e2e.conftest import Connector
from tests.e2e.faults_support import seed_issues
from tests.fakes.github import DEFAULT_TOKEN

FIELDS = [field["key"] for field in CONNECTOR_TYPE["configSchema"]["fields"]]
NEEDED = {"name", "token", "repositories"}  # what a person fills in for a token integration
UI_DEFAULTS: list[Any] = ["", "   ", {}, [], None]  # untouched, spaces, an emptied JSON box, null
APP_ID = 31337


def untouched_form(**filled: Any) -> dict[str, Any]:
    """The config PainChain's form saves: every registered field at its starting value, then ``filled``."""
    config: dict[str, Any] = {key: ([] if key == "tags" else "") for key in FIELDS}
    return {**config, **filled}


def add_form_integration(connector: Connector, integration_id: str, config: dict[str, Any], **row: Any) -> None:
    connector.backend.add_raw_integration(
        {
            "id": integration_id,
            "tenantId": None,
            "type": "github",
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


@pytest.mark.parametrize("separator", [" ", ""], ids=["spaces", "nothing"])
def test_an_app_integration_from_the_form_with_every_other_field_untouched_syncs(
    connector: Connector, separator: str
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    github = connector.github
    github.apps.add_app(APP_ID, key.public_key())
    github.apps.add_listed_repo("acme", "api")
    github.apps.add_installation(APP_ID, "acme")
    expected = seed_issues(github, "acme/api", count=1)
    config = untouched_form(name="App", appId=str(APP_ID), privateKey=one_line(pem, separator))
    add_form_integration(connector, "app-untouched", config)
    add_form_integration(connector, "app-blurred", {**config, "repositories": [], "events": {}})

    run = connector.run("sync")

    assert run.returncode == 0, run.stderr
    for integration_id in ("app-untouched", "app-blurred"):
        assert [event.body["externalId"] for event in connector.backend.events_for(integration_id)] == expected
    assert "BEGIN" not in run.stderr


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
        "no-token": "token: missing; give a GitHub token, or a GitHub App's appId and privateKey instead",
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
