"""What the pager and crm-sync broker tests share: their processes, and records to feed them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from schemas import Alert, Factor, ScoreChange, alert_idempotency_key
from streams.local.kafka import die_with_parent
from streams.local.lag import LagProbe

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@contextmanager
def command(args: list[str], env: dict[str, str], log: Path):
    """``leadscore ARGS`` as a child process (dies with the test), output in ``log``."""
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", *args],
                                env={**os.environ, **env}, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def produce(bootstrap: str, topic: str, records: Iterable[tuple[str, bytes | None]]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                  "enable.idempotence": True})
    for key, value in records:
        p.produce(topic, key=key.encode(), value=value)
    assert p.flush(30) == 0


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0,
             proc: subprocess.Popen | None = None, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log else ""
            raise AssertionError(f"process exited ({proc.returncode}) waiting for {what}\n{tail}")
        time.sleep(0.1)
    tail = log.read_text()[-2000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def caught_up(bootstrap: str, group: str, topic: str) -> Callable[[], bool]:
    """True once the group's committed offsets reach the topic's end."""
    def check() -> bool:
        probe = LagProbe({"bootstrap.servers": bootstrap}, group, [topic])
        try:
            return probe.lag() == 0
        finally:
            probe.close()
    return check


def profile_update(lead: str, n: int, **props: Any) -> bytes:
    return orjson.dumps({"event_id": f"p-{lead}-{n}", "type": "profile_update",
                         "occurred_at": (T0 + timedelta(minutes=n)).isoformat(),
                         "lead_id": lead, "source": "crm", "schema_version": 2,
                         "properties": props})


def score_change(lead: str, score: int, n: int) -> ScoreChange:
    at = T0 + timedelta(minutes=n)
    return ScoreChange(
        lead_id=lead, score=score, probability=score / 100,
        tier="hot" if score >= 80 else "warm" if score >= 50 else "cold", percentile=50.0,
        trend="rising", recommended_action="Call within the hour.",
        top_factors=[Factor(feature="pricing", points=18.0,
                            sentence=f"Viewed the pricing page {n % 5 + 2} times this week")],
        model_version="m-test", cause_event_id=f"ev-{lead}-{n}", cause_event_type="page_view",
        event_time=at, emitted_at=at + timedelta(seconds=1))


def alert(lead: str, cause: str, score: int = 85) -> Alert:
    return Alert(kind="entered_tier", lead_id=lead, from_tier="warm", to_tier="hot",
                 from_score=60, to_score=score, score=score,
                 reason=f"Score reached {score}, entering Hot (threshold 80)",
                 idempotency_key=alert_idempotency_key(lead, "entered_tier", "hot", cause),
                 cause_event_id=cause, event_time=T0, emitted_at=T0, model_version="m-test")
