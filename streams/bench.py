"""``python -m streams.bench``: the scorer's throughput and event-to-score latency, printed side
by side with the ceiling measured on the same broker, on the same machine, in the same run.

Why a command and not a timed test: speed depends on the machine and on what else runs on it,
so a figure means something only next to a ceiling measured under the same conditions. The
ceiling is a bare confluent-kafka loop (consume, parse, a rocksdict read-modify-write of a small
value per key, one produce per event): what this broker, this machine and these client libraries
allow before any Faust or model work. The scorer is one real ``leadscore worker`` process.

Phases, all on fresh topics (unique names) so nothing from earlier runs is counted:

1. ceiling: the N events pre-loaded into their own topics, consumed by the bare loop;
2. scorer throughput: the same N events pre-loaded into the worker's topics, then one worker
   is started; timed from its first output message to its consumer group's lag reaching 0;
3. scorer latency: a worker (restarted with LEADSCORE_MIN_SCORE_CHANGE=0, so every scored
   event yields a score change) is sent pricing-page views at a steady rate; latency is the
   time from each produce() call to reading the score change caused by that event.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import orjson

from models.errors import UsageError
from streams import localkafka
from streams.lag import LagProbe
from streams.procs import run_worker
from streams.produce import route_lines
from streams.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
CLOSING_TYPES = ("converted", "disqualified")  # a closed lead is not scored any more
SMALL_MODEL = {"leads": 1500, "days": 240, "seed": 5}  # as the tests' model: about 10-20 s
TOPIC_ENV = {"website": "WEBSITE", "email": "EMAIL", "product": "PRODUCT", "profile": "PROFILE",
             "outcomes": "OUTCOMES", "handoff": "HANDOFF", "changes": "CHANGES",
             "alerts": "ALERTS", "deadletter": "DEADLETTER"}


def say(msg: str) -> None:
    """Progress goes to stderr so stdout holds only the figures."""
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- pure helpers


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (a value that was actually observed; no interpolation)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def fmt_rate(events_per_s: float) -> str:
    return "n/a" if math.isnan(events_per_s) else f"{events_per_s:,.0f} events/s"


def fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:,.1f} ms"


def render_table(rows: Sequence[tuple[str, str]]) -> str:
    """Two aligned columns; a row with an empty label continues the previous one."""
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}".rstrip() for k, v in rows)


def ratio_text(scorer: float, ceiling: float) -> str:
    if not (scorer > 0 and ceiling > 0):
        return "n/a"
    return (f"{100.0 * scorer / ceiling:.1f}% of the ceiling "
            f"(ceiling / scorer = {ceiling / scorer:.1f}x)")


# --------------------------------------------------------------------------- setup


@dataclass
class Run:
    """What one bench run started and measured; cleaned up in one place."""

    work: Path
    bootstrap: str = ""
    kafka: str = "external"
    spec: localkafka.BrokerSpec | None = None
    model: Path | None = None
    model_note: str = ""
    load: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    admin: Any = None  # one AdminClient per run: librdkafka has crashed destroying short-lived ones

    def sample_load(self, phase: str) -> None:
        self.load[phase] = os.getloadavg()


def ensure_broker(run: Run, wanted: str | None, partitions: int) -> None:
    """The broker at ``wanted`` if it answers; else a local one on free ports (stopped at the
    end), so the figures never depend on a broker other people's tests are using."""
    if wanted:
        try:
            localkafka.wait_ready(wanted, timeout=10)
            run.bootstrap = wanted
            say(f"using the broker at {wanted}")
            return
        except localkafka.KafkaSetupError:
            say(f"no broker answers at {wanted}; starting a local one")
    s = Settings()
    spec = localkafka.BrokerSpec(
        port=localkafka.free_port(), controller_port=localkafka.free_port(),
        state_dir=run.work / "kafka", cache_dir=s.cache_dir, version=s.kafka_version,
        partitions=partitions)
    st, _, secs = localkafka.start(spec)
    run.spec, run.bootstrap = spec, spec.bootstrap
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
    return Events(lines, _open_leads(lines), simulated)


def _occurred_at(line: bytes) -> str:
    try:
        return str(orjson.loads(line).get("occurred_at", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""  # malformed on purpose: sent first, dead-lettered by the worker


def _open_leads(lines: list[bytes]) -> list[str]:
    known: dict[str, None] = {}
    closed: set[str] = set()
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
    return [lead for lead in known if lead not in closed]


# --------------------------------------------------------------------------- topics


def topic_settings(prefix: str, bootstrap: str, partitions: int) -> Settings:
    """Settings naming a fresh set of topics: the worker gets the same names through env."""
    names = {f"topic_{k}": f"{prefix}.{k}" for k in TOPIC_ENV}
    return Settings(kafka_bootstrap=bootstrap, app_id=f"{prefix}-app",
                    topic_partitions=partitions, **names)  # type: ignore[arg-type]


def create_topics(run: Run, names: list[str], compacted: list[str], partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    run.admin = run.admin or AdminClient({"bootstrap.servers": run.bootstrap, "log_level": 2})
    new = [NewTopic(t, partitions, 1, config={"cleanup.policy": "compact"} if t in compacted
                    else {}) for t in names]
    for name, fut in run.admin.create_topics(new, request_timeout=30).items():
        try:
            fut.result(timeout=30)
        except Exception as exc:  # noqa: BLE001 - reported as one line
            raise UsageError(f"cannot create topic {name}: {exc}") from None


def _producer(bootstrap: str, linger_ms: int = 5) -> Any:
    """Configured like ``leadscore produce`` (Kafka's murmur2 partitioner, as Faust expects)."""
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                     "partitioner": "murmur2_random", "linger.ms": linger_ms, "log_level": 3,
                     "compression.type": "lz4"})


def _send(producer: Any, topic: str, key: bytes | None, value: bytes) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value)
            return
        except BufferError:
            producer.poll(0.1)


def preload(bootstrap: str, lines: list[bytes], targets: list[Settings]) -> None:
    """Send every event to each target's input topics exactly as ``leadscore produce`` would
    (category topic, keyed by lead id; invalid lines to the website topic)."""
    producer = _producer(bootstrap)
    for s in targets:
        for r in route_lines(iter(lines), s, s.topic_website):
            _send(producer, r.topic, r.key, r.value)
            producer.poll(0)
    if producer.flush(60):
        raise UsageError(f"could not pre-load the events into Kafka at {bootstrap}")


# --------------------------------------------------------------------------- ceiling


def ceiling(run: Run, s: Settings, out_topic: str, n: int) -> tuple[float, float]:
    """The bare loop. Returns (events/s, seconds) from the first message received to the last
    output delivered and the offsets committed."""
    from confluent_kafka import Consumer
    from rocksdict import Rdict

    consumer = Consumer({"bootstrap.servers": run.bootstrap, "group.id": f"{out_topic}-group",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "log_level": 3})
    consumer.subscribe(s.input_topics)
    producer = _producer(run.bootstrap)
    db = Rdict(str(run.work / "ceiling-rocksdb"))
    done, t0 = 0, 0.0
    try:
        deadline = time.monotonic() + 120
        while done < n:
            if time.monotonic() > deadline:
                raise UsageError(f"the ceiling loop read {done:,} of {n:,} events in 120 s")
            batch = consumer.consume(num_messages=1000, timeout=0.5)
            if batch and not t0:
                t0 = time.monotonic()
            for msg in batch:
                if msg.error() is None:
                    _ceiling_step(db, producer, out_topic, msg.key(), msg.value() or b"")
                    done += 1
            producer.poll(0)
        producer.flush(60)
        consumer.commit(asynchronous=False)
        secs = time.monotonic() - t0
    finally:
        consumer.close()
        db.close()
    return n / secs, secs


def _ceiling_step(db: Any, producer: Any, out_topic: str, key: bytes | None,
                  value: bytes) -> None:
    """Per event: parse it, read-modify-write a small JSON value for its key, produce it."""
    try:
        ev = orjson.loads(value)
        at = ev.get("occurred_at") if isinstance(ev, dict) else None
    except orjson.JSONDecodeError:
        at = None
    k = key or b"-"
    old = db.get(k)
    state = orjson.loads(old) if old is not None else {"n": 0}
    state["n"] += 1
    state["last"] = at
    new = orjson.dumps(state)
    db[k] = new
    _send(producer, out_topic, k, new)


# --------------------------------------------------------------------------- worker


def worker_env(run: Run, s: Settings, web_port: int, min_change: int | None) -> dict[str, str]:
    """As tests/integration/helpers.worker_process, plus the bench's topics, app id, model."""
    env = {k: v for k, v in os.environ.items() if k != "LEADSCORE_MIN_SCORE_CHANGE"}
    env.update({
        "LEADSCORE_KAFKA_BOOTSTRAP": run.bootstrap, "LEADSCORE_APP_ID": s.app_id,
        "LEADSCORE_TOPIC_PARTITIONS": str(s.topic_partitions),
        "LEADSCORE_STATE_DIR": str(run.work / "worker"), "LEADSCORE_WEB_PORT": str(web_port),
        "LEADSCORE_LOG_LEVEL": "warn", "LEADSCORE_MODEL_DIR": str(run.model),
    })
    for k, suffix in TOPIC_ENV.items():
        env[f"LEADSCORE_TOPIC_{suffix}"] = getattr(s, f"topic_{k}")
    if min_change is not None:
        env["LEADSCORE_MIN_SCORE_CHANGE"] = str(min_change)
    return env


@contextlib.contextmanager
def worker(run: Run, env: dict[str, str], name: str) -> Iterator[subprocess.Popen[bytes]]:
    """One ``leadscore worker`` process; always stopped (SIGTERM, then SIGKILL after 30 s)."""
    (run.work / "worker").mkdir(exist_ok=True)
    with run_worker(env, run.work / f"{name}.log", cwd=REPO_ROOT) as proc:
        yield proc


def _check_alive(proc: subprocess.Popen[bytes], run: Run) -> None:
    if proc.poll() is not None:
        raise UsageError(f"the worker exited (status {proc.returncode}); see its log in "
                         f"{run.work}")


def edge_timestamp(bootstrap: str, topics: list[str], last: bool) -> float | None:
    """Broker timestamp (producer's CreateTime, s) of the first (or last) message over all
    partitions of ``topics``: the worker's own clock for when it started (or stopped) writing."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"edge-{uuid.uuid4().hex}",
                  "enable.auto.commit": False, "log_level": 3})
    try:
        md = c.list_topics(timeout=10)
        tps = []
        for t in topics:
            for p in md.topics[t].partitions if t in md.topics else {}:
                low, high = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
                if high > low:
                    tps.append(TopicPartition(t, p, high - 1 if last else low))
        c.assign(tps)
        stamps: dict[tuple[str | None, int | None], float] = {}
        deadline = time.monotonic() + 15
        while len(stamps) < len(tps) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                stamps.setdefault((m.topic(), m.partition()), m.timestamp()[1] / 1000.0)
    finally:
        c.close()
    if not stamps:
        return None
    return max(stamps.values()) if last else min(stamps.values())


@dataclass
class Throughput:
    events_per_s: float
    seconds: float
    to_last_write: float  # events/s to the last output/changelog write (no commit delay)
    startup: float
    peak_rss_mb: float  # the worker's peak resident memory (VmHWM): what k8s sizing uses


def peak_rss_mb(pid: int) -> float:
    """Peak resident set of a live process, MiB (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def scorer_throughput(run: Run, s: Settings, n: int, web_port: int) -> Throughput:
    """Start one worker on the pre-loaded topics; time first output -> group lag 0."""
    inputs = [*s.input_topics, s.topic_handoff]
    outputs = [s.topic_changes, s.topic_alerts, s.topic_deadletter, s.topic_handoff]
    changelogs = [f"{s.app_id}-leads-changelog", f"{s.app_id}-aliases-changelog"]
    probe = LagProbe(run.bootstrap, s.app_id, inputs)
    started = time.time()
    try:
        with worker(run, worker_env(run, s, web_port, None), "worker-throughput") as proc:
            say(f"worker pid {proc.pid} started; waiting for lag 0 on {len(inputs)} topics")
            deadline = time.monotonic() + max(300.0, n / 100.0)
            while probe.lag() != 0:
                _check_alive(proc, run)
                if time.monotonic() > deadline:
                    raise UsageError(f"the worker did not catch up; see {run.work}")
                time.sleep(0.2)
            done = time.time()
            rss = peak_rss_mb(proc.pid)
    finally:
        probe.close()
    first = edge_timestamp(run.bootstrap, outputs, last=False)
    last = edge_timestamp(run.bootstrap, outputs + changelogs, last=True)
    if first is None or last is None:
        raise UsageError("the worker wrote no output at all")
    return Throughput(n / (done - first), done - first, n / (last - first), first - started,
                      rss)


# --------------------------------------------------------------------------- latency


def pricing_view(event_id: str, lead: str) -> bytes:
    """A significant event (pricing page view) for a known lead, happening now."""
    return orjson.dumps({
        "event_id": event_id, "type": "page_view", "lead_id": lead, "source": "leadscore-bench",
        "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "schema_version": 2, "properties": {"url": "https://www.example.com/pricing",
                                            "path": "/pricing", "page_category": "pricing"}})


class ChangeReader:
    """Reads score changes from the end offsets as they were at creation (explicit assignment:
    nothing sent after it can be missed); records when each cause_event_id arrived."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                           "enable.auto.commit": False, "log_level": 3})
        parts = self.c.list_topics(topic, timeout=10).topics[topic].partitions
        self.c.assign([TopicPartition(topic, p, self.c.get_watermark_offsets(
            TopicPartition(topic, p), timeout=10)[1]) for p in parts])
        self.seen: dict[str, float] = {}

    def poll(self, timeout: float) -> None:
        from schemas import ScoreChange

        first = self.c.poll(timeout)
        if first is None:
            return
        for m in [first, *self.c.consume(num_messages=500, timeout=0)]:
            value = m.value()
            if m.error() is None and value is not None:
                with contextlib.suppress(ValueError):
                    self.seen.setdefault(ScoreChange.from_bytes(value).cause_event_id,
                                         time.monotonic())

    def close(self) -> None:
        self.c.close()


class Sender(threading.Thread):
    """Sends ``total`` pricing views at ``rate``/s round-robin over the leads; records the
    monotonic time of each produce() call."""

    def __init__(self, bootstrap: str, s: Settings, leads: list[str], rate: float,
                 total: int, tag: str) -> None:
        super().__init__(name="bench-sender", daemon=True)
        self.bootstrap, self.s, self.leads, self.rate, self.total = bootstrap, s, leads, rate, total
        self.tag = tag
        self.sent_at: dict[str, float] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = _producer(self.bootstrap, linger_ms=0)  # no batching delay on purpose
            t0 = time.monotonic()
            for i in range(self.total):
                eid = f"bench-{self.tag}-{i}"
                line = pricing_view(eid, self.leads[i % len(self.leads)])
                for r in route_lines(iter([line]), self.s, self.s.topic_website):
                    self.sent_at[eid] = time.monotonic()
                    _send(producer, r.topic, r.key, r.value)
                producer.poll(0)
                ahead = (i + 1) / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            producer.flush(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc


@dataclass
class Latency:
    sent: int
    matched: int
    latencies: list[float]
    send_rate: float  # achieved: the sender shares this process (and the machine)


def scorer_latency(run: Run, s: Settings, leads: list[str], web_port: int, rate: float,
                   seconds: float) -> Latency:
    """Restart the worker with LEADSCORE_MIN_SCORE_CHANGE=0; once it scores a probe, send
    pricing views at ``rate`` for ``seconds`` and match each to its score change."""
    tag = uuid.uuid4().hex[:8]
    reader = ChangeReader(run.bootstrap, s.topic_changes)
    try:
        with worker(run, worker_env(run, s, web_port, 0), "worker-latency") as proc:
            _wait_probe(run, s, reader, proc, leads[0], tag)
            sender = Sender(run.bootstrap, s, leads, rate, max(1, round(rate * seconds)), tag)
            sender.start()
            while sender.is_alive():
                reader.poll(0.1)
                _check_alive(proc, run)
            _drain(reader, sender, proc, run)
            if sender.error is not None:
                raise UsageError(f"sending the latency events failed: {sender.error}")
    finally:
        reader.close()
    lat = [reader.seen[e] - t for e, t in sender.sent_at.items() if e in reader.seen]
    times = list(sender.sent_at.values())
    span = max(times) - min(times) if len(times) > 1 else math.nan
    return Latency(len(times), len(lat), lat, (len(times) - 1) / span)


def _wait_probe(run: Run, s: Settings, reader: ChangeReader, proc: subprocess.Popen[bytes],
                lead: str, tag: str) -> None:
    """The worker has recovered its tables and loaded the model once it scores one event:
    without this its start-up would be measured as the first events' latency."""
    eid = f"bench-probe-{tag}"
    producer = _producer(run.bootstrap, linger_ms=0)
    for r in route_lines(iter([pricing_view(eid, lead)]), s, s.topic_website):
        _send(producer, r.topic, r.key, r.value)
    producer.flush(30)
    deadline = time.monotonic() + 180
    while eid not in reader.seen:
        _check_alive(proc, run)
        if time.monotonic() > deadline:
            raise UsageError(f"the restarted worker scored no probe event in 180 s; see {run.work}")
        reader.poll(0.2)
    time.sleep(2.0)  # let the recovery's tail settle before the clock starts
    reader.poll(0.1)


def _drain(reader: ChangeReader, sender: Sender, proc: subprocess.Popen[bytes],
           run: Run) -> None:
    """Read until every sent event is matched, or 10 s after the last send."""
    end = time.monotonic() + 10
    while time.monotonic() < end and not set(sender.sent_at) <= set(reader.seen):
        reader.poll(0.2)
        _check_alive(proc, run)


# --------------------------------------------------------------------------- report


def versions() -> str:
    def v(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    import confluent_kafka

    py = ".".join(map(str, sys.version_info[:3]))
    return (f"Python {py}, faust-streaming {v('faust-streaming')}, aiokafka {v('aiokafka')}, "
            f"confluent-kafka {v('confluent-kafka')} (librdkafka {confluent_kafka.libversion()[0]})"
            f", rocksdict {v('rocksdict')}, lightgbm {v('lightgbm')}")


def report_rows(args: argparse.Namespace, run: Run, ev: Events, ceil: tuple[float, float],
                tp: Throughput, lat: Latency) -> list[tuple[str, str]]:
    loads = ", ".join(f"{k} {a:.2f}/{b:.2f}/{c:.2f}" for k, (a, b, c) in run.load.items())
    q = {p: percentile(lat.latencies, p) for p in (50, 90, 99)}
    worst = max(lat.latencies, default=math.nan)
    return [
        ("ceiling (bare loop)", f"{fmt_rate(ceil[0])}  ({args.events:,} events in "
                                f"{ceil[1]:.2f} s)"),
        ("", "per event: orjson parse, rocksdict get+put of a small value, one produce"),
        ("scorer (1 worker)", f"{fmt_rate(tp.events_per_s)}  ({args.events:,} events in "
                              f"{tp.seconds:.2f} s, first output -> group lag 0)"),
        ("", f"to its last output/changelog write: {fmt_rate(tp.to_last_write)} (no commit wait)"),
        ("", f"worker start-up before its first output: {tp.startup:.1f} s (not counted)"),
        ("", f"worker peak resident memory (VmHWM): {tp.peak_rss_mb:,.0f} MiB"),
        ("scorer / ceiling", ratio_text(tp.events_per_s, ceil[0])),
        ("event-to-score latency", f"p50 {fmt_ms(q[50])}, p90 {fmt_ms(q[90])}, p99 "
                                   f"{fmt_ms(q[99])}, max {fmt_ms(worst)}"),
        ("", f"{lat.matched:,} of {lat.sent:,} pricing views matched, sent to an idle worker "
             f"at {lat.send_rate:,.0f}/s for {args.seconds:g} s (--rate {args.rate:g})"),
        ("", "LEADSCORE_MIN_SCORE_CHANGE=0 in this phase, so every scored event yields a change"),
        ("events", f"{args.events:,} simulated ({ev.leads_simulated:,} leads simulated, last 2 "
                   f"days), {args.partitions} partitions per topic"),
        ("model", run.model_note),
        ("kafka", f"{run.kafka} at {run.bootstrap}"),
        ("load average 1/5/15 min", loads),
        ("cpus", str(os.cpu_count())),
        ("versions", versions()),
        ("command", shlex.join([Path(sys.executable).name, "-m", "streams.bench", *sys.argv[1:]])),
    ]


# --------------------------------------------------------------------------- the command


class _Parser(argparse.ArgumentParser):
    """A bad argument is one line, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from streams.cli import positive_float, positive_int

    p = _Parser(prog="python -m streams.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=positive_int, default=50_000, metavar="N",
                   help="events for the throughput phases (default: 50,000)")
    p.add_argument("--leads", type=positive_int, default=15_000, metavar="N",
                   help="leads per simulated population over 2 days (about 3.7 events each); "
                   "more populations are added until there are --events (default: 15,000)")
    p.add_argument("--model", default=os.environ.get("LEADSCORE_MODEL_DIR"), metavar="DIR",
                   help="model artifact (default: $LEADSCORE_MODEL_DIR; else one is trained)")
    p.add_argument("--bootstrap", default=os.environ.get("LEADSCORE_KAFKA_BOOTSTRAP"),
                   metavar="HOST:PORT", help="broker to use if it answers (default: "
                   "$LEADSCORE_KAFKA_BOOTSTRAP; else a local one is started on free ports)")
    p.add_argument("--partitions", type=positive_int, default=4, metavar="N",
                   help="partitions of every bench topic (default: 4)")
    p.add_argument("--rate", type=positive_float, default=200.0, metavar="N",
                   help="latency phase: events per second (default: 200)")
    p.add_argument("--seconds", type=positive_float, default=20.0, metavar="S",
                   help="latency phase: how long to send (default: 20)")
    return p.parse_args(argv)


def bench(args: argparse.Namespace, run: Run) -> list[tuple[str, str]]:
    run.sample_load("start")
    ensure_broker(run, args.bootstrap, args.partitions)
    ensure_model(run, args.model)
    say(f"simulating {args.events:,} events")
    ev = generate_events(args.events, args.leads, run.work)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    scorer_s = topic_settings(f"{prefix}-scorer", run.bootstrap, args.partitions)
    ceil_s = topic_settings(f"{prefix}-ceiling", run.bootstrap, args.partitions)
    names = [*scorer_s.input_topics, scorer_s.topic_handoff, scorer_s.topic_changes,
             scorer_s.topic_alerts, scorer_s.topic_deadletter, *ceil_s.input_topics,
             ceil_s.topic_changes]
    create_topics(run, names, [scorer_s.topic_changes], args.partitions)
    say("pre-loading the events into the ceiling's and the scorer's topics")
    preload(run.bootstrap, ev.lines, [ceil_s, scorer_s])
    say("ceiling: bare consume/read-modify-write/produce loop")
    ceil = ceiling(run, ceil_s, ceil_s.topic_changes, args.events)
    run.sample_load("ceiling")
    say(f"ceiling {fmt_rate(ceil[0])}; scorer throughput: starting one worker")
    web_port = localkafka.free_port()
    tp = scorer_throughput(run, scorer_s, args.events, web_port)
    run.sample_load("scorer")
    say(f"scorer {fmt_rate(tp.events_per_s)}; latency: restarting the worker "
        "with LEADSCORE_MIN_SCORE_CHANGE=0")
    lat = scorer_latency(run, scorer_s, ev.leads, web_port, args.rate, args.seconds)
    run.sample_load("latency")
    return report_rows(args, run, ev, ceil, tp, lat)


def _on_sigterm(_sig: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # same clean-up as Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    run = Run(Path(tempfile.mkdtemp(prefix="leadscore-bench-")))
    ok = False
    try:
        rows = bench(args, run)
        print(render_table(rows), flush=True)
        ok = True
        return 0
    except (UsageError, localkafka.KafkaSetupError) as exc:
        print(f"python -m streams.bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m streams.bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if run.spec is not None:
            localkafka.stop(run.spec, grace=20)
            say("Kafka stopped (the bench started it)")
        if ok:
            shutil.rmtree(run.work, ignore_errors=True)
        else:
            say(f"kept {run.work} (worker logs) for a look")


if __name__ == "__main__":
    sys.exit(main())
