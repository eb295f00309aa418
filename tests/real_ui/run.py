"""The real-UI check: PainChain's real backend and frontend, a headless Chromium, ``painchain-gh`` against a
fake GitHub. Builds and starts everything on loopback, creates integrations through the form, syncs, reads
the integrations list and the timeline, saves screenshots and prints a report; exits 1 when a check fails,
2 when PainChain could not be built or started, 0 (skipped) when not pointed at a checkout.

    .venv/bin/python -m tests.real_ui --painchain /path/to/PainChain     (or PAINCHAIN_CHECKOUT=/path)

See tests/real_ui/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.command import painchain_gh_command
from tests.fakes import FakeGitHub
from tests.real_ui import checks, scenario, services
from tests.real_ui.checks import Check, FormValues, Report
from tests.real_ui.services import SetupError

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "output"
USER_EMAIL = "realui@example.com"
GOOD_NAME, APP_NAME, BROKEN_NAME = "Platform repos", "Globex (App)", "Docs (typo)"
TOKEN_TYPE, APP_TYPE = "github", "github-app"
TAG = "platform"
EXIT_FAILED, EXIT_SETUP = 1, 2
JSON = dict[str, Any]


@dataclass(frozen=True)
class Options:
    """The command line, typed."""

    painchain: Path | None
    output: Path
    chromium: str
    pg_bin: Path
    cache: Path
    rebuild: bool
    connector: str | None
    docs_images: Path | None = None


def parse_args(argv: Sequence[str] | None) -> Options:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tests.real_ui", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--painchain",
        type=Path,
        default=os.environ.get("PAINCHAIN_CHECKOUT") or None,
        help="PainChain checkout (default: $PAINCHAIN_CHECKOUT; without one the check is skipped)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="screenshots, report and logs")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser (Debian's chromium package)")
    parser.add_argument("--pg-bin", type=Path, default=Path("/usr/lib/postgresql/15/bin"), help="PostgreSQL 15")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "painchain-gh-real-ui",
        help="where the npm tools of the check are installed",
    )
    parser.add_argument("--rebuild", action="store_true", help="reinstall and rebuild even when nothing changed")
    parser.add_argument(
        "--connector",
        default=None,
        help="the painchain-gh command to check (default: the one installed beside this Python)",
    )
    parser.add_argument(
        "--docs-images",
        type=Path,
        default=None,
        help="also write the small pictures of docs/ui.md there, compressed with pngquant (e.g. docs/images)",
    )
    ns = parser.parse_args(argv)
    return Options(
        painchain=ns.painchain,
        output=ns.output,
        chromium=ns.chromium,
        pg_bin=ns.pg_bin,
        cache=ns.cache,
        rebuild=ns.rebuild,
        connector=ns.connector,
        docs_images=ns.docs_images,
    )


@dataclass
class Context:
    """What the scenes share: addresses, the logged-in user's token, directories."""

    base_url: str
    github_url: str
    user_token: str
    tools: Path
    chromium: str
    output: Path
    scratch: Path
    connector: list[str]


@contextlib.contextmanager
def step(report: Report, name: str) -> Iterator[list[str]]:
    """Time a step into the report (also when it fails); notes added to the yielded list follow its name."""
    started, notes = time.monotonic(), list[str]()
    print(f"... {name}", flush=True)
    try:
        yield notes
    finally:
        report.steps.append((name + "".join(f" ({note})" for note in notes), time.monotonic() - started))


def api(method: str, url: str, body: object = None, token: str | None = None) -> tuple[int, Any]:
    """One JSON request to the backend: (status, decoded body or None)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def sign_up(base_url: str) -> tuple[str, list[str]]:
    """Sign up and log in as a user would (the backend's own auth API; the UI has no login page yet)."""
    password = secrets.token_urlsafe(18)
    status, _ = api(
        "POST",
        f"{base_url}/api/auth/register",
        {"email": USER_EMAIL, "password": password, "organizationName": "Real UI check"},
    )
    if status not in (200, 201):
        raise SetupError(f"signing up answered {status}")
    status, answer = api("POST", f"{base_url}/api/auth/login", {"email": USER_EMAIL, "password": password})
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if status != 200 or not isinstance(token, str):
        raise SetupError(f"logging in answered {status}")
    anonymous, _ = api("GET", f"{base_url}/api/integrations/types")
    facts = [f"user {USER_EMAIL} signed up (POST /api/auth/register) and logged in (POST /api/auth/login)"]
    if anonymous in (401, 403):
        facts.append(
            f"the frontend sends no token, and GET /api/integrations/types answers {anonymous} without one:"
            " the browser carries the logged-in user's token (Authorization header) on every request"
        )
    return token, facts


def connector_env(ctx: Context, state: Path) -> dict[str, str]:
    """The environment ``painchain-gh`` runs with: the real backend, the fake GitHub, its own state file."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    return {
        **keep,
        "BACKEND_API_URL": f"{ctx.base_url}/api",
        "BACKEND_API_TOKEN": ctx.user_token,
        "GITHUB_API_URL": ctx.github_url,
        "PAINCHAIN_GH_STATE_FILE": str(state),
        "PAINCHAIN_GH_RETRY_BASE_DELAY": "0.05",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def connector(ctx: Context, *args: str) -> tuple[int, list[str]]:
    """Run ``painchain-gh ARGS``: exit code and its output lines (it never prints a token)."""
    done = subprocess.run(
        [*ctx.connector, *args],
        env=connector_env(ctx, ctx.scratch / "state.json"),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, lines


def browser(ctx: Context, scene: str, **fields: Any) -> JSON:
    """Run one scene of ``browser.mjs`` (a fresh Chromium profile each time) and return what it saw."""
    job = {
        "toolsDir": str(ctx.tools),
        "chromium": ctx.chromium,
        "baseUrl": ctx.base_url,
        "authToken": ctx.user_token,
        "outputDir": str(ctx.output),
        "scene": scene,
        **fields,
    }
    done = subprocess.run(
        ["node", str(HERE / "browser.mjs")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    with (ctx.output / "logs" / f"browser-{scene}.log").open("a", encoding="utf-8") as log:
        log.write(done.stderr)
    try:
        seen: JSON = json.loads(done.stdout)
    except ValueError:
        last = [line.strip() for line in done.stderr.splitlines() if line.strip() and not line.startswith(" ")]
        return {"ok": False, "error": f"the browser driver exited {done.returncode}: {' | '.join(last[-2:])[-300:]}"}
    return seen


def scene_problem(seen: Mapping[str, Any], what: str) -> Check | None:
    """A failed check when a browser scene itself failed (with the screenshot it left)."""
    if seen.get("ok"):
        return None
    shot = f" (screenshot: {seen['screenshot']})" if seen.get("screenshot") else ""
    return Check(f"the browser could {what}", False, f"{seen.get('error')}{shot}")


def sync(ctx: Context, report: Report, label: str) -> int:
    """``painchain-gh sync`` once; its exit code and output lines go to the report."""
    with step(report, f"painchain-gh sync ({label})"):
        code, lines = connector(ctx, "sync", "--log-format", "text")
    report.facts.append(f"{label}: painchain-gh sync exited {code}")
    report.facts += [f"    {line[:600]}" for line in lines[-12:]]
    return code


def create_integration(
    ctx: Context, report: Report, form: Form, values: FormValues, shots: JSON, *, judge: bool
) -> JSON:
    """Create one integration through a form; with ``judge``, whether the form took it goes to the checks."""
    plan = checks.form_plan(form.fields, values)
    seen = browser(ctx, "create", plan=plan.to_job(), connectorId=form.type_id, shots=shots)
    problem = scene_problem(seen, f"create {values.name!r} through the {form.title} form")
    if problem:
        report.checks.append(problem)
        return seen
    if seen.get("created") is False and not seen.get("attempts"):
        offered = ", ".join(o.get("label", "") for o in seen.get("options", []))
        report.checks.append(Check(f"the form offers the {form.title} connector", False, f"options: {offered}"))
        return seen
    filled = [f"{s.label} ({s.kind})" for s in plan.fill]
    report.facts.append(
        f"{form.title} form for {values.name!r}: filled {', '.join(filled)}; alerts: "
        + (" / ".join(seen.get("dialogs") or []) or "none")
    )
    if judge:
        report.checks.append(checks.check_form_accepts(plan, seen, f"the {form.title} form"))
        if seen.get("fieldsBefore"):
            report.facts.append(f"the {form.title} form as it opens (label, * = required, control, starting value):")
            report.facts += [f"    {line}" for line in checks.describe_fields(seen["fieldsBefore"])]
            report.checks.append(checks.check_form_fields(form.fields, seen["fieldsBefore"], f"the {form.title} form"))
    return seen


@dataclass(frozen=True)
class Form:
    """A registered connector type: its id, the name the UI offers, its fields."""

    type_id: str
    title: str
    fields: list[JSON]


def registered_form(ctx: Context, report: Report, type_id: str) -> Form | None:
    """The schema the backend serves for ``type_id``; a failed check when it is not registered."""
    status, schema = api("GET", f"{ctx.base_url}/api/integrations/types/{type_id}/schema", token=ctx.user_token)
    fields = checks.schema_fields(schema)
    if status != 200 or not fields:
        report.checks.append(Check(f"the connector type {type_id} is registered", False, f"schema answered {status}"))
        return None
    title = str(schema.get("displayName") or type_id) if isinstance(schema, dict) else type_id
    return Form(type_id, title, fields)


def list_scene(
    ctx: Context, report: Report, shot: str, open_shots: Mapping[str, str], label: str, *, small: str = ""
) -> JSON:
    """The integrations list (and the forms of some integrations) as the UI shows them; with ``small``, also
    the list without the sidebar and the top of each opened form, as ``{small}-list.png`` and
    ``{small}-form.png`` (the pictures of docs/ui.md)."""
    opened = [
        {"name": name, "shot": file, **({"panelShot": f"{small}-form.png"} if small else {})}
        for name, file in open_shots.items()
    ]
    seen = browser(ctx, "list", shot=shot, open=opened, **({"mainShot": f"{small}-list.png"} if small else {}))
    problem = scene_problem(seen, f"read the integrations list ({label})")
    if problem:
        report.checks.append(problem)
        return seen
    for card in seen.get("cards", []):
        report.facts.append(f"{label}: {card['name']!r} status {card['status']!r}, last sync {card['lastSync']!r}")
    return seen


def timeline_scene(ctx: Context, report: Report) -> None:
    """The timeline with every card expanded: the four kinds present, commits and failed jobs readable."""
    seen = browser(ctx, "timeline", shot="07-timeline.png", cardPrefix="timeline-card-")
    problem = scene_problem(seen, "read the timeline")
    if problem:
        report.checks.append(problem)
        return
    cards: list[JSON] = seen.get("cards", [])
    report.screenshots.append(("07-timeline.png", f"the timeline, {len(cards)} cards, all expanded"))
    projects = {checks.project_of(c) for c in cards}
    for kind, found in checks.cards_by_kind(cards, scenario.MAIN_REPOSITORY).items():
        name = f"08-timeline-{kind.replace('_', '-')}.png"
        shutil.copyfile(ctx.output / str(found["screenshot"]), ctx.output / name)
        report.screenshots.append((name, f"{checks.KIND_NAMES[kind]}, expanded: {found.get('title')!r}"))
        report.facts.append(f"timeline card {found.get('title')!r} ({found.get('by')}), every row in the order shown:")
        report.facts += [f"    {r['key']}: {checks.row_text(r)[:400]}" for r in found.get("details", [])]
    counted = [(c.get("title"), checks.counted_rows(c)) for c in cards]
    beside = [f"{title!r} {row}" for title, (rows, _) in counted for row in rows]
    alone = [f"{title!r} {row}" for title, (_, rows) in counted for row in rows]
    report.facts.append("rows shown as a count beside their readable text: " + ("; ".join(beside) or "none"))
    report.facts.append("rows shown only as a count: " + ("; ".join(alone) or "none"))
    timed = [f"{c.get('title')!r} {row}" for c in cards for row in checks.time_rows(c)]
    report.facts.append("rows shown as a time though their key names none: " + ("; ".join(timed) or "none"))
    expected = [*scenario.REPOSITORIES, scenario.APP_REPOSITORY]
    missing = [r for r in expected if r not in projects]
    report.checks.append(
        Check(
            "the timeline shows events of the token integration's repositories and of the App's installation",
            not missing,
            "missing " + ", ".join(missing) if missing else ", ".join(expected),
        )
    )
    report.checks.append(checks.check_timeline_kinds(cards, scenario.MAIN_REPOSITORY))
    main = scenario.MAIN_REPOSITORY
    report.checks.append(
        checks.check_readable(cards, "push", scenario.COMMITS, "a push shows its commits as text", project=main)
    )
    report.checks.append(
        checks.check_readable(
            cards,
            "failed_run",
            (scenario.FAILED_JOB, scenario.RUN_PULL),
            "a failed run shows its failed jobs and its pull request as text",
            project=main,
        )
    )
    shipped = (scenario.SHIPPED_PULL, scenario.APPROVER, scenario.DEPLOY_APPROVER, *scenario.COMMITS)
    report.checks.append(
        checks.check_readable(cards, "deployment", shipped, "a deployment shows what it shipped as text", project=main)
    )


def scenario_run(ctx: Context, report: Report, app: scenario.App) -> None:
    """Register, create integrations through both forms, sync, break-and-fix, read the timeline."""
    with step(report, "painchain-gh register"):
        code, lines = connector(ctx, "register")
    report.facts.append(f"painchain-gh register exited {code}" + "".join(f"; {line[:200]}" for line in lines))
    token_form, app_form = registered_form(ctx, report, TOKEN_TYPE), registered_form(ctx, report, APP_TYPE)
    if token_form is None or app_form is None:
        return
    repositories = json.dumps(scenario.REPOSITORIES, separators=(",", ":"))

    with step(report, "browser: create a GitHub integration through its form"):
        create_integration(
            ctx,
            report,
            token_form,
            FormValues(GOOD_NAME, {"token": scenario.TOKEN, "repositories": repositories}, TAG),
            {
                "empty": "01-github-form-empty.png",
                "filled": "02-github-form-filled.png",
                "panel": "small-github-form.png",
                "retry": "02-github-form-filled-retry.png",
            },
            judge=True,
        )
    with step(report, "browser: create a GitHub App integration through its form"):
        create_integration(
            ctx,
            report,
            app_form,
            FormValues(APP_NAME, {"appId": str(app.app_id), "privateKey": app.private_key}, TAG),
            {
                "empty": "01-github-app-form-empty.png",
                "filled": "02-github-app-form-filled.png",
                "panel": "small-github-app-form.png",
                "retry": "02-github-app-form-filled-retry.png",
            },
            judge=True,
        )
    for prefix, form in (("01-github", token_form), ("01-github-app", app_form)):
        report.screenshots.append((f"{prefix}-form-empty.png", f"the {form.title} form as it opens"))
        report.screenshots.append(
            (f"{prefix.replace('01', '02')}-form-filled.png", f"the {form.title} form, only its required fields filled")
        )
        retry = f"{prefix.replace('01', '02')}-form-filled-retry.png"
        report.screenshots.append((retry, f"the {form.title} form after its alert, with a tag added"))
    with step(report, "browser: create a broken integration (repository typo)"):
        broken_repos = json.dumps([scenario.MISSING_REPOSITORY])
        create_integration(
            ctx,
            report,
            token_form,
            FormValues(BROKEN_NAME, {"token": scenario.TOKEN, "repositories": broken_repos}, TAG),
            {},
            judge=False,
        )

    sync(ctx, report, "sync 1")
    filled = {str(f.get("label") or f["key"]) for f in token_form.fields if f.get("required")} | {
        str(f.get("label")) for f in token_form.fields if f.get("key") == "tags"
    }
    with step(report, "browser: integrations list after sync 1"):
        listed = list_scene(
            ctx,
            report,
            "03-integrations-list.png",
            {BROKEN_NAME: "04-broken-integration-form.png"},
            "after sync 1",
            small="small-error",
        )
    cards = listed.get("cards", [])
    report.screenshots.append(("03-integrations-list.png", "the integrations list after sync 1"))
    report.screenshots.append(("04-broken-integration-form.png", f"{BROKEN_NAME!r} opened after sync 1"))
    for name, what in (
        (GOOD_NAME, "the GitHub integration created with only its required fields syncs on the next run"),
        (APP_NAME, "the GitHub App integration created with only its required fields syncs on the next run"),
    ):
        report.checks.append(checks.check_status(cards, name, "active", synced=True, what=what))
    report.checks.append(
        checks.check_status(
            cards, BROKEN_NAME, "error", synced=False, what='a broken integration shows "error" in the list'
        )
    )
    broken_form = listed.get("opened", {}).get(BROKEN_NAME)
    reason = checks.check_reason(broken_form, filled, scenario.MISSING_REPOSITORY)
    report.checks.append(reason)
    if broken_form:
        report.facts.append(f"{BROKEN_NAME!r} form after sync 1:")
        report.facts += [f"    {line}" for line in checks.describe_fields(broken_form)]

    with step(report, "browser: fix the broken integration in its form"):
        label = next(str(f.get("label")) for f in token_form.fields if f.get("key") == "repositories")
        fix = checks.FillStep("repositories", label, "textarea", json.dumps([scenario.FIXED_REPOSITORY]))
        edited = browser(ctx, "edit", name=BROKEN_NAME, changes=[fix.to_job()], shot="05-fix-form.png")
    problem = scene_problem(edited, "save the fixed integration")
    report.facts.append(
        f"fix: {label} set to {fix.value} in {BROKEN_NAME!r}'s form: "
        + ("saved" if edited.get("saved") else "not saved")
        + "; alerts: "
        + (" / ".join(edited.get("dialogs") or []) or "none")
    )
    report.screenshots.append(("05-fix-form.png", f"{BROKEN_NAME!r} with its repository corrected, before saving"))
    if problem:
        report.checks.append(problem)

    sync(ctx, report, "sync 2")
    with step(report, "browser: integrations list after sync 2"):
        relisted = list_scene(
            ctx, report, "06-integrations-after-fix.png", {BROKEN_NAME: "06-fixed-integration-form.png"}, "after sync 2"
        )
    report.screenshots.append(("06-integrations-after-fix.png", "the integrations list after the fix and sync 2"))
    report.screenshots.append(("06-fixed-integration-form.png", f"{BROKEN_NAME!r} opened after sync 2"))
    report.checks.append(
        checks.check_status(
            relisted.get("cards", []),
            BROKEN_NAME,
            "active",
            synced=True,
            what="the fixed integration turns back to active",
        )
    )
    report.checks.append(
        checks.check_reason_cleared(
            relisted.get("opened", {}).get(BROKEN_NAME),
            filled,
            scenario.MISSING_REPOSITORY,
            shown_before=reason.ok is True,
        )
    )

    with step(report, "browser: timeline, every card expanded"):
        timeline_scene(ctx, report)


# The pictures of docs/ui.md: (screenshot, file under --docs-images, what it shows).
DOCS_IMAGES = (
    ("small-github-form.png", "github-form.png", "the GitHub form with only its required fields filled in"),
    ("small-error-list.png", "integrations-list.png", "the integrations list after a sync, one in error"),
    ("small-error-form.png", "last-error.png", "the broken integration's form with its Last error"),
    ("08-timeline-deployment.png", "timeline-deployment.png", "a deployment on the timeline with what it shipped"),
)


def write_docs_images(output: Path, target: Path, report: Report) -> None:
    """Compress the pictures of docs/ui.md into ``target`` with pngquant (Debian's ``pngquant`` package)."""
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        report.facts.append("docs images not written: pngquant is missing (apt-get install pngquant)")
        return
    target.mkdir(parents=True, exist_ok=True)
    for source, name, about in DOCS_IMAGES:
        if not (output / source).is_file():
            report.facts.append(f"docs image {name} not written: {source} is missing")
            continue
        command = [pngquant, "--force", "--strip", "--speed", "1", "--quality", "50-80"]
        done = subprocess.run(
            [*command, "--output", str(target / name), "--", str(output / source)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            report.facts.append(f"docs image {name} not written: pngquant exited {done.returncode}")
            continue
        report.facts.append(f"docs image {target / name} ({(target / name).stat().st_size // 1024} kB): {about}")


def prepare(checkout: services.Checkout, opts: Options, logs: services.Logs, scratch: Path, report: Report) -> Path:
    """Install and build what changed; returns the tools directory."""
    reused = "reused: inputs unchanged"
    for name, directory in (("backend", checkout.backend), ("frontend", checkout.frontend)):
        with step(report, f"npm ci, {name}") as notes:
            if not services.npm_ci(directory, logs, f"{name}-npm", rebuild=opts.rebuild):
                notes.append(reused)
    with step(report, "backend build: prisma generate, nest build") as notes:
        if not services.build_backend(checkout, logs, scratch, rebuild=opts.rebuild):
            notes.append(reused)
    with step(report, "frontend build: npm run build") as notes:
        if not services.build_frontend(checkout, logs, rebuild=opts.rebuild):
            notes.append(reused)
    tools = opts.cache / "tools"
    with step(report, "npm tools: playwright-core, schema engine") as notes:
        if not services.ensure_tools(tools, services.engines_version(checkout.backend), logs, rebuild=opts.rebuild):
            notes.append(reused)
    return tools


def prerequisites(opts: Options) -> None:
    """Fail early, in one line, when a program the check needs is missing."""
    for program, hint in (("node", "Node.js 20 or newer"), ("npm", "npm"), (opts.chromium, "apt-get install chromium")):
        if shutil.which(program) is None:
            raise SetupError(f"{program} is missing ({hint})")
    services.Postgres(opts.pg_bin).tool("initdb")


def clean_output(output: Path) -> None:
    """Remove what a previous run left (only the kinds of files this check writes)."""
    output.mkdir(parents=True, exist_ok=True)
    for old in [*output.glob("*.png"), *output.glob("report.*"), *output.glob("logs/*.log")]:
        old.unlink()


def execute(opts: Options, checkout_path: Path, report: Report) -> None:
    """Everything between the checks of the arguments and the report."""
    checkout = services.Checkout.find(checkout_path.resolve())
    report.title = f"painchain-gh real-UI check against PainChain {checkout.commit()} ({checkout.root})"
    output = opts.output.resolve()
    clean_output(output)
    logs = services.Logs(output / "logs")
    prerequisites(opts)
    with tempfile.TemporaryDirectory(prefix="painchain-real-ui-") as temporary, contextlib.ExitStack() as stack:
        scratch = Path(temporary)
        scratch.chmod(0o755)  # the database owner reads SQL files from here
        tools = prepare(checkout, opts, logs, scratch, report)
        postgres = services.Postgres(opts.pg_bin)
        with step(report, "PostgreSQL 15: initdb, start, schema"):
            url = stack.enter_context(postgres.running(scratch, logs))
            how = services.apply_schema(checkout, postgres, url, tools, scratch, logs)
        report.facts.append(f"database: PostgreSQL 15 on loopback, schema from {how}")
        github = stack.enter_context(FakeGitHub())
        github_app = scenario.seed(github)
        port = services.free_port()
        base_url = f"http://{services.LOOPBACK}:{port}"
        with step(report, "start the backend (serving the built frontend)"):
            app = services.app_layout(checkout, scratch)
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "PORT": str(port),
                "NODE_ENV": "production",
                "JWT_SECRET": secrets.token_hex(32),
                "FRONTEND_URL": base_url,
                "APP_URL": base_url,
            }
            log = logs.path("backend")
            process = stack.enter_context(
                services.background(services.backend_command(app, scratch), cwd=app, env=env, log=log)
            )
            services.wait_until_http(f"{base_url}/api/auth/methods", timeout=90, process=process, log=log)
            index_status, _ = api("GET", f"{base_url}/integrations")
            if index_status != 200:
                raise SetupError(f"the backend does not serve the built frontend (GET /integrations: {index_status})")
        report.facts.append(f"PainChain backend and frontend on {base_url}; fake GitHub on {github.url}")
        token, facts = sign_up(base_url)
        report.facts += facts
        command = [opts.connector] if opts.connector else painchain_gh_command()
        ctx = Context(base_url, github.url, token, tools, opts.chromium, output, scratch, command)
        scenario_run(ctx, report, github_app)
        if github.errors:
            first = github.errors[0].strip().splitlines()[-1]
            report.facts.append(f"the fake GitHub failed to answer {len(github.errors)} request(s): {first}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; the exit code says whether every check passed."""
    opts = parse_args(argv)
    if opts.painchain is None:
        print("real-UI check skipped: point it at a PainChain checkout with --painchain PATH or PAINCHAIN_CHECKOUT")
        return 0
    report = Report(f"painchain-gh real-UI check against {opts.painchain}")
    code = 0
    try:
        execute(opts, opts.painchain, report)
    except (SetupError, subprocess.TimeoutExpired, OSError) as error:
        report.checks.append(Check("PainChain could be built and started", False, str(error)))
        code = EXIT_SETUP
    opts.output.mkdir(parents=True, exist_ok=True)
    if opts.docs_images is not None and not code and not report.failed:
        write_docs_images(opts.output, opts.docs_images, report)
    report.screenshots = [(name, about) for name, about in report.screenshots if (opts.output / name).is_file()]
    report.facts.append(f"screenshots, this report (report.txt) and every command's log (logs/) are in {opts.output}")
    text = report.text()
    (opts.output / "report.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    return code or (EXIT_FAILED if report.failed else 0)


if __name__ == "__main__":
    sys.exit(main())
