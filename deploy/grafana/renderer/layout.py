"""Where a panel goes in the image: Grafana's 24-column grid translated to pixels.

Kept apart from the drawing code (and free of matplotlib) because the query side needs the
panel width too: Grafana's ``$__interval`` is the time range divided by that width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Geometry of the image, in pixels at DPI (Grafana: 24 columns, 30 px rows + 8 px gaps).
GRID_COLUMNS = 24
COL_PX = 80
ROW_PX = 38
GAP_PX = 8
MARGIN_PX = 12
HEADER_PX = 56
DPI = 100


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


def panel_box(panel: dict[str, Any]) -> Box:
    g = panel["gridPos"]
    return Box(MARGIN_PX + g["x"] * COL_PX + GAP_PX / 2, HEADER_PX + g["y"] * ROW_PX + GAP_PX / 2,
               g["w"] * COL_PX - GAP_PX, g["h"] * ROW_PX - GAP_PX)
