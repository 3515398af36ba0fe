"""The delivery guarantees again, with Faust's own consumer fetching the scorer's records
(``LEADSCORE_HOT_FETCH=faust``, streams/worker/fetch.py; every other broker test runs with
the default, a librdkafka consumer: streams/worker/hotfetch.py): parity with replay, two
workers sharing and handing over partitions, kill -9 and SIGTERM under load, a broker
outage, event-time order, bad records dead-lettered. The tests are the same functions as in
their own modules; only the worker's environment differs (each worker copies this process's
environment)."""

from __future__ import annotations

import pytest

from tests.integration import test_delivery, test_order, test_outage, test_sigterm
from tests.integration import test_worker_roundtrip as roundtrip
from tests.integration.test_delivery import history  # noqa: F401 - the tests' fixture
from tests.integration.test_order import sixty_days  # noqa: F401 - the test's fixture


@pytest.fixture(autouse=True)
def faust_fetches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_HOT_FETCH", "faust")


test_faust_fetch_end_state_equals_replay = test_delivery.test_kafka_end_state_equals_replay
test_faust_fetch_two_workers_share_and_hand_over = (
    test_delivery.test_two_workers_share_partitions_and_a_leaving_one_loses_nothing)
test_faust_fetch_kill_9_under_load = (
    test_delivery.test_kill_9_under_load_then_restart_equals_replay_and_keeps_every_alert)
test_faust_fetch_sigterm_under_load = (
    test_sigterm.test_sigterm_under_load_loses_nothing_and_publishes_nothing_twice)
test_faust_fetch_broker_outage = (
    test_outage.test_broker_down_15_s_under_load_loses_nothing_needs_no_restart_and_logs_a_few_lines)
test_faust_fetch_event_time_order = (
    test_order.test_bootstrap_from_history_loaded_topic_by_topic_then_live_traffic_equals_replay)
test_faust_fetch_scored_and_dead_lettered = (
    roundtrip.test_events_are_scored_and_bad_records_dead_lettered)
