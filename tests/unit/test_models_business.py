"""The business case: top-20% conversion against the old rules score, incremental revenue with
intervals from a bootstrap over leads, sales-cycle length by tier; in evaluate's output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import evaluate
from models.business import business_case, cycle_days, sales_cycle, top_weights
from models.features import DEFAULT_FEATURE_CONFIG
from models.metrics import top_fraction_rate
from models.simulate import run as simulate
from models.state import DAY


def test_top_weights_are_the_top_fraction_with_ties_shared() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(997) < 0.2).astype(float)
    for score in (rng.random(997), rng.integers(0, 4, 997) * 10.0, np.ones(997)):
        w = top_weights(score, 0.2)
        assert w.sum() == pytest.approx(0.2 * 997)
        assert ((w >= 0) & (w <= 1)).all()
        assert (w * y).sum() / w.sum() == pytest.approx(top_fraction_rate(score, y))
    assert top_weights(np.array([]), 0.2).size == 0


def case(n_leads: int, rows_per_lead: int, seed: int = 3) -> tuple[dict, float]:
    """A model that puts every converting lead first, a rules score that ranks at random;
    every converted row's deal is worth 1,000 EUR. (figures, base rate)"""
    rng = np.random.default_rng(seed)
    lead = np.repeat(np.arange(n_leads), rows_per_lead)
    converts = (rng.random(n_leads) < 0.1).astype(np.int8)
    y = np.repeat(converts, rows_per_lead)
    model = np.repeat(converts + 0.5 * rng.random(n_leads), rows_per_lead)
    rules = np.repeat(rng.random(n_leads), rows_per_lead)
    value = np.where(y == 1, 1000.0, np.nan)
    currency = ["EUR" if k else None for k in y]
    return business_case(model, rules, y, value, currency, lead), float(converts.mean())


def test_business_case_figures_and_revenue() -> None:
    bc, base = case(5000, 1)
    m, r = bc["model"]["value"], bc["rules"]["value"]
    assert m == pytest.approx(base / 0.2)  # every converter is in the model's top 20%
    assert r == pytest.approx(base, abs=0.03)  # random: about the base rate
    assert bc["lift"]["value"] == pytest.approx(m / r)
    assert bc["extra_per_1000"]["value"] == pytest.approx(1000 * (m - r))
    assert bc["deal_value"] == {"value": 1000.0, "ci": [1000.0, 1000.0], "currency": "EUR",
                                "converted_rows": round(base * 5000)}
    assert bc["revenue_per_1000"]["value"] == pytest.approx(1000 * (m - r) * 1000.0)
    for key in ("model", "rules", "lift", "extra_per_1000", "revenue_per_1000"):
        lo, hi = bc[key]["ci"]
        assert lo < bc[key]["value"] < hi


def test_rows_of_one_lead_are_resampled_together() -> None:
    """The same data as 5 rows per lead is not 5x the evidence: the interval stays about as
    wide as with one row per lead (resampling rows would shrink it by about sqrt(5))."""
    one, _ = case(3000, 1)
    five, _ = case(3000, 5)
    width = {k: bc["extra_per_1000"]["ci"][1] - bc["extra_per_1000"]["ci"][0]
             for k, bc in (("one", one), ("five", five))}
    assert five["extra_per_1000"]["value"] == pytest.approx(one["extra_per_1000"]["value"])
    assert width["five"] == pytest.approx(width["one"], rel=0.25)


def test_sales_cycle_by_tier() -> None:
    score = np.array([90, 85, 60, 55, 10, 10, 90])
    y = np.array([1, 1, 1, 0, 1, 0, 1])
    days = np.array([10.0, 20.0, 40.0, np.nan, 100.0, np.nan, 30.0])
    lead = np.array([0, 1, 2, 3, 4, 5, 6])
    sc = sales_cycle(score, y, days, lead, hot=80, warm=50)
    assert sc["hot"]["conversions"] == 3 and sc["hot"]["mean_days"]["value"] == 20.0
    assert sc["hot"]["median_days"] == 20.0 and sc["hot"]["quartiles"] == [15.0, 25.0]
    assert sc["warm"]["conversions"] == 1 and sc["warm"]["mean_days"]["value"] == 40.0
    assert sc["cold"]["mean_days"]["value"] == 100.0
    lo, hi = sc["hot"]["mean_days"]["ci"]
    assert 10.0 <= lo <= 20.0 <= hi <= 30.0
    none = sales_cycle(score[:0], y[:0], days[:0], lead[:0], 80, 50)
    assert none["hot"] == {"conversions": 0, "mean_days": {"value": None, "ci": None},
                           "median_days": None, "quartiles": None}


def test_cycle_days_from_first_touch_to_conversion() -> None:
    names = DEFAULT_FEATURE_CONFIG.names
    X = np.zeros((2, len(names)), dtype=np.float32)
    X[:, names.index("days_since_first_touch")] = [12.0, 3.0]
    at = np.array([1.8e9, 1.8e9])
    got = cycle_days(X, names, at, np.array([1.8e9 + 5 * DAY, np.nan]))
    assert got[0] == pytest.approx(17.0) and np.isnan(got[1])


def test_evaluate_prints_and_reports_the_business_case(small_model: Path,
                                                         tmp_path: Path) -> None:
    events = tmp_path / "fresh.jsonl"
    simulate(400, 150, seed=21, out=str(events), progress=False)
    m = evaluate.run(str(small_model), str(events), str(tmp_path / "eval"), progress=False)
    uni = m["populations"]["uniform"]
    bc = uni["business_case"]
    assert bc["model"]["value"] == pytest.approx(uni["top20_conversion_model"])
    assert bc["rules"]["value"] == pytest.approx(uni["top20_conversion_rules"])
    assert bc["deal_value"]["converted_rows"] > 0 and bc["deal_value"]["currency"]
    assert uni["sales_cycle"]["hot"]["conversions"] + uni["sales_cycle"]["warm"][
        "conversions"] + uni["sales_cycle"]["cold"]["conversions"] == uni["positives"]
    text = evaluate.summary_text(m)
    assert text.count("business case, top 20%: model") == 2  # both populations
    assert "incremental revenue" in text and "sales cycle (first touch -> conversion)" in text
    html = (tmp_path / "eval" / "report.html").read_text()
    assert "Business case: the top 20%" in html and "Sales cycle by tier" in html
