"""crm-sync without Kafka: the newest-wins rule (pure, then in SQLite's own statement),
tombstones, idempotent replays, and the table's readable reasons. PostgreSQL and the broker
tests are in tests/integration/test_crmsync.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import Factor, ScoreChange
from streams.integrations.crmsync.database import DatabaseError, connect, expected_row
from streams.integrations.crmsync.table import Row, plan, reasons_text, row_of

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def change(lead: str, score: int, at: datetime, emitted: datetime | None = None) -> ScoreChange:
    return ScoreChange(
        lead_id=lead, score=score, probability=score / 100, tier="hot" if score >= 80 else "warm",
        percentile=50.0, trend="rising", recommended_action="Call today.",
        top_factors=[Factor(feature="pricing", points=18.4,
                            sentence="Viewed the pricing page 3 times this week"),
                     Factor(feature="idle", points=-2.6, sentence="No reply for 9 days")],
        model_version="m-1", cause_event_id=f"ev-{lead}-{score}", cause_event_type="page_view",
        event_time=at, emitted_at=emitted or at + timedelta(seconds=1))


def row(lead: str, score: int, at: datetime, emitted: datetime | None = None) -> Row:
    return row_of(change(lead, score, at, emitted))


def test_reasons_read_as_signed_points_and_sentences() -> None:
    assert reasons_text(change("a", 80, T0).top_factors) == (
        "+18 Viewed the pricing page 3 times this week\n-3 No reply for 9 days")


def test_plan_keeps_the_newest_per_lead_whatever_the_order() -> None:
    new, old = row("a", 90, T0 + timedelta(hours=1)), row("a", 50, T0)
    assert plan([("a", old), ("a", new)]) == {"a": new}
    assert plan([("a", new), ("a", old)]) == {"a": new}


def test_plan_breaks_event_time_ties_by_emitted_at_then_topic_order() -> None:
    first = row("a", 60, T0, emitted=T0 + timedelta(seconds=5))
    second = row("a", 70, T0, emitted=T0 + timedelta(seconds=2))
    assert plan([("a", first), ("a", second)]) == {"a": first}
    resend = row("a", 61, T0, emitted=T0 + timedelta(seconds=5))  # an exact tie
    assert plan([("a", first), ("a", resend)]) == {"a": resend}


def test_a_tombstone_deletes_and_a_later_change_recreates() -> None:
    r = row("a", 60, T0)
    assert plan([("a", r), ("a", None)]) == {"a": None}
    older = row("a", 40, T0 - timedelta(days=1))
    assert plan([("a", r), ("a", None), ("a", older)]) == {"a": older}


@pytest.fixture
def db(tmp_path):
    d = connect(f"sqlite:///{tmp_path / 'crm.sqlite3'}", "lead_scores")
    yield d
    d.close()


def test_sqlite_never_lets_an_older_change_overwrite_a_newer_row(db) -> None:
    new, old = row("a", 90, T0 + timedelta(hours=1)), row("a", 50, T0)
    assert db.apply([new], []).written == 1
    applied = db.apply([old], [])
    assert (applied.written, applied.stale) == (0, 1)
    assert db.read_all() == {"a": expected_row(new)}


def test_sqlite_replaying_a_batch_changes_nothing(db) -> None:
    rows = [row(f"lead-{i}", 50 + i, T0 + timedelta(minutes=i)) for i in range(20)]
    db.apply(rows, [])
    before = db.read_all()
    db.apply(rows, [])  # the same batch again, as after a kill -9 before the Kafka commit
    assert db.read_all() == before == {r.lead_id: expected_row(r) for r in rows}
    assert db.count() == 20


def test_sqlite_deletes_on_tombstones(db) -> None:
    db.apply([row("a", 60, T0), row("b", 70, T0)], [])
    assert db.apply([], ["a"]).deleted == 1
    assert set(db.read_all()) == {"b"}


def test_the_table_shows_reasons_a_person_reads(db, tmp_path) -> None:
    import sqlite3

    db.apply([row("a", 82, T0)], [])
    with sqlite3.connect(tmp_path / "crm.sqlite3") as conn:  # as a CRM integration would
        score, tier, reasons, version = conn.execute(
            "SELECT score, tier, reasons, model_version FROM lead_scores WHERE lead_id = 'a'"
        ).fetchone()
    assert (score, tier, version) == (82, "hot", "m-1")
    assert reasons.splitlines()[0] == "+18 Viewed the pricing page 3 times this week"


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite://relative", "sqlite:///"])
def test_an_unsupported_database_url_is_one_line(url: str) -> None:
    with pytest.raises(DatabaseError) as exc:
        connect(url, "lead_scores")
    assert "\n" not in str(exc.value)
