"""Test harness: one real Apache Kafka broker per test session.

The broker is started on free loopback ports from the same code as ``leadscore kafka start``
(unless ``KAFKA_BOOTSTRAP`` points at one already running), and every test gets its own
topic names, so tests never see each other's messages. Tests under ``tests/integration``
are marked ``broker``: ``pytest -m "not broker"`` runs only the fast unit tests, while CI
runs everything.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.local import kafka as localkafka
from streams.settings import Settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.broker)


_BROKER_LINES: list[str] = []


def _announce(request: pytest.FixtureRequest, line: str) -> None:
    """Show the broker line now (outside output capture) and again in the final summary."""
    _BROKER_LINES.append(line)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capman is None:
        return
    with capman.global_and_fixture_disabled():
        reporter.write_line(line)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    for line in _BROKER_LINES:
        terminalreporter.write_line(line)


class Broker:
    """What a test needs to reach the session's broker."""

    def __init__(self, bootstrap: str, version: str | None, started_here: bool,
                 spec: localkafka.BrokerSpec | None = None) -> None:
        self.bootstrap = bootstrap
        self.version = version
        self.started_here = started_here
        self.spec = spec

    def bounce(self) -> None:
        """Stop the broker (controlled shutdown) and start it again on the same ports and
        data: what a consumer sees during a broker restart."""
        if self.spec is None:
            raise RuntimeError("a broker bounce needs the session's own broker; unset "
                               "KAFKA_BOOTSTRAP to run this test")
        localkafka.stop(self.spec, grace=20)
        localkafka.start(self.spec, tied_to_parent=True)


@pytest.fixture(scope="session")
def kafka(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        localkafka.wait_ready(external, timeout=30)
        broker = Broker(external, None, started_here=False)
        _announce(request, f"kafka: using KAFKA_BOOTSTRAP={external} (version not known)")
        yield broker
        return
    settings = Settings()
    spec = localkafka.BrokerSpec(
        port=localkafka.free_port(),
        controller_port=localkafka.free_port(),
        state_dir=tmp_path_factory.mktemp("kafka"),
        cache_dir=settings.cache_dir,
        version=settings.kafka_version,
        partitions=4,
    )
    status, _, secs = localkafka.start(spec, tied_to_parent=True)
    _announce(
        request,
        f"kafka: Apache Kafka {status.version} (KRaft, single node) on {status.bootstrap}, "
        f"ready in {secs:.1f} s",
    )
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
    the model code itself, never a stand-in."""
    from models.simulate import run as simulate
    from models.train import run as train
    from streams.runtime import resolve_model_dir

    work = tmp_path_factory.mktemp("model")
    events = work / "history.jsonl"
    simulate(1500, 240, seed=5, out=str(events), progress=False)
    return resolve_model_dir(Path(train(str(events), str(work / "artifact"), progress=False)))
