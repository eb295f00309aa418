"""The connector type PainChain's UI uses to build the GitHub integration form (CONTRACT.md)."""

from __future__ import annotations

from typing import Any

# A small GitHub-like mark as an SVG data URI, so the payload carries no binary file.
_LOGO = (
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHZpZXdCb3g9JzAgMCAxNiAxNic+"
    "PGNpcmNsZSBjeD0nOCcgY3k9JzgnIHI9JzgnIGZpbGw9JyMyNDI5MmYnLz48L3N2Zz4="
)

CONNECTOR_TYPE: dict[str, Any] = {
    "id": "github",
    "displayName": "GitHub",
    "color": "#24292f",
    "logo": _LOGO,
    "description": "Pushes, pull requests, reviews, issues, releases and GitHub Actions workflow runs.",
    "configSchema": {
        "fields": [
            {"key": "name", "label": "Name", "type": "text", "required": True, "help": "A name for this integration"},
            {
                "key": "tags",
                "label": "Tags",
                "type": "text",
                "required": False,
                "help": "Comma-separated tags added to every event of this integration, e.g. `backend, team-a`",
            },
            {
                "key": "token",
                "label": "GitHub token",
                "type": "password",
                "required": False,
                "help": (
                    "A personal access token with the repo scope (and workflow for Actions runs). "
                    "Leave empty when using a GitHub App below"
                ),
            },
            {
                "key": "appId",
                "label": "GitHub App id",
                "type": "text",
                "required": False,
                "help": "Instead of a token: the numeric id of a GitHub App installed there, e.g. `12345`",
            },
            {
                "key": "privateKey",
                "label": "GitHub App private key",
                "type": "password",
                "required": False,
                "help": "With the App id: the App's private key, the whole .pem file from its BEGIN to its END line",
            },
            {
                "key": "installationId",
                "label": "GitHub App installation id",
                "type": "text",
                "required": False,
                "help": "Optional: found from the repositories, or from the App's only installation, e.g. `7654321`",
            },
            {
                "key": "repositories",
                "label": "Repositories",
                "type": "textarea",
                "required": False,
                "help": (
                    'A JSON list of "owner/name", e.g. `["acme/api", "acme/web"]`; "owner/*" polls every '
                    'repository of an owner, e.g. `["acme/*"]`; objects may add tags, e.g. '
                    '`[{"owner": "acme", "repo": "api", "tags": ["backend"]}]`. '
                    "With a GitHub App, leave it empty to poll every repository of its installation"
                ),
            },
            {
                "key": "events",
                "label": "Events",
                "type": "textarea",
                "required": False,
                "help": (
                    "Optional JSON list of the kinds to send: push, pull_request, review, issue, release, "
                    'workflow_run, deployment, image; e.g. `["push", "pull_request", "release"]` '
                    "(default: all but image)"
                ),
            },
            {
                "key": "containerImages",
                "label": "Container images",
                "type": "checkbox",
                "required": False,
                "help": "Also send new ghcr.io container image versions, e.g. `true`",
            },
        ]
    },
}
