"""The CRM table's row and the newest-wins rule, as pure functions (no database here).

Newest wins: a change replaces a lead's row only when its ``(event_time, emitted_at)`` is at
least the row's. ``event_time`` is when the causing event happened; ``emitted_at`` (when the
scorer published) breaks ties between changes caused by events of the same instant, and an
exact tie (a re-send of the same change, or a replay) rewrites the row with what it already
holds, so replays are idempotent. A tombstone (a record with no value, as a compacted topic
may hold) deletes the row, as compaction deletes the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from schemas import Factor, ScoreChange


@dataclass(frozen=True)
class Row:
    """One lead's row. ``reasons`` is the top factors as lines a person reads in the CRM
    ("+18 Viewed the pricing page 3 times in the last 7 days"); ``top_factors`` the same as
    JSON, for an integration that wants the numbers."""

    lead_id: str
    score: int
    probability: float
    tier: str
    percentile: float
    trend: str
    reasons: str
    top_factors: str  # JSON array of {feature, points, sentence}
    recommended_action: str
    model_version: str
    cause_event_id: str
    cause_event_type: str
    event_time: datetime
    emitted_at: datetime

    @property
    def order(self) -> tuple[datetime, datetime]:
        return self.event_time, self.emitted_at


COLUMNS = tuple(Row.__dataclass_fields__)  # the table adds synced_at


def points(p: float) -> str:
    """Signed whole points, as the page and the table show them: +18, -3, +0."""
    return f"{round(p):+d}" if round(p) != 0 else ("+0" if p >= 0 else "-0")


def reasons_text(factors: Sequence[Factor]) -> str:
    return "\n".join(f"{points(f.points)} {f.sentence}" for f in factors)


def row_of(change: ScoreChange) -> Row:
    return Row(
        lead_id=change.lead_id, score=change.score, probability=change.probability,
        tier=change.tier, percentile=change.percentile, trend=change.trend,
        reasons=reasons_text(change.top_factors),
        top_factors=orjson.dumps([f.model_dump(mode="json") for f in change.top_factors]
                                 ).decode(),
        recommended_action=change.recommended_action, model_version=change.model_version,
        cause_event_id=change.cause_event_id, cause_event_type=change.cause_event_type,
        event_time=change.event_time.astimezone(UTC),
        emitted_at=change.emitted_at.astimezone(UTC),
    )


def plan(items: Iterable[tuple[str, Row | None]]) -> dict[str, Row | None]:
    """What one batch does to the table, per lead, from its records in offset order: the
    newest row (None: delete). A tombstone clears what came before it in the batch; after it
    any change wins, as it would against the deleted row."""
    out: dict[str, Row | None] = {}
    for lead, row in items:
        if row is None or lead not in out:
            out[lead] = row
            continue
        cur = out[lead]
        if cur is None or row.order >= cur.order:
            out[lead] = row
    return out
