"""The nouns that cross boundaries: integrations as the backend describes them.

Configuration is typed by people in a UI or with curl, so everything is validated and an
invalid integration becomes an :class:`InvalidIntegration` naming what is wrong in plain
words, never an exception that stops the others. Every shape the PainChain UI and the
upstream connector send is accepted (see :func:`repository_entries` and ``IntegrationConfig``).

PainChain's form starts every field at ``""`` and sends what its controls hold: a text box's
string (``"false"``, ``" "``), a JSON box's parsed value (``{}`` when left empty), a chip list.
So for every optional key ``""``, whitespace, ``{}``, ``[]`` and ``null`` mean "not set"
(:func:`is_unset`), and yes/no fields accept ``true``/``false`` and their usual spellings as text
(:func:`parse_flag`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

# GitHub logins: letters, digits and single hyphens, at most 39 characters, no leading hyphen.
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
# Repository names: letters, digits, '.', '_' and '-', at most 100 characters.
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Integration ids are cuids; they become part of state keys, so keep them plain.
_INTEGRATION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
# Tokens: printable ASCII without spaces. Their format and length change over time (GitHub's
# installation tokens are getting longer), so only the character set and an upper bound are checked.
_TOKEN = re.compile(r"^[\x21-\x7e]{1,2048}$")
_TENANT = re.compile(r"^[\x20-\x2e\x30-\x7e]{1,200}$")  # printable ASCII without '/'
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_API_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[\x21-\x7e]*)?$")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----")
# A 4096-bit RSA key in PEM is about 3,300 characters (PKCS#1 or PKCS#8, CRLF line ends included);
# GitHub generates 2048-bit App keys (about 1,700). Anything larger is refused before it is parsed.
_MAX_PEM = 3_600
_MAX_REPOSITORIES = 20_000
MAX_WILDCARD_OWNERS = 100  # "owner/*" entries of one integration: each is a listing read every run
_MAX_TAGS = 50

WILDCARD = "*"
TOKEN_TYPE = "github"  # noqa: S105 - a type name: PainChain's "GitHub" connector (a token; older ones may hold an App)
APP_TYPE = "github-app"  # PainChain's "GitHub App" connector: an App's appId and privateKey
INTEGRATION_TYPES = (TOKEN_TYPE, APP_TYPE)
POLLED_STATUSES = ("active", "error")  # "error" is set by painchain-gh itself; any other status is a person's
LAST_ERROR_KEY = "lastError"  # where painchain-gh writes why an integration cannot be synced
_KEPT_WHEN_EMPTY = frozenset({"cursor"})  # written by painchain-gh: its own checks judge an empty one
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
EVENT_KINDS = ("push", "pull_request", "review", "issue", "release", "workflow_run", "deployment", "image")
DEFAULT_EVENTS = tuple(kind for kind in EVENT_KINDS if kind != "image")


def escape(value: object, limit: int = 200) -> str:
    """``value`` as one printable line: control and other non-printable characters become ``\\xNN``
    or ``\\uNNNN`` escapes, and long text is cut. Local until a shared text module exists."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    out = "".join(
        ch if ch.isprintable() else (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        for ch in text[:limit]
    )
    return out + ("..." if cut else "")


def is_unset(value: object) -> bool:
    """Whether a form value means "not set": ``null``, ``""`` or whitespace, ``{}`` or ``[]``."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, dict | list | tuple) and not value


def without_unset(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the keys whose value means "not set" (see :func:`is_unset`)."""
    return {key: value for key, value in values.items() if key in _KEPT_WHEN_EMPTY or not is_unset(value)}


def parse_flag(value: Any) -> Any:
    """A yes/no form value as a bool: ``true``/``false``, ``"yes"``/``"no"``, ``"on"``/``"off"``,
    ``"1"``/``"0"`` (any case, spaces around ignored); anything else unchanged, for validation to judge."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return value


def describe_value(value: object, limit: int = 60) -> str:
    """A value someone typed, shown in a message as JSON (escaped and cut); never used for secrets."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return escape(text, limit)


_PEM_PARTS = re.compile(r"^(-----BEGIN [A-Z ]*PRIVATE KEY-----)([A-Za-z0-9+/=\s]+)(-----END [A-Z ]*PRIVATE KEY-----)$")


def pem_with_line_breaks(text: str) -> str:
    """A PEM key with its line breaks back: the form's one-line password box turns a pasted key's
    line breaks into spaces (or drops them). Keys with headers inside (encrypted ones) are left as they are."""
    parts = _PEM_PARTS.match(text.strip())
    if parts is None:
        return text
    body = "".join(parts[2].split())
    lines = [body[start : start + 64] for start in range(0, len(body), 64)]
    return "\n".join([parts[1], *lines, parts[3]]) + "\n"


def check_owner(value: str) -> str:
    """Return ``value`` if it is a valid GitHub owner name, else raise ValueError."""
    if not _OWNER.match(value):
        raise ValueError("must be a GitHub login: letters, digits and '-', at most 39 characters")
    return value


def check_repo_name(value: str) -> str:
    """Return ``value`` if it is a valid GitHub repository name, else raise ValueError."""
    if not _REPO.match(value) or value in {".", ".."}:
        raise ValueError("must be letters, digits, '.', '_' or '-' (at most 100 characters), or * for all")
    return value


class RepositoryConfig(BaseModel):
    """One repository to watch; ``repo == "*"`` means every repository of ``owner``.

    Accepts ``{"owner": "acme", "repo": "api"}`` and the string ``"acme/api"``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    owner: str
    repo: str
    tags: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            owner, slash, repo = value.strip().removesuffix("/").partition("/")
            if not slash or not owner or not repo or "/" in repo:
                raise ValueError('write a repository as "owner/name", e.g. "acme/api" (or "acme/*" for all)')
            return {"owner": owner, "repo": repo}
        return value

    @field_validator("owner")
    @classmethod
    def _check_owner(cls, value: str) -> str:
        return check_owner(value)

    @field_validator("repo")
    @classmethod
    def _check_repo(cls, value: str) -> str:
        return value if value == WILDCARD else check_repo_name(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return split_tags(value)

    @property
    def full_name(self) -> str:
        """``owner/repo`` as configured."""
        return f"{self.owner}/{self.repo}"

    @property
    def is_wildcard(self) -> bool:
        """Whether this entry stands for every repository of its owner."""
        return self.repo == WILDCARD


def split_tags(value: Any) -> Any:
    """Tags as a list: ``["a", "b"]`` (what the form's chip input stores) and the older ``"a, b"`` both
    give ``["a", "b"]``; other shapes unchanged. A newer backend refuses a config whose tags are not a list."""
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, list | tuple):
        if len(value) > _MAX_TAGS:
            raise ValueError(f"must be at most {_MAX_TAGS} tags")
        tags = []
        for tag in value:
            if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 100 or not tag.strip().isprintable():
                raise ValueError(
                    'must be a list of short texts (at most 100 characters, not empty), e.g. ["backend", "team-a"]'
                )
            tags.append(tag.strip())
        return tags
    return value


def repository_entries(config: Mapping[str, Any]) -> Any:
    """The repository entries of a config in any shape the UI or upstream sends, as a list when possible.

    ``repositories`` may be a list (of objects or ``"owner/repo"`` strings) or one string of names
    separated by newlines or commas; upstream's ``repos`` is a comma-separated string. Other
    shapes are returned unchanged for validation to refuse.
    """
    value = config.get("repositories")
    if value is None or value in ("", []):
        value = config.get("repos", value)
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[\n,;]", value) if part.strip()]
    return value


class PollingConfig(BaseModel):
    """``config.polling``: whether to poll, and the minimum seconds between polls."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    enabled: bool = True
    interval: int | None = Field(default=None, ge=0, le=7 * 86400)

    @model_validator(mode="before")
    @classmethod
    def _form_values(cls, data: Any) -> Any:
        return without_unset(data) if isinstance(data, Mapping) else data

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled(cls, value: Any) -> Any:
        return parse_flag(value)


class IntegrationConfig(BaseModel):
    """``config`` of a GitHub integration.

    Authentication is a ``token``, or a GitHub App (``appId`` + ``privateKey``, optionally
    ``installationId``); when both are given the App is used. Validated with the context
    ``app_only`` (a ``github-app`` integration), a token alone is not enough. ``baseUrl`` (upstream, with
    ``isEnterprise``) is ``apiUrl``; ``pollInterval`` (upstream, 60-3600) is ``polling.interval``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    name: str | None = None
    tags: tuple[str, ...] = ()
    token: SecretStr | None = None
    app_id: str | None = Field(default=None, alias="appId")
    private_key: SecretStr | None = Field(default=None, alias="privateKey")
    installation_id: int | None = Field(default=None, alias="installationId")
    repositories: tuple[RepositoryConfig, ...] = Field(default=(), max_length=_MAX_REPOSITORIES)
    polling: PollingConfig = PollingConfig()
    poll_interval: int | None = Field(default=None, alias="pollInterval", ge=60, le=3600)
    api_url: str | None = Field(default=None, alias="apiUrl")
    events: tuple[str, ...] = DEFAULT_EVENTS
    container_images: bool = Field(default=False, alias="containerImages")
    points_per_minute: int | None = Field(default=None, alias="pointsPerMinute", ge=1, le=5000)
    cursor: Any = Field(default=None, description="cursors kept here by --state backend")

    @model_validator(mode="before")
    @classmethod
    def _upstream_shapes(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = without_unset(data)  # what an untouched form field holds means "not given"
        entries = repository_entries(data)
        data["repositories"] = () if is_unset(entries) else entries
        base_url = data.get("baseUrl")
        if "apiUrl" not in data and isinstance(base_url, str) and parse_flag(data.get("isEnterprise")) is not False:
            data["apiUrl"] = base_url
        return data

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        if isinstance(value, str) and not _TOKEN.match(value.strip() if value.strip() else value):
            raise ValueError(
                "must be printable characters without spaces or line breaks (at most 2048), "
                "e.g. a personal access token starting with ghp_ or github_pat_"
            )
        return value.strip() if isinstance(value, str) else value

    @field_validator("app_id", mode="before")
    @classmethod
    def _app_id(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and not _DIGITS.match(value.strip()):
            raise ValueError("must be the GitHub App's numeric id, e.g. 123456")
        return value.strip() if isinstance(value, str) else value

    @field_validator("installation_id", mode="before")
    @classmethod
    def _installation_id(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not _DIGITS.match(value.strip()):
                raise ValueError("must be a number, e.g. 7654321, or left empty")
            return int(value.strip())
        return value

    @field_validator("private_key", mode="before")
    @classmethod
    def _private_key(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().replace("\\n", "\n")  # keys pasted from environment variables
            if len(text) > _MAX_PEM:
                raise ValueError(
                    f"is too long for a GitHub App key (at most {_MAX_PEM} characters: RSA keys of 2048 to 4096 bits)"
                )
            if not _PEM.search(text):
                raise ValueError(
                    "must be the GitHub App's private key in PEM form "
                    "(the whole .pem file, from -----BEGIN RSA PRIVATE KEY----- to its END line)"
                )
            return pem_with_line_breaks(text)
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 500 or not _API_URL.match(value.strip())):
            raise ValueError(
                "must be an http(s) address without spaces, "
                "e.g. https://ghe.example.com/api/v3 for GitHub Enterprise Server"
            )
        return value.strip() if value is not None else None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return split_tags(value)

    @field_validator("events", mode="before")
    @classmethod
    def _events(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            kinds = [entry.strip().lower() if isinstance(entry, str) else entry for entry in value]
            unknown = [entry for entry in kinds if entry not in EVENT_KINDS]
            if unknown:
                shown = ", ".join(describe_value(entry, 40) for entry in unknown[:3])
                shown += f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
                verb = "is not a kind" if len(unknown) == 1 else "are not kinds"
                raise ValueError(f"{shown} {verb} painchain-gh sends; choose among {', '.join(EVENT_KINDS)}")
            return tuple(dict.fromkeys(kinds))
        return value

    @field_validator("container_images", mode="before")
    @classmethod
    def _container_images(cls, value: Any) -> Any:
        return parse_flag(value)

    @model_validator(mode="after")
    def _pick_credentials(self, info: ValidationInfo) -> IntegrationConfig:
        context = info.context or {}
        if self.poll_interval is not None and self.polling.interval is None:
            object.__setattr__(self, "polling", self.polling.model_copy(update={"interval": self.poll_interval}))
        if self.app_id is not None and self.private_key is None:
            raise ValueError("privateKey: missing; a GitHub App needs both appId and privateKey")
        if self.private_key is not None and self.app_id is None:
            raise ValueError("appId: missing; a GitHub App needs both appId and privateKey")
        owners = {repository.owner.lower() for repository in self.repositories if repository.is_wildcard}
        if len(owners) > MAX_WILDCARD_OWNERS:
            raise ValueError(
                f'repositories: {len(owners)} "owner/*" entries; at most {MAX_WILDCARD_OWNERS} owners are listed '
                "per integration (split it into several integrations)"
            )
        if context.get("app_only") and not self.uses_app:
            raise ValueError(
                "appId and privateKey: missing; a GitHub App integration needs the App's id and private key"
            )
        if not self.uses_app:
            if self.token is None and not context.get("anonymous_allowed"):
                raise ValueError(
                    "token: missing; fill in a GitHub token (for a GitHub App, use the GitHub App connector)"
                )
            if not self.repositories:
                raise ValueError(
                    'repositories: none given; list them, e.g. ["acme/api", "acme/web"] or ["acme/*"] '
                    "(a GitHub App without repositories polls every repository of its installation)"
                )
        return self

    @property
    def uses_app(self) -> bool:
        """Whether this integration authenticates as a GitHub App installation."""
        return self.app_id is not None and self.private_key is not None


class Integration(BaseModel):
    """A GitHub integration row (type ``github`` or ``github-app``) from ``GET /integrations``."""

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
        if not _INTEGRATION_ID.match(value) or value in {".", ".."}:
            raise ValueError("must be 1-200 letters, digits or '_.:-' (not . or ..)")
        return value

    @field_validator("tenant_id")
    @classmethod
    def _plain_tenant(cls, value: str | None) -> str | None:
        if value is not None and (not _TENANT.match(value) or value in {".", ".."}):
            raise ValueError("must be 1-200 printable ASCII characters without '/' (not . or ..)")
        return value

    @property
    def label(self) -> str:
        """How messages name this integration: its id and name."""
        return f"integration {escape(self.id)} ({escape(self.name) or 'unnamed'})"

    def unique_repositories(self) -> list[RepositoryConfig]:
        """Named repositories without duplicates (GitHub names are case-insensitive); tags are merged.

        Wildcard entries (``owner/*``) are not included: see :meth:`wildcard_owners`.
        """
        merged: dict[str, RepositoryConfig] = {}
        for repository in self.config.repositories:
            if repository.is_wildcard:
                continue
            key = repository.full_name.lower()
            if key in merged:
                previous = merged[key]
                tags = tuple(dict.fromkeys(previous.tags + repository.tags))
                merged[key] = previous.model_copy(update={"tags": tags})
            else:
                merged[key] = repository
        return list(merged.values())

    def wildcard_owners(self) -> list[RepositoryConfig]:
        """The ``owner/*`` entries (one per owner, tags merged), whose repositories discovery lists."""
        merged: dict[str, RepositoryConfig] = {}
        for repository in self.config.repositories:
            if repository.is_wildcard:
                key = repository.owner.lower()
                previous = merged.get(key)
                tags = previous.tags + repository.tags if previous else repository.tags
                merged[key] = repository.model_copy(update={"tags": tuple(dict.fromkeys(tags))})
        return list(merged.values())

    def secret_values(self) -> list[str]:
        """The secrets this integration authenticates with (its token, its App key and each line of it)."""
        config = self.config
        values = [config.token.get_secret_value()] if config.token is not None else []
        if config.private_key is not None:
            values += private_key_parts(config.private_key.get_secret_value())
        return values

    @property
    def discovers_installation(self) -> bool:
        """Whether this App integration polls every repository of its installation (no repositories given)."""
        return self.config.uses_app and not self.config.repositories


@dataclass(frozen=True)
class InvalidIntegration:
    """An integration (or some of its repositories) that cannot be polled, and why (no secrets).

    ``skipped`` is False when only some repositories are left out and the others are polled.
    ``lasting`` is False for trouble that may pass by itself (GitHub failing for a while): only a
    lasting problem sets the integration's status to ``"error"``.
    """

    id: str
    name: str
    reason: str
    skipped: bool = True
    lasting: bool = True

    @property
    def label(self) -> str:
        """How messages name this integration."""
        return f"integration {escape(self.id) or '?'} ({escape(self.name) or 'unnamed'})"

    @property
    def message(self) -> str:
        """The whole sentence to log: who, whether it is skipped, and why."""
        return f"{self.label} skipped: {self.reason}" if self.skipped else f"{self.label}: {self.reason}"


@dataclass(frozen=True)
class ListedStatus:
    """An integration's ``status`` and ``config.lastError`` (None: empty) as ``GET /integrations`` listed them."""

    status: str
    last_error: str | None
    name: str = ""


@dataclass(frozen=True)
class IntegrationSelection:
    """The outcome of reading ``GET /integrations``; ``listed`` holds the status of every GitHub
    integration that is polled (valid or not), by id, to tell whether a run changes it."""

    valid: list[Integration]
    invalid: list[InvalidIntegration]
    disabled: int
    listed: dict[str, ListedStatus] = field(default_factory=dict)


# An example of a valid value, by the field's name as people type it (none where the rule says it all).
_EXAMPLES = {
    "config": '{"name": "Platform", "tags": [], "token": "ghp_...", "repositories": ["acme/api"]}',
    "appId": "123456",
    "installationId": "7654321",
    "repositories": '["acme/api", "acme/web"]',
    "tags": '["backend", "team-a"]',
    "polling": '{"enabled": true, "interval": 300}',
    "polling.interval": "300",
    "pollInterval": "300",
    "apiUrl": "https://ghe.example.com/api/v3",
    "events": '["push", "pull_request"]',
    "pointsPerMinute": "300",
    "owner": "acme",
    "repo": "api",
}


# Errors whose words already say what is valid: an example would only repeat the rule.
_RULE_SAYS_IT_ALL = frozenset(
    {"missing", "too_short", "too_long", "string_too_long", "greater_than_equal", "less_than_equal"}
    | {"greater_than", "less_than"}
)


def _plain(kind: str, context: Mapping[str, Any]) -> str | None:
    """A pydantic error type in plain words (None: the validator's own message is plain already)."""
    words = {
        "missing": "is missing",
        "string_type": "must be text",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
        "tuple_type": "must be a list",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "too_short": "must not be empty",
        "too_long": f"has too many entries (at most {context.get('max_length', '?')})",
        "string_too_long": f"is too long (at most {context.get('max_length', '?')} characters)",
        "greater_than_equal": f"must be at least {context.get('ge', '?')}",
        "less_than_equal": f"must be at most {context.get('le', '?')}",
        "greater_than": f"must be more than {context.get('gt', '?')}",
        "less_than": f"must be less than {context.get('lt', '?')}",
    }
    return words.get(kind, None if kind in {"value_error", "assertion_error"} else "is not valid")


def _field_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc]
    if parts[:1] == ["config"] and len(parts) > 1:
        parts = parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each invalid field and what a valid value looks like, in plain words.

    Never echoes an input value (it may be a token or a private key).
    """
    parts: list[str] = []
    for item in error.errors(include_input=False, include_url=False):
        loc = tuple(item["loc"])
        field = _field_name(loc)
        plain = _plain(item["type"], item.get("ctx") or {})
        if plain is None:  # our own ValueError: already a plain sentence naming what is valid
            text = str(item.get("ctx", {}).get("error", item["msg"])).removeprefix("Value error, ")
            if field in {"", "config"}:
                parts.append(text)
            else:
                parts.append(f"{field} {text}" if text.startswith("must") else f"{field}: {text}")
            continue
        example = _EXAMPLES.get(field) or _EXAMPLES.get(str(loc[-1]) if loc else "", "")
        subject = field or "the integration"
        shown = example and item["type"] not in _RULE_SAYS_IT_ALL
        parts.append(f"{subject} {plain}" + (f", e.g. {example}" if shown else ""))
    parts = list(dict.fromkeys(parts))
    more = len(parts) - 5
    return "; ".join(parts[:5]) + (f"; and {more} more" if more > 0 else "")


def _text(value: object) -> str:
    return value[:200] if isinstance(value, str) else ""


def private_key_parts(key: str) -> list[str]:
    """A PEM key as the secrets registry should know it: whole, and each line of key material."""
    lines = [line for line in re.split(r"\\n|\n", key) if line.strip() and "-----" not in line]
    return [key, key.strip(), key.replace("\\n", "\n").strip(), *lines]


def select_integrations(rows: object) -> IntegrationSelection:
    """Keep the GitHub integrations (type ``github`` or ``github-app``) whose status is ``active`` (or
    ``error``, which painchain-gh set and clears once a sync succeeds) and whose polling is enabled;
    validate each one (a ``github-app`` one must hold an App's appId and privateKey)."""
    valid: list[Integration] = []
    invalid: list[InvalidIntegration] = []
    listed: dict[str, ListedStatus] = {}
    disabled = 0
    if not isinstance(rows, list):
        return IntegrationSelection(valid, [InvalidIntegration("", "", "the backend did not return a list")], 0)
    for row in rows:
        if not isinstance(row, Mapping) or row.get("type") not in INTEGRATION_TYPES:
            continue
        status = row.get("status", "active")
        if status not in POLLED_STATUSES or _polling_disabled(row):
            disabled += 1
            continue
        row_id, row_name = _text(row.get("id")), _text(row.get("name"))
        if _INTEGRATION_ID.match(row_id) and row_id not in {".", ".."} and row_id not in listed:  # URL-safe ids
            listed[row_id] = ListedStatus(str(status), _last_error(row), row_name)
        cleaned, repository_problem = _split_repositories(row)
        try:
            integration = Integration.model_validate(cleaned, context={"app_only": row.get("type") == APP_TYPE})
        except ValidationError as error:
            reasons = [] if repository_problem.startswith("all ") else [describe_validation_error(error)]
            invalid.append(InvalidIntegration(row_id, row_name, "; ".join([*reasons, repository_problem]).strip("; ")))
            continue
        if repository_problem.startswith("all "):  # an App would otherwise poll its whole installation
            invalid.append(InvalidIntegration(row_id, row_name, repository_problem))
            continue
        if any(integration.id == kept.id for kept in valid):
            # Polling both entries would send every event twice and race on the same cursors.
            reason = "listed more than once; only its first entry is polled"
            invalid.append(InvalidIntegration(row_id, row_name, reason, lasting=False))  # not the form's to fix
            continue
        if repository_problem:
            invalid.append(InvalidIntegration(row_id, row_name, repository_problem, skipped=False))
        valid.append(integration)
    return IntegrationSelection(valid, invalid, disabled, listed)


def _last_error(row: Mapping[str, Any]) -> str | None:
    config = row.get("config")
    value = config.get(LAST_ERROR_KEY) if isinstance(config, Mapping) else None
    return value if isinstance(value, str) and value.strip() else None


def _describe_entry(entry: Any) -> str:
    if isinstance(entry, Mapping):
        return f'"{escape(entry.get("owner", "?"), 60)}/{escape(entry.get("repo", "?"), 110)}"'
    return describe_value(entry, 120)


def _split_repositories(row: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """Drop invalid repository entries so that one typo does not stop the integration's others.

    Returns the row to validate and, when some entries were dropped, a sentence saying which.
    """
    config = row.get("config")
    if not isinstance(config, Mapping):
        return row, ""
    entries = repository_entries(config)
    if not isinstance(entries, list) or len(entries) > _MAX_REPOSITORIES:
        return row, ""
    kept: list[Any] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            RepositoryConfig.model_validate(entry)
        except ValidationError as error:
            problems.append(f"repositories[{index}] {_describe_entry(entry)}: {_entry_problem(error)}")
        else:
            kept.append(entry)
    rest = {key: value for key, value in config.items() if key != "repos"}
    cleaned = {**row, "config": {**rest, "repositories": kept}}
    if not problems:
        return cleaned, ""
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
    if not kept:
        return cleaned, f"all {len(entries)} repositories are invalid: {shown}"
    return cleaned, f"{len(problems)} of {len(entries)} repositories skipped: {shown}"


def _entry_problem(error: ValidationError) -> str:
    text = describe_validation_error(error)
    if text.startswith("the integration must be an object"):
        return 'write it as "owner/name", e.g. "acme/api", or {"owner": "acme", "repo": "api"}'
    return text


def _polling_disabled(row: Mapping[str, Any]) -> bool:
    config = row.get("config")
    polling = config.get("polling") if isinstance(config, Mapping) else None
    return isinstance(polling, Mapping) and parse_flag(polling.get("enabled")) is False
