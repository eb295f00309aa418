"""``painchain-gh plan`` for people (a table and plain sentences) and for machines (JSON); pure.

Integration ids and names come from the backend: escaped for a terminal and bounded in the table,
left to ``json.dumps`` (ASCII only) in JSON. Credentials are named by their kind and a short
fingerprint, never by their secret.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

from painchain_gh.plan.grouping import CredentialPlan, Member, Plan
from painchain_gh.plan.sizing import (
    GITHUB_IN_FLIGHT,
    GITHUB_POINTS_PER_MINUTE,
    SAFE_POINTS_PER_MINUTE,
    TOKEN_HOURLY,
    Schedule,
    Sizing,
    Streams,
    active_extra,
    dry_spell,
    hourly_room,
    polls_every,
)
from painchain_gh.text import escape
from painchain_gh.timeutil import format_duration

SHORT_FINGERPRINT = 8
_CELL = 32  # widest integration cell of the table
_NAMED = 5  # credentials named in one paragraph
WIDTH = 100  # prose is wrapped to this many columns (the table is not)


def wrap(text: str, indent: str = "", hanging: str = "") -> list[str]:
    """``text`` as lines of at most :data:`WIDTH` columns: the first after ``indent``, the others after
    ``hanging`` (a bullet's text lines up)."""
    return textwrap.wrap(
        text, WIDTH, initial_indent=indent, subsequent_indent=hanging or indent, break_on_hyphens=False
    ) or [indent.rstrip()]


def human_duration(seconds: float) -> str:
    """``seconds`` for people, in at most two units: ``45s``, ``4m 50s``, ``58m``, ``7h 5m`` (whole minutes
    from ten minutes on)."""
    total = max(0, round(seconds))
    if total >= 600:
        total = round(total / 60) * 60
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def flag_duration(seconds: float) -> str:
    """``seconds`` as a duration flag reads it (``5m``, ``290s``)."""
    return format_duration(float(math.ceil(seconds)))


def credential_name(credential: CredentialPlan) -> str:
    """``token 1a2b3c4d`` or ``App 123 installation 456 (1a2b3c4d)``: public ids and a short fingerprint."""
    short = credential.fingerprint[:SHORT_FINGERPRINT]
    if credential.kind == "token":
        return f"token {short}"
    installation = credential.installation_id if credential.installation_id is not None else "?"
    return f"App {escape(credential.app_id or '?', 20)} installation {installation} ({short})"


def member_label(member: Member, limit: int = 60) -> str:
    """``id (name)``, escaped and bounded."""
    name = f" ({escape(member.name, limit)})" if member.name else ""
    return escape(member.id, limit) + name


def _members_cell(credential: CredentialPlan) -> str:
    first = member_label(credential.members[0], 20)
    more = len(credential.members) - 1
    text = first + (f", +{more}" if more else "")
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _first_sync(sizing: Sizing) -> str:
    runs = "run" if sizing.first_sync_runs == 1 else "runs"
    took = human_duration(sizing.first_sync_seconds)
    return f"{sizing.first_sync_requests:,} in {sizing.first_sync_runs:,} {runs}, {took}"


def render_text(plan: Plan) -> str:
    """The plan for people: settings and assumptions, a table, what does not fit and why, limits, notes."""
    lines = [*_heading(plan), "", *_table(plan)]
    lines += _not_fitting(plan)
    lines += ["", "GitHub's limits (per user or App installation) and the schedule:"]
    width = max(len(check.limit) for check in plan.checks)
    for check in plan.checks:
        lead = f"  {'ok' if check.ok else 'FAIL':<4}  {check.limit:<{width}}  "
        lines += wrap(check.detail, lead, " " * len(lead))
    lines += ["", "Notes:"]
    for note in _notes(plan):
        lines += wrap(note, "  - ", "    ")
    lines += ["", _verdict(plan)]
    return "\n".join(lines)


def _heading(plan: Plan) -> list[str]:
    schedule = plan.schedule
    shards = f"{schedule.shards} shard" + ("s" if schedule.shards != 1 else "")
    period = polls_every(0.0, schedule) * schedule.every
    costs = active_extra(Streams(), period)
    extra = ", ".join(f"{kind} {count}" for kind, count in costs.items() if count)
    return wrap(
        f"painchain-gh plan: a run every {human_duration(schedule.every)} (--max-runtime "
        f"{human_duration(schedule.max_runtime)}, {shards}); {plan.points_per_minute:,} points a minute per credential"
        f" (--points-per-minute); {schedule.per_token_concurrency} requests in flight per credential,"
        f" {schedule.concurrency} per process; quiet repositories' workflow runs and deployments read at least every"
        f" {human_duration(schedule.sweep_interval)} (--sweep-interval)."
    ) + wrap(
        f"Assumed: {_percent(schedule.active)} of repositories see activity in any"
        f" {human_duration(schedule.active_per)} (--active, --active-per), so {_percent(schedule.active_share(period))}"
        f" at each {human_duration(period)} poll, each costing {sum(costs.values())} more requests ({extra});"
        f" {_percent(schedule.recent_share)} with history inside --backfill-details"
        f" ({human_duration(schedule.backfill_details)}) at their first sync (--recent); {_ms(schedule.latency)}"
        " per request (--latency). Details: docs/sizing.md."
    )


def _counted(member: Member) -> str:
    """What of an integration with an unknown list is counted."""
    if not member.repositories:
        return "none of its repositories is counted."
    if member.repositories == 1:
        return "only its 1 named repository is counted."
    return f"only its {member.repositories:,} named repositories are counted."


def _count(count: int, one: str, many: str) -> str:
    """``1 integration``, ``3 integrations``."""
    return f"{count:,} {one if count == 1 else many}"


def _percent(share: float) -> str:
    return f"{share * 100:.2g}%" if share < 0.1 else f"{share * 100:.0f}%"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


_HEADERS = (
    "CREDENTIAL",
    "INTEGRATIONS",
    "REPOS",
    "REQUESTS/RUN",
    "POINTS/MIN",
    "BUDGET/MIN",
    "FRESH",
    "STALEST",
    "FIRST SYNC",
    "FITS",
)
_RIGHT = {"REPOS", "REQUESTS/RUN", "POINTS/MIN", "BUDGET/MIN", "FRESH"}


def _table(plan: Plan) -> list[str]:
    rows: list[tuple[str, ...]] = []
    for credential in plan.credentials:
        sizing = credential.sizing
        rows.append(
            (
                credential_name(credential),
                _members_cell(credential),
                f"{sizing.repositories:,}",
                f"{sizing.requests_per_run + sizing.listing_per_run:,.0f}",
                f"{sizing.points_per_minute:,.0f}",
                f"{sizing.budget_per_minute:,}",
                f"{sizing.fresh:,}",
                human_duration(sizing.stalest),
                _first_sync(sizing),
                _fits_cell(sizing.fits, any(member.unknown for member in credential.members)),
            )
        )
    sizings = [credential.sizing for credential in plan.credentials]
    count = len(plan.credentials)
    rows.append(
        (
            f"total, {_count(count, 'credential', 'credentials')}",
            _count(sum(len(credential.members) for credential in plan.credentials), "integration", "integrations"),
            f"{sum(sizing.repositories for sizing in sizings):,}",
            f"{sum(sizing.requests_per_run + sizing.listing_per_run for sizing in sizings):,.0f}",
            f"{sum(sizing.points_per_minute for sizing in sizings):,.0f}",
            f"{sum(sizing.budget_per_minute for sizing in sizings):,}",
            f"{sum(sizing.fresh for sizing in sizings):,}",
            human_duration(max((sizing.stalest for sizing in sizings), default=0.0)),
            _count(sum(sizing.first_sync_requests for sizing in sizings), "request", "requests"),
            _fits_cell(all(sizing.fits for sizing in sizings), bool(plan.unknown)),
        )
    )
    headers = _HEADERS
    widths = [max(len(row[index]) for row in [headers, *rows]) for index in range(len(headers))]

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(width) if headers[index] in _RIGHT else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def _shortfall(credential: CredentialPlan, schedule: Schedule) -> str:
    """Why a credential does not fit, and any one change that would make it fit, in one paragraph."""
    sizing = credential.sizing
    parts: list[str] = []
    if sizing.requests_per_run > sizing.budget_per_run:
        parts.append(
            f"a run needs about {sizing.requests_per_run:,.0f} requests and the budget allows"
            f" {sizing.budget_per_run:,.0f} ({sizing.budget_per_minute:,} points a minute over"
            f" {human_duration(schedule.window)}, plus the pacer's burst): {sizing.fresh:,} of"
            f" {sizing.repositories:,} repositories are kept fresh, and the fair rotation (the stalest first) polls"
            f" every one at least every {human_duration(sizing.stalest)}."
        )
    room = hourly_room(sizing.hourly_limit, schedule)
    if sizing.hourly_counted > room:
        parts.append(
            f"about {sizing.hourly_counted:,.0f} requests an hour count against an hourly limit of"
            f" {sizing.hourly_limit:,} ({room:,} after --rate-limit-reserve; a 304 does not count): it runs dry"
            f" for about {human_duration(dry_spell(sizing.hourly_counted, room))} of every hour."
        )
    needs = sizing.needs
    if needs is not None:
        options = [f"{needs.credentials} tokens or App installations in all, its repositories spread over them"]
        if needs.schedule is not None:
            every, runtime = needs.schedule
            options.append(f"a run every {human_duration(every)} with --max-runtime {flag_duration(runtime)}")
        if needs.max_runtime is not None:
            options.append(f"--max-runtime {flag_duration(needs.max_runtime)}")
        if needs.points_per_minute is not None:
            options.append(f"--points-per-minute {needs.points_per_minute}")
        parts.append("any one of these would make it fit: " + "; ".join(options) + ".")
    return " ".join([parts[0], *(part[:1].upper() + part[1:] for part in parts[1:])]) if parts else ""


def _fits_cell(fits: bool, unknown: bool) -> str:
    """``yes``, ``NO``, or ``yes?`` when a discovered list is not known yet."""
    if not fits:
        return "NO"
    return "yes?" if unknown else "yes"


def _not_fitting(plan: Plan) -> list[str]:
    """One paragraph per shortfall (credentials with the same one named together), what holds for every
    credential, and the process's own shortfall."""
    grouped: dict[str, list[str]] = {}
    for credential in plan.credentials:
        if not credential.sizing.fits:
            grouped.setdefault(_shortfall(credential, plan.schedule), []).append(credential_name(credential))
    process = _process(plan)
    if not grouped and not process:
        return []
    lines = ["", "What does not fit:"]
    for text, names in grouped.items():
        shown = ", ".join(names[:_NAMED]) + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")
        lines += wrap(f"{shown}: {text}", "  - ", "    ")
    if process:
        lines += wrap(process, "  - ", "    ")
    if not grouped:
        return lines
    more = sum(
        (credential.sizing.needs.credentials - 1) if credential.sizing.needs is not None else 0
        for credential in plan.credentials
    )
    general = (
        f"Spreading every credential's repositories so that all fit takes {len(plan.credentials) + more} tokens or"
        f" App installations in all ({more} more). Tokens of one GitHub user share that user's budget: a new"
        " token must be another user's, or use a GitHub App (one installation per organisation)."
        f" --points-per-minute above {SAFE_POINTS_PER_MINUTE} would let two runs' bursts pass GitHub's"
        f" {GITHUB_POINTS_PER_MINUTE} in one minute, and it is shared with other tools that use the credential."
        " More shards do not help a credential: the shards of a run share its budget."
    )
    return [*lines, *wrap(general, "  ")]


def _process(plan: Plan) -> str:
    """Why one process cannot carry its share within a run, and what would ("" when it can)."""
    process = plan.process
    if process.shards_needed is None:
        return ""
    schedule = plan.schedule
    text = (
        f"each process ({_count(schedule.shards, 'shard', 'shards')}) sends about"
        f" {process.requests_per_run:,.0f} requests a run, and its --concurrency {schedule.concurrency} carries about"
        f" {process.capacity_per_run:,.0f} in {human_duration(schedule.window)} at {_ms(schedule.latency)} a request."
    )
    options = []
    if process.shards_needed:
        options.append(f"{process.shards_needed} shards (they add processes, not budget)")
    if process.concurrency_needed is not None:
        options.append(f"--concurrency {process.concurrency_needed}")
    if options:
        return f"{text} Any one of these would carry it: {'; '.join(options)}."
    return f"{text} The discovered lists alone are more than a process carries: a longer run would."


def _notes(plan: Plan) -> list[str]:
    schedule = plan.schedule
    notes = [f"integration {member_label(member)}: {member.unknown}; {_counted(member)}" for member in plan.unknown]
    notes += [f"{item.label} is not counted: {escape(item.reason, 300)}" for item in plan.invalid if item.skipped]
    if plan.disabled:
        notes.append(f"{plan.disabled} inactive or disabled integrations are not counted.")
    if sum(credential.kind == "token" for credential in plan.credentials) > 1:
        notes.append(
            f"The tokens of one GitHub user share that user's limits ({GITHUB_POINTS_PER_MINUTE} points a minute,"
            f" {GITHUB_IN_FLIGHT} requests in flight, {TOKEN_HOURLY:,} requests an hour): plan cannot tell whose"
            " token is whose (painchain-gh check shows each token's login); add up the figures of one user's tokens."
        )
    period = polls_every(0.0, schedule) * schedule.every
    notes.append(
        f"Where it fits, a repository's events are read every {human_duration(period)} (at least GitHub's"
        " X-Poll-Interval, usually 1m, or its integration's polling interval); a quiet repository's workflow runs"
        f" and deployments are seen within {human_duration(schedule.sweep_interval + period)} (the sweep interval"
        " plus that), an active one's at its next poll."
    )
    if any(credential.sizing.listing_per_run for credential in plan.credentials):
        notes.append(
            "Listing discovered repositories (App installations, owner/*) costs a request per 100 repositories"
            " in every run, paced with the rest (a 304 costs no rate-limit unit); with state files every shard"
            " lists, with --state backend only the first; the figures above count every shard's."
        )
    return notes


def _verdict(plan: Plan) -> str:
    if plan.fits:
        return "Everything fits (exit 0)."
    if plan.unknown and all(credential.sizing.fits for credential in plan.credentials):
        return "Not everything is known yet (exit 3)."
    return "Something does not fit (exit 3)."


def to_json(plan: Plan) -> dict[str, Any]:
    """The plan for machines (numbers unrounded, durations in seconds)."""
    schedule = plan.schedule
    return {
        "fits": plan.fits,
        "settings": {
            "every_seconds": schedule.every,
            "max_runtime_seconds": schedule.max_runtime,
            "sweep_interval_seconds": schedule.sweep_interval,
            "shards": schedule.shards,
            "concurrency": schedule.concurrency,
            "per_token_concurrency": schedule.per_token_concurrency,
            "points_per_minute": plan.points_per_minute,
            "rate_limit_reserve": schedule.rate_limit_reserve,
        },
        "assumptions": {
            "active_share": schedule.active,
            "active_per_seconds": schedule.active_per,
            "active_share_per_poll": schedule.active_share(polls_every(0.0, schedule) * schedule.every),
            "backfill_details_seconds": schedule.backfill_details,
            "recent_share": schedule.recent_share,
            "latency_seconds": schedule.latency,
            "active_extra_requests": {
                kind.replace(" ", "_"): count
                for kind, count in active_extra(Streams(), polls_every(0.0, schedule) * schedule.every).items()
            },
        },
        "credentials": [_credential_json(credential, schedule) for credential in plan.credentials],
        "process": {
            "requests_per_run": plan.process.requests_per_run,
            "capacity_per_run": plan.process.capacity_per_run,
            "shards_needed": plan.process.shards_needed,
            "concurrency_needed": plan.process.concurrency_needed,
        },
        "github_limits": [{"limit": check.limit, "ok": check.ok, "detail": check.detail} for check in plan.checks],
        "unknown_lists": [{"integration": member.id, "reason": member.unknown} for member in plan.unknown],
        "invalid_integrations": [
            {"id": item.id, "name": item.name, "reason": item.reason} for item in plan.invalid if item.skipped
        ],
        "disabled_integrations": plan.disabled,
    }


def _credential_json(credential: CredentialPlan, schedule: Schedule) -> dict[str, Any]:
    sizing = credential.sizing
    needs = sizing.needs
    return {
        "credential": credential_name(credential),
        "kind": credential.kind,
        "fingerprint": credential.fingerprint,
        "api_url": credential.api_url,
        "app_id": credential.app_id,
        "installation_id": credential.installation_id,
        "integrations": [
            {"id": member.id, "name": member.name, "repositories": member.repositories, "list_unknown": member.unknown}
            for member in credential.members
        ],
        "repositories": sizing.repositories,
        "requests_per_run": sizing.requests_per_run,
        "listing_requests_per_run": sizing.listing_per_run,
        "points_per_minute": sizing.points_per_minute,
        "budget_points_per_minute": sizing.budget_per_minute,
        "budget_requests_per_run": sizing.budget_per_run,
        "polled_every_seconds": sizing.polled_every,
        "fresh_repositories": sizing.fresh,
        "stalest_seconds": sizing.stalest,
        "first_sync": {
            "requests": sizing.first_sync_requests,
            "runs": sizing.first_sync_runs,
            "seconds": sizing.first_sync_seconds,
        },
        "hourly": {
            "counted_requests": sizing.hourly_counted,
            "limit": sizing.hourly_limit,
            "room": hourly_room(sizing.hourly_limit, schedule),
        },
        "peak_points_per_minute": sizing.peak_points_per_minute,
        "in_flight": sizing.in_flight,
        "fits": sizing.fits,
        "needs": None
        if needs is None
        else {
            "credentials": needs.credentials,
            "max_runtime_seconds": needs.max_runtime,
            "schedule": None
            if needs.schedule is None
            else {"every_seconds": needs.schedule[0], "max_runtime_seconds": needs.schedule[1]},
            "points_per_minute": needs.points_per_minute,
        },
    }
