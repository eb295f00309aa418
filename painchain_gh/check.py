"""``painchain-gh check``: is everything a sync needs in place? One row per thing to verify.

Checks, in order: the backend answers; each integration's configuration is valid (App
installations and ``owner/*`` entries are listed); for a GitHub App, the App itself (its JWT,
``GET /app``) and its installation (permissions, repository selection); each token (its login
when ``GET /user`` allows it, its scopes or the permissions GitHub asks for, its rate limit);
and each repository, with a row (and a hint) even when its credentials failed. It posts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from painchain_gh.errors import BackendError, GitHubError
from painchain_gh.github.app import InstallationTokenProvider
from painchain_gh.github.client import GitHubClient, TokenBudget, TokenSource
from painchain_gh.github.credentials import RunCredentials
from painchain_gh.jobs import RepoJob
from painchain_gh.models import Integration, IntegrationSelection
from painchain_gh.settings import Settings
from painchain_gh.store.base import StateStore


class CheckTarget(Protocol):
    """What the checks need from a run's wiring (the runner offers it)."""

    @property
    def settings(self) -> Settings:
        """The command's settings."""
        ...

    def integrations(self) -> IntegrationSelection:
        """The integrations to check."""
        ...

    def jobs(self, selection: IntegrationSelection) -> tuple[list[RepoJob], IntegrationSelection]:
        """Their repositories, and the selection with refused integrations added."""
        ...

    def github_client(self, api_url: str, token: TokenSource, budget: TokenBudget, scope: str = "") -> GitHubClient:
        """A GitHub client for one API and token."""
        ...

    @property
    def credentials(self) -> RunCredentials:
        """Tokens and App installations of the integrations."""
        ...

    def discover(
        self, selection: IntegrationSelection, store: StateStore | None
    ) -> tuple[IntegrationSelection, list[str]]:
        """The selection with discovered repositories."""
        ...


@dataclass(frozen=True)
class CheckRow:
    """One verified thing: what, whether it is fine, what was found, and what to do about it."""

    subject: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(runner: CheckTarget) -> list[CheckRow]:
    """Every check, in order; stops early only when the backend cannot be read."""
    rows: list[CheckRow] = []
    try:
        selection = runner.integrations()
    except BackendError as error:
        return [CheckRow("backend", False, str(error), "check BACKEND_API_URL and BACKEND_API_TOKEN")]
    if not runner.settings.repos:
        rows.append(CheckRow("backend", True, f"{runner.settings.backend_url} answers"))
    selection, _ = runner.discover(selection, None)
    jobs, selection = runner.jobs(selection)
    rows += _integration_rows(selection)
    groups: dict[tuple[str, str], list[RepoJob]] = {}
    for job in jobs:
        groups.setdefault((job.integration.id, job.api_url), []).append(job)
    budgets: dict[str, TokenBudget] = {}
    checked: dict[tuple[str, str], CheckRow] = {}
    for (_, api_url), group in groups.items():
        integration = group[0].integration
        try:
            provider = runner.credentials.provider(integration, api_url)
            if provider is not None:
                rows += _app_rows(provider, integration)
            fingerprint, source = runner.credentials.for_integration(integration, api_url)
        except GitHubError as error:
            rows += [
                CheckRow(job.label, False, f"not checked: {error}", "fix the App first (see above)") for job in group
            ]
            continue
        budget = budgets.setdefault(fingerprint, TokenBudget(fingerprint, reserve=0, max_concurrent=1))
        client = runner.github_client(api_url, source, budget)
        token_row = checked.get((api_url, fingerprint))
        if token_row is None:
            token_row = _token_row(integration, client, provider is not None)
            checked[(api_url, fingerprint)] = token_row
            rows.append(token_row)
        rows += [_repository_row(job, client, token_row) for job in group]
    return rows


def _repository_row(job: RepoJob, client: GitHubClient, token_row: CheckRow) -> CheckRow:
    if not token_row.ok:
        return CheckRow(job.label, False, "not checked: the credentials were refused", token_row.fix)
    try:
        probe = client.probe(f"/repos/{job.repository.owner}/{job.repository.repo}")
    except GitHubError as error:
        return CheckRow(job.label, False, str(error), "retry later")
    if probe.ok:
        return CheckRow(job.label, True, "visible with these credentials")
    return CheckRow(
        job.label, False, probe.detail, "check owner/name, and that the token or App installation can see it"
    )


# What a sync reads, by GitHub App permission (Packages only with containerImages).
APP_PERMISSIONS = ("metadata", "contents", "pull_requests", "actions", "deployments")


def _app_rows(provider: InstallationTokenProvider, integration: Integration) -> list[CheckRow]:
    subject = f"{provider.label} of {integration.label}"
    try:
        app = provider.describe_app()
    except GitHubError as error:
        return [CheckRow(subject, False, str(error), "check appId and privateKey (the App's .pem), and the clock")]
    rows = [
        CheckRow(subject, True, f"JWT accepted: {app.name or '?'} ({app.slug or '?'}), owned by {app.owner or '?'}")
    ]
    try:
        installation = provider.describe_installation()
    except GitHubError as error:
        rows.append(CheckRow(f"installation of {subject}", False, str(error), "install the App, or set installationId"))
        return rows
    permissions = ", ".join(f"{name}:{level}" for name, level in sorted(installation.permissions.items())) or "none"
    detail = (
        f"installation {installation.id} installed on {installation.account or '?'} "
        f"({installation.account_type or '?'}); repository selection: {installation.repository_selection or '?'}; "
        f"permissions: {permissions}"
    )
    wanted = APP_PERMISSIONS + (("packages",) if integration.config.container_images else ())
    missing = [name for name in wanted if name not in installation.permissions]
    fixes = []
    if missing:
        fixes.append(f"grant {', '.join(missing)} (read) in the App's settings, then approve them in the installation")
    if installation.suspended:
        fixes.append("the installation is suspended: unsuspend it in the organisation's settings")
    rows.append(CheckRow(f"installation of {subject}", not installation.suspended, detail, "; ".join(fixes)))
    return rows


def _token_row(integration: Integration, client: GitHubClient, is_app: bool) -> CheckRow:
    subject = f"{'installation token' if is_app else 'token'} of {integration.label}"
    if integration.config.token is None and not is_app:
        return CheckRow(subject, True, "anonymous (public repositories only, 60 requests an hour)")
    try:
        probe = client.probe("/user")
    except GitHubError as error:
        return CheckRow(subject, False, str(error), "retry later")
    if not probe.ok and probe.status == 401:
        fix = "check the App's installation" if is_app else "replace the token in the integration"
        return CheckRow(subject, False, probe.detail, fix)
    login = f"valid for {probe.body.get('login', '?')}" if probe.ok else "valid (GET /user is not allowed for it)"
    limit = f"{probe.remaining}/{probe.limit} requests left" if probe.remaining is not None else "rate limit unknown"
    fixes: list[str] = []
    if probe.scopes is not None:
        scopes = {scope.strip() for scope in probe.scopes.split(",") if scope.strip()}
        detail = f"{login}; scopes: {', '.join(sorted(scopes)) or 'none'}; {limit}"
        if "repo" not in scopes:
            fixes.append("add the repo scope for private repositories (and workflow for runs)")
        if integration.config.container_images and not scopes & {"read:packages", "write:packages"}:
            fixes.append("containerImages is on: add the read:packages scope")
    else:
        needs = f"; permissions GitHub asks for: {probe.accepted_permissions}" if probe.accepted_permissions else ""
        kind = "App installation token" if is_app else "fine-grained or app token"
        detail = f"{login} ({kind}){needs}; {limit}"
        if integration.config.container_images and not is_app:
            fixes.append("containerImages is on: give the token Packages read access (or use a classic read:packages)")
    return CheckRow(subject, True, detail, "; ".join(fixes))


def _integration_rows(selection: IntegrationSelection) -> list[CheckRow]:
    rows = [
        CheckRow(item.label, not item.skipped, item.reason, "edit the integration's config")
        for item in selection.invalid
    ]
    rows += [
        CheckRow(integration.label, True, f"{len(integration.unique_repositories())} repositories")
        for integration in selection.valid
    ]
    if selection.disabled:
        rows.append(CheckRow("inactive integrations", True, f"{selection.disabled} not polled (inactive or disabled)"))
    return rows


def render(rows: list[CheckRow]) -> str:
    """A plain-text table: status, subject, what was found, what to fix."""
    width = min(60, max((len(row.subject) for row in rows), default=10))
    lines = [f"{'':4}  {'WHAT':<{width}}  FOUND"]
    for row in rows:
        mark = "ok" if row.ok else "FAIL"
        lines.append(f"{mark:<4}  {row.subject:<{width}}  {row.detail}")
        if row.fix:
            lines.append(f"{'':4}  {'':<{width}}  -> {row.fix}")
    return "\n".join(lines)
