"""The poll with every stream wired in (fake GitHub on 127.0.0.1, memory store, list sink):
enrichment, deployments, container images and ``config.events``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from painchain_gh.errors import BackendTemporaryError
from painchain_gh.github.client import GitHubClient, TokenBudget
from painchain_gh.http import Deadline, RetryPolicy
from painchain_gh.jobs import RepoJob
from painchain_gh.results import RepoResult, RepoStatus
from painchain_gh.streams.enrich import Enricher
from painchain_gh.streams.images import OwnerClaims, owner_key
from painchain_gh.streams.poll import PollSettings, poll_repository
from painchain_gh.transform import PainChainEvent
from tests.doubles import ListSink, MemoryStore, integration, jobs_of
from tests.fakes import FakeGitHub
from tests.fakes.github import DEFAULT_TOKEN, issues_event, pull, pull_request_event, push_event, utc_iso

SETTINGS = PollSettings(initial_lookback=86400, force=True, sweep_interval=0)  # every stream every poll


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server
    assert not server.errors


class Run:
    """One sync run's shared objects, polling jobs against the fake."""

    def __init__(self, gh: FakeGitHub, **config: Any) -> None:
        self.gh = gh
        self.jobs = [
            dataclasses.replace(job, api_url=gh.url)
            for job in jobs_of(integration(*config.pop("repos", ("acme/api",)), token=DEFAULT_TOKEN, **config))
        ]
        self.store = MemoryStore()
        self.sink = ListSink()
        self.enricher = Enricher()
        self.owners = OwnerClaims()
        self.reserve = 0

    def client(self) -> GitHubClient:
        return GitHubClient(
            session=requests.Session(),
            api_url=self.gh.url,
            token=SecretStr(DEFAULT_TOKEN),
            budget=TokenBudget("fp", reserve=self.reserve, max_concurrent=2),
            deadline=Deadline(60),
            policy=RetryPolicy(attempts=1, base_delay=0.0),
            sleep=lambda _: None,
        )

    def poll(self, job: RepoJob | None = None, *, fresh_run: bool = True) -> RepoResult:
        if fresh_run:
            self.enricher, self.owners = Enricher(), OwnerClaims()
        return poll_repository(
            job or self.jobs[0],
            client=self.client(),
            store=self.store,
            sink=self.sink,
            enricher=self.enricher,
            owners=self.owners,
            dead_letters=None,
            settings=SETTINGS,
            now=int(self.gh.clock()),
            keep_going=lambda: True,
        )

    def ids(self) -> list[str]:
        return [event.external_id for _, event in self.sink.sent]


def paths(gh: FakeGitHub) -> list[str]:
    return [request.path for request in gh.requests]


def deployment_with_statuses(gh: FakeGitHub, states: list[str], *, ago: int = 600) -> dict[str, Any]:
    deployment = gh.add_deployment("acme", "api", {"created_at": utc_iso(gh.clock() - ago)})
    for offset, state in enumerate(states, start=1):
        created = utc_iso(gh.clock() - ago + offset)
        gh.add_deployment_status("acme", "api", deployment["id"], {"state": state, "created_at": created})
    return deployment


def test_deployments_each_status_once_acknowledged_one_by_one_then_quiet_for_free(gh: FakeGitHub) -> None:
    first = deployment_with_statuses(gh, ["in_progress", "success"], ago=900)
    bare = deployment_with_statuses(gh, [], ago=300)
    run = Run(gh)

    result = run.poll()

    assert result.status is RepoStatus.SYNCED
    assert run.sink.titles == [
        "Deployment to production: in_progress",
        "Deployment to production: success",
        "Deployment to production: created",
    ]
    assert run.ids()[-1] == f"github-deployment-{bare['id']}-created"
    state = run.store.repos[run.jobs[0].key]
    assert [item for _, item in run.store.recorded] == [
        *map(str, (s["id"] for s in gh.repo("acme", "api").statuses[first["id"]][::-1])),
        f"created-{bare['id']}",
    ]
    assert set(state.deployments.deployments) == {str(first["id"]), str(bare["id"])}
    assert state.deployments.etag is not None
    # What shipped: the first deployment's predecessor is looked up (there is none); the second is
    # compared with the first (the fake knows no such comparison: details_missing).
    assert run.enricher.counts.requests() == {
        "deployments": 1,
        "deployment_statuses": 2,
        "deploy_previous": 1,
        "deploy_compare": 1,
    }

    spent = gh.units_spent(DEFAULT_TOKEN)
    again = run.poll()

    assert again.status is RepoStatus.NOT_MODIFIED
    assert len(run.sink.sent) == 3
    assert gh.units_spent(DEFAULT_TOKEN) == spent  # events, runs and deployments all answered 304
    assert run.enricher.counts.requests() == {"deployments": 1}


def test_a_new_status_on_an_old_deployment_is_read_and_sent_once(gh: FakeGitHub) -> None:
    old = deployment_with_statuses(gh, ["success"], ago=900)
    other = deployment_with_statuses(gh, ["success"], ago=800)
    run = Run(gh)
    run.poll()
    gh.add_deployment_status("acme", "api", old["id"], {"state": "inactive"})
    gh.requests.clear()

    run.poll()
    run.poll()

    assert run.sink.titles.count("Deployment to production: inactive") == 1
    status_reads = [path for path in paths(gh) if path.endswith("/statuses")]
    assert status_reads == [f"/repos/acme/api/deployments/{old['id']}/statuses"]  # not the unchanged one
    assert str(other["id"]) in run.store.repos[run.jobs[0].key].deployments.deployments


def test_a_backend_failure_mid_deployments_keeps_what_was_acknowledged_and_settles_nothing(gh: FakeGitHub) -> None:
    deployment_with_statuses(gh, ["queued", "in_progress", "success"])
    run = Run(gh)
    run.sink.fail = lambda event: BackendTemporaryError("busy") if event.data.get("action") == "in_progress" else None

    failed = run.poll()

    assert failed.status is RepoStatus.FAILED and failed.error == "busy"
    assert run.sink.titles == ["Deployment to production: queued"]
    state = run.store.repos[run.jobs[0].key]
    assert len(state.deployments.statuses) == 1
    assert state.deployments.etag is None and not state.deployments.deployments  # read again next time

    run.sink.fail = lambda event: None
    run.poll()

    assert [title.rsplit(": ", 1)[1] for title in run.sink.titles] == ["queued", "in_progress", "success"]


def test_push_and_merged_pull_request_are_enriched_with_one_pull_list_per_repository(gh: FakeGitHub) -> None:
    before, head = "a" * 40, "b" * 40
    gh.add_event("acme", "api", push_event(before=before, head=head))
    commits = [{"sha": c * 40, "commit": {"message": f"Commit {c}", "author": {"name": "o"}}} for c in "cde"]
    gh.set_compare("acme", "api", before, head, {"total_commits": 3, "commits": commits})
    gh.add_pull("acme", "api", pull(7, "Add retries", merged=True, merged_by="lead"))
    gh.add_pull("acme", "api", pull(8, "Tidy docs"))
    gh.add_review("acme", "api", 7, {"user": {"login": "reviewer"}, "state": "APPROVED"})
    gh.add_pull_file("acme", "api", 7, {"filename": "retry.py", "additions": 10, "deletions": 2, "changes": 12})
    gh.add_event("acme", "api", pull_request_event("merged", 7))
    gh.add_event("acme", "api", pull_request_event("labeled", 8))
    run = Run(gh)

    result = run.poll()

    titles = run.sink.titles
    assert "Push to main (3 commits)" in titles, titles
    merged = next(event for _, event in run.sink.sent if event.data.get("action") == "merged")
    assert "Add retries" in merged.title
    assert (merged.data["reviewers"], merged.data["approvals"]) == (["reviewer"], 1)
    assert "retry.py" in str(merged.data["files_changed"])
    assert merged.data["merged_by"] == "lead"
    counts = run.enricher.counts.requests()
    assert counts["pull_list"] == 1 and counts["compare"] == 1
    assert counts.get("pull", 0) <= 1  # only the merged one needs sizes and merged_by
    assert not [event.title for _, event in run.sink.sent if event.data.get("details_missing")], paths(gh)
    assert result.forwarded == len(titles)


def test_events_not_chosen_are_handled_without_any_request(gh: FakeGitHub) -> None:
    before, head = "a" * 40, "b" * 40
    gh.set_compare("acme", "api", before, head, {"total_commits": 1, "commits": []})
    gh.add_event("acme", "api", push_event(before=before, head=head))
    gh.add_event("acme", "api", pull_request_event("opened", 9))
    gh.add_event("acme", "api", issues_event())
    gh.add_run("acme", "api", {"status": "completed", "conclusion": "failure"})
    deployment_with_statuses(gh, ["success"])
    run = Run(gh, events=["push"])

    result = run.poll()

    assert [event.data.get("event_type") for _, event in run.sink.sent] == ["push"]
    assert result.ignored_kinds == {"not_chosen:pull_request": 1, "not_chosen:issue": 1}
    requested = paths(gh)
    assert requested == ["/repos/acme/api/events", "/repos/acme/api/compare/" + f"{before}...{head}"]
    assert set(run.store.repos[run.jobs[0].key].events.seen) == {
        str(event["id"]) for event in gh.repo("acme", "api").events
    }


def test_an_enrichment_that_fails_still_forwards_the_event_marked_details_missing(gh: FakeGitHub) -> None:
    gh.add_event("acme", "api", push_event(before="a" * 40, head="b" * 40))  # compare answers 404
    run = Run(gh)

    run.poll()

    (event,) = [event for _, event in run.sink.sent]
    assert event.data["details_missing"] is True
    assert run.enricher.counts.failures() == {"compare": 1}


def test_the_rate_limit_reserve_cuts_enrichment_short_and_the_event_still_goes_out(gh: FakeGitHub) -> None:
    before, head = "a" * 40, "b" * 40
    gh.set_compare("acme", "api", before, head, {"total_commits": 1, "commits": []})
    gh.add_event("acme", "api", push_event(before=before, head=head))
    gh.set_remaining(DEFAULT_TOKEN, 103)  # events, runs, deployments leave 100: one more would go under 100
    run = Run(gh)
    run.reserve = 100

    run.poll()

    (event,) = [event for _, event in run.sink.sent]
    assert event.data["details_missing"] is True
    assert not [path for path in paths(gh) if "/compare/" in path]  # refused before it was sent
    assert run.enricher.counts.failures() == {"compare": 1}


def images(run: Run) -> list[PainChainEvent]:
    return [event for _, event in run.sink.sent if event.data.get("event_type") == "image"]


def test_images_once_per_owner_under_the_owner_wide_key_and_then_free(gh: FakeGitHub) -> None:
    gh.add_repo("acme", "api"), gh.add_repo("acme", "web")
    gh.add_package_version("acme", "api", ["v1"])
    gh.add_package_version("acme", "api", ["v2", "latest"])
    gh.add_package_version("acme", "api", [])  # untagged: not an event
    run = Run(gh, repos=("acme/api", "acme/web"), containerImages=True, events=["push", "image"])

    for job in run.jobs:
        run.poll(job, fresh_run=False)

    assert [event.title for event in images(run)] == [
        "Image published: ghcr.io/acme/api:v1",
        "Image published: ghcr.io/acme/api:v2",
    ]
    key = owner_key(run.jobs[0])
    assert key == "tenant-a/clx1/acme/*"
    assert [k for k, _ in run.store.recorded] == [key, key]
    stored = run.store.repos[key].images
    assert stored is not None and stored.etag is not None and stored.owner_kind == "orgs"
    assert len([path for path in paths(gh) if path.endswith("/packages")]) == 1

    spent = gh.units_spent(DEFAULT_TOKEN)
    run.poll()

    assert len(images(run)) == 2
    assert gh.units_spent(DEFAULT_TOKEN) == spent

    clock = [gh.clock() + 5]
    gh.clock = lambda: clock[0]  # a later second: GitHub's updated_at moves
    gh.add_package_version("acme", "api", ["v3"])
    newer = run.poll()

    assert images(run)[-1].title == "Image published: ghcr.io/acme/api:v3"
    assert (newer.status, newer.forwarded) == (RepoStatus.SYNCED, 1)  # the repository itself was quiet


def test_images_are_not_polled_unless_opted_in_and_chosen(gh: FakeGitHub) -> None:
    gh.add_repo("acme", "api")
    gh.add_package_version("acme", "api", ["v1"])
    for config in ({"containerImages": True}, {"events": ["push", "image"]}):
        run = Run(gh, **config)
        run.poll()
        assert not images(run)
    assert not [path for path in paths(gh) if "packages" in path]
