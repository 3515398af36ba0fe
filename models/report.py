"""Self-contained HTML evaluation report with inline SVG plots (no plotting library).

WHY hand-drawn SVG: the report must open anywhere (CI artifact, email attachment) and the
project does not ship matplotlib; the charts are polylines, rectangles and error bars.

Per population (scored at significant events / at uniform times): the issue-12 targets, a
reliability diagram by 10-point score band with the row count and 95% interval of every
band (and the band's mean true probability when the data has one), the same diagram split by
lead age and by days since the last activity, gain and lift against the old rules score,
tier conversion with intervals, the business case against the old rules score and the
sales cycle by tier (models/business.py), the score distribution, and the comparison with
the true probabilities (overall, per equal-mass bin and per hidden stage) when they are known.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

W, H, PAD = 420, 280, 46
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd")


def _sx(x: float, x0: float, x1: float, w: float = W) -> float:
    return PAD + (x - x0) / ((x1 - x0) or 1) * (w - 2 * PAD)


def _sy(y: float, y0: float, y1: float, h: float = H) -> float:
    return h - PAD - (y - y0) / ((y1 - y0) or 1) * (h - 2 * PAD)


def _axes(title: str, xlabel: str, ylabel: str, x0: float, x1: float, y0: float, y1: float,
          fmt: str = "{:.2g}", w: float = W, h: float = H, xticks: bool = True) -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="13" '
           f'font-weight="bold">{html.escape(title)}</text>',
           f'<line x1="{PAD}" y1="{h - PAD}" x2="{w - PAD}" y2="{h - PAD}" stroke="#333"/>',
           f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{h - PAD}" stroke="#333"/>',
           f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">{html.escape(xlabel)}</text>',
           f'<text x="12" y="{h / 2}" text-anchor="middle" transform="rotate(-90 12 {h / 2})">'
           f'{html.escape(ylabel)}</text>']
    for k in range(5):
        xv = x0 + (x1 - x0) * k / 4
        yv = y0 + (y1 - y0) * k / 4
        if xticks:
            out.append(f'<text x="{_sx(xv, x0, x1, w):.1f}" y="{h - PAD + 14}" '
                       f'text-anchor="middle">{fmt.format(xv)}</text>')
        out.append(f'<text x="{PAD - 4}" y="{_sy(yv, y0, y1, h) + 4:.1f}" '
                   f'text-anchor="end">{fmt.format(yv)}</text>')
        out.append(f'<line x1="{PAD}" y1="{_sy(yv, y0, y1, h):.1f}" x2="{w - PAD}" '
                   f'y2="{_sy(yv, y0, y1, h):.1f}" stroke="#eee"/>')
    return out


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


def reliability_chart(title: str, bands: Sequence[dict[str, Any]], w: float = W,
                      h: float = H) -> str:
    """Observed conversion (with its 95% interval) against the mean predicted probability
    of each score band, the band's row count written beside it; mean true probability as
    hollow squares when known; the diagonal is perfect calibration."""
    out = _axes(title, "mean predicted probability", "observed conversion", 0, 1, 0, 1,
                w=w, h=h)
    out.append(f'<line x1="{_sx(0, 0, 1, w)}" y1="{_sy(0, 0, 1, h)}" x2="{_sx(1, 0, 1, w)}" '
               f'y2="{_sy(1, 0, 1, h)}" stroke="#999" stroke-dasharray="4 3"/>')
    pts = []
    for b in bands:
        if not b.get("rows"):
            continue
        x = _sx(b["predicted"], 0, 1, w)
        y = _sy(b["observed"], 0, 1, h)
        lo, hi = b["ci"]
        out.append(f'<line x1="{x:.1f}" y1="{_sy(lo, 0, 1, h):.1f}" x2="{x:.1f}" '
                   f'y2="{_sy(hi, 0, 1, h):.1f}" stroke="{COLORS[0]}"/>')
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[0]}">'
                   f'<title>{html.escape(b["band"])}: {b["rows"]} rows, predicted '
                   f'{b["predicted"]:.3f}, observed {b["observed"]:.3f} '
                   f'[{lo:.3f}, {hi:.3f}]</title></circle>')
        out.append(f'<text x="{x + 5:.1f}" y="{y - 4:.1f}" font-size="9" fill="#555">'
                   f'{b["rows"]:,}</text>')
        pts.append(f"{x:.1f},{y:.1f}")
        if b.get("truth") is not None:
            yt = _sy(b["truth"], 0, 1, h)
            out.append(f'<rect x="{x - 3:.1f}" y="{yt - 3:.1f}" width="6" height="6" '
                       f'fill="none" stroke="{COLORS[1]}"/>')
    if pts:
        out.append(f'<polyline fill="none" stroke="{COLORS[0]}" stroke-width="1" '
                   f'points="{" ".join(pts)}"/>')
    small = w < W
    legend = "&#9679; observed &#177;95%" if small else "&#9679; observed, 95% interval, rows"
    if any(b.get("truth") is not None for b in bands):
        legend += (f' <tspan fill="{COLORS[1]}">&#9633; '
                   f'{"truth" if small else "mean true probability"}</tspan>')
    out.append(f'<text x="{PAD + 6}" y="{PAD + 4}" font-size="10">{legend}</text></svg>')
    return "\n".join(out)


def bar_chart(title: str, xlabel: str, ylabel: str, labels: Sequence[str],
              values: Sequence[float], fmt: str = "{:.3g}", horizontal: bool = False,
              intervals: Sequence[tuple[float, float] | None] | None = None) -> str:
    vals = [v for v in values if v == v]
    tops = [hi for iv in (intervals or []) if iv for hi in iv[1:] if hi == hi]
    vmax = max(vals + tops + [0.0]) or 1.0
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
    out = _axes(title, xlabel, ylabel, 0, 1, 0, vmax * 1.1, xticks=False)
    n = max(1, len(labels))
    bw = (W - 2 * PAD) / n
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        v = v if v == v else 0.0
        x = PAD + i * bw + bw * 0.1
        y = _sy(v, 0, vmax * 1.1)
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.8:.1f}" '
                   f'height="{H - PAD - y:.1f}" fill="{COLORS[i % len(COLORS)]}"/>')
        iv = intervals[i] if intervals else None
        if iv and iv[0] == iv[0]:
            cx = x + bw * 0.4
            out.append(f'<line x1="{cx:.1f}" y1="{_sy(iv[0], 0, vmax * 1.1):.1f}" '
                       f'x2="{cx:.1f}" y2="{_sy(iv[1], 0, vmax * 1.1):.1f}" stroke="#000"/>')
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
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return html.escape(str(v))
        return f"{v:.4f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return html.escape(str(v))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>"
                     for r in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _ci(ci: Sequence[float] | None) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "n/a"


def _population(name: str, pm: dict[str, Any], hot: int, warm: int) -> str:
    parts = [f"<h2>Scored {html.escape(pm.get('description', name))}</h2>"]
    parts.append(_targets_table(pm.get("targets", [])))
    tr = pm.get("truth")
    rows = [("Rows (snapshots)", pm["rows"]), ("Conversions", pm["positives"]),
            ("Base rate", pm["base_rate"]), ("Mean predicted probability",
                                            pm["mean_probability"]),
            ("AUC", pm["auc"]), ("PR-AUC", pm["pr_auc"]), ("Brier score", pm["brier"]),
            ("ECE (15 equal-mass bins)", pm["ece"]),
            ("Hot/Cold conversion ratio", pm["hot_cold_ratio"]),
            ("Top-20% conversion, model", pm["top20_conversion_model"]),
            ("Top-20% conversion, old rules score", pm["top20_conversion_rules"]),
            ("AUC of the old rules score", pm["rules_auc"])]
    parts.append("<h3>Figures</h3>" + _table(("figure", "value"), rows))
    bands = pm["bands"]
    parts.append("<h3>Score bands</h3>" + _table(
        ("band", "rows", "mean predicted", "observed", "95% interval", "mean true p",
         "95% interval of the truth"),
        [(b["band"], b["rows"], b["predicted"], b["observed"], _ci(b["ci"]), b["truth"],
          _ci(b.get("truth_ci"))) for b in bands]))
    parts.append(_business(pm))
    t = pm["tiers"]
    parts.append(f"<h3>Tiers</h3><p>Hot: score &ge; {hot}, Warm: &ge; {warm}, Cold: below. "
                 "Scores are calibrated probabilities x 100.</p>" + _table(
                     ("tier", "rows", "conversion", "95% interval", "mean predicted"),
                     [(k, t[k]["leads"], t[k]["conversion_rate"], _ci(t[k]["ci"]),
                       t[k]["mean_probability"]) for k in ("hot", "warm", "cold")]))
    charts = [reliability_chart("Reliability by score band", bands)]
    gm, gr = pm["plots"]["gain_model"], pm["plots"]["gain_rules"]
    charts.append(line_chart("Cumulative gain", "share of leads contacted (best first)",
                             "share of conversions captured",
                             [("model", gm), ("old rules score", gr),
                              ("(random)", [(0.0, 0.0), (1.0, 1.0)])], (0, 1), (0, 1)))
    charts.append(line_chart("Lift", "share of leads contacted (best first)",
                             "lift over random",
                             [("model", [(x, y / x) for x, y in gm if x > 0]),
                              ("old rules score", [(x, y / x) for x, y in gr if x > 0])],
                             (0, 1)))
    charts.append(bar_chart(
        "Conversion by tier (95% interval)", "", "conversion rate",
        [f"{k} ({t[k]['leads']:,})" for k in ("hot", "warm", "cold")],
        [t[k]["conversion_rate"] if t[k]["conversion_rate"] is not None else float("nan")
         for k in ("hot", "warm", "cold")],
        intervals=[tuple(t[k]["ci"]) if t[k]["ci"] else None for k in ("hot", "warm", "cold")]))
    hist = pm["plots"]["score_histogram"]
    charts.append(bar_chart("Score distribution (0-100)", "score band", "share of rows",
                            [lab.split("-")[0] for lab, _ in hist], [v for _, v in hist],
                            "{:.1%}"))
    parts.append('<div class="plots">' + "".join(charts) + "</div>")
    for key, what in (("by_lead_age", "lead age (days since first touch)"),
                      ("by_recency", "days since the last activity")):
        strata = pm.get(key, [])
        panels = [reliability_chart(f"{s['stratum']} ({s['rows']:,} rows)", s["bands"],
                                    w=300, h=240) for s in strata if s["rows"]]
        parts.append(f"<h3>Reliability by {html.escape(what)}</h3>" + _table(
            ("stratum", "rows", "mean predicted", "observed"),
            [(s["stratum"], s["rows"], s["predicted"], s["observed"]) for s in strata]) +
            '<div class="plots">' + "".join(panels) + "</div>")
    if tr:
        parts.append("<h3>Against the true probabilities</h3>" + _table(
            ("figure", "value"),
            [("Rows with a true probability", tr["rows"]),
             ("AUC of the true probabilities (best possible)", tr["auc_truth"]),
             ("AUC of the model on the same rows", tr["auc_model"]),
             ("ECE against the true probabilities", tr["ece_truth"]),
             ("Mean |predicted - true|", tr["mean_abs_error"]),
             ("Mean true probability", tr["mean_truth"]),
             ("Mean predicted probability", tr["mean_probability"]),
             (f"Share of rows truly Hot (true p >= {hot / 100:g})", tr["truly_hot_share"])]))
        rel = tr.get("reliability", [])
        top = max([p for p, _, _ in rel] + [t for _, t, _ in rel] + [0.01])
        parts.append('<div class="plots">' + line_chart(
            "Predicted vs true probability (15 equal-mass bins)", "mean predicted",
            "mean true probability", [("model", [(p, t) for p, t, _ in rel]),
                                      ("(perfect)", [(0.0, 0.0), (top, top)])],
            (0.0, top), (0.0, top), markers=True) + "</div>")
        if tr.get("by_hidden_stage"):
            parts.append("<h4>By the generator's hidden stage</h4>" + _table(
                ("stage", "rows", "mean predicted", "mean true p", "observed"),
                [(s["stage"], s["rows"], s["predicted"], s["truth"], s["observed"])
                 for s in tr["by_hidden_stage"]]))
    return "\n".join(parts)


def _iv(fig: dict[str, Any] | None, fmt: str = "{:.4f}") -> str:
    """A figure with its 95% interval, as text."""
    if not fig or fig.get("value") is None:
        return "n/a"
    ci = fig.get("ci")
    return fmt.format(fig["value"]) + (
        f" [{fmt.format(ci[0])}, {fmt.format(ci[1])}]" if ci else "")


def _business(pm: dict[str, Any]) -> str:
    """Sales-cycle length by tier and the business case against the old rules score
    (models/business.py)."""
    out = []
    bc = pm.get("business_case")
    if bc and bc.get("rows"):
        d = bc["deal_value"]
        cur = f" {d['currency']}" if d.get("currency") else ""
        frac = f"{bc['fraction']:.0%}"
        out.append(
            f"<h3>Business case: the top {frac}, model against the old rules score</h3>"
            f"<p>Conversion within the label window among the top {frac} of rows by each "
            "score; what the difference is worth per 1,000 leads worked from the list. 95% "
            f"intervals from a bootstrap over the {bc['leads']:,} leads (rows of one lead "
            "resampled together).</p>" + _table(("figure", "value [95% interval]"), [
                (f"Top-{frac} conversion, model", _iv(bc["model"])),
                (f"Top-{frac} conversion, old rules score", _iv(bc["rules"])),
                ("Model / old rules", _iv(bc["lift"], "{:.2f}x")),
                ("Extra conversions per 1,000 leads worked", _iv(bc["extra_per_1000"],
                                                                "{:+,.1f}")),
                (f"Mean deal value ({d['converted_rows']:,} converted rows{cur})",
                 _iv(d, "{:,.0f}")),
                ("Incremental revenue per 1,000 leads worked",
                 _iv(bc["revenue_per_1000"], "{:+,.0f}") + cur)]))
    sc = pm.get("sales_cycle")
    if sc:
        out.append("<h3>Sales cycle by tier</h3><p>Rows that converted within the label "
                   "window, by the tier of their score: days from the lead's first touch to "
                   "its conversion.</p>" + _table(
                       ("tier", "conversions", "mean days [95% interval]", "median",
                        "quartiles"),
                       [(t, sc[t]["conversions"], _iv(sc[t]["mean_days"], "{:.1f}"),
                         None if sc[t]["median_days"] is None
                         else f"{sc[t]['median_days']:.0f}",
                         "{:.0f}-{:.0f}".format(*sc[t]["quartiles"]) if sc[t]["quartiles"]
                         else None) for t in ("hot", "warm", "cold")]))
    return "\n".join(out)


def _alerts(a: dict[str, Any]) -> str:
    """A simulated week of alerts for a team of reps (computed by `leadscore evaluate`)."""
    pr, pk, n = a["per_rep_day"], a["paged_leads"], a["alerts"]
    ev = a.get("paging_every_spike_and_decline", {})
    rows = [("Week", f"{a['week']['start'][:10]} to {a['week']['end'][:10]}"),
            ("Reps (leads spread by a hash of their id)", a["reps"]),
            ("Leads scored in the week", a["leads_scored"]),
            ("Spikes and declines page from tier", a["policy"]["page_from"]),
            ("Alerts: entered Hot / spike / decline",
             f"{n['entered_tier']:,} / {n['spike']:,} / {n['decline']:,}"),
            ("Alerts per rep per day: mean / median / p90 / worst rep-day",
             f"{pr['mean']:.1f} / {pr['p50']:.0f} / {pr['p90']:.0f} / {pr['max']:.0f}"),
            (f"Worst rep-day within the budget of {pr['budget']}", pr["within_budget"]),
            ("Paging every spike and decline instead: per rep per day, mean / worst",
             f"{ev.get('mean', math.nan):.1f} / {ev.get('max', math.nan):.0f}"),
            ("Share of all scored leads converting within the label window",
             a.get("scored_leads_converting"))]
    for k, name in (("entered_tier", "entered Hot"), ("spike", "spike"),
                    ("decline", "decline"), ("any", "any page")):
        d = pk[k]
        rows.append((f"Paged leads converting within the label window: {name}",
                     f"{d['share']:.1%} of {d['leads']:,}" if d["share"] is not None
                     else "none paged"))
    return "<h2>Alerts a rep can work: a simulated week</h2>" + _table(("figure", "value"),
                                                                       rows)


def _targets_table(targets: Sequence[dict[str, Any]]) -> str:
    rows = []
    for t in targets:
        verdict = ('<b style="color:#2ca02c">met</b>' if t["met"]
                   else '<b style="color:#d62728">missed</b>')
        rows.append(f"<tr><td>{html.escape(t['target'])}</td><td>{_fmt(t['value'])}</td>"
                    f"<td>{html.escape(str(t['goal']))}</td><td>{verdict}</td></tr>")
    return ("<h3>Targets</h3><table><tr><th>target</th><th>value</th><th>goal</th><th></th>"
            "</tr>" + "\n".join(rows) + "</table>")


def render(m: dict[str, Any], summary: dict[str, Any] | None = None,
           title: str = "Lead scoring model evaluation") -> str:
    """The whole report from a metrics dict produced by models.evaluate."""
    hot, warm = m["tier_thresholds"]["hot"], m["tier_thresholds"]["warm"]
    sections = [_population(n, pm, hot, warm) for n, pm in m.get("populations", {}).items()]
    cal = m.get("calibration", {})
    sel = cal.get("selection", {})
    cal_html = ""
    if sel.get("methods"):
        cal_html = (f"<h2>Calibration</h2><p>Chosen: <b>{html.escape(str(cal.get('method')))}"
                    f"</b> ({html.escape(str(sel.get('by', '')))}), by 5-fold cross-validation"
                    " (folds by lead) on the calibration rows.</p>" + _table(
                        ("method", "CV log-loss", "CV Brier", "worst band excess"),
                        # artifacts before the whole-range check name it top_band_excess
                        [(k, v["log_loss"], v["brier"],
                          v.get("band_excess", v.get("top_band_excess")))
                         for k, v in sel["methods"].items()]))
    alerts_html = _alerts(m["alerts"]) if m.get("alerts") else ""
    imp = m.get("plots", {}).get("importance", [])[:20]
    imp_chart = bar_chart("Feature importance (total gain, top 20)", "gain share", "",
                          [n for n, _ in imp], [v for _, v in imp], "{:.1%}", horizontal=True)
    extra = ""
    if summary:
        extra = "<h2>Data</h2><pre>" + html.escape(_pretty(summary)) + "</pre>"
    truth = m.get("truth_file")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}
</title><style>body{{font-family:sans-serif;max-width:1250px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:6px 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}
.plots svg{{margin:8px;border:1px solid #eee}}</style></head><body>
<h1>{html.escape(title)}</h1><p>Model version {html.escape(str(m.get('model_version')))};
evaluated on: {html.escape(m.get('evaluated_on', ''))}. Label:
{html.escape(str(m.get('label', '')))}.{' True probabilities: ' + html.escape(truth) + '.'
                                         if truth else ''}</p>
{''.join(sections)}
{alerts_html}
{cal_html}
<h2>Features</h2><div class="plots">{imp_chart}</div>
{extra}</body></html>"""


def _pretty(obj: Any) -> str:
    import orjson

    return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()
