"""Export the JSON Schema of every message to schemas/jsonschema/*.json.

The files are what non-Python producers validate against, so they must never drift from the
models: `python -m schemas.export` regenerates them, `python -m schemas.export --check` exits 1
when they are stale (a unit test runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from schemas.envelope import CURRENT_SCHEMA_VERSION
from schemas.events import EVENT_CLASSES, EVENT_TYPES, TOPIC_FOR_CATEGORY
from schemas.outputs import OUTPUT_TOPICS, Alert, DeadLetterRecord, LeadScore, ScoreChange

SCHEMA_DIR = Path(__file__).parent / "jsonschema"
EXAMPLES_DIR = Path(__file__).parent / "examples"
_BASE_URI = "https://github.com/leadscore/leadscore/schemas/jsonschema/"

OUTPUT_MODELS: dict[str, type[BaseModel]] = {
    "score_change": ScoreChange,
    "alert": Alert,
    "dead_letter": DeadLetterRecord,
    "lead_score": LeadScore,
}
"""Output message name -> model (file stem in jsonschema/ and examples/)."""


API_ENDPOINTS: dict[str, str] = {"lead_score": "GET /leads/{lead_id}"}
"""Messages that are HTTP answers rather than topic records: name -> endpoint."""


def message_models() -> dict[str, type[BaseModel]]:
    """Every message name (event type or output name) -> its model."""
    return {**EVENT_CLASSES, **OUTPUT_MODELS}


def topic_of(name: str) -> str:
    if name in EVENT_TYPES:
        return TOPIC_FOR_CATEGORY[EVENT_TYPES[name]]
    return OUTPUT_TOPICS.get(name) or API_ENDPOINTS[name]


def schema_for(name: str) -> dict[str, Any]:
    model = message_models()[name]
    schema = model.model_json_schema(mode="validation")
    # Writers must always send schema_version, even though Python callers get a default.
    required = schema.setdefault("required", [])
    if "schema_version" not in required:
        required.append("schema_version")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_BASE_URI}{name}.json",
        **({"x-endpoint": API_ENDPOINTS[name]} if name in API_ENDPOINTS
           else {"x-topic": topic_of(name)}),
        "x-schema-version": CURRENT_SCHEMA_VERSION,
        **schema,
    }


def render(schema: dict[str, Any]) -> bytes:
    """Stable bytes: sorted keys and indentation, so diffs in review are readable."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def expected_files() -> dict[str, bytes]:
    return {f"{name}.json": render(schema_for(name)) for name in message_models()}


def stale_files(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of files that are missing, different, or no longer generated."""
    expected = expected_files()
    present = {p.name for p in directory.glob("*.json")} if directory.exists() else set()
    stale = [name for name, content in expected.items()
             if name not in present or (directory / name).read_bytes() != content]
    return sorted(stale + sorted(present - set(expected)))


def write(directory: Path = SCHEMA_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    expected = expected_files()
    for path in directory.glob("*.json"):
        if path.name not in expected:
            path.unlink()
    for name, content in expected.items():
        (directory / name).write_bytes(content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if schemas/jsonschema is stale instead of writing it")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("stale JSON Schemas (run python -m schemas.export):", *stale, sep="\n  ")
            return 1
        print(f"{len(expected_files())} JSON Schemas up to date")
        return 0
    write()
    print(f"wrote {len(expected_files())} JSON Schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
