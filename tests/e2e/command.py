"""How end-to-end tests and benchmarks start the real connector."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def painchain_gh_command() -> list[str]:
    """The installed console script beside this interpreter, else on PATH, else ``python -m``."""
    script = Path(sys.executable).with_name("painchain-gh")
    if script.exists():
        return [str(script)]
    found = shutil.which("painchain-gh")
    return [found] if found else [sys.executable, "-m", "painchain_gh"]
