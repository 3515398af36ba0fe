"""The pager's loop: alerts in, pages out, offsets committed after delivery.

Per alert, in topic order: read it (not an alert: dead-lettered), drop it if its
idempotency key was handled before (an exact re-send: the scorer after a crash, or this pager
re-reading after one), look up the lead in the views, pick the first matching route, then
page now, or hold it for a digest (quiet hours, hourly cap). A page is POSTed with retries
and recorded as delivered the moment the receiver says 2xx; one that keeps failing goes to the
dead-letter topic (acknowledged by the broker) and is recorded so. Only then is the alert's
offset committed. Held alerts are stored first, so the offset can be committed too; a timer
sends each group of due ones as one digest.

Run one pager per store: the store of delivered keys is this process's SQLite file, so a
second pager with another file could page again what the first delivered and had not yet
committed when a rebalance moved the partition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import Consumer, Message

from schemas import Alert, DeadLetterRecord, ReasonCode
from streams.integrations.kafkaio import (
    DeadLetterSink,
    Offsets,
    dead_letter,
    make_consumer,
    read_output,
    usable,
)
from streams.integrations.pager import render, rules
from streams.integrations.pager.config import PagerConfig, Route
from streams.integrations.pager.metrics import Metrics
from streams.integrations.pager.store import Store
from streams.integrations.pager.views import Views
from streams.integrations.pager.webhook import Attempt, Outcome, deliver

log = logging.getLogger("leadscore")
Clock = Callable[[], datetime]


class Stopped(Exception):
    """SIGTERM arrived during a delivery's retries: leave without committing that alert."""


class Pager:
    def __init__(self, config: PagerConfig, store: Store, *, deadletters: DeadLetterSink,
                 metrics: Metrics | None = None, clock: Clock | None = None) -> None:
        self.config, self.store, self.deadletters = config, store, deadletters
        self.metrics = metrics or Metrics()
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.stop = threading.Event()
        self.metrics.held.set(store.held_count())

    # ------------------------------------------------------------------ one alert
    def handle(self, msg: Message) -> None:
        """Everything one alert record leads to; raises Stopped (nothing recorded)."""
        value = msg.value()
        if value is None:
            return
        got = read_output(Alert, value)
        if not isinstance(got, Alert):
            code, why = got
            self._dead_letter(dead_letter(msg, code, why), msg.key())
            self._count("invalid")
            log.warning("dead-lettered %s[%s]@%s: %s", msg.topic(), msg.partition(),
                        msg.offset(), why)
            return
        self.page(got, value, (msg.topic(), msg.partition(), msg.offset()))

    def page(self, alert: Alert, raw: bytes,
             where: tuple[str | None, int | None, int | None] = (None, None, None)) -> str:
        """Route and page (or hold) one alert; returns what became of it."""
        key = alert.idempotency_key
        if self.store.handled(key) is not None:
            return self._count("duplicate")
        profile = self.store.profile(alert.lead_id)
        route = rules.route_for(alert, profile, self.config.routes)
        if route is None:
            self.store.mark(key, "unrouted")
            log.warning("alert %s for lead %s matched no route; add a catch-all route",
                        key, alert.lead_id)
            return self._count("unrouted")
        rep, now = rules.rep_of(profile, route), self.clock()
        hour = rules.hour_of(now)
        decision = rules.decide(route, now, self.store.pages_in_hour(rep, hour))
        score = self.store.score(alert.lead_id)
        if decision.action == "hold":
            assert decision.release_at is not None and decision.reason is not None
            item = {"alert": alert.model_dump(mode="json", exclude_none=True),
                    "lead": profile, "score": score}
            self.store.hold(key, route.name, rep, decision.reason, decision.release_at, item)
            self.metrics.held.set(self.store.held_count())
            return self._count(f"held_{decision.reason}")
        hook = self.config.webhooks[route.webhook]
        body = render.page_body(hook.format, alert, profile, score, route.name, rep)
        outcome = self._deliver(route, orjson.dumps(body), key)
        if outcome.delivered:
            self.store.mark_delivered(key, rep, hour)
            self.metrics.pages.labels(route.name).inc()
            return self._count("delivered")
        record = DeadLetterRecord.create(
            raw, ReasonCode.DELIVERY_FAILED,
            f"route {route.name}, webhook {route.webhook}: {outcome.detail}",
            source_topic=where[0], partition=where[1], offset=where[2])
        self._dead_letter(record, alert.lead_id.encode())
        self.store.mark(key, "dead_lettered")
        log.error("page for lead %s not delivered (route %s, webhook %s): %s; dead-lettered",
                  alert.lead_id, route.name, route.webhook, outcome.detail)
        return self._count("dead_lettered")

    def _deliver(self, route: Route, body: bytes, key: str) -> Outcome:
        name = route.webhook

        def seen(a: Attempt, secs: float) -> None:
            self.metrics.attempts.labels(name, a.result).inc()
            self.metrics.attempt_seconds.labels(name).observe(secs)
            if a.result != "ok":
                log.warning("webhook %s: %s", name, a.detail)

        outcome = deliver(self.config.webhooks[name], body, key, self.config.retry, self.stop,
                          seen)
        if outcome.stopped:
            raise Stopped
        return outcome

    def _dead_letter(self, record: DeadLetterRecord, key: bytes | None) -> None:
        self.deadletters.send(record, key)
        self.deadletters.flush()

    def _count(self, outcome: str) -> str:
        self.metrics.alerts.labels(outcome).inc()
        return outcome

    # ------------------------------------------------------------------ digests
    def release_due(self) -> int:
        """Send every group of held alerts whose time has come as one digest; returns how
        many digests went out (delivered or dead-lettered)."""
        sent = 0
        for (route_name, rep, reason), items in self.store.due(self.clock()).items():
            keys = [k for k, _ in items]
            docs = [d for _, d in items]
            dkey = render.digest_key(keys)
            route = self.config.route(route_name) or self.config.routes[-1]
            hook = self.config.webhooks[route.webhook]
            body = orjson.dumps(render.digest_body(hook.format, docs, reason, route.name, rep,
                                                   self.config.digest_max_items))
            outcome = self._deliver(route, body, dkey)
            if outcome.delivered:
                self.store.release(keys, dkey, "delivered")
                self.metrics.digests.labels(reason, "delivered").inc()
            else:
                record = DeadLetterRecord.create(
                    body, ReasonCode.DELIVERY_FAILED,
                    f"digest of {len(keys)} alerts for {rep}, route {route.name}, webhook "
                    f"{route.webhook}: {outcome.detail}")
                self._dead_letter(record, rep.encode())
                self.store.release(keys, dkey, "dead_lettered")
                self.metrics.digests.labels(reason, "dead_lettered").inc()
                log.error("digest for %s not delivered: %s; dead-lettered", rep,
                          outcome.detail)
            self.metrics.held.set(self.store.held_count())
            sent += 1
        return sent


def run(pager: Pager, *, kafka: Mapping[str, Any], group: str, alerts_topic: str,
        profile_topic: str,
        changes_topic: str, stop: threading.Event,
        on_idle: Callable[[], Any] | None = None) -> None:
    """The Kafka side: consume alerts, bring the views up to date, page, commit; send due
    digests; prune old keys hourly. Returns when ``stop`` is set."""
    pager.stop = stop
    views = Views(kafka, group, pager.store, profile_topic, changes_topic)
    offsets = Offsets()

    def on_revoke(consumer: Consumer, partitions: list) -> None:
        offsets.commit(consumer)
        offsets.forget(partitions)

    consumer = make_consumer(
        kafka, group, [alerts_topic], on_revoke=on_revoke,
        max_poll_seconds=pager.config.retry.budget_seconds() * 2 + 60)
    pruned_at = 0.0
    try:
        while not stop.is_set():
            msgs = [m for m in consumer.consume(100, 0.5) if usable(m)]
            if msgs:
                pager.metrics.view_lag.set(max(views.catch_up(), 0))
                try:
                    for m in msgs:
                        pager.handle(m)
                        offsets.done([m])
                except Stopped:
                    break
            try:
                pager.release_due()
            except Stopped:
                break
            offsets.commit(consumer)
            if time.monotonic() - pruned_at > 3600:
                pruned_at = time.monotonic()
                pager.store.prune(pager.config.dedupe_days * 86400)
            if not msgs and on_idle is not None:
                on_idle()
    finally:
        offsets.commit(consumer)
        consumer.close()
        views.close()

