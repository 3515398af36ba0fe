"""parse_event never raises: random bytes, random JSON, and randomly mutated valid events."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas import DeadLetterRecord, Event, parse_event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VALID = {
    "event_id": "evt-1", "type": "page_view", "occurred_at": "2026-03-01T11:59:00Z",
    "anonymous_id": "anon-1", "source": "web-tracker", "schema_version": 2,
    "properties": {"url": "https://acme.com/pricing", "path": "/pricing",
                   "page_category": "pricing"},
}
KEYS = [*VALID, "lead_id", "timestamp", "feature", "deal_value", "", "\x00"]
TYPES = ["page_view", "identify", "converted", "profile_update", "login", "nope", ""]


def random_scalar(rng: random.Random) -> Any:
    return rng.choice([
        None, True, False, 0, -1, 2**70, 1.5, float("nan"), float("inf"), float(rng.random()),
        "", "x" * rng.randint(0, 300),
        "2026-03-01T11:59:00Z", "2026-03-01T11:59:00", "\x00\u202e\ud7ff", rng.choice(TYPES), 2,
    ])


def random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return random_scalar(rng)
    if roll < 0.7:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(KEYS): random_json(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def mutate(rng: random.Random) -> dict[str, Any]:
    event: dict[str, Any] = orjson.loads(orjson.dumps(VALID))
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(KEYS)
        if rng.random() < 0.3:
            event.pop(key, None)
        elif rng.random() < 0.5:
            event["properties"] = random_json(rng)
        else:
            event[key] = random_json(rng)
    return event


def dumps(obj: Any) -> bytes:
    """stdlib json on purpose: it also writes what orjson refuses (huge ints, NaN, Infinity)."""
    return json.dumps(obj, allow_nan=True).encode()


def check(raw: Any) -> None:
    result = parse_event(raw, now=NOW)
    assert isinstance(result, Event | DeadLetterRecord)
    if isinstance(result, DeadLetterRecord):
        # the dead letter itself must be publishable
        assert DeadLetterRecord.from_bytes(result.to_bytes()) == result


def test_random_bytes_never_raise() -> None:
    rng = random.Random(1)
    for _ in range(500):
        check(rng.randbytes(rng.randint(0, 200)))


def test_random_json_never_raises() -> None:
    rng = random.Random(2)
    for _ in range(1000):
        check(dumps(random_json(rng)))


def test_mutated_events_never_raise() -> None:
    rng = random.Random(3)
    outcomes = set()
    for _ in range(1500):
        raw = dumps(mutate(rng))
        check(raw)
        result = parse_event(raw, now=NOW)
        outcomes.add(getattr(result, "reason_code", "ok"))
    assert len(outcomes) >= 5, outcomes  # the fuzzer actually reaches several code paths


def test_truncations_of_a_valid_event_never_raise() -> None:
    raw = orjson.dumps(VALID)
    for cut in range(len(raw)):
        check(raw[:cut])
        check(raw[:cut] + b"\xff" + raw[cut:])
