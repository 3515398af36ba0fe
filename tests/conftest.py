"""Test harness: one real Apache Kafka broker per test session.

The broker is started on free loopback ports from the same code as ``leadscore kafka start``
(unless ``KAFKA_BOOTSTRAP`` points at one already running), and every test gets its own
topic names, so tests never see each other's messages. ``./dev test`` runs the tests in
parallel worker processes (pytest-xdist): the controller starts the one broker of the run
before the workers and hands it to them; the small model is trained once and shared. Tests
under ``tests/integration`` are marked ``broker``: ``pytest -m "not broker"`` runs only the
fast unit tests, while CI runs everything.

The broker also listens with SASL_SSL (SCRAM-SHA-512 and PLAIN users) and SSL requiring a
client certificate, with certificates made for the run (tests/tls.py): the security tests use
those listeners, so they need no broker of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.local import kafka as localkafka
from streams.settings import Settings
from tests.tls import SecureListeners, secured

_SPEC_KEY = pytest.StashKey[localkafka.BrokerSpec]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.broker)


_BROKER_LINES: list[str] = []
# Set by the xdist controller for its workers: the broker it started, and that broker's version.
_SHARED_ENV, _VERSION_ENV = "KAFKA_BOOTSTRAP", "LEADSCORE_TEST_KAFKA_VERSION"
# ... and the file describing its secure listeners (SecureListeners.save).
_SECURE_ENV = "LEADSCORE_TEST_KAFKA_SECURE"


def _is_xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))


def _wants_broker(config: pytest.Config) -> bool:
    return "not broker" not in (config.option.markexpr or "")


def _broker_spec(state_dir: Path) -> localkafka.BrokerSpec:
    settings = Settings()
    return localkafka.BrokerSpec(
        port=localkafka.free_port(),
        controller_port=localkafka.free_port(),
        state_dir=state_dir,
        cache_dir=settings.cache_dir,
        version=settings.kafka_version,
        partitions=4,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, the controller starts the one broker of the run before its workers
    start (they inherit ``KAFKA_BOOTSTRAP``) and stops it at the end: one broker per run, shared
    by every worker, tied to the controller's life."""
    if not _is_xdist_controller(config) or os.environ.get(_SHARED_ENV) or not _wants_broker(config):
        return
    import tempfile

    spec, secure = secured(_broker_spec(Path(tempfile.mkdtemp(prefix="leadscore-test-kafka-"))))
    status, _, secs = localkafka.start(spec, tied_to_parent=True)
    config.stash[_SPEC_KEY] = spec
    os.environ[_SHARED_ENV] = status.bootstrap
    os.environ[_VERSION_ENV] = status.version or spec.version
    secure.save(spec.state_dir / "secure.json")
    os.environ[_SECURE_ENV] = str(spec.state_dir / "secure.json")
    _BROKER_LINES.append(f"kafka: Apache Kafka {status.version} (KRaft, single node) on "
                         f"{status.bootstrap}, ready in {secs:.1f} s, shared by every worker")


def pytest_unconfigure(config: pytest.Config) -> None:
    spec = config.stash.get(_SPEC_KEY, None)
    if spec is not None:
        import shutil

        localkafka.stop(spec, grace=20)
        shutil.rmtree(spec.state_dir, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return list(_BROKER_LINES)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    for line in _BROKER_LINES:
        terminalreporter.write_line(line)


class Broker:
    """What a test needs to reach the session's broker."""

    def __init__(self, bootstrap: str, version: str | None, started_here: bool,
                 spec: localkafka.BrokerSpec | None = None,
                 secure: SecureListeners | None = None) -> None:
        self.bootstrap = bootstrap
        self.version = version
        self.started_here = started_here
        self.spec = spec
        self.secure = secure  # None for a KAFKA_BOOTSTRAP broker of your own

    def bounce(self) -> None:
        """Stop the broker (controlled shutdown) and start it again on the same ports and
        data: what a consumer sees during a broker restart."""
        if self.spec is None:
            raise RuntimeError("a broker bounce needs a broker of the test's own: use the "
                               "own_kafka fixture")
        localkafka.stop(self.spec, grace=20)
        localkafka.start(self.spec, tied_to_parent=True)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The run's broker: ``KAFKA_BOOTSTRAP`` (an xdist controller's, or one you run), else one
    started here for this session. Its line goes to the final summary, not into the middle of
    the progress line."""
    external = os.environ.get(_SHARED_ENV)
    if external:
        localkafka.wait_ready(external, timeout=30)
        version = os.environ.get(_VERSION_ENV)
        if not _BROKER_LINES:
            what = f"Apache Kafka {version}" if version else "version not known"
            _BROKER_LINES.append(f"kafka: using KAFKA_BOOTSTRAP={external} ({what})")
        described = os.environ.get(_SECURE_ENV)
        yield Broker(external, version, started_here=False,
                     secure=SecureListeners.load(Path(described)) if described else None)
        return
    spec, secure = secured(_broker_spec(tmp_path_factory.mktemp("kafka")))
    status, _, secs = localkafka.start(spec, tied_to_parent=True)
    _BROKER_LINES.append(f"kafka: Apache Kafka {status.version} (KRaft, single node) on "
                         f"{status.bootstrap}, ready in {secs:.1f} s")
    try:
        yield Broker(status.bootstrap, status.version, started_here=True, secure=secure)
    finally:
        localkafka.stop(spec, grace=20)


@pytest.fixture
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker of the test's own, for tests that stop and restart it: a bounce of the shared
    broker would be an outage for every test running beside it."""
    spec = _broker_spec(tmp_path_factory.mktemp("own-kafka"))
    status, _, _ = localkafka.start(spec, tied_to_parent=True)
    try:
        yield Broker(status.bootstrap, status.version, started_here=True, spec=spec)
    finally:
        localkafka.stop(spec, grace=20)


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to the test, for its topic names and consumer groups."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real artifact trained from simulated history (about 10 s): the scorer's tests use
    the model code itself, never a stand-in. Trained once per run: under xdist the first
    worker trains it (under a lock in the run's shared temp folder) and the others reuse it."""
    import fcntl

    from models.simulate import run as simulate
    from models.train import run as train
    from streams.runtime import resolve_model_dir

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    work = shared / "small-model"
    with open(shared / "small-model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = work / "artifact-path"
        if done.exists():
            return Path(done.read_text())
        work.mkdir(exist_ok=True)
        events = work / "history.jsonl"
        simulate(1500, 240, seed=5, out=str(events), progress=False)
        artifact = resolve_model_dir(Path(train(str(events), str(work / "artifact"),
                                                progress=False)))
        done.write_text(str(artifact))
        return artifact
