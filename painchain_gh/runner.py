"""Wires one command run together: settings → clients → integrations → jobs → store → sync.

The composition root below the CLI: nothing but the CLI imports it. This is the only place
that creates network sessions and state stores; the CLI hands it validated :class:`Settings`
and turns its result (or its exception) into output and an exit code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import requests
from pydantic import SecretStr, ValidationError

from painchain_gh import secrets
from painchain_gh.backend import BackendClient
from painchain_gh.discovery.listing import Discoverer
from painchain_gh.discovery.tasks import (
    DISCOVERY_SHARE,
    DiscoveryPlan,
    discover_integrations,
    discovers,
    with_known_repositories,
)
from painchain_gh.errors import BackendError, StateError, UsageError
from painchain_gh.forward import BackendSink, PrintSink, Sink
from painchain_gh.github.app import TokenProviders
from painchain_gh.github.client import GitHubClient, TokenBudget, TokenSource
from painchain_gh.github.credentials import RunCredentials
from painchain_gh.http import Deadline, RetryPolicy, new_session
from painchain_gh.integration_status import StatusChange, decide_statuses, write_status
from painchain_gh.jobs import RepoJob, build_jobs, integration_api_url
from painchain_gh.models import (
    Integration,
    IntegrationSelection,
    InvalidIntegration,
    ListedStatus,
    RepositoryConfig,
    describe_validation_error,
    escape,
    select_integrations,
)
from painchain_gh.registration import Registration, register_all
from painchain_gh.results import UNFINISHED, RepoResult, RepoStatus, SyncReport
from painchain_gh.settings import Settings
from painchain_gh.store.backend_store import BackendStore
from painchain_gh.store.base import ReadOnlyStore, StateStore
from painchain_gh.store.deadletter import DeadLetterFile
from painchain_gh.store.file_store import FileStore
from painchain_gh.streams.poll import PollSettings
from painchain_gh.sync import Pace, run_sync
from painchain_gh.threads import SidePool
from painchain_gh.timeutil import format_time

log = logging.getLogger("painchain_gh")

ADHOC_INTEGRATION_ID = "adhoc"
FINISH_CONCURRENCY = 8  # integrations whose cursor and lastSync are written to the backend at once
DISCOVERY_WORKERS = 4  # listings read at once; their requests share the pace and slots of polling
ADHOC_NEEDS_INTEGRATION = (
    "--repo without --dry-run needs --integration ID: the backend integration whose tenant and "
    "credentials the events belong to (GITHUB_TOKEN, when set, replaces its credentials); "
    "or add --dry-run to print the events without posting them"
)


def _repo_flags(repos: tuple[str, ...]) -> list[dict[str, str]]:
    repositories = []
    for text in repos:
        owner, slash, name = text.partition("/")
        if not slash or "/" in name:
            raise UsageError(f"--repo must be OWNER/NAME, not {text!r}")
        repositories.append({"owner": owner, "repo": name})
    return repositories


def adhoc_integration(repos: tuple[str, ...], token: SecretStr | None) -> Integration:
    """An integration built from ``--repo OWNER/NAME`` flags, for debugging without a backend."""
    repositories = _repo_flags(repos)
    config = {"token": token.get_secret_value() if token else None, "repositories": repositories}
    try:
        return Integration.model_validate(
            {"id": ADHOC_INTEGRATION_ID, "type": "github", "name": "command line", "config": config},
            context={"anonymous_allowed": True},  # public repositories need no token
        )
    except ValidationError as error:
        raise UsageError(f"--repo: {describe_validation_error(error)}") from None


def adhoc_from_row(row: object, integration_id: str, repos: tuple[str, ...], token: SecretStr | None) -> Integration:
    """The backend integration ``row`` polling only the ``--repo`` repositories; with ``token``
    (GITHUB_TOKEN) instead of its own credentials when given. Raises UsageError when it cannot be used."""
    where = f"--integration {escape(integration_id, 200)}"
    if not isinstance(row, dict):
        raise UsageError(f"{where}: the backend has no such integration")
    selection = select_integrations([row])
    if selection.invalid and selection.invalid[0].skipped:
        raise UsageError(f"{where}: {selection.invalid[0].reason}")
    if not selection.valid:
        raise UsageError(f"{where}: not an active GitHub integration with polling enabled")
    integration = selection.valid[0]
    try:
        flagged = tuple(RepositoryConfig.model_validate(entry) for entry in _repo_flags(repos))
    except ValidationError as error:
        raise UsageError(f"--repo: {describe_validation_error(error)}") from None
    update: dict[str, object] = {"repositories": flagged}
    if token is not None:
        update.update(token=token, app_id=None, private_key=None, installation_id=None)
    return integration.model_copy(update={"config": integration.config.model_copy(update=update)})


class Runner:
    """One command's clients and state, created from :class:`Settings`."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] | None = None) -> None:
        self.settings = settings
        self.deadline = Deadline(settings.max_runtime)
        self.session: requests.Session = new_session(pool_size=settings.concurrency * 2)
        # The process's cap on GitHub requests in flight (--concurrency), whatever thread sends them.
        self.slots = threading.BoundedSemaphore(settings.concurrency)
        self.policy = RetryPolicy(base_delay=settings.retry_base_delay)
        self.sleep = sleep or self.deadline.sleep  # waits that SIGTERM (deadline.expire) ends at once
        self.providers = TokenProviders(session=self.session, sleep=self.sleep, deadline=self.deadline)
        self.credentials = RunCredentials(self.providers)
        self.backend = BackendClient(
            session=self.session,
            base_url=settings.backend_url,
            token=settings.backend_token,
            deadline=self.deadline,
            policy=self.policy,
            sleep=self.sleep,
            max_body_bytes=settings.max_response_bytes,
        )

    def github_client(self, api_url: str, token: TokenSource, budget: TokenBudget, scope: str = "") -> GitHubClient:
        """A GitHub client sharing this run's session, deadline and retry policy."""
        return GitHubClient(
            session=self.session,
            api_url=api_url,
            token=token,
            budget=budget,
            deadline=self.deadline,
            policy=self.policy,
            sleep=self.sleep,
            max_body_bytes=self.settings.max_response_bytes,
            cache_scope=scope,
            slots=self.slots,
        )

    def integrations(self) -> IntegrationSelection:
        """The ad-hoc integration, or the backend's valid active GitHub integrations."""
        settings = self.settings
        if settings.repos and settings.integration_id is not None:
            row = self.backend.get_integration(settings.integration_id)
            integration = adhoc_from_row(row, settings.integration_id, settings.repos, settings.github_token)
            secrets.register(integration.secret_values())
            return IntegrationSelection([integration], [], 0)
        if settings.repos:
            return IntegrationSelection([adhoc_integration(settings.repos, settings.github_token)], [], 0)
        selection = select_integrations(self.backend.list_integrations())
        if settings.integration_id is not None:
            selection = only_integration(selection, settings.integration_id)
        for integration in selection.valid:  # only the rows this run uses: a tenant's text is no pattern for others
            secrets.register(integration.secret_values())
        return selection

    def jobs(self, selection: IntegrationSelection) -> tuple[list[RepoJob], IntegrationSelection]:
        """Jobs of this shard, and the selection with integrations refused for their apiUrl added."""
        jobs, refused = build_jobs(
            selection.valid,
            default_api_url=self.settings.github_api_url,
            allowed_hosts=self.settings.allowed_hosts,
            default_interval=self.settings.polling_interval,
            shard=self.settings.shard,
        )
        return jobs, IntegrationSelection(selection.valid, selection.invalid + refused, selection.disabled)

    def api_url_for(self, integration: Integration) -> str | None:
        """The API base an integration uses, or None when its apiUrl's origin is not allowed."""
        api_url, refused = integration_api_url(
            integration, default_api_url=self.settings.github_api_url, allowed=self.settings.allowed_hosts
        )
        return None if refused else api_url

    def discover(
        self, selection: IntegrationSelection, store: StateStore | None
    ) -> tuple[IntegrationSelection, list[str]]:
        """The selection with discovered repositories added (App installations, ``owner/*``), those whose
        discovery failed moved to ``invalid``; and the ids of the integrations that discovered."""
        outcome = discover_integrations(
            selection.valid,
            discoverer=Discoverer(session=self.session, sleep=self.sleep, deadline=self.deadline),
            api_url_for=self.api_url_for,
            token_for=lambda integration, api_url: self.credentials.for_integration(integration, api_url)[1],
            store=store,
            now=time.time(),
            write=self.settings.state_kind != "backend"
            or self.settings.shard is None
            or self.settings.shard.index == 0,
        )
        failed = {item.id for item in outcome.invalid if item.skipped}
        valid = [integration for integration in outcome.integrations if integration.id not in failed]
        return IntegrationSelection(valid, selection.invalid + outcome.invalid, selection.disabled), outcome.discovered

    @contextmanager
    def state_store(self, integrations: list[Integration]) -> Iterator[StateStore]:
        """The configured store, locked and loaded; read-only in a dry run."""
        if self.settings.state_kind == "backend":
            backend_store = BackendStore(self.backend, integrations, max_body=self.settings.backend_max_body_bytes)
            yield ReadOnlyStore(backend_store) if self.settings.dry_run else backend_store
            return
        if self.settings.dry_run:
            yield ReadOnlyStore(FileStore(self.settings.state_file).load_readonly())
            return
        store = FileStore(self.settings.state_file, lock_timeout=self.settings.lock_timeout).open()
        try:
            yield store
        finally:
            store.close()

    def register(self) -> list[Registration]:
        """Register both connector types with the backend; one refused does not stop the other."""
        return register_all(self.backend.register_type)

    def _register_quietly(self) -> None:
        """Register the types once per sync; the backend only accepts them from a logged-in user."""
        if self.settings.backend_token is None:
            log.debug("connector types not registered: BACKEND_API_TOKEN is not set")
            return
        for refused in (outcome for outcome in self.register() if outcome.error is not None):
            log.warning("connector type '%s' not registered (sync goes on): %s", refused.type_id, refused.error)

    def sync(
        self, on_result: Callable[[RepoResult], None], on_jobs: Callable[[int], None] = lambda count: None
    ) -> SyncReport:
        """The whole ``sync`` command."""
        settings = self.settings
        if settings.repos and not settings.dry_run and settings.integration_id is None:
            raise UsageError(ADHOC_NEEDS_INTEGRATION)
        registration = SidePool(workers=1, name="register")
        registered = (
            registration.submit(self._register_quietly) if not settings.dry_run and not settings.repos else None
        )
        selection = self.integrations()  # while the connector type is registered
        listed = selection.listed  # statuses as read, for integration_status
        if registered is not None:
            registered.result()
        registration.close()
        sink: Sink = PrintSink() if settings.dry_run else BackendSink(self.backend)
        with self.state_store(selection.valid) as store:
            known = with_known_repositories(selection.valid, store, self.api_url_for)
            plan = self.discovery_plan(selection.valid)
            jobs, selection = self.jobs(
                IntegrationSelection(known, selection.invalid, selection.disabled, selection.listed)
            )
            _log_invalid(selection.invalid)
            on_jobs(len(jobs))
            report = run_sync(
                jobs,
                store=store,
                sink=sink,
                client_factory=self.github_client,
                settings=PollSettings(
                    initial_lookback=int(settings.initial_lookback),
                    force=settings.force,
                    backfill_details=int(settings.backfill_details),
                    sweep_interval=int(settings.sweep_interval),
                ),
                concurrency=settings.concurrency,
                rate_limit_reserve=settings.rate_limit_reserve,
                per_token_concurrency=settings.per_token_concurrency,
                dead_letters=None if settings.dry_run else DeadLetterFile(settings.dead_letter_file),
                deadline_expired=self.deadline.expired,
                on_result=on_result,
                credentials=self.credentials.for_integration,
                pace=Pace(
                    points=settings.points_per_minute,
                    window=settings.budget_window,
                    shards=settings.shard.count if settings.shard is not None else 1,
                ),
                deadline=self.deadline,
                discovery=plan,
            )
            _log_invalid(report.invalid)  # listings that failed during the run
            report.invalid = selection.invalid + report.invalid
            report.dry_run = settings.dry_run
            self._finish_integrations(report, store, report.discovered, self._status_changes(report, listed))
        return report

    def discovery_plan(self, integrations: list[Integration]) -> DiscoveryPlan:
        """The listings this process reads beside its polling: every discovering integration whose API may be
        contacted; none in a shard other than the first when shards share the backend's state (the first
        lists and stores for all, the others poll what is stored)."""
        settings = self.settings
        lists = settings.state_kind != "backend" or settings.shard is None or settings.shard.index == 0
        listing = [i for i in integrations if discovers(i) and self.api_url_for(i) is not None] if lists else []
        return DiscoveryPlan(
            integrations=listing,
            api_url_for=self.api_url_for,
            jobs_for=self.jobs_for,
            write=lists,
            share=settings.max_runtime * DISCOVERY_SHARE,
            workers=DISCOVERY_WORKERS,
        )

    def jobs_for(self, integration: Integration, repositories: list[RepositoryConfig]) -> list[RepoJob]:
        """This shard's jobs for repositories a listing found during the run."""
        only = integration.model_copy(
            update={"config": integration.config.model_copy(update={"repositories": tuple(repositories)})}
        )
        jobs, _ = build_jobs(
            [only],
            default_api_url=self.settings.github_api_url,
            allowed_hosts=self.settings.allowed_hosts,
            default_interval=self.settings.polling_interval,
            shard=self.settings.shard,
        )
        return jobs

    def _status_changes(self, report: SyncReport, listed: dict[str, ListedStatus]) -> dict[str, StatusChange]:
        """Each integration whose PainChain status this run changes (none for an ad-hoc ``--repo`` run)."""
        if self.settings.repos:
            return {}
        changes = decide_statuses(
            listed, report.invalid, report.results, repository_problems=self.settings.shard is None
        )
        return {change.integration_id: change for change in changes}

    def _finish_integrations(
        self, report: SyncReport, store: StateStore, discovered: list[str], changes: dict[str, StatusChange]
    ) -> None:
        """Per integration: let the store write its cursors (and discovery cache), then ``PUT lastSync``
        if all went well (not for an ad-hoc ``--repo`` run, which polls only some repositories), then
        its status if it changed (after the cursor: both rewrite the config)."""
        if self.settings.dry_run or report.fatal:
            return
        by_integration: dict[str, list[RepoResult]] = {integration_id: [] for integration_id in discovered}
        for result in report.results:
            by_integration.setdefault(result.job.integration.id, []).append(result)
        for integration_id in changes:
            by_integration.setdefault(integration_id, [])
        # A few backend round trips per integration (the cursor, lastSync, status): side by side.
        pool = SidePool(workers=min(FINISH_CONCURRENCY, len(by_integration)), name="finish")
        pending = [
            pool.submit(
                partial(self._finish_integration, integration_id, results, store, report, changes.get(integration_id))
            )
            for integration_id, results in by_integration.items()
        ]
        for future in pending:
            future.result()
        pool.close()

    def _finish_integration(
        self,
        integration_id: str,
        results: list[RepoResult],
        store: StateStore,
        report: SyncReport,
        change: StatusChange | None = None,
    ) -> None:
        self._finish_polled(integration_id, results, store, report)
        if change is not None:
            write_status(self.backend, change)

    def _finish_polled(
        self, integration_id: str, results: list[RepoResult], store: StateStore, report: SyncReport
    ) -> None:
        try:
            store.finish_integration(integration_id, [result.job.key for result in results])
        except StateError as error:
            log.error("%s", error)
            report.state_errors.append(str(error))
            return
        if integration_id == ADHOC_INTEGRATION_ID or self.settings.repos or not results:
            return
        if any(result.status in UNFINISHED for result in results):
            return
        if all(result.status is RepoStatus.NOT_DUE for result in results):
            return
        try:
            self.backend.put_integration(integration_id, {"lastSync": format_time(time.time())})
        except BackendError as error:
            log.warning("lastSync of integration %s not recorded: %s", integration_id, error)


def _log_invalid(invalid: list[InvalidIntegration]) -> None:
    for item in invalid:
        log.error("%s", item.message, extra={"fields": {"event": "integration", "integration": item.id}})


def only_integration(selection: IntegrationSelection, integration_id: str) -> IntegrationSelection:
    """``--integration ID`` without ``--repo``: that integration alone (a UsageError when it is not
    one of the active GitHub integrations, or is invalid: the reason is named)."""
    valid = [integration for integration in selection.valid if integration.id == integration_id]
    invalid = [item for item in selection.invalid if item.id == integration_id]
    where = f"--integration {escape(integration_id, 200)}"
    if not valid and invalid:
        raise UsageError(f"{where}: {invalid[0].reason}")
    if not valid:
        raise UsageError(f"{where}: not an active GitHub integration with polling enabled")
    listed = {key: value for key, value in selection.listed.items() if key == integration_id}
    return IntegrationSelection(valid, invalid, 0, listed)
