"""Change kinds: what sort of change an event carried, from what was already fetched (pure).

``data.change_kinds`` is a list of strings (shown as chips by PainChain's timeline), computed from
the files, authors, titles, labels, branches and compare status an event's own requests returned;
it never costs a request. The rules are the table :data:`RULES`, one row each, in the order the
kinds are listed; a kind appears once however many rows match.

Files come from a compare (pushes, deployments, releases) or from a pull request's first page of
files; an event without files (a trimmed push whose compare failed, a closed pull request) is judged
on its authors, titles, labels and branches alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from painchain_gh.transform.common import as_dict, as_str
from painchain_gh.transform.shipped import ShippedPull, commit_author, commit_message, commits_of, file_names, is_revert

DEPENDENCY_BOTS = ("dependabot", "renovate")  # dependabot[bot], dependabot-preview[bot], renovate[bot], renovate-bot
LOCKFILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "bun.lock",
        "gemfile.lock",
        "cargo.lock",
        "go.sum",
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "composer.lock",
        "mix.lock",
        "packages.lock.json",
        "gradle.lockfile",
        "pubspec.lock",
        "podfile.lock",
        "flake.lock",
    }
)
MANIFESTS = frozenset(
    {
        "package.json",
        "go.mod",
        "cargo.toml",
        "pyproject.toml",
        "pipfile",
        "gemfile",
        "composer.json",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "pubspec.yaml",
        "podfile",
        "mix.exs",
        "directory.packages.props",
    }
)
_REQUIREMENTS = re.compile(r"^requirements([-_.][\w.-]*)?\.(txt|in)$")
CI_PREFIXES = (".github/workflows/", ".github/actions/", ".circleci/", ".buildkite/", ".woodpecker/")
CI_FILES = frozenset(
    {
        ".gitlab-ci.yml",
        "jenkinsfile",
        ".travis.yml",
        "azure-pipelines.yml",
        "bitbucket-pipelines.yml",
        ".drone.yml",
        "appveyor.yml",
        ".woodpecker.yml",
        "cloudbuild.yaml",
    }
)
INFRA_SUFFIXES = (".tf", ".tfvars", ".hcl", ".dockerfile")
INFRA_DIRS = frozenset({"charts", "helm", "k8s", "kubernetes", "manifests", "terraform", "kustomize"})
INFRA_FILES = frozenset({"chart.yaml", "kustomization.yaml", "kustomization.yml", "compose.yaml", "compose.yml"})
DOC_SUFFIXES = (".md", ".markdown", ".rst", ".adoc", ".asciidoc")
DOC_DIRS = frozenset({"docs", "doc", "documentation"})
DOC_NAMES = frozenset({"readme", "license", "licence", "changelog", "changes", "contributing", "authors", "notice"})
_HOTFIX_BRANCH = re.compile(r"(^|/)hot-?fix(es)?([/_.-]|$)", re.IGNORECASE)
FORCE_PUSH_STATUSES = frozenset({"diverged", "behind"})


@dataclass(frozen=True)
class ChangeFacts:
    """What an event tells about its change, gathered from answers already fetched."""

    event_type: str
    authors: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()  # pull request titles and commit messages
    labels: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    compare_status: str | None = None


@dataclass(frozen=True)
class Rule:
    """One row of the table: the kind it adds, what it means, and the test."""

    kind: str
    meaning: str
    applies: Callable[[ChangeFacts], bool]


def _basename(path: str) -> str:
    return PurePosixPath(path).name.lower()


def _directories(path: str) -> set[str]:
    return {part.lower() for part in PurePosixPath(path).parts[:-1]}


def is_dependency_bot(author: str) -> bool:
    """Dependabot or Renovate, by login or git author name."""
    return author.lower().startswith(DEPENDENCY_BOTS)


def is_dependency_file(path: str) -> bool:
    """A lockfile or a package manifest."""
    name = _basename(path)
    return name in LOCKFILES or name in MANIFESTS or _REQUIREMENTS.match(name) is not None


def is_ci_file(path: str) -> bool:
    """A CI definition (GitHub Actions workflows and actions, GitLab, CircleCI, Jenkins, ...)."""
    return path.lower().startswith(CI_PREFIXES) or _basename(path) in CI_FILES


def is_infrastructure_file(path: str) -> bool:
    """Terraform, Helm charts, Kubernetes manifests, Dockerfiles and compose files."""
    name = _basename(path)
    return (
        name.endswith(INFRA_SUFFIXES)
        or name == "dockerfile"
        or name.startswith("dockerfile.")
        or name.startswith("docker-compose")
        or name in INFRA_FILES
        or bool(_directories(path) & INFRA_DIRS)
    )


def is_documentation_file(path: str) -> bool:
    """Markdown, reStructuredText or AsciiDoc, anything under ``docs/``, README, LICENSE, ..."""
    name = _basename(path)
    return name.endswith(DOC_SUFFIXES) or bool(_directories(path) & DOC_DIRS) or PurePosixPath(name).stem in DOC_NAMES


def _only(files: tuple[str, ...], test: Callable[[str], bool]) -> bool:
    return bool(files) and all(test(path) for path in files)


RULES: tuple[Rule, ...] = (
    Rule("dependency", "authored by Dependabot or Renovate", lambda f: any(map(is_dependency_bot, f.authors))),
    Rule("dependency", "only lockfiles and package manifests changed", lambda f: _only(f.files, is_dependency_file)),
    Rule(
        "ci",
        "a CI definition changed (.github/workflows/, .gitlab-ci.yml, ...)",
        lambda f: any(map(is_ci_file, f.files)),
    ),
    Rule(
        "infrastructure",
        "Terraform, Helm, Kubernetes manifests or a Dockerfile changed",
        lambda f: any(map(is_infrastructure_file, f.files)),
    ),
    Rule("revert", 'a revert commit or pull request (Revert "...")', lambda f: any(map(is_revert, f.titles))),
    Rule("revert", "labelled revert", lambda f: any(label.lower() == "revert" for label in f.labels)),
    Rule("hotfix", "labelled hotfix", lambda f: any("hotfix" in label.lower() for label in f.labels)),
    Rule(
        "hotfix", "from a hotfix branch (hotfix/..., hotfix-...)", lambda f: any(map(_HOTFIX_BRANCH.search, f.branches))
    ),
    Rule(
        "force_push",
        "a push whose before...head compare is diverged or behind",
        lambda f: f.event_type == "push" and f.compare_status in FORCE_PUSH_STATUSES,
    ),
    Rule("docs", "only documentation changed", lambda f: _only(f.files, is_documentation_file)),
)


def change_kinds(facts: ChangeFacts) -> list[str]:
    """The kinds of :data:`RULES` that apply, each once, in table order."""
    kinds: list[str] = []
    for rule in RULES:
        if rule.kind not in kinds and rule.applies(facts):
            kinds.append(rule.kind)
    return kinds


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(values: Iterable[object]) -> tuple[str, ...]:
    return tuple(text for value in values if (text := as_str(value)))


def push_facts(data: Mapping[str, Any], compare: Mapping[str, Any] | None) -> ChangeFacts:
    """A push: its commits' authors and messages, its branch, the compare's files and status."""
    commits = commits_of(compare)
    listed = _list(data.get("commits"))
    return ChangeFacts(
        event_type="push",
        authors=_strings([*(commit_author(c) for c in commits), *(as_dict(c).get("author") for c in listed)]),
        titles=_strings([*(commit_message(c) for c in commits), *(as_dict(c).get("message") for c in listed)]),
        branches=_strings([data.get("branch")]),
        files=tuple(file_names(compare)),
        compare_status=as_str(as_dict(compare).get("status")),
    )


def pull_facts(data: Mapping[str, Any], files: list[Any] | None) -> ChangeFacts:
    """A pull request (or a review of one): author, title, labels, head branch, the files page."""
    labels = _list(data.get("labels"))
    return ChangeFacts(
        event_type="pull_request",
        authors=_strings([data.get("pull_request_author") or data.get("author")]),
        titles=_strings([data.get("title")]),
        labels=_strings(labels),
        branches=_strings([data.get("head_branch")]),
        files=tuple(file_names(files or [])),
    )


def shipped_facts(
    event_type: str, compare: Mapping[str, Any] | None, pulls: Mapping[int, ShippedPull], *, ref: str | None
) -> ChangeFacts:
    """A deployment or release: the shipped commits and pull requests, the ref, the compare's files."""
    commits = commits_of(compare)
    return ChangeFacts(
        event_type=event_type,
        authors=_strings([*(commit_author(c) for c in commits), *(pull.author for pull in pulls.values())]),
        titles=_strings([*(commit_message(c) for c in commits), *(pull.title for pull in pulls.values())]),
        labels=tuple(label for pull in pulls.values() for label in pull.labels),
        branches=_strings([ref, *(pull.head_branch for pull in pulls.values())]),
        files=tuple(file_names(compare)),
    )
