"""Type stub for the C extension models/_columns.c (optional; see models/columns.py)."""

from collections.abc import Sequence
from typing import Any

import numpy as np

def rows(states: Sequence[Any], ats: np.ndarray, out: np.ndarray,
         spec: tuple[Any, ...]) -> None: ...
def latest(states: Sequence[Any], ats: np.ndarray, out: np.ndarray, n_channels: int) -> None: ...
