"""When a repository's workflow runs and deployments are worth a request (pure).

The Events API is the cheap signal: one conditional request a run, a free 304 when nothing moved.
Workflow runs and deployments have no place in it, so they used to cost a request each on every run
however quiet the repository. Now they are read:

- at once when the events show activity (the events list changed: a push, a pull request, a release
  usually starts workflows and deployments), and on a repository's first poll;
- on every run while one of them is still in progress (a run not completed, a deployment whose
  latest status is queued, pending or in progress, for at most a day);
- otherwise at the sweep interval (``--sweep-interval``, 15 minutes by default), so that scheduled
  workflows, manual runs and deployments made from outside are still seen within it. Each
  repository's sweep comes due at its own point between half the interval and the whole of it (a
  stable hash of its key), so that the sweeps of thousands of repositories spread over time
  instead of falling due in the same run.

So the longest a run or a deployment of a quiet repository can wait is one sweep interval plus the
time between two syncs.
"""

from __future__ import annotations

import hashlib

from painchain_gh.cursor import STUCK_RUN_AGE, RunsCursor
from painchain_gh.transform.runs import RunState


def sweep_offset(key: str, interval: int) -> int:
    """How much earlier than ``interval`` this repository's sweep comes due: a stable share of half of it."""
    digest = hashlib.sha256(key.encode()).digest()
    return int(int.from_bytes(digest[:4], "big") / 2**32 * (interval / 2))


def sweep_due(read_at: int | None, *, key: str, now: int, interval: int) -> bool:
    """Whether a stream last read at ``read_at`` (None: never) is due for its sweep."""
    if read_at is None or interval <= 0:
        return True
    return now - read_at >= interval - sweep_offset(key, interval)


def runs_in_progress(cursor: RunsCursor, *, now: int) -> bool:
    """Whether a run forwarded before is not completed yet (and started less than a day ago)."""
    return any(
        not RunState.parse(state).is_completed and now - created < STUCK_RUN_AGE
        for created, state in cursor.runs.values()
    )


def deployments_in_progress(in_progress: dict[str, int], *, now: int) -> bool:
    """Whether a deployment's latest status was queued, pending or in progress (less than a day ago)."""
    return any(now - created < STUCK_RUN_AGE for created in in_progress.values())
