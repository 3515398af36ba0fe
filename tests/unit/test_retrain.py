"""``leadscore retrain`` (models/retrain.py): a challenger trained and compared with the
champion on the newest snapshots, with intervals; promotable only by the stated margin."""

from __future__ import annotations

import numpy as np
import orjson

from models.retrain import MARGIN, compare
from streams.cli import main


def test_a_clearly_better_model_is_promotable_and_an_equal_one_is_not() -> None:
    rng = np.random.default_rng(0)
    n = 1500
    truth = rng.beta(1, 8, n)
    y = (rng.uniform(size=n) < truth).astype(float)
    lead = np.arange(n) // 3
    noisy = np.clip(truth + rng.normal(0, 0.15, n), 0.001, 0.999)
    better = compare(noisy, truth, y, lead)
    assert better["promotable"] and better["log_loss_improvement"]["value"] >= MARGIN
    assert better["log_loss_improvement"]["ci"][0] > 0
    assert better["challenger"]["auc"]["value"] > better["champion"]["auc"]["value"]
    lo, hi = better["champion"]["auc"]["ci"]
    assert lo <= better["champion"]["auc"]["value"] <= hi
    same = compare(truth, truth, y, lead)
    assert not same["promotable"] and same["log_loss_improvement"]["value"] == 0


def test_leadscore_retrain_writes_a_challenger_and_its_report(small_model, tmp_path,
                                                              capsys) -> None:
    from models.simulate import run as simulate

    events = tmp_path / "recent.jsonl"
    simulate(1200, 200, seed=21, out=str(events), progress=False)
    out = tmp_path / "registry"
    assert main(["retrain", "--events", str(events), "--champion", str(small_model),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    [challenger] = [p for p in out.iterdir() if p.name.startswith("leadscore-")]
    rep = orjson.loads((challenger / "retrain.json").read_bytes())
    assert rep["models"]["challenger"] == challenger.name.removeprefix("leadscore-")
    assert rep["models"]["champion"] == small_model.name.removeprefix("leadscore-")
    assert rep["rows"] >= 50 and set(rep["champion"]) == {"auc", "log_loss", "brier", "ece"}
    gain, (low, _) = rep["log_loss_improvement"]["value"], rep["log_loss_improvement"]["ci"]
    assert rep["promotable"] == (gain >= MARGIN and low > 0)
    assert ("PROMOTABLE" if rep["promotable"] else "not promotable") in printed
    assert main(["retrain", "--events", str(tmp_path / "none.jsonl"), "--champion",
                 str(small_model), "--out", str(out)]) == 2
