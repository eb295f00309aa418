"""GitHub App authentication: a JWT signed with the App's private key, exchanged for installation tokens.

An integration may give ``appId`` + ``privateKey`` (and optionally ``installationId``) instead of a
``token``. :class:`InstallationTokenProvider` signs the JWT (RS256, ``iat`` 60 s in the past, ``exp``
9 minutes ahead, ``iss`` the App id), finds the installation when it is not given, mints an installation
token with ``POST {apiUrl}/app/installations/{id}/access_tokens`` (GitHub Enterprise Server too), and
mints again only shortly before it expires. :class:`TokenProviders` shares one provider per tenant,
API, App id, private key (its digest) and installation in a run: public identifiers alone (an App id,
an installation id, a repository name) never reach another tenant's installation. Private keys are
RSA of 2048 to 4096 bits; their size is checked before any expensive validation. PyJWT and
cryptography are imported on first use, so commands that never sign (``--version``) stay fast.

The private key and every minted token are registered with :mod:`painchain_gh.secrets`; no message
built here contains them. References: docs.github.com "Generating a JSON Web Token (JWT) for a GitHub
App" and "Authenticating as a GitHub App installation".
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from painchain_gh import secrets
from painchain_gh.errors import (
    DeadlineReached,
    GitHubAuthError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubRepoError,
    GitHubTemporaryError,
)
from painchain_gh.http import (
    DEFAULT_MAX_BODY_BYTES,
    USER_AGENT,
    BodyTooLarge,
    Deadline,
    InvalidJSON,
    OutOfTime,
    Reply,
    Retry,
    RetryPolicy,
    Unreachable,
    Unsendable,
    exchange,
    header_safe,
    proxies_for,
    size_text,
    with_retries,
)
from painchain_gh.models import Integration, escape, private_key_parts
from painchain_gh.timeutil import parse_time

API_VERSION = "2022-11-28"
JWT_BACKDATE = 60  # seconds: GitHub's advice against clock drift
JWT_LIFETIME = 540  # seconds ahead; GitHub refuses more than 600
REFRESH_MARGIN = 300.0  # mint again when fewer seconds than this are left (for a token valid an hour)
MIN_REFRESH_MARGIN = 30.0  # a short-lived token is reused until a quarter of its life, at least this, is left
DEFAULT_TOKEN_LIFETIME = 3600.0  # "Installation tokens expire one hour from the time you create them"
MAX_TOKEN_LENGTH = 4096
TIMEOUT = (5.0, 20.0)

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class AppCredentials:
    """What an integration gives to authenticate as a GitHub App, and the tenant it belongs to."""

    api_url: str
    app_id: str
    private_key: SecretStr = field(repr=False)
    installation_id: int | None = None
    tenant_id: str | None = None

    @classmethod
    def of(cls, integration: Integration, api_url: str) -> AppCredentials | None:
        """The App credentials of ``integration`` (None if it uses a token), for its resolved ``api_url``."""
        config = integration.config
        if config.app_id is None or config.private_key is None:
            return None
        secrets.register(private_key_parts(config.private_key.get_secret_value()))
        return cls(
            api_url.rstrip("/"), config.app_id, config.private_key, config.installation_id, integration.tenant_id
        )

    @property
    def key_digest(self) -> str:
        """A digest of the private key: what proves the App, in every key that shares its tokens."""
        return hashlib.sha256(self.private_key.get_secret_value().strip().encode()).hexdigest()[:32]


@dataclass(frozen=True)
class InstallationToken:
    """A minted installation token and when it expires (epoch seconds)."""

    token: SecretStr = field(repr=False)
    expires_at: float
    permissions: dict[str, str]
    repository_selection: str | None
    minted_at: float = 0.0

    def refresh_margin(self, longest: float = REFRESH_MARGIN) -> float:
        """How long before expiry to mint again: ``longest`` for a token valid an hour; for a short-lived
        one a quarter of its life (at least :data:`MIN_REFRESH_MARGIN`), never more than half of it, so
        that a token valid a few minutes is reused instead of minted again for every request."""
        lifetime = max(0.0, self.expires_at - self.minted_at)
        return min(longest, max(MIN_REFRESH_MARGIN, lifetime / 4), lifetime / 2)


@dataclass(frozen=True)
class AppInfo:
    """``GET /app``: who the App is and what it may do (plain data for ``check``)."""

    id: int | None
    slug: str
    name: str
    owner: str
    permissions: dict[str, str]
    events: list[str]


@dataclass(frozen=True)
class InstallationInfo:
    """``GET /app/installations/{id}``: where the App is installed and with which permissions."""

    id: int
    account: str
    account_type: str
    repository_selection: str
    permissions: dict[str, str]
    suspended: bool


MIN_KEY_BITS = 2048  # GitHub generates 2048-bit keys for Apps; PyJWT warns below this size
MAX_KEY_BITS = 4096  # validating a larger key takes seconds of CPU (16384 bits: about half a minute)


def load_private_key(private_key: SecretStr) -> Any:
    """The RSA key object of a PEM text; a plain GitHubAuthError (never quoting the key) otherwise.

    The key is parsed without its (costly) mathematical validation first, so that its size is
    known before any expensive work: only RSA keys of 2048 to 4096 bits are validated and used.
    """
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415 - lazy: keeps start-up fast
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: PLC0415

    pem = private_key.get_secret_value().encode()
    unreadable = GitHubAuthError(
        "the GitHub App's privateKey could not be read: paste the whole unencrypted .pem file GitHub "
        "generated for the App (from its BEGIN line to its END line)"
    )
    try:
        unchecked = load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise unreadable from None
    if not isinstance(unchecked, RSAPrivateKey):
        raise GitHubAuthError("the GitHub App's privateKey is not an RSA key; GitHub Apps sign with RSA (RS256)")
    if not MIN_KEY_BITS <= unchecked.key_size <= MAX_KEY_BITS:
        raise GitHubAuthError(
            f"the GitHub App's privateKey is a {unchecked.key_size}-bit RSA key; painchain-gh accepts "
            f"{MIN_KEY_BITS} to {MAX_KEY_BITS} bits (GitHub generates {MIN_KEY_BITS}-bit keys for Apps)"
        )
    try:
        return load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise unreadable from None


def sign_jwt(app_id: str, key: Any, *, now: float) -> str:
    """A JWT for the App: RS256, ``iat`` 60 s in the past, ``exp`` 9 minutes ahead, ``iss`` the App id."""
    import jwt  # noqa: PLC0415 - lazy: keeps start-up fast

    claims = {"iat": int(now) - JWT_BACKDATE, "exp": int(now) + JWT_LIFETIME, "iss": str(app_id)}
    return jwt.encode(claims, key, algorithm="RS256")


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    bearer: str,
    etag: str | None = None,
    attempts: int = 3,
    sleep: Sleep = time.sleep,
    timeout: tuple[float, float] = TIMEOUT,
    deadline: Deadline | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Reply:
    """One GitHub request with a bearer credential through the shared transport (:mod:`painchain_gh.http`):
    never follows a redirect (a token stays on its origin), reads at most ``max_body_bytes`` within the
    ``deadline`` (by default the two timeouts), retried on 5xx and connection errors.

    Returns 2xx and 304 answers; raises GitHubAuthError (401), GitHubRateLimited, GitHubNotFound
    (404/410), GitHubRepoError (other 4xx, redirects) or GitHubTemporaryError. Messages hold the path only.
    """
    headers = {
        "Accept": "application/vnd.github+json",
        "Accept-Encoding": "gzip, deflate",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": USER_AGENT,
        "Authorization": f"Bearer {bearer}",
    }
    if etag and header_safe(etag):
        headers["If-None-Match"] = etag
    where = escape(urlsplit(url).path or "/", 300)
    bound = deadline or Deadline(sum(timeout))
    proxies = proxies_for(url)

    def attempt_once() -> Reply | Retry:
        if bound.expired():
            raise DeadlineReached(f"the run's deadline was reached before {where} could be requested")
        try:
            prepared = requests.Request(method, url, headers=headers).prepare()
            reply = exchange(
                session,
                prepared,
                deadline=bound,
                max_body_bytes=max_body_bytes,
                proxies=proxies,
                read_timeout=timeout[1],
            )
        except (requests.RequestException, ValueError, Unsendable) as error:
            raise GitHubAuthError(f"the request for {where} could not be sent ({type(error).__name__})") from None
        except Unreachable as error:
            return Retry(GitHubTemporaryError(f"GitHub unreachable for {where}: {error}"))
        except BodyTooLarge:
            raise GitHubTemporaryError(
                f"GitHub's answer for {where} is larger than {size_text(max_body_bytes)}"
            ) from None
        except OutOfTime:
            raise DeadlineReached(
                f"the run's deadline was reached while GitHub's answer for {where} was arriving"
            ) from None
        status = reply.status
        if 200 <= status < 300 or status == 304:
            return reply
        said = github_message(reply)
        if status >= 500 or status == 408:
            return Retry(GitHubTemporaryError(f"GitHub answered {status} for {where} {attempts} times{said}"))
        if status == 401:
            raise GitHubAuthError(f"GitHub rejected the credentials (401) for {where}{said}")
        if status in (403, 429) and (reply.headers.get("X-RateLimit-Remaining") == "0" or status == 429):
            raise GitHubRateLimited(f"GitHub rate limit reached for {where}{said}")
        if status in (404, 410):
            raise GitHubNotFound(f"GitHub answered {status} for {where}{said}")
        if 300 <= status < 400:
            raise GitHubRepoError(f"GitHub redirected {where} ({status}); not followed")
        raise GitHubRepoError(f"GitHub answered {status} for {where}{said}")

    return with_retries(attempt_once, policy=RetryPolicy(attempts=attempts), deadline=bound, sleep=sleep)


def github_message(reply: Reply) -> str:
    """``": <GitHub's message>"`` (scrubbed of secrets, escaped, at most 160 characters), or ``""``."""
    try:
        body = reply.json()
    except InvalidJSON:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {secrets.safe_text(message, limit=160)}" if isinstance(message, str) and message else ""


def json_object(reply: Reply, where: str) -> dict[str, Any]:
    """The answer's JSON object; GitHubTemporaryError when the body is anything else."""
    try:
        body = reply.json()
    except InvalidJSON:
        body = None
    if not isinstance(body, dict):
        raise GitHubTemporaryError(f"GitHub answered {where} with an unexpected body")
    return body


def json_list(reply: Reply, where: str) -> list[Any]:
    """The answer's JSON list; GitHubTemporaryError when the body is anything else."""
    try:
        body = reply.json()
    except InvalidJSON:
        body = None
    if not isinstance(body, list):
        raise GitHubTemporaryError(f"GitHub answered {where} with an unexpected body")
    return body


def _text(body: Mapping[str, Any], key: str, limit: int = 200) -> str:
    value = body.get(key)
    return escape(value, limit) if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _permissions(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    items = [(k, v) for k, v in value.items() if isinstance(k, str) and isinstance(v, str)]
    return {escape(k, 60): escape(v, 20) for k, v in items[:100]}


def _login(body: Mapping[str, Any], key: str) -> tuple[str, str]:
    account = body.get(key)
    if not isinstance(account, Mapping):
        return "", ""
    return _text(account, "login", 100), _text(account, "type", 40)


def _valid_token(value: object) -> str | None:
    """The token if it is plausible: printable ASCII without spaces, bounded (its format is not assumed)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TOKEN_LENGTH:
        return None
    return value if all(0x21 <= ord(ch) <= 0x7E for ch in value) else None


class InstallationTokenProvider:
    """Installation tokens of one App installation, minted once and again only near expiry (thread-safe)."""

    def __init__(
        self,
        credentials: AppCredentials,
        *,
        session: requests.Session,
        first_repository: str | None = None,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        timeout: tuple[float, float] = TIMEOUT,
        refresh_margin: float = REFRESH_MARGIN,
        deadline: Deadline | None = None,
    ) -> None:
        self.credentials = credentials
        self.mints = 0
        self._session = session
        self._first_repository = first_repository
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self._margin = refresh_margin
        self._deadline = deadline
        self._lock = threading.Lock()
        self._key: Any = None
        self._jwt: tuple[str, float] | None = None
        self._installation_id = credentials.installation_id
        self._token: InstallationToken | None = None
        secrets.register(private_key_parts(credentials.private_key.get_secret_value()))

    @property
    def label(self) -> str:
        """How messages name this App (its id and API host; never a secret)."""
        host = urlsplit(self.credentials.api_url).netloc
        return f"GitHub App {self.credentials.app_id} on {host}"

    def current(self) -> SecretStr:
        """A valid installation token: the one minted before, or a new one when it is about to expire."""
        with self._lock:
            token = self._token
            if token is None or token.expires_at - self._clock() < token.refresh_margin(self._margin):
                token = self._token = self._mint()
            return token.token

    def installation(self) -> InstallationToken:
        """The current token with its permissions and expiry (minting if needed)."""
        self.current()
        with self._lock:
            assert self._token is not None
            return self._token

    def installation_id(self) -> int:
        """The installation's id: configured, or found from the first repository or the App's only installation."""
        with self._lock:
            return self._resolve_installation()

    def app_jwt(self) -> str:
        """A JWT for the App (reused while it has more than a minute left)."""
        with self._lock:
            return self._signed()

    def describe_app(self) -> AppInfo:
        """``GET /app`` with the JWT, as plain data."""
        body = self._get_json("/app", "describing the App")
        owner, _ = _login(body, "owner")
        events = body.get("events")
        return AppInfo(
            id=_int(body.get("id")),
            slug=_text(body, "slug", 100),
            name=_text(body, "name"),
            owner=owner,
            permissions=_permissions(body.get("permissions")),
            events=[escape(e, 60) for e in events[:100] if isinstance(e, str)] if isinstance(events, list) else [],
        )

    def describe_installation(self) -> InstallationInfo:
        """``GET /app/installations/{id}`` with the JWT: account, repository selection, permissions."""
        installation_id = self.installation_id()
        body = self._get_json(f"/app/installations/{installation_id}", f"reading installation {installation_id}")
        account, account_type = _login(body, "account")
        return InstallationInfo(
            id=installation_id,
            account=account,
            account_type=account_type,
            repository_selection=_text(body, "repository_selection", 20),
            permissions=_permissions(body.get("permissions")),
            suspended=body.get("suspended_at") is not None,
        )

    # -- internals (called with the lock held) -------------------------------------------------

    def _signed(self) -> str:
        now = self._clock()
        if self._jwt is not None and self._jwt[1] - now > 60:
            return self._jwt[0]
        if self._key is None:
            self._key = load_private_key(self.credentials.private_key)
        signed = sign_jwt(self.credentials.app_id, self._key, now=now)
        secrets.register([signed])
        self._jwt = (signed, now + JWT_LIFETIME)
        return signed

    def _call(self, method: str, path: str, doing: str) -> Reply:
        url = f"{self.credentials.api_url}{path}"
        try:
            return request(
                self._session,
                method,
                url,
                bearer=self._signed(),
                sleep=self._sleep,
                timeout=self._timeout,
                deadline=self._deadline,
            )
        except GitHubAuthError as error:
            raise GitHubAuthError(
                f"{self.label}: GitHub refused the App's signed token while {doing} ({error}); "
                "check appId and privateKey, and that the machine's clock is right"
            ) from None
        except GitHubNotFound as error:
            raise GitHubAuthError(f"{self.label}: not found while {doing} ({error})") from None
        except (GitHubRateLimited, GitHubTemporaryError):
            raise
        except GitHubRepoError as error:
            raise GitHubAuthError(f"{self.label}: refused while {doing} ({error})") from None

    def _get_json(self, path: str, doing: str) -> dict[str, Any]:
        with self._lock:
            response = self._call("GET", path, doing)
        return json_object(response, path)

    def _resolve_installation(self) -> int:
        if self._installation_id is not None:
            return self._installation_id
        if self._first_repository:
            doing = f"finding its installation on {escape(self._first_repository, 140)}"
            response = self._call("GET", f"/repos/{self._first_repository}/installation", doing)
            found = _int(json_object(response, "/repos/.../installation").get("id"))
            if found is None:
                raise GitHubTemporaryError(f"{self.label}: GitHub's installation answer has no id")
            self._installation_id = found
            return found
        response = self._call("GET", "/app/installations?per_page=100", "listing its installations")
        body = json_list(response, "/app/installations")
        ids = [_int(item.get("id")) for item in body[:100] if isinstance(item, Mapping)]
        known = [i for i in ids if i is not None]
        if len(known) != 1:
            where = (
                "no installation" if not known else f"{len(known)} installations ({', '.join(map(str, known[:10]))})"
            )
            raise GitHubAuthError(
                f"{self.label} has {where}; set installationId, or list repositories so that it can be found"
            )
        self._installation_id = known[0]
        return known[0]

    def _mint(self) -> InstallationToken:
        installation_id = self._resolve_installation()
        path = f"/app/installations/{installation_id}/access_tokens"
        response = self._call("POST", path, f"creating a token for installation {installation_id}")
        body = json_object(response, path)
        value = _valid_token(body.get("token"))
        if value is None:
            raise GitHubTemporaryError(f"{self.label}: GitHub's answer to {path} has no usable token")
        secrets.register([value])
        now = self._clock()
        expires = parse_time(body.get("expires_at"))
        # An expiry in the past or absurdly far ahead is not trusted: assume GitHub's documented hour.
        expires_at = (
            float(expires) if expires is not None and now < expires <= now + 86400 else now + DEFAULT_TOKEN_LIFETIME
        )
        self.mints += 1
        return InstallationToken(
            token=SecretStr(value),
            expires_at=expires_at,
            permissions=_permissions(body.get("permissions")),
            repository_selection=_text(body, "repository_selection", 20) or None,
            minted_at=now,
        )


ProviderKey = tuple[str, str, str, str, str]


class TokenProviders:
    """One :class:`InstallationTokenProvider` per tenant, API, App id, private key and installation
    for a run (thread-safe).

    Without an installationId the first repository (or none) stands in for the installation in the
    key. The key's digest is part of it, so an integration naming another tenant's App id and
    installation (both public) with any other key gets a provider of its own, which fails on its own.
    """

    def __init__(
        self,
        *,
        session: requests.Session,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        timeout: tuple[float, float] = TIMEOUT,
        deadline: Deadline | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self._deadline = deadline
        self._lock = threading.Lock()
        self._providers: dict[ProviderKey, InstallationTokenProvider] = {}

    @staticmethod
    def key(credentials: AppCredentials, first_repository: str | None = None) -> ProviderKey:
        """The sharing key: tenant, API base, App id, key digest, and the installation (or how it will be found)."""
        where = (
            str(credentials.installation_id)
            if credentials.installation_id is not None
            else f"repo:{(first_repository or '').lower()}"
        )
        return (
            credentials.tenant_id or "",
            credentials.api_url.rstrip("/").lower(),
            credentials.app_id,
            credentials.key_digest,
            where,
        )

    def get(self, credentials: AppCredentials, first_repository: str | None = None) -> InstallationTokenProvider:
        """The provider for these credentials, created on first use."""
        key = self.key(credentials, first_repository)
        with self._lock:
            provider = self._providers.get(key)
            if provider is None:
                provider = InstallationTokenProvider(
                    credentials,
                    session=self._session,
                    first_repository=first_repository,
                    clock=self._clock,
                    sleep=self._sleep,
                    timeout=self._timeout,
                    deadline=self._deadline,
                )
                self._providers[key] = provider
            return provider
