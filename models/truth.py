"""True probabilities recorded by a generator that knows them (`models.journey`).

The file is JSON lines: a header {"truth_format": 1, "label_days": L, ...}, then one line per
lead {"lead_id", "t": [epoch seconds...], "p": [...]}: a step function, so the true
P(converted within L days | everything hidden at time S) is p[i] for t[i] <= S < t[i+1].
A snapshot of a lead the file does not know, or taken before its first step, has no truth
(NaN): an evaluation file may mix sources, and only the rows with a truth are compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from models.errors import UsageError


@dataclass
class Truth:
    label_days: float
    header: dict[str, Any]
    steps: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    stages: dict[str, list[str]] = field(default_factory=dict)

    def lookup(self, lead_ids: list[str], lead: np.ndarray, at: np.ndarray) -> np.ndarray:
        """True probability for each row (lead index into `lead_ids`, snapshot time)."""
        out = np.full(len(at), math.nan)
        for li in np.unique(lead).tolist():
            st = self.steps.get(lead_ids[li])
            if st is None:
                continue
            rows = np.flatnonzero(lead == li)
            k = np.searchsorted(st[0], at[rows], side="right") - 1
            ok = k >= 0
            out[rows[ok]] = st[1][k[ok]]
        return out

    def stage(self, lead_ids: list[str], lead: np.ndarray, at: np.ndarray) -> list[str]:
        """The hidden stage at each row ('' where unknown), for the report's breakdown."""
        out = [""] * len(at)
        for i, (li, s) in enumerate(zip(lead.tolist(), at.tolist(), strict=True)):
            lid = lead_ids[li]
            st, names = self.steps.get(lid), self.stages.get(lid)
            if st is None or not names:
                continue
            k = int(np.searchsorted(st[0], s, side="right")) - 1
            if k >= 0:
                out[i] = names[k]
        return out


def default_path(events_path: str | Path) -> Path:
    """Where `leadscore simulate --generator journey` puts the truth for an events file."""
    return Path(f"{events_path}.truth.jsonl")


def load(path: str | Path) -> Truth:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise UsageError(f"cannot read truth file {path}: {e.strerror}") from e
    with fh:
        try:
            header = orjson.loads(fh.readline())
        except orjson.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("truth_format") != 1:
            raise UsageError(f"{path}: not a truth file (no truth_format 1 header line)")
        truth = Truth(float(header["label_days"]), header)
        for n, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            try:
                d = orjson.loads(line)
                t = np.asarray(d["t"], dtype=np.float64)
                p = np.asarray(d["p"], dtype=np.float64)
                lead = str(d["lead_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise UsageError(f"{path}:{n}: bad truth line ({e})") from e
            if len(t) != len(p) or np.any(np.diff(t) < 0):
                raise UsageError(f"{path}:{n}: steps must be as many as probabilities, "
                                 "in time order")
            truth.steps[lead] = (t, p)
            if "stage" in d:
                truth.stages[lead] = [str(s) for s in d["stage"]]
    return truth
