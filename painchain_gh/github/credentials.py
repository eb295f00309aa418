"""What each integration authenticates with in a run: its token, or its GitHub App installation.

Budgets, ETag owners and caches are keyed by a fingerprint that only the holder of the secret
can reproduce: the token's digest, or for an App a digest of its API, App id, private key and
installation (never the public identifiers alone, which anyone can name in a config of their own).
An App's fingerprint does not depend on the minted token's text, so that a token minted again during
a long run keeps its ETags and its budget.
"""

from __future__ import annotations

import threading

from pydantic import SecretStr

from painchain_gh.github.app import AppCredentials, InstallationTokenProvider, TokenProviders
from painchain_gh.github.client import TokenSource, token_fingerprint
from painchain_gh.jobs import RepoJob
from painchain_gh.models import Integration


def app_fingerprint(api_url: str, app_id: str, installation_id: int | str, key_digest: str) -> str:
    """The fingerprint of one App installation on one API, as proven by the App's private key."""
    return token_fingerprint(SecretStr(f"app:{api_url.rstrip('/').lower()}:{app_id}:{installation_id}:{key_digest}"))


def credential_fingerprint(integration: Integration, api_url: str) -> str:
    """A fingerprint of what an integration authenticates with, known without asking GitHub: its
    token's, or its App's (API, App id, key, and installation id or how it will be found).

    Integrations with the same fingerprint hold the same secret; it orders and groups work.
    """
    credentials = AppCredentials.of(integration, api_url)
    if credentials is None:
        return token_fingerprint(integration.config.token)
    where: int | str = credentials.installation_id if credentials.installation_id is not None else "?"
    return app_fingerprint(api_url, credentials.app_id, where, credentials.key_digest)


class RunCredentials:
    """Token sources per integration for one run; one installation-token provider per integration (thread-safe)."""

    def __init__(self, providers: TokenProviders) -> None:
        self._providers = providers
        self._lock = threading.Lock()
        self._by_integration: dict[tuple[str | None, str, str], InstallationTokenProvider] = {}

    def provider(self, integration: Integration, api_url: str) -> InstallationTokenProvider | None:
        """The App installation's token provider of ``integration`` (None when it uses a token).

        Chosen once per integration, so that discovered repositories do not change how its
        installation is found (by its first configured repository, or the App's only installation).
        """
        key = (integration.tenant_id, integration.id, api_url.rstrip("/"))
        with self._lock:
            provider = self._by_integration.get(key)
            if provider is None:
                credentials = AppCredentials.of(integration, api_url)
                if credentials is None:
                    return None
                configured = integration.unique_repositories()
                provider = self._providers.get(credentials, configured[0].full_name if configured else None)
                self._by_integration[key] = provider
            return provider

    def for_integration(self, integration: Integration, api_url: str) -> tuple[str, TokenSource]:
        """(fingerprint, token source) of ``integration`` on ``api_url``.

        For an App this may ask GitHub which installation it is (raises GitHubError subclasses).
        """
        provider = self.provider(integration, api_url)
        if provider is None:
            token = integration.config.token
            return token_fingerprint(token), token
        installation_id = provider.installation_id()
        credentials = provider.credentials
        return app_fingerprint(api_url, credentials.app_id, installation_id, credentials.key_digest), provider.current

    def for_job(self, job: RepoJob) -> tuple[str, TokenSource]:
        """:meth:`for_integration` of a job's integration and API."""
        return self.for_integration(job.integration, job.api_url)
