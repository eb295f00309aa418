"""Where cursors live: a JSON state file (default) or the PainChain backend."""

from painchain_gh.store.base import ReadOnlyStore, StateStore
from painchain_gh.store.model import STATE_VERSION, StateFile

__all__ = ["STATE_VERSION", "ReadOnlyStore", "StateFile", "StateStore"]
