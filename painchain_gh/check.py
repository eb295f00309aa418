"""``painchain-gh check``: is everything a sync needs in place? One row per thing to verify.

Checks, in order: the backend answers; each integration's configuration is valid; each
token is accepted (with its scopes and rate limit left); each repository is visible with
its token. It spends one GitHub request per token and one per repository, and posts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from painchain_gh.errors import BackendError, GitHubError
from painchain_gh.github import GitHubClient, Probe, TokenBudget, token_fingerprint
from painchain_gh.jobs import RepoJob
from painchain_gh.models import IntegrationSelection
from painchain_gh.settings import Settings


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

    def github_client(self, api_url: str, token: SecretStr | None, budget: TokenBudget) -> GitHubClient:
        """A GitHub client for one API and token."""
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
    jobs, selection = runner.jobs(selection)
    rows += _integration_rows(selection)
    budgets: dict[str, TokenBudget] = {}
    checked_tokens: dict[tuple[str, str], bool] = {}
    for job in jobs:
        token = job.integration.config.token
        fingerprint = token_fingerprint(token)
        budget = budgets.setdefault(fingerprint, TokenBudget(fingerprint, reserve=0, max_concurrent=1))
        client = runner.github_client(job.api_url, token, budget)
        token_key = (job.api_url, fingerprint)
        try:
            if token_key not in checked_tokens:
                row = _token_row(job.integration.label, client.probe("/user") if token else None)
                checked_tokens[token_key] = row.ok
                rows.append(row)
            if not checked_tokens[token_key]:
                continue
            probe = client.probe(f"/repos/{job.repository.owner}/{job.repository.repo}")
        except GitHubError as error:
            rows.append(CheckRow(job.label, False, str(error), "retry later"))
            continue
        rows.append(
            CheckRow(job.label, True, "visible with this token")
            if probe.ok
            else CheckRow(job.label, False, probe.detail, "check owner/name, and that the token can see it")
        )
    return rows


def _integration_rows(selection: IntegrationSelection) -> list[CheckRow]:
    rows = [CheckRow(item.label, False, item.reason, "edit the integration's config") for item in selection.invalid]
    rows += [
        CheckRow(integration.label, True, f"{len(integration.unique_repositories())} repositories")
        for integration in selection.valid
    ]
    if selection.disabled:
        rows.append(CheckRow("inactive integrations", True, f"{selection.disabled} not polled (inactive or disabled)"))
    return rows


def _token_row(label: str, probe: Probe | None) -> CheckRow:
    subject = f"token of {label}"
    if probe is None:
        return CheckRow(subject, True, "anonymous (public repositories only, 60 requests an hour)")
    if not probe.ok:
        return CheckRow(subject, False, probe.detail, "replace the token in the integration")
    login = probe.body.get("login", "?")
    limit = f"{probe.remaining}/{probe.limit} requests left" if probe.remaining is not None else "rate limit unknown"
    if probe.scopes is None:
        return CheckRow(subject, True, f"valid for {login} (fine-grained or app token); {limit}")
    scopes = {scope.strip() for scope in probe.scopes.split(",") if scope.strip()}
    detail = f"valid for {login}; scopes: {', '.join(sorted(scopes)) or 'none'}; {limit}"
    if "repo" not in scopes:
        return CheckRow(subject, True, detail, "add the repo scope for private repositories (and workflow for runs)")
    return CheckRow(subject, True, detail)


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
