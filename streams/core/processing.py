"""The scorer's batch logic, free of Faust: messages in, outputs and table writes out.

The Faust agent (``streams/worker/agents/lead_events.py``) only moves bytes: it hands a batch of
Kafka messages to :meth:`Processor.process`, sends the outputs it gets back, waits for the
broker to acknowledge them, and only then writes the table records. ``leadscore replay``
runs the very same code over a file with a dict as the table, which is what makes the
offline/online parity test meaningful.

Per batch: each message is validated (bad bytes become dead-letter records, never
exceptions), routed (identity stitching, see below) and folded into its record with the
model's pure ``fold``; then every lead that received a significant event is scored with ONE
vectorised predict, and explanations are computed only for the score changes actually sent.

Identity stitching. Anonymous web events live under ``A:<anonymous_id>`` on the anonymous
id's partition. An ``identify`` (keyed by its anonymous id) records the alias, removes the
anonymous record and sends it, with the identify event, to the handoff topic keyed by the
lead id; the worker owning the lead's partition merges it (``models.state.merge``, itself
idempotent) and re-scores. Later events under an aliased anonymous id are forwarded the
same way. A message keyed differently from what the contract says (``Event.key``), or put
on another partition than Kafka's default partitioner would choose, is re-routed through
the handoff topic, so a mis-keyed producer cannot split a lead's state across partitions.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import numpy as np

from models.columns import feature_rows, top_factors
from models.scoring import Scorer
from models.state import (
    LeadState,
    T,
    fold_into,
    merge,
    observe,
    state_from_bytes,
    state_to_bytes,
)
from schemas import DeadLetterRecord, ReasonCode
from schemas.fastpath import FastEvent, parse_event_fast
from schemas.jsonbytes import dumps
from schemas.outputs import dead_letter_key
from streams.core import handoff as handoff_
from streams.core.alerting import AlertDecision, AlertPolicy, evaluate
from streams.core.drift import RecentRows
from streams.core.messages import alert_bytes, factor, score_change_bytes
from streams.core.partitioner import partition_for
from streams.core.percentile import ScoreHistogram
from streams.core.quality import label_of, observe_outcome, remember_score, version_bytes
from streams.core.record import LeadRecord, anon_key, lead_key
from streams.core.recordcache import RecordCache
from streams.core.significance import DEFAULT_RULE, SignificanceRule

OUTCOME_TYPES = frozenset({"converted", "disqualified", "lost"})


# Plain named tuples: a batch makes one Output per score change and one Write per lead, and a
# frozen dataclass's __init__ costs several times a tuple's.
class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class Output(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes


class Write(NamedTuple):
    """Set (or, with value None, delete) a table key, in the partition of message ``source``."""

    table: str  # "leads" or "aliases"
    key: str
    value: bytes | None
    source: int


@dataclass(frozen=True)
class TopicNames:
    handoff: str = "leads.handoff"
    changes: str = "scores.changes"
    alerts: str = "scores.alerts"
    deadletter: str = "events.deadletter"
    shadow: str = "scores.shadow"


@dataclass(frozen=True)
class Policy:
    min_change: int = 3
    top_k: int = 3
    max_age: timedelta | None = timedelta(days=400)
    max_bytes: int = 65536
    alerts: AlertPolicy = field(default_factory=AlertPolicy)
    significant: SignificanceRule = DEFAULT_RULE
    # Partitions of the input topics; None skips the partition check (offline replay).
    partitions: int | None = None
    # After a rep's "contacted" feedback, a lead's alerts are not published for this long
    # (event time); scores and alert state move on as usual.
    contacted_quiet_s: float = 72 * 3600.0
    # Scored feature rows kept for drift (streams.core.drift): the most recent this many.
    drift_rows: int = 5000
    # Decoded lead records kept between batches (streams.core.recordcache); 0: none.
    record_cache: int = 0


@dataclass
class BatchResult:
    outputs: list[Output] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    # "consumed:<topic>:<type|invalid>", "invalid:<topic>:<reason>", "handoff:<kind>",
    # "changes:<tier>", "alerts:<kind>", "scored", "duplicate_or_late", "merged": read by
    # streams.worker.metrics, so the pure code needs no Prometheus.
    counts: Counter[str] = field(default_factory=Counter)
    # For each score computed: the score, and the index of the message that caused it in the
    # batch (the agent turns it into event-to-score latency from the record timestamp).
    scored_scores: list[int] = field(default_factory=list)
    scored_sources: list[int] = field(default_factory=list)


class Cause(NamedTuple):
    """What a score change is attributed to: an event, or the passage of time."""

    id: str
    type: str
    time: datetime


class Row(NamedTuple):
    lead: str
    rec: LeadRecord
    cause: Cause
    at: float  # event time the features are computed at


def decay_cause(lead: str, at: float) -> Cause:
    """A deterministic cause for an idle re-score, so its alerts keep stable keys."""
    digest = hashlib.sha1(lead.encode()).hexdigest()[:16]
    return Cause(f"decay-{digest}-{int(at)}", "decay", _iso(at))


def due_for_rescore(header: dict, now: float, idle_s: float, every_s: float) -> bool:
    """An open, scored lead with no event for ``idle_s`` and no score for ``every_s``."""
    if header.get("closed") or header.get("s") is None or header.get("le") is None:
        return False
    scored_at = header.get("at") or header["le"]
    return now - header["le"] >= idle_s and now - scored_at >= every_s


class Store(Protocol):
    def get(self, key: str) -> Any: ...


def _iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def trend(history: Sequence[tuple[float, int]], score: int, at: float) -> str:
    """rising / falling when the score moved 5+ points against the oldest score of the week."""
    week = [s for t, s in history if t >= at - 7 * 86400]
    if not week:
        return "steady"
    delta = score - week[0]
    return "rising" if delta >= 5 else "falling" if delta <= -5 else "steady"


def recommended_action(tier: str, trend_: str, factors: Sequence[Any]) -> str:
    """A next step a rep can take, from tier and trend, citing the strongest positive reason.
    ``factors``: contract Factors or the dicts :func:`streams.core.messages.factor` makes."""
    reason = next((_sentence(f) for f in factors if _points(f) > 0), None)
    because = f" Lead with: {reason}." if reason else ""
    if tier == "hot":
        return "Call today: high intent." + because
    if tier == "warm":
        if trend_ == "rising":
            return "Follow up personally this week: the lead is warming up." + because
        return "Add to an SDR sequence." + because
    if trend_ == "falling":
        return "Move to a re-engagement nurture track."
    return "Keep in marketing nurture; no sales action yet."


def _sentence(f: Any) -> str:
    return str(f["sentence"] if isinstance(f, dict) else f.sentence)


def _points(f: Any) -> float:
    return float(f["points"] if isinstance(f, dict) else f.points)


class Processor:
    """Holds the model and per-worker memory (the percentile histogram) across batches."""

    def __init__(self, scorer: Scorer, topics: TopicNames = TopicNames(),
                 policy: Policy = Policy(), clock: Callable[[], float] = time.time,
                 histogram: ScoreHistogram | None = None) -> None:
        self.scorer = scorer
        self.version_bytes = version_bytes(scorer.version)
        self.topics = topics
        self.policy = policy
        self.clock = clock
        self.histogram = histogram or ScoreHistogram()
        self.recent = RecentRows(len(scorer.config.names), policy.drift_rows)
        self.cache = RecordCache(policy.record_cache)
        # The artifact's reference.json (drift), when it has one: set by streams.runtime.
        self.reference: dict[str, Any] | None = None
        # A second model scoring the same rows in shadow (its results to topics.shadow).
        self.challenger: Scorer | None = None
        self.challenger_bytes = b""
        self.state_config = scorer.config.state_config
        self._newest_event: float | None = None
        self._newest_seen_at = 0.0

    def shadow(self, scorer: Scorer | None) -> None:
        """Score in shadow with ``scorer`` from the next batch on (None: stop)."""
        self.challenger = scorer
        self.challenger_bytes = version_bytes(scorer.version) if scorer is not None else b""

    def swap(self, scorer: Scorer) -> None:
        """Score with ``scorer`` from the next batch on (the worker's model watch calls this
        between batches; the state configuration is checked equal before)."""
        self.scorer = scorer
        self.version_bytes = version_bytes(scorer.version)
        self.state_config = scorer.config.state_config

    def saw_event_time(self, t: float) -> None:
        if self._newest_event is None or t > self._newest_event:
            self._newest_event, self._newest_seen_at = t, self.clock()

    def stream_now(self) -> float | None:
        """Event time "now": the newest event time seen, advanced by the wall-clock time since
        it was seen. Live traffic makes this the wall clock; a replay of last year's history
        makes it last year, so idle decay follows the data, not the machine's calendar."""
        if self._newest_event is None:
            return None
        return self._newest_event + max(0.0, self.clock() - self._newest_seen_at)

    # ------------------------------------------------------------------ batch
    def process(self, messages: Sequence[Message], leads: Store, aliases: Store,
                before_message: Callable[[int], None] | None = None) -> BatchResult:
        """Process one batch. ``messages`` are anything with ``topic``, ``partition``,
        ``offset``, ``key`` and ``value`` (the worker hands over aiokafka's records as they
        were fetched). ``before_message(i)`` runs before message i is handled."""
        batch = _Batch(self, leads, aliases)
        handoff = self.topics.handoff
        for i, msg in enumerate(messages):
            if before_message is not None:
                before_message(i)
            if msg.topic == handoff:
                batch.handoff(i, msg)
            else:
                batch.ingress(i, msg)
        batch.score()
        return batch.finish()


class _Batch:
    """One batch's working set: records loaded once, written once."""

    def __init__(self, proc: Processor, leads: Store, aliases: Store) -> None:
        self.p = proc
        self.leads = leads
        self.aliases = aliases
        self.records: dict[str, LeadRecord | None] = {}
        self.touched: dict[str, int] = {}  # table key -> index of the last message touching it
        self.alias_cache: dict[str, str] = {}
        self.alias_writes: dict[str, tuple[str, int]] = {}
        # lead id -> (latest significant event, index of its message)
        self.to_score: dict[str, tuple[FastEvent, int]] = {}
        # lead id -> (event time to re-score an idle lead at, index of the rescore message)
        self.rescore: dict[str, tuple[float, int]] = {}
        self.result = BatchResult()
        self.counts = self.result.counts
        # One clock reading per batch: validation's "now" and the outputs' emitted_at.
        self.now = _iso(proc.clock())
        pol = proc.policy
        self.max_age, self.max_bytes, self.partitions = pol.max_age, pol.max_bytes, pol.partitions
        self.significant = pol.significant

    # ------------------------------------------------------------------ records
    def record(self, key: str) -> LeadRecord | None:
        if key not in self.records:
            raw = self.leads.get(key)
            rec = None
            if raw is not None:
                rec = self.p.cache.take(key, raw)
                if rec is None:
                    rec = LeadRecord.from_bytes(raw)
            self.records[key] = rec
        return self.records[key]

    def record_or_new(self, key: str) -> LeadRecord:
        rec = self.record(key)
        if rec is None:
            rec = LeadRecord(LeadState.new(self.p.state_config, key=key[2:]))
            self.records[key] = rec
        return rec

    def alias(self, anonymous_id: str) -> str | None:
        if anonymous_id in self.alias_cache:
            return self.alias_cache[anonymous_id]
        found = self.aliases.get(anonymous_id)
        if isinstance(found, bytes):
            found = found.decode()
        return found

    def fold(self, key: str, ev: FastEvent, i: int) -> bool:
        """Fold into the record; False when the event was already folded (or too late)."""
        rec = self.record_or_new(key)
        self.touched[key] = i
        # In place: the record was decoded for this batch and is owned by it alone.
        if not fold_into(rec.state, observe(ev), self.p.state_config):
            self.counts["duplicate_or_late"] += 1
            return False
        return True

    # ------------------------------------------------------------------ routing
    def handoff(self, i: int, msg: Message) -> None:
        h = handoff_.decode(msg.key, msg.value)
        if isinstance(h, handoff_.Refusal):
            self._refuse(msg, h)
            return
        lead, kind = h.lead, h.kind
        if kind == "rescore":
            rec = self.record(lead_key(lead))
            if rec is not None and rec.score is not None:
                self.rescore[lead] = (h.at, i)
                self.touched[lead_key(lead)] = i
            return
        ev = parse_event_fast(h.raw, now=self.now, max_age=None, max_bytes=1 << 30)
        if isinstance(ev, DeadLetterRecord):  # validated at ingress; only a foreign writer
            # The handoff record is the original (its event is inside, base64).
            self._dead_letter(msg, DeadLetterRecord.create(
                msg.value, ev.reason_code, f"the handoff's event: {ev.message}",
                failed_at=self.now, event_id=ev.event_id, event_type=ev.event_type))
            return
        if kind == "route":
            self.event(i, ev, routed=True)
            return
        key = lead_key(lead)
        merged = False
        if kind == "merge" and h.state is not None:
            found = self._merged(key, h.state)
            if isinstance(found, handoff_.Refusal):
                self._refuse(msg, found)
                return
            self.records[key], merged = found
            self.touched[key] = i
            self.counts["merged"] += merged
        # Scored only when something changed: a repeated identify (a producer's retry, or a
        # batch redone after a crash) merges nothing new and folds nothing, and must not
        # publish its score change a second time.
        if (self.fold(key, ev, i) or merged) and self.significant(ev):
            self.to_score[lead] = (ev, i)

    def _merged(self, key: str, raw_state: bytes
                ) -> tuple[LeadRecord, bool] | handoff_.Refusal:
        """The lead's record with an anonymous state merged in, and whether that changed it
        (``merge`` is idempotent: a state merged before changes nothing); or why the state is
        refused (nothing changed then). The state came over a topic anyone can write: it is
        checked by a round trip through the record format, which refuses other shapes."""
        try:
            other = state_from_bytes(raw_state)
            if other.half_lives != self.p.state_config.half_lives_days:
                raise ValueError(f"half-lives {other.half_lives}")
            LeadRecord.from_bytes(LeadRecord(other).to_bytes())
            rec = self.record_or_new(key)
            fresh = other.origin == 0 or (other.origin not in rec.state.merged
                                          and other.origin != rec.state.origin)
            rec.state = merge(rec.state, other)
        except Exception as exc:  # noqa: BLE001 - any bad state is bad input, not a bug
            return handoff_.Refusal(ReasonCode.INVALID_HANDOFF,
                                    f"handoff 'state' is not a model state: {exc!r}"[:500])
        return rec, fresh

    def _refuse(self, msg: Message, r: handoff_.Refusal) -> None:
        value = msg.value if type(msg.value) is bytes else b""
        self._dead_letter(msg, DeadLetterRecord.create(value, r.reason, r.message,
                                                       failed_at=self.now))

    def ingress(self, i: int, msg: Message) -> None:
        ev = parse_event_fast(msg.value, now=self.now, max_age=self.max_age,
                              max_bytes=self.max_bytes, source_topic=msg.topic,
                              partition=msg.partition, offset=msg.offset)
        if isinstance(ev, DeadLetterRecord):
            self.counts[f"consumed:{msg.topic}:invalid"] += 1
            self._dead_letter(msg, ev)
            return
        self.counts[f"consumed:{msg.topic}:{ev.type}"] += 1
        self.p.saw_event_time(ev.ts)
        key = ev.key.encode()
        if msg.key != key or (self.partitions is not None
                              and partition_for(key, self.partitions) != msg.partition):
            self._send_handoff(ev.key, "route", msg.value)
            return
        self.event(i, ev, routed=False)

    def event(self, i: int, ev: FastEvent, routed: bool) -> None:
        if ev.type == "identify" and ev.anonymous_id and ev.lead_id:
            self._identify(i, ev)
            return
        if ev.lead_id is None:
            assert ev.anonymous_id is not None
            lead = self.alias(ev.anonymous_id)
            if lead is not None:
                self._send_handoff(lead, "event", ev.to_bytes())
            else:
                self.fold(anon_key(ev.anonymous_id), ev, i)
            return
        if ev.type == "rep_feedback":
            self._feedback(i, ev)
            return
        if self.fold(lead_key(ev.lead_id), ev, i):
            if ev.type in OUTCOME_TYPES:
                self._outcome(lead_key(ev.lead_id), ev.ts, label_of(ev.type))
            if self.significant(ev):
                self.to_score[ev.lead_id] = (ev, i)

    def _outcome(self, key: str, at: float, label: int | None) -> None:
        """Join the outcome with the lead's earlier scores (streams.core.quality)."""
        rec = self.records.get(key)
        if rec is not None and label is not None and observe_outcome(rec, at, label):
            self.counts["outcomes_observed"] += 1

    def _feedback(self, i: int, ev: FastEvent) -> None:
        """A rep's verdict: folded (``not_a_fit`` and ``converted_outside_crm`` close the
        lead), counted by verdict, and ``contacted`` starts the lead's quiet time."""
        assert ev.lead_id is not None
        key = lead_key(ev.lead_id)
        if not self.fold(key, ev, i):
            return
        verdict = ev.properties.verdict
        self.counts[f"feedback:{verdict}"] += 1
        self._outcome(key, ev.ts, label_of(ev.type, verdict))
        if verdict == "contacted":
            rec = self.record_or_new(key)
            if rec.contacted_at is None or ev.ts > rec.contacted_at:
                rec.contacted_at = ev.ts

    def _identify(self, i: int, ev: FastEvent) -> None:
        anon, lead = ev.anonymous_id, ev.lead_id
        assert anon is not None and lead is not None
        self.alias_cache[anon] = lead
        self.alias_writes[anon] = (lead, i)
        key = anon_key(anon)
        rec = self.record(key)
        state = state_to_bytes(rec.state) if rec else None
        self._send_handoff(lead, "merge", ev.to_bytes(), state=state)
        if rec is not None:
            self.records[key] = None
            self.touched[key] = i

    def _send_handoff(self, lead: str, kind: str, raw: bytes, state: bytes | None = None
                      ) -> None:
        self.counts[f"handoff:{kind}"] += 1
        self.result.outputs.append(Output(self.p.topics.handoff, lead.encode(),
                                          handoff_.encode(kind, raw, state)))

    def _dead_letter(self, msg: Message, dl: DeadLetterRecord) -> None:
        dl = dl.with_source(msg.topic, msg.partition, msg.offset)
        self.result.outputs.append(Output(self.p.topics.deadletter, dead_letter_key(msg.key),
                                          dl.to_bytes()))
        self.counts[f"invalid:{msg.topic}:{dl.reason_code.value}"] += 1

    # ------------------------------------------------------------------ scoring
    def score(self) -> None:
        rows: list[Row] = []
        sources: list[int] = []
        for lead, (ev, i) in self.to_score.items():
            rec = self.record(lead_key(lead))
            if rec is None or not math.isnan(rec.state.closed_at):
                continue  # converted or disqualified: nothing left to predict
            rows.append(Row(lead, rec, Cause(ev.event_id, ev.type, ev.occurred_at),
                            rec.state.ts[T["last"]]))
            sources.append(i)
        for lead, (at, i) in self.rescore.items():
            rec = self.record(lead_key(lead))
            if lead in self.to_score or rec is None or not math.isnan(rec.state.closed_at):
                continue
            at = max(at, rec.state.ts[T["last"]])
            rows.append(Row(lead, rec, decay_cause(lead, at), at))
            sources.append(i)
        if not rows:
            return
        scorer, pol = self.p.scorer, self.p.policy
        # One pass over the batch's leads, column by column (models.columns; the per-lead
        # models.features is the reference it is tested against).
        X = feature_rows([r.rec.state for r in rows], [r.at for r in rows], scorer.config)
        # Scorer.score_batch's arithmetic, without the expected deal value it also predicts
        # (a second booster the score changes do not carry).
        probability = scorer.probability_from_raw(scorer.raw(X))
        self.p.recent.add(X, probability)
        scores = np.rint(100.0 * probability).astype(np.int64).tolist()
        probs = probability.tolist()
        emit: list[int] = []
        trends: list[str] = []
        counts, histogram = self.counts, self.p.histogram
        version = self.p.version_bytes
        for j, (lead, rec, cause, at) in enumerate(rows):
            s, prob = int(scores[j]), float(probs[j])
            tier = pol.alerts.tier(s)  # the configured tiers, not the artifact defaults
            prev, prev_tier = rec.score, rec.tier
            trends.append(trend(rec.alert.history, s, at))
            rec.alert, decisions = evaluate(rec.alert, lead_id=lead, prev_score=prev, score=s,
                                            at=at, cause_event_id=cause.id, policy=pol.alerts)
            histogram.move(prev, s)
            rec.score, rec.probability, rec.tier, rec.scored_at = s, prob, tier, at
            remember_score(rec, at, prob, version)
            self.result.scored_scores.append(s)
            self.result.scored_sources.append(sources[j])
            # Against the last PUBLISHED score: scores.changes is compacted, its last message
            # per lead must stay within min_change of the lead's score (small steps add up).
            # The tier is the published one too: every tier change is published.
            pub = rec.published_score
            if pub is None or abs(s - pub) >= pol.min_change or tier != prev_tier:
                emit.append(j)
            if decisions:
                contacted = rec.contacted_at
                if contacted is not None and 0 <= at - contacted < pol.contacted_quiet_s:
                    for d in decisions:  # a rep is on it: no page
                        counts[f"alerts_suppressed:{d.kind}"] += 1
                else:
                    for d in decisions:
                        self._alert(d, cause)
        counts["scored"] += len(rows)
        if self.p.challenger is not None:
            self._shadow(rows, X, probs)
        if emit:
            # Explanations only for the changes sent, in one call for the batch; the states
            # let the sentences say when each reason's latest action was.
            explained = top_factors(scorer, X[emit], top_k=pol.top_k,
                                    states=[rows[j].rec.state for j in emit],
                                    ats=[rows[j].at for j in emit])
            for j, fs in zip(emit, explained, strict=True):
                self._change(rows[j], fs, trends[j])

    def _shadow(self, rows: list[Row], X: np.ndarray, champion: list[float]) -> None:
        """The challenger scores the same rows (one batched predict; its own features when
        its configuration differs); results go to the shadow topic, never to alerts."""
        ch, scorer = self.p.challenger, self.p.scorer
        assert ch is not None
        Xc = X if ch.config == scorer.config else feature_rows(
            [r.rec.state for r in rows], [r.at for r in rows], ch.config)
        probs = ch.probability_from_raw(ch.raw(Xc)).tolist()
        version, out, topic = self.p.challenger_bytes, self.result.outputs, self.p.topics.shadow
        emitted = self.now.isoformat().replace("+00:00", "Z")
        for j, (lead, rec, cause, at) in enumerate(rows):
            p = float(probs[j])
            remember_score(rec, at, p, version)
            out.append(Output(topic, lead.encode(), dumps({
                "lead_id": lead, "model_version": ch.version, "probability": p,
                "score": int(round(100 * p)), "champion_version": scorer.version,
                "champion_probability": champion[j], "cause_event_id": cause.id,
                "cause_event_type": cause.type,
                "event_time": cause.time.isoformat().replace("+00:00", "Z"),
                "emitted_at": emitted})))
        self.counts["shadow"] += len(rows)

    def _change(self, row: Row, fs: list[tuple[str, float, str]], trend_: str) -> None:
        lead, rec, cause, _ = row
        assert rec.score is not None and rec.probability is not None and rec.tier is not None
        factors = [factor(*f) for f in fs]
        value = score_change_bytes(
            lead_id=lead, score=rec.score, probability=rec.probability, tier=rec.tier,
            percentile=self.p.histogram.percentile(rec.score), top_factors=factors,
            trend=trend_, recommended_action=recommended_action(rec.tier, trend_, factors),
            model_version=self.p.scorer.version, cause_event_id=cause.id,
            cause_event_type=cause.type, event_time=cause.time, emitted_at=self.now)
        self.result.outputs.append(Output(self.p.topics.changes, lead.encode(), value))
        rec.published_score, rec.published_probability = rec.score, rec.probability
        self.counts[f"changes:{rec.tier}"] += 1

    def _alert(self, d: AlertDecision, cause: Cause) -> None:
        value = alert_bytes(
            kind=d.kind, lead_id=d.lead_id, from_tier=d.from_tier, to_tier=d.to_tier,
            from_score=d.from_score, to_score=d.to_score, reason=d.reason,
            idempotency_key=d.idempotency_key, cause_event_id=d.cause_event_id,
            event_time=cause.time, emitted_at=self.now, model_version=self.p.scorer.version)
        self.result.outputs.append(Output(self.p.topics.alerts, d.lead_id.encode(), value))
        self.counts[f"alerts:{d.kind}"] += 1

    # ------------------------------------------------------------------ writes
    def finish(self) -> BatchResult:
        cache = self.p.cache
        for key, i in self.touched.items():
            rec = self.records.get(key)
            if rec is None:
                self.result.writes.append(Write("leads", key, None, i))
                cache.discard(key)
                continue
            value = rec.to_bytes()
            self.result.writes.append(Write("leads", key, value, i))
            cache.put(key, value, rec)
        for anon, (lead, i) in self.alias_writes.items():
            self.result.writes.append(Write("aliases", anon, lead.encode(), i))
        return self.result
