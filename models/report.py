"""Self-contained HTML evaluation report with inline SVG plots (no plotting library).

WHY hand-drawn SVG: the report must open anywhere (CI artifact, email attachment) and the
project does not ship matplotlib; five simple charts are a few polylines and rectangles.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

W, H, PAD = 420, 280, 46


def _sx(x: float, x0: float, x1: float) -> float:
    return PAD + (x - x0) / ((x1 - x0) or 1) * (W - 2 * PAD)


def _sy(y: float, y0: float, y1: float) -> float:
    return H - PAD - (y - y0) / ((y1 - y0) or 1) * (H - 2 * PAD)


def _axes(title: str, xlabel: str, ylabel: str, x0: float, x1: float, y0: float, y1: float,
          fmt: str = "{:.2g}") -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="13" '
           f'font-weight="bold">{html.escape(title)}</text>',
           f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#333"/>',
           f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#333"/>',
           f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle">{html.escape(xlabel)}</text>',
           f'<text x="12" y="{H / 2}" text-anchor="middle" transform="rotate(-90 12 {H / 2})">'
           f'{html.escape(ylabel)}</text>']
    for k in range(5):
        xv = x0 + (x1 - x0) * k / 4
        yv = y0 + (y1 - y0) * k / 4
        out.append(f'<text x="{_sx(xv, x0, x1):.1f}" y="{H - PAD + 14}" '
                   f'text-anchor="middle">{fmt.format(xv)}</text>')
        out.append(f'<text x="{PAD - 4}" y="{_sy(yv, y0, y1) + 4:.1f}" '
                   f'text-anchor="end">{fmt.format(yv)}</text>')
        out.append(f'<line x1="{PAD}" y1="{_sy(yv, y0, y1):.1f}" x2="{W - PAD}" '
                   f'y2="{_sy(yv, y0, y1):.1f}" stroke="#eee"/>')
    return out


COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd")


def line_chart(title: str, xlabel: str, ylabel: str,
               series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
               x_range: tuple[float, float] | None = None,
               y_range: tuple[float, float] | None = None, markers: bool = False) -> str:
    xs = [x for _, pts in series for x, _ in pts] or [0.0, 1.0]
    ys = [y for _, pts in series for _, y in pts] or [0.0, 1.0]
    x0, x1 = x_range or (min(xs), max(xs))
    y0, y1 = y_range or (min(0.0, min(ys)), max(ys) * 1.05 or 1.0)
    out = _axes(title, xlabel, ylabel, x0, x1, y0, y1)
    for i, (name, pts) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        path = " ".join(f"{_sx(x, x0, x1):.1f},{_sy(y, y0, y1):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="4 3"' if name.startswith("(") else ""
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} '
                   f'points="{path}"/>')
        if markers:
            out += [f'<circle cx="{_sx(x, x0, x1):.1f}" cy="{_sy(y, y0, y1):.1f}" r="2.5" '
                    f'fill="{c}"/>' for x, y in pts]
        out.append(f'<text x="{PAD + 8}" y="{PAD + 4 + 14 * i}" fill="{c}">'
                   f'{html.escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, xlabel: str, ylabel: str, labels: Sequence[str],
              values: Sequence[float], fmt: str = "{:.3g}", horizontal: bool = False) -> str:
    vmax = max([v for v in values if v == v] or [1.0]) or 1.0
    if horizontal:
        h = max(H, 22 * len(labels) + 2 * PAD)
        left = 230
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W + 200}" height="{h}" '
               f'font-family="sans-serif" font-size="11">',
               f'<text x="{(W + 200) / 2}" y="16" text-anchor="middle" font-size="13" '
               f'font-weight="bold">{html.escape(title)}</text>']
        for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
            top = PAD + 22 * i
            wd = (v / vmax) * (W + 200 - left - 60) if v == v else 0
            out.append(f'<text x="{left - 6}" y="{top + 13}" text-anchor="end">'
                       f'{html.escape(lab)}</text>')
            out.append(f'<rect x="{left}" y="{top}" width="{wd:.1f}" height="16" '
                       f'fill="{COLORS[0]}"/>')
            out.append(f'<text x="{left + wd + 4:.1f}" y="{top + 13}">{fmt.format(v)}</text>')
        out.append(f'<text x="{left}" y="{h - 10}">{html.escape(xlabel)}</text></svg>')
        return "\n".join(out)
    out = _axes(title, xlabel, ylabel, 0, 1, 0, vmax * 1.1)
    n = max(1, len(labels))
    bw = (W - 2 * PAD) / n
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        v = v if v == v else 0.0
        x = PAD + i * bw + bw * 0.1
        y = _sy(v, 0, vmax * 1.1)
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.8:.1f}" '
                   f'height="{H - PAD - y:.1f}" fill="{COLORS[i % len(COLORS)]}"/>')
        if n <= 12:
            out.append(f'<text x="{x + bw * 0.4:.1f}" y="{y - 3:.1f}" text-anchor="middle">'
                       f'{fmt.format(v)}</text>')
            out.append(f'<text x="{x + bw * 0.4:.1f}" y="{H - PAD + 26}" '
                       f'text-anchor="middle">{html.escape(lab)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:,.0f}"
    return html.escape(str(v))


def render(m: dict[str, Any], summary: dict[str, Any] | None = None,
           title: str = "Lead scoring model evaluation") -> str:
    """The whole report from a metrics dict produced by models.evaluate."""
    rel = m["plots"]["reliability"]
    bands = m["plots"].get("reliability_bands", [])
    pts = rel + bands
    top = min(1.0, max([p for p, _, _ in pts] + [y for _, y, _ in pts] + [0.01]))
    calib = line_chart("Calibration curve", "predicted probability",
                       "observed conversion rate",
                       [("15 equal-mass bins", [(p, y) for p, y, _ in rel]),
                        ("10-point score bands (>= 5 rows)", [(p, y) for p, y, _ in bands]),
                        ("(perfect)", [(0.0, 0.0), (top, top)])],
                       (0.0, top), (0.0, top), markers=True)
    gain = line_chart("Cumulative gain", "share of leads contacted (best first)",
                      "share of conversions captured",
                      [("model", m["plots"]["gain_model"]),
                       ("rules score", m["plots"]["gain_rules"]),
                       ("(random)", [(0.0, 0.0), (1.0, 1.0)])], (0, 1), (0, 1))
    lift = line_chart("Lift", "share of leads contacted (best first)", "lift over random",
                      [("model", [(x, y / x) for x, y in m["plots"]["gain_model"] if x > 0]),
                       ("rules score", [(x, y / x) for x, y in m["plots"]["gain_rules"]
                                        if x > 0])], (0, 1))
    tiers = m["tiers"]
    tier_chart = bar_chart("Conversion rate by tier", "", "conversion rate",
                           [f"{t} ({tiers[t]['leads']})" for t in ("hot", "warm", "cold")],
                           [tiers[t]["conversion_rate"] if tiers[t]["conversion_rate"]
                            is not None else float("nan") for t in ("hot", "warm", "cold")])
    imp = m["plots"]["importance"][:20]
    imp_chart = bar_chart("Feature importance (total gain, top 20)", "gain share", "",
                          [n for n, _ in imp], [v for _, v in imp], "{:.1%}", horizontal=True)
    hist = m["plots"]["score_histogram"]
    score_chart = bar_chart("Score distribution (0-100)", "score bucket", "share of leads",
                            [lab for lab, _ in hist], [v for _, v in hist], "{:.1%}")
    rows = [("Rows (snapshots)", m["rows"]), ("Conversions", m["positives"]),
            ("Base rate", m["base_rate"]), ("AUC", m["auc"]), ("PR-AUC", m["pr_auc"]),
            ("Brier score", m["brier"]), ("Expected calibration error (15 equal-mass bins)",
                                          m["ece"]),
            ("Mean predicted probability", m["mean_probability"]),
            ("Hot/Cold conversion ratio", m["hot_cold_ratio"]),
            ("Top-20% conversion rate, model", m["top20_conversion_model"]),
            ("Top-20% conversion rate, old rules score", m["top20_conversion_rules"]),
            ("AUC of the old rules score", m["rules_auc"])]
    table = "\n".join(f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in rows)
    tier_rows = "\n".join(
        f"<tr><td>{t}</td><td>{tiers[t]['leads']}</td><td>{_fmt(tiers[t]['conversion_rate'])}"
        f"</td><td>{_fmt(tiers[t]['mean_probability'])}</td></tr>" for t in ("hot", "warm",
                                                                               "cold"))
    notes = html.escape(m.get("evaluated_on", ""))
    extra = ""
    if summary:
        extra = ("<h2>Training data</h2><pre>" + html.escape(
            _pretty(summary)) + "</pre>")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}
</title><style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}
.plots svg{{margin:8px;border:1px solid #eee}}</style></head><body>
<h1>{html.escape(title)}</h1><p>Model version {html.escape(str(m.get('model_version')))};
evaluated on: {notes}. Label: {html.escape(str(m.get('label', '')))}.</p>
<h2>Figures</h2><table>{table}</table>
<h2>Tiers</h2><p>Hot: score &ge; {m['tier_thresholds']['hot']}, Warm: &ge;
{m['tier_thresholds']['warm']}, Cold: below. Scores are calibrated probabilities x 100.</p>
<table><tr><th>tier</th><th>leads</th><th>conversion rate</th><th>mean probability</th></tr>
{tier_rows}</table>
<div class="plots">{calib}{gain}{lift}{tier_chart}{score_chart}{imp_chart}</div>
{extra}</body></html>"""


def _pretty(obj: Any) -> str:
    import orjson

    return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()
