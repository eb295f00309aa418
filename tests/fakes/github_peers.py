"""The few extra GitHub answers other connectors need when benchmarked against :class:`FakeGitHub`.

- ``POST /graphql`` for the one query Meltano's tap-github sends before syncing repository
  streams: one aliased ``repository(name: "...", owner: "...") { nameWithOwner databaseId }``
  per repository plus ``rateLimit { cost }``. Unknown repositories answer ``null`` with a
  ``NOT_FOUND`` error, as GitHub does. Any other query is refused.
- ``resources.graphql`` in ``GET /rate_limit``, which Airbyte's source-github reads to seed its
  GraphQL quota.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ._server import RecordedRequest, Response, json_response

JSON = dict[str, Any]

MAX_QUERY_BYTES = 1_000_000
MAX_ALIASES = 1000  # tap-github sends at most 500 per query
_REPOSITORY = re.compile(
    r'(?P<alias>repo\d+)\s*:\s*repository\(\s*name:\s*"(?P<name>[^"]*)"\s*,\s*owner:\s*"(?P<owner>[^"]*)"\s*\)'
    r"\s*\{\s*nameWithOwner\s+databaseId\s*\}"
)


def graphql(req: RecordedRequest, lookup: Callable[[str, str], tuple[str, int] | None]) -> Response:
    """Answer tap-github's repository-id query; ``lookup(owner, name)`` gives (full name, id) or None."""
    if len(req.body) > MAX_QUERY_BYTES:
        return _error(413, "Query too large")
    try:
        query = json.loads(req.body).get("query")
    except (ValueError, AttributeError):
        return _error(400, "Problems parsing JSON")
    if not isinstance(query, str):
        return _error(400, "A query attribute must be specified and must be a string.")
    matches = list(_REPOSITORY.finditer(query))
    if not matches or len(matches) > MAX_ALIASES:
        return _error(400, "This fake GitHub answers only tap-github's repository-id query.")
    data: JSON = {}
    errors: list[JSON] = []
    for match in matches:
        found = lookup(match["owner"], match["name"])
        if found is None:
            data[match["alias"]] = None
            errors.append(
                {
                    "type": "NOT_FOUND",
                    "path": [match["alias"]],
                    "message": f"Could not resolve to a Repository with the name '{match['owner']}/{match['name']}'.",
                }
            )
        else:
            full_name, database_id = found
            data[match["alias"]] = {"nameWithOwner": full_name, "databaseId": database_id}
    data["rateLimit"] = {"cost": 1}
    body: JSON = {"data": data, **({"errors": errors} if errors else {})}
    return json_response(200, body)


def graphql_resource(core: JSON) -> JSON:
    """The ``graphql`` entry of ``GET /rate_limit``: its own budget, shaped like ``core``."""
    return {**core, "resource": "graphql"}


def _error(status: int, message: str) -> Response:
    return json_response(status, {"message": message, "documentation_url": "https://docs.github.com/graphql"})
