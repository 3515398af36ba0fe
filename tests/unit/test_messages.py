"""Score changes and alerts written with orjson are the contract's own bytes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from schemas import Alert, Factor, ScoreChange
from streams.core.messages import alert_bytes, factor, score_change_bytes


def moment(rng: random.Random) -> datetime:
    micro = rng.choice([0, 500000, rng.randint(1, 999999)])
    return datetime.fromtimestamp(rng.randint(1_600_000_000, 1_900_000_000), UTC).replace(
        microsecond=micro)


def test_score_changes_are_the_models_bytes() -> None:
    rng = random.Random(5)
    for i in range(300):
        factors = [(f"f{j}", round(rng.uniform(-30, 30), 1), f"Sentence {j} é \"q\"")
                   for j in range(rng.randint(0, 5))]
        fields = dict(
            lead_id=f"lead-{i}", score=rng.randint(0, 100), probability=rng.random(),
            tier=rng.choice(["hot", "warm", "cold"]),
            percentile=round(rng.uniform(0, 100), 1), trend=rng.choice(["rising", "steady"]),
            recommended_action="Call today: high intent.", model_version="leadscore-abc",
            cause_event_id=f"e-{i}", cause_event_type="page_view", event_time=moment(rng),
            emitted_at=moment(rng))
        raw = score_change_bytes(top_factors=[factor(*f) for f in factors], **fields)
        model = ScoreChange(top_factors=[Factor(feature=f, points=p, sentence=s)
                                         for f, p, s in factors], **fields)
        assert raw == model.to_bytes()
        assert ScoreChange.from_bytes(raw) == model


def test_alerts_are_the_models_bytes() -> None:
    rng = random.Random(6)
    for i in range(300):
        first = rng.random() < 0.3
        fields = dict(
            kind=rng.choice(["entered_tier", "spike", "decline"]), lead_id=f"lead-{i}",
            from_tier=None if first else rng.choice(["warm", "cold"]), to_tier="hot",
            from_score=None if first else rng.randint(0, 79), to_score=rng.randint(80, 100),
            reason="Score reached 85, entering Hot (threshold 80)", idempotency_key=f"k{i}",
            cause_event_id=f"e-{i}", event_time=moment(rng), emitted_at=moment(rng),
            model_version="leadscore-abc")
        raw = alert_bytes(**fields)
        model = Alert(score=fields["to_score"], **fields)
        assert raw == model.to_bytes()
        assert Alert.from_bytes(raw) == model
