"""Extra GitHub requests that add detail to Events API and workflow run events, with per-run caches.

What is read, and when (every request goes through :class:`GitHubClient`, so it respects the
deadline and the rate-limit reserve, and is counted per kind in :class:`RequestCounts`):

- pull request titles, authors, state: ``GET /pulls?state=all&sort=updated&direction=desc``
  (100 pull requests a page, the most recently updated first; a second or third page only when
  a pull request the events name is not on the first), once per repository and run, and only
  for pull requests that need nothing more; ``GET /pulls/{n}`` for ``opened``/``merged`` events
  that need sizes and ``merged_by`` (the list does not carry them), unless the payload already
  has them (GHES full payloads), and for a pull request the list pages did not have;
- ``merged``: ``GET /pulls/{n}/reviews`` and ``/files``; ``opened``: ``/files``; reviews: ``/reviews``;
- a trimmed push: ``GET /compare/{before}...{head}`` (never changes, cached while the repository is polled);
- a run completed as ``failure``/``timed_out``: ``GET /actions/runs/{id}/jobs?filter=latest``, and
  for a push-triggered one whose head commit names no pull request, ``GET /commits/{sha}/pulls``;
- a published release: what it shipped since the previous one (:mod:`painchain_gh.streams.shipped`).

Events that get no details (a repository's first-sync history older than ``--backfill-details``,
see :mod:`painchain_gh.streams.poll`) ask for none of these but the list: they go out with the title,
author and state the list gives, marked ``details_skipped: true``.

When a request fails (deadline, rate limit, any GitHub error), the event still goes out with
``details_missing: true``; it is never held back. Each object is asked for at most once per poll of its repository,
which keeps only the fields the transforms read of each (:mod:`painchain_gh.transform.slim`) and
only until it ends.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar, cast

from painchain_gh.errors import DeadlineReached, GitHubError
from painchain_gh.github.client import GitHubClient
from painchain_gh.streams.shipped import ShippedLookups
from painchain_gh.timeutil import parse_time
from painchain_gh.transform.common import PainChainEvent, as_dict, as_int, as_str
from painchain_gh.transform.details import (
    missing,
    needs_jobs,
    skipped,
    with_compare,
    with_failed_jobs,
    with_files,
    with_reviews,
)
from painchain_gh.transform.events import pull_number
from painchain_gh.transform.shipped import ShippedPull, pull_line
from painchain_gh.transform.slim import slim_compare, slim_files, slim_jobs, slim_pull, slim_reviews

ZERO_SHA = "0" * 40
MAX_JOB_PAGES = 3
MAX_PULL_LIST_PAGES = 3  # 300 pull requests: as many as an Events API window (300 events) can name
FULL_PULL_ACTIONS = frozenset({"opened", "merged"})
_FAILED = object()
T = TypeVar("T")


class RequestCounts:
    """Extra requests per kind (``compare``, ``pull_list``, ``pull``, ``reviews``, ``files``, ``jobs``,
    ``deployments``, ``deployment_statuses``, ``packages``, ``package_versions``, and what shipped:
    ``deploy_compare``, ``deploy_previous``, ``release_compare``, ``releases``, ``commit_pulls``,
    ``run_approvals``) and failures."""

    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._skipped: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str, n: int = 1) -> None:
        """Count ``n`` requests of ``kind``."""
        with self._lock:
            self._requests[kind] += n

    def fail(self, kind: str) -> None:
        """Count one failed lookup of ``kind`` (its event went out with ``details_missing``)."""
        with self._lock:
            self._failures[kind] += 1

    def skip(self, kind: str) -> None:
        """Count one event of ``kind`` (push, pull_request, review, workflow_run) sent without the
        lookups it would have had (first-sync history: ``details_skipped``)."""
        with self._lock:
            self._skipped[kind] += 1

    def skipped(self) -> dict[str, int]:
        """Events sent without their lookups, per event kind, so far."""
        with self._lock:
            return dict(self._skipped)

    def requests(self) -> dict[str, int]:
        """Requests per kind so far."""
        with self._lock:
            return dict(self._requests)

    def failures(self) -> dict[str, int]:
        """Failed lookups per kind so far."""
        with self._lock:
            return dict(self._failures)


class Enricher:
    """Caches of the extra requests, keyed by (tenant, API, credential, repository, object), each
    repository's kept while it is polled (:meth:`release` forgets it), so that memory follows the
    repositories in flight, not the run's size."""

    def __init__(self, counts: RequestCounts | None = None) -> None:
        self.counts = counts or RequestCounts()
        self._cache: dict[tuple[str, ...], dict[tuple[str, ...], Future[object]]] = {}  # by repository
        self._lock = threading.Lock()

    # -- pull requests --------------------------------------------------------------------

    def pulls_for(
        self,
        client: GitHubClient,
        owner: str,
        repo: str,
        raws: Iterable[Mapping[str, Any]],
        *,
        detailed: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> dict[int, Mapping[str, Any]]:
        """The pull requests the new Events API objects ``raws`` need, by number (what to pass
        to ``to_event``); a pull request that could not be read is absent (``details_missing``).

        ``detailed(raw)`` says whether an event gets its details (all do when it is None); one
        that does not needs only what the list pages carry."""
        raws = [raw for raw in raws if isinstance(raw, Mapping)]
        wanted: dict[int, bool] = {}  # number -> needs the full object
        oldest: int | None = None  # the oldest event that needs only the list
        for raw in raws:
            number = _pull_event_number(raw)
            if number is None:
                continue
            full = _needs_full_pull(raw) and (detailed is None or detailed(raw))
            if _trimmed(raw) or full:
                wanted[number] = wanted.get(number, False) or full
            created = parse_time(raw.get("created_at"))
            if not full and _trimmed(raw) and created is not None:
                oldest = created if oldest is None else min(oldest, created)
        listed_only = {number for number, full in wanted.items() if not full}
        listed = self._pull_list(client, owner, repo, listed_only, since=oldest) if listed_only else {}
        found: dict[int, Mapping[str, Any]] = {}
        for number, full in sorted(wanted.items()):
            if full or number not in listed:
                pull = self._pull(client, owner, repo, number)
                if pull is not None:
                    found[number] = pull
                    continue
            if number in listed:
                found[number] = listed[number]
        return found

    def _pull_list(
        self, client: GitHubClient, owner: str, repo: str, numbers: set[int], *, since: int | None
    ) -> dict[int, Mapping[str, Any]]:
        """Pull requests from the list pages, most recently updated first, until ``numbers`` are all
        found, a page reaches pull requests last updated before ``since`` (older than every event
        that names one), there is no next page, or ``MAX_PULL_LIST_PAGES`` were read."""

        def fetch() -> dict[int, Mapping[str, Any]]:
            query = {"state": "all", "sort": "updated", "direction": "desc"}
            listed: dict[int, Mapping[str, Any]] = {}
            pages = client.iter_query_pages(f"/repos/{owner}/{repo}/pulls", query, etag=None)
            try:
                for count, page in enumerate(pages, start=1):
                    self.counts.add("pull_list")
                    for item in page.items:
                        if (number := as_int(as_dict(item).get("number"))) is not None:
                            listed[number] = slim_pull(item)
                    updated = [t for item in page.items if (t := parse_time(as_dict(item).get("updated_at")))]
                    if numbers <= listed.keys() or count >= MAX_PULL_LIST_PAGES:
                        break
                    if since is not None and updated and min(updated) < since:
                        break
            except (GitHubError, DeadlineReached):
                if not listed:
                    raise
                self.counts.fail("pull_list")  # a later page failed: keep what the earlier ones gave
            return listed

        result = self._once(client, ("pull_list", owner, repo), "pull_list", fetch)
        return result if isinstance(result, dict) else {}

    def _pull(self, client: GitHubClient, owner: str, repo: str, number: int) -> Mapping[str, Any] | None:
        def fetch() -> Mapping[str, Any] | None:
            self.counts.add("pull")
            answer = client.get_object(f"/repos/{owner}/{repo}/pulls/{number}")
            return slim_pull(answer) if answer is not None else None

        result = self._once(client, ("pull", owner, repo, str(number)), "pull", fetch)
        return result if isinstance(result, Mapping) else None

    def _pull_page(self, client: GitHubClient, owner: str, repo: str, number: int, kind: str) -> list[Any] | None:
        """The first page of a pull request's ``reviews`` or ``files`` (once per poll of its repository)."""
        path = f"/repos/{owner}/{repo}/pulls/{number}/{kind}"

        def fetch() -> list[Any]:
            self.counts.add(kind)
            items = next(iter(client.iter_pages(path, etag=None))).items
            return slim_reviews(items) if kind == "reviews" else slim_files(items)

        result = self._once(client, (kind, owner, repo, str(number)), kind, fetch)
        return result if isinstance(result, list) else None

    def prefetch_pages(self, client: GitHubClient, owner: str, repo: str, raw: Mapping[str, Any]) -> None:
        """Ask now for the pages :meth:`enrich_event` will want for ``raw`` when ``raw`` alone says
        so (an opened or merged pull request's files, a merge's or a review's reviews), so that
        they travel beside the pull request lookups; cached, so nothing is asked twice."""
        number = _pull_event_number(raw)
        if number is None:
            return
        wants_reviews, wants_files = _pages_wanted(raw.get("type"), _raw_action(raw))
        if wants_reviews:
            self._pull_page(client, owner, repo, number, "reviews")
        if wants_files:
            self._pull_page(client, owner, repo, number, "files")

    # -- events ---------------------------------------------------------------------------

    def enrich_event(
        self,
        client: GitHubClient,
        owner: str,
        repo: str,
        raw: Mapping[str, Any],
        event: PainChainEvent,
        *,
        detailed: bool = True,
        previous_tag: str | None = None,
        web_url: str = "https://github.com",
    ) -> PainChainEvent:
        """``event`` (built from ``raw``) with the details its kind needs; never raises for GitHub.
        With ``detailed`` false nothing is asked, and an event that needed something is marked
        ``details_skipped``. A release is compared with ``previous_tag`` (None: looked up)."""
        payload = as_dict(raw.get("payload"))
        kind = raw.get("type")
        if kind == "PushEvent":
            return self._push(client, owner, repo, payload, event, detailed=detailed)
        if kind == "ReleaseEvent":
            lookups = ShippedLookups(self, client, owner, repo, repo_url=f"{web_url}/{owner}/{repo}")
            return self._release(lookups, payload, event, previous_tag=previous_tag, detailed=detailed)
        number = pull_number(raw)
        if number is None or kind not in ("PullRequestEvent", "PullRequestReviewEvent"):
            return event
        wants_reviews, wants_files = _pages_wanted(kind, event.data.get("action"))
        if not detailed:
            if not (wants_reviews or wants_files):
                return event
            self.counts.skip("review" if kind == "PullRequestReviewEvent" else "pull_request")
            return skipped(event)
        if wants_reviews:
            event = with_reviews(event, self._pull_page(client, owner, repo, number, "reviews"))
        if wants_files:
            if "additions" not in event.data:  # GET /pulls/{n} failed: sizes and merged_by are unknown
                event = missing(event)
            event = with_files(event, self._pull_page(client, owner, repo, number, "files"))
        return event

    def _push(
        self,
        client: GitHubClient,
        owner: str,
        repo: str,
        payload: Mapping[str, Any],
        event: PainChainEvent,
        *,
        detailed: bool,
    ) -> PainChainEvent:
        before, head = as_str(payload.get("before")), as_str(payload.get("head"))
        if isinstance(payload.get("commits"), list) or not before or not head:
            return event
        if (as_str(payload.get("ref")) or "").startswith("refs/tags/"):
            return event  # a tag moved or was created: it carries no commits of its own
        if ZERO_SHA in (before, head) or not (_is_sha(before) and _is_sha(head)):
            return event  # a new branch (nothing to compare with) or a deletion
        if not detailed:
            self.counts.skip("push")
            return skipped(event)

        def fetch() -> Mapping[str, Any] | None:
            self.counts.add("compare")
            answer = client.get_object(f"/repos/{owner}/{repo}/compare/{before}...{head}")
            return slim_compare(answer) if answer is not None else None

        result = self._once(client, ("compare", owner, repo, before, head), "compare", fetch)
        if not isinstance(result, Mapping):
            return missing(event)
        return with_compare(event, result)

    def _release(
        self,
        lookups: ShippedLookups,
        payload: Mapping[str, Any],
        event: PainChainEvent,
        *,
        previous_tag: str | None,
        detailed: bool,
    ) -> PainChainEvent:
        """A published release with what it carries since the previous one (``previous_tag``,
        ``release_compare``, pull requests, change kinds)."""
        release = as_dict(payload.get("release"))
        tag = as_str(release.get("tag_name"))
        if tag is None or release.get("draft") is True:
            return event
        if not detailed:
            self.counts.skip("release")
            return skipped(event)
        base: str | bool | None = previous_tag if previous_tag != tag else None
        if base is None:
            base = lookups.previous_release_tag(tag, prerelease=release.get("prerelease") is True)
        if base is False:
            return missing(event)
        if not isinstance(base, str):
            return dataclasses.replace(event, data={**event.data, "previous_tag": None})  # the first release
        found = lookups.shipped(base, tag, kind="release_compare", event_type="release", ref=None)
        data = {**event.data, "previous_tag": base, **found.fields}
        data.pop("redeploy", None)
        return dataclasses.replace(event, data={**data, "details_missing": True} if found.missing else data)

    def enrich_run(
        self,
        client: GitHubClient,
        owner: str,
        repo: str,
        run: Mapping[str, Any],
        event: PainChainEvent,
        *,
        detailed: bool = True,
    ) -> PainChainEvent:
        """A run event with its failed jobs, for runs completed as ``failure``/``timed_out`` only
        (with ``detailed`` false: marked ``details_skipped`` instead)."""
        run_id = as_int(as_dict(run).get("id"))
        if run_id is None or not needs_jobs(event):
            return event
        if not detailed:
            self.counts.skip("workflow_run")
            return skipped(event)
        attempt = str(as_int(run.get("run_attempt")) or 1)

        def fetch() -> list[Any]:
            jobs: list[Any] = []
            path = f"/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
            for number, page in enumerate(
                client.iter_query_pages(path, {"filter": "latest"}, etag=None, list_key="jobs"), start=1
            ):
                self.counts.add("jobs")
                jobs.extend(slim_jobs(page.items))
                if number >= MAX_JOB_PAGES:
                    break
            return jobs

        result = self._once(client, ("jobs", owner, repo, str(run_id), attempt), "jobs", fetch)
        event = with_failed_jobs(event, run, result if isinstance(result, list) else None)
        return self._run_pull(client, owner, repo, run, event)

    def _run_pull(
        self, client: GitHubClient, owner: str, repo: str, run: Mapping[str, Any], event: PainChainEvent
    ) -> PainChainEvent:
        """A failed push-triggered run that names no pull request: the one its head commit came from
        (``GET /commits/{sha}/pulls``, cached; several runs of one push share it)."""
        head = as_str(run.get("head_sha"))
        if event.data.get("pull_request_numbers") or run.get("event") != "push" or head is None or not _is_sha(head):
            return event
        found = ShippedLookups(self, client, owner, repo, repo_url="").run_pull(head)
        if found is False:
            return missing(event)
        if not isinstance(found, ShippedPull):
            return event
        data = {**event.data, "pull_request_numbers": [found.number], "pull_requests": [pull_line(found)]}
        return dataclasses.replace(event, data=data)

    # -- cache ----------------------------------------------------------------------------

    def once(self, client: GitHubClient, key: tuple[str, ...], kind: str, fetch: Callable[[], T]) -> T | None:
        """``fetch()`` at most once per repository poll and key (see :meth:`_once`), for the lookups of
        :mod:`painchain_gh.streams.shipped`."""
        return self._once(client, key, kind, fetch)

    def count(self, kind: str) -> None:
        """Count one request of ``kind``."""
        self.counts.add(kind)

    def reviews(self, client: GitHubClient, owner: str, repo: str, number: int) -> list[Any] | None:
        """A pull request's reviews (first page), the same cached answer its merge event uses."""
        return self._pull_page(client, owner, repo, number, "reviews")

    def release(self, client: GitHubClient, owner: str, repo: str) -> None:
        """Forget what was cached for one repository: its poll is over (nothing else asks for its objects)."""
        with self._lock:
            self._cache.pop(_scope(client, owner, repo), None)

    def _once(self, client: GitHubClient, key: tuple[str, ...], kind: str, fetch: Callable[[], T]) -> T | None:
        """``fetch()`` at most once per repository poll and ``key`` (``(what, owner, repo, *which)``),
        even when several threads ask at once (the others wait for the first one's answer); None (and
        a counted failure) if it failed or found nothing."""
        what, owner, repo, *which = key
        object_key = (what, *(part.lower() for part in which))
        with self._lock:
            cached = self._cache.setdefault(_scope(client, owner, repo), {})
            entry = cached.get(object_key)
            if entry is None:
                cached[object_key] = entry = Future()
                mine = True
            else:
                mine = False
        if not mine:
            value = entry.result()  # the thread that asked first is fetching it (bounded by the deadline)
            return None if value is _FAILED else cast(T, value)
        value = _FAILED
        try:
            value = fetch()
        except (GitHubError, DeadlineReached, StopIteration):
            pass
        finally:
            entry.set_result(value)  # also when fetch raised something else: nobody waits forever
        if value is None or value is _FAILED:  # None: GitHub answered 404/410
            self.counts.fail(kind)
        return None if value is _FAILED else cast(T, value)


def _scope(client: GitHubClient, owner: str, repo: str) -> tuple[str, ...]:
    """What one repository's cached objects are keyed by: tenant, API, credential, repository."""
    return (client.cache_scope, client.api_url, client.budget.fingerprint, owner.lower(), repo.lower())


def _pull_event_number(raw: Mapping[str, Any]) -> int | None:
    if not isinstance(raw, Mapping) or raw.get("type") not in ("PullRequestEvent", "PullRequestReviewEvent"):
        return None
    return pull_number(raw)


def _trimmed(raw: Mapping[str, Any]) -> bool:
    return as_str(as_dict(as_dict(raw.get("payload")).get("pull_request")).get("title")) is None


def _raw_action(raw: Mapping[str, Any]) -> object:
    """A pull request event's action as far as its payload tells: ``merged`` for a merge in either
    shape (trimmed ``merged``, or ``closed`` with ``merged: true``); a trimmed ``closed`` stays
    ``closed`` (only the pull request itself says whether it was merged)."""
    payload = as_dict(raw.get("payload"))
    action = payload.get("action")
    if action == "closed" and as_dict(payload.get("pull_request")).get("merged") is True:
        return "merged"
    return action


def _pages_wanted(kind: object, action: object) -> tuple[bool, bool]:
    """Whether a pull request event of ``kind`` and ``action`` wants its reviews, and its files."""
    reviews = kind == "PullRequestReviewEvent" or (kind == "PullRequestEvent" and action == "merged")
    return reviews, kind == "PullRequestEvent" and action in FULL_PULL_ACTIONS


def _needs_full_pull(raw: Mapping[str, Any]) -> bool:
    """An ``opened`` or ``merged`` pull request event whose payload lacks sizes and ``merged_by``."""
    stub = as_dict(as_dict(raw.get("payload")).get("pull_request"))
    return raw.get("type") == "PullRequestEvent" and _raw_action(raw) in FULL_PULL_ACTIONS and "additions" not in stub


def _is_sha(value: str) -> bool:
    return 7 <= len(value) <= 64 and all(c in "0123456789abcdef" for c in value.lower())
