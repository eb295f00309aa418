"""The versioned on-disk state format (its JSON Schema is ``state/schema.json``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from painchain_gh.cursor import RepoState

STATE_VERSION = 1


class StateFile(BaseModel):
    """The whole state file: one :class:`RepoState` per ``tenant/integration/owner/repo`` key."""

    model_config = ConfigDict(extra="forbid", title="painchain-gh state file")

    version: int = Field(default=STATE_VERSION, description="format version; newer files are refused")
    repos: dict[str, RepoState] = Field(
        default_factory=dict, description="key: '{tenant or -}/{integration id}/{owner}/{repo}' in lower case"
    )
