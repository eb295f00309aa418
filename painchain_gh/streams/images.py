"""Container images of one package owner, once per (integration, owner) and run.

Images belong to an organization or user, not to a repository, so their cursor lives in an
owner-wide state entry, ``{tenant or -}/{integration id}/{owner}/*``, and the first due
repository of that owner polls them (:class:`OwnerClaims`). Each image event is acknowledged
durably (``record_item``) before the next one is sent; the package list's ETag and each
package's ``updated_at`` are kept only once every image went through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from painchain_gh.cursor import ImagesCursor, start_floor
from painchain_gh.errors import GitHubRepoError
from painchain_gh.forward import Outgoing, Sink, forward
from painchain_gh.github.client import GitHubClient
from painchain_gh.jobs import RepoJob, state_key
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.store.base import StateStore
from painchain_gh.store.deadletter import DeadLetterFile
from painchain_gh.streams import packages
from painchain_gh.streams.enrich import Enricher


class _Settings(Protocol):
    @property
    def initial_lookback(self) -> int: ...


def owner_key(job: RepoJob) -> str:
    """The owner-wide state key of the job's owner: ``{tenant or -}/{integration id}/{owner}/*``."""
    return state_key(job.integration.tenant_id, job.integration.id, f"{job.repository.owner}/*")


class OwnerClaims:
    """Which owners' images were already taken by a repository in this run."""

    def __init__(self) -> None:
        self._claimed: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def claim(self, job: RepoJob) -> bool:
        """True once per (API, owner-wide key) and run: the caller polls that owner's images."""
        key = (job.api_url, owner_key(job))
        with self._lock:
            if key in self._claimed:
                return False
            self._claimed.add(key)
            return True


def poll_images(
    job: RepoJob,
    *,
    client: GitHubClient,
    store: StateStore,
    sink: Sink,
    enricher: Enricher,
    dead_letters: DeadLetterFile | None,
    result: RepoResult,
    settings: _Settings,
    now: int,
    keep_going: Callable[[], bool],
) -> None:
    """Forward the owner's new tagged container versions; counts go into ``result`` (the claiming
    repository's). A package list that cannot be read is a warning, not a failure."""
    key = owner_key(job)
    state = store.get(key)
    cursor = state.images or ImagesCursor()
    state.images = cursor
    cursor.floor = start_floor(cursor.floor, now=now, lookback=settings.initial_lookback)
    fingerprint = client.budget.fingerprint
    try:
        fetched = packages.fetch_images(
            client,
            job.repository.owner,
            cursor,
            integration_id=job.integration.id,
            web_url=job.web_url,
            etag=cursor.etag if cursor.etag_owner == fingerprint else None,
            counts=enricher.counts,
        )
    except GitHubRepoError as error:  # e.g. a token without read:packages
        result.warning = f"container images not readable: {error}"
        return
    if fetched.warning:
        result.warning = fetched.warning
    outgoing = [Outgoing(item.event, item.version_id, item.created, stream="images") for item in fetched.items]
    result.new += len(outgoing)
    sent = forward(
        job,
        outgoing,
        state=state,
        store=store,
        sink=sink,
        dead_letters=dead_letters,
        result=result,
        keep_going=keep_going,
        key=key,
    )
    if sent:
        packages.settle(cursor, fetched, fingerprint=fingerprint)
        if outgoing and result.status is RepoStatus.NOT_MODIFIED:
            result.status = RepoStatus.SYNCED  # the repository was quiet, its owner's images were not
    store.commit_repo(key, state)
