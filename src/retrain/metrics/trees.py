"""Gradient-boosted regression trees as flat arrays of splits and leaves, evaluated with numpy alone.

:func:`export_trees` turns a fitted scikit-learn ``HistGradientBoostingRegressor``
into a :class:`Trees` (a JSON-able pydantic model); :meth:`Trees.predict` gives
the same predictions (to rounding) without importing scikit-learn, so a model
fitted at training time can be stored in a profile and evaluated in a light
function. Only numeric splits are supported: categorical inputs are given to
the ensemble as ordinal codes, so every split is a threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, PrivateAttr, model_validator

__all__ = ["Trees", "export_trees"]

#: Rows evaluated at once: a block's (rows x trees) words of possible leaves stay in the CPU's cache (0.4 MB at
#: 100 trees; blocks of 4,096 rows took twice as long).
BLOCK_ROWS = 1_024
#: JSON has no infinity: a split that sends every number left ("is it missing?") stores this threshold instead.
_BIG = float(np.finfo(np.float64).max)


class _Scorer:
    """What :meth:`Trees.predict` reads, built once per ensemble.

    Leaves are numbered left to right within their tree and a row's possible
    leaves are the set bits of one unsigned integer per tree. For each input
    column: the thresholds of its splits, sorted; ``table[k]`` the AND over the
    first ``k`` of those splits of "every leaf but the split's left subtree"
    (one word per tree); and a last row for a missing value (the splits that
    send it right).
    """

    def __init__(self, trees: Trees) -> None:
        splits, leaves = np.asarray(trees.splits, dtype=np.int64), np.asarray(trees.leaves, dtype=np.int64)
        self.trees = splits.size - 1
        tree_of = np.repeat(np.arange(self.trees), np.diff(splits))
        rank, first, count = _leaf_order(trees)
        most = int(np.diff(leaves).max()) if self.trees else 1
        if most > 64:
            raise ValueError(f"a tree has {most} leaves; at most 64 can be evaluated.")
        word: type[np.unsignedinteger[Any]] = np.uint32 if most <= 32 else np.uint64
        self.dtype, self.full = np.dtype(word), word(np.iinfo(word).max)
        self.width = most
        values = np.zeros((self.trees, most), dtype=np.float64)
        values[np.repeat(np.arange(self.trees), np.diff(leaves)), rank] = trees.value
        self.values = values.ravel()
        ones = np.ones(first.size, dtype=np.uint64)
        subtree = ((ones << count.astype(np.uint64)) - ones) << first.astype(np.uint64)
        rule_out = (~subtree & np.uint64(self.full)).astype(self.dtype)
        feature = np.asarray(trees.feature, dtype=np.int64)
        threshold = np.asarray(trees.threshold, dtype=np.float64)
        goes_right = np.asarray(trees.missing_left, dtype=np.int64) == 0
        self.columns: list[tuple[int, np.ndarray, np.ndarray]] = []
        for column in np.unique(feature):
            on = np.flatnonzero(feature == column)
            on = on[np.argsort(threshold[on], kind="stable")]
            table = np.full((on.size + 2, self.trees), self.full, dtype=self.dtype)
            table[np.arange(1, on.size + 1), tree_of[on]] = rule_out[on]
            np.bitwise_and.accumulate(table[:-1], axis=0, out=table[:-1])
            missing = on[goes_right[on]]
            np.bitwise_and.at(table[-1], tree_of[missing], rule_out[missing])
            self.columns.append((int(column), threshold[on], table))

    def __call__(self, x: np.ndarray, baseline: float) -> np.ndarray:
        out = np.full(x.shape[0], baseline, dtype=np.float64)
        if self.trees == 0:
            return out
        codes = []
        for column, thresholds, _ in self.columns:
            values = x[:, column]
            failed = np.searchsorted(thresholds, values, side="left")  # how many splits on this column fail
            failed[np.isnan(values)] = thresholds.size + 1
            codes.append(failed)
        base = np.arange(self.trees) * self.width
        for start in range(0, x.shape[0], BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, x.shape[0])
            possible = np.full((stop - start, self.trees), self.full, dtype=self.dtype)
            for failed, (_, _, table) in zip(codes, self.columns, strict=True):
                possible &= np.take(table, failed[start:stop], axis=0)  # np.take: 2x faster than indexing here
            lowest = possible & (~possible + self.dtype.type(1))
            rank = np.bitwise_count(lowest - self.dtype.type(1))  # the leftmost possible leaf
            out[start:stop] += np.take(self.values, base + rank).sum(axis=1)
        return out


def _leaf_order(trees: Trees) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each leaf's number within its tree, left to right; per split, the first number and count of its left
    subtree's leaves."""
    rank = np.zeros(len(trees.value), dtype=np.int64)
    first = np.zeros(len(trees.feature), dtype=np.int64)
    count = np.zeros(len(trees.feature), dtype=np.int64)
    for t in range(len(trees.splits) - 1):
        s0, l0 = trees.splits[t], trees.leaves[t]
        if trees.splits[t + 1] == s0:
            continue  # a single leaf, number 0
        number = 0
        span: dict[int, tuple[int, int]] = {}  # child code -> (first leaf number, leaf count)
        stack = [(0, False)]
        while stack:  # depth first, left before right; a split is finished after both its subtrees
            code, finished = stack.pop()
            if code < 0:
                rank[l0 + ~code], span[code] = number, (number, 1)
                number += 1
                continue
            left, right = trees.left[s0 + code], trees.right[s0 + code]
            if not finished:
                stack += [(code, True), (right, False), (left, False)]
                continue
            first[s0 + code], count[s0 + code] = span[left]
            span[code] = (span[left][0], span[left][1] + span[right][1])
    return rank, first, count


class Trees(BaseModel):
    """A fitted gradient-boosted ensemble of regression trees, as flat arrays of splits and leaves.

    Tree ``t`` holds splits ``splits[t]`` to ``splits[t + 1] - 1`` (its root
    first) and leaves ``leaves[t]`` to ``leaves[t + 1] - 1``; a tree without a
    split is one leaf. A split sends a row left when its value of input column
    ``feature`` is ``<= threshold``, and a missing value (NaN) left when
    ``missing_left`` is 1. Its children ``left`` and ``right`` are numbered within
    the tree: ``c >= 0`` is split ``c`` (always after its parent), ``c < 0`` is
    leaf ``~c`` (LightGBM's convention). A leaf contributes ``value`` (the
    learning rate already applied); the prediction is ``baseline`` plus one leaf
    value per tree.
    """

    baseline: float
    splits: list[int]
    leaves: list[int]
    feature: list[int]
    threshold: list[float]
    missing_left: list[int]
    left: list[int]
    right: list[int]
    value: list[float]

    _scorer: _Scorer | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Trees:
        splits, leaves = np.asarray(self.splits, dtype=np.int64), np.asarray(self.leaves, dtype=np.int64)
        per_split = {len(self.feature), len(self.threshold), len(self.missing_left), len(self.left), len(self.right)}
        shaped = (
            splits.size == leaves.size > 0
            and splits[0] == leaves[0] == 0
            and per_split == {int(splits[-1])}
            and len(self.value) == leaves[-1]
            and bool((np.diff(leaves) == np.diff(splits) + 1).all())
        )
        if not shaped:
            raise ValueError(
                "the split and leaf arrays disagree with the offsets (a tree of k splits has k + 1 leaves)."
            )
        local = np.arange(splits[-1]) - np.repeat(splits[:-1], np.diff(splits))
        size = np.repeat(np.diff(splits), np.diff(splits))
        for children in (np.asarray(self.left, dtype=np.int64), np.asarray(self.right, dtype=np.int64)):
            leaf = children < 0
            if not (np.where(leaf, ~children < size + 1, (children > local) & (children < size))).all():
                raise ValueError("a child is neither a later split nor a leaf of its tree.")
        return self

    @property
    def n_trees(self) -> int:
        """Number of trees (boosting iterations kept)."""
        return len(self.splits) - 1

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The ensemble's prediction of each row of ``x`` (float64, ``(n, columns)``, NaN for missing).

        Every tree starts with all its leaves possible; each split whose test
        fails (the row goes right) rules out the leaves of its left subtree, and
        the leaf a row reaches is the leftmost one left (QuickScorer). The splits
        on one column, sorted by threshold, fail for a row exactly up to where its
        value falls among their thresholds, so one ``searchsorted`` per column
        picks a precomputed AND of those rule-outs for every tree at once.
        """
        scorer = self._scorer
        if scorer is None:
            scorer = self._scorer = _Scorer(self)
        return scorer(x, self.baseline)


def export_trees(model: object) -> Trees:
    """A fitted single-output ``HistGradientBoostingRegressor`` (squared error, no categorical features) as
    :class:`Trees`. Reads scikit-learn's private predictor layout (``_predictors``, ``_baseline_prediction``),
    checked against ``model.predict`` by the tests for the pinned version."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("feature", "threshold", "missing", "left", "right")}
    values: list[np.ndarray] = []
    splits, leaves = [0], [0]
    for iteration in model._predictors:  # type: ignore[attr-defined]
        nodes = iteration[0].nodes
        if nodes["is_categorical"].any():
            raise ValueError("the ensemble has categorical splits; fit it on ordinal codes as plain numbers.")
        leaf = nodes["is_leaf"].astype(bool)
        split = ~leaf
        code = np.where(leaf, ~(np.cumsum(leaf) - 1), np.cumsum(split) - 1)  # node -> child code (preorder)
        parts["feature"].append(nodes["feature_idx"][split].astype(np.int64))
        parts["threshold"].append(np.clip(nodes["num_threshold"][split], -_BIG, _BIG))
        parts["missing"].append(nodes["missing_go_to_left"][split].astype(np.int64))
        parts["left"].append(code[nodes["left"][split]])
        parts["right"].append(code[nodes["right"][split]])
        values.append(nodes["value"][leaf])
        splits.append(splits[-1] + int(split.sum()))
        leaves.append(leaves[-1] + int(leaf.sum()))

    def flat(arrays: list[np.ndarray]) -> list[Any]:
        return np.concatenate(arrays).tolist() if arrays else []

    return Trees(
        baseline=float(np.ravel(model._baseline_prediction)[0]),  # type: ignore[attr-defined]
        splits=splits,
        leaves=leaves,
        feature=flat(parts["feature"]),
        threshold=flat(parts["threshold"]),
        missing_left=flat(parts["missing"]),
        left=flat(parts["left"]),
        right=flat(parts["right"]),
        value=flat(values),
    )
