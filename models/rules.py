"""The old rules-based score, kept as the baseline the model must beat.

whitepaper download +10, pricing page visit +20, VP or above +15 (ever, not windowed: that is
how the old score worked). Computed from feature vectors through the manifest so it is
evaluated on exactly the same leads and snapshots as the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rules_score(X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    ix = {n: i for i, n in enumerate(names)}
    wp = X[:, ix["whitepaper_download_total"]] > 0
    pr = X[:, ix["pricing_view_total"]] > 0
    sen = X[:, ix["seniority"]]
    vp_plus = np.nan_to_num(sen, nan=0.0) >= 4  # SENIORITY codes: vp = 4, c_level = 5
    return 10.0 * wp + 20.0 * pr + 15.0 * vp_plus
