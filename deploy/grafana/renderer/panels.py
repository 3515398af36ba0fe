"""One drawer per Grafana panel type: timeseries, stat, bargauge, heatmap, and row headers.

Each takes a panel's fetched data and its box on the canvas and draws what Grafana would show
there (without tooltips, graph thresholds or transformations). ``draw_panel`` frames a panel,
dispatches on its type and writes query errors into it; an unknown type gets a labelled box.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.colors import PowerNorm
from matplotlib.ticker import MaxNLocator

from .canvas import (
    Canvas,
    draw_legend,
    legend_height,
    message,
    time_axis,
    to_dates,
    unit_axis,
    with_gaps,
)
from .layout import Box, panel_box
from .query import PanelData, Window
from .theme import (
    BORDER,
    MUTED,
    NAMED_COLORS,
    PANEL_BG,
    SMALL_PT,
    TEXT,
    TITLE_PT,
    series_styles,
    threshold_color,
    value_colormap,
)
from .units import format_value


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
