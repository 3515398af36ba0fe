"""The bench's pure helpers: percentiles and the printed table (no timing is asserted)."""

from __future__ import annotations

import math

import pytest

from streams.bench.main import parse_args
from streams.bench.report import fmt_ms, fmt_rate, percentile, ratio_text, render_table


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
