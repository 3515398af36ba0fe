"""What a panel shows: its PromQL with Grafana's variables substituted, run against Prometheus.

Everything that decides which query is sent and what comes back lives here, separate from how
it is drawn: ``$__interval``, ``$__rate_interval`` and ``$__range`` as Grafana computes them,
template variables, the ``/api/v1/query_range`` client and ``format: heatmap`` de-cumulation.
Only the standard library (and the grid width from ``layout``): it can be tested without
drawing anything.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .layout import COL_PX

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
