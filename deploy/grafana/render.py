#!/usr/bin/env python3
"""Render a Grafana dashboard's panels to one PNG from a real Prometheus, without Grafana.

A stand-in for looking at deploy/grafana/dashboards/leadscore.json where Grafana cannot be
installed. It reads the dashboard JSON and, for every panel, runs its targets' PromQL against
the Prometheus HTTP API (``/api/v1/query_range``) the way Grafana would:

* ``$__interval`` is the time range divided by the panel's width in pixels, rounded to a
  "nice" step and never below the scrape interval (Grafana's ``timeInterval``);
  ``$__rate_interval`` is ``max($__interval + scrape interval, 4 * scrape interval)``;
  ``$__range`` is the whole time range; the query step is ``$__interval``.
* ``${datasource}`` and other template variables take their saved ``current`` value
  (``All`` becomes the variable's ``allValue``, or ``.*``); ``--var name=value`` overrides.
* Targets with ``"instant": true`` are evaluated once at the end of the range (a
  ``query_range`` whose start equals its end); ``"format": "heatmap"`` turns cumulative
  ``le`` buckets into per-bucket values, as Grafana's Prometheus datasource does.

Each panel is drawn at its ``gridPos`` on Grafana's 24-column grid with its title, unit and
legend (``legendFormat``). Supported panel types: row, timeseries, stat, bargauge, heatmap;
others are drawn as a titled box saying so. One line per panel is printed with its series
count so that an empty panel is visible without opening the image.

There is deliberately no demo-data mode: what is drawn is what Prometheus answered.

    python deploy/grafana/render.py --prometheus http://127.0.0.1:9090 --out dashboard.png
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import Colormap, LinearSegmentedColormap, PowerNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

DEFAULT_DASHBOARD = Path(__file__).resolve().parent / "dashboards" / "leadscore.json"

# Geometry of the image, in pixels at DPI (Grafana: 24 columns, 30 px rows + 8 px gaps).
GRID_COLUMNS = 24
COL_PX = 80
ROW_PX = 38
GAP_PX = 8
MARGIN_PX = 12
HEADER_PX = 56
DPI = 100

# Grafana's light theme.
BG = "#f4f5f5"
PANEL_BG = "#ffffff"
BORDER = "#d8d9da"
TEXT = "#24292e"
MUTED = "#6e7378"
GRID = "#ececec"
PALETTE = ["#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9",
           "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C",
           "#6D1F62", "#584477"]
NAMED_COLORS = {"red": "#E02F44", "orange": "#FF780A", "yellow": "#F2CC0C",
                "green": "#56A64B", "blue": "#3274D9", "purple": "#A352CC",
                "dark-orange": "#E55400", "text": TEXT}

# Grafana's "continuous-*" colour modes (by value from min to max).
CONTINUOUS = {"continuous-BlYlRd": ("blue", "yellow", "red"),
              "continuous-GrYlRd": ("green", "yellow", "red"),
              "continuous-RdYlGr": ("red", "yellow", "green"),
              "continuous-BlPu": ("blue", "purple"),
              "continuous-YlRd": ("yellow", "red")}

TITLE_PT = 10
SMALL_PT = 8
NICE_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200,
              10800, 21600, 43200, 86400)


# ------------------------------------------------------------------ time and variables
@dataclass(frozen=True)
class Window:
    start: float
    end: float
    scrape: float  # seconds; Grafana's datasource "timeInterval"

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def interval(self, width_px: float) -> float:
        """Grafana's $__interval: range / max data points (the panel width), rounded."""
        raw = self.seconds / max(width_px, 1.0)
        nice = next((s for s in NICE_STEPS if s >= raw), NICE_STEPS[-1])
        return float(max(nice, self.scrape))

    def rate_interval(self, width_px: float) -> float:
        return max(self.interval(width_px) + self.scrape, 4 * self.scrape)


def duration(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


_VAR = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def template_values(dashboard: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    """Each template variable's value as Grafana would substitute it into a PromQL query."""
    values: dict[str, str] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        name = var.get("name")
        if not name:
            continue
        current = (var.get("current") or {}).get("value", "")
        chosen = current if isinstance(current, list) else [current]
        chosen = [str(c) for c in chosen if c not in (None, "")]
        if var.get("type") == "datasource":
            values[name] = chosen[0] if chosen else str(var.get("query", ""))
        elif "$__all" in chosen or (not chosen and var.get("includeAll")):
            values[name] = str(var.get("allValue") or ".*")
        elif len(chosen) == 1:
            values[name] = chosen[0]
        else:
            values[name] = "(" + "|".join(re.escape(c) for c in chosen) + ")"
    values.update(overrides)
    return values


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Replace $var, ${var}, ${var:format} and [[var]]; unknown names are left as they are."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return variables.get(name, m.group(0))

    return _VAR.sub(repl, expr)


def builtin_variables(window: Window, width_px: float) -> dict[str, str]:
    interval = window.interval(width_px)
    return {
        "__interval": duration(interval),
        "__interval_ms": str(int(interval * 1000)),
        "__rate_interval": duration(window.rate_interval(width_px)),
        "__range": duration(window.seconds),
        "__range_s": str(int(window.seconds)),
        "__range_ms": str(int(window.seconds * 1000)),
    }


# ------------------------------------------------------------------ Prometheus
class QueryError(Exception):
    pass


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    times: list[float]
    values: list[float]

    def last(self) -> float | None:
        for v in reversed(self.values):
            if not math.isnan(v):
                return v
        return None


def query_range(base_url: str, expr: str, start: float, end: float, step: float,
                timeout: float) -> list[tuple[dict[str, str], list[float], list[float]]]:
    params = urllib.parse.urlencode({"query": expr, "start": f"{start:.3f}",
                                     "end": f"{end:.3f}", "step": duration(step)})
    url = f"{base_url.rstrip('/')}/api/v1/query_range?{params}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as e:  # Prometheus answers 400/422 with a JSON error body
        try:
            body = json.loads(e.read())
        except ValueError:
            raise QueryError(f"HTTP {e.code}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise QueryError(f"cannot query {base_url}: {e}") from e
    if body.get("status") != "success":
        raise QueryError(f"{body.get('errorType', 'error')}: {body.get('error', body)}")
    data = body.get("data", {})
    if data.get("resultType") != "matrix":
        raise QueryError(f"unexpected resultType {data.get('resultType')!r}")
    out = []
    for item in data.get("result", []):
        pts = item.get("values", [])
        out.append((dict(item.get("metric", {})), [float(t) for t, _ in pts],
                    [float(v) for _, v in pts]))
    return out


def legend_name(fmt: str | None, labels: dict[str, str], expr: str) -> str:
    if fmt and fmt != "__auto":
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    if rest:
        return f"{name}{{{rest}}}"
    return name or expr


def _le(labels: dict[str, str]) -> float:
    try:
        return float(labels.get("le", "nan").replace("+Inf", "inf"))
    except ValueError:
        return math.nan


def heatmap_buckets(rows: list[tuple[dict[str, str], list[float], list[float]]]
                    ) -> list[tuple[dict[str, str], list[float], list[float]]]:
    """Cumulative ``le`` buckets -> per-bucket values (Grafana's format "heatmap")."""
    groups: dict[tuple[tuple[str, str], ...], list[Any]] = {}
    for labels, ts, vs in rows:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        groups.setdefault(key, []).append((labels, ts, vs))
    out = []
    for members in groups.values():
        members.sort(key=lambda r: _le(r[0]))
        prev: dict[float, float] = {}
        for labels, ts, vs in members:
            here = dict(zip(ts, vs, strict=True))
            out.append((labels, ts, [v - prev.get(t, 0.0) for t, v in zip(ts, vs, strict=True)]))
            prev = here
    return out


@dataclass
class PanelData:
    panel: dict[str, Any]
    series: list[Series] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    step: float = 15.0


def fetch_panel(panel: dict[str, Any], base_url: str, window: Window,
                variables: dict[str, str], timeout: float) -> PanelData:
    width_px = panel["gridPos"]["w"] * COL_PX
    vars_here = {**variables, **builtin_variables(window, width_px)}
    step = window.interval(width_px)
    data = PanelData(panel, step=step)
    for target in panel.get("targets", []):
        if target.get("hide") or not target.get("expr"):
            continue
        expr = substitute(target["expr"], vars_here)
        data.queries.append(expr)
        instant = bool(target.get("instant")) and not target.get("range", False)
        start = window.end if instant else window.start
        try:
            rows = query_range(base_url, expr, start, window.end, step, timeout)
        except QueryError as e:
            data.errors.append(f"{target.get('refId', '?')}: {e}")
            continue
        if target.get("format") == "heatmap":
            rows = heatmap_buckets(rows)
        for labels, ts, vs in rows:
            name = legend_name(target.get("legendFormat"), labels, expr)
            data.series.append(Series(name, labels, ts, vs))
    return data


# ------------------------------------------------------------------ units
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


# ------------------------------------------------------------------ drawing helpers
def flatten_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-level panels in order; a collapsed row's children stay hidden, as in Grafana."""
    return [p for p in dashboard.get("panels", []) if "gridPos" in p]


def figure_size(dashboard: dict[str, Any]) -> tuple[int, int]:
    """(width, height) of the PNG in pixels."""
    rows = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in flatten_panels(dashboard)),
               default=1)
    return (2 * MARGIN_PX + GRID_COLUMNS * COL_PX, HEADER_PX + rows * ROW_PX + MARGIN_PX)


@dataclass
class Box:
    """A rectangle in pixels from the top-left of the image."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.fig: Figure = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI,
                                      facecolor=BG)
        self._renderer = self.fig.canvas.get_renderer()  # type: ignore[attr-defined]

    def frac(self, box: Box) -> tuple[float, float, float, float]:
        return (box.left / self.w, 1 - box.bottom / self.h, box.width / self.w,
                box.height / self.h)

    def text_width(self, s: str, size: float = SMALL_PT, bold: bool = False) -> float:
        prop = FontProperties(size=size, weight="bold" if bold else "normal")
        w, _, _ = self._renderer.get_text_width_height_descent(s, prop, ismath=False)
        return float(w)

    def fit(self, s: str, width: float, size: float = SMALL_PT, bold: bool = False) -> str:
        if self.text_width(s, size, bold) <= width:
            return s
        while s and self.text_width(s + "…", size, bold) > width:
            s = s[:-1]
        return s + "…"

    def text(self, x: float, y: float, s: str, **kw: Any) -> None:
        self.fig.text(x / self.w, 1 - y / self.h, s, **kw)

    def rect(self, box: Box, **kw: Any) -> None:
        x, y, w, h = self.frac(box)
        self.fig.add_artist(Rectangle((x, y), w, h, transform=self.fig.transFigure, **kw))

    def axes(self, box: Box) -> Axes:
        ax = self.fig.add_axes(self.frac(box))
        ax.set_facecolor(PANEL_BG)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(BORDER)
        ax.tick_params(colors=MUTED, labelsize=SMALL_PT, length=3)
        return ax


def panel_box(panel: dict[str, Any]) -> Box:
    g = panel["gridPos"]
    return Box(MARGIN_PX + g["x"] * COL_PX + GAP_PX / 2, HEADER_PX + g["y"] * ROW_PX + GAP_PX / 2,
               g["w"] * COL_PX - GAP_PX, g["h"] * ROW_PX - GAP_PX)


def resolve_color(c: str) -> str:
    return NAMED_COLORS.get(c, c)


@dataclass
class Style:
    color: str
    width: float = 1.2
    dashes: tuple[float, ...] | None = None


def series_styles(panel: dict[str, Any], series: Sequence[Series]) -> list[Style]:
    """Palette colours in order, then the panel's byName overrides (colour, line width and
    dash), the override properties Grafana applies that change how a line looks."""
    custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
    props: dict[str, dict[str, Any]] = {}
    for o in panel.get("fieldConfig", {}).get("overrides", []):
        m = o.get("matcher", {})
        if m.get("id") != "byName":
            continue
        for prop in o.get("properties", []):
            props.setdefault(m.get("options"), {})[prop.get("id")] = prop.get("value")
    styles, k = [], 0
    for s in series:
        p = props.get(s.name, {})
        fixed = (p.get("color") or {}).get("fixedColor")
        if fixed:
            color = resolve_color(fixed)
        else:
            color = PALETTE[k % len(PALETTE)]
            k += 1
        width = float(p.get("custom.lineWidth", custom.get("lineWidth", 1))) * 1.2
        style = p.get("custom.lineStyle") or custom.get("lineStyle") or {}
        dashes = tuple(float(d) / 2 for d in style.get("dash", [10, 10])) \
            if style.get("fill") == "dash" else None
        styles.append(Style(color, width, dashes))
    return styles


def value_colormap(defaults: dict[str, Any]) -> Colormap:
    """The colour of a value in a bar gauge: a continuous-* mode, else the base colour."""
    mode = defaults.get("color", {}).get("mode", "")
    names = CONTINUOUS.get(mode)
    if names is None:
        fixed = defaults.get("color", {}).get("fixedColor") or PALETTE[0]
        names = (fixed, fixed)
    return LinearSegmentedColormap.from_list(mode or "fixed", [resolve_color(n) for n in names])


def threshold_color(defaults: dict[str, Any], v: float | None) -> str:
    steps = defaults.get("thresholds", {}).get("steps", [])
    color = TEXT
    for st in steps:
        if st.get("value") is None or (v is not None and v >= st["value"]):
            color = resolve_color(st.get("color", TEXT))
    return color


def with_gaps(times: list[float], values: list[float], step: float
              ) -> tuple[list[float], list[float]]:
    """Break the line where Prometheus returned no point (Grafana does not span nulls)."""
    ts: list[float] = []
    vs: list[float] = []
    for t, v in zip(times, values, strict=True):
        if ts and t - ts[-1] > 1.5 * step:
            ts.append(ts[-1] + step)
            vs.append(math.nan)
        ts.append(t)
        vs.append(v)
    return ts, vs


def to_dates(times: Iterable[float]) -> list[datetime]:
    return [datetime.fromtimestamp(t).astimezone() for t in times]


# ------------------------------------------------------------------ panels
def message(cv: Canvas, box: Box, text: str, color: str = MUTED) -> None:
    cv.text(box.left + box.width / 2, box.top + box.height / 2, text, ha="center",
            va="center", fontsize=SMALL_PT + 1, color=color, wrap=True)


LEGEND_LINE, SWATCH, LEGEND_GAP = 15.0, 12.0, 14.0


def legend_rows(cv: Canvas, width: float, names: Sequence[str], colors: Sequence[str],
                max_rows: int) -> list[list[tuple[str, str, float]]]:
    """Grafana's bottom list legend flowed left to right into at most max_rows rows."""
    rows: list[list[tuple[str, str, float]]] = [[]]
    x = 0.0
    for name, color in zip(names, colors, strict=True):
        w = SWATCH + 4 + cv.text_width(name)
        if rows[-1] and x + w > width:
            rows.append([])
            x = 0.0
        rows[-1].append((name, color, w))
        x += w + LEGEND_GAP
    if len(rows) > max_rows:
        shown = sum(len(r) for r in rows[:max_rows]) - 1
        rows = rows[:max_rows]
        rows[-1][-1] = (f"+{len(names) - shown} more", MUTED, 0.0)
    return rows


def legend_height(cv: Canvas, width: float, names: Sequence[str], max_rows: int) -> float:
    return len(legend_rows(cv, width, names, [TEXT] * len(names), max_rows)) * LEGEND_LINE


def draw_legend(cv: Canvas, box: Box, names: Sequence[str], colors: Sequence[str],
                max_rows: int) -> None:
    line_h, swatch, gap = LEGEND_LINE, SWATCH, LEGEND_GAP
    rows = legend_rows(cv, box.width, names, colors, max_rows)
    for i, row in enumerate(rows):
        x = box.left
        y = box.top + i * line_h + line_h / 2
        for name, color, w in row:
            cv.rect(Box(x, y - 1.5, swatch, 3), facecolor=color, edgecolor="none")
            cv.text(x + swatch + 4, y, name, fontsize=SMALL_PT, color=TEXT, va="center")
            x += w + gap


def time_axis(ax: Axes, window: Window) -> None:
    ax.set_xlim(to_dates([window.start, window.end]))  # type: ignore[arg-type]
    tz = datetime.now().astimezone().tzinfo
    locator = mdates.AutoDateLocator(tz=tz, minticks=4, maxticks=9)
    locator.intervald[mdates.MINUTELY] = [1, 2, 5, 10, 15, 20, 30]  # Grafana-like 2 min steps
    locator.intervald[mdates.SECONDLY] = [1, 2, 5, 10, 15, 20, 30]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        mdates.DateFormatter("%H:%M:%S" if window.seconds < 600 else "%H:%M", tz=tz))


def unit_axis(ax: Axes, unit: str | None, decimals: int | None, height: float) -> None:
    ax.yaxis.set_major_locator(MaxNLocator(nbins=max(2, int(height // 40)), min_n_ticks=2,
                                           integer=decimals == 0))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit, decimals)))
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def draw_timeseries(cv: Canvas, box: Box, data: PanelData, window: Window) -> None:
    panel = data.panel
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    custom = defaults.get("custom", {})
    unit, decimals = defaults.get("unit"), defaults.get("decimals")
    series = data.series
    styles = series_styles(panel, series)
    colors = [st.color for st in styles]
    legend_h = 0.0
    names = [s.name for s in series]
    if series and panel.get("options", {}).get("legend", {}).get("showLegend", True):
        max_rows = max(1, int((box.height - 90) // 15 // 2))
        legend_h = legend_height(cv, box.width - 20, names, max_rows)
        draw_legend(cv, Box(box.left + 10, box.bottom - legend_h - 6, box.width - 20, legend_h),
                    names, colors, max_rows)
    plot = Box(box.left + 66, box.top + 30, box.width - 80,
               box.height - 30 - 22 - legend_h - (8 if legend_h else 0))
    ax = cv.axes(plot)
    time_axis(ax, window)
    unit_axis(ax, unit, decimals, ax.get_window_extent().height)
    stacked = custom.get("stacking", {}).get("mode") == "normal"
    fill = float(custom.get("fillOpacity", 0)) / 100
    if stacked and series:
        grid = sorted({t for s in series for t in s.times})
        base = [0.0] * len(grid)
        x = to_dates(grid)
        for s, st in zip(series, styles, strict=True):
            vals = dict(zip(s.times, s.values, strict=True))
            top = [b + (0.0 if math.isnan(v := vals.get(t, math.nan)) else v)
                   for b, t in zip(base, grid, strict=True)]
            ax.fill_between(x, base, top, color=st.color, alpha=max(fill, 0.1),  # type: ignore[arg-type]
                            linewidth=0)
            ax.plot(x, top, color=st.color, linewidth=st.width)  # type: ignore[arg-type]
            base = top
    else:
        for s, st in zip(series, styles, strict=True):
            ts, vs = with_gaps(s.times, s.values, data.step)
            x = to_dates(ts)
            line, = ax.plot(x, vs, color=st.color, linewidth=st.width)  # type: ignore[arg-type]
            if st.dashes:
                line.set_dashes(st.dashes)
            if fill > 0:
                ax.fill_between(x, vs, color=st.color, alpha=fill, linewidth=0)  # type: ignore[arg-type]
    lo = defaults.get("min", 0 if custom.get("axisSoftMin") == 0 else None)
    if lo is not None:
        ax.set_ylim(bottom=lo)
    if "max" in defaults:
        ax.set_ylim(top=defaults["max"])
    if unit == "bytes":  # ticks on round binary multiples, as Grafana's bytes axis has
        y0, y1 = ax.get_ylim()
        scale = 1024.0 ** max(0, int(math.log(max(abs(y1), 1.0), 1024)))
        ticks = MaxNLocator(nbins=max(2, int(plot.height // 40)), steps=[1, 2, 2.5, 5, 10])
        ax.set_yticks([t * scale for t in ticks.tick_values(y0 / scale, y1 / scale)
                       if y0 <= t * scale <= y1])
    if not any(not math.isnan(v) for s in series for v in s.values):
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        message(cv, plot, "No data" if not data.errors else "")


def draw_stat(cv: Canvas, box: Box, data: PanelData) -> None:
    panel = data.panel
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    options = panel.get("options", {})
    unit, decimals = defaults.get("unit"), defaults.get("decimals")
    mode = options.get("textMode", "auto")
    color_mode = options.get("colorMode", "value")
    items = [(s.name, s.last()) for s in data.series] or [("", None)]
    inner = Box(box.left + 6, box.top + 28, box.width - 12, box.height - 34)
    cell_w = inner.width / len(items)
    show_name = mode in ("name", "value_and_name") or (mode == "auto" and len(items) > 1)
    show_value = mode not in ("name", "none")
    for i, (name, value) in enumerate(items):
        cell = Box(inner.left + i * cell_w, inner.top, cell_w, inner.height)
        color = TEXT if color_mode == "none" else threshold_color(defaults, value)
        if color_mode == "background" and value is not None:
            cv.rect(cell, facecolor=color, edgecolor="none")
            color = "#ffffff"
        text = format_value(value, unit, decimals) if value is not None else "No data"
        lines: list[tuple[str, float, str]] = []
        if show_name and name:
            lines.append((cv.fit(name, cell.width - 8, SMALL_PT + 1), SMALL_PT + 1, MUTED))
        if show_value:
            size = min(cell.height * 0.45, 30.0)
            while size > 9 and cv.text_width(text, size, bold=True) > cell.width - 10:
                size -= 1
            lines.append((text, size, color if value is not None else MUTED))
        if not lines:
            continue
        if len(lines) == 1:
            ys = [cell.top + cell.height / 2]
        else:
            ys = [cell.top + cell.height * 0.25, cell.top + cell.height * 0.62]
        for (s, size, col), y in zip(lines, ys, strict=True):
            cv.text(cell.left + cell.width / 2, y, s, ha="center", va="center", fontsize=size,
                    color=col, weight="bold" if size > SMALL_PT + 1 else "normal")


def draw_bargauge(cv: Canvas, box: Box, data: PanelData) -> None:
    panel = data.panel
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    unit, decimals = defaults.get("unit"), defaults.get("decimals")
    items = [(s.name, s.last()) for s in data.series]
    if not items:
        message(cv, box, "No data" if not data.errors else "")
        return
    values = [v for _, v in items if v is not None and not math.isnan(v)]
    vmin = float(defaults.get("min", min(values + [0.0])))
    vmax = float(defaults.get("max", max(values + [vmin + 1e-9])))
    span = (vmax - vmin) or 1.0
    inner = Box(box.left + 10, box.top + 30, box.width - 20, box.height - 38)
    label_w = min(max(cv.text_width(n) for n, _ in items) + 8, inner.width * 0.3)
    value_w = max(cv.text_width(format_value(v, unit, decimals)) for _, v in items) + 10
    bar_left = inner.left + label_w
    bar_w = inner.width - label_w - value_w
    row_h = inner.height / len(items)
    bar_h = max(3.0, min(row_h * 0.75, 30.0))
    cmap = value_colormap(defaults)
    for i, (name, v) in enumerate(items):
        y = inner.top + i * row_h + (row_h - bar_h) / 2
        cv.text(inner.left, y + bar_h / 2, cv.fit(name, label_w - 6), fontsize=SMALL_PT,
                color=TEXT, va="center")
        cv.rect(Box(bar_left, y, bar_w, bar_h), facecolor="#f0f0f0", edgecolor="none")
        if v is not None and not math.isnan(v):
            frac = min(max((v - vmin) / span, 0.0), 1.0)
            color = cmap(frac)
            if frac > 0:
                cv.rect(Box(bar_left, y, bar_w * frac, bar_h), facecolor=color,
                        edgecolor="none")
            cv.text(bar_left + bar_w + 6, y + bar_h / 2, format_value(v, unit, decimals),
                    fontsize=SMALL_PT, color=TEXT, va="center", weight="bold")


def draw_heatmap(cv: Canvas, box: Box, data: PanelData, window: Window) -> None:
    panel = data.panel
    options = panel.get("options", {})
    series = data.series
    y_opts = options.get("yAxis", {})
    cell_unit = options.get("cellValues", {}).get("unit")
    ax = cv.axes(Box(box.left + 66, box.top + 30, box.width - 80, box.height - 30 - 22 - 26))
    time_axis(ax, window)
    if not series:
        ax.set_yticks([])
        message(cv, box, "No data" if not data.errors else "")
        return
    grid = sorted({t for s in series for t in s.times})
    index = {t: i for i, t in enumerate(grid)}
    z = [[math.nan] * len(grid) for _ in series]
    for r, s in enumerate(series):
        for t, v in zip(s.times, s.values, strict=True):
            z[r][index[t]] = v
    step = data.step
    x_edges = to_dates([grid[0] - step / 2] + [t + step / 2 for t in grid])
    y_edges = list(range(len(series) + 1))
    finite = [v for row in z for v in row if not math.isnan(v)]
    vmax = max(finite + [1e-12])
    norm = PowerNorm(gamma=float(options.get("color", {}).get("exponent", 0.5)), vmin=0,
                     vmax=vmax)
    cmap = plt.get_cmap(options.get("color", {}).get("scheme", "Oranges"))
    mesh = ax.pcolormesh(x_edges, y_edges, z, cmap=cmap, norm=norm, shading="flat",  # type: ignore[arg-type]
                         edgecolors=PANEL_BG, linewidth=float(options.get("cellGap", 1)) * 0.3)
    ax.set_yticks([i + 0.5 for i in range(len(series))])
    ax.set_yticklabels([s.name for s in series])
    ax.yaxis.set_tick_params(labelsize=SMALL_PT - 1)
    if y_opts.get("axisLabel"):
        ax.set_ylabel(y_opts["axisLabel"], fontsize=SMALL_PT, color=MUTED, labelpad=2)
    # colour scale underneath, like Grafana's heatmap legend
    cax = cv.axes(Box(box.left + 66 + 40, box.bottom - 16, box.width - 80 - 80, 6))
    cbar = cv.fig.colorbar(mesh, cax=cax, orientation="horizontal")
    cbar.outline.set_visible(False)
    cax.set_xticks([])
    cv.text(box.left + 66 + 36, box.bottom - 13, format_value(0.0, cell_unit), ha="right",
            va="center", fontsize=SMALL_PT - 1, color=MUTED)
    cv.text(box.right - 14 - 40 + 4, box.bottom - 13, format_value(vmax, cell_unit), ha="left",
            va="center", fontsize=SMALL_PT - 1, color=MUTED)


def draw_row(cv: Canvas, panel: dict[str, Any]) -> None:
    b = panel_box(panel)
    title = panel.get("title", "")
    if panel.get("collapsed"):
        title += f"  (collapsed, {len(panel.get('panels', []))} panels)"
    cv.text(b.left, b.top + b.height / 2 + 2, title, fontsize=TITLE_PT + 2, weight="bold",
            color=TEXT, va="center")
    cv.rect(Box(b.left, b.bottom + 2, b.width, 1), facecolor=BORDER, edgecolor="none")


def draw_panel(cv: Canvas, data: PanelData, window: Window) -> None:
    panel = data.panel
    box = panel_box(panel)
    cv.rect(box, facecolor=PANEL_BG, edgecolor=BORDER, linewidth=1, zorder=-1)
    cv.text(box.left + 10, box.top + 15, cv.fit(panel.get("title", ""), box.width - 20,
                                                TITLE_PT, bold=True),
            fontsize=TITLE_PT, weight="bold", color=TEXT, va="center")
    kind = panel.get("type")
    drawers: dict[str, Callable[[], None]] = {
        "timeseries": lambda: draw_timeseries(cv, box, data, window),
        "stat": lambda: draw_stat(cv, box, data),
        "bargauge": lambda: draw_bargauge(cv, box, data),
        "heatmap": lambda: draw_heatmap(cv, box, data, window),
    }
    if kind in drawers:
        drawers[kind]()
    else:
        message(cv, box, f"panel type {kind!r} is not rendered by this stand-in")
    if data.errors:
        err = "query error: " + "; ".join(data.errors)
        cv.text(box.left + 10, box.top + 34, cv.fit(err, box.width - 20), fontsize=SMALL_PT,
                color=NAMED_COLORS["red"], va="center")


# ------------------------------------------------------------------ main
@dataclass
class Report:
    lines: list[str]
    panels: list[PanelData]
    size: tuple[int, int]


def render(dashboard: dict[str, Any], prometheus: str, out: Path, window: Window,
           variables: dict[str, str], timeout: float = 30.0) -> Report:
    panels = flatten_panels(dashboard)
    width, height = figure_size(dashboard)
    cv = Canvas(width, height)
    stamp = "%Y-%m-%d %H:%M:%S %Z"
    cv.text(MARGIN_PX, 20, dashboard.get("title", "dashboard"), fontsize=16, weight="bold",
            color=TEXT, va="center")
    cv.text(MARGIN_PX, 42,
            f"{datetime.fromtimestamp(window.start).astimezone().strftime(stamp)}  →  "
            f"{datetime.fromtimestamp(window.end).astimezone().strftime(stamp)}   ·   "
            f"Prometheus {prometheus}   ·   "
            + ", ".join(f"{k}={v}" for k, v in variables.items()),
            fontsize=SMALL_PT + 1, color=MUTED, va="center")
    cv.text(width - MARGIN_PX, 20, "stand-in render (deploy/grafana/render.py), not Grafana",
            fontsize=SMALL_PT + 1, color=MUTED, ha="right", va="center")
    lines: list[str] = []
    fetched: list[PanelData] = []
    for panel in panels:
        if panel.get("type") == "row":
            draw_row(cv, panel)
            continue
        data = fetch_panel(panel, prometheus, window, variables, timeout)
        fetched.append(data)
        draw_panel(cv, data, window)
        n = len(data.series)
        note = ""
        if data.errors:
            note = "  ERROR " + "; ".join(data.errors)
        elif n == 0:
            note = "  <- EMPTY"
        lines.append(f"panel {panel.get('id', '?'):>3} {panel.get('type', '?'):<10} "
                     f"{panel.get('title', '')!r}: {n} series{note}")
    out.parent.mkdir(parents=True, exist_ok=True)
    cv.fig.savefig(out, dpi=DPI, facecolor=BG)
    plt.close(cv.fig)
    return Report(lines, fetched, (width, height))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--prometheus", required=True,
                    help="base URL of the Prometheus HTTP API, e.g. http://127.0.0.1:9090")
    ap.add_argument("--out", type=Path, required=True, help="PNG file to write")
    ap.add_argument("--dashboard", type=Path, default=DEFAULT_DASHBOARD,
                    help=f"dashboard JSON (default: {DEFAULT_DASHBOARD.name} next to this file)")
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="time range to draw, ending now (default: 10)")
    ap.add_argument("--end", type=float, default=None,
                    help="end of the range as a Unix time (default: now)")
    ap.add_argument("--scrape-interval", type=float, default=15.0,
                    help="Prometheus scrape interval in seconds, Grafana's timeInterval "
                         "(default: 15)")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="override a template variable, e.g. --var instance=worker-1:6066")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-query timeout (s)")
    ap.add_argument("--fail-on-empty", action="store_true",
                    help="exit 1 when a panel got no series (not only on query errors)")
    args = ap.parse_args(argv)

    dashboard = json.loads(args.dashboard.read_text())
    overrides = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--var expects NAME=VALUE, got {item!r}")
        overrides[name] = value
    end = args.end if args.end is not None else time.time()
    window = Window(end - args.minutes * 60, end, args.scrape_interval)
    variables = template_values(dashboard, overrides)
    report = render(dashboard, args.prometheus, args.out, window, variables, args.timeout)
    for line in report.lines:
        print(line)
    errors = sum(1 for p in report.panels if p.errors)
    empty = sum(1 for p in report.panels if not p.series and not p.errors)
    print(f"wrote {args.out} ({report.size[0]}x{report.size[1]} px): "
          f"{len(report.panels)} panels, {empty} empty, {errors} with query errors")
    if errors or (args.fail_on_empty and empty):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
