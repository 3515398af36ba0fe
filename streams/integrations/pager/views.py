"""The pager's views of the leads' profiles (leads.profile) and latest scores
(scores.changes): what routing and the page's reasons need, which the alert does not carry.

Why views and not fields on the alert: owner and territory live in the CRM's profile
updates, and the reasons in the score change; keeping them here needs no change to the
scorer. Each view reads every partition of its topic (not as a group member: any alert may
need any lead) and stores its positions with the data in the pager's SQLite file. Before an
alert batch is routed the views are read up to the topics' end offsets as they were at that
moment, so a profile update produced before the alert is always seen by it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from schemas import ProfileUpdateEvent, ScoreChange, parse_event
from streams.integrations.pager.store import Store

log = logging.getLogger("leadscore")
PROFILE_FIELDS = ("owner", "territory", "country", "company_name", "job_title", "industry",
                  "employee_count", "seniority")


class Views:
    def __init__(self, kafka: Mapping[str, Any], group: str, store: Store, profile_topic: str,
                 changes_topic: str) -> None:
        self.store, self.profile_topic, self.changes_topic = store, profile_topic, changes_topic
        self.consumer = Consumer({
            **kafka, "group.id": f"{group}-views",
            "enable.auto.commit": False, "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest", "log_level": 3})
        self.partitions: list[TopicPartition] = []
        for topic in (profile_topic, changes_topic):
            meta = self.consumer.list_topics(topic, timeout=30).topics[topic]
            if meta.error is not None:
                raise RuntimeError(f"topic {topic}: {meta.error.str()}")
            stored = store.positions(topic)
            for p in sorted(meta.partitions):
                self.partitions.append(TopicPartition(topic, p, stored.get(p, OFFSET_BEGINNING)))
        self.consumer.assign(self.partitions)
        self.next: dict[tuple[str, int], int] = {
            (tp.topic, tp.partition): max(tp.offset, 0) for tp in self.partitions}

    def catch_up(self, timeout: float = 30.0) -> int:
        """Read both topics to their current end offsets; return how many records were
        still unread when it gave up (0: complete). A broker that cannot be reached makes it
        give up after ``timeout`` s: the alert is routed on the views as they are."""
        ends: dict[tuple[str, int], int] = {}
        try:
            for tp in self.partitions:
                _, high = self.consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                ends[(tp.topic, tp.partition)] = high
        except KafkaException as exc:
            log.warning("views: end offsets unknown (%s); routing on what was read",
                        exc.args[0].str())
            return -1
        deadline = time.monotonic() + timeout
        while self._behind(ends) > 0 and time.monotonic() < deadline:
            msgs = self.consumer.consume(500, 0.2)
            if msgs:
                self._apply(msgs)
        behind = self._behind(ends)
        if behind:
            log.warning("views: %d records behind after %.0f s; routing on what was read",
                        behind, timeout)
        return behind

    def _behind(self, ends: dict[tuple[str, int], int]) -> int:
        return sum(max(0, end - self.next.get(k, 0)) for k, end in ends.items())

    def _apply(self, msgs: list[Any]) -> None:
        profiles: dict[str, dict[str, tuple[Any, str]]] = {}
        scores: dict[str, tuple[str, dict[str, Any]]] = {}
        moved: dict[tuple[str, int], int] = {}
        for m in msgs:
            if m.error() is not None:
                continue
            key = (m.topic(), m.partition())
            moved[key] = m.offset() + 1
            value = m.value()
            if value is None:
                continue
            if m.topic() == self.profile_topic:
                ev = parse_event(value, max_age=None)
                if not isinstance(ev, ProfileUpdateEvent) or ev.lead_id is None:
                    continue  # the scorer dead-letters bad input; not ours to report twice
                version = f"{_v(ev.occurred_at)}|{ev.event_id}"
                fields = profiles.setdefault(ev.lead_id, {})
                for name in PROFILE_FIELDS:
                    v = getattr(ev.properties, name, None)
                    if v is not None and (name not in fields or version >= fields[name][1]):
                        fields[name] = (v if isinstance(v, str | int) else str(v), version)
            else:
                try:
                    change = ScoreChange.from_bytes(value)
                except ValueError:
                    continue  # crm-sync dead-letters these; the page just shows no reasons
                version = f"{_v(change.event_time)}|{_v(change.emitted_at)}"
                cur = scores.get(change.lead_id)
                if cur is None or version >= cur[0]:
                    scores[change.lead_id] = (version, change.model_dump(
                        mode="json", include={"score", "tier", "top_factors",
                                              "recommended_action"}))
        self.store.apply_views(profiles, scores, moved)
        self.next.update(moved)

    def close(self) -> None:
        self.consumer.close()


def _v(at: datetime) -> str:
    """A time as text that sorts as it compares (UTC, always with microseconds)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
