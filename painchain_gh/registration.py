"""The connector type PainChain's UI uses to build the GitHub integration form (CONTRACT.md).

What the form (PainChain's ``Integrations.tsx``) does with a field decides how it is declared:

- the field whose key is ``tags`` is a chip input (one tag per Enter; a comma stays inside the
  tag). It is declared as a ``textarea`` with the placeholder ``[]`` only so that a new form
  starts it as an empty list, which the form itself requires before it saves;
- ``textarea``: the text is parsed as JSON as it is typed; an empty box becomes ``{}`` (or
  ``[]`` for ``repositories``) when it loses focus. A placeholder would become the starting
  value, so the other JSON boxes have none;
- ``password``: a one-line hidden input (a pasted key's line breaks become spaces);
- any other type is a one-line text input holding a string, so yes/no fields are text.

Every field starts as ``""``; :mod:`painchain_gh.models` reads all of these values.
``lastError`` is written by painchain-gh itself (see :mod:`painchain_gh.integration_status`).
"""

from __future__ import annotations

import base64
from typing import Any

from painchain_gh.models import LAST_ERROR_KEY

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

DESCRIPTION = (
    "Pushes, pull requests, reviews, issues, releases, GitHub Actions workflow runs, deployments and "
    "(if chosen) ghcr.io container images, polled by painchain-gh. When an integration cannot be synced "
    "(a config it cannot use, a token GitHub refuses, a repository GitHub cannot find), painchain-gh sets "
    "its status to error and writes why in Last error; the next successful sync sets it active again and "
    "clears the reason. An integration set to inactive is never polled or changed."
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

FIELDS: list[dict[str, Any]] = [
    {"key": "name", "label": "Name", "type": "text", "required": True, "help": "A name for this integration."},
    {
        "key": LAST_ERROR_KEY,
        "label": "Last error (set by painchain-gh)",
        "type": "text",
        "required": False,
        "help": (
            "Written by painchain-gh when this integration cannot be synced (its status is then error), "
            "cleared by the next successful sync. Anything typed here is replaced."
        ),
    },
    {
        "key": "tags",
        "label": "Tags",
        "type": "textarea",
        "placeholder": "[]",
        "required": False,
        "help": (
            "Added to every event of this integration, for PainChain's tag filter. Type one tag and press "
            "Enter, e.g. backend, then the next, e.g. team-a (a comma stays inside a tag)."
        ),
    },
    {
        "key": "token",
        "label": "GitHub token",
        "type": "password",
        "required": False,
        "help": (
            "A personal access token (it starts with ghp_ or github_pat_): classic with the repo scope, "
            "or fine-grained with read access to metadata, contents, pull requests, actions and deployments. "
            "Needed unless the GitHub App fields below are filled in."
        ),
    },
    {
        "key": "repositories",
        "label": "Repositories",
        "type": "textarea",
        "required": False,
        "help": (
            'The repositories to watch, as a JSON list, e.g. ["acme/api", "acme/web"]. "owner/*" watches every '
            'repository of an owner, e.g. ["acme/*"]; an entry may add its own tags, e.g. '
            '[{"owner": "acme", "repo": "api", "tags": ["backend"]}]. '
            "With a GitHub App, leave it empty to watch every repository the App is installed on."
        ),
    },
    {
        "key": "events",
        "label": "Events",
        "type": "textarea",
        "required": False,
        "help": (
            "Leave empty to send every kind but container images. To choose, a JSON list of kinds among "
            "push, pull_request, review, issue, release, workflow_run, deployment and image, "
            'e.g. ["push", "pull_request", "release"].'
        ),
    },
    {
        "key": "containerImages",
        "label": "Container images",
        "type": "text",
        "required": False,
        "help": (
            "Type yes to also send new ghcr.io container image versions; Events must then list image too, "
            "and the token needs read:packages. Empty means no."
        ),
    },
    {
        "key": "appId",
        "label": "GitHub App id",
        "type": "text",
        "required": False,
        "help": "Instead of a token: the numeric id of a GitHub App, e.g. 123456, with its private key below.",
    },
    {
        "key": "privateKey",
        "label": "GitHub App private key",
        "type": "password",
        "required": False,
        "help": (
            "With the App id: the App's private key, the whole .pem file pasted from its BEGIN line to its END "
            "line (this box puts it on one line; painchain-gh restores the line breaks)."
        ),
    },
    {
        "key": "installationId",
        "label": "GitHub App installation id",
        "type": "text",
        "required": False,
        "help": (
            "Optional, e.g. 7654321. Empty: painchain-gh finds it from the repositories, "
            "or uses the App's only installation."
        ),
    },
    {
        "key": "apiUrl",
        "label": "GitHub Enterprise Server API URL",
        "type": "text",
        "required": False,
        "help": (
            "Empty for github.com. For GitHub Enterprise Server, its API address, "
            "e.g. https://ghe.example.com/api/v3 (whoever runs painchain-gh must allow that host)."
        ),
    },
    {
        "key": "pollInterval",
        "label": "Minimum seconds between polls",
        "type": "text",
        "required": False,
        "help": "Empty: every run polls. Otherwise whole seconds from 60 to 3600, e.g. 300.",
    },
    {
        "key": "pointsPerMinute",
        "label": "GitHub requests per minute",
        "type": "text",
        "required": False,
        "help": (
            "Empty: what the connector is set to (600). Lower it, e.g. 300, when other tools use the same "
            "token: GitHub allows 900 points a minute per token or App installation, whoever spends them."
        ),
    },
]

CONNECTOR_TYPE: dict[str, Any] = {
    "id": "github",
    "displayName": "GitHub",
    "color": "#e6edf3",
    "logo": _LOGO,
    "description": DESCRIPTION,
    "configSchema": {"fields": FIELDS},
}
