"""The fast validator agrees with the reference (``parse_event``) on every input: the examples,
the whole bad-input corpus, and a fuzz of random bytes, random JSON and mutated events of every
type. Same outcome, same reason code; for a valid event, the same field values."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas import EVENT_TYPES, PROPERTIES_MODELS, DeadLetterRecord, Event, parse_event
from schemas.export import EXAMPLES_DIR
from schemas.fastpath import _RULES, FastEvent, parse_event_fast
from tests.unit import test_schemas_fuzz as fuzz
from tests.unit.test_schemas_validate import BAD_INPUTS

NOW = datetime(2026, 6, 1, tzinfo=UTC)  # after every example's event time
EXAMPLES = {t: orjson.loads((EXAMPLES_DIR / f"{t}.json").read_bytes()) for t in EVENT_TYPES}


def agree(raw: Any, now: datetime = NOW, max_age: timedelta | None = timedelta(days=400),
          max_bytes: int = 65536) -> FastEvent | DeadLetterRecord | None:
    """Both doors on one input: same outcome, reason code and (valid) field values. Returns
    the fast door's answer, or None for a valid event it left to the reference."""
    kw: dict[str, Any] = {"now": now, "max_age": max_age, "max_bytes": max_bytes,
                          "source_topic": "t", "partition": 1, "offset": 7}
    ref = parse_event(raw, **kw)
    fast = parse_event_fast(raw, **kw)
    if isinstance(ref, DeadLetterRecord):
        assert isinstance(fast, DeadLetterRecord), (raw, ref.message)
        assert fast.reason_code == ref.reason_code, raw
        assert fast.model_dump(exclude={"failed_at"}) == ref.model_dump(exclude={"failed_at"})
        return fast
    assert isinstance(fast, FastEvent), (raw, fast)
    took_fast_path = fast._full is None
    assert_same_event(fast, ref)
    return fast if took_fast_path else None


def assert_same_event(fast: FastEvent, ref: Event) -> None:
    for attr in ("event_id", "type", "occurred_at", "lead_id", "anonymous_id", "source", "key"):
        assert getattr(fast, attr) == getattr(ref, attr), attr
    assert fast.occurred_at.tzinfo == ref.occurred_at.tzinfo
    assert fast.ts == ref.occurred_at.timestamp()
    for name in PROPERTIES_MODELS[ref.type].model_fields:
        got, want = getattr(fast.properties, name), getattr(ref.properties, name)
        assert got == want and type(got) is type(want), (ref.type, name, got, want)
    assert fast.to_bytes() == ref.to_bytes()


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_example_takes_the_fast_path_and_agrees(name: str) -> None:
    raw = orjson.dumps(EXAMPLES[name])
    assert isinstance(agree(raw), FastEvent), "the example fell back to the reference"


@pytest.mark.parametrize(("raw", "code"), [(raw, code) for _, raw, code in BAD_INPUTS],
                         ids=[name for name, _, _ in BAD_INPUTS])
def test_every_bad_input_gets_the_reference_reason(raw: bytes, code: object) -> None:
    # The corpus was written for its own NOW (2026-03-01 12:00), and so its freshness cases.
    got = agree(raw, now=fuzz.NOW)
    assert isinstance(got, DeadLetterRecord) and got.reason_code == code


def test_limits_and_non_bytes_agree() -> None:
    raw = orjson.dumps(EXAMPLES["page_view"])
    agree(raw, max_bytes=len(raw) - 1)  # too large
    agree(raw, max_age=None)
    agree(raw, max_age=timedelta.max)  # overflows: the reference clamps it
    agree(raw, now=datetime.max.replace(tzinfo=UTC))
    agree(raw, now=datetime(2026, 3, 2, 9, 14, 5, tzinfo=UTC))  # at the future bound
    agree(raw, now=datetime(2026, 3, 2, 9, 9, 5, tzinfo=UTC))  # exactly 5 minutes before
    agree(raw, now=datetime(2027, 4, 6, 9, 14, 5, tzinfo=UTC))  # at the age limit
    for odd in ("not bytes", None, bytearray(raw), memoryview(raw)):
        agree(odd)


TRICKY = [
    None, True, 0, -1, 1, 2, 3.0, 1.5, 2**70, "", " ", "x", "x" * 257, "x" * 5001, "é", "lead 1",
    "a\u200bb", "\t", "/", "/pricing", "https://a.b/", "http://", "ftp://x", "HTTPS://a.b",
    "pricing", "blog", "desktop", "hard", "urgent", "email", "EUR", " eur ", "EURO", "de", "DE",
    "Germany", "Acme.COM ", "acme", "-acme.com", "a@b.c", "a@b.c\n", "a b@c.d", "ada@acme.com",
    "VP Eng", "Chief Technology Officer", "2024-01-01", "2024-02-30", "2024-01-01\n",
    "२०२४-०१-०१", "2026-03-01T11:59:00Z", "2026-03-01T11:59:00+00:00",
    "2026-03-01T11:59:00.1234567Z", "2026-03-01T11:59:00.123+05:30", "2026-03-01 11:59:00Z",
    "2026-03-01t11:59:00z", "2026-03-01T11:59Z", "2026-03-01T11:59:60Z",
    "2026-03-01T11:59:00-24:00",
    "2026-03-01T11:59:00+23:59", "2026-05-31T23:58:00Z", "2026-06-01T00:04:59Z",
    "2026-06-01T00:05:00.000001Z", "2025-04-27T00:00:00Z", "2025-04-26T23:59:59.999999Z",
    [], {}, {"a": 1}, ["page_view"],
]


def mutate(rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(json.dumps(base))
    props = event.get("properties")
    fields = list(_RULES[base["type"]]) + ["unknown_prop"]
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.45 and isinstance(props, dict):
            key = rng.choice(fields)
            if rng.random() < 0.25:
                props.pop(key, None)
            else:
                props[key] = rng.choice(TRICKY)
        elif roll < 0.9:
            key = rng.choice([*fuzz.KEYS, "lead_id", "anonymous_id", "occurred_at"])
            if rng.random() < 0.25:
                event.pop(key, None)
            else:
                event[key] = rng.choice(TRICKY + [base.get(key), rng.choice(list(EVENT_TYPES))])
        else:
            event["type"] = rng.choice(list(EVENT_TYPES))
    return event


def test_mutations_of_every_type_agree() -> None:
    rng = random.Random(10)
    fast_valid = 0
    for i in range(3000):
        base = EXAMPLES[sorted(EVENT_TYPES)[i % len(EVENT_TYPES)]]
        got = agree(fuzz.dumps(mutate(rng, base)))
        fast_valid += isinstance(got, FastEvent)
    assert fast_valid > 300  # the fuzz reaches the fast path, not only the reference


def test_random_bytes_and_json_agree() -> None:
    rng = random.Random(11)
    for _ in range(500):
        agree(rng.randbytes(rng.randint(0, 200)))
    for _ in range(1500):
        agree(fuzz.dumps(fuzz.random_json(rng)))
    for _ in range(1500):
        agree(fuzz.dumps(fuzz.mutate(rng)), now=fuzz.NOW)


def test_truncations_agree() -> None:
    raw = orjson.dumps(EXAMPLES["profile_update"])
    for cut in range(len(raw)):
        agree(raw[:cut])
        agree(raw[:cut] + b"\xff" + raw[cut:])


def test_every_property_has_a_rule_with_the_models_required_ness() -> None:
    for t, model in PROPERTIES_MODELS.items():
        assert list(_RULES[t]) == list(model.model_fields), t  # order: the canonical bytes
        for name, field in model.model_fields.items():
            assert _RULES[t][name][0] == field.is_required(), (t, name)
