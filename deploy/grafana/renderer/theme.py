"""Grafana's light theme, and how a series or a value gets its colour.

The palette, named colours and ``continuous-*`` colour schemes Grafana uses, plus the rules
that pick from them: palette order with byName overrides for lines, thresholds for stat
values, a colour scale for bar gauges. One place so every panel type agrees on colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.colors import Colormap, LinearSegmentedColormap

from .query import Series

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
