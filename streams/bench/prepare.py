"""What every bench phase needs first: a broker, a model, the events, fresh topics."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from models.errors import UsageError
from streams.commands.produce import route_lines
from streams.kafkaconfig import (
    SECURITY_VARIABLES,
    KafkaUnavailable,
    client_config,
    wait_for_brokers,
)
from streams.local import kafka as localkafka
from streams.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
CLOSING_TYPES = ("converted", "disqualified")  # a closed lead is not scored any more
SMALL_MODEL = {"leads": 1500, "days": 240, "seed": 5}  # as the tests' model: about 10-20 s
TOPIC_ENV = {"website": "WEBSITE", "email": "EMAIL", "product": "PRODUCT", "profile": "PROFILE",
             "outcomes": "OUTCOMES", "feedback": "FEEDBACK", "handoff": "HANDOFF",
             "changes": "CHANGES", "alerts": "ALERTS", "deadletter": "DEADLETTER",
             "shadow": "SHADOW"}


def say(msg: str) -> None:
    """Progress goes to stderr so stdout holds only the figures."""
    print(f"bench: {msg}", file=sys.stderr, flush=True)


@dataclass
class Run:
    """What one bench run started and measured; cleaned up in one place."""

    work: Path
    bootstrap: str = ""
    client: dict[str, Any] = field(default_factory=dict)  # confluent-kafka config (kafkaconfig)
    kafka: str = "external"
    spec: localkafka.BrokerSpec | None = None
    model: Path | None = None
    model_note: str = ""
    load: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    admin: Any = None  # one AdminClient per run: librdkafka has crashed destroying short-lived ones
    prefix: str = ""  # every topic and group this run creates on the broker starts with it

    def sample_load(self, phase: str) -> None:
        self.load[phase] = os.getloadavg()


def ensure_broker(run: Run, wanted: str | None, partitions: int) -> None:
    """The broker at ``wanted`` if it answers (with the LEADSCORE_KAFKA_SECURITY_* settings);
    else a local one on free ports (stopped at the end), so the figures never depend on a
    broker other people's tests are using."""
    if wanted:
        try:
            wait_for_brokers(Settings(), wanted, timeout=10, named="--bootstrap")
            run.bootstrap, run.client = wanted, client_config(Settings(), wanted)
            say(f"using the broker at {wanted}")
            return
        except KafkaUnavailable as exc:
            say(f"{exc}; starting a local one")
    # The local broker is PLAINTEXT: neither the bench's clients nor its workers (whose
    # environment is this one) may use the security settings meant for another cluster.
    for name in SECURITY_VARIABLES:
        os.environ.pop(name, None)
    s = Settings()
    spec = localkafka.BrokerSpec(
        port=localkafka.free_port(), controller_port=localkafka.free_port(),
        state_dir=run.work / "kafka", cache_dir=s.cache_dir, version=s.kafka_version,
        partitions=partitions)
    st, _, secs = localkafka.start(spec)
    run.spec, run.bootstrap, run.client = spec, spec.bootstrap, client_config(s, spec.bootstrap)
    run.kafka = f"Apache Kafka {st.version or spec.version} (local, started by the bench)"
    say(f"Kafka {st.version} started on {spec.bootstrap} in {secs:.1f} s")


def ensure_model(run: Run, wanted: str | None) -> None:
    """--model / $LEADSCORE_MODEL_DIR, or a small model trained from simulated history."""
    from models.artifact import load
    from streams.runtime import resolve_model_dir

    if wanted:
        run.model = resolve_model_dir(Path(wanted).resolve())
        load(run.model)  # a broken artifact is a one-line error now, not a silent worker
        run.model_note = f"{run.model} (given)"
        return
    from models.simulate import run as simulate
    from models.train import run as train

    m = SMALL_MODEL
    say(f"no model given: training one from {m['leads']} leads x {m['days']} days")
    t0 = time.monotonic()
    history = run.work / "history.jsonl"
    simulate(m["leads"], m["days"], seed=m["seed"], out=str(history), progress=False)
    run.model = resolve_model_dir(Path(train(str(history), str(run.work / "model"),
                                             progress=False)))
    history.unlink(missing_ok=True)
    secs = time.monotonic() - t0
    run.model_note = (f"trained by the bench in {secs:.0f} s ({m['leads']} leads x "
                      f"{m['days']} days, seed {m['seed']})")
    say(f"model trained in {secs:.0f} s")


# --------------------------------------------------------------------------- events


@dataclass
class Events:
    lines: list[bytes]
    leads: list[str]  # lead ids that are known and not closed: targets for the latency phase
    leads_simulated: int
    keys: int  # distinct leads and anonymous visitors: about the records the tables hold


def generate_events(n: int, leads: int, work: Path) -> Events:
    """N simulated events over the last 2 days (start = today - 3 days, so none is in the
    future or too old for the worker), in event-time order like a live feed. Populations of
    ``leads`` leads with successive seeds (distinct lead ids) are added until there are N."""
    from models.simulate import run as simulate

    start = date.today() - timedelta(days=3)
    lines: list[bytes] = []
    seed, simulated = 11, 0
    while len(lines) < n:
        path = work / f"events-{seed}.jsonl"
        simulate(leads, 2, seed=seed, out=str(path), progress=False, start=start)
        lines += [ln for ln in path.read_bytes().splitlines() if ln.strip()]
        path.unlink()
        seed, simulated = seed + 1, simulated + leads
    lines = lines[:n]
    lines.sort(key=_occurred_at)
    open_leads, keys = _open_leads(lines)
    return Events(lines, open_leads, simulated, keys)


def _occurred_at(line: bytes) -> str:
    try:
        return str(orjson.loads(line).get("occurred_at", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""  # malformed on purpose: sent first, dead-lettered by the worker


def _open_leads(lines: list[bytes]) -> tuple[list[str], int]:
    """Leads that are known and not closed, and the number of distinct leads and visitors."""
    known: dict[str, None] = {}
    closed: set[str] = set()
    visitors: set[str] = set()
    for line in lines:
        try:
            d = orjson.loads(line)
            lead = d.get("lead_id")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(lead, str):
            known[lead] = None
            if d.get("type") in CLOSING_TYPES:
                closed.add(lead)
        elif isinstance(d.get("anonymous_id"), str):
            visitors.add(d["anonymous_id"])
    return [lead for lead in known if lead not in closed], len(known) + len(visitors)


# --------------------------------------------------------------------------- topics


def topic_settings(prefix: str, bootstrap: str, partitions: int) -> Settings:
    """Settings naming a fresh set of topics: the worker gets the same names through env."""
    names = {f"topic_{k}": f"{prefix}.{k}" for k in TOPIC_ENV}
    return Settings(kafka_bootstrap=bootstrap, app_id=f"{prefix}-app",
                    topic_partitions=partitions, **names)  # type: ignore[arg-type]


def create_topics(run: Run, names: list[str], compacted: list[str], partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    run.admin = run.admin or AdminClient({**run.client, "log_level": 2})
    new = [NewTopic(t, partitions, 1, config={"cleanup.policy": "compact"} if t in compacted
                    else {}) for t in names]
    for name, fut in run.admin.create_topics(new, request_timeout=30).items():
        try:
            fut.result(timeout=30)
        except Exception as exc:  # noqa: BLE001 - reported as one line
            raise UsageError(f"cannot create topic {name}: {exc}") from None


def drop_created(run: Run) -> int:
    """Delete the topics and consumer groups whose names start with the run's prefix (its
    own, and the ones its workers' Faust apps made: changelogs, the assignor's topic).
    Returns how many topics were deleted.

    Why: on a broker the bench did not start, every run left ~50-90 partitions behind. A
    development broker that kept them for weeks held 13,000 partitions; its 512 MiB heap
    stayed full, and its constant garbage collection stalled acknowledgements for 100-300 ms
    every few seconds: the latency tails the bench then printed were the broker's."""
    if not run.prefix or run.admin is None:
        return 0
    mine = (f"{run.prefix}-", f"{run.prefix}.")
    try:
        topics = [t for t in run.admin.list_topics(timeout=10).topics if t.startswith(mine)]
        for fut in run.admin.delete_topics(topics, operation_timeout=30).values() if topics else ():
            fut.result(timeout=30)
        listed = run.admin.list_consumer_groups(request_timeout=10).result(timeout=10)
        groups = [g.group_id for g in listed.valid if g.group_id.startswith(mine)]
        for fut in (run.admin.delete_consumer_groups(groups, request_timeout=30).values()
                    if groups else ()):
            fut.result(timeout=30)
    except Exception as exc:  # noqa: BLE001 - the figures are printed; say what is left
        say(f"could not delete every topic of this run (prefix {run.prefix}): {exc}")
        return 0
    return len(topics)


def _producer(client: dict[str, Any], linger_ms: float = 5) -> Any:
    """Configured like ``leadscore produce`` (Kafka's murmur2 partitioner, as Faust expects)."""
    from confluent_kafka import Producer

    return Producer({**client, "enable.idempotence": True,
                     "partitioner": "murmur2_random", "linger.ms": linger_ms, "log_level": 3,
                     "compression.type": "lz4"})


def _send(producer: Any, topic: str, key: bytes | None, value: bytes) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value)
            return
        except BufferError:
            producer.poll(0.1)


def preload(client: dict[str, Any], lines: list[bytes], targets: list[Settings]) -> None:
    """Send every event to each target's input topics exactly as ``leadscore produce`` would
    (category topic, keyed by lead id; invalid lines to the website topic)."""
    for s in targets:
        send_routed(client, route(lines, s))


def route(lines: list[bytes], s: Settings) -> list[tuple[str, bytes | None, bytes]]:
    """(topic, key, value) per line, as ``leadscore produce`` routes it for settings ``s``."""
    return [(r.topic, r.key, r.value) for r in route_lines(iter(lines), s, s.topic_website)]


def send_routed(client: dict[str, Any], routed: list[tuple[str, bytes | None, bytes]]) -> None:
    """Produce records already routed (no validation on the way: that is the worker's)."""
    producer = _producer(client)
    for topic, key, value in routed:
        _send(producer, topic, key, value)
        producer.poll(0)
    if producer.flush(60):
        raise UsageError("could not pre-load the events into Kafka at "
                         f"{client['bootstrap.servers']}")


def offline_run(events: int, leads: int, model: str | None, partitions: int,
                prefix: str) -> tuple[Any, list[Any]]:
    """What the benches without Kafka share: a model (given or trained), ``events``
    simulated events routed to their topics and partitions as the worker would get them,
    and a processor built as the worker builds it. Returns (processor, messages)."""
    import tempfile

    from streams.core.processing import Message, partition_for
    from streams.runtime import build_processor

    run = Run(Path(tempfile.mkdtemp(prefix=prefix)))
    ensure_model(run, model)
    say(f"simulating {events:,} events")
    lines = generate_events(events, leads, run.work).lines
    s = Settings(model_dir=run.model or Path(), min_score_change=3)
    proc = build_processor(s, partitions=partitions)
    messages = [Message(topic, partition_for(key, partitions) if key else 0, i, key, value)
                for i, (topic, key, value) in enumerate(route(lines, s))]
    return proc, messages
