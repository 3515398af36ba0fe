"""A folder of model artifacts (a registry), which of them is the champion, and the checks an
artifact passes before it may score live traffic.

Layout: ``REGISTRY/leadscore-<version>/`` (what ``leadscore train --out REGISTRY`` writes) and,
once anything was promoted, ``REGISTRY/champion.json``: ``{"version", "previous",
"promoted_at"}``. Without the pointer the champion is the newest artifact (the behaviour before
the registry existed, so ``leadscore train`` into the folder is still enough to roll a model
out). Every worker watching the same folder reads the same pointer, so a group converges on
one version; rollback is a promotion of ``previous``.

WHY these checks (:func:`validate`), each cheap next to what a wrong model costs:

- the content hash must equal the version the artifact claims (its ``version.json`` and folder
  name): a half-copied or hand-edited artifact never scores under a version it is not;
- the manifest's features must be the ones this serving code computes (``artifact.load``), and
  its state configuration (half-lives, lateness) the one the lead records were folded with:
  another one would need the tables rebuilt, not a swap;
- a smoke scoring: ``examples.json`` holds feature rows and the probabilities the trainer
  computed for them; the loaded artifact must reproduce them (1e-9). That catches a LightGBM
  that reads the model differently, a calibrator that does not load, a truncated file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from models import artifact
from models.errors import UsageError
from models.scoring import Scorer

POINTER = "champion.json"
EXAMPLES = "examples.json"
PREFIX = "leadscore-"
SMOKE_TOLERANCE = 1e-9


class Refused(Exception):
    """The artifact must not score: ``reason`` is a short code (metrics), the message a
    sentence (the log line)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Pointer:
    version: str
    previous: str | None
    promoted_at: str | None
    challenger: str | None = None  # scored in shadow beside the champion


def is_artifact(path: Path) -> bool:
    return (path / "model.txt").exists()


def artifacts(registry: Path) -> list[Path]:
    """The artifact folders of a registry (not those being written: ``.partial-*``)."""
    if not registry.is_dir():
        return []
    return sorted(p for p in registry.iterdir()
                  if not p.name.startswith(".") and p.is_dir() and is_artifact(p))


def read_pointer(registry: Path) -> Pointer | None:
    p = registry / POINTER
    try:
        doc = orjson.loads(p.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as e:
        raise UsageError(f"{p}: not a champion pointer ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), str):
        raise UsageError(f"{p}: not a champion pointer (no \"version\")")
    ch = doc.get("challenger")
    return Pointer(normalise(doc["version"]), doc.get("previous"), doc.get("promoted_at"),
                   normalise(ch) if isinstance(ch, str) and ch else None)


def normalise(version: str) -> str:
    """``leadscore-abc`` or ``abc`` -> ``abc``."""
    v = version.strip().rstrip("/")
    v = Path(v).name
    return v[len(PREFIX):] if v.startswith(PREFIX) else v


def find(registry: Path, version: str) -> Path:
    """The artifact folder of ``version`` in the registry."""
    v = normalise(version)
    direct = registry / f"{PREFIX}{v}"
    if is_artifact(direct):
        return direct
    for p in artifacts(registry):
        if claimed_version(p) == v:
            return p
    known = ", ".join(claimed_version(p) or p.name for p in artifacts(registry)) or "none"
    raise UsageError(f"no artifact of version {v} in {registry} (there: {known})")


def claimed_version(path: Path) -> str | None:
    try:
        return str(orjson.loads((path / "version.json").read_bytes())["version"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


def champion_dir(path: Path) -> Path:
    """What scores: ``path`` itself when it is an artifact; in a registry the pointer's
    version, else the newest artifact (by its model file's time, then name)."""
    if is_artifact(path) or not path.is_dir():
        return path
    pointer = read_pointer(path)
    if pointer is not None:
        return find(path, pointer.version)
    found = artifacts(path)
    if not found:
        return path  # artifact.load() explains what is missing
    return max(found, key=lambda p: ((p / "model.txt").stat().st_mtime, p.name))


def fingerprint(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and times of an artifact's files: a copy still being written changes it,
    so a refusal is remembered per fingerprint and a finished copy is checked again."""
    try:
        return tuple(sorted((p.name, st.st_size, st.st_mtime_ns)
                            for p in path.iterdir() if p.is_file() for st in [p.stat()]))
    except OSError:
        return ()


def validate(path: Path, current: Scorer | None = None) -> Scorer:
    """Load ``path`` and run the checks (module docstring); :class:`Refused` when one fails.
    ``current``: the model scoring now, whose state configuration the new one must share."""
    # The hash first: LightGBM aborts the process (not an exception) on some malformed model
    # files, so nothing is parsed before its bytes are known to be the ones it was saved with.
    claimed, actual = claimed_version(path), artifact.content_hash(path)
    if claimed != actual:
        raise Refused("hash", f"{path}: content hash {actual} differs from the version it "
                      f"claims ({claimed})")
    try:
        scorer = artifact.load(path)
    except UsageError as e:
        raise Refused("load", str(e)) from e
    except Exception as e:  # LightGBM or the calibrator could not read a file
        raise Refused("load", f"{path}: cannot load: {e}") from e
    if path.name.startswith(PREFIX) and normalise(path.name) != scorer.version:
        raise Refused("hash", f"{path}: content hash {scorer.version} differs from its "
                      "folder name")
    if current is not None and scorer.config.state_config != current.config.state_config:
        raise Refused("state_config", f"{path}: state configuration "
                      f"{scorer.config.state_config} differs from the serving model's "
                      f"{current.config.state_config}; the tables would need a rebuild")
    smoke(path, scorer)
    return scorer


def smoke(path: Path, scorer: Scorer) -> None:
    try:
        ex = orjson.loads((path / EXAMPLES).read_bytes())
    except FileNotFoundError as e:
        raise Refused("no_examples", f"{path}: no {EXAMPLES} to smoke-score (trained before "
                      "examples were stored: retrain it)") from e
    except orjson.JSONDecodeError as e:
        raise Refused("examples", f"{path}: {EXAMPLES} is not JSON ({e})") from e
    names = scorer.config.names
    if ex.get("features") != names:
        raise Refused("features", f"{path}: the examples' features are not the ones this "
                      "serving code computes")
    X = np.array([[np.nan if v is None else v for v in row] for row in ex["rows"]],
                 dtype=np.float64).reshape(-1, len(names))
    expected = np.asarray(ex["probability"], dtype=np.float64)
    if len(X) == 0 or len(expected) != len(X):
        raise Refused("examples", f"{path}: {EXAMPLES} holds no usable rows")
    scorer.prepare_explanations(X)  # off the event loop, like the rest of validate
    got = scorer.probability_from_raw(scorer.raw(X))
    worst = float(np.max(np.abs(got - expected)))
    if not worst <= SMOKE_TOLERANCE:
        raise Refused("smoke", f"{path}: smoke scoring differs from the trainer's by {worst:.3g} "
                      f"on {len(X)} example rows")


def examples(scorer: Scorer, X: np.ndarray, n: int = 64) -> dict[str, Any]:
    """Up to ``n`` rows spread over ``X`` with the probabilities ``scorer`` gives them: stored
    at training time for :func:`smoke`."""
    idx = np.unique(np.linspace(0, max(len(X) - 1, 0), num=min(n, len(X))).astype(np.int64))
    rows = X[idx].astype(np.float64)
    p = scorer.probability_from_raw(scorer.raw(rows)) if len(rows) else np.zeros(0)
    return {"features": scorer.config.names,
            "rows": [[None if v != v else float(v) for v in r] for r in rows.tolist()],
            "probability": [float(v) for v in p]}


def promote(registry: Path, version: str, current: Scorer | None = None) -> Pointer:
    """Validate ``version`` and point the registry at it (atomically: a reader sees the old or
    the new pointer). The champion it replaces becomes ``previous``."""
    target = find(registry, version)
    scorer = validate(target, current)
    before = read_pointer(registry)
    was = before.version if before is not None else _version_of(champion_dir(registry))
    # promoting the champion again keeps its own "previous"
    previous = before.previous if before is not None and was == scorer.version else was
    # the challenger promoted leaves the shadow; another one stays there
    keep = before.challenger if before is not None and before.challenger != scorer.version \
        else None
    ptr = Pointer(scorer.version, previous, datetime.now(UTC).isoformat(timespec="seconds"),
                  keep)
    _write(registry, ptr)
    return ptr


def shadow(registry: Path, version: str | None, current: Scorer | None = None) -> Pointer:
    """Name ``version`` the challenger (None: no challenger), validated like a champion."""
    before = read_pointer(registry)
    if before is None:
        champ = champion_dir(registry)
        v = _version_of(champ)
        if v is None:
            raise UsageError(f"{registry} has no champion to shadow")
        before = Pointer(v, None, None)
    challenger = None
    if version is not None:
        scorer = validate(find(registry, version), current)
        if scorer.version == before.version:
            raise UsageError(f"{scorer.version} is the champion; a challenger is another model")
        challenger = scorer.version
    ptr = Pointer(before.version, before.previous, before.promoted_at, challenger)
    _write(registry, ptr)
    return ptr


def challenger_dir(path: Path) -> Path | None:
    """The challenger's artifact folder, when the registry's pointer names one."""
    if is_artifact(path) or not path.is_dir():
        return None
    pointer = read_pointer(path)
    if pointer is None or pointer.challenger is None:
        return None
    return find(path, pointer.challenger)


def _write(registry: Path, ptr: Pointer) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".champion-", dir=registry)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps({"version": ptr.version, "previous": ptr.previous,
                               "promoted_at": ptr.promoted_at, "challenger": ptr.challenger},
                              option=orjson.OPT_INDENT_2))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, registry / POINTER)


def _version_of(path: Path) -> str | None:
    return claimed_version(path) if is_artifact(path) else None
