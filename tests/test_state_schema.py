"""state/schema.json is generated from the state model; this fails when it is stale.

Regenerate with: ``UPDATE_SCHEMA=1 pytest tests/test_state_schema.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from painchain_gh.store.model import StateFile

SCHEMA = Path(__file__).parent.parent / "state" / "schema.json"


def current_schema() -> str:
    schema = StateFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://painchain.dev/schemas/painchain-gh/state-v2.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def test_state_schema_is_up_to_date() -> None:
    if os.environ.get("UPDATE_SCHEMA"):
        SCHEMA.write_text(current_schema(), encoding="utf-8")
    assert SCHEMA.read_text(encoding="utf-8") == current_schema(), (
        "run UPDATE_SCHEMA=1 pytest tests/test_state_schema.py"
    )


def test_a_written_state_validates_against_its_model() -> None:
    state = StateFile.model_validate(
        {
            "version": 2,
            "repos": {
                "-/int1/acme/api": {"events": {"floor": 1, "seen": {"42": 2}}, "runs": {"runs": {"7": [2, "1:queued"]}}}
            },
        }
    )
    assert StateFile.model_validate_json(state.model_dump_json()) == state
