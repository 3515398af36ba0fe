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

This file is the command line and the order of work (header, then fetch and draw each panel,
then save); the querying, formatting and drawing are in the ``renderer`` package beside it
(one module per job, listed in ``renderer/__init__.py``).

    python deploy/grafana/render.py --prometheus http://127.0.0.1:9090 --out dashboard.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from renderer.canvas import Canvas
from renderer.layout import MARGIN_PX, figure_size, flatten_panels
from renderer.panels import draw_panel, draw_row
from renderer.query import PanelData, Window, fetch_panel, template_values
from renderer.theme import MUTED, SMALL_PT, TEXT

DEFAULT_DASHBOARD = Path(__file__).resolve().parent / "dashboards" / "leadscore.json"


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
    cv.save(out)
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
