"""When a repository's workflow runs and deployments are worth a request (pure).

The Events API is the cheap signal: one conditional request a run, a free 304 when nothing moved.
Workflow runs and deployments have no place in it, so they used to cost a request each on every run
however quiet the repository. Now they are read:

- at once when the events show activity (the events list changed: a push, a pull request, a release
  usually starts workflows and deployments), and on a repository's first poll;
- on every run while one of them is still in progress (a run not completed, a deployment whose
  latest status is queued, pending or in progress, for at most a day);
- otherwise at the sweep interval (``--sweep-interval``, 15 minutes by default), so that scheduled
  workflows, manual runs and deployments made from outside are still seen within it. Time is cut
  into slots of one interval, each repository's shifted by its own phase (a stable hash of its
  key): a repository is swept at its first poll in a slot in which it was not read yet. So the
  sweeps of thousands of repositories spread evenly over the runs, and a quiet repository costs
  exactly one read per interval (a read after activity counts for its slot).

So the longest a run or a deployment of a quiet repository can wait is one sweep interval plus the
time between two syncs.
"""

from __future__ import annotations

import hashlib

from painchain_gh.cursor import STUCK_RUN_AGE, RunsCursor
from painchain_gh.transform.runs import RunState


def sweep_phase(key: str, interval: int) -> int:
    """Where this repository's sweep slots start within ``interval``: a stable share of it."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") * interval // 2**32


def sweep_due(read_at: int | None, *, key: str, now: int, interval: int) -> bool:
    """Whether a stream last read at ``read_at`` (None: never) is due for its sweep: a slot began since."""
    if read_at is None or interval <= 0:
        return True
    phase = sweep_phase(key, interval)
    return (now - phase) // interval > (read_at - phase) // interval


def runs_in_progress(cursor: RunsCursor, *, now: int) -> bool:
    """Whether a run forwarded before is not completed yet (and started less than a day ago)."""
    return any(
        not RunState.parse(state).is_completed and now - created < STUCK_RUN_AGE
        for created, state in cursor.runs.values()
    )


def deployments_in_progress(in_progress: dict[str, int], *, now: int) -> bool:
    """Whether a deployment's latest status was queued, pending or in progress (less than a day ago)."""
    return any(now - created < STUCK_RUN_AGE for created in in_progress.values())
