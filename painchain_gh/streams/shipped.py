"""The requests behind "what shipped": compares, pull requests of commits, reviews, run approvals.

Every request goes through :class:`~painchain_gh.github.client.GitHubClient` and the enrichment cache
(:meth:`Cache.once`: at most once per object and run, counted per kind, a failure counted too):

- ``deploy_compare``: ``GET /compare/{previous sha}...{sha}`` of a deployment (a rollback also the
  reverse one, for what it takes away); ``release_compare``: ``{previous tag}...{tag}``;
- ``commit_pulls``: ``GET /commits/{sha}/pulls`` for a commit no message explains (at most
  :data:`MAX_COMMIT_LOOKUPS` per deployment or release, newest first), and for a failed
  push-triggered run whose head commit names no pull request;
- ``reviews``: ``GET /pulls/{n}/reviews`` of the shipped pull requests (at most
  :data:`MAX_REVIEWED_PULLS`; shared with the merge events of the same run);
- ``run_approvals``: ``GET /actions/runs/{id}/approvals`` of the run that made a deployment;
- ``deploy_previous``: the last deployment to an environment that reached success, when the state
  does not know it yet: ``GET /deployments?environment=...`` and the statuses of at most
  :data:`MAX_PREVIOUS_CANDIDATES` older ones (once per environment; then it is remembered);
- ``releases``: ``GET /releases`` (one page), when the state does not know the previous release.

What the answers mean is decided by the pure :mod:`painchain_gh.transform.shipped`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from painchain_gh.cursor import is_sha
from painchain_gh.github.client import GitHubClient
from painchain_gh.transform.change_kinds import change_kinds, shipped_facts
from painchain_gh.transform.common import as_dict, as_int, as_str
from painchain_gh.transform.shipped import (
    ShippedPull,
    approval_fields,
    approver_fields,
    commit_fields,
    compare_status,
    deployment_run_id,
    diff_url,
    merge_pulls,
    previous_release,
    pull_from_answer,
    pulls_from_commits,
)
from painchain_gh.transform.slim import slim_approvals, slim_compare, slim_pulls, slim_releases

MAX_COMMIT_LOOKUPS = 3
MAX_REVIEWED_PULLS = 5
MAX_PREVIOUS_CANDIDATES = 3
T = TypeVar("T")


class Cache(Protocol):
    """What the lookups need of the enrichment cache (:class:`~painchain_gh.streams.enrich.Enricher`)."""

    def once(self, client: GitHubClient, key: tuple[str, ...], kind: str, fetch: Callable[[], T]) -> T | None:
        """``fetch()`` at most once per repository poll and key; None when it failed (counted)."""
        ...

    def count(self, kind: str) -> None:
        """Count one request of ``kind``."""
        ...

    def reviews(self, client: GitHubClient, owner: str, repo: str, number: int) -> list[Any] | None:
        """A pull request's reviews (first page), shared with the pull request events."""
        ...


@dataclass(frozen=True)
class Baseline:
    """The deployment a new one is compared with: the last one to the same environment that reached success."""

    deployment_id: int
    sha: str


@dataclass
class Found:
    """Data fields for an event, and whether some lookup failed (``details_missing``)."""

    fields: dict[str, Any]
    missing: bool = False


class ShippedLookups:
    """The lookups of one repository in one run."""

    def __init__(self, cache: Cache, client: GitHubClient, owner: str, repo: str, *, repo_url: str) -> None:
        self.cache, self.client, self.owner, self.repo, self.repo_url = cache, client, owner, repo, repo_url
        self.base = f"/repos/{owner}/{repo}"

    def compare(self, base: str, head: str, kind: str) -> Mapping[str, Any] | None:
        """``GET /compare/{base}...{head}`` (a comparison of two commits never changes)."""

        def fetch() -> dict[str, Any] | None:
            self.cache.count(kind)
            answer = self.client.get_object(f"{self.base}/compare/{quote(base, safe='')}...{quote(head, safe='')}")
            return slim_compare(answer) if answer is not None else None

        return self.cache.once(self.client, ("compare", self.owner, self.repo, base, head), kind, fetch)

    def commit_pulls(self, sha: str) -> list[Any] | None:
        """``GET /commits/{sha}/pulls``: the pull requests a commit came from."""

        def fetch() -> list[Any]:
            self.cache.count("commit_pulls")
            path = f"{self.base}/commits/{quote(sha, safe='')}/pulls"
            return slim_pulls(next(iter(self.client.iter_pages(path, etag=None))).items)

        return self.cache.once(self.client, ("commit_pulls", self.owner, self.repo, sha), "commit_pulls", fetch)

    def approvals(self, run_id: int) -> list[Any] | None:
        """``GET /actions/runs/{id}/approvals``: the run's deployment review history."""

        def fetch() -> list[Any]:
            self.cache.count("run_approvals")
            path = f"{self.base}/actions/runs/{run_id}/approvals"  # documents no page size
            return slim_approvals(next(iter(self.client.iter_query_pages(path, {}, etag=None, per_page=None))).items)

        return self.cache.once(
            self.client, ("run_approvals", self.owner, self.repo, str(run_id)), "run_approvals", fetch
        )

    def releases(self) -> list[Any] | None:
        """``GET /releases`` (the newest 100)."""

        def fetch() -> list[Any]:
            self.cache.count("releases")
            return slim_releases(next(iter(self.client.iter_pages(f"{self.base}/releases", etag=None))).items)

        return self.cache.once(self.client, ("releases", self.owner, self.repo), "releases", fetch)

    def previous_deployment(self, environment: str, before: int) -> Baseline | bool | None:
        """The newest deployment to ``environment`` older than ``before`` that reached success
        (None: there is none; False: GitHub could not tell)."""

        def fetch() -> tuple[int, str] | tuple[()]:
            self.cache.count("deploy_previous")
            query = {"environment": environment}
            page = next(iter(self.client.iter_query_pages(f"{self.base}/deployments", query, etag=None)))
            older = sorted(
                (
                    (identifier, sha)
                    for item in page.items
                    if (identifier := as_int(as_dict(item).get("id"))) is not None
                    and identifier < before
                    and (sha := as_str(as_dict(item).get("sha")))
                ),
                reverse=True,
            )
            for identifier, sha in older[:MAX_PREVIOUS_CANDIDATES]:
                self.cache.count("deploy_previous")
                path = f"{self.base}/deployments/{identifier}/statuses"
                statuses = next(iter(self.client.iter_pages(path, etag=None))).items
                if any(as_dict(status).get("state") == "success" for status in statuses):
                    return (identifier, sha)
            return ()

        key = ("deploy_previous", self.owner, self.repo, environment, str(before))
        found = self.cache.once(self.client, key, "deploy_previous", fetch)
        if found is None:
            return False
        return Baseline(*found) if found else None

    # -- assembled -------------------------------------------------------------------------

    def pulls_of(self, compare: Mapping[str, Any]) -> tuple[dict[int, ShippedPull], bool]:
        """The pull requests a compare's commits came from, and whether every lookup answered."""
        explained = pulls_from_commits(_commits(compare))
        answers: list[Mapping[str, Any]] = []
        complete = True
        for sha in [sha for sha in explained.unexplained if is_sha(sha)][:MAX_COMMIT_LOOKUPS]:
            found = self.commit_pulls(sha)
            if found is None:
                complete = False
                continue
            answers.extend(item for item in found if isinstance(item, Mapping))
        return merge_pulls(explained.pulls, answers), complete

    def shipped(self, base: str, head: str, *, kind: str, event_type: str, ref: str | None) -> Found:
        """Commits, pull requests, their approvers and change kinds of ``base...head``; a rollback
        (``head`` behind ``base``) lists what it takes away."""
        fields: dict[str, Any] = {"diff_url": diff_url(self.repo_url, base, head)}
        if base == head:
            fields.update({"redeploy": True, "commit_count": 0, "change_kinds": []})
            return Found(fields)
        compare = self.compare(base, head, kind)
        if compare is None:
            return Found(fields, missing=True)
        status = compare_status(compare)
        fields["compare_status"] = status
        if status == "identical":
            fields.update({"redeploy": True, "commit_count": 0, "change_kinds": []})
            return Found(fields)
        missing = False
        listed, prefix = compare, ""
        if status == "behind":
            fields.update({"rollback": True, "commit_count": 0, "diff_url": diff_url(self.repo_url, head, base)})
            reverse = self.compare(head, base, kind)
            if reverse is None:
                behind = as_int(compare.get("behind_by"))
                fields["rolled_back_commit_count"] = behind if behind is not None else 0
                return Found(fields, missing=True)
            listed, prefix = reverse, "rolled_back_"
        pulls, complete = self.pulls_of(listed)
        fields.update(commit_fields(listed, pulls, prefix=prefix))
        if status == "diverged":
            fields["rolled_back_commit_count"] = as_int(compare.get("behind_by")) or 0
        reviews = {number: self.cache.reviews(self.client, self.owner, self.repo, number) for number in _newest(pulls)}
        missing = not complete or any(found is None for found in reviews.values())
        fields.update(approver_fields({n: r for n, r in reviews.items() if r is not None}, pulls))
        fields["change_kinds"] = change_kinds(shipped_facts(event_type, listed, pulls, ref=ref))
        return Found(fields, missing=missing)

    def approval(self, environment: str, statuses: Sequence[Mapping[str, Any]]) -> Found:
        """Who approved the Actions run that made a deployment (none when no status names a run)."""
        run_id = deployment_run_id(statuses, self.repo_url)
        if run_id is None:
            return Found({})
        approvals = self.approvals(run_id)
        if approvals is None:
            return Found({"run_id": run_id}, missing=True)
        return Found({"run_id": run_id, **approval_fields(approvals, environment, statuses)})

    def run_pull(self, sha: str) -> ShippedPull | bool | None:
        """The merged pull request a commit came from (None: none; False: GitHub could not tell)."""
        found = self.commit_pulls(sha)
        if found is None:
            return False
        pulls = [pull for item in found if isinstance(item, Mapping) and (pull := pull_from_answer(item))]
        return pulls[0] if pulls else None

    def previous_release_tag(self, tag: str, *, prerelease: bool) -> str | bool | None:
        """The release before ``tag`` from ``GET /releases`` (None: none; False: not readable)."""
        releases = self.releases()
        if releases is None:
            return False
        return previous_release(releases, tag, prerelease=prerelease)


def _commits(compare: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    commits = compare.get("commits")
    return [item for item in commits if isinstance(item, Mapping)] if isinstance(commits, list) else []


def _newest(pulls: Mapping[int, ShippedPull]) -> list[int]:
    return sorted(pulls, reverse=True)[:MAX_REVIEWED_PULLS]
