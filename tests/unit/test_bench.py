"""The bench's pure helpers: percentiles and the printed table (no timing is asserted)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from streams.bench.main import parse_args
from streams.bench.report import fmt_ms, fmt_rate, ratio_text, render_table
from streams.bench.scorer import CpuTrack, cpu_seconds
from streams.core.latency import histogram_quantile, parse_histogram, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 90) == 90.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(list(reversed(values)), 50) == 50.0  # order of arrival does not matter


def test_percentile_of_few_values_is_an_observed_value() -> None:
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([1.0, 2.0], 51) == 2.0
    assert math.isnan(percentile([], 50))


def test_histogram_is_read_from_an_exposition_summing_label_sets() -> None:
    text = "\n".join([
        "# HELP x_seconds help", "# TYPE x_seconds histogram",
        'x_seconds_bucket{le="0.01"} 3.0', 'x_seconds_bucket{le="+Inf"} 4.0',
        'x_seconds_bucket{job="b",le="0.01"} 1.0', 'x_seconds_bucket{job="b",le="+Inf"} 1.0',
        "x_seconds_count 5.0", 'y_seconds_bucket{le="0.01"} 9.0'])
    assert parse_histogram(text, "x_seconds") == {0.01: 4.0, math.inf: 5.0}


def test_formatting() -> None:
    assert fmt_rate(1234.4) == "1,234 events/s"
    assert fmt_ms(0.0844) == "84.4 ms"
    assert fmt_rate(math.nan) == fmt_ms(math.nan) == "n/a"
    assert ratio_text(500.0, 20_000.0).startswith("2.5% of the ceiling")
    assert "40.0x" in ratio_text(500.0, 20_000.0)
    assert ratio_text(0.0, 20_000.0) == "n/a"


def test_table_aligns_and_continues_rows() -> None:
    text = render_table([("ceiling", "1 events/s"), ("", "note"), ("scorer / ceiling", "x")])
    lines = text.splitlines()
    assert lines[0] == "ceiling           1 events/s"
    assert lines[1] == "                  note"
    assert lines[2] == "scorer / ceiling  x"


def test_bad_arguments_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--events", "0"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--events" in err


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    # 10 observations <= 0.01, 10 more <= 0.05, none above: cumulative buckets.
    buckets = [(0.01, 10.0), (0.05, 20.0), (0.1, 20.0), (math.inf, 20.0)]
    assert histogram_quantile(buckets, 0.5) == pytest.approx(0.01)
    assert histogram_quantile(buckets, 0.25) == pytest.approx(0.005)  # inside the first bucket
    assert histogram_quantile(buckets, 0.75) == pytest.approx(0.03)
    assert math.isnan(histogram_quantile([(0.01, 0.0), (math.inf, 0.0)], 0.5))
    # Everything above the last finite bound: that bound, as Prometheus answers.
    assert histogram_quantile([(0.01, 0.0), (math.inf, 5.0)], 0.99) == 0.01


def test_cpu_track_interpolates_between_samples() -> None:
    track = CpuTrack([])
    track.samples = [(100.0, 1.0), (102.0, 3.0), (104.0, 3.0)]
    assert track.at(101.0) == pytest.approx(2.0)
    assert track.at(99.0) == 1.0 and track.at(200.0) == 3.0


def test_cpu_seconds_reads_this_process() -> None:
    assert cpu_seconds(os.getpid()) > 0


def test_rates_are_a_comma_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--rate", "2000,300"]).rate == [2000.0, 300.0]
    assert parse_args([]).rate == [300.0, 2000.0]
    with pytest.raises(SystemExit):
        parse_args(["--rate", "2000,-1"])
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_sender_linger_is_a_non_negative_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args([]).sender_linger_ms == 5.0
    assert parse_args(["--sender-linger-ms", "0"]).sender_linger_ms == 0.0
    with pytest.raises(SystemExit):
        parse_args(["--sender-linger-ms", "-1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "must be >= 0" in err[0]


def test_explanation_and_drift_parts_are_measured_on_the_model(small_model: Path) -> None:
    from streams.bench.parts import Parts, measure, rows

    parts = measure(small_model, explain_rows=20, batch_rows=50, capacity=400)
    assert parts.explainer == "tables" and parts.way == "C code"  # this install built it
    assert parts.tables_us > 0 and parts.pred_contrib_us > 0 and parts.reservoir_us > 0
    assert parts.numpy_us > 0
    assert parts.psi_ms > 0 and parts.reservoir_rows == 400
    # The scan's cost spread over the events between two scans: 6 ms every 60 s at 1,000/s.
    fixed = Parts(20, 100.0, 10.0, 30.0, "tables", "C code", 0.02, 5000, 6.0, 115)
    (name1, text1), (name2, text2) = rows(fixed, 1000.0, 60.0)
    assert (name1, name2) == ("explanations", "drift")
    assert "10.0 CPU-us per explained row with the TreeSHAP tables in C code" in text1
    assert "30.0 in numpy" in text1 and "100.0 with LightGBM" in text1
    assert text1.endswith("the worker uses: tables, C code)")
    assert "0.10 CPU-us/event" in text2


def test_machine_busy_is_all_but_idle_and_iowait(tmp_path: Path) -> None:
    from streams.bench.machine import machine_busy_seconds

    hz = os.sysconf("SC_CLK_TCK")
    (tmp_path / "stat").write_text(
        f"cpu  {hz} 0 {hz} {5 * hz} {hz} 0 0 0 {7 * hz} 0\n"
        "cpu0 1 0 1 5 1 0 0 0 0 0\ncpu1 1 0 1 5 1 0 0 0 0 0\nintr 1 2 3\n")
    busy, cpus = machine_busy_seconds(tmp_path)
    assert (busy, cpus) == (2.0, 2)  # user + system; idle, iowait and guest left out
    assert math.isnan(machine_busy_seconds(tmp_path / "missing")[0])


def test_listener_pid_finds_the_process_on_a_loopback_port() -> None:
    import socket

    from streams.bench.machine import broker_pid, listener_pid

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert listener_pid(port) == os.getpid()
        assert broker_pid(f"127.0.0.1:{port}") == os.getpid()
    assert listener_pid(port) is None  # closed: nobody listens any more
    assert broker_pid(f"kafka.example.com:{port}") is None  # not this machine's


def test_share_meter_counts_this_process_within_the_machine() -> None:
    from streams.bench.machine import ShareMeter

    meter = ShareMeter(os.getpid(), None)
    meter.start()
    end = cpu_seconds(os.getpid()) + 0.3
    while cpu_seconds(os.getpid()) < end:
        pass  # burn CPU in this process: it is both "the worker" and "the bench" here
    share = meter.stop()
    # Shares of the window's wall time: how much of it this process got depends on the rest
    # of the machine, so only what holds whatever the load is asserted.
    assert share.cpus == os.cpu_count()
    assert share.worker > 0 and share.bench == pytest.approx(share.worker)
    assert share.busy >= share.worker - 0.1  # this process is part of the machine
    assert math.isnan(share.broker)
    assert "broker unknown" in share.text()


def test_share_text_names_every_part() -> None:
    from streams.bench.machine import Share

    share = Share(cpus=2, busy=1.7, worker=0.78, broker=0.6, bench=0.22)
    assert share.other == pytest.approx(0.1)
    assert share.text() == ("1.70 of 2 cores busy: worker 0.78, broker 0.60, this bench's "
                            "sender and reader 0.22, other 0.10")
