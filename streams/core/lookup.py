"""The answer of ``GET /leads/{lead_id}``, built from a stored lead record (pure: no Faust).

Factors are recomputed at lookup time from the stored state (one TreeSHAP row, ~2 ms), so
the lookup explains exactly the score it returns without storing explanations for every lead.
A lead that is known but was never scored (only insignificant events so far) is scored on
the spot at its last event time, without writing anything: the caller still gets the score
the stream would publish at its next significant event.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from pydantic import TypeAdapter, ValidationError

from models.state import T
from schemas.envelope import Identifier
from schemas.outputs import Factor, LeadScore
from streams.core.processing import Processor, recommended_action, trend
from streams.core.record import LeadRecord

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def valid_lead_id(lead_id: str) -> bool:
    """The contract's rule for ids (1-128 characters, no control or invisible characters)."""
    try:
        _IDENTIFIER.validate_python(lead_id)
    except ValidationError:
        return False
    return True


def lead_score(proc: Processor, lead_id: str, raw: bytes) -> LeadScore:
    rec = LeadRecord.from_bytes(raw)
    scorer = proc.scorer
    at = rec.scored_at
    if at is None:
        last = rec.state.ts[T["last"]]
        at = last if not math.isnan(last) else proc.clock()
    X = scorer.features(rec.state, at).reshape(1, -1)
    if rec.score is None or rec.probability is None:
        batch = scorer.score_batch(X)
        score, prob = int(batch.score[0]), float(batch.probability[0])
    else:
        score, prob = rec.score, rec.probability
    tier = proc.policy.alerts.tier(score)
    factors = [Factor(feature=f.feature, points=float(f.points), sentence=f.sentence)
               for f in scorer.explain(X, top_k=proc.policy.top_k, states=[rec.state],
                                       ats=[at])[0]]
    trend_ = trend(rec.alert.history, score, at)
    return LeadScore(
        lead_id=lead_id, score=score, probability=prob, tier=tier,
        percentile=proc.histogram.percentile(score), top_factors=factors, trend=trend_,
        recommended_action=recommended_action(tier, trend_, factors),
        model_version=scorer.version, updated_at=datetime.fromtimestamp(at, UTC))
