"""The bench leaves a broker it did not start as it found it: its topics and groups go."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.bench.prepare import Run, create_topics, drop_created


def test_drop_created_deletes_the_runs_topics_and_groups_only(kafka, topic_prefix,
                                                              tmp_path: Path) -> None:
    client = {"bootstrap.servers": kafka.bootstrap}
    run = Run(tmp_path, bootstrap=kafka.bootstrap, client=client, prefix=f"{topic_prefix}-run")
    mine = [f"{run.prefix}-scorer.website", f"{run.prefix}-scorer-app-leads-changelog"]
    theirs = f"{topic_prefix}-runner.website"  # shares the start, not the run's prefix
    create_topics(run, [*mine, theirs], [], 1)
    for group in (f"{run.prefix}-scorer-app", f"{topic_prefix}-runner-app"):
        c = Consumer({**client, "group.id": group, "enable.auto.commit": False})
        c.commit(offsets=[TopicPartition(mine[0], 0, 0)], asynchronous=False)
        c.close()

    assert drop_created(run) == 2

    admin = AdminClient(client)
    left = set(admin.list_topics(timeout=10).topics)
    assert not left & set(mine) and theirs in left
    groups = {g.group_id for g in admin.list_consumer_groups().result(timeout=10).valid}
    assert f"{run.prefix}-scorer-app" not in groups
    assert f"{topic_prefix}-runner-app" in groups


def test_drop_created_without_a_prefix_deletes_nothing(kafka, tmp_path: Path) -> None:
    run = Run(tmp_path, bootstrap=kafka.bootstrap, client={"bootstrap.servers": kafka.bootstrap},
              admin=AdminClient({"bootstrap.servers": kafka.bootstrap}))
    before = set(run.admin.list_topics(timeout=10).topics)
    assert drop_created(run) == 0
    assert set(run.admin.list_topics(timeout=10).topics) >= before
