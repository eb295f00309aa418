"""Every known failure carries its scope and exit code; a stored run state parses into its parts."""

from __future__ import annotations

import pytest

from painchain_gh import errors
from painchain_gh.errors import ExitCode, FailureScope, PainChainError
from painchain_gh.transform.runs import RunState, run_state

SCOPES: dict[type[PainChainError], tuple[FailureScope, bool, bool, ExitCode]] = {
    errors.DeadlineReached: (FailureScope.RUN, True, False, ExitCode.PARTIAL),
    errors.UsageError: (FailureScope.RUN, False, True, ExitCode.CONFIG),
    errors.StateError: (FailureScope.RUN, False, True, ExitCode.STATE),
    errors.LockHeldError: (FailureScope.RUN, False, True, ExitCode.LOCKED),
    errors.BackendUnavailable: (FailureScope.RUN, True, True, ExitCode.UPSTREAM),
    errors.BackendAuthError: (FailureScope.RUN, True, True, ExitCode.UPSTREAM),
    errors.BackendTemporaryError: (FailureScope.REPOSITORY, False, True, ExitCode.UPSTREAM),
    errors.GitHubAuthError: (FailureScope.INTEGRATION, False, True, ExitCode.PARTIAL),
    errors.GitHubRepoError: (FailureScope.REPOSITORY, False, True, ExitCode.PARTIAL),
    errors.GitHubRateLimited: (FailureScope.TOKEN, True, True, ExitCode.PARTIAL),
    errors.GitHubTemporaryError: (FailureScope.REPOSITORY, False, True, ExitCode.PARTIAL),
}


@pytest.mark.parametrize("kind", list(SCOPES))
def test_scope_deferral_and_exit_code(kind: type[PainChainError]) -> None:
    error = kind("message")
    assert (error.scope, error.deferred, error.fatal, error.exit_code) == SCOPES[kind]


def test_every_known_failure_has_a_scope() -> None:
    def subclasses(kind: type[PainChainError]) -> set[type[PainChainError]]:
        return {kind}.union(*(subclasses(sub) for sub in kind.__subclasses__()))

    assert all(isinstance(kind.scope, FailureScope) for kind in subclasses(PainChainError))
    assert errors.BackendRejected("no", status=422).scope is FailureScope.REPOSITORY
    assert int(ExitCode.INTERRUPTED) == 130


@pytest.mark.parametrize(
    ("run", "text", "parsed"),
    [
        ({"status": "queued"}, "1:queued", RunState(1, "queued")),
        ({"status": "completed", "conclusion": "failure", "run_attempt": 2}, "2:completed:failure", None),
        ({"status": "completed"}, "1:completed", None),
    ],
)
def test_run_states_keep_their_stored_text_and_parse_into_parts(
    run: dict[str, object], text: str, parsed: RunState | None
) -> None:
    assert run_state(run) == text
    state = RunState.parse(text)
    if parsed is not None:
        assert state == parsed
    assert state.is_completed == (run["status"] == "completed")
    assert state.conclusion == run.get("conclusion")


def test_odd_stored_run_states_parse_as_open_runs() -> None:
    assert RunState.parse("") == RunState(0, "", None)
    assert not RunState.parse("garbage").is_completed
    assert RunState.parse("x:completed").attempt == 0
