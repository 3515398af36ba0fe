"""A Kafka outage is two log lines (lost, back), not tens of thousands; repeats are limited."""

from __future__ import annotations

import logging

from streams.worker.logs import KafkaOutage, RepeatLimit, is_connection_error


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def rec(msg: str, name: str = "aiokafka.conn", level: int = logging.ERROR,
        args: tuple = ()) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


CONNECT = "Unable connect to node with id %s: [Errno 111] Connect call failed ('127.0.0.1', %s)"


def test_recognises_the_clients_connection_errors_only() -> None:
    assert is_connection_error(rec(CONNECT, args=(1, 9092)))
    assert is_connection_error(rec("Unable to update metadata from [1]", "aiokafka.client"))
    assert not is_connection_error(rec("Unable connect to node", "streams.worker.agents"))
    assert not is_connection_error(rec("batch delivered", "aiokafka.conn"))
    assert not is_connection_error(rec(CONNECT, level=logging.DEBUG, args=(1, 9092)))


def test_an_outage_is_one_line_lost_and_one_line_back(caplog) -> None:
    clock, changes = Clock(), []
    f = KafkaOutage("127.0.0.1:9092", on_change=changes.append, clock=clock)
    passed = []
    for i in range(36_780):
        r = rec(CONNECT, args=(1, 9092)) if i % 2 else rec("Unable to update metadata from [1]",
                                                              "aiokafka.client")
        clock.t += 0.0007
        if f.filter(r):
            passed.append(r)
    assert len(passed) == 1
    lost = passed[0]
    assert lost.levelno == logging.WARNING and "Kafka unreachable at 127.0.0.1:9092" in \
        lost.getMessage()
    # The first error itself is quoted, once.
    assert "(Unable to update metadata from [1]);" in lost.getMessage()
    assert changes == [False]
    f.check(reachable=True)  # an error came less than quiet_s ago: not back yet
    assert changes == [False]
    clock.t += 5
    f.check(reachable=False)  # quiet, but no broker accepts a connection: still down
    assert changes == [False]
    with caplog.at_level(logging.WARNING, logger="leadscore.kafka"):
        f.check(reachable=True)
    assert changes == [False, True]
    back = [r.getMessage() for r in caplog.records if r.name == "leadscore.kafka"]
    assert len(back) == 1 and "reachable again" in back[0] and "36779 connection errors" in back[0]
    # A second outage is reported again.
    assert f.filter(rec(CONNECT, args=(1, 9092))) and f.outages == 2


def test_other_records_pass_untouched() -> None:
    f = KafkaOutage("b:1")
    r = rec("Worker ready", "faust.worker", logging.INFO)
    assert f.filter(r) and r.getMessage() == "Worker ready"


def test_repeats_are_limited_per_window_and_then_counted() -> None:
    clock = Clock()
    f = RepeatLimit(burst=3, window_s=60, clock=clock)
    out = []
    for _ in range(100):
        r = rec("Timer commit is overlapping (runtime=%s)", "faust", logging.WARNING, (5,))
        if f.filter(r):
            out.append(r)
        clock.t += 0.1
    assert len(out) == 3 and f.dropped_total == 97
    clock.t += 60
    r = rec("Timer commit is overlapping (runtime=%s)", "faust", logging.WARNING, (5,))
    assert f.filter(r) and "dropped 97 times" in r.getMessage()
    # another message has its own budget
    assert f.filter(rec("something else", "faust", logging.WARNING))


def test_librdkafka_goes_through_logging_and_its_connection_failures_are_recognised() -> None:
    from streams.settings import Settings
    from streams.worker.clients import producer_config

    # The worker's producer hands librdkafka's lines to this logger (not straight to stderr),
    # so the outage filter on the root handlers holds them back like aiokafka's.
    logger = producer_config(Settings())["logger"]
    assert logger.name == "kafka.librdkafka"
    line = ("FAIL [rdkafka#producer-3] [thrd:127.0.0.1:27862/bootstrap]: 127.0.0.1:27862/"
            "bootstrap: Connect to ipv4#127.0.0.1:27862 failed: Connection refused (after 0ms "
            "in state CONNECT)")
    assert is_connection_error(rec(line, logger.name))
