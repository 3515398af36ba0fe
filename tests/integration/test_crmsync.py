"""``leadscore crm-sync`` against a real PostgreSQL (Debian's package, started here on
loopback) and the real broker: the newest-wins rule in PostgreSQL's own statement, and a
kill -9 in the middle of a batch (its transaction blocked on a table lock the test holds),
a restart and a broker bounce, after which the table equals the compacted topic."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from schemas import DeadLetterRecord, ReasonCode, ScoreChange
from streams.integrations.crmsync.database import PostgresDatabase, expected_row
from streams.integrations.crmsync.table import row_of
from streams.local import postgres as localpostgres
from tests.integration.consumers import T0, caught_up, command, produce, score_change, wait_for
from tests.integration.helpers import admin_client, consume, create_topics


@pytest.fixture(scope="module")
def postgres() -> Iterator[localpostgres.Server]:
    server = localpostgres.start()
    try:
        yield server
    finally:
        server.stop()


def test_postgres_applies_the_same_newest_wins_rule(postgres, topic_prefix) -> None:
    db = PostgresDatabase(postgres.url, f"{topic_prefix}_scores")
    try:
        new = row_of(score_change("a", 90, 60))
        old = row_of(score_change("a", 40, 1))
        tie = row_of(score_change("b", 70, 5).model_copy(
            update={"emitted_at": T0 + timedelta(minutes=5, seconds=1)}))
        assert db.apply([new, tie], []).written == 2
        applied = db.apply([old, tie], [])  # older: refused; exact tie: rewritten, same
        assert (applied.written, applied.stale) == (1, 1)
        assert db.read_all() == {"a": expected_row(new), "b": expected_row(tie)}
        assert db.apply([], ["b"]).deleted == 1 and db.count() == 1
    finally:
        db.close()


def _blocked_on_lock(url: str, table: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE %s", (f"INSERT INTO {table}%",)).fetchone()
    return bool(row and row[0])


def test_kill_9_mid_batch_restart_and_bounce_leave_the_table_equal_to_the_compacted_topic(
        own_kafka, postgres, topic_prefix, tmp_path) -> None:
    from confluent_kafka.admin import NewTopic

    changes, dlq, table = f"{topic_prefix}.changes", f"{topic_prefix}.dlq", f"{topic_prefix}_t"
    for fut in admin_client(own_kafka.bootstrap).create_topics([NewTopic(
            changes, 4, 1, config={"cleanup.policy": "compact"})]).values():
        fut.result(timeout=30)
    create_topics(own_kafka.bootstrap, [dlq])
    leads = [f"lead-{i}" for i in range(40)]

    def wave(n: int) -> list[tuple[str, bytes | None]]:
        return [(lead, score_change(lead, (i * 7 + n * 13) % 101, n).to_bytes())
                for i, lead in enumerate(leads)]

    produce(own_kafka.bootstrap, changes, [*wave(1), *wave(2), ("lead-bad", b"[1, 2]"), *wave(3)])
    group = f"{topic_prefix}-crm"
    env = {"LEADSCORE_KAFKA_BOOTSTRAP": own_kafka.bootstrap, "LEADSCORE_STATE_DIR": str(tmp_path),
           "LEADSCORE_TOPIC_CHANGES": changes, "LEADSCORE_TOPIC_CRM_DEADLETTER": dlq,
           "LEADSCORE_CRM_GROUP": group, "LEADSCORE_CRM_DATABASE_URL": postgres.url,
           "LEADSCORE_CRM_TABLE": table, "LEADSCORE_CRM_BATCH_MAX": "50",
           "LEADSCORE_CRM_METRICS_PORT": "0"}
    log = tmp_path / "crm-sync.log"
    with command(["crm-sync"], env, log) as proc:
        wait_for("the first waves", caught_up(own_kafka.bootstrap, group, changes), proc=proc,
                 log=log)
        with psycopg.connect(postgres.url) as lock:
            lock.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # readers only, until rollback
            produce(own_kafka.bootstrap, changes, wave(4))
            wait_for("a batch blocked in its transaction",
                     lambda: _blocked_on_lock(postgres.url, table), proc=proc, log=log)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            lock.rollback()
    db = PostgresDatabase(postgres.url, table)
    try:
        # the killed batch was never committed, in PostgreSQL or in Kafka
        assert {r["score"] for r in db.read_all().values()} == {
            (i * 7 + 3 * 13) % 101 for i in range(len(leads))}
        with command(["crm-sync"], env, log) as proc:
            wait_for("wave 4 after the restart",
                     caught_up(own_kafka.bootstrap, group, changes), proc=proc, log=log)
            own_kafka.bounce()
            produce(own_kafka.bootstrap, changes, [*wave(5), ("lead-3", None)])  # + a tombstone
            wait_for("wave 5 after the bounce", caught_up(own_kafka.bootstrap, group, changes),
                     timeout=90, proc=proc, log=log)
        table_now = db.read_all()
    finally:
        db.close()
    compacted: dict[str, bytes | None] = {}
    for m in consume(own_kafka.bootstrap, changes, until=lambda m: len(m) >= 242, timeout=30):
        compacted[m.key().decode()] = m.value()
    expected = {lead: expected_row(row_of(ScoreChange.from_bytes(v)))
                for lead, v in compacted.items() if v is not None and lead != "lead-bad"}
    assert "lead-3" not in expected and len(expected) == len(leads) - 1
    assert table_now == expected
    [dead] = [DeadLetterRecord.from_bytes(m.value()) for m in consume(
        own_kafka.bootstrap, dlq, until=lambda m: len(m) >= 1, timeout=30)]
    assert dead.reason_code == ReasonCode.NOT_AN_OBJECT and dead.original == b"[1, 2]"
    assert "Traceback" not in log.read_text()
