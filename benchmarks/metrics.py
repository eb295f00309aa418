"""What one measured run cost, read from the child process and from the fakes' logs.

GitHub requests are counted from ``FakeGitHub.requests`` (the status each one was answered
with), rate-limit units from the tokens' ``spent`` counters, backend POSTs from
``FakeBackend.event_posts``, secondary-limit points, violations and requests in flight from
``FakeGitHub.secondary_usage``. The logs and counters are cleared before each run, so each run
is counted alone.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from benchmarks.measure import Measured
from benchmarks.scenario import Scenario
from tests.fakes import FakeBackend, FakeGitHub, RecordedRequest

NO_UNIT = frozenset({0, 304, 401})  # a 304 is free; 0 = not answered; 401 = refused before counting


@dataclass(frozen=True)
class RunMetrics:
    """The cost of one run of one connector on one scenario (possibly extrapolated)."""

    repos: int
    wall: float
    cpu: float
    peak_rss_mb: float
    github_requests: int
    github_200: int
    github_304: int
    github_other: int
    units: int
    posts: int
    rows_added: int
    quiet_units: int
    quiet_posts: int
    quiet_repos: int
    harness_cpu: float
    returncode: int
    extrapolated_from: int | None = None  # the sample size, when scaled up linearly
    note: str = ""
    records: int | None = None  # records written to stdout (peers, which do not POST)
    points: int = 0  # GitHub's secondary-limit points sent (a GET 1, a POST 5)
    secondary: int = 0  # requests past GitHub's secondary limits (refused only where the fake enforces them)
    peak_in_flight: int = 0  # the most GitHub requests in flight at once (all processes, all tokens)
    peak_points: int = 0  # the most points one token sent within one secondary-limit window

    @property
    def units_per_quiet_repo(self) -> float:
        """Rate-limit units spent on a repository with no new activity."""
        return self.quiet_units / self.quiet_repos if self.quiet_repos else 0.0

    @property
    def posts_per_quiet_repo(self) -> float:
        """Backend POSTs for a repository with no new activity."""
        return self.quiet_posts / self.quiet_repos if self.quiet_repos else 0.0

    def with_records(self, records: int) -> RunMetrics:
        """These metrics for a connector that emits ``records`` instead of POSTing."""
        return dataclasses.replace(self, records=records)

    def scaled_to(self, repos: int) -> RunMetrics:
        """This sample's counts and times scaled linearly to ``repos`` repositories (RSS is kept)."""
        factor = repos / self.repos
        return dataclasses.replace(
            self,
            repos=repos,
            wall=self.wall * factor,
            cpu=self.cpu * factor,
            github_requests=round(self.github_requests * factor),
            github_200=round(self.github_200 * factor),
            github_304=round(self.github_304 * factor),
            github_other=round(self.github_other * factor),
            units=round(self.units * factor),
            posts=round(self.posts * factor),
            rows_added=round(self.rows_added * factor),
            quiet_units=round(self.quiet_units * factor),
            quiet_posts=round(self.quiet_posts * factor),
            quiet_repos=round(self.quiet_repos * factor),
            harness_cpu=self.harness_cpu * factor,
            records=None if self.records is None else round(self.records * factor),
            points=round(self.points * factor),
            secondary=round(self.secondary * factor),
            extrapolated_from=self.repos,
        )


class TrafficMeter:
    """Counts what the fakes saw between :meth:`start` and :meth:`stop`."""

    def __init__(self, github: FakeGitHub, backend: FakeBackend, scenario: Scenario) -> None:
        self.github = github
        self.backend = backend
        self.scenario = scenario
        self._units = 0
        self._posts = 0
        self._rows = 0
        self._cpu = 0.0

    def start(self) -> None:
        """Forget earlier requests and remember the counters."""
        self.github.requests.clear()
        self.backend.requests.clear()
        self.github.secondary_usage.forget()  # runs here follow each other faster than any real schedule
        self._units = self._spent()
        self._posts = self.backend.event_posts
        self._rows = len(self.backend.events)
        self._cpu = time.process_time()

    def stop(self, runs: list[Measured]) -> RunMetrics:
        """The metrics of the run that just ended: one process, or several at once (shards).

        For several processes, wall time is the slowest one's, CPU the sum, peak RSS the
        largest of any one process (each shard is its own pod with its own memory limit).
        """
        harness_cpu = time.process_time() - self._cpu
        github = list(self.github.requests)
        statuses = [request.status for request in github]
        posts = [r for r in self.backend.requests if r.method == "POST" and r.path.rstrip("/") == "/api/events"]
        units = self._spent() - self._units
        quiet_units = sum(1 for request in github if request.status not in NO_UNIT and self._is_quiet(request))
        usage = self.github.secondary_usage.report()
        metrics = RunMetrics(
            repos=self.scenario.repos,
            wall=max(run.wall for run in runs),
            cpu=sum(run.cpu for run in runs),
            peak_rss_mb=max(run.peak_rss_mb for run in runs),
            github_requests=len(github),
            github_200=statuses.count(200),
            github_304=statuses.count(304),
            github_other=len(statuses) - statuses.count(200) - statuses.count(304),
            units=units,
            posts=self.backend.event_posts - self._posts,
            rows_added=len(self.backend.events) - self._rows,
            quiet_units=quiet_units,
            quiet_posts=sum(1 for project in _projects(posts) if self._is_quiet_name(project)),
            quiet_repos=self.scenario.quiet,
            harness_cpu=harness_cpu,
            returncode=max(run.returncode for run in runs),
            points=usage.points,
            secondary=usage.total_violations,
            peak_in_flight=usage.peak_in_flight,
            peak_points=usage.peak_points,
        )
        self.github.requests.clear()
        self.backend.requests.clear()
        return metrics

    def _spent(self) -> int:
        return sum(spec.spent for spec in list(self.github.tokens.values()))

    def _is_quiet(self, request: RecordedRequest) -> bool:
        parts = request.path.split("/")  # "", "repos", owner, repo, ...
        return len(parts) > 3 and parts[1] == "repos" and self._is_quiet_name(f"{parts[2]}/{parts[3]}")

    def _is_quiet_name(self, full_name: str) -> bool:
        owner, _, name = full_name.partition("/")
        index = self.scenario.index_of(owner, name)
        return index is not None and index not in self.scenario.active


def _projects(posts: Iterable[RecordedRequest]) -> Iterable[str]:
    for request in posts:
        try:
            project = json.loads(request.body).get("project")
        except (ValueError, AttributeError):
            continue
        if isinstance(project, str):
            yield project
