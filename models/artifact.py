"""Versioned model artifact: a folder whose name carries a hash of what determines scores.

Layout (all text, diffable):
  model.txt           LightGBM conversion model (raw log-odds)
  value_model.txt     LightGBM deal-value model (log deal value), absent if too few deals
  calibrator.json     isotonic knots or Platt coefficients
  manifest.json       feature names/order/sentences, feature + snapshot config, tiers,
                      value-model constants, version
  metrics.json        evaluation figures on the newest (test) snapshots
  reference.json      per-feature reference distributions (quantiles, missing share) for drift
  examples.json       feature rows and their probabilities: the smoke scoring a worker runs
                      before swapping the artifact in (models/registry.py)
  training_summary.json  what the model was trained on
  report.html         the evaluation report

WHY the hash covers only model.txt, value_model.txt, calibrator.json and manifest.json: those
fully determine every score and explanation; metrics and reports are descriptions of it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import orjson

from models.calibration import Calibrator
from models.errors import UsageError
from models.features import FeatureConfig
from models.scoring import Scorer

HASHED = ("model.txt", "value_model.txt", "calibrator.json", "manifest.json")
FORMAT = 1


def _dump(path: Path, obj: Any) -> None:
    path.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
                                  | orjson.OPT_SERIALIZE_NUMPY))


def content_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for name in HASHED:
        p = folder / name
        if p.exists():
            h.update(name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def save(out_dir: str | os.PathLike[str], *, booster: lgb.Booster, calibrator: Calibrator,
         manifest: dict[str, Any], value_booster: lgb.Booster | None = None,
         extra: dict[str, Any] | None = None) -> Path:
    """Write the artifact into `out_dir/leadscore-<hash>`; returns that folder."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {out}: {e.strerror}") from e
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    (tmp / "model.txt").write_text(booster.model_to_string(num_iteration=-1))
    if value_booster is not None:
        (tmp / "value_model.txt").write_text(value_booster.model_to_string(num_iteration=-1))
    _dump(tmp / "calibrator.json", calibrator.to_dict())
    _dump(tmp / "manifest.json", {**manifest, "format": FORMAT})
    version = content_hash(tmp)
    for name, obj in (extra or {}).items():
        if name.endswith(".json"):
            _dump(tmp / name, obj)
        else:
            (tmp / name).write_text(obj)
    _dump(tmp / "version.json", {"version": version})
    final = out / f"leadscore-{version}"
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def write_extra(folder: str | os.PathLike[str], name: str, obj: Any) -> None:
    """Add a descriptive file (metrics, report) after saving; does not change the version."""
    p = Path(folder) / name
    if name.endswith(".json"):
        _dump(p, obj)
    else:
        p.write_text(obj)


def load(folder: str | os.PathLike[str]) -> Scorer:
    path = Path(folder)
    if not (path / "model.txt").exists() or not (path / "manifest.json").exists():
        raise UsageError(f"{path} is not a model artifact (no model.txt/manifest.json)")
    man = orjson.loads((path / "manifest.json").read_bytes())
    if man.get("format") != FORMAT:
        raise UsageError(f"{path}: unsupported artifact format {man.get('format')!r}")
    version = content_hash(path)
    booster = lgb.Booster(model_str=(path / "model.txt").read_text())
    vb = None
    if (path / "value_model.txt").exists():
        vb = lgb.Booster(model_str=(path / "value_model.txt").read_text())
    cal = Calibrator.from_dict(orjson.loads((path / "calibrator.json").read_bytes()))
    cfg = FeatureConfig.from_dict(man["config"])
    if [f["name"] for f in man["features"]] != cfg.names:
        raise UsageError(f"{path}: manifest features do not match this code's feature set")
    val = man.get("value_model", {})
    return Scorer(booster, cal, cfg, value_booster=vb,
                  value_constant=float(val.get("constant", 0.0)),
                  value_smearing=float(val.get("smearing", 1.0)),
                  hot=int(man["tiers"]["hot"]), warm=int(man["tiers"]["warm"]),
                  version=version, meta=man)


def reference_distributions(X: np.ndarray, names: list[str],
                            probability: np.ndarray | None = None) -> dict[str, Any]:
    """Deciles and missing share per feature (and of the probability, as "score"), for
    population-stability checks in serving (streams/core/drift.py)."""
    qs = np.linspace(0, 1, 11)
    out: dict[str, Any] = {"quantiles": qs.tolist(), "rows": int(len(X)), "features": {}}
    if probability is not None and len(probability):
        out["score"] = {"missing": 0.0, "mean": float(np.mean(probability)),
                        "quantiles": np.quantile(probability, qs).tolist()}
    for j, n in enumerate(names):
        col = X[:, j].astype(np.float64)
        ok = ~np.isnan(col)
        out["features"][n] = {
            "missing": float(1 - ok.mean()) if len(col) else 0.0,
            "mean": float(col[ok].mean()) if ok.any() else None,
            "quantiles": np.quantile(col[ok], qs).tolist() if ok.any() else [],
        }
    return out
