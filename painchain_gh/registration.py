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
                "help": "Comma-separated tags added to every event of this integration",
            },
            {
                "key": "token",
                "label": "GitHub token",
                "type": "password",
                "required": True,
                "help": "A personal access token with the repo scope (and workflow for Actions runs)",
            },
            {
                "key": "repositories",
                "label": "Repositories",
                "type": "textarea",
                "required": True,
                "help": "One owner/repo per line",
            },
        ]
    },
}
