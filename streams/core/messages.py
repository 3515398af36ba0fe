"""Score changes and alerts serialised with orjson directly, byte for byte what the contract's
``ScoreChange(...).to_bytes()`` / ``Alert(...).to_bytes()`` would write.

Why: building and dumping the pydantic models cost ~12 us per score change, and the values
come from the scorer's own code, not from outside, so validating them again on the way out
buys nothing per message. tests/unit/test_messages.py checks that these bytes equal the
pydantic models' for many messages, and that the contract's strict readers accept them.
Field order is the models' (``schema_version`` first); timestamps are UTC with a ``Z``, as
pydantic writes them; absent optional fields are left out (``exclude_none``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson

from schemas import CURRENT_SCHEMA_VERSION
from schemas.jsonbytes import dumps

_OPTS = orjson.OPT_UTC_Z


def factor(feature: str, points: float, sentence: str) -> dict[str, object]:
    return {"feature": feature, "points": points, "sentence": sentence}


def score_change_bytes(*, lead_id: str, score: int, probability: float, tier: str,
                       percentile: float, top_factors: Sequence[dict[str, object]], trend: str,
                       recommended_action: str, model_version: str, cause_event_id: str,
                       cause_event_type: str, event_time: datetime,
                       emitted_at: datetime) -> bytes:
    return dumps({
        "schema_version": CURRENT_SCHEMA_VERSION, "lead_id": lead_id, "score": score,
        "probability": probability, "tier": tier, "percentile": percentile,
        "top_factors": list(top_factors), "trend": trend,
        "recommended_action": recommended_action, "model_version": model_version,
        "cause_event_id": cause_event_id, "cause_event_type": cause_event_type,
        "event_time": event_time, "emitted_at": emitted_at}, option=_OPTS)


def alert_bytes(*, kind: str, lead_id: str, from_tier: str | None, to_tier: str,
                from_score: int | None, to_score: int, reason: str, idempotency_key: str,
                cause_event_id: str, event_time: datetime, emitted_at: datetime,
                model_version: str) -> bytes:
    doc: dict[str, object] = {"schema_version": CURRENT_SCHEMA_VERSION, "kind": kind,
                              "lead_id": lead_id}
    if from_tier is not None:
        doc["from_tier"] = from_tier
    doc["to_tier"] = to_tier
    if from_score is not None:
        doc["from_score"] = from_score
    doc.update({"to_score": to_score, "score": to_score, "reason": reason,
                "idempotency_key": idempotency_key, "cause_event_id": cause_event_id,
                "event_time": event_time, "emitted_at": emitted_at,
                "model_version": model_version})
    return dumps(doc, option=_OPTS)
