"""The connector types PainChain's UI builds its GitHub integration forms from (CONTRACT.md).

Two types, so that each form marks as required exactly what it needs (the form cannot say "a token
or an App"): ``github`` ("GitHub": Name, Token and Repositories required) and ``github-app``
("GitHub App": Name, App id and Private key required; empty Repositories watches every repository
of the installation). Both are polled alike and their events say connector ``github``.

What the form (PainChain's ``Integrations.tsx``) does with a field decides how it is declared:

- the field whose key is ``tags`` is a chip input (one tag per Enter; a comma stays inside the
  tag). It is declared as a ``textarea`` with the placeholder ``[]`` only so that a new form
  starts it as an empty list, which the form itself requires before it saves;
- ``textarea``: the text is parsed as JSON as it is typed; an empty box becomes ``{}`` (or
  ``[]`` for ``repositories``) when it loses focus. A placeholder would become the starting
  value, so the other JSON boxes have none;
- ``password``: a one-line hidden input (a pasted key's line breaks become spaces);
- any other type is a one-line text input holding a string, so yes/no fields are text;
- ``required`` draws a red * and makes the browser refuse to save while the box is empty (the
  chip input excepted), so only what the integration cannot work without is required.

Every field starts as ``""``; :mod:`painchain_gh.models` reads all of these values.
``lastError`` is written by painchain-gh itself (see :mod:`painchain_gh.integration_status`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from painchain_gh.errors import BackendError
from painchain_gh.models import APP_TYPE, LAST_ERROR_KEY, TOKEN_TYPE

# PainChain's dark theme: page background #0f1419, cards #1a1f2e, text #e1e4e8.
LOGO_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>"
    "<circle cx='8' cy='8' r='8' fill='#e6edf3'/>"
    "<g fill='none' stroke='#0f1419' stroke-width='1.4' stroke-linecap='round'>"
    "<path d='M6 4.6v6.8'/><path d='M10.5 6.6c0 2.2-4.5 1.6-4.5 3.6'/></g>"
    "<g fill='#0f1419'><circle cx='6' cy='4.3' r='1.5'/><circle cx='6' cy='11.7' r='1.5'/>"
    "<circle cx='10.5' cy='5.3' r='1.5'/></g></svg>"
)
_LOGO = "data:image/svg+xml;base64," + base64.b64encode(LOGO_SVG.encode()).decode()

_STREAMS = (
    "pushes, pull requests, reviews, issues, releases, GitHub Actions workflow runs, deployments (with the "
    "commits and pull requests each one shipped) and, if chosen, ghcr.io container images"
)
_STATUS = (
    "When an integration cannot be synced (a config it cannot use, credentials GitHub refuses, a repository "
    "GitHub cannot find), painchain-gh sets its status to error and writes why in Last error; the next "
    "successful sync sets it active again and clears the reason. An integration set to inactive is never "
    "polled or changed."
)
DESCRIPTION = (
    f"GitHub {_STREAMS}, polled by painchain-gh with a personal access token. For a GitHub App, choose "
    f"GitHub App instead. {_STATUS}"
)
APP_DESCRIPTION = (
    f"GitHub {_STREAMS}, polled by painchain-gh as a GitHub App installation (no personal token): every "
    f"repository the App is installed on, or the ones listed. {_STATUS}"
)

# What people type into each field, as the examples its help shows (tests check each is accepted).
FORM_EXAMPLES: dict[str, list[str]] = {
    "tags": ["backend", "team-a"],
    "repositories": [
        '["acme/api", "acme/web"]',
        '["acme/*"]',
        '[{"owner": "acme", "repo": "api", "tags": ["backend"]}]',
    ],
    "events": ['["push", "pull_request", "release"]'],
    "containerImages": ["yes"],
    "appId": ["123456"],
    "installationId": ["7654321"],
    "apiUrl": ["https://ghe.example.com/api/v3"],
    "pollInterval": ["300"],
    "pointsPerMinute": ["300"],
}

_NAME = {"key": "name", "label": "Name", "type": "text", "required": True, "help": "A name for this integration."}
_LAST_ERROR = {
    "key": LAST_ERROR_KEY,
    "label": "Last error (set by painchain-gh)",
    "type": "text",
    "required": False,
    "help": (
        "Empty while the integration syncs. Written by painchain-gh when it cannot be synced (its status is "
        "then error), cleared by the next successful sync. Anything typed here is replaced."
    ),
}
_TOKEN = {
    "key": "token",
    "label": "GitHub token",
    "type": "password",
    "required": True,
    "help": (
        "A personal access token (it starts with ghp_ or github_pat_): classic with the repo scope, "
        "or fine-grained with read access to metadata, contents, pull requests, actions and deployments."
    ),
}
_REPOSITORY_SHAPES = (
    '"owner/*" watches every repository of an owner, e.g. ["acme/*"]; an entry may add its own tags, e.g. '
    '[{"owner": "acme", "repo": "api", "tags": ["backend"]}].'
)
_REPOSITORIES = {
    "key": "repositories",
    "label": "Repositories",
    "type": "textarea",
    "required": True,
    "help": f'The repositories to watch, as a JSON list, e.g. ["acme/api", "acme/web"]. {_REPOSITORY_SHAPES}',
}
_APP_REPOSITORIES = {
    **_REPOSITORIES,
    "required": False,
    "help": (
        "Empty: every repository the App is installed on, including ones added later. Otherwise a JSON "
        f'list of the ones to watch, e.g. ["acme/api", "acme/web"]. {_REPOSITORY_SHAPES}'
    ),
}
_APP_ID = {
    "key": "appId",
    "label": "App id",
    "type": "text",
    "required": True,
    "help": "The GitHub App's numeric id, e.g. 123456 (its settings page shows it as App ID).",
}
_PRIVATE_KEY = {
    "key": "privateKey",
    "label": "Private key",
    "type": "password",
    "required": True,
    "help": (
        "The App's private key: the whole .pem file pasted from its BEGIN line to its END line "
        "(this box puts it on one line; painchain-gh restores the line breaks)."
    ),
}
_INSTALLATION_ID = {
    "key": "installationId",
    "label": "Installation id",
    "type": "text",
    "required": False,
    "help": (
        "Optional, e.g. 7654321. Empty: painchain-gh finds it from the repositories, "
        "or uses the App's only installation."
    ),
}
_TAGS = {
    "key": "tags",
    "label": "Tags",
    "type": "textarea",
    "placeholder": "[]",
    "required": False,
    "help": (
        "Added to every event of this integration, for PainChain's tag filter. Type one tag and press "
        "Enter, e.g. backend, then the next, e.g. team-a (a comma stays inside a tag)."
    ),
}
_EVENTS = {
    "key": "events",
    "label": "Events",
    "type": "textarea",
    "required": False,
    "help": (
        "Leave empty to send every kind but container images. To choose, a JSON list of kinds among "
        "push, pull_request, review, issue, release, workflow_run, deployment and image, "
        'e.g. ["push", "pull_request", "release"].'
    ),
}


def _container_images(who: str) -> dict[str, Any]:
    return {
        "key": "containerImages",
        "label": "Container images",
        "type": "text",
        "required": False,
        "help": (
            "Type yes to also send new ghcr.io container image versions; Events must then list image too, "
            f"and {who}. Empty means no."
        ),
    }


_API_URL = {
    "key": "apiUrl",
    "label": "GitHub Enterprise Server API URL",
    "type": "text",
    "required": False,
    "help": (
        "Empty for github.com. For GitHub Enterprise Server, its API address, "
        "e.g. https://ghe.example.com/api/v3 (whoever runs painchain-gh must allow that host)."
    ),
}
_POLL_INTERVAL = {
    "key": "pollInterval",
    "label": "Minimum seconds between polls",
    "type": "text",
    "required": False,
    "help": "Empty: every run polls. Otherwise whole seconds from 60 to 3600, e.g. 300.",
}


def _points_per_minute(whose: str) -> dict[str, Any]:
    return {
        "key": "pointsPerMinute",
        "label": "GitHub requests per minute",
        "type": "text",
        "required": False,
        "help": (
            f"Empty: what the connector is set to (600). Lower it, e.g. 300, when other tools use the same {whose}: "
            f"GitHub allows 900 points a minute per {whose}, whoever spends them."
        ),
    }


# Required fields first, then the reason painchain-gh writes (seen when a broken one is opened), then the rest.
FIELDS: list[dict[str, Any]] = [
    _NAME,
    _TOKEN,
    _REPOSITORIES,
    _LAST_ERROR,
    _TAGS,
    _EVENTS,
    _container_images("the token needs read:packages"),
    _API_URL,
    _POLL_INTERVAL,
    _points_per_minute("token"),
]
APP_FIELDS: list[dict[str, Any]] = [
    _NAME,
    _APP_ID,
    _PRIVATE_KEY,
    _LAST_ERROR,
    _INSTALLATION_ID,
    _APP_REPOSITORIES,
    _TAGS,
    _EVENTS,
    _container_images("the App needs the Packages read permission"),
    _API_URL,
    _POLL_INTERVAL,
    _points_per_minute("App installation"),
]

CONNECTOR_TYPE: dict[str, Any] = {
    "id": TOKEN_TYPE,
    "displayName": "GitHub",
    "color": "#e6edf3",
    "logo": _LOGO,
    "description": DESCRIPTION,
    "configSchema": {"fields": FIELDS},
}
APP_CONNECTOR_TYPE: dict[str, Any] = {
    "id": APP_TYPE,
    "displayName": "GitHub App",
    "color": "#e6edf3",
    "logo": _LOGO,
    "description": APP_DESCRIPTION,
    "configSchema": {"fields": APP_FIELDS},
}
CONNECTOR_TYPES = (CONNECTOR_TYPE, APP_CONNECTOR_TYPE)  # what `painchain-gh register` registers, in order


@dataclass(frozen=True)
class Registration:
    """The outcome of registering one connector type: ``error`` None when the backend took it."""

    type_id: str
    error: BackendError | None = None


def register_all(register: Callable[[dict[str, Any]], None]) -> list[Registration]:
    """Register every connector type with ``register`` (``POST /integrations/types/register``), in order;
    one the backend refuses is reported and the others are still registered."""
    outcomes: list[Registration] = []
    for connector_type in CONNECTOR_TYPES:
        try:
            register(connector_type)
        except BackendError as error:
            outcomes.append(Registration(connector_type["id"], error))
        else:
            outcomes.append(Registration(connector_type["id"]))
    return outcomes
