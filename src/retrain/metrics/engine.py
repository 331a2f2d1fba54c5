"""The metric engine: checked inputs, the weighted bootstrap, and the scorers built on it.

Each metric is computed from row *weights*, an ``(n, b)`` array: a column of
ones gives the point estimate, and a block of bootstrap resamples (each column
the counts of how often every row was drawn) gives all the resampled values in
the same few matrix operations, so the point estimate and its interval come
from the very same code.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retrain.errors import InsufficientData
from retrain.labels import as_1d, check_problem
from retrain.metrics.results import Interval, MetricsResult

_NUMERIC_KINDS = {"integer", "floating", "boolean", "mixed-integer-float", "decimal"}
#: Bootstrap weights are drawn in blocks of at most this many cells (resamples x rows), 16 MB of float64.
BLOCK_CELLS = 2_000_000
#: Large windows get fewer resamples (never fewer than 200), so one interval costs a few seconds at most:
#: with a million rows the sampling error is tiny and 200 resamples place the interval well enough.
MAX_BOOTSTRAP_CELLS = 50_000_000
MIN_CAPPED_RESAMPLES = 200
EPS = float(np.finfo(np.float64).eps)

Stat = Callable[[np.ndarray], dict[str, np.ndarray]]

__all__ = ["BLOCK_CELLS", "EPS", "MAX_BOOTSTRAP_CELLS", "MIN_CAPPED_RESAMPLES", "Stat", "as_1d", "check_problem"]


# ------------------------------------------------------------------------------------------ validation
def check_ci(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence == {confidence}, must be > 0 and < 1.")
    if resamples < 1:
        raise ValueError(f"resamples == {resamples}, must be >= 1.")


def pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays, 1-D, of equal non-zero length."""
    true = as_1d(y_true, "y_true")
    pred = as_1d(y_pred, "y_pred")
    if true.size != pred.size:
        raise ValueError(f"y_true has {true.size} values but y_pred has {pred.size}; they must have the same length.")
    if true.size == 0:
        raise InsufficientData("y_true and y_pred are empty: no labelled predictions to score")
    return true, pred


def label_kind(values: np.ndarray, name: str) -> str:
    """``"string"`` or ``"numeric"``; mixed or unsupported labels raise ValueError."""
    if values.dtype.kind in "US":
        return "string"
    if values.dtype.kind in "biuf":
        return "numeric"
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind == "string":
        return "string"
    if kind in _NUMERIC_KINDS:
        return "numeric"
    raise ValueError(f"{name} has labels of mixed or unsupported types ({kind}).")


def divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio, 0.0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def ratio_or_nan(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def as_float(values: np.ndarray, name: str) -> np.ndarray:
    if values.dtype == object:
        values = np.where(pd.isna(values), np.nan, values)
    try:
        array = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric for regression, got dtype {values.dtype}.") from exc
    nan = int(np.isnan(array).sum())
    if nan:
        raise ValueError(f"{name} contains {nan} NaN values")
    infinite = int(np.isinf(array).sum())
    if infinite:
        raise ValueError(f"{name} contains {infinite} infinite values")
    return array


# ------------------------------------------------------------------------------------ bootstrap engine
def resample_weights(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples of ``n`` rows as row counts, in ``(n, b)`` float blocks (``resamples`` columns in all).

    Each resample draws ``n`` row indices with replacement (one integer array per
    block, seeded) and counts how often each row was drawn. A block is the
    transposed view of a ``(b, n)`` array: each resample's counts are written
    contiguously (writing them down a column of an ``(n, b)`` array costs as much
    as drawing them), and ``weights.T @ cells`` multiplies a contiguous matrix.
    """
    rng = np.random.default_rng(seed)
    per_block = max(1, BLOCK_CELLS // n)
    done = 0
    while done < resamples:
        b = min(per_block, resamples - done)
        drawn = rng.integers(0, n, size=(b, n))
        counts = np.empty((b, n), dtype=np.float64)
        for column, rows in enumerate(drawn):  # one bincount per resample: 3x faster than one over (n * b) cells
            counts[column] = np.bincount(rows, minlength=n)
        yield counts.T
        done += b


def evaluate(stat: Stat, weights: np.ndarray) -> dict[str, np.ndarray]:
    """``stat`` of ``weights``; undefined values (0/0, a mean of no class) are NaN, silently."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return stat(weights)


def summarize(
    stat: Stat, n: int, *, confidence: float, resamples: int, seed: int, unavailable: dict[str, str] | None = None
) -> MetricsResult:
    """Point estimates (weights of one) and percentile-bootstrap intervals of every statistic of ``stat``."""
    resamples = min(resamples, max(MIN_CAPPED_RESAMPLES, MAX_BOOTSTRAP_CELLS // n))
    point = {name: float(values[0]) for name, values in evaluate(stat, np.ones((n, 1))).items()}
    draws: dict[str, list[np.ndarray]] = {name: [] for name in point}
    for weights in resample_weights(n, resamples, seed):
        for name, values in evaluate(stat, weights).items():
            draws[name].append(values)
    alpha = (1.0 - confidence) / 2.0
    report = MetricsResult(n=n, confidence=confidence, resamples=resamples, unavailable=dict(unavailable or {}))
    for name, value in point.items():
        if not np.isfinite(value):
            report.unavailable.setdefault(name, "undefined on this window")
            continue
        report.values[name] = value
        sample = np.concatenate(draws[name])
        sample = sample[np.isfinite(sample)]
        if sample.size:
            lower, upper = np.quantile(sample, [alpha, 1.0 - alpha])
            report.ci[name] = Interval(lower=float(lower), upper=float(upper))
    return report


def one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((codes.size, k), dtype=np.float64)
    out[np.arange(codes.size), codes] = 1.0
    return out


def row_brier(matrix: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each row's Brier score: the squared error of its probabilities to its one-hot ``truth``, summed over the
    classes and halved for two (scikit-learn's ``scale_by_half="auto"``)."""
    return ((matrix - truth) ** 2).sum(axis=1) * (0.5 if matrix.shape[1] == 2 else 1.0)


class Confusion:
    """Weighted confusion matrices ``C[b, true, predicted]`` of fixed rows.

    ``truth`` is ``(n, k)``: one-hot labels (realized) or class probabilities
    (expected, CBPE). Each cell is a weighted sum over the rows, so all the
    matrices of a block of weights are one matrix product.
    """

    def __init__(self, truth: np.ndarray, pred_codes: np.ndarray) -> None:
        n, self.k = truth.shape
        self.truth, self.pred_codes = truth, pred_codes
        self.cells: np.ndarray | None = None
        if n * self.k * self.k <= BLOCK_CELLS:  # (n, k*k): row i's mass in cell (true, predicted)
            self.cells = (truth[:, :, None] * one_hot(pred_codes, self.k)[:, None, :]).reshape(n, self.k * self.k)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        b, k = weights.shape[1], self.k
        if self.cells is not None:
            return (weights.T @ self.cells).reshape(b, k, k)  # weights.T first: OpenBLAS is slow on cells.T
        out = np.zeros((b, k, k), dtype=np.float64)
        for code in range(k):  # many classes: one product per predicted class
            rows = self.pred_codes == code
            out[:, :, code] = weights[rows].T @ self.truth[rows]
        return out


def label_scores(confusion: np.ndarray, positive: int | None) -> dict[str, np.ndarray]:
    """Label metrics of each confusion matrix; binary ones on ``positive``, macro ones over every label."""
    total = confusion.sum(axis=(1, 2))
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)  # true count per label
    predicted = confusion.sum(axis=1)  # predicted count per label
    precision = divide(tp, predicted)
    recall = divide(tp, support)
    f1 = divide(2.0 * tp, support + predicted)
    present = np.where(support > 0, recall, np.nan)  # balanced accuracy: labels present in y_true only
    macro = {
        "precision_macro": precision.mean(axis=1),
        "recall_macro": recall.mean(axis=1),
        "f1_macro": f1.mean(axis=1),
    }
    if positive is None:
        binary = {"f1": macro["f1_macro"], "precision": macro["precision_macro"], "recall": macro["recall_macro"]}
    else:
        binary = {"f1": f1[:, positive], "precision": precision[:, positive], "recall": recall[:, positive]}
    return {
        "accuracy": ratio_or_nan(tp.sum(axis=1), total),
        "balanced_accuracy": np.nanmean(present, axis=1),
        **binary,
        **macro,
    }


class Ranking:
    """One score column sorted once, with its groups of tied scores, for weighted ROC AUC."""

    def __init__(self, score: np.ndarray, positive_mass: np.ndarray) -> None:
        order = np.argsort(score, kind="stable")
        self.order = None if bool((order == np.arange(order.size)).all()) else order
        ranked = score[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        self.starts = None if starts.size == ranked.size else starts  # None: no ties
        self.positive = positive_mass[order][:, None]
        self.negative = 1.0 - self.positive

    def auc(self, weights: np.ndarray) -> np.ndarray:
        """Mann-Whitney AUC per weight row: P(score of a positive > score of a negative), ties count 1/2.

        With fractional masses (a row is positive with mass p and negative with
        1 - p) this is the area under the expected ROC curve of CBPE.
        """
        ordered = weights if self.order is None else weights[self.order]
        pos, neg = ordered * self.positive, ordered * self.negative
        if self.starts is not None:  # one row per group of tied scores
            pos, neg = np.add.reduceat(pos, self.starts, axis=0), np.add.reduceat(neg, self.starts, axis=0)
        below = np.cumsum(neg, axis=0) - neg
        return ratio_or_nan(np.einsum("gb,gb->b", pos, below + 0.5 * neg), pos.sum(axis=0) * neg.sum(axis=0))


def roc_auc(rankings: list[Ranking], weights: np.ndarray) -> np.ndarray:
    """Binary AUC (one ranking) or the macro one-vs-rest average (one ranking per class, undefined ones skipped)."""
    if len(rankings) == 1:
        return rankings[0].auc(weights)
    return np.nanmean(np.stack([r.auc(weights) for r in rankings], axis=1), axis=1)
