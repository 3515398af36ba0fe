"""The worker process does not carry scikit-learn (~75 MiB it never uses)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_worker_loads_and_scores_without_sklearn(small_model: Path) -> None:
    code = f"""
import sys
from pathlib import Path
from streams.commands.worker import lightgbm_without_sklearn
lightgbm_without_sklearn()
import lightgbm
import streams.worker.app
from streams.runtime import build_processor
from streams.settings import Settings
proc = build_processor(Settings(model_dir=Path({str(small_model)!r})), partitions=4)
import numpy as np
X = np.zeros((8, proc.scorer.n_features))
proc.scorer.contributions(X)
proc.scorer.probability_from_raw(proc.scorer.raw(X))
print("sklearn" in sys.modules, proc.scorer.explainer)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "tables"]


def test_training_in_another_process_still_has_sklearn() -> None:
    # The guard only skips scikit-learn while LightGBM is imported: a later import works.
    code = """
from streams.commands.worker import lightgbm_without_sklearn
lightgbm_without_sklearn()
from sklearn.isotonic import IsotonicRegression
print(IsotonicRegression.__name__)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "IsotonicRegression"
