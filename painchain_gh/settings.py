"""What one command run is configured with; every default lives here, once.

Light on purpose (no third-party import at run time): the CLI reads these defaults to build
its options, and ``painchain-gh --version`` must stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydantic import SecretStr

    from painchain_gh.jobs import Shard

StateKind = Literal["file", "backend"]
STATE_KINDS: tuple[StateKind, ...] = ("file", "backend")


def default_state_file() -> Path:
    """The state file in the user's state directory, e.g. ``~/.local/state/painchain-gh/state.json``."""
    from platformdirs import user_state_path  # noqa: PLC0415 - only when no --state-file is given

    return user_state_path("painchain-gh") / "state.json"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a command needs, already validated by the CLI."""

    backend_url: str = "http://localhost:8000/api"
    backend_token: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    repos: tuple[str, ...] = ()
    integration_id: str | None = None
    dry_run: bool = False
    state_kind: StateKind = "file"
    state_file: Path = field(default_factory=default_state_file)
    initial_lookback: float = 86400.0
    backfill_details: float = 3600.0  # first sync: history older than this goes out without extra requests
    max_runtime: float = 50.0
    concurrency: int = 32  # GitHub requests in flight at once, the whole process
    per_token_concurrency: int = 16  # GitHub requests in flight at once per token (GitHub allows 100)
    points_per_minute: int = 600  # per token (GitHub allows 900; a GET costs 1); shards share it
    budget_window: float = 60.0  # seconds over which points_per_minute counts (simulations scale it)
    sweep_interval: float = 900.0  # workflow runs and deployments of a quiet repository are read this often
    rate_limit_reserve: int = 100
    polling_interval: int | None = None
    force: bool = False
    allowed_hosts: frozenset[str] = frozenset({"api.github.com"})
    shard: Shard | None = None
    lock_timeout: float = 0.0
    retry_base_delay: float = 0.5
    max_response_mb: int = 10  # a larger answer from GitHub or the backend is not read (memory stays bounded)
    backend_max_body_kb: int = 100  # the backend's request body limit (NestJS's default): cursors fit under it

    @property
    def max_response_bytes(self) -> int:
        """``max_response_mb`` in bytes."""
        return self.max_response_mb * 1024 * 1024

    @property
    def backend_max_body_bytes(self) -> int:
        """``backend_max_body_kb`` in bytes."""
        return self.backend_max_body_kb * 1024

    @property
    def dead_letter_file(self) -> Path:
        """Rejected events live beside the state file."""
        from painchain_gh.store.file_store import companion  # noqa: PLC0415 - keep this module light

        return companion(self.state_file, ".deadletter.jsonl")
