"""The pager without Kafka: its routing file, routes, quiet hours, caps and digests, and real
HTTP deliveries to a loopback receiver that fails on purpose (5xx, timeouts, refused
connections, a 404). The Kafka side (commits, kill -9, a broker bounce) is in
tests/integration/test_pager.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas import Alert, DeadLetterRecord, ReasonCode, alert_idempotency_key
from streams.integrations.pager import rules
from streams.integrations.pager.config import ConfigError, parse
from streams.integrations.pager.service import Pager
from streams.integrations.pager.store import Store
from streams.local.kafka import free_port
from streams.local.receiver import Receiver, Reply

T0 = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)  # a Monday, 11:15 in Berlin


def alert(lead: str = "lead-1", cause: str = "ev-1", kind: str = "entered_tier",
          to_score: int = 82) -> Alert:
    return Alert(kind=kind, lead_id=lead, from_tier="warm", to_tier="hot", from_score=64,  # type: ignore[arg-type]
                 to_score=to_score, score=to_score,
                 reason=f"Score reached {to_score}, entering Hot (threshold 80)",
                 idempotency_key=alert_idempotency_key(lead, kind, "hot", cause),
                 cause_event_id=cause, event_time=T0, emitted_at=T0, model_version="m-1")


CONFIG = """
[retry]
attempts = 3
first_delay_seconds = 0.01
max_delay_seconds = 0.02
timeout_seconds = 0.5

[webhooks.ana]
url = "{url}/ana"
format = "slack"

[webhooks.ops]
url = "{url}/ops"
format = "json"
headers = {{ Authorization = "Bearer ${{PAGER_TEST_TOKEN}}" }}

[[routes]]
name = "ana-hot"
webhook = "ana"
match = {{ owner = "ana@example.com", tier = ["hot"] }}
hourly_cap = 2

[[routes]]
name = "emea-night"
webhook = "ana"
match = {{ territory = "EMEA" }}
quiet_hours = {{ start = "20:00", end = "08:00", timezone = "Europe/Berlin" }}

[[routes]]
name = "everyone-else"
webhook = "ops"
"""


class Sink:
    """Dead letters collected in a list: this file tests routing, not Kafka."""

    def __init__(self) -> None:
        self.records: list[DeadLetterRecord] = []

    def send(self, record: DeadLetterRecord, key: bytes | None) -> None:
        self.records.append(record)

    def flush(self, timeout: float = 300.0) -> None:
        return


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGER_TEST_TOKEN", "s3cret")


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def make_pager(tmp_path: Path, url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch,
               config: str = CONFIG) -> tuple[Pager, Sink]:
    sink = Sink()
    pager = Pager(parse(config.format(url=url)), Store(tmp_path / "pager.sqlite3"),
                  deadletters=sink, clock=clock)
    return pager, sink


def profile(store: Store, lead: str, **fields: object) -> None:
    store.apply_views({lead: {k: (v, "2026-03-01T00:00:00.000000Z|p") for k, v in
                              fields.items()}}, {}, {})


def test_a_page_is_readable_and_carries_its_idempotency_key(tmp_path, receiver, monkeypatch):
    pager, _ = make_pager(tmp_path, receiver.url(""), Clock(T0), monkeypatch)
    profile(pager.store, "lead-1", owner="ana@example.com", territory="EMEA",
            company_name="Acme Analytics GmbH", job_title="VP of Engineering")
    pager.store.apply_views({}, {"lead-1": ("v1", {
        "score": 82, "tier": "hot", "recommended_action": "Call within the hour.",
        "top_factors": [{"feature": "pricing", "points": 18.4,
                         "sentence": "Viewed the pricing page 3 times this week"},
                        {"feature": "idle", "points": -3.2,
                         "sentence": "No activity for 19 days"}]})}, {})
    a = alert()
    assert pager.page(a, a.to_bytes()) == "delivered"
    [page] = receiver.pages
    assert page.path == "/ana"
    assert page.headers["idempotency-key"] == a.idempotency_key
    text = page.json["text"]
    assert "Hot lead: Acme Analytics GmbH" in text and "(VP of Engineering)" in text
    assert "• +18 Viewed the pricing page 3 times this week" in text
    assert "• -3 No activity for 19 days" in text
    assert "Next: Call within the hour." in text
    assert page.json["blocks"][0]["text"]["text"] == text  # Slack-compatible form


def test_reasons_of_another_score_are_not_shown(tmp_path, receiver, monkeypatch):
    pager, _ = make_pager(tmp_path, receiver.url(""), Clock(T0), monkeypatch)
    pager.store.apply_views({}, {"lead-9": ("v1", {"score": 40, "tier": "cold",
                                                   "top_factors": [{"feature": "x", "points": 1.0,
                                                                    "sentence": "Old reason"}]})},
                            {})
    a = alert("lead-9")
    pager.page(a, a.to_bytes())
    [page] = receiver.pages
    assert page.path == "/ops" and "Old reason" not in page.json["text"]
    assert page.json["type"] == "leadscore.page" and page.json["reasons"] == []
    assert page.headers["authorization"] == "Bearer s3cret"  # ${VAR} from the environment


def test_an_exact_resend_is_dropped_even_after_a_restart(tmp_path, receiver, monkeypatch):
    pager, _ = make_pager(tmp_path, receiver.url(""), Clock(T0), monkeypatch)
    a = alert()
    assert pager.page(a, a.to_bytes()) == "delivered"
    assert pager.page(a, a.to_bytes()) == "duplicate"
    pager.store.close()
    again, _ = make_pager(tmp_path, receiver.url(""), Clock(T0), monkeypatch)
    assert again.page(a, a.to_bytes()) == "duplicate"
    assert len(receiver.requests) == 1


def test_first_matching_route_wins_and_no_match_is_none() -> None:
    config = parse(CONFIG.format(url="http://127.0.0.1:1"))
    a = alert()
    assert rules.route_for(a, {"owner": "ana@example.com"}, config.routes).name == "ana-hot"
    assert rules.route_for(a, {"territory": "EMEA"}, config.routes).name == "emea-night"
    assert rules.route_for(a, {}, config.routes).name == "everyone-else"
    assert rules.route_for(a, {}, config.routes[:2]) is None
    decline = alert(kind="decline")
    assert rules.route_for(decline, {"owner": "ana@example.com"}, config.routes[:1]) is not None


@pytest.mark.parametrize(("utc", "until_local"), [
    (datetime(2026, 3, 2, 19, 30, tzinfo=UTC), "2026-03-03 08:00"),  # 20:30 Berlin
    (datetime(2026, 3, 3, 6, 59, tzinfo=UTC), "2026-03-03 08:00"),  # 07:59 Berlin
    (datetime(2026, 3, 3, 7, 0, tzinfo=UTC), None),  # 08:00 Berlin: over
    (datetime(2026, 3, 2, 18, 59, tzinfo=UTC), None),  # 19:59 Berlin
    (datetime(2026, 7, 1, 18, 30, tzinfo=UTC), "2026-07-02 08:00"),  # 20:30 in summer time
])
def test_quiet_hours_are_in_the_route_s_time_zone(utc: datetime, until_local: str | None) -> None:
    quiet = parse(CONFIG.format(url="http://127.0.0.1:1")).routes[1].quiet_hours
    assert quiet is not None
    until = quiet.until(utc)
    assert (until.strftime("%Y-%m-%d %H:%M") if until else None) == until_local


def test_hourly_cap_holds_the_rest_and_sends_one_digest_when_the_hour_ends(
        tmp_path, receiver, monkeypatch):
    clock = Clock(T0)
    pager, _ = make_pager(tmp_path, receiver.url(""), clock, monkeypatch)
    for i in range(5):
        profile(pager.store, f"lead-{i}", owner="ana@example.com", company_name=f"Co {i}")
    outcomes = [pager.page(a, a.to_bytes()) for a in (alert(f"lead-{i}") for i in range(5))]
    assert outcomes == ["delivered"] * 2 + ["held_hourly_cap"] * 3
    assert pager.release_due() == 0  # not before the hour ends
    clock.now = T0.replace(minute=0) + timedelta(hours=1)
    assert pager.release_due() == 1
    assert pager.release_due() == 0  # sent once
    pages = receiver.pages
    assert len(pages) == 3
    digest = pages[-1].json["text"]
    assert "3 lead alerts for ana@example.com" in digest and "over the hourly cap" in digest
    assert all(f"Co {i}" in digest for i in (2, 3, 4))
    # the new hour has its own budget
    a = alert("lead-0", cause="ev-2")
    assert pager.page(a, a.to_bytes()) == "delivered"


def test_quiet_hours_hold_then_digest_at_their_end(tmp_path, receiver, monkeypatch):
    clock = Clock(datetime(2026, 3, 2, 21, 0, tzinfo=UTC))  # 22:00 Berlin
    pager, _ = make_pager(tmp_path, receiver.url(""), clock, monkeypatch)
    profile(pager.store, "lead-5", territory="EMEA")
    a = alert("lead-5")
    assert pager.page(a, a.to_bytes()) == "held_quiet_hours"
    clock.now = datetime(2026, 3, 3, 6, 59, tzinfo=UTC)
    assert pager.release_due() == 0 and receiver.requests == []
    clock.now = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 08:00 Berlin
    assert pager.release_due() == 1
    [digest] = receiver.pages
    assert "held during quiet hours" in digest.json["text"]


def test_5xx_and_timeouts_are_retried_until_delivered(tmp_path, receiver, monkeypatch):
    pager, sink = make_pager(tmp_path, receiver.url(""), Clock(T0), monkeypatch)
    receiver.script(Reply(503), Reply(200, delay=1.0))  # a 503, then slower than the timeout
    a = alert()
    assert pager.page(a, a.to_bytes()) == "delivered"
    deadline = time.monotonic() + 5
    while len(receiver.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the timed-out request is answered (late) by the receiver too
    assert sorted(r.status for r in receiver.requests) == [200, 200, 503]
    # which is why every attempt carries the same key: a receiver can drop the late one
    assert {r.headers["idempotency-key"] for r in receiver.requests} == {a.idempotency_key}
    assert sink.records == []
    results = {s.labels["result"]: s.value for m in pager.metrics.registry.collect()
               if m.name == "leadscore_pager_delivery_attempts" for s in m.samples
               if s.name.endswith("_total")}
    assert results == {"http_5xx": 1.0, "timeout": 1.0, "ok": 1.0}


def test_a_refused_connection_that_persists_ends_in_the_dead_letter_topic(
        tmp_path, monkeypatch):
    pager, sink = make_pager(tmp_path, f"http://127.0.0.1:{free_port()}", Clock(T0),
                             monkeypatch)
    a = alert()
    assert pager.page(a, a.to_bytes()) == "dead_lettered"
    [record] = sink.records
    assert record.reason_code == ReasonCode.DELIVERY_FAILED
    assert record.original == a.to_bytes()
    assert "connection refused after 3 attempts" in record.message
    assert pager.page(a, a.to_bytes()) == "duplicate"  # dead-lettered once, not again


def test_a_4xx_is_not_retried(tmp_path, receiver, monkeypatch):
    pager, sink = make_pager(tmp_path, receiver.url(""), Clock(T0), monkeypatch)
    receiver.script(Reply(404))
    a = alert()
    assert pager.page(a, a.to_bytes()) == "dead_lettered"
    assert len(receiver.requests) == 1
    assert "HTTP 404" in sink.records[0].message


@pytest.mark.parametrize(("old", "new", "error"), [
    ('"Europe/Berlin"', '"Europe/Berln"', "routes.1.quiet_hours.timezone: unknown time zone"),
    ("hourly_cap = 2", "hourly_cap = 0", "routes.0.hourly_cap: Input should be greater"),
    ('start = "20:00"', 'start = "8pm"', "routes.1.quiet_hours.start: expected HH:MM"),
    ('format = "slack"', 'format = "teams"', "webhooks.ana.format: Input should be 'slack'"),
    ('webhook = "ops"', 'webhook = "nope"', "names webhook 'nope', which is not defined"),
    ('url = "http://127.0.0.1:1/ana"', 'url = "ftp://x"', "webhooks.ana.url: not an http(s)"),
    ("[[routes]]", "[[routes]", "not valid TOML"),
    ("hourly_cap = 2", "hourly_cap = 2\ncolour = 1", "routes.0.colour: Extra inputs"),
])
def test_a_bad_config_is_one_line_naming_the_field(old: str, new: str, error: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    text = CONFIG.format(url="http://127.0.0.1:1")
    assert old in text
    with pytest.raises(ConfigError) as exc:
        parse(text.replace(old, new, 1))
    assert error in str(exc.value) and "\n" not in str(exc.value)


def test_a_missing_secret_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAGER_TEST_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"webhooks.ops.headers.Authorization uses "
                                          r"\$\{PAGER_TEST_TOKEN\}"):
        parse(CONFIG.format(url="http://127.0.0.1:1"))
