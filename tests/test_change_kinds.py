"""The change-kinds table: one test per row (a case that matches, one that does not), and the facts
each event kind gathers from what it already fetched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from painchain_gh.transform.change_kinds import (
    RULES,
    ChangeFacts,
    Rule,
    change_kinds,
    pull_facts,
    push_facts,
    shipped_facts,
)
from painchain_gh.transform.shipped import ShippedPull, pulls_from_commits

FIXTURES = Path(__file__).parent / "fixtures" / "github"

# (kind, meaning) -> (facts the row matches, close facts it does not)
EXAMPLES: dict[tuple[str, str], tuple[ChangeFacts, ChangeFacts]] = {
    ("dependency", "authored by Dependabot or Renovate"): (
        ChangeFacts("pull_request", authors=("dependabot[bot]",)),
        ChangeFacts("pull_request", authors=("alice", "depend-a-bot")),
    ),
    ("dependency", "only lockfiles and package manifests changed"): (
        ChangeFacts("push", files=("package.json", "web/package-lock.json", "requirements-dev.txt", "go.sum")),
        ChangeFacts("push", files=("package.json", "src/index.ts")),
    ),
    ("ci", "a CI definition changed (.github/workflows/, .gitlab-ci.yml, ...)"): (
        ChangeFacts("push", files=("src/app.py", ".github/workflows/deploy.yml")),
        ChangeFacts("push", files=("src/workflows/app.py", "docs/ci.md")),
    ),
    ("infrastructure", "Terraform, Helm, Kubernetes manifests or a Dockerfile changed"): (
        ChangeFacts("deployment", files=("infra/main.tf", "README.md")),
        ChangeFacts("deployment", files=("src/terraform_client.py", "dockerfile_parser.go")),
    ),
    ("revert", 'a revert commit or pull request (Revert "...")'): (
        ChangeFacts("pull_request", titles=('Revert "Fix login redirect"',)),
        ChangeFacts("pull_request", titles=("Reverted cache size to 10",)),
    ),
    ("revert", "labelled revert"): (
        ChangeFacts("pull_request", labels=("Revert",)),
        ChangeFacts("pull_request", labels=("reverted-later",)),
    ),
    ("hotfix", "labelled hotfix"): (
        ChangeFacts("pull_request", labels=("type: hotfix",)),
        ChangeFacts("pull_request", labels=("fix",)),
    ),
    ("hotfix", "from a hotfix branch (hotfix/..., hotfix-...)"): (
        ChangeFacts("pull_request", branches=("hotfix/login-500",)),
        ChangeFacts("pull_request", branches=("feature/hotfixing-docs",)),
    ),
    ("force_push", "a push whose before...head compare is diverged or behind"): (
        ChangeFacts("push", compare_status="diverged"),
        ChangeFacts("deployment", compare_status="diverged"),
    ),
    ("docs", "only documentation changed"): (
        ChangeFacts("pull_request", files=("README.md", "docs/setup.txt", "LICENSE")),
        ChangeFacts("pull_request", files=("README.md", "setup.py")),
    ),
}


def test_every_row_of_the_table_has_an_example() -> None:
    assert {(rule.kind, rule.meaning) for rule in RULES} == set(EXAMPLES)


@pytest.mark.parametrize("rule", RULES, ids=[f"{rule.kind}: {rule.meaning}" for rule in RULES])
def test_row(rule: Rule) -> None:
    matching, other = EXAMPLES[(rule.kind, rule.meaning)]
    assert rule.applies(matching)
    assert not rule.applies(other)
    assert rule.kind in change_kinds(matching)


def test_kinds_come_once_in_table_order_and_nothing_known_is_no_kind() -> None:
    facts = ChangeFacts(
        "push",
        authors=("renovate[bot]",),
        files=("yarn.lock", ".github/workflows/ci.yml"),
        labels=("hotfix",),
        compare_status="behind",
    )
    assert change_kinds(facts) == ["dependency", "ci", "hotfix", "force_push"]
    assert change_kinds(ChangeFacts("push")) == []


def test_force_push_from_a_push_compare_answer() -> None:
    data = {"branch": "main", "commits": []}
    assert change_kinds(push_facts(data, {"status": "diverged", "commits": [], "files": []})) == ["force_push"]
    assert change_kinds(push_facts(data, {"status": "ahead", "commits": [], "files": []})) == []


def test_a_pull_request_judged_on_its_data_then_its_files() -> None:
    data: dict[str, Any] = {"author": "alice", "title": "Tune retries", "labels": [], "head_branch": "ci-speedup"}
    assert change_kinds(pull_facts(data, None)) == []
    files = [{"filename": ".github/workflows/test.yml"}, {"filename": ".gitlab-ci.yml"}]
    assert change_kinds(pull_facts(data, files)) == ["ci"]


def test_a_review_event_is_judged_on_the_pull_requests_author_not_the_reviewer() -> None:
    data = {"author": "bob", "pull_request_author": "dependabot[bot]", "title": "Bump lodash"}
    assert change_kinds(pull_facts(data, None)) == ["dependency"]


def test_recorded_comparison_of_283_commits_is_a_dependency_ci_and_revert_change() -> None:
    compare = json.loads((FIXTURES / "compare_over-250-commits_2021.hub4j.trimmed.json").read_text())
    pulls = pulls_from_commits(compare["commits"]).pulls
    kinds = change_kinds(shipped_facts("deployment", compare, pulls, ref="main"))
    # Dependabot authored some commits, .github/workflows/ files changed, one commit is a Revert "...".
    assert kinds == ["dependency", "ci", "revert"]


def test_recorded_comparison_with_a_workflow_change_is_ci() -> None:
    compare = json.loads((FIXTURES / "compare_merge-and-squash-merges_2019.hub4j.json").read_text())
    kinds = change_kinds(shipped_facts("release", compare, {}, ref=None))
    assert kinds == ["ci"]


def test_shipped_pull_requests_bring_their_labels_and_branches() -> None:
    pulls = {7: ShippedPull(7, "Fix 500", "carol", labels=("hotfix",)), 8: ShippedPull(8, head_branch="hotfix/x")}
    assert change_kinds(shipped_facts("deployment", None, pulls, ref="main")) == ["hotfix"]
