"""Examples and exported JSON Schemas: complete, valid, round-trippable, and never stale."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import (
    EVENT_CLASSES,
    EVENT_TYPES,
    OUTPUT_TOPICS,
    PROPERTIES_MODELS,
    TOPIC_FOR_CATEGORY,
    Event,
    ReasonCode,
    parse_event,
)
from schemas.export import (
    EXAMPLES_DIR,
    OUTPUT_MODELS,
    SCHEMA_DIR,
    expected_files,
    main,
    message_models,
    stale_files,
    write,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)  # after every example's event time
NAMES = sorted(message_models())


def example(name: str) -> bytes:
    return (EXAMPLES_DIR / f"{name}.json").read_bytes()


def test_every_message_has_exactly_one_example_and_schema() -> None:
    assert set(NAMES) == set(EVENT_TYPES) | set(OUTPUT_MODELS)
    assert {p.stem for p in EXAMPLES_DIR.glob("*.json")} == set(NAMES)
    assert {p.stem for p in SCHEMA_DIR.glob("*.json")} == set(NAMES)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_event_example_is_valid(name: str) -> None:
    result = parse_event(example(name), now=NOW, max_age=None)
    assert isinstance(result, EVENT_CLASSES[name]), getattr(result, "message", result)


@pytest.mark.parametrize("name", sorted(OUTPUT_MODELS))
def test_output_example_is_valid(name: str) -> None:
    OUTPUT_MODELS[name].model_validate_json(example(name))


@pytest.mark.parametrize("name", NAMES)
def test_example_round_trips_bytes_model_bytes(name: str) -> None:
    raw = example(name)
    again: Any
    if name in EVENT_TYPES:
        model: Any = parse_event(raw, now=NOW, max_age=None)
        assert isinstance(model, Event)
        again = parse_event(model.to_bytes(), now=NOW, max_age=None)
    else:
        cls = OUTPUT_MODELS[name]
        model = cls.model_validate_json(raw)
        again = cls.model_validate_json(model.to_bytes())
    assert again == model
    # examples are written in canonical form, so the meaning is byte-for-byte the same JSON value
    assert orjson.loads(model.to_bytes()) == orjson.loads(raw)


@pytest.mark.parametrize("name", NAMES)
def test_example_agrees_with_exported_schema(name: str) -> None:
    """No JSON Schema validator is a dependency; check the envelope-level facts we rely on."""
    schema = orjson.loads((SCHEMA_DIR / f"{name}.json").read_bytes())
    data = orjson.loads(example(name))
    assert set(schema["required"]) <= set(data)
    assert set(data) <= set(schema["properties"])
    assert "schema_version" in schema["required"]
    if name in EVENT_TYPES:  # envelopes are closed; outputs are open (tolerant readers)
        assert schema["additionalProperties"] is False
        assert schema["properties"]["type"]["const"] == name
    else:
        assert "additionalProperties" not in schema


def test_committed_json_schemas_are_not_stale() -> None:
    assert stale_files() == [], "run: python -m schemas.export"
    assert main(["--check"]) == 0


def test_staleness_is_detected(tmp_path: Path) -> None:
    write(tmp_path)
    assert stale_files(tmp_path) == []
    (tmp_path / "page_view.json").write_bytes(b"{}\n")
    (tmp_path / "removed_type.json").write_bytes(b"{}\n")
    (tmp_path / "alert.json").unlink()
    assert stale_files(tmp_path) == ["alert.json", "page_view.json", "removed_type.json"]


def test_export_is_deterministic() -> None:
    assert expected_files() == expected_files()


README = (EXAMPLES_DIR.parent / "README.md").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_readme_shows_each_example_verbatim(name: str) -> None:
    assert example(name).decode().strip() in README, f"README example for {name} is stale"


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_readme_documents_every_property(name: str) -> None:
    heading = f"#### `{name}`\n"
    assert heading in README
    section = README.split(heading, 1)[1].split("\n#### ", 1)[0].split("\n## ", 1)[0]
    for field in PROPERTIES_MODELS[name].model_fields:
        assert f"| `{field}` |" in section, f"{name}.{field} missing from README"


def test_readme_documents_every_reason_code_and_topic() -> None:
    for code in ReasonCode:
        assert f"| `{code.value}` |" in README
    for topic in [*TOPIC_FOR_CATEGORY.values(), *OUTPUT_TOPICS.values()]:
        assert f"| `{topic}` |" in README
