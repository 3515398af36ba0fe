"""Numbers as Grafana prints them for a panel's unit (s, bytes, percentunit, short, cps...).

Shared by the axes, stat values, bar gauge labels and heatmap scale, and pure, so the
formatting can be checked against Grafana's own strings without drawing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _trim(s: str) -> str:
    return s.rstrip("0").rstrip(".") if "." in s else s


def _num(v: float, decimals: int | None = None) -> str:
    if decimals is not None:
        return f"{v:.{decimals}f}"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return _trim(f"{v:.1f}")
    if a >= 0.001:
        return _trim(f"{v:.3g}") if a < 1 else _trim(f"{v:.2f}")
    return f"{v:.2g}"


def _scaled(v: float, factor: float, suffixes: Sequence[str], decimals: int | None) -> str:
    i = 0
    while abs(v) >= factor and i < len(suffixes) - 1:
        v /= factor
        i += 1
    return f"{_num(v, decimals)}{suffixes[i]}"


_SHORT = ("", " K", " Mil", " Bil", " Tri")
_COUNT_UNITS = {"cps", "ops", "reqps", "rps", "wps", "iops", "cpm", "opm", "rpm", "wpm"}


def _seconds(v: float, decimals: int | None) -> str:
    a = abs(v)
    if a == 0:
        return "0 s"
    for limit, div, sym in ((1e-3, 1e-6, "µs"), (1, 1e-3, "ms"), (60, 1, "s"),
                            (3600, 60, "min"), (86400, 3600, "hour")):
        if a < limit:
            return f"{_num(v / div, decimals)} {sym}"
    return f"{_num(v / 86400, decimals)} day"


def format_value(v: float | None, unit: str | None, decimals: int | None = None) -> str:
    """A value as Grafana shows it for the units this dashboard uses (others: the number)."""
    if v is None:
        return "No data"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    unit = unit or "short"
    if unit == "s":
        return _seconds(v, decimals)
    if unit == "ms":
        return _seconds(v / 1000, decimals)
    if unit == "bytes":
        return _scaled(v, 1024, (" B", " KiB", " MiB", " GiB", " TiB"), decimals)
    if unit == "percentunit":
        return f"{_num(v * 100, decimals)}%"
    if unit == "percent":
        return f"{_num(v, decimals)}%"
    if unit in _COUNT_UNITS:
        return f"{_scaled(v, 1000, _SHORT, decimals)} {unit}"
    if unit == "short":
        return _scaled(v, 1000, _SHORT, decimals)
    return _num(v, decimals)
