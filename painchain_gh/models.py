"""The nouns that cross boundaries: integrations as the backend describes them.

Configuration is typed by people in a UI or with curl, so everything is validated and an
invalid integration becomes an :class:`InvalidIntegration` naming what is wrong, never
an exception that stops the others.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

# GitHub logins: letters, digits and single hyphens, at most 39 characters, no leading hyphen.
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
# Repository names: letters, digits, '.', '_' and '-', at most 100 characters.
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Integration ids are cuids; they become part of state keys, so keep them plain.
_INTEGRATION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def check_owner(value: str) -> str:
    """Return ``value`` if it is a valid GitHub owner name, else raise ValueError."""
    if not _OWNER.match(value):
        raise ValueError("owner must be a GitHub login (letters, digits, '-'; at most 39)")
    return value


def check_repo_name(value: str) -> str:
    """Return ``value`` if it is a valid GitHub repository name, else raise ValueError."""
    if not _REPO.match(value) or value in {".", ".."}:
        raise ValueError("repo must be a GitHub repository name (letters, digits, '.', '_', '-'; at most 100)")
    return value


class RepositoryConfig(BaseModel):
    """One repository to watch."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    owner: str
    repo: str
    tags: tuple[str, ...] = ()

    _check_owner = field_validator("owner")(classmethod(lambda cls, v: check_owner(v)))
    _check_repo = field_validator("repo")(classmethod(lambda cls, v: check_repo_name(v)))

    @property
    def full_name(self) -> str:
        """``owner/repo`` as configured."""
        return f"{self.owner}/{self.repo}"


class PollingConfig(BaseModel):
    """``config.polling``: whether to poll, and the minimum seconds between polls."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    enabled: bool = True
    interval: int | None = Field(default=None, ge=0, le=7 * 86400)


class IntegrationConfig(BaseModel):
    """``config`` of a GitHub integration."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    name: str | None = None
    tags: tuple[str, ...] = ()
    token: SecretStr | None = None
    repositories: tuple[RepositoryConfig, ...] = Field(min_length=1, max_length=20_000)
    polling: PollingConfig = PollingConfig()
    api_url: str | None = Field(default=None, alias="apiUrl")
    cursor: Any = Field(default=None, description="cursors kept here by --state backend")

    @field_validator("token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("token is empty")
        return value


class Integration(BaseModel):
    """A GitHub integration row from ``GET /integrations``."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str
    tenant_id: str | None = Field(default=None, alias="tenantId")
    type: str
    name: str = ""
    status: str = "active"
    config: IntegrationConfig

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not _INTEGRATION_ID.match(value):
            raise ValueError("id must be 1-200 letters, digits or '_.:-'")
        return value

    @property
    def label(self) -> str:
        """How messages name this integration: its id and name."""
        return f"integration {self.id} ({self.name or 'unnamed'})"

    def unique_repositories(self) -> list[RepositoryConfig]:
        """Repositories without duplicates (GitHub names are case-insensitive); tags are merged."""
        merged: dict[str, RepositoryConfig] = {}
        for repository in self.config.repositories:
            key = repository.full_name.lower()
            if key in merged:
                previous = merged[key]
                tags = tuple(dict.fromkeys(previous.tags + repository.tags))
                merged[key] = previous.model_copy(update={"tags": tags})
            else:
                merged[key] = repository
        return list(merged.values())


@dataclass(frozen=True)
class InvalidIntegration:
    """An integration that cannot be polled, and why (one line, no secrets)."""

    id: str
    name: str
    reason: str

    @property
    def label(self) -> str:
        """How messages name this integration."""
        return f"integration {self.id or '?'} ({self.name or 'unnamed'})"


@dataclass(frozen=True)
class IntegrationSelection:
    """The outcome of reading ``GET /integrations``."""

    valid: list[Integration]
    invalid: list[InvalidIntegration]
    disabled: int


def describe_validation_error(error: ValidationError) -> str:
    """One line listing each invalid field, without echoing any input value (it may be a token)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "integration"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts[:5]) + ("; ..." if len(parts) > 5 else "")


def _text(value: object) -> str:
    return value[:200] if isinstance(value, str) else ""


def select_integrations(rows: object) -> IntegrationSelection:
    """Keep the active GitHub integrations whose polling is enabled; validate each one."""
    valid: list[Integration] = []
    invalid: list[InvalidIntegration] = []
    disabled = 0
    if not isinstance(rows, list):
        return IntegrationSelection(valid, [InvalidIntegration("", "", "backend did not return a list")], 0)
    for row in rows:
        if not isinstance(row, Mapping) or row.get("type") != "github":
            continue
        if row.get("status", "active") != "active" or _polling_disabled(row):
            disabled += 1
            continue
        row_id, row_name = _text(row.get("id")), _text(row.get("name"))
        cleaned, bad_repositories = _split_repositories(row)
        invalid.extend(InvalidIntegration(row_id, row_name, reason) for reason in bad_repositories)
        try:
            integration = Integration.model_validate(cleaned)
        except ValidationError as error:
            invalid.append(InvalidIntegration(row_id, row_name, describe_validation_error(error)))
            continue
        if integration.config.token is None:
            invalid.append(InvalidIntegration(row_id, row_name, "config.token: missing (a GitHub token is required)"))
        elif any(integration.id == kept.id for kept in valid):
            # Polling both entries would send every event twice and race on the same cursors.
            reason = "listed more than once; only its first entry is polled"
            invalid.append(InvalidIntegration(row_id, row_name, reason))
        else:
            valid.append(integration)
    return IntegrationSelection(valid, invalid, disabled)


def _split_repositories(row: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[str]]:
    """Drop invalid repository entries so that one typo does not stop the integration's others."""
    config = row.get("config")
    repositories = config.get("repositories") if isinstance(config, Mapping) else None
    if not isinstance(repositories, list):
        return row, []
    kept: list[Any] = []
    reasons: list[str] = []
    for index, entry in enumerate(repositories):
        try:
            RepositoryConfig.model_validate(entry)
        except ValidationError as error:
            reasons.append(f"config.repositories.{index} skipped: {describe_validation_error(error)}")
        else:
            kept.append(entry)
    if not reasons or not kept:  # all valid, or none: the integration's own validation explains
        return row, []
    assert isinstance(config, Mapping)  # checked above, through repositories
    return {**row, "config": {**config, "repositories": kept}}, reasons


def _polling_disabled(row: Mapping[str, Any]) -> bool:
    config = row.get("config")
    polling = config.get("polling") if isinstance(config, Mapping) else None
    return isinstance(polling, Mapping) and polling.get("enabled") is False
