"""The figure, addressed in pixels from the top-left as Grafana lays out a dashboard.

matplotlib thinks in figure fractions and points; the dashboard thinks in pixels on a grid.
``Canvas`` converts, measures text (to truncate titles and flow legends) and makes axes in the
light theme. The helpers every panel drawer shares live here too: the "No data" message, the
bottom legend, the time and unit axes, and gaps in a line where Prometheus had no point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .layout import DPI, Box
from .query import Window
from .theme import BG, BORDER, GRID, MUTED, PANEL_BG, SMALL_PT, TEXT
from .units import format_value


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

    def save(self, path: Path) -> None:
        """Write the PNG and free the figure (pyplot keeps every figure until closed)."""
        self.fig.savefig(path, dpi=DPI, facecolor=BG)
        plt.close(self.fig)

    def axes(self, box: Box) -> Axes:
        ax = self.fig.add_axes(self.frac(box))
        ax.set_facecolor(PANEL_BG)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(BORDER)
        ax.tick_params(colors=MUTED, labelsize=SMALL_PT, length=3)
        return ax



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
