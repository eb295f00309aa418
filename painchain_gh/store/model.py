"""The versioned on-disk state format (its JSON Schema is ``state/schema.json``).

Version 2 keeps tenant and integration ids exactly as given (``ABC`` and ``abc`` are two
integrations); version 1 lower-cased whole keys. A version-1 entry cannot say which case its
ids had, so on reading it moves to ``unmigrated`` under its lower-case key, and a job whose key
lower-cases to it starts from a copy of it (every such job: a copy sends nothing twice, because
what the shared version-1 cursor recorded was forwarded once, and skips nothing new, because each
job then has a cursor of its own). An entry leaves ``unmigrated`` once a run has claimed it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from painchain_gh.cursor import RepoState

STATE_VERSION = 2
OLDEST_VERSION = 1


class StateFile(BaseModel):
    """The whole state file: one :class:`RepoState` per ``tenant/integration/owner/repo`` key."""

    model_config = ConfigDict(extra="forbid", title="painchain-gh state file")

    version: int = Field(default=STATE_VERSION, description="format version; newer files are refused")
    repos: dict[str, RepoState] = Field(
        default_factory=dict,
        description="key: '{tenant or -}/{integration id}/{owner}/{repo}': ids exactly as given, "
        "owner and repo in lower case",
    )
    unmigrated: dict[str, RepoState] = Field(
        default_factory=dict,
        description="version-1 entries (whole key in lower case) not yet claimed by a job whose key lower-cases to it",
    )

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        """A version-1 document (e.g. an old ``state export``) becomes version 2: its entries are unmigrated."""
        if isinstance(data, dict) and data.get("version") == OLDEST_VERSION:
            repos = data.get("repos")
            legacy = {str(key).lower(): value for key, value in repos.items()} if isinstance(repos, dict) else repos
            rest = {key: value for key, value in data.items() if key not in {"version", "repos"}}
            return {**rest, "version": STATE_VERSION, "repos": {}, "unmigrated": legacy}
        return data
