"""GitHub App endpoints for :class:`~tests.fakes.github.FakeGitHub`.

The fake verifies each JWT's RS256 signature against the public key a test registers with
:meth:`FakeApps.add_app`, checks ``iat``/``exp``/``iss`` as GitHub does, and mints installation
tokens that expire (``token_lifetime``); a minted token is a token of the fake GitHub until it
expires, so it reaches the normal endpoints. Repositories listed with :meth:`FakeApps.add_listed_repo`
(archived and disabled flags) are served by ``/installation/repositories``, ``/orgs/{o}/repos`` and
``/users/{u}/repos`` with ETags and Link pagination (from the fake GitHub). Requests signed with an
App's JWT (the token mint included, a POST: 5 points) count against that App's secondary limits
(:meth:`FakeApps.caller`); requests with a minted token count against its installation.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt

from ._server import RecordedRequest, Response, json_response
from .limits import app_identity

if TYPE_CHECKING:
    from .github import FakeGitHub, TokenSpec

JSON = dict[str, Any]
MAX_JWT_LIFETIME = 600  # GitHub refuses an exp more than ten minutes ahead
DEFAULT_PERMISSIONS = {"metadata": "read", "actions": "read", "contents": "read", "pull_requests": "read"}

_INSTALLATION_OF_REPO = re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/installation")
_INSTALLATION = re.compile(r"/app/installations/(?P<id>\d+)")
_ACCESS_TOKENS = re.compile(r"/app/installations/(?P<id>\d+)/access_tokens")
_OWNER_REPOS = re.compile(r"/(?P<kind>orgs|users)/(?P<owner>[^/]+)/repos")


@dataclass
class FakeApp:
    """A registered GitHub App and the public key its JWTs must verify with."""

    app_id: int
    public_key: Any
    slug: str = "painchain-test"
    name: str = "PainChain test"
    owner: str = "acme"
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))


@dataclass
class FakeInstallation:
    """An installation of an App on one account; ``repositories`` None means all of the account's."""

    id: int
    app_id: int
    account: str
    account_type: str = "Organization"
    repositories: list[str] | None = None
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    token_lifetime: float = 3600.0
    suspended: bool = False


@dataclass
class ListedRepo:
    """A repository as the list endpoints show it."""

    owner: str
    name: str
    archived: bool = False
    disabled: bool = False
    private: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class MintedToken:
    """An installation token the fake issued."""

    token: str
    installation: FakeInstallation
    expires_at: float


class FakeApps:
    """The App side of a fake GitHub: JWT checks, installations, minted tokens and repository lists."""

    def __init__(self, github: FakeGitHub) -> None:
        self.github = github
        self.apps: dict[int, FakeApp] = {}
        self.installations: dict[int, FakeInstallation] = {}
        self.listed: dict[str, list[ListedRepo]] = {}
        self.owner_types: dict[str, str] = {}
        self.minted: dict[str, MintedToken] = {}
        self.jwt_rejections: list[str] = []
        self.token_factory: Callable[[], str] = lambda: "ghs_" + secrets.token_hex(18)
        self._next_installation = 7_000_000

    # -- test API ------------------------------------------------------------------------------

    def add_app(self, app_id: int, public_key: Any, **fields: Any) -> FakeApp:
        """Register an App whose JWTs verify with ``public_key`` (an RSA public key object)."""
        with self.github._lock:
            app = self.apps[app_id] = FakeApp(app_id, public_key, **fields)
            return app

    def add_installation(self, app_id: int, account: str, **fields: Any) -> FakeInstallation:
        """Install App ``app_id`` on ``account`` (see :class:`FakeInstallation` for the fields)."""
        with self.github._lock:
            installation_id = fields.pop("id", None) or self._next_installation
            self._next_installation += 1
            installation = FakeInstallation(installation_id, app_id, account, **fields)
            self.installations[installation_id] = installation
            return installation

    def add_listed_repo(
        self,
        owner: str,
        name: str,
        *,
        archived: bool = False,
        disabled: bool = False,
        private: bool = False,
        owner_type: str = "Organization",
    ) -> ListedRepo:
        """A repository the list endpoints show (also created in the fake GitHub, so it can be polled)."""
        with self.github._lock:
            self.github.add_repo(owner, name, private=private)
            self.owner_types[owner.lower()] = owner_type
            listed = ListedRepo(owner, name, archived, disabled, private)
            entries = self.listed.setdefault(owner.lower(), [])
            entries[:] = [entry for entry in entries if entry.name.lower() != name.lower()] + [listed]
            return listed

    def remove_listed_repo(self, owner: str, name: str) -> None:
        """Make a repository disappear from the list endpoints."""
        with self.github._lock:
            entries = self.listed.get(owner.lower(), [])
            entries[:] = [entry for entry in entries if entry.name.lower() != name.lower()]

    def mint_count(self, installation_id: int) -> int:
        """How many tokens were minted for an installation."""
        with self.github._lock:
            return sum(1 for minted in self.minted.values() if minted.installation.id == installation_id)

    # -- hooks called by FakeGitHub (under its lock) -----------------------------------------

    def caller(self, path: str, credential: str) -> str | None:
        """The secondary-limit identity of a request to a JWT-authenticated App endpoint (the App
        named by the JWT's ``iss``, read without verifying it); None for every other path."""
        if not self._is_app_path(path):
            return None
        try:
            issuer = jwt.decode(credential, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            issuer = None
        return app_identity(issuer if isinstance(issuer, str) and issuer.isdigit() else "unknown")

    @staticmethod
    def _is_app_path(path: str) -> bool:
        return path == "/app" or path.startswith("/app/") or _INSTALLATION_OF_REPO.fullmatch(path) is not None

    def handle(self, req: RecordedRequest, path: str) -> Response | None:
        """Answer the JWT-authenticated App endpoints; None for every other path.

        Also forgets expired installation tokens, so that they answer 401 like GitHub's.
        """
        now = self.github.clock()
        for token, minted in list(self.minted.items()):
            if minted.expires_at <= now:
                self.github.tokens.pop(token, None)
        if not self._is_app_path(path):
            return None
        app = self._verify_jwt(req.headers.get("authorization", ""), now)
        if isinstance(app, Response):
            return app
        if req.method == "POST" and (m := _ACCESS_TOKENS.fullmatch(path)):
            return self._mint(app, int(m["id"]), now)
        if req.method != "GET":
            return _message(404, "Not Found")
        if path == "/app":
            body = {"id": app.app_id, "slug": app.slug, "name": app.name, "owner": {"login": app.owner}}
            return json_response(200, {**body, "permissions": app.permissions, "events": ["push"]})
        if path == "/app/installations":
            mine = [self._installation_json(i) for i in self.installations.values() if i.app_id == app.app_id]
            return self.github._paginate(req, mine)
        if m := _INSTALLATION.fullmatch(path):
            installation = self.installations.get(int(m["id"]))
            if installation is None or installation.app_id != app.app_id:
                return _message(404, "Not Found")
            return json_response(200, self._installation_json(installation))
        if m := _INSTALLATION_OF_REPO.fullmatch(path):
            for installation in self.installations.values():
                if installation.app_id == app.app_id and self._covers(installation, m["owner"], m["repo"]):
                    return json_response(200, self._installation_json(installation))
        return _message(404, "Not Found")

    def list_repos(self, req: RecordedRequest, path: str, spec: TokenSpec) -> Response | None:
        """Answer the repository lists (authenticated with a token); None for every other path."""
        if path == "/installation/repositories":
            token = req.headers.get("authorization", "").partition(" ")[2].strip()
            minted = self.minted.get(token)
            if minted is None:
                return _message(403, "You must authenticate with an installation access token.")
            repos = [self._repo_json(r) for r in self._installation_repos(minted.installation)]
            return self.github._paginate(req, repos, wrap="repositories")
        m = _OWNER_REPOS.fullmatch(path)
        if m is None:
            return None
        owner = m["owner"].lower()
        is_org = self.owner_types.get(owner) == "Organization"
        if owner not in self.owner_types or (m["kind"] == "orgs") != is_org:
            return _message(404, "Not Found")
        sees_private = m["kind"] == "orgs"  # /users/{u}/repos lists public repositories only
        visible = [
            r
            for r in self.listed.get(owner, [])
            if not r.private or (sees_private and (spec.repos is None or r.full_name.lower() in spec.repos))
        ]
        return self.github._paginate(req, [self._repo_json(r) for r in visible])

    # -- internals ---------------------------------------------------------------------------

    def _verify_jwt(self, authorization: str, now: float) -> FakeApp | Response:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self._reject("A JSON web token could not be decoded")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return self._reject("A JSON web token could not be decoded")
        iss, iat, exp = unverified.get("iss"), unverified.get("iat"), unverified.get("exp")
        if not isinstance(iss, str) or not iss.isdigit() or int(iss) not in self.apps:
            return self._reject("'Issuer' claim ('iss') must be a string with the App's id")
        app = self.apps[int(iss)]
        try:
            jwt.decode(token, app.public_key, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            return self._reject("A JSON web token could not be decoded")
        if not isinstance(iat, int) or iat > now + 60:
            return self._reject("'Issued at' claim ('iat') must be an Integer representing a time in the past")
        if not isinstance(exp, int) or exp <= now or exp - now > MAX_JWT_LIFETIME:
            return self._reject("'Expiration time' claim ('exp') must be at most ten minutes in the future")
        return app

    def _reject(self, message: str) -> Response:
        self.jwt_rejections.append(message)
        return _message(401, message)

    def _mint(self, app: FakeApp, installation_id: int, now: float) -> Response:
        installation = self.installations.get(installation_id)
        if installation is None or installation.app_id != app.app_id:
            return _message(404, "Not Found")
        if installation.suspended:
            return _message(403, "This installation has been suspended")
        token = self.token_factory()
        names = {r.full_name for r in self._installation_repos(installation)}
        self.github.add_token(token, repos=names)  # "repo": private repositories of the installation
        minted = self.minted[token] = MintedToken(token, installation, now + installation.token_lifetime)
        body = {
            "token": token,
            "expires_at": _iso(minted.expires_at),
            "permissions": installation.permissions,
            "repository_selection": "all" if installation.repositories is None else "selected",
        }
        return json_response(201, body)

    def _covers(self, installation: FakeInstallation, owner: str, repo: str) -> bool:
        if installation.account.lower() != owner.lower():
            return False
        wanted = f"{owner}/{repo}".lower()
        return any(r.full_name.lower() == wanted for r in self._installation_repos(installation))

    def _installation_repos(self, installation: FakeInstallation) -> list[ListedRepo]:
        account = self.listed.get(installation.account.lower(), [])
        if installation.repositories is None:
            return list(account)
        chosen = {name.lower() for name in installation.repositories}
        return [r for r in account if r.full_name.lower() in chosen]

    def _installation_json(self, installation: FakeInstallation) -> JSON:
        return {
            "id": installation.id,
            "app_id": installation.app_id,
            "account": {"login": installation.account, "type": installation.account_type},
            "repository_selection": "all" if installation.repositories is None else "selected",
            "permissions": installation.permissions,
            "suspended_at": "2026-01-01T00:00:00Z" if installation.suspended else None,
        }

    def _repo_json(self, repo: ListedRepo) -> JSON:
        data = self.github.repo(repo.owner, repo.name)
        return {
            "id": data.id,
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": {"login": repo.owner, "type": self.owner_types.get(repo.owner.lower(), "User")},
            "private": repo.private,
            "archived": repo.archived,
            "disabled": repo.disabled,
            "html_url": f"https://github.com/{repo.full_name}",
        }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _message(status: int, message: str) -> Response:
    return json_response(status, {"message": message, "documentation_url": "https://docs.github.com/rest/apps"})
