"""Pure transforms from raw GitHub objects to PainChain events: no I/O, no clock, no logging."""

from painchain_gh.transform.common import PainChainEvent, RepoContext, Skip
from painchain_gh.transform.events import needs_pull_details, pull_number, to_event
from painchain_gh.transform.runs import run_state, to_run_event

__all__ = [
    "PainChainEvent",
    "RepoContext",
    "Skip",
    "needs_pull_details",
    "pull_number",
    "run_state",
    "to_event",
    "to_run_event",
]
