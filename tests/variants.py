"""Other artifacts made from a trained one, for the registry and hot-swap tests: a second
real model without training a second time (the session's small model takes ~10 s)."""

from __future__ import annotations

import shutil
from pathlib import Path

import lightgbm as lgb
import numpy as np
import orjson

from models import artifact, registry
from models.calibration import Calibrator


def fewer_trees(source: Path, out: Path, trees: int) -> Path:
    """The source model cut to its first ``trees`` trees: another version with other
    probabilities, saved with its own examples (into ``out``, a registry)."""
    booster = lgb.Booster(model_str=(source / "model.txt").read_text())
    cut = lgb.Booster(model_str=booster.model_to_string(num_iteration=trees))
    man = orjson.loads((source / "manifest.json").read_bytes())
    man.pop("format", None)
    cal = Calibrator.from_dict(orjson.loads((source / "calibrator.json").read_bytes()))
    vb = None
    if (source / "value_model.txt").exists():
        vb = lgb.Booster(model_str=(source / "value_model.txt").read_text())
    folder = artifact.save(out, booster=cut, calibrator=cal, manifest=man, value_booster=vb)
    ex = orjson.loads((source / registry.EXAMPLES).read_bytes())
    X = np.array([[np.nan if v is None else v for v in r] for r in ex["rows"]], dtype=float)
    artifact.write_extra(folder, registry.EXAMPLES,
                         registry.examples(artifact.load(folder), X))
    for extra in ("reference.json", "metrics.json"):
        if (source / extra).exists():
            shutil.copy(source / extra, folder / extra)
    return folder


def copy_into(source: Path, registry_dir: Path) -> Path:
    registry_dir.mkdir(parents=True, exist_ok=True)
    dest = registry_dir / source.name
    shutil.copytree(source, dest)
    return dest
