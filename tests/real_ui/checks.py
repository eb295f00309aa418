"""What the real-UI check fills in, and how it judges what the browser saw (pure: no I/O, tested in CI).

The form follows whatever ``configSchema`` the connector registered: the plan fills only the fields it
marks as required, with a value chosen by the field's key; a required field this check has no value for
is reported, not guessed. Observations come from ``browser.mjs`` as plain
JSON (lists of dicts); each check turns them into a ``Check`` with a one-line detail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

ITEMS_COUNT = re.compile(r"^\d+ items?$")  # what the generic renderer shows for a list of objects


@dataclass(frozen=True)
class FillStep:
    """One field to fill: its visible label, the control a person uses, and what they type."""

    key: str
    label: str
    kind: str  # "chips" (type, Enter), "textarea", "password", "text"
    value: str = ""
    values: tuple[str, ...] = ()

    def to_job(self) -> JSON:
        """The step as ``browser.mjs`` reads it."""
        return {
            "key": self.key,
            "label": self.label,
            "kind": self.kind,
            "value": self.value,
            "values": list(self.values),
        }


@dataclass(frozen=True)
class FormPlan:
    """What to fill, what to add if the form refuses, and the required fields nobody can fill."""

    fill: tuple[FillStep, ...]
    if_refused: tuple[FillStep, ...]
    unknown_required: tuple[str, ...]

    def to_job(self) -> JSON:
        """The plan as ``browser.mjs`` reads it."""
        return {"fill": [s.to_job() for s in self.fill], "ifRefused": [s.to_job() for s in self.if_refused]}


@dataclass(frozen=True)
class FormValues:
    """What a person would type into an integration form: the name, text by field key (a token, the JSON
    of the repositories box, an App id...), and a tag to add if the form refuses without one."""

    name: str
    typed: Mapping[str, str]
    tag: str


def schema_fields(schema: object) -> list[JSON]:
    """The ``fields`` of a registered ``configSchema`` (or of the type record holding it); [] when absent."""
    record = schema if isinstance(schema, Mapping) else {}
    config = record.get("configSchema", record)
    fields = config.get("fields") if isinstance(config, Mapping) else None
    return (
        [dict(f) for f in fields if isinstance(f, Mapping) and isinstance(f.get("key"), str)]
        if isinstance(fields, list)
        else []
    )


def control_kind(schema_field: Mapping[str, Any]) -> str:
    """The control the frontend draws for a field: the ``tags`` key is a chip input; textarea and password
    are their own; every other type (checkbox and select included) is a one-line text input."""
    if schema_field.get("key") == "tags":
        return "chips"
    kind = schema_field.get("type")
    return kind if kind in ("textarea", "password") else "text"


def _step(schema_field: Mapping[str, Any], values: FormValues) -> FillStep | None:
    key = str(schema_field["key"])
    label = str(schema_field.get("label") or key)
    kind = control_kind(schema_field)
    typed = {**values.typed, "name": values.name}
    if key == "tags":
        return FillStep(key, label, kind, values=(values.tag,))
    if key in typed:
        return FillStep(key, label, kind, value=typed[key])
    return None


def form_plan(fields: Sequence[Mapping[str, Any]], values: FormValues) -> FormPlan:
    """Fill only the fields marked required; a tag only if the form refuses without one."""
    fill: list[FillStep] = []
    unknown: list[str] = []
    for schema_field in fields:
        if not schema_field.get("required"):
            continue
        step = _step(schema_field, values)
        if step is None:
            unknown.append(str(schema_field.get("label") or schema_field["key"]))
        else:
            fill.append(step)
    tags = next((f for f in fields if f.get("key") == "tags"), None)
    later = () if tags is None or any(s.key == "tags" for s in fill) else (_step(tags, values),)
    return FormPlan(tuple(fill), tuple(s for s in later if s is not None), tuple(unknown))


@dataclass(frozen=True)
class Check:
    """One verdict: ``ok`` is None when it could not be judged (a step before it failed)."""

    name: str
    ok: bool | None
    detail: str

    @property
    def label(self) -> str:
        """``PASS``, ``FAIL`` or ``SKIP``."""
        return "SKIP" if self.ok is None else "PASS" if self.ok else "FAIL"


def check_form_fields(
    schema: Sequence[Mapping[str, Any]], shown: Sequence[Mapping[str, Any]], form: str = "the form"
) -> Check:
    """The form shows every registered field, in the registered order, with the required mark the schema
    gives it."""
    by_label = {str(f.get("label")): f for f in shown}
    problems: list[str] = []
    for schema_field in schema:
        label = str(schema_field.get("label") or schema_field["key"])
        seen = by_label.get(label)
        if seen is None:
            problems.append(f"{label!r} is not shown")
        elif bool(seen.get("required")) != bool(schema_field.get("required")):
            problems.append(f"{label!r} is {'not ' if not seen.get('required') else ''}marked required")
    registered = [str(f.get("label") or f["key"]) for f in schema]
    extra = sorted(set(by_label) - set(registered))
    problems += [f"{label!r} is shown but not registered" for label in extra]
    order = [str(f.get("label")) for f in shown if str(f.get("label")) in registered]
    if not problems and order != registered:
        problems.append("the fields are not in the registered order: " + ", ".join(order))
    required = [label for label in registered if by_label.get(label, {}).get("required")]
    detail = "; ".join(problems) or f"{len(schema)} fields in order, marked required: {', '.join(required)}"
    return Check(f"{form} shows the registered fields", not problems, detail)


def describe_fields(shown: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per field as the form shows it (passwords only as set or empty)."""
    lines = []
    for f in shown:
        if f.get("control") == "input:password":
            value = "(set)" if f.get("hasValue") else "(empty)"
        elif f.get("control") == "chips":
            value = "chips [" + ", ".join(str(c) for c in f.get("chips") or []) + "]"
        else:
            value = repr(str(f.get("value", "")))
        mark = " *" if f.get("required") else ""
        lines.append(f"{f.get('label')}{mark} [{f.get('control')}]: {value}")
    return lines


def check_form_accepts(plan: FormPlan, created: Mapping[str, Any], form: str = "the form") -> Check:
    """The form saved the integration filled in only where it marks a field required."""
    name = f"{form} saves with only its required fields filled in"
    if plan.unknown_required:
        return Check(name, False, "no value known for required field(s): " + ", ".join(plan.unknown_required))
    attempts: list[Mapping[str, Any]] = list(created.get("attempts") or [])
    if not attempts:
        return Check(name, None, str(created.get("error") or created.get("reason") or "the form was not submitted"))
    first = attempts[0]
    if first.get("closed") and not first.get("dialogs"):
        return Check(name, True, "saved on the first submit, no alert")
    said = " / ".join(str(d) for d in first.get("dialogs") or []) or "no message"
    after = " (saved after adding a tag)" if len(attempts) > 1 and attempts[-1].get("closed") else ""
    return Check(name, False, f"first submit refused: {said}{after}")


def card(cards: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    """The integrations-list card of ``name``."""
    return next((c for c in cards if c.get("name") == name), None)


def check_status(cards: Sequence[Mapping[str, Any]], name: str, want: str, *, synced: bool, what: str) -> Check:
    """The list shows ``name`` with status ``want`` (and a last sync when ``synced``)."""
    found = card(cards, name)
    if found is None:
        return Check(what, False, f"{name!r} is not in the integrations list")
    status, last = str(found.get("status")), str(found.get("lastSync"))
    ok = status.lower() == want and (not synced or (bool(last) and last != "Never"))
    return Check(what, ok, f"{name!r}: status {status!r}, last sync {last!r}")


def reason_fields(shown: Sequence[Mapping[str, Any]], filled_labels: Iterable[str]) -> list[str]:
    """Fields of an integration's form, not typed by the person, that hold text (where a reason can show)."""
    typed = set(filled_labels)
    lines = []
    for f in shown:
        text = str(f.get("value") or "").strip()
        if f.get("label") in typed or f.get("control") == "input:password" or text in ("", "{}", "[]", '""'):
            continue
        lines.append(f"{f.get('label')}: {text}")
    return lines


def check_reason(shown: Sequence[Mapping[str, Any]] | None, filled_labels: Iterable[str], hint: str) -> Check:
    """The broken integration's form says why (text mentioning ``hint``, e.g. the missing repository)."""
    what = "a broken integration shows its reason in the UI"
    if shown is None:
        return Check(what, None, "its form could not be opened")
    lines = reason_fields(shown, filled_labels)
    mentions = [line for line in lines if hint.lower() in line.lower()]
    if mentions:
        return Check(what, True, " | ".join(mentions))
    return Check(what, False, "not shown" + (f" (other text: {' | '.join(lines)})" if lines else ""))


def check_reason_cleared(
    shown: Sequence[Mapping[str, Any]] | None, filled_labels: Iterable[str], hint: str, *, shown_before: bool
) -> Check:
    """Once fixed and synced, no field still shows the old reason (judged only if a reason was shown)."""
    what = "the reason is cleared once the integration syncs again"
    if not shown_before:
        return Check(what, None, "no reason was shown while it was broken")
    if shown is None:
        return Check(what, None, "its form could not be opened")
    stale = [line for line in reason_fields(shown, filled_labels) if hint.lower() in line.lower()]
    return Check(what, not stale, " | ".join(stale) or "no reason left")


def event_kind(event_card: Mapping[str, Any]) -> str | None:
    """``push``, ``merged``, ``failed_run`` or ``deployment`` for a timeline card, from its details (the
    ``Event Type`` row) or, failing that, its title; None for anything else."""
    rows = {str(r.get("key")).lower(): str(r.get("text")) for r in event_card.get("details") or []}
    kind = rows.get("event type", "").strip().lower()
    title = str(event_card.get("title", ""))
    if kind == "push" or (not kind and title.startswith("Push")):
        return "push"
    if (kind == "pull_request" or not kind) and "merged" in title.lower() and "pull request" in title.lower():
        return "merged"
    run_failed = "failure" in title.lower() or rows.get("conclusion", "").lower() in ("failure", "timed_out")
    if (kind == "workflow_run" or (not kind and "[Workflow]" in title)) and run_failed:
        return "failed_run"
    if kind == "deployment" or (not kind and title.startswith("Deployment")):
        return "deployment"
    return None


KIND_NAMES = {
    "push": "a push",
    "merged": "a merged pull request",
    "failed_run": "a failed workflow run",
    "deployment": "a deployment",
}


def project_of(event_card: Mapping[str, Any]) -> str:
    """The repository a card names ("Repository: acme/api" -> "acme/api")."""
    return str(event_card.get("project", "")).removeprefix("Repository:").strip()


def cards_by_kind(cards: Sequence[Mapping[str, Any]], prefer: str = "") -> dict[str, Mapping[str, Any]]:
    """The newest timeline card of each kind, from repository ``prefer`` when it has one."""
    found: dict[str, Mapping[str, Any]] = {}
    ordered = [c for c in cards if project_of(c) == prefer] + [c for c in cards if project_of(c) != prefer]
    for c in ordered:
        kind = event_kind(c)
        if kind is not None and kind not in found:
            found[kind] = c
    return found


def check_timeline_kinds(cards: Sequence[Mapping[str, Any]], prefer: str = "") -> Check:
    """The timeline shows a push, a merged pull request, a failed run and a deployment (named from ``prefer``)."""
    found = cards_by_kind(cards, prefer)
    missing = [KIND_NAMES[k] for k in KIND_NAMES if k not in found]
    detail = "; ".join(f"{KIND_NAMES[k]}: {found[k].get('title')!r}" for k in KIND_NAMES if k in found)
    if missing:
        detail = "missing " + ", ".join(missing) + (f" ({detail})" if detail else "")
    return Check("the timeline shows a push, a merged pull request, a failed run and a deployment", not missing, detail)


TIME_TEXT = re.compile(r"^(just now|\d+ (minute|hour|day)s? ago|\d{1,2}/\d{1,2}/\d{4})$")  # formatRelativeTime
TIME_KEY = re.compile(r"( At$|Time|Date)")  # the renderer's key-name rules for times, after formatKey


def time_rows(event_card: Mapping[str, Any]) -> list[str]:
    """Rows shown as a time although their key names no time (the renderer's ``Date.parse`` is lenient:
    "Bump version to 2.4.1" or "feature-12" read as dates in 2001)."""
    return [
        f"{r.get('key')}: {r.get('text')}"
        for r in event_card.get("details") or []
        if TIME_TEXT.match(str(r.get("text"))) and not TIME_KEY.search(str(r.get("key")))
    ]


# The structured lists events keep for machines (issue 18: "keep the structured lists for machines"), each
# sent beside a readable companion, a list of strings with one entry per item; keys as the card titles them.
READABLE_COMPANIONS = {
    "Commits": "Commit List",
    "Rolled Back Commits": "Rolled Back Commit List",
    "Failed Jobs": "Failed Job List",
    "Pull Request Numbers": "Pull Requests",
    "Rolled Back Pull Request Numbers": "Rolled Back Pull Requests",
}


def counted_rows(event_card: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The rows of a card that read only "N items": (those whose readable companion on the same card shows
    the same N entries as text, those shown only as a count, each with what is missing)."""
    rows = {str(r.get("key")): r for r in event_card.get("details") or []}
    beside: list[str] = []
    alone: list[str] = []
    for key, row in rows.items():
        text = str(row.get("text"))
        if not ITEMS_COUNT.match(text):
            continue
        count = int(text.split()[0])
        companion = READABLE_COMPANIONS.get(key)
        entries = rows.get(companion or "", {}).get("entries")
        if companion is None:
            alone.append(f"{key}: {text}")
        elif not isinstance(entries, list):
            alone.append(f"{key}: {text}, without its {companion} as text")
        elif len(entries) != count:
            alone.append(f"{key}: {text}, but {companion} shows {len(entries)}")
        else:
            beside.append(f"{key}: {text} beside {companion}")
    return beside, alone


def check_readable(
    cards: Sequence[Mapping[str, Any]], kind: str, expected: Sequence[str], what: str, *, project: str
) -> Check:
    """The expanded card of ``kind`` from ``project`` shows each ``expected`` text, and every row that reads
    "N items" has its readable companion on the card, N entries shown as text."""
    found = cards_by_kind(cards, project).get(kind)
    if found is None:
        return Check(what, None, f"no card for {KIND_NAMES[kind]} in the timeline")
    text = " ".join(str(r.get("text")) for r in found.get("details") or [])
    absent = [e for e in expected if e not in text]
    beside, alone = counted_rows(found)
    problems = ([f"not shown: {', '.join(repr(a) for a in absent)}"] if absent else []) + (
        [f"shown only as a count: {'; '.join(alone)}"] if alone else []
    )
    detail = "shown as text: " + ", ".join(repr(e) for e in expected) + "".join(f"; {row}" for row in beside)
    return Check(what, not problems, "; ".join(problems) or detail)


def row_text(row: Mapping[str, Any]) -> str:
    """A card's row as one line: its chips separated by " | ", any other value as its text."""
    entries = row.get("entries")
    return " | ".join(str(e) for e in entries) if isinstance(entries, list) and entries else str(row.get("text"))


@dataclass
class Report:
    """Everything the run prints at the end: steps with their time, facts, checks, screenshots."""

    title: str
    steps: list[tuple[str, float]] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    screenshots: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        """Checks that failed (SKIP does not count: a failed step already reported it)."""
        return [c for c in self.checks if c.ok is False]

    def text(self) -> str:
        """The report as plain lines."""
        lines = [self.title, "", "Steps:"]
        lines += [f"  {seconds:7.1f} s  {name}" for name, seconds in self.steps]
        lines += ["", "What was created and what the UI shows:"] + [f"  {fact}" for fact in self.facts]
        lines += ["", "Checks:"] + [f"  {c.label}  {c.name}: {c.detail}" for c in self.checks]
        lines += ["", "Screenshots:"] + [f"  {path}  {about}" for path, about in self.screenshots]
        verdict = f"{len(self.failed)} of {len(self.checks)} checks failed" if self.failed else "all checks passed"
        return "\n".join([*lines, "", verdict])
