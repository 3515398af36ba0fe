"""Exact TreeSHAP from tables built when the model loads: LightGBM's ``pred_contrib``, cheaper.

Why: explanations were a third of the worker's CPU (py-spy, ``python -m streams.bench``):
LightGBM's path-dependent TreeSHAP re-derives, for every row, every tree and every leaf, the
Shapley weights of the features on the leaf's path - about 125 us a row on a 66-tree,
15-leaf model. Those weights depend on the row only through which of the path's distinct
features the row *follows* (goes the path's way at every split on that feature: the "one
fraction" of Lundberg et al. 2020, Algorithm 2, is 1, else 0); the "zero fractions" (share
of the training rows going the path's way) and the leaf value are the model's. So a path
with d distinct features gives each of them one of 2^d contributions, and they can all be
computed once, at load time (d is at most ``num_leaves - 1``; 2^d x d numbers per leaf).

Per batch the work is then: every split's decision for every row (LightGBM's own rules for
missing values and categories), a d-bit pattern per path, one table lookup per path and
feature, and a sum per feature. That work is done by models/_treeshap.c where setuptools
could compile it (~10-15 CPU-us a row on the bench's 66-tree model, from one row on), else by
a few numpy calls over the batch (~60 us a row, with a fixed cost per call that makes
LightGBM's own call cheaper under 4 rows). Both give the same numbers and are tested so.

The result equals ``booster.predict(X, pred_contrib=True)`` to rounding (columns: features,
then the base value). The tables are checked against ``pred_contrib`` when built, on rows
placed on both sides of every threshold, with missing values and unseen categories; a model
the tables do not reproduce (linear trees, multiclass, anything unforeseen) keeps LightGBM's
own ``pred_contrib`` (:func:`explainer`), so the explanation is never wrong, only slower.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np

native: Any
try:  # the per-row work in C (models/_treeshap.c), built by setuptools where it can be
    from models import _treeshap as native
except ImportError:  # no C compiler at install: the numpy code below gives the same numbers
    native = None

_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (1e-35f, a float): |x| <= it is zero
_BLOCK = 96  # rows per block of work (see contributions)
_MAX_DISTINCT = 16  # beyond 2^16 patterns per leaf the tables would cost more than they save


class Unsupported(ValueError):
    """The model has a shape the tables do not cover; use LightGBM's pred_contrib."""


def _path_table(zero: list[float], value: float) -> np.ndarray:
    """(2^d, d): the contribution of each of the path's d distinct features, for every pattern
    of one fractions (bit k of the row index = feature k followed). LightGBM's ExtendPath and
    UnwoundPathSum, vectorised over the patterns."""
    d = len(zero)
    pattern = np.arange(1 << d)
    one = [((pattern >> k) & 1).astype(np.float64) for k in range(d)]
    weight = [np.ones(1 << d)]  # the path's root element: zero = one = 1
    for k in range(d):
        depth = k + 1
        weight.append(np.zeros(1 << d))
        for i in range(depth - 1, -1, -1):
            weight[i + 1] = weight[i + 1] + one[k] * weight[i] * (i + 1) / (depth + 1)
            weight[i] = zero[k] * weight[i] * (depth - i) / (depth + 1)
    out = np.empty((1 << d, d))
    for k in range(d):
        z = zero[k]
        follows = np.zeros(1 << d)
        not_follows = np.zeros(1 << d)
        next_one = weight[d].copy()
        for i in range(d - 1, -1, -1):
            tmp = next_one * (d + 1) / (i + 1)
            follows += tmp
            next_one = weight[i] - tmp * z * ((d - i) / (d + 1))
            not_follows += (weight[i] / z) / ((d - i) / (d + 1))
        out[:, k] = np.where(one[k] == 1.0, follows, not_follows) * (one[k] - z) * value
    return out


class PathTables:
    """The tables of one booster and the index arrays that apply them to a batch."""

    def __init__(self, booster: lgb.Booster) -> None:
        dump = booster.dump_model()
        if dump.get("num_class", 1) != 1 or dump.get("num_tree_per_iteration", 1) != 1:
            raise Unsupported("more than one tree per iteration")
        self.n_features = int(booster.num_feature())
        feat: list[int] = []
        thr: list[float] = []
        missing: list[str] = []
        default_left: list[bool] = []
        cats: dict[int, set[int]] = {}  # node -> categories that go left
        base = 0.0
        # Per path: its distinct features, each with its (node, goes-left) conditions.
        paths: list[tuple[list[int], list[list[tuple[int, bool]]], np.ndarray]] = []

        def walk(node: dict[str, Any], cond: list[tuple[int, int, bool, float]],
                 root_count: float) -> float:
            if "split_index" not in node:
                if node.get("is_linear") or "leaf_coeff" in node:
                    raise Unsupported("linear trees")
                value = float(node["leaf_value"])
                if cond:
                    self._add_path(paths, cond, value)
                return value * float(node.get("leaf_count", 0)) / root_count
            if node.get("decision_type") not in ("<=", "=="):
                raise Unsupported(f"decision type {node.get('decision_type')!r}")
            g = len(feat)
            feat.append(int(node["split_feature"]))
            missing.append(str(node.get("missing_type", "None")))
            default_left.append(bool(node.get("default_left", False)))
            if node["decision_type"] == "==":
                cats[g] = {int(c) for c in str(node["threshold"]).split("||")}
                thr.append(math.nan)
            else:
                thr.append(float(node["threshold"]))
            count = float(node["internal_count"])
            total = 0.0
            for child, left in ((node["left_child"], True), (node["right_child"], False)):
                c = _count(child)
                if c <= 0 or count <= 0:
                    raise Unsupported("a split with an empty side")
                total += walk(child, [*cond, (g, feat[g], left, c / count)], root_count)
            return total

        for tree in dump["tree_info"]:
            root = tree["tree_structure"]
            if "split_index" not in root:
                base += float(root["leaf_value"])
                continue
            base += walk(root, [], float(root["internal_count"]))
        self.base = base
        self._index(paths, feat, thr, missing, default_left, cats)

    @staticmethod
    def _add_path(paths: list[Any], cond: list[tuple[int, int, bool, float]],
                  value: float) -> None:
        order: list[int] = []
        by_feature: dict[int, list[tuple[int, bool]]] = {}
        zero: dict[int, float] = {}
        for node, f, left, frac in cond:
            if f not in by_feature:
                order.append(f)
                by_feature[f] = []
                zero[f] = 1.0
            by_feature[f].append((node, left))
            zero[f] *= frac
        if len(order) > _MAX_DISTINCT:
            raise Unsupported(f"a path with {len(order)} distinct features")
        paths.append((order, [by_feature[f] for f in order],
                      _path_table([zero[f] for f in order], value)))

    def _index(self, paths: list[Any], feat: list[int], thr: list[float], missing: list[str],
               default_left: list[bool], cats: dict[int, set[int]]) -> None:
        self.node_feature = np.asarray(feat, dtype=np.intp)
        self.threshold = np.asarray(thr, dtype=np.float64)
        self.nan_missing = np.asarray([m == "NaN" for m in missing])
        self.zero_missing = np.asarray([m == "Zero" for m in missing])
        self.default_left = np.asarray(default_left)
        self.cat_nodes = np.asarray(sorted(cats), dtype=np.intp)
        width = 1 + max((max(s) for s in cats.values() if s), default=0)
        self.cat_left = np.zeros((len(self.cat_nodes), width), dtype=bool)
        for r, node in enumerate(self.cat_nodes.tolist()):
            self.cat_left[r, sorted(cats[node])] = True
        self.cat_rows = np.arange(len(self.cat_nodes))
        cond_node: list[int] = []
        cond_left: list[bool] = []
        group_start: list[int] = []  # first condition of each (path, feature)
        path_start: list[int] = []  # first group of each path
        slot_path: list[int] = []
        slot_feature: list[int] = []
        slot_k: list[int] = []  # the feature's place on its path (column of the table)
        path_base: list[int] = []  # where each path's table starts in self.table
        path_depth: list[int] = []
        tables: list[np.ndarray] = []
        offset = 0
        for p, (order, conds, table) in enumerate(paths):
            path_start.append(len(group_start))
            path_base.append(offset)
            path_depth.append(len(order))
            for k, (f, cs) in enumerate(zip(order, conds, strict=True)):
                group_start.append(len(cond_node))
                for node, left in cs:
                    cond_node.append(node)
                    cond_left.append(left)
                slot_path.append(p)
                slot_feature.append(f)
                slot_k.append(k)
            tables.append(table.ravel())
            offset += table.size
        if offset >= 2**31:
            raise Unsupported("tables too large")
        self.path_base = np.asarray(path_base, dtype=np.int32)
        self.path_depth = np.asarray(path_depth, dtype=np.int32)
        cond = np.asarray(cond_node, dtype=np.intp)
        right = ~np.asarray(cond_left, dtype=bool)
        gs = np.asarray(group_start + [len(cond_node)], dtype=np.intp)
        size = np.diff(gs)
        # Each (path, feature)'s first condition, then its r-th further ones, layer by layer:
        # a handful of whole-array ops instead of one reduction per group.
        self.first_node, self.first_right = cond[gs[:-1]], right[gs[:-1]]
        self.extra: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for r in range(1, int(size.max(initial=1))):
            g = np.flatnonzero(size > r)
            self.extra.append((g, cond[gs[g] + r], right[gs[g] + r]))
        # Each path's groups as a row padded with the always-false group (index = n groups).
        ps = np.asarray(path_start + [len(group_start)], dtype=np.intp)
        depth = np.diff(ps)
        self.path_groups = np.full((len(path_start), int(depth.max(initial=0))),
                                   len(group_start), dtype=np.intp)
        for p, (lo, d) in enumerate(zip(ps[:-1].tolist(), depth.tolist(), strict=True)):
            self.path_groups[p, :d] = np.arange(lo, lo + d)
        # Slots sorted by feature, so one reduceat sums each feature's contributions.
        by_f = np.argsort(np.asarray(slot_feature), kind="stable")
        self.slot_path = np.asarray(slot_path, dtype=np.intp)[by_f]
        self.slot_k = np.asarray(slot_k, dtype=np.int32)[by_f]
        sf = np.asarray(slot_feature, dtype=np.intp)[by_f]
        starts = np.flatnonzero(np.r_[True, sf[1:] != sf[:-1]]) if sf.size else sf
        self.feature_start = starts.astype(np.intp)
        self.feature_of_start = sf[starts] if sf.size else sf
        self.table = np.concatenate(tables) if tables else np.zeros(0)
        # The same structure in the flat form the C code reads (per split, path, group and
        # condition; see models/_treeshap.c), copied and checked there once.
        self.native: Any = None
        if native is not None:
            flags = np.zeros(len(feat), dtype=np.uint8)
            for bit, on in ((1, self.nan_missing), (2, self.zero_missing),
                            (4, self.default_left)):
                flags[np.asarray(on, dtype=bool)] |= bit
            cat_row = np.full(len(feat), -1, dtype=np.int64)
            cat_row[self.cat_nodes] = self.cat_rows
            flags[self.cat_nodes] |= 8
            self.native = native.prepare(
                self.n_features, self.node_feature.astype(np.int64), self.threshold, flags,
                cat_row, np.ascontiguousarray(self.cat_left, dtype=np.uint8),
                self.cat_left.shape[1], self.path_depth, self.path_base.astype(np.int64),
                np.asarray(path_start, dtype=np.int64), gs.astype(np.int64),
                cond.astype(np.int64), right.astype(np.uint8),
                np.asarray(slot_feature, dtype=np.int64), self.table)
        self.use_native = self.native is not None

    def decisions(self, XT: np.ndarray) -> np.ndarray:
        """(splits, n) bool from XT (features, n): does each row go left at each split
        (LightGBM's Decision). Split-major, so the reductions below run over whole rows."""
        fv = XT[self.node_feature]
        # LightGBM's predictor keeps only values with |x| > kZeroThreshold (or NaN) of a
        # row; the rest read as 0.0.
        fv = np.where(np.abs(fv) <= _ZERO, 0.0, fv)
        nan = np.isnan(fv)
        v = np.where(nan & ~self.nan_missing[:, None], 0.0, fv)
        is_missing = ((self.zero_missing[:, None] & (np.abs(v) <= _ZERO))
                      | (self.nan_missing[:, None] & nan))
        with np.errstate(invalid="ignore"):
            left = np.where(is_missing, self.default_left[:, None], v <= self.threshold[:, None])
        if self.cat_nodes.size:
            cf = fv[self.cat_nodes]
            ok = ~np.isnan(cf)  # NaN goes right
            iv = np.trunc(np.where(ok, cf, -1.0))  # C's int cast truncates: -0.5 is 0
            ok &= (iv >= 0) & (iv < self.cat_left.shape[1])
            left[self.cat_nodes] = ok & self.cat_left[self.cat_rows[:, None],
                                                      np.where(ok, iv, 0).astype(np.intp)]
        return left

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(n, n_features + 1): TreeSHAP per feature, then the base value."""
        X = np.asarray(X, dtype=np.float64)
        out = np.zeros((len(X), self.n_features + 1))
        out[:, -1] = self.base
        if self.table.size == 0:
            return out
        if self.use_native:
            native.block(self.native, np.ascontiguousarray(X), out, len(X))
            return out
        # In blocks: the work arrays are (slots x rows); past ~100 rows they leave the CPU
        # caches and a row costs twice as much (measured: 40 us at 100 rows, 98 at 500).
        for lo in range(0, len(X), _BLOCK):
            self._block(X[lo:lo + _BLOCK], out[lo:lo + _BLOCK])
        return out

    def _block(self, X: np.ndarray, out: np.ndarray) -> None:
        XT = np.ascontiguousarray(X.T)
        n = XT.shape[1]
        left = self.decisions(XT)
        g = len(self.first_node)
        bits = np.zeros((g + 1, n), dtype=bool)  # the last row: padding, never followed
        bits[:g] = left[self.first_node] != self.first_right[:, None]  # the path's way
        for groups, nodes, right in self.extra:
            bits[groups] &= left[nodes] != right[:, None]
        pattern = np.zeros((len(self.path_groups), n), dtype=np.int32)
        for k in range(self.path_groups.shape[1]):
            pattern |= bits[self.path_groups[:, k]].astype(np.int32) << k
        # Row-major from here: each row's slots are contiguous for the gather and the sums.
        row = self.path_base + np.ascontiguousarray(pattern.T) * self.path_depth
        values = self.table[row[:, self.slot_path] + self.slot_k]
        out[:, self.feature_of_start] = np.add.reduceat(values, self.feature_start, axis=1)

    def probe(self, rng: np.random.Generator, rows: int = 96) -> np.ndarray:
        """Rows that put every split on both sides: each feature at, just below and just above
        its thresholds, missing, zero, negative and unseen categories."""
        X = rng.normal(size=(rows, self.n_features))
        for f in range(self.n_features):
            nodes = np.flatnonzero(self.node_feature == f)
            num = [t for t in self.threshold[nodes].tolist() if not math.isnan(t)]
            choices = [math.nan, 0.0, -1.0, -0.5, 1e-40]
            for t in num:  # a dumped threshold of +-1e300 stands for an infinite one
                if abs(t) < 1e300:
                    choices += [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), t + 1.0]
            if f in set(self.node_feature[self.cat_nodes].tolist()):
                choices += [float(c) for c in range(self.cat_left.shape[1] + 2)] + [2.7]
            X[:, f] = rng.choice(np.asarray(choices), size=rows)
        return X


def _count(node: dict[str, Any]) -> float:
    return float(node["internal_count"] if "split_index" in node else node.get("leaf_count", 0))


def explainer(booster: lgb.Booster, examples: np.ndarray | None = None,
              seed: int = 0) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """A function X -> pred_contrib-shaped contributions, and which one it is ("tables" or
    "lightgbm", with the reason). The tables are used only when they reproduce LightGBM's
    pred_contrib to 1e-9 on probe rows (and on ``examples``, e.g. the artifact's own)."""

    def lightgbm(X: np.ndarray) -> np.ndarray:
        return np.asarray(booster.predict(X, pred_contrib=True, num_threads=1))

    try:
        tables = PathTables(booster)
    except Unsupported as e:
        return lightgbm, f"lightgbm ({e})"
    probe = tables.probe(np.random.default_rng(seed))
    probe = np.vstack([probe, probe.astype(np.float32).astype(np.float64)])  # as scored
    if examples is not None and len(examples):
        probe = np.vstack([probe, np.asarray(examples, dtype=np.float64)])
    worst = float(np.max(np.abs(tables.contributions(probe) - lightgbm(probe))))
    if not worst <= 1e-9:
        return lightgbm, f"lightgbm (the tables differ by {worst:.3g} on probe rows)"
    return tables.contributions, "tables"

