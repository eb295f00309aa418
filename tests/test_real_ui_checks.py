"""The real-UI check's own logic, without a browser or PainChain: what it fills in from a registered schema,
how it judges what the page showed, its report, and that it skips when not pointed at a checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.real_ui import checks, services
from tests.real_ui.checks import Check, FormValues, Report
from tests.real_ui.run import main

VALUES = FormValues("Platform repos", {"token": "ghp_secret", "repositories": '["acme/api","acme/web"]'}, "platform")


def field(key: str, label: str, kind: str = "text", *, required: bool = False) -> dict[str, Any]:
    return {"key": key, "label": label, "type": kind, "required": required, "help": ""}


SCHEMA = [
    field("name", "Name", required=True),
    field("tags", "Tags"),
    field("token", "GitHub token", "password", required=True),
    field("repositories", "Repositories", "textarea", required=True),
    field("events", "Events", "textarea"),
    field("containerImages", "Container images", "checkbox"),
]


def shown(label: str, control: str = "input:text", value: str = "", *, required: bool = False) -> dict[str, Any]:
    return {"label": label, "required": required, "control": control, "value": value, "hasValue": bool(value)}


# -- what the check fills in ------------------------------------------------------------------


def test_the_plan_fills_only_the_required_fields_and_keeps_a_tag_for_a_refusal() -> None:
    plan = checks.form_plan(SCHEMA, VALUES)
    optional_token = [f if f["key"] != "token" else {**f, "required": False} for f in SCHEMA]

    assert [(s.label, s.kind, s.value) for s in plan.fill] == [
        ("Name", "text", "Platform repos"),
        ("GitHub token", "password", "ghp_secret"),
        ("Repositories", "textarea", '["acme/api","acme/web"]'),
    ]
    assert [(s.label, s.kind, s.values) for s in plan.if_refused] == [("Tags", "chips", ("platform",))]
    assert plan.unknown_required == ()
    assert [s.key for s in checks.form_plan(optional_token, VALUES).fill] == ["name", "repositories"]


def test_a_required_tags_field_is_filled_as_chips_up_front() -> None:
    schema = [field("name", "Name", required=True), field("tags", "Tags", "textarea", required=True)]

    plan = checks.form_plan(schema, VALUES)

    assert [(s.key, s.kind, s.values) for s in plan.fill] == [("name", "text", ()), ("tags", "chips", ("platform",))]
    assert plan.if_refused == ()


def test_a_required_field_the_check_has_no_value_for_is_reported_not_guessed() -> None:
    schema = [field("name", "Name", required=True), field("region", "Region", required=True)]

    plan = checks.form_plan(schema, VALUES)

    assert [s.key for s in plan.fill] == ["name"]
    assert plan.unknown_required == ("Region",)
    verdict = checks.check_form_accepts(plan, {"attempts": [{"closed": True, "dialogs": []}]})
    assert verdict.ok is False
    assert "Region" in verdict.detail


@pytest.mark.parametrize(
    ("schema_field", "control"),
    [
        (field("tags", "Tags", "textarea"), "chips"),
        (field("repositories", "Repositories", "textarea"), "textarea"),
        (field("token", "Token", "password"), "password"),
        (field("containerImages", "Container images", "checkbox"), "text"),
        (field("mode", "Mode", "select"), "text"),
    ],
)
def test_controls_are_the_ones_the_frontend_draws(schema_field: dict[str, Any], control: str) -> None:
    assert checks.control_kind(schema_field) == control


def test_the_plan_is_sent_to_the_browser_as_plain_json() -> None:
    job = checks.form_plan(SCHEMA, VALUES).to_job()

    assert job["fill"][0] == {"key": "name", "label": "Name", "kind": "text", "value": "Platform repos", "values": []}
    assert job["ifRefused"][0]["values"] == ["platform"]


@pytest.mark.parametrize(
    ("answer", "keys"),
    [
        ({"id": "github", "configSchema": {"fields": SCHEMA}}, [f["key"] for f in SCHEMA]),
        ({"fields": [SCHEMA[0], "junk", {"label": "no key"}]}, ["name"]),
        ({"configSchema": {"fields": "not a list"}}, []),
        (None, []),
        (["fields"], []),
    ],
)
def test_schema_fields_come_from_the_type_record_or_the_bare_schema(answer: object, keys: list[str]) -> None:
    assert [f["key"] for f in checks.schema_fields(answer)] == keys


# -- the form -----------------------------------------------------------------------------------


def test_the_form_matches_its_schema_when_every_field_and_required_mark_is_there_in_order() -> None:
    seen = [shown(str(f["label"]), required=bool(f["required"])) for f in SCHEMA]

    verdict = checks.check_form_fields(SCHEMA, seen, "the GitHub form")
    assert (verdict.name, verdict.ok) == ("the GitHub form shows the registered fields", True)
    assert verdict.detail == "6 fields in order, marked required: Name, GitHub token, Repositories"
    swapped = checks.check_form_fields(SCHEMA, [seen[1], seen[0], *seen[2:]])
    assert swapped.ok is False and swapped.detail.startswith("the fields are not in the registered order: Tags, Name")


def test_a_missing_field_a_wrong_required_mark_and_an_unregistered_field_are_each_named() -> None:
    seen = [shown("Name"), shown("Tags", "chips"), shown("Repositories", "textarea"), shown("Surprise")]

    verdict = checks.check_form_fields(SCHEMA[:4], seen)

    assert verdict.ok is False
    assert "'Name' is not marked required" in verdict.detail
    assert "'Repositories' is not marked required" in verdict.detail
    assert "'GitHub token' is not shown" in verdict.detail
    assert "'Surprise' is shown but not registered" in verdict.detail


def test_the_form_accepts_when_the_first_submit_saves_without_an_alert() -> None:
    plan = checks.form_plan(SCHEMA, VALUES)

    assert checks.check_form_accepts(plan, {"attempts": [{"closed": True, "dialogs": []}]}).ok is True


def test_a_refused_first_submit_fails_with_the_alert_even_when_a_tag_saves_it_later() -> None:
    plan = checks.form_plan(SCHEMA, VALUES)
    attempts = [{"closed": False, "dialogs": ["Tags must be a valid JSON array"]}, {"closed": True, "dialogs": []}]

    verdict = checks.check_form_accepts(plan, {"attempts": attempts})

    assert verdict.ok is False
    assert verdict.detail == "first submit refused: Tags must be a valid JSON array (saved after adding a tag)"


def test_an_unsubmitted_form_is_not_judged() -> None:
    plan = checks.form_plan(SCHEMA, VALUES)

    assert checks.check_form_accepts(plan, {"attempts": [], "error": "timeout"}, "the GitHub App form") == Check(
        "the GitHub App form saves with only its required fields filled in", None, "timeout"
    )


def test_password_values_never_appear_in_the_description_of_a_form() -> None:
    lines = checks.describe_fields(
        [shown("GitHub token", "input:password", "ghp_secret"), shown("Tags", "chips") | {"chips": ["a", "b"]}]
    )

    assert lines == ["GitHub token [input:password]: (set)", "Tags [chips]: chips [a, b]"]


# -- the integrations list ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "want", "synced", "ok"),
    [
        ({"name": "A", "status": "active", "lastSync": "12/3/2026, 7:38:55 AM"}, "active", True, True),
        ({"name": "A", "status": "ACTIVE", "lastSync": "12/3/2026"}, "active", True, True),
        ({"name": "A", "status": "active", "lastSync": "Never"}, "active", True, False),
        ({"name": "A", "status": "error", "lastSync": "Never"}, "error", False, True),
        ({"name": "A", "status": "active", "lastSync": "Never"}, "error", False, False),
        ({"name": "B", "status": "error", "lastSync": "Never"}, "error", False, False),
    ],
)
def test_status_checks_read_the_badge_and_the_last_sync(
    card: dict[str, str], want: str, synced: bool, ok: bool
) -> None:
    assert checks.check_status([card], "A", want, synced=synced, what="x").ok is ok


def test_the_reason_counts_only_where_the_person_did_not_type_it() -> None:
    form = [shown("Repositories", "textarea", '["acme/dcos"]'), shown("Events", "textarea", "")]
    with_reason = [*form, shown("Last error", value="acme/dcos: GitHub answered 404")]

    missing = checks.check_reason(form, {"Repositories"}, "acme/dcos")
    found = checks.check_reason(with_reason, {"Repositories"}, "acme/dcos")

    assert (missing.ok, missing.detail) == (False, "not shown")
    assert (found.ok, found.detail) == (True, "Last error: acme/dcos: GitHub answered 404")
    assert checks.check_reason(None, {"Repositories"}, "acme/dcos").ok is None


def test_other_text_is_quoted_when_the_reason_is_not_shown() -> None:
    verdict = checks.check_reason([shown("Events", "textarea", "{}"), shown("Mode", value="fast")], set(), "acme/dcos")

    assert verdict.detail == "not shown (other text: Mode: fast)"


def test_the_reason_must_be_gone_after_a_good_sync_and_is_only_judged_if_it_was_shown() -> None:
    stale = [shown("Last error", value="acme/dcos: not found")]

    assert checks.check_reason_cleared(stale, set(), "acme/dcos", shown_before=True).ok is False
    assert checks.check_reason_cleared([shown("Last error")], set(), "acme/dcos", shown_before=True).ok is True
    assert checks.check_reason_cleared(stale, set(), "acme/dcos", shown_before=False).ok is None


# -- the timeline -----------------------------------------------------------------------------------


def row(key: str, value: str | list[str]) -> dict[str, Any]:
    """A card's row as browser.mjs reads it: a list of strings is drawn as chips (entries)."""
    title = key.replace("_", " ").title()
    if isinstance(value, list):
        return {"key": title, "text": " ".join(value), "entries": value}
    return {"key": title, "text": value, "entries": None}


def event(title: str, project: str = "acme/api", **rows: str | list[str]) -> dict[str, Any]:
    details = [row(key, value) for key, value in rows.items()]
    return {"title": title, "project": f"Repository: {project}", "details": details}


TIMELINE = [
    event("Push to main (1 commit)", "acme/docs", event_type="push", commits="1 items"),
    event("Deployment to production: success", event_type="deployment", state="success"),
    event("[Workflow] CI: failure", event_type="workflow_run", conclusion="failure", failed_jobs="1 items"),
    event("[Workflow] CI: success", event_type="workflow_run", conclusion="success"),
    event(
        "Push to main (2 commits)",
        event_type="push",
        commits="2 items",
        commit_list=["1c860cd Fix login redirect loop (alice)", "d6bb434 Retry webhooks (alice)"],
    ),
    event("Pull request merged: Fix login redirect", event_type="pull_request", action="merged"),
    event("Pull request opened: Add retries", event_type="pull_request", action="opened"),
]


def test_cards_are_sorted_into_kinds_by_their_event_type_or_title() -> None:
    kinds = [checks.event_kind(card) for card in TIMELINE]
    untyped = [checks.event_kind({"title": t}) for t in ("Push to main", "[Workflow] CI: failure", "Deployment to x")]

    assert kinds == ["push", "deployment", "failed_run", None, "push", "merged", None]
    assert untyped == ["push", "failed_run", "deployment"]


def test_the_card_of_a_kind_comes_from_the_preferred_repository_when_it_has_one() -> None:
    assert checks.cards_by_kind(TIMELINE)["push"]["title"] == "Push to main (1 commit)"
    assert checks.cards_by_kind(TIMELINE, "acme/api")["push"]["title"] == "Push to main (2 commits)"


def test_the_timeline_must_hold_all_four_kinds() -> None:
    assert checks.check_timeline_kinds(TIMELINE).ok is True
    assert "a push: 'Push to main (2 commits)'" in checks.check_timeline_kinds(TIMELINE, "acme/api").detail
    verdict = checks.check_timeline_kinds(TIMELINE[:2])
    assert verdict.ok is False
    assert verdict.detail == (
        "missing a merged pull request, a failed workflow run"
        " (a push: 'Push to main (1 commit)'; a deployment: 'Deployment to production: success')"
    )


def test_readable_means_the_text_is_there_and_every_count_has_its_text_beside_it() -> None:
    commits = ("Fix login redirect loop", "Retry webhooks")

    push = checks.check_readable(TIMELINE, "push", commits, "commits", project="acme/api")
    run = checks.check_readable(TIMELINE, "failed_run", ("test",), "jobs", project="acme/api")
    docs = checks.check_readable(TIMELINE, "push", commits, "commits", project="acme/docs")

    assert (push.ok, push.detail) == (
        True,
        "shown as text: 'Fix login redirect loop', 'Retry webhooks'; Commits: 2 items beside Commit List",
    )
    assert (run.ok, run.detail) == (
        False,
        "not shown: 'test'; shown only as a count: Failed Jobs: 1 items, without its Failed Job List as text",
    )
    assert docs.ok is False
    assert checks.check_readable([], "push", commits, "commits", project="acme/api").ok is None


@pytest.mark.parametrize(
    ("rows", "beside", "alone"),
    [
        ({"failed_jobs": "2 items", "failed_job_list": ["test: Run", "lint: Ruff"]}, 1, []),
        (
            {"failed_jobs": "2 items", "failed_job_list": ["test: Run"]},
            0,
            ["Failed Jobs: 2 items, but Failed Job List shows 1"],
        ),
        (
            {"failed_jobs": "1 items", "failed_job_list": "test: Run"},
            0,
            ["Failed Jobs: 1 items, without its Failed Job List as text"],
        ),
        ({"pull_request_numbers": "1 items", "pull_requests": ["#42 Fix (alice)"]}, 1, []),
        ({"reviews": "3 items", "review_list": ["bob", "carol", "dave"]}, 0, ["Reviews: 3 items"]),
        ({"commits": "empty", "commit_list": "empty"}, 0, []),
    ],
)
def test_a_count_passes_only_beside_its_own_companion_entry_for_entry(
    rows: dict[str, str | list[str]], beside: int, alone: list[str]
) -> None:
    found = checks.counted_rows({"title": "Push", "details": [row(key, value) for key, value in rows.items()]})

    assert (len(found[0]), found[1]) == (beside, alone)


def test_a_row_is_rendered_as_its_chips_or_its_text() -> None:
    assert checks.row_text(row("commit_list", ["1c860cd Fix (alice)", "d6bb434 Retry (alice)"])) == (
        "1c860cd Fix (alice) | d6bb434 Retry (alice)"
    )
    assert checks.row_text(row("environment", "production")) == "production"
    assert checks.row_text(row("labels", "empty")) == "empty"


def test_a_row_shown_as_a_time_counts_only_when_its_key_names_no_time() -> None:
    card = event(
        "Pull request merged: Bump version to 2.4.1",
        created_at="15 minutes ago",
        approved_at="just now",
        display_title="2/4/2001",
        head_branch="3 days ago",
        workflow="CI",
    )

    assert checks.time_rows(card) == ["Display Title: 2/4/2001", "Head Branch: 3 days ago"]
    assert checks.time_rows(event("x", updated_time="1 hour ago", run_date="1/1/2026")) == []


# -- the report and the command ---------------------------------------------------------------------


def test_the_report_lists_steps_checks_and_counts_only_failures() -> None:
    report = Report("title", steps=[("build", 12.34)], facts=["a fact"])
    report.checks = [Check("one", True, "fine"), Check("two", False, "broken"), Check("three", None, "not judged")]
    report.screenshots = [("01.png", "the form")]

    text = report.text()

    assert [c.name for c in report.failed] == ["two"]
    assert "     12.3 s  build" in text
    assert "  PASS  one: fine\n  FAIL  two: broken\n  SKIP  three: not judged" in text
    assert "  01.png  the form" in text
    assert text.endswith("1 of 3 checks failed")


def test_without_a_checkout_the_check_says_it_is_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAINCHAIN_CHECKOUT", raising=False)

    assert main([]) == 0
    assert "skipped" in capsys.readouterr().out


def test_a_checkout_is_found_at_its_root_or_its_painchain_folder(tmp_path: Path) -> None:
    for part in ("backend/prisma/schema.prisma", "frontend/package.json"):
        (tmp_path / "painchain" / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "painchain" / part).write_text("x")

    assert services.Checkout.find(tmp_path).backend == tmp_path / "painchain" / "backend"
    assert services.Checkout.find(tmp_path / "painchain").frontend == tmp_path / "painchain" / "frontend"
    with pytest.raises(services.SetupError, match="not a PainChain checkout"):
        services.Checkout.find(tmp_path / "painchain" / "backend")


def test_a_build_is_reused_only_while_its_inputs_are_unchanged(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "main.ts").write_text("one")
    stamp = tmp_path / "stamp"
    stamp.write_text(services.digest([source], "npm-1"))

    assert services.reuse(stamp, services.digest([source], "npm-1"), rebuild=False)
    assert not services.reuse(stamp, services.digest([source], "npm-1"), rebuild=True)
    assert not services.reuse(stamp, services.digest([source], "npm-2"), rebuild=False)
    (source / "main.ts").write_text("two")
    assert not services.reuse(stamp, services.digest([source], "npm-1"), rebuild=False)
