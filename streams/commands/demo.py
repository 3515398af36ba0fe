"""``leadscore demo``: the whole product on this machine, from an empty checkout to live scores.

It starts the local Kafka if none answers, trains a model from simulated history if none
exists, creates the topics, starts one worker, streams a simulated live population into the
input topics and reads the scores back, drawing the hottest leads, recent alerts and
throughput. Ctrl-C (or ``--duration``) stops the traffic, prints a summary and stops what
the demo started (the worker always; Kafka only if the demo started it). With
``--bootstrap`` it uses an existing cluster instead, reached with the LEADSCORE_KAFKA_SECURITY_*
settings (SASL_SSL, mutual TLS), and never starts or stops Kafka.

Why the demo measures latency itself: the figure the team asks for is "an event sent ->
its score change received", end to end through a real broker and worker. The demo knows
when it sent each event (by ``event_id``) and when the change caused by it
(``cause_event_id``) came back, so it can report that without trusting the worker's clock.
Only changes caused by events sent in this run are counted, so old messages on reused
topics never pollute the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import OrderedDict, deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from models import registry
from models.errors import UsageError
from models.progress import Progress
from schemas import Alert, DeadLetterRecord, ScoreChange
from streams.commands import liveview
from streams.commands.downstream import Downstream
from streams.commands.kafka import broker_spec
from streams.commands.produce import Routed, route_lines
from streams.commands.promote import Topic
from streams.commands.topics import create_topics
from streams.core import latency
from streams.kafkaconfig import client_config, plaintext, wait_for_brokers, without_security
from streams.local import kafka as localkafka
from streams.local.procs import stop
from streams.settings import Settings, get_settings

# The demo model's history and the live traffic come from the buying-journey generator
# (models.journey): some leads are deep in a buying decision from the start, so Hot leads
# show within the first simulated days, and scores spread over every tier.
HISTORY = {"leads": 4000, "days": 240, "seed": 7}  # the demo model: about 40 s to build
GENERATOR = "journey"
LIVE_DAYS = 30  # each live population's history, compressed into minutes of traffic
SENT_TTL_S = 600.0  # a score change more than this after its event is not matched


# --------------------------------------------------------------------------- setup steps


def worker_histogram(s: Settings) -> dict[float, float]:
    """The worker's event-to-score histogram (cumulative buckets) from its /metrics; empty
    when it cannot be read (the summary then says so)."""
    import urllib.request

    url = f"http://{s.web_host}:{s.web_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return latency.parse_histogram(resp.read().decode(), "leadscore_event_to_score_seconds")
    except OSError:
        return {}


def worker_quality(s: Settings) -> str | None:
    """One line of the worker's model figures (its /metrics): the champion's
    (``leadscore_model_info``) outcomes joined with the score 7 days before them, predicted vs
    observed conversion rate, and the score's drift (PSI); None until it has any."""
    import urllib.request

    url = f"http://{s.web_host}:{s.web_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    lines = [line.partition(" ") for line in text.splitlines() if not line.startswith("#")]
    champion = next((name for name, _, value in lines
                     if name.startswith("leadscore_model_info{") and float(value) == 1.0), "")
    version = champion[champion.find('version="'):].split(",")[0].rstrip("}")
    values: dict[str, float] = {}
    for name, _, value in lines:
        if ('lookback="7"' in name and version and version in name) \
                or name == "leadscore_drift_score_psi":
            values[name.split("{")[0]] = float(value)
    n = values.get("leadscore_quality_outcomes", 0.0)
    if n <= 0:
        return None
    line = (f"quality (outcomes vs the score 7 days before): {n:,.0f} outcomes, predicted "
            f"{values.get('leadscore_quality_predicted', 0.0) / n:.1%} vs observed "
            f"{values.get('leadscore_quality_conversions', 0.0) / n:.1%}")
    psi = values.get("leadscore_drift_score_psi", math.nan)
    if psi == psi:  # NaN: an artifact without the score's reference
        line += f"; score drift PSI {psi:.2f}"
    return line


def ensure_broker(s: Settings) -> tuple[localkafka.BrokerSpec, bool, str]:
    """Use the broker on 127.0.0.1:$LEADSCORE_KAFKA_PORT if one answers, else start one.
    Returns (spec, started_by_us, one-line description)."""
    spec = broker_spec()
    st = localkafka.status(spec)
    if st.running:
        return spec, False, f"Kafka {st.version or '?'} already running on {spec.bootstrap}"
    if localkafka.port_in_use(spec.port):  # a broker we did not start (tests, docker)?
        try:
            localkafka.wait_ready(spec.bootstrap, timeout=10)
        except localkafka.KafkaSetupError:
            raise localkafka.KafkaSetupError(
                f"port {spec.port} on 127.0.0.1 is in use by something that is not Kafka; "
                "stop it or set LEADSCORE_KAFKA_PORT") from None
        return spec, False, f"Kafka already running on {spec.bootstrap}"
    print(f"starting Kafka {spec.version} on {spec.bootstrap} ...", flush=True)
    progress = Progress(sys.stdout)
    st, _, secs = localkafka.start(spec, progress=progress)
    progress.done()
    return spec, True, f"Kafka {st.version or spec.version} started on {spec.bootstrap} " \
                       f"in {secs:.1f} s (log {st.log_file})"


def follow_model_topic(s: Settings) -> Topic | None:
    """The model topic read and mirrored into the registry (None when LEADSCORE_MODEL_DIR is
    one artifact's folder: nothing to mirror into)."""
    root = s.model_dir.resolve()
    if registry.is_artifact(root):
        return None
    return Topic(s.model_copy(update={"model_dir": root}), root)


def ensure_model(s: Settings, fresh: bool) -> tuple[Path, float | None]:
    """The artifact to score with; trains one from simulated history if there is none.
    Returns (artifact folder, training seconds or None when reused)."""
    from models.artifact import load
    from streams.runtime import resolve_model_dir

    root = s.model_dir.resolve()
    found = resolve_model_dir(root)
    if not fresh and (found / "model.txt").exists():
        load(found)  # a broken artifact is a one-line error now, not a silent worker
        return found, None
    from models.journey import run as simulate
    from models.train import run as train

    out = root.parent if (root / "model.txt").exists() else root
    history = s.state_dir.resolve() / "demo-history.jsonl"
    history.parent.mkdir(parents=True, exist_ok=True)
    print(f"training a model from simulated history ({HISTORY['leads']} leads x "
          f"{HISTORY['days']} days, seed {HISTORY['seed']}) into {out}; once, under a minute",
          flush=True)
    t0 = time.monotonic()
    truth = history.with_name(history.name + ".truth.jsonl")
    simulate(HISTORY["leads"], HISTORY["days"], seed=HISTORY["seed"], out=str(history),
             truth=str(truth))
    folder = train(str(history), str(out))
    history.unlink(missing_ok=True)
    truth.unlink(missing_ok=True)
    secs = time.monotonic() - t0
    print(f"model trained in {secs:.0f} s: {folder}", flush=True)
    return folder, secs


def start_worker(model: Path, s: Settings, local: bool) -> tuple[subprocess.Popen[bytes],
                                                                Path, list[str]]:
    """One worker process in its own session: Ctrl-C reaches the demo, which stops it. It
    inherits the security settings for an external broker; a local one is PLAINTEXT."""
    if localkafka.port_in_use(s.web_port):
        raise UsageError(f"the worker's web port {s.web_port} is in use; set LEADSCORE_WEB_PORT")
    state = s.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    log = state / "demo-worker.log"
    env = {"LEADSCORE_KAFKA_BOOTSTRAP": s.kafka_bootstrap, "LEADSCORE_MODEL_DIR": str(model),
           "LEADSCORE_STATE_DIR": str(state)}
    cmd = [sys.executable, "-m", "streams.cli", "worker"]
    inherited = without_security(os.environ) if local else dict(os.environ)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, env={**inherited, **env}, stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    shown = " ".join([*(f"{k}={v}" for k, v in env.items()), *cmd])
    return proc, log, [f"{shown}  (log {log})"]


def wait_for_worker(s: Settings, group: str, proc: subprocess.Popen[bytes], log: Path,
                    timeout: float = 120.0) -> float:
    """Block until the worker's consumer group is stable with partitions assigned, so the
    first events do not measure the worker's start-up as latency. Returns seconds waited."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(s))
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise UsageError(f"the worker exited during start-up (status {proc.returncode}); "
                             f"see {log}")
        with contextlib.suppress(Exception):
            desc = admin.describe_consumer_groups([group])[group].result(timeout=5)
            if desc.state == ConsumerGroupState.STABLE and any(
                    m.assignment.topic_partitions for m in desc.members):
                return time.monotonic() - t0
        time.sleep(0.5)
    raise UsageError(f"the worker did not join consumer group {group} within {timeout:.0f} s; "
                     f"see {log}")




# --------------------------------------------------------------------------- traffic


def simulate_command(leads: int, seed: int) -> list[str]:
    start = date.today() - timedelta(days=LIVE_DAYS + 1)
    return [sys.executable, "-m", "streams.cli", "simulate", "--generator", GENERATOR,
            "--leads", str(leads), "--days", str(LIVE_DAYS), "--seed", str(seed),
            "--start", start.isoformat()]


# (event_id if readable, event time in epoch seconds, routed message)
Population = list[tuple[str | None, float, Routed]]


SHIFTED_PAGES = frozenset({"blog", "docs", "home", "careers", "other"})


def drifted(line: bytes, every: bool = False) -> bytes:
    """Behaviour shifted as after a site redesign that routes visitors through the pricing
    page: half the blog, docs, home, careers and other page views (picked by event id; with
    ``every``, all of them) become pricing views, while who converts does not change. The
    pricing features move (feature drift), scores rise for leads no likelier to buy
    (calibration drift): what the dashboard's drift and quality panels, and leadscore drift,
    are there to show. ``leadscore demo --drift`` sends :func:`drift_population`."""
    try:
        d = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    if not isinstance(d, dict) or d.get("type") != "page_view":
        return line
    props = d.get("properties")
    if not isinstance(props, dict) or props.get("page_category") not in SHIFTED_PAGES:
        return line
    if not every and hashlib.sha1(str(d.get("event_id")).encode()).digest()[0] & 1:
        return line
    site = urlsplit(str(props.get("url", ""))).netloc or "example.com"
    props.update(page_category="pricing", path="/pricing", url=f"https://{site}/pricing")
    return orjson.dumps(d)


def drift_population(lines: list[bytes]) -> list[bytes]:
    """``--drift``: every blog, docs, home, careers and other page view a known lead makes
    on a later day than its first significant event becomes a pricing view (:func:`drifted`);
    the rest as it is.

    WHY not every view: a lead's first score comes with its first significant event; shifting
    an earlier view (say a blog view into a pricing view) scores leads sooner, so more of
    their outcomes find a score 7 days before them, and the outcomes judged by the quality
    figures change with the drift. Shifting only later views leaves every lead's first
    scored day, so the judged outcomes and the observed conversion rate stay what they were,
    while the scores (and the predicted rate) rise: calibration drift, as it would look."""
    from streams.core.significance import DEFAULT_RULE

    first: dict[str, str] = {}  # lead id -> the day (UTC date text) of its first significant
    parsed: list[dict[str, Any] | None] = []
    for line in lines:
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError:
            d = None
        if not isinstance(d, dict):
            parsed.append(None)
            continue
        parsed.append(d)
        lead, day = d.get("lead_id"), str(d.get("occurred_at", ""))[:10]
        props = d.get("properties")
        category = props.get("page_category") if isinstance(props, dict) else None
        significant = d.get("type") in DEFAULT_RULE.types or (
            d.get("type") == "page_view" and category in DEFAULT_RULE.page_categories)
        if isinstance(lead, str) and significant and (lead not in first or day < first[lead]):
            first[lead] = day
    out = []
    for line, d in zip(lines, parsed, strict=True):
        lead = d.get("lead_id") if d is not None else None
        if d is not None and isinstance(lead, str) and lead in first \
                and str(d.get("occurred_at", ""))[:10] > first[lead]:
            line = drifted(line, every=True)
        out.append(line)
    return out


def simulate_population(s: Settings, leads: int, seed: int, work: Path,
                        drift: bool = False) -> tuple[Population, int]:
    """A fresh population's last LIVE_DAYS days, ending yesterday (so nothing is in the
    future or too old for the worker), in event-time order like a live feed, with ``drift``
    its behaviour shifted (:func:`drift_population`); and how many of its lines the simulator made
    invalid on purpose (they become dead letters)."""
    path = work / f"demo-traffic-{seed}.jsonl"
    # A process, not a thread: simulating holds the GIL for seconds, which would show up
    # as latency in this process's own measurements.
    truth = path.with_name(path.name + ".truth.jsonl")
    done = subprocess.run([*simulate_command(leads, seed), "--out", str(path), "--truth",
                           str(truth), "--no-progress"],
                          check=True, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    malformed = int(orjson.loads(done.stdout.splitlines()[-1]).get("malformed", 0))
    truth.unlink(missing_ok=True)
    keyed: list[tuple[str, str | None, bytes]] = []
    last = ""
    lines = [x for x in path.read_bytes().splitlines() if x.strip()]
    for line in drift_population(lines) if drift else lines:
        try:
            d = orjson.loads(line)
            at, eid = str(d.get("occurred_at", last)), d.get("event_id")
        except (orjson.JSONDecodeError, AttributeError):
            at, eid = last, None  # malformed on purpose: sent where it was, dead-lettered
        last = at
        keyed.append((at, eid if isinstance(eid, str) else None, line))
    path.unlink(missing_ok=True)
    keyed.sort(key=lambda x: x[0])  # stable: a malformed line stays after its neighbour
    routed = route_lines(iter(line for _, _, line in keyed), s, s.topic_website)
    return ([(eid, _epoch(at), r) for (at, eid, _), r in zip(keyed, routed, strict=True)],
            malformed)


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return math.nan


class Traffic:
    """Background threads: one simulates populations ahead of need, one sends them at
    ``rate`` events/s exactly as ``leadscore produce`` does, recording each send time."""

    def __init__(self, s: Settings, rate: float, leads: int, seed: int,
                 drift: bool = False) -> None:
        # --drift: the first population as simulated (the baseline the quality and drift
        # gauges fill with), every later one shifted: the panels move within one run.
        self.drift = drift
        self.drifting = False  # a shifted population is being sent
        self.s, self.rate, self.leads, self.seed = s, rate, leads, seed
        self.ready: queue.Queue[tuple[Population, int]] = queue.Queue(maxsize=1)
        self.stop_flag = threading.Event()
        # Set when the next population is needed (at start, then half-way through each):
        # simulating takes CPU from the worker, so it is not done earlier than necessary.
        self.need = threading.Event()
        self.need.set()
        self.lock = threading.Lock()
        self.sent_at: OrderedDict[str, float] = OrderedDict()
        self.sent = 0
        self.failures = 0
        # Invalid lines sent: the simulator's deliberate faults, expected as dead letters
        # (counted pro rata when a population is cut short by the end of the run).
        self.invalid_sent = 0.0
        self.populations = 0
        self.simulated_s = 0.0  # event time covered by what was sent (all populations)
        self.started = self.finished = 0.0
        self.error: BaseException | None = None
        self._gen = threading.Thread(target=self._generate, name="demo-simulate", daemon=True)
        self._send = threading.Thread(target=self._produce, name="demo-produce", daemon=True)
        self._gen.start()

    def start(self) -> None:
        self._send.start()

    def _generate(self) -> None:
        work = self.s.state_dir.resolve()
        k = 0
        try:
            while not self.stop_flag.is_set():
                if not self.need.wait(timeout=0.5):
                    continue
                self.need.clear()
                pop = simulate_population(self.s, self.leads, self.seed + k, work,
                                          self.drift and k >= 1)
                k += 1
                while not self.stop_flag.is_set():
                    with contextlib.suppress(queue.Full):
                        self.ready.put(pop, timeout=0.5)
                        break
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc

    def _produce(self) -> None:
        from confluent_kafka import Producer

        producer = Producer({**client_config(self.s), "enable.idempotence": True,
                             "partitioner": "murmur2_random", "linger.ms": 5, "log_level": 3,
                             "compression.type": "lz4"})

        def on_delivery(err: object, _msg: object) -> None:
            if err is not None:
                self.failures += 1

        self.started = time.monotonic()
        i = 0
        while not self.stop_flag.is_set():
            try:
                pop, malformed = self.ready.get(timeout=0.5)
            except queue.Empty:
                continue
            self.populations += 1
            self.drifting = self.drift and self.populations >= 2
            bad_share = malformed / len(pop) if pop else 0.0
            half = len(pop) // 2
            first = next((t for _, t, _ in pop if t == t), math.nan)
            done_before = self.simulated_s
            for j, (eid, ts, r) in enumerate(pop):
                if j == half:
                    self.need.set()
                if self.stop_flag.is_set():
                    break
                while True:
                    try:
                        producer.produce(r.topic, key=r.key, value=r.value,
                                         on_delivery=on_delivery)
                        break
                    except BufferError:
                        producer.poll(0.1)
                now = time.monotonic()
                if eid is not None:
                    with self.lock:
                        self.sent_at[eid] = now
                self.sent = i = i + 1
                self.invalid_sent += bad_share
                if ts == ts and first == first:  # NaN: a malformed line has no time
                    self.simulated_s = max(self.simulated_s, done_before + ts - first)
                producer.poll(0)
                ahead = i / self.rate - (now - self.started)
                if ahead > 0:
                    time.sleep(ahead)
        self.finished = time.monotonic()
        self.failures += producer.flush(15)

    def sent_time(self, event_id: str) -> float | None:
        with self.lock:
            return self.sent_at.get(event_id)

    def forget_before(self, t: float) -> None:
        with self.lock:
            while self.sent_at and next(iter(self.sent_at.values())) < t:
                self.sent_at.popitem(last=False)

    def stop(self) -> None:
        self.stop_flag.set()
        if self._send.is_alive():
            self._send.join(timeout=30)
        self._gen.join(timeout=30)
        if not self.finished:
            self.started = self.finished = self.started or time.monotonic()


def send_probe(s: Settings, tag: str) -> str:
    """One pricing-page visit of a lead of its own; returns its event id. Its score change
    coming back proves the worker is really scoring (tables recovered, model loaded), so
    the worker's start-up is not measured as the first events' latency."""
    from confluent_kafka import Producer

    eid = f"demo-probe-{tag}"
    line = orjson.dumps({
        "event_id": eid, "type": "page_view", "lead_id": eid, "source": "leadscore-demo",
        "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "schema_version": 2, "properties": {"url": "https://www.example.com/pricing",
                                            "path": "/pricing", "page_category": "pricing"}})
    producer = Producer({**client_config(s), "partitioner": "murmur2_random"})
    for r in route_lines(iter([line]), s, s.topic_website):
        producer.produce(r.topic, key=r.key, value=r.value)
    if producer.flush(30):
        raise UsageError(f"could not send to Kafka at {s.kafka_bootstrap}")
    return eid


# --------------------------------------------------------------------------- reading back


class Reader:
    """Reads score changes, alerts and dead letters from the end offsets as they were
    before the first event was sent (explicit assignment: nothing produced by this run
    can be missed, nothing from earlier runs is read)."""

    def __init__(self, s: Settings, board: liveview.Board, traffic: Traffic) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.s, self.board, self.traffic = s, board, traffic
        self.probe: str | None = None
        self.probe_seen = False
        self.since = datetime.now(UTC)
        self.consumer = Consumer({**client_config(s),
                                  "group.id": f"leadscore-demo-{uuid.uuid4().hex[:8]}",
                                  "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False, "log_level": 3})
        parts = []
        for topic in (s.topic_changes, s.topic_alerts, s.topic_deadletter):
            md = self.consumer.list_topics(topic, timeout=10).topics[topic]
            for p in md.partitions:
                tp = TopicPartition(topic, p)
                _, high = self.consumer.get_watermark_offsets(tp, timeout=10)
                parts.append(TopicPartition(topic, p, high))
        self.consumer.assign(parts)

    def poll(self, timeout: float) -> int:
        """Handle what arrived within ``timeout``; returns messages of this run seen."""
        ours = 0
        first = self.consumer.poll(timeout)  # returns as soon as a message is there
        if first is None:
            return 0
        # consume() waits for a full batch or its timeout: only for draining what is there.
        for m in [first, *self.consumer.consume(num_messages=500, timeout=0)]:
            topic, value = m.topic(), m.value()
            if m.error() or topic is None or value is None:
                continue
            ours += self._handle(topic, value, time.monotonic())
        return ours

    def _handle(self, topic: str, value: bytes, got: float) -> int:
        s, t = self.s, self.traffic
        try:
            if topic == s.topic_changes:
                change = ScoreChange.from_bytes(value)
                if change.cause_event_id == self.probe:
                    self.probe_seen = True
                    return 0
                sent = t.sent_time(change.cause_event_id)
                if sent is None:
                    return 0
                self.board.on_change(change, time.time(), got - sent)
            elif topic == s.topic_alerts:
                alert = Alert.from_bytes(value)
                if t.sent_time(alert.cause_event_id) is None:
                    return 0
                self.board.on_alert(alert, time.time())
            else:
                dl = DeadLetterRecord.from_bytes(value)
                known = dl.event_id is not None and t.sent_time(dl.event_id) is not None
                if not known and dl.failed_at < self.since:
                    return 0
                self.board.on_dead_letter()
        except ValueError:  # not a message of our contract: not ours to show
            return 0
        return 1

    def wait_for_probe(self, tag: str, worker: subprocess.Popen[bytes],
                       timeout: float = 120.0) -> float:
        t0 = time.monotonic()
        self.probe = send_probe(self.s, tag)
        while not self.probe_seen:
            if worker.poll() is not None or time.monotonic() - t0 > timeout:
                raise UsageError("the worker did not score a first event "
                                 + ("(it exited)" if worker.poll() is not None
                                    else f"within {timeout:.0f} s"))
            self.poll(0.2)
        return time.monotonic() - t0

    def close(self) -> None:
        self.consumer.close()


# --------------------------------------------------------------------------- the command


def add_arguments(sub: argparse._SubParsersAction) -> None:
    from streams.commands.args import positive_float

    p = sub.add_parser(
        "demo",
        help="run the product on this machine: Kafka, a model, a worker, live traffic, a view",
        description="Start the local Kafka (unless one runs on $LEADSCORE_KAFKA_PORT), train a "
        "model from simulated history if $LEADSCORE_MODEL_DIR has none, start a worker, "
        "stream simulated live traffic and show the hottest leads, recent alerts and "
        "throughput. Ctrl-C (or --duration) stops everything the demo started and prints "
        "the events/s it sustained and its event-to-score latency (p50, p99).",
    )
    p.add_argument("--duration", type=positive_float, default=None, metavar="S",
                   help="stop after S seconds of traffic (set-up not counted; default: run "
                   "until Ctrl-C)")
    p.add_argument("--rate", type=positive_float, default=300.0, metavar="N",
                   help="events per second to send (default: 300)")
    p.add_argument("--leads", type=int, default=2000, metavar="N",
                   help="leads in each simulated live population: their last "
                   f"{LIVE_DAYS} days, sent in event-time order; when one is used up a fresh "
                   "one follows (default: 2000, about 26,000 events)")
    p.add_argument("--drift", action="store_true",
                   help="after a first population as simulated, shift the behaviour (known "
                   "leads' later non-pricing page views become pricing views; who converts "
                   "does not change): the drift and calibration figures move within the run, "
                   "then retrain")
    p.add_argument("--fresh-model", action="store_true",
                   help="train a new model even if $LEADSCORE_MODEL_DIR has one")
    p.add_argument("--bootstrap", default=None, metavar="HOST:PORT[,...]",
                   help="use the Kafka cluster at these brokers, reached with the "
                   "LEADSCORE_KAFKA_SECURITY_PROTOCOL/SASL/SSL settings, instead of a local "
                   "broker; the demo never starts or stops it, and sends simulated traffic "
                   "to its LEADSCORE_TOPIC_* topics (default: the local broker)")
    p.set_defaults(func=run_from_args)


def _on_sigterm(_sig: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # same clean stop as Ctrl-C


def run_from_args(args: argparse.Namespace) -> int:
    if args.leads < 1:
        raise UsageError("--leads must be at least 1")
    signal.signal(signal.SIGTERM, _on_sigterm)
    s = get_settings()
    spec: localkafka.BrokerSpec | None = None
    started = False
    if args.bootstrap:  # the operator's cluster, with the operator's security settings
        s = s.model_copy(update={"kafka_bootstrap": args.bootstrap})
        wait_for_brokers(s, named="--bootstrap")
        print(f"Kafka already running at {args.bootstrap} ({s.kafka_security_protocol}; "
              "--bootstrap: not started, not stopped by the demo)", flush=True)
        commands = [f"LEADSCORE_KAFKA_BOOTSTRAP={args.bootstrap}   (with your "
                    "LEADSCORE_KAFKA_SECURITY_* settings)"]
    else:  # a PLAINTEXT broker on loopback, whatever the environment says about security
        spec, started, said = ensure_broker(s)
        s = plaintext(s, spec.bootstrap)
        print(said, flush=True)
        commands = [f"LEADSCORE_KAFKA_PORT={spec.port} leadscore kafka start"
                    + ("" if started else "   (already running: not started, not stopped)")]
    worker: subprocess.Popen[bytes] | None = None
    traffic: Traffic | None = None
    downstream: Downstream | None = None
    try:
        create_topics(s.kafka_bootstrap, s)
        # The model topic's champion into the registry first (the worker follows the topic),
        # so the model reused below is the one the worker will score with.
        topic = follow_model_topic(s)
        model, secs = ensure_model(s, args.fresh_model)
        if secs is not None and topic is not None and topic.has_pointer():
            # a fresh model replaces the topic's champion, or the worker would take that one
            ptr = registry.promote(s.model_dir.resolve(), model.name)
            topic.publish([ptr.version], ptr)
            print(f"model {ptr.version} promoted on {s.topic_models} (was {ptr.previous})",
                  flush=True)
        if secs is None:
            print(f"model: {model} (reused; --fresh-model retrains)", flush=True)
        else:
            h = HISTORY
            commands.append(f"leadscore simulate --generator {GENERATOR} --leads {h['leads']} "
                            f"--days {h['days']} "
                            f"--seed {h['seed']} --out history.jsonl && leadscore train "
                            f"--events history.jsonl --out {model.parent}   ({secs:.0f} s)")
        seed = 1000 + uuid.uuid4().int % 900_000  # fresh event ids: no duplicates of a past run
        traffic = Traffic(s, args.rate, args.leads, seed, drift=args.drift)
        # The registry, not the champion's folder: the worker then follows promotions.
        root = s.model_dir.resolve()
        worker, log, shown = start_worker(model if registry.is_artifact(root) else root, s,
                                          local=spec is not None)
        commands += shown
        print(f"worker pid {worker.pid} starting (log {log}) ...", flush=True)
        waited = wait_for_worker(s, s.app_id, worker, log)
        print(f"worker joined its consumer group in {waited:.1f} s; while it runs: "
              f"http://{s.web_host}:{s.web_port}/metrics and "
              f"http://{s.web_host}:{s.web_port}/leads/LEAD_ID", flush=True)
        downstream = Downstream(s, s.state_dir.resolve(), local=spec is not None)
        commands += downstream.start()
        print(f"pager delivering to a webhook receiver on {downstream.receiver.url('')}, "
              f"crm-sync writing {downstream.database} (table {downstream.table})", flush=True)
        commands.append(" ".join(simulate_command(args.leads, seed)[1:]).replace(
            "-m streams.cli", "leadscore") + " --out live.jsonl   (seed +1, +2, ... for later "
            f"populations), sorted by occurred_at, then: leadscore produce --events live.jsonl "
            f"--rate {args.rate:g}")
        return _live(args, s, worker, traffic, downstream, commands)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # cleanup is not interruptible
        if traffic is not None:
            traffic.stop()
        if downstream is not None:
            downstream.stop()
        if worker is not None:
            stop(worker)
            print(f"worker stopped (status {worker.returncode})", flush=True)
        if started and spec is not None:
            localkafka.stop(spec)
            print("Kafka stopped (the demo started it)", flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _live(args: argparse.Namespace, s: Settings, worker: subprocess.Popen[bytes],
          traffic: Traffic, downstream: Downstream, commands: list[str]) -> int:
    """Traffic, read-back and view until Ctrl-C / --duration; then the summary."""
    board = liveview.Board()
    reader = Reader(s, board, traffic)
    secs = reader.wait_for_probe(str(traffic.seed), worker)
    print(f"worker scored a first event in {secs:.1f} s; streaming {args.rate:g} events/s "
          f"(Ctrl-C stops)", flush=True)
    tty = sys.stdout.isatty()
    every = 1.0 if tty else 5.0
    rates: deque[tuple[float, int]] = deque()
    header = f"leadscore demo · Kafka {s.kafka_bootstrap} · worker pid {worker.pid} · {{}}"
    histogram_before = worker_histogram(s)
    traffic.start()
    t0 = time.monotonic()
    rates.append((t0, 0))
    next_draw = t0 + every
    failed: str | None = None
    quality: str | None = None
    next_quality = t0
    drifting = False
    if tty:  # the alternate screen: the set-up lines are still there afterwards
        sys.stdout.write("\x1b[?1049h\x1b[?25l")
    try:
        while args.duration is None or time.monotonic() - t0 < args.duration:
            reader.poll(0.2)
            now = time.monotonic()
            if worker.poll() is not None:
                failed = f"the worker exited (status {worker.returncode})"
                break
            if (gone := downstream.failed()) is not None:
                failed = gone
                break
            if traffic.error is not None:
                failed = f"simulating traffic failed: {traffic.error}"
                break
            if now >= next_draw:
                next_draw = now + every
                rates.append((now, traffic.sent))
                while rates[0][0] < now - liveview.WINDOW_S:
                    rates.popleft()
                span = now - rates[0][0]
                rate = (traffic.sent - rates[0][1]) / span if span > 0 else 0.0
                v = board.view(time.time(), now - t0, traffic.sent, rate)
                if now >= next_quality:  # the worker exports them at each table scan
                    next_quality = now + 10.0
                    quality = worker_quality(s)
                    shown_quality = not tty and quality is not None
                else:
                    shown_quality = False
                if traffic.drifting and not drifting:
                    drifting = True
                    sys.stdout.write("--drift: the shifted population starts now (the first "
                                     "was the baseline)\n")
                if tty:
                    cols = shutil.get_terminal_size().columns
                    frame = liveview.render_screen(v, header.format(liveview.fmt_elapsed(now - t0)),
                                                   cols)
                    extra = ([("drifted traffic · " if drifting else "") + quality]
                             if quality else [])
                    sys.stdout.write("\x1b[H\x1b[2J" + "\n".join([frame, *extra]) + "\n")
                else:
                    sys.stdout.write(liveview.render_status(v) + "\n")
                    if shown_quality:
                        sys.stdout.write(f"  {quality}\n")
                sys.stdout.flush()
                traffic.forget_before(now - SENT_TTL_S)
    except KeyboardInterrupt:
        pass
    finally:
        if tty:
            sys.stdout.write("\x1b[?25h\x1b[?1049l")
            sys.stdout.flush()
        traffic.stop()
    # In-flight events: read until the worker has been quiet for 2 s (at most 10 s).
    quiet_since = time.monotonic()
    with contextlib.suppress(KeyboardInterrupt):
        while failed is None and time.monotonic() - quiet_since < 2.0 \
                and time.monotonic() - traffic.finished < 10.0:
            if reader.poll(0.2):
                quiet_since = time.monotonic()
    reader.close()
    _settle(downstream)
    pages = downstream.pages
    summary = liveview.Summary(
        sent=traffic.sent, send_seconds=traffic.finished - traffic.started,
        changes=board.changes_total, alerts=board.alerts_total,
        dead_letters=board.dead_letters, invalid_sent=round(traffic.invalid_sent),
        latencies=board.latencies,
        send_failures=traffic.failures, pages=len(pages),
        sample_page=pages[-1].text if pages else None, crm_leads=downstream.crm_leads(),
        crm_table=f"{downstream.database} (table {downstream.table})",
        worker_buckets=latency.histogram_delta(worker_histogram(s), histogram_before),
        alerts_by_kind=dict(board.alerts_by_kind),
        simulated_days=traffic.simulated_s / 86400.0, hot_leads=len(board.hot_leads),
        tiers=board.tiers())
    print("\n" + liveview.render_summary(summary, commands), flush=True)
    if failed:
        raise UsageError(f"{failed}; see {s.state_dir.resolve() / 'demo-worker.log'}")
    return 0


def _settle(downstream: Downstream, timeout: float = 10.0) -> None:
    """Give the pager a moment to deliver the last alerts (quiet for 2 s, at most 10 s)."""
    t0 = last_change = time.monotonic()
    seen = len(downstream.pages)
    while time.monotonic() - t0 < timeout and time.monotonic() - last_change < 2.0:
        time.sleep(0.2)
        if len(downstream.pages) != seen:
            seen, last_change = len(downstream.pages), time.monotonic()
