"""The Grafana dashboard, its provisioning files and the stand-in renderer (deploy/grafana).

No broker needed: metric names are checked against a fresh ``streams.worker.metrics.Metrics()``
exposition, and the renderer runs against a fake ``/api/v1/query_range`` (fake_prometheus).
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from streams.local import prometheus as localprometheus
from streams.worker.metrics import ConsumerCollector, Metrics
from tests.deploy.fake_prometheus import FakePrometheus

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "leadscore.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "leadscore.yml"
RENDER = GRAFANA / "render.py"
END = 1_800_000_000.0  # a fixed "now" for the renders, so queries are deterministic


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def renderer_module(name: str) -> ModuleType:
    """deploy/grafana/renderer.<name>, found the way render.py finds it when run as a script
    (its own folder first on sys.path); the folder is taken off again once imported."""
    sys.path.insert(0, str(GRAFANA))
    try:
        return importlib.import_module(f"renderer.{name}")
    finally:
        sys.path.remove(str(GRAFANA))


@pytest.fixture(scope="module")
def query() -> ModuleType:
    return renderer_module("query")


@pytest.fixture(scope="module")
def layout() -> ModuleType:
    return renderer_module("layout")


@pytest.fixture(scope="module")
def units() -> ModuleType:
    return renderer_module("units")


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))  # a collapsed row keeps its children inside
    return out


def data_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in all_panels(dashboard) if p["type"] != "row"]


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in data_panels(dashboard) for t in p["targets"]]


# ------------------------------------------------------------------ the JSON itself
def test_dashboard_is_valid_json_grafana_can_load(dashboard: dict[str, Any]) -> None:
    assert dashboard["title"] and dashboard["uid"] == "leadscore-workers"
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["id"] is None  # an id from another Grafana would clash on import
    assert isinstance(dashboard["panels"], list) and dashboard["panels"]
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert len(names) == len(set(names))
    assert {p["type"] for p in all_panels(dashboard)} <= {
        "row", "timeseries", "stat", "bargauge", "heatmap"}


def test_panels_have_unique_ids_datasources_and_targets(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in all_panels(dashboard)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    allowed = ({"type": "prometheus", "uid": "${datasource}"},
               {"type": "prometheus", "uid": "prometheus"})
    for p in data_panels(dashboard):
        assert p.get("title"), p["id"]
        assert p.get("datasource") in allowed, p["title"]
        assert p["targets"], f"{p['title']}: no targets"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t.get("datasource") in allowed, p["title"]
            assert t["expr"].strip(), p["title"]


def test_panels_fit_the_24_column_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    boxes = []
    for p in dashboard["panels"]:  # what is laid out (a collapsed row's children are not)
        g = p["gridPos"]
        assert g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0, p["title"]
        assert g["x"] + g["w"] <= 24, f"{p['title']} runs past column 24"
        boxes.append((p["title"], g))
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        overlap = (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                   and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])
        assert not overlap, f"{ta!r} overlaps {tb!r}"


# ------------------------------------------------------------- PromQL vs streams/worker/metrics.py
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords, labels removed)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (matcher values)
    s = re.sub(r"\{[^}]*\}", "", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)  # range selectors
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        rest = s[m.end():].lstrip()
        if rest.startswith("(") or m.group(0) in _KEYWORDS:
            continue  # a function call or a keyword
        names.add(m.group(0))
    return names


def exposition_names() -> set[str]:
    """Series names a worker exposes: a fresh Metrics() plus the lag collector, and `up`."""
    m = Metrics()
    m.registry.register(ConsumerCollector(lambda: []))
    names = {"up"}  # added by Prometheus to every scrape
    suffixes = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
    for line in m.exposition().decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            names.update(name + s for s in suffixes.get(kind, ()))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_metric_name_extraction() -> None:
    e = ('histogram_quantile(0.95, sum by (le) (rate(leadscore_event_to_score_seconds_bucket'
         '{job="leadscore", instance=~"$instance"}[$__rate_interval])))')
    assert metric_names(e) == {"leadscore_event_to_score_seconds_bucket"}
    assert metric_names("(sum(rate(a_total[1m])) or vector(0)) / sum(rate(b_total[1m]))") == {
        "a_total", "b_total"}
    assert metric_names("time() - max by (source) (x{s=\"a b\"})") == {"x"}


def test_every_metric_in_the_dashboard_is_exposed_by_a_worker(
        dashboard: dict[str, Any]) -> None:
    exposed = exposition_names()
    used = set().union(*(metric_names(e) for e in exprs(dashboard)))
    assert used, "no metric names found in the dashboard"
    missing = sorted(used - exposed)
    assert not missing, f"not in streams.worker.metrics exposition: {missing}"
    # and the dashboard covers what the brief asks for
    for name in ("leadscore_events_consumed_total", "leadscore_event_to_score_seconds_bucket",
                 "leadscore_batch_processing_seconds_bucket", "leadscore_score_points_bucket",
                 "leadscore_leads", "leadscore_score_changes_total", "leadscore_alerts_total",
                 "leadscore_events_invalid_total", "leadscore_consumer_lag_messages",
                 "leadscore_last_event_timestamp_seconds", "up", "leadscore_ready",
                 "leadscore_model_info", "process_resident_memory_bytes"):
        assert name in used, f"no panel shows {name}"


def metric_labels() -> dict[str, set[str]]:
    m = Metrics()
    m.record_model("v1", 0.1)  # Info's labels exist only once set
    m.registry.register(ConsumerCollector(lambda: [("events.website", 0, 1)]))
    labels: dict[str, set[str]] = {}
    for fam in m.registry.collect():
        for s in fam.samples:
            labels.setdefault(s.name, set()).update(s.labels)
    for attr in vars(m).values():  # labelled metrics without children have no samples yet
        names = getattr(attr, "_labelnames", None)
        if names:
            for s in attr.describe()[0].samples or ():
                labels.setdefault(s.name, set()).update(names)
            base = attr._name
            for suffix in ("", "_total", "_bucket", "_sum", "_count"):
                labels.setdefault(base + suffix, set()).update(names)
    for k in labels:
        labels[k] |= {"instance", "job"}  # target labels Prometheus adds
        if k.endswith("_bucket"):
            labels[k].add("le")
    labels["up"] = {"instance", "job"}
    return labels


def test_grouping_and_legend_labels_exist(dashboard: dict[str, Any]) -> None:
    known = metric_labels()
    for p in data_panels(dashboard):
        for t in p["targets"]:
            expr = t["expr"]
            have = set().union(*(known.get(n, set()) for n in metric_names(expr)))
            grouped: set[str] = set()
            for m in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
                labels = {x.strip() for x in m.group(1).split(",") if x.strip()}
                assert labels <= have, f"{p['title']}: grouping by unknown {labels - have}"
                grouped |= labels
            legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")))
            # an aggregation keeps only its grouping labels; histogram_quantile drops le
            aggregated = re.search(r"\b(sum|max|min|count|avg)\b\s*(by\s*\([^)]*\)\s*)?\(",
                                   expr) is not None
            allowed = grouped if aggregated else grouped | have
            if "histogram_quantile" in expr:
                allowed = allowed - {"le"}
            assert legend <= allowed, f"{p['title']}: legend uses {legend - allowed}"


def test_counters_are_rated_and_histograms_summed_by_le(dashboard: dict[str, Any]) -> None:
    for e in exprs(dashboard):
        for name in metric_names(e):
            if name.endswith(("_total", "_bucket", "_sum", "_count")):
                assert re.search(r"\b(rate|increase)\(\s*" + name + r"\b", e), (
                    f"counter {name} used without rate()/increase(): {e}")
        if "histogram_quantile" in e:
            assert re.search(r"histogram_quantile\([\d.]+, sum by \(le\) \(rate\(", e), e


def test_queries_parse_in_prometheus(tmp_path: Path, query: ModuleType, layout: ModuleType,
                                     dashboard: dict[str, Any]) -> None:
    """Prometheus's own parser, through `promtool check rules` on the substituted queries."""
    window = query.Window(END - 3600, END, 15.0)
    variables = query.template_values(dashboard, {})
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for p in data_panels(dashboard):
        built = query.builtin_variables(window, p["gridPos"]["w"] * layout.COL_PX)
        for t in p["targets"]:
            lines.append(f"      - record: panel{p['id']}_{t['refId']}")
            lines.append("        expr: " + json.dumps(query.substitute(t["expr"],
                                                                       {**variables, **built})))
    rules = tmp_path / "rules.yml"
    rules.write_text("\n".join(lines) + "\n")
    # Debian's promtool, fetched by the project (streams.local.prometheus), never skipped.
    promtool = str(localprometheus.fetch().promtool)
    proc = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------ provisioning
def yaml_values(path: Path) -> dict[str, list[str]]:
    """key -> values of the `key: value` lines of a simple YAML file (comments dropped).
    Enough for provisioning files; the project does not depend on a YAML parser."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.split(" #")[0] if not line.lstrip().startswith("#") else ""
        m = re.match(r"\s*(?:-\s+)?([A-Za-z_]+):\s*(\S.*)?$", line)
        if m and m.group(2):
            out.setdefault(m.group(1), []).append(m.group(2).strip().strip("\"'"))
    return out


def test_datasource_provisioning_matches_the_dashboard(dashboard: dict[str, Any]) -> None:
    ds = yaml_values(DATASOURCES)
    assert ds["apiVersion"] == ["1"]
    assert ds["type"] == ["prometheus"]
    assert ds["url"] == ["http://prometheus:9090"]
    (uid,) = ds["uid"]
    var = next(v for v in dashboard["templating"]["list"] if v["type"] == "datasource")
    assert var["query"] == "prometheus"
    assert var["current"]["value"] == uid, "the datasource variable defaults to another uid"
    for p in data_panels(dashboard):
        for ref in [p["datasource"]] + [t["datasource"] for t in p["targets"]]:
            assert ref["uid"] in (f"${{{var['name']}}}", uid), p["title"]


def test_dashboard_provisioning_points_at_the_mounted_folder() -> None:
    prov = yaml_values(PROVIDERS)
    assert prov["apiVersion"] == ["1"]
    assert prov["type"] == ["file"]
    assert prov["path"] == ["/var/lib/grafana/dashboards"]
    text = PROVIDERS.read_text()
    # the comment tells docker-compose what to mount there
    assert "deploy/grafana/dashboards:/var/lib/grafana/dashboards" in text
    assert DASHBOARD.parent.name == "dashboards" and DASHBOARD.exists()


# ------------------------------------------------------------------ renderer internals
def test_variables_are_substituted_like_grafana(query: ModuleType, layout: ModuleType,
                                                dashboard: dict[str, Any]) -> None:
    window = query.Window(END - 600, END, 15.0)
    built = query.builtin_variables(window, 12 * layout.COL_PX)
    assert built["__interval"] == "15s"  # 600 s / 960 px < scrape interval
    assert built["__rate_interval"] == "60s"  # max(15 + 15, 4 * 15)
    assert built["__range"] == "600s"
    hour = query.Window(END - 86400, END, 15.0)
    assert query.builtin_variables(hour, 960)["__interval"] == "120s"
    values = query.template_values(dashboard, {})
    assert values == {"datasource": "prometheus", "instance": ".*"}
    e = 'rate(x{instance=~"$instance", ds="${datasource}"}[$__rate_interval])[$__range]'
    assert query.substitute(e, {**values, **built}) == (
        'rate(x{instance=~".*", ds="prometheus"}[60s])[600s]')
    two = {"templating": {"list": [{"type": "query", "name": "instance",
                                    "current": {"value": ["a:1", "b:2"]}}]}}
    assert query.template_values(two, {}) == {"instance": "(a:1|b:2)"}
    assert query.template_values(two, {"instance": "c:3"}) == {"instance": "c:3"}


def test_heatmap_format_decumulates_buckets(query: ModuleType) -> None:
    rows = [({"le": "+Inf"}, [1.0, 2.0], [10.0, 12.0]),
            ({"le": "10"}, [1.0, 2.0], [3.0, 4.0]),
            ({"le": "20"}, [1.0, 2.0], [7.0, 9.0])]
    out = query.heatmap_buckets(rows)
    assert [(r[0]["le"], r[2]) for r in out] == [
        ("10", [3.0, 4.0]), ("20", [4.0, 5.0]), ("+Inf", [3.0, 3.0])]


def test_units_and_legends(units: ModuleType, query: ModuleType) -> None:
    f = units.format_value
    assert f(0.25, "s") == "250 ms" and f(2.5, "s") == "2.5 s" and f(90, "s") == "1.5 min"
    assert f(0.0213, "percentunit") == "2.13%"
    assert f(190e6, "bytes") == "181 MiB"
    assert f(1500, "cps") == "1.5 K cps" and f(12.0, "short") == "12"
    assert f(None, "s") == "No data"
    assert query.legend_name("{{topic}}[{{partition}}]", {"topic": "t", "partition": "3"},
                             "") == "t[3]"
    assert query.legend_name("", {"__name__": "up", "instance": "w:1"}, "") == 'up{instance="w:1"}'


# ------------------------------------------------------------------ rendering
def png_size(path: Path) -> tuple[int, int]:
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def run_render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RENDER), *args], capture_output=True,
                          text=True, timeout=240, cwd=ROOT)


def test_renderer_queries_every_panel_and_writes_the_png(
        tmp_path: Path, query: ModuleType, layout: ModuleType,
        dashboard: dict[str, Any]) -> None:
    out = tmp_path / "dashboard.png"
    with FakePrometheus() as prom:
        proc = run_render("--prometheus", prom.url, "--out", str(out), "--minutes", "10",
                          "--end", str(END))
        queries = prom.queries
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert png_size(out) == layout.figure_size(dashboard)
    w, h = layout.figure_size(dashboard)
    assert w == 2 * layout.MARGIN_PX + 24 * layout.COL_PX and h > 2000

    # one printed line per data panel, each with its series count, none empty
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("panel ")]
    panels = data_panels(dashboard)
    assert len(lines) == len(panels)
    for p, line in zip(panels, lines, strict=True):
        m = re.search(r"panel\s+(\d+) .*'(.*)': (\d+) series", line)
        assert m, line
        assert int(m.group(1)) == p["id"] and m.group(2) == p["title"]
        assert int(m.group(3)) > 0 and "EMPTY" not in line and "ERROR" not in line, line
    assert f"({w}x{h} px): {len(panels)} panels, 0 empty, 0 with query errors" in proc.stdout

    # every target was sent, once, with every variable substituted
    targets = [t for p in panels for t in p["targets"]]
    assert len(queries) == len(targets)
    assert not [q for q in queries if "$" in q]
    window = query.Window(END - 600, END, 15.0)
    variables = query.template_values(dashboard, {})
    for p in panels:
        built = query.builtin_variables(window, p["gridPos"]["w"] * layout.COL_PX)
        for t in p["targets"]:
            expected = query.substitute(t["expr"], {**variables, **built})
            assert expected in queries, f"{p['title']}: {expected}"
    assert any('instance=~".*"' in q and "[60s]" in q for q in queries)
    assert any("increase(leadscore_score_points_bucket" in q and "[600s]" in q
               for q in queries)


def test_renderer_reports_an_unreachable_prometheus(tmp_path: Path,
                                                    dashboard: dict[str, Any]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    small = dict(dashboard, panels=[p for p in dashboard["panels"] if p["gridPos"]["y"] < 5])
    path = tmp_path / "small.json"
    path.write_text(json.dumps(small))
    out = tmp_path / "down.png"
    proc = run_render("--prometheus", f"http://127.0.0.1:{port}", "--out", str(out),
                      "--dashboard", str(path), "--timeout", "5")
    assert proc.returncode == 1
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("panel ")]
    assert lines and all("0 series  ERROR" in ln for ln in lines), proc.stdout
    assert out.exists()  # the image still shows which panels failed
