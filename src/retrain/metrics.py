"""Model-quality signals of a monitoring window, and the triggers on them.

- realized metrics on labelled predictions (classification: accuracy, balanced
  accuracy, precision/recall/F1 binary and macro, ROC AUC, log loss, Brier;
  regression: RMSE, MAE, MAPE, R²), each with a seeded bootstrap confidence
  interval and its sample size;
- label-free estimates of the classification metrics from the model's own
  probabilities (confidence-based performance estimation, as NannyML's CBPE);
- the rate of predictions flagged by people, with a Wilson interval.

Pure numpy/pandas: every metric is a few vectorized lines written to give
scikit-learn's values (``zero_division=0``) without paying scikit-learn's
import time at cold start. Each metric is computed from row *weights*, an
``(n, b)`` array: a column of ones gives the point estimate, and a block of
bootstrap resamples (each column the counts of how often every row was drawn)
gives all the resampled values in the same few matrix operations, so the
point estimate and its interval come from the very same code.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import BaseModel, Field

from retrain.config import (
    ESTIMATED_METRICS,
    EstimatedTrigger,
    FlaggedTrigger,
    PerformanceTrigger,
    Problem,
    SignalValue,
    metrics_for,
    signal_metrics_for,
)
from retrain.errors import InsufficientData, SchemaMismatch
from retrain.targets import float_label, numbers

_NUMERIC_KINDS = {"integer", "floating", "boolean", "mixed-integer-float", "decimal"}
#: Bootstrap weights are drawn in blocks of at most this many cells (resamples x rows), 16 MB of float64.
_BLOCK_CELLS = 2_000_000
#: Large windows get fewer resamples (never fewer than 200), so one interval costs a few seconds at most:
#: with a million rows the sampling error is tiny and 200 resamples place the interval well enough.
MAX_BOOTSTRAP_CELLS = 50_000_000
MIN_CAPPED_RESAMPLES = 200
_EPS = float(np.finfo(np.float64).eps)

#: Defaults of the signals when their trigger is not configured (what is reported and published).
DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 1000
DEFAULT_MIN_SAMPLES = 100

Stat = Callable[[np.ndarray], dict[str, np.ndarray]]


# ---------------------------------------------------------------------------------------------- results
class Interval(BaseModel):
    """A two-sided confidence interval (``lower`` <= ``upper``)."""

    lower: float
    upper: float


class MetricsReport(BaseModel):
    """Metric values on ``n`` rows, each with a percentile-bootstrap interval at ``confidence``.

    A metric that cannot be computed (no probabilities logged, one class only,
    ...) is absent from ``values`` and named in ``unavailable`` with the reason.
    A metric whose resamples are all undefined has a value but no entry in ``ci``.
    """

    n: int
    values: dict[str, float] = Field(default_factory=dict)
    ci: dict[str, Interval] = Field(default_factory=dict)
    confidence: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    unavailable: dict[str, str] = Field(default_factory=dict)


class PerformanceResult(BaseModel):
    """Outcome of the performance trigger on one window of labelled predictions.

    ``value`` is the point estimate of ``metric``; ``judged`` is the value
    compared with ``bound`` (the estimate or a bound of its interval, as the
    trigger's ``use`` says). ``metrics`` holds every available metric, ``ci``
    their intervals.
    """

    metric: str
    value: float | None
    bound: float
    direction: Literal["min", "max"]
    use: SignalValue = "estimate"
    judged: float | None = None
    n: int
    match_rate: float
    metrics: dict[str, float]
    ci: dict[str, Interval] = Field(default_factory=dict)
    confidence: float = DEFAULT_CONFIDENCE
    unavailable: dict[str, str] = Field(default_factory=dict)
    triggered: bool
    insufficient: bool
    reason: str | None


class EstimatedResult(BaseModel):
    """Label-free performance estimate (CBPE) of one window, and its trigger's verdict.

    ``available`` is False for regression and when the inference log has no
    usable class probabilities (``note`` says why). ``enabled`` says whether an
    ``estimated`` trigger is configured; only then can it fire.
    """

    available: bool
    enabled: bool
    n: int
    metrics: dict[str, float] = Field(default_factory=dict)
    ci: dict[str, Interval] = Field(default_factory=dict)
    confidence: float = DEFAULT_CONFIDENCE
    metric: str | None = None
    value: float | None = None
    bound: float | None = None
    direction: Literal["min", "max"] | None = None
    use: SignalValue = "estimate"
    judged: float | None = None
    min_samples: int = DEFAULT_MIN_SAMPLES
    triggered: bool = False
    insufficient: bool = False
    reason: str | None = None
    note: str | None = None


class FlaggedResult(BaseModel):
    """Share of the window's predictions that people flagged, and its trigger's verdict.

    ``rate`` is ``count / n`` (None with no predictions), ``ci`` its Wilson
    score interval. ``source`` says where the flags came from (``column``,
    ``feed``, ``column+feed`` or ``none``).
    """

    enabled: bool
    n: int
    count: int
    rate: float | None
    ci: Interval | None = None
    confidence: float = DEFAULT_CONFIDENCE
    max_rate: float | None = None
    min_samples: int = DEFAULT_MIN_SAMPLES
    min_count: int | None = None
    source: str = "none"
    triggered: bool = False
    insufficient: bool = False
    reason: str | None = None


# ------------------------------------------------------------------------------------------ validation
def _check_problem(problem: str) -> None:
    if problem not in ("classification", "regression"):
        raise ValueError(f"problem == {problem!r}, must be 'classification' or 'regression'.")


def _check_ci(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence == {confidence}, must be > 0 and < 1.")
    if resamples < 1:
        raise ValueError(f"resamples == {resamples}, must be >= 1.")


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    array = values.to_numpy() if isinstance(values, pd.Series | pd.Index) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    return array


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays, 1-D, of equal non-zero length."""
    true = _as_1d(y_true, "y_true")
    pred = _as_1d(y_pred, "y_pred")
    if true.size != pred.size:
        raise ValueError(f"y_true has {true.size} values but y_pred has {pred.size}; they must have the same length.")
    if true.size == 0:
        raise InsufficientData("y_true and y_pred are empty: no labelled predictions to score")
    return true, pred


def _label_kind(values: np.ndarray, name: str) -> str:
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


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio, 0.0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _ratio_or_nan(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _as_float(values: np.ndarray, name: str) -> np.ndarray:
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
def _resample_weights(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples of ``n`` rows as row counts, in ``(n, b)`` float blocks (``resamples`` columns in all).

    Each resample draws ``n`` row indices with replacement (one integer array per
    block, seeded) and counts how often each row was drawn.
    """
    rng = np.random.default_rng(seed)
    per_block = max(1, _BLOCK_CELLS // n)
    done = 0
    while done < resamples:
        b = min(per_block, resamples - done)
        drawn = rng.integers(0, n, size=(b, n))
        counts = np.empty((n, b), dtype=np.float64)
        for column, rows in enumerate(drawn):  # one bincount per resample: 3x faster than one over (n * b) cells
            counts[:, column] = np.bincount(rows, minlength=n)
        yield counts
        done += b


def _evaluate(stat: Stat, weights: np.ndarray) -> dict[str, np.ndarray]:
    """``stat`` of ``weights``; undefined values (0/0, a mean of no class) are NaN, silently."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return stat(weights)


def _summarize(
    stat: Stat, n: int, *, confidence: float, resamples: int, seed: int, unavailable: dict[str, str] | None = None
) -> MetricsReport:
    """Point estimates (weights of one) and percentile-bootstrap intervals of every statistic of ``stat``."""
    resamples = min(resamples, max(MIN_CAPPED_RESAMPLES, MAX_BOOTSTRAP_CELLS // n))
    point = {name: float(values[0]) for name, values in _evaluate(stat, np.ones((n, 1))).items()}
    draws: dict[str, list[np.ndarray]] = {name: [] for name in point}
    for weights in _resample_weights(n, resamples, seed):
        for name, values in _evaluate(stat, weights).items():
            draws[name].append(values)
    alpha = (1.0 - confidence) / 2.0
    report = MetricsReport(n=n, confidence=confidence, resamples=resamples, unavailable=dict(unavailable or {}))
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


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((codes.size, k), dtype=np.float64)
    out[np.arange(codes.size), codes] = 1.0
    return out


class _Confusion:
    """Weighted confusion matrices ``C[b, true, predicted]`` of fixed rows.

    ``truth`` is ``(n, k)``: one-hot labels (realized) or class probabilities
    (expected, CBPE). Each cell is a weighted sum over the rows, so all the
    matrices of a block of weights are one matrix product.
    """

    def __init__(self, truth: np.ndarray, pred_codes: np.ndarray) -> None:
        n, self.k = truth.shape
        self.truth, self.pred_codes = truth, pred_codes
        self.cells: np.ndarray | None = None
        if n * self.k * self.k <= _BLOCK_CELLS:  # (n, k*k): row i's mass in cell (true, predicted)
            self.cells = (truth[:, :, None] * _one_hot(pred_codes, self.k)[:, None, :]).reshape(n, self.k * self.k)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        b, k = weights.shape[1], self.k
        if self.cells is not None:
            return (weights.T @ self.cells).reshape(b, k, k)  # weights.T first: OpenBLAS is slow on cells.T
        out = np.zeros((b, k, k), dtype=np.float64)
        for code in range(k):  # many classes: one product per predicted class
            rows = self.pred_codes == code
            out[:, :, code] = weights[rows].T @ self.truth[rows]
        return out


def _label_scores(confusion: np.ndarray, positive: int | None) -> dict[str, np.ndarray]:
    """Label metrics of each confusion matrix; binary ones on ``positive``, macro ones over every label."""
    total = confusion.sum(axis=(1, 2))
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)  # true count per label
    predicted = confusion.sum(axis=1)  # predicted count per label
    precision = _divide(tp, predicted)
    recall = _divide(tp, support)
    f1 = _divide(2.0 * tp, support + predicted)
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
        "accuracy": _ratio_or_nan(tp.sum(axis=1), total),
        "balanced_accuracy": np.nanmean(present, axis=1),
        **binary,
        **macro,
    }


class _Ranking:
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
        return _ratio_or_nan(np.einsum("gb,gb->b", pos, below + 0.5 * neg), pos.sum(axis=0) * neg.sum(axis=0))


def _roc_auc(rankings: list[_Ranking], weights: np.ndarray) -> np.ndarray:
    """Binary AUC (one ranking) or the macro one-vs-rest average (one ranking per class, undefined ones skipped)."""
    if len(rankings) == 1:
        return rankings[0].auc(weights)
    return np.nanmean(np.stack([r.auc(weights) for r in rankings], axis=1), axis=1)


def _by_score(matrix: np.ndarray, index: pd.Index, pos_label: Any) -> np.ndarray:
    """Row order by the first ranked probability column: its ranking then needs no reordering per resample."""
    positive = _positive_class(index, pos_label)
    return np.argsort(matrix[:, 0 if positive is None else positive], kind="stable")


# ----------------------------------------------------------------------------------- label encodings
def _encode_labels(
    true: np.ndarray, pred: np.ndarray, pos_label: Any
) -> tuple[np.ndarray, np.ndarray, int | None, int]:
    """Codes of ``true`` and ``pred`` in their sorted label union, the positive code (None: multiclass), k."""
    for name, values in (("y_true", true), ("y_pred", pred)):
        missing = int(pd.isna(values).sum())
        if missing:
            raise ValueError(f"{name} contains {missing} missing labels.")
    kinds = {_label_kind(true, "y_true"), _label_kind(pred, "y_pred")}
    if len(kinds) > 1:
        raise ValueError("y_true and y_pred mix string and numeric labels; they must be of the same type.")
    n = true.size
    labels, codes = np.unique(np.concatenate([true, pred]), return_inverse=True)
    if pos_label is not None and labels.size <= 2 and pos_label not in labels:
        if labels.size == 2 or _label_kind(np.asarray([pos_label]), "pos_label") not in kinds:
            raise ValueError(f"pos_label == {pos_label!r}, must be one of the labels {labels.tolist()}.")
        # One label observed, the other is the positive one: it has no true and no predicted rows.
        labels, codes = np.unique(np.concatenate([true, pred, [pos_label]]), return_inverse=True)
    positive = None
    if labels.size <= 2:
        positive = labels.size - 1 if pos_label is None else int(np.searchsorted(labels, pos_label))
    return codes[:n], codes[n : 2 * n], positive, int(labels.size)


def _label_stat(true: np.ndarray, pred: np.ndarray, pos_label: Any) -> Stat:
    t_codes, p_codes, positive, k = _encode_labels(true, pred, pos_label)
    confusion = _Confusion(_one_hot(t_codes, k), p_codes)

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        return _label_scores(confusion(weights), positive)

    return stat


def _check_proba(proba: ArrayLike, classes: Sequence[Any], n: int) -> tuple[np.ndarray, pd.Index] | str:
    """The probabilities as ``(n, k)`` floats and the classes as an index, or why they cannot be used."""
    matrix = np.asarray(proba, dtype=np.float64)
    index = pd.Index(list(classes))
    if matrix.ndim != 2 or matrix.shape != (n, len(index)):
        raise ValueError(f"proba must have shape ({n}, {len(index)}) (rows, classes), got {matrix.shape}.")
    if len(index) < 2:
        return f"probabilities of {len(index)} class, at least 2 are needed"
    if not index.is_unique:
        raise ValueError(f"classes must be unique, got {index.tolist()}.")
    missing = int(np.isnan(matrix).any(axis=1).sum())
    if missing:
        return f"{missing} rows have missing probabilities"
    if (matrix < 0).any() or (matrix > 1).any():
        return "probabilities outside [0, 1]"
    return matrix, index


def _positive_class(index: pd.Index, pos_label: Any) -> int | None:
    if len(index) != 2:
        return None
    if pos_label is None or pos_label not in index:
        return 0 if index[0] > index[1] else 1  # the larger label
    return int(index.get_indexer(pd.Index([pos_label]))[0])


def _proba_stat(true: np.ndarray, matrix: np.ndarray, index: pd.Index, pos_label: Any) -> Stat | str:
    """ROC AUC, log loss and Brier score from the logged probabilities, or why they cannot be computed."""
    t_codes = index.get_indexer(pd.Index(true))
    unknown = sorted({str(v) for v in true[t_codes < 0]})
    if unknown:
        return f"labels {', '.join(unknown)} have no probability column"
    k = len(index)
    truth = _one_hot(t_codes, k)
    positive = _positive_class(index, pos_label)
    columns = [positive] if positive is not None else list(range(k))
    rankings = [_Ranking(matrix[:, c], truth[:, c]) for c in columns]
    clipped = np.clip(matrix[np.arange(true.size), t_codes], _EPS, 1.0 - _EPS)
    row_log_loss = -np.log(clipped)
    row_brier = ((matrix - truth) ** 2).sum(axis=1) * (0.5 if k == 2 else 1.0)  # scikit-learn's scale_by_half="auto"

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        total = weights.sum(axis=0)
        return {
            "roc_auc": _roc_auc(rankings, weights),
            "log_loss": row_log_loss @ weights / total,
            "brier": row_brier @ weights / total,
        }

    return stat


def _regression_stat(true: np.ndarray, pred: np.ndarray) -> Stat:
    t = _as_float(true, "y_true")
    p = _as_float(pred, "y_pred")
    error = t - p
    squared = error**2
    absolute = np.abs(error)
    relative = absolute / np.maximum(np.abs(t), _EPS)  # scikit-learn's MAPE (a fraction, not percent)
    centred = t - t.mean()
    constant = bool(np.ptp(t) == 0)

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        total = weights.sum(axis=0)
        ss_res = squared @ weights
        shift = centred @ weights / total
        spread = centred**2 @ weights
        ss_tot = spread - total * shift**2
        # A constant target (in the window or in a resample): scikit-learn's force_finite.
        degenerate = np.full(ss_tot.shape, True) if constant else ss_tot <= 1e-12 * spread
        safe = np.where(degenerate, 1.0, ss_tot)
        r2 = np.where(degenerate, np.where(ss_res == 0, 1.0, 0.0), 1.0 - ss_res / safe)
        return {
            "rmse": np.sqrt(ss_res / total),
            "mae": absolute @ weights / total,
            "mape": relative @ weights / total,
            "r2": r2,
        }

    return stat


# -------------------------------------------------------------------------------------- public API
def compute_metrics(
    problem: Problem, y_true: ArrayLike, y_pred: ArrayLike, *, pos_label: Any = None
) -> dict[str, float]:
    """Every label-based quality metric of a problem type, from true and predicted values.

    Classification (labels may be integers, booleans or strings; the two
    arrays must hold the same kind): ``accuracy``, ``balanced_accuracy``
    (mean recall over the labels present in ``y_true``), and ``f1``,
    ``precision``, ``recall``. With at most two labels in the union of
    ``y_true`` and ``y_pred`` (binary), these three score the positive label:
    ``pos_label`` if given, else the largest label in sorted order (1, True,
    or e.g. ``"yes"`` over ``"no"``). With more labels they are macro averages
    over the union. An undefined ratio (no predicted or no true positive of
    a label) counts as 0.0, as scikit-learn's ``zero_division=0``.

    Regression: ``rmse``, ``mae`` (in the target's unit) and ``r2``. For a
    constant ``y_true`` (including a single sample) ``r2`` is 1.0 when the
    predictions are perfect and 0.0 otherwise (scikit-learn's ``force_finite``).

    These are the metrics validation compares on a holdout; the metric check
    reports more (see :func:`realized_performance`).

    Parameters
    ----------
    problem : {"classification", "regression"}
    y_true, y_pred : array-like, 1-D
        True and predicted values, aligned row by row.
    pos_label : optional
        Positive label of a binary classification problem (e.g. the model's
        ``classes_[1]``). Default: the largest label. Ignored when there are
        more than two labels.

    Returns
    -------
    dict of str to float
        One entry per name in :func:`retrain.config.metrics_for`, in that order.

    Raises
    ------
    InsufficientData
        If both arrays are empty.
    ValueError
        If ``problem`` is unknown, the lengths differ (the message names both),
        an array is not 1-D, contains missing values (NaN, None) or infinite
        values (regression), the labels mix strings and numbers, or
        ``pos_label`` is not one of two observed labels.
    """
    _check_problem(problem)
    true, pred = _pair(y_true, y_pred)
    stat = _label_stat(true, pred, pos_label) if problem == "classification" else _regression_stat(true, pred)
    values = _evaluate(stat, np.ones((true.size, 1)))
    return {name: float(values[name][0]) for name in metrics_for(problem)}


def realized_performance(
    problem: Problem,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    proba: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    pos_label: Any = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> MetricsReport:
    """Every metric of a problem type on labelled predictions, each with a bootstrap confidence interval.

    Classification: the label metrics of :func:`compute_metrics` plus
    ``precision_macro``, ``recall_macro`` and ``f1_macro`` (unweighted means
    over the label union, also for two labels), and, when the class
    probabilities are given, ``roc_auc`` (binary: of the positive class's
    probability; more classes: macro one-vs-rest, classes absent from ``y_true``
    skipped), ``log_loss`` (natural log, probabilities clipped to
    ``[eps, 1 - eps]``) and ``brier`` (binary: mean squared error of the positive
    class's probability; more classes: the sum over classes, as scikit-learn).
    Regression: ``rmse``, ``mae``, ``mape`` (a fraction: mean of
    ``|error| / max(|y_true|, eps)``) and ``r2``.

    Each interval is the percentile interval of ``resamples`` bootstrap
    resamples of the rows (seeded by ``seed``, so the same data always gives the
    same interval), at two-sided level ``confidence``. Windows so large that
    ``resamples x rows`` exceeds :data:`MAX_BOOTSTRAP_CELLS` use fewer resamples
    (at least :data:`MIN_CAPPED_RESAMPLES`); the report says how many.

    Parameters
    ----------
    problem : {"classification", "regression"}
    y_true, y_pred : array-like, 1-D
        Labels and predictions of the matched rows.
    proba : array-like of shape (n, k), optional
        Class probabilities (``predict_proba``), one column per entry of ``classes``.
    classes : sequence, optional
        The labels of ``proba``'s columns.
    pos_label : optional
        Positive label of a binary problem (see :func:`compute_metrics`).
    confidence : float in (0, 1)
    resamples : int >= 1
    seed : int

    Returns
    -------
    MetricsReport
        ``values`` and ``ci`` per metric; a metric that cannot be computed
        (no probabilities, a label without a probability column, an undefined
        value such as ROC AUC with one class) is in ``unavailable`` with the reason.

    Raises
    ------
    InsufficientData
        If there are no rows.
    ValueError
        As :func:`compute_metrics`; or if ``proba`` does not have one column per
        class and one row per label, or ``confidence`` / ``resamples`` are out of range.
    """
    _check_problem(problem)
    _check_ci(confidence, resamples)
    true, pred = _pair(y_true, y_pred)
    if problem == "regression":
        stat = _regression_stat(true, pred)
        return _summarize(stat, true.size, confidence=confidence, resamples=resamples, seed=seed)
    unavailable: dict[str, str] = {}
    probability: Stat | str = "the inference log has no class probabilities"
    if proba is not None:
        if classes is None:
            raise ValueError("classes must be given with proba (one label per column).")
        checked = _check_proba(proba, classes, true.size)
        if isinstance(checked, str):
            probability = checked
        else:
            order = _by_score(*checked, pos_label)
            true, pred, matrix = true[order], pred[order], checked[0][order]
            probability = _proba_stat(true, matrix, checked[1], pos_label)
    stats = [_label_stat(true, pred, pos_label)]
    if isinstance(probability, str):
        unavailable = dict.fromkeys(("roc_auc", "log_loss", "brier"), probability)
    else:
        stats.append(probability)

    def combined(weights: np.ndarray) -> dict[str, np.ndarray]:
        return {name: values for part in stats for name, values in part(weights).items()}

    return _summarize(
        combined, true.size, confidence=confidence, resamples=resamples, seed=seed, unavailable=unavailable
    )


def estimate_performance(
    y_pred: ArrayLike,
    proba: ArrayLike,
    classes: Sequence[Any],
    *,
    pos_label: Any = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> MetricsReport:
    """Label-free estimate of classification metrics from the model's probabilities (CBPE).

    Assuming the probabilities are calibrated, row ``i`` is of class ``c`` with
    probability ``proba[i, c]``. The expected confusion matrix is then
    ``E[C[c, p]] = sum of proba[i, c] over the rows predicted p``, and every
    label metric of :func:`realized_performance` is computed from it (accuracy
    is the mean probability of the predicted class). ``roc_auc`` is the area
    under the expected ROC curve: each row counts as a positive with mass
    ``proba[i, positive]`` and as a negative with the rest (macro one-vs-rest
    for more classes). Intervals bootstrap the rows, as for realized metrics:
    they cover sampling error, not miscalibration.

    Parameters
    ----------
    y_pred : array-like, 1-D
        The logged predicted labels, each one of ``classes``.
    proba : array-like of shape (n, k)
        Class probabilities, one column per entry of ``classes``.
    classes : sequence
        The labels of ``proba``'s columns (at least two).
    pos_label : optional
        Positive class of a binary problem; default the larger label.
    confidence, resamples, seed
        As :func:`realized_performance`.

    Returns
    -------
    MetricsReport
        Values and intervals of :data:`retrain.config.ESTIMATED_METRICS`; with
        unusable probabilities (missing, outside [0, 1], or a predicted label
        without a column), no values and the reason in ``unavailable``.

    Raises
    ------
    InsufficientData
        If there are no rows.
    ValueError
        If the shapes disagree or ``confidence`` / ``resamples`` are out of range.
    """
    _check_ci(confidence, resamples)
    pred = _as_1d(y_pred, "y_pred")
    if pred.size == 0:
        raise InsufficientData("y_pred is empty: no predictions to estimate from")
    checked = _check_proba(proba, classes, pred.size)
    if isinstance(checked, str):
        return MetricsReport(
            n=pred.size,
            confidence=confidence,
            resamples=resamples,
            unavailable=dict.fromkeys(ESTIMATED_METRICS, checked),
        )
    order = _by_score(*checked, pos_label)
    matrix, index, pred = checked[0][order], checked[1], pred[order]
    p_codes = index.get_indexer(pd.Index(pred))
    unknown = sorted({str(v) for v in pred[p_codes < 0]})
    if unknown:
        why = f"predicted labels {', '.join(unknown)} have no probability column"
        return MetricsReport(
            n=pred.size, confidence=confidence, resamples=resamples, unavailable=dict.fromkeys(ESTIMATED_METRICS, why)
        )
    positive = _positive_class(index, pos_label)
    columns = [positive] if positive is not None else list(range(len(index)))
    rankings = [_Ranking(matrix[:, c], matrix[:, c]) for c in columns]

    confusion = _Confusion(matrix, p_codes)

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        scores = _label_scores(confusion(weights), positive)
        scores["roc_auc"] = _roc_auc(rankings, weights)
        return {name: scores[name] for name in ESTIMATED_METRICS}

    return _summarize(stat, pred.size, confidence=confidence, resamples=resamples, seed=seed)


def wilson_interval(count: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson score interval of a binomial proportion ``count / n`` at two-sided level ``confidence``.

    Raises
    ------
    ValueError
        If ``n`` < 1, ``count`` is not in ``[0, n]`` or ``confidence`` not in (0, 1).
    """
    if n < 1:
        raise ValueError(f"n == {n}, must be >= 1.")
    if not 0 <= count <= n:
        raise ValueError(f"count == {count}, must be >= 0 and <= n ({n}).")
    _check_ci(confidence, 1)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(lower=float(max(0.0, centre - half)), upper=float(min(1.0, centre + half)))


def flag_values(values: ArrayLike, *, name: str = "flagged") -> np.ndarray:
    """A flag column as booleans: True/False or 1/0; missing values count as not flagged.

    Raises
    ------
    SchemaMismatch
        If a value is neither boolean nor numeric (e.g. the string ``"yes"``).
    """
    array = _as_1d(values, name)
    if array.dtype.kind in "biuf":
        return np.nan_to_num(array.astype(np.float64), nan=0.0) != 0
    present = ~pd.isna(array)
    bad = [v for v in array[present] if not isinstance(v, bool | int | float | np.bool_ | np.number)]
    if bad:
        raise SchemaMismatch(f"column {name!r} must hold booleans or 0/1, got {bad[0]!r}", missing=[])
    return np.where(present, array, 0).astype(np.float64) != 0


# ---------------------------------------------------------------------------------------- triggers
def _judge(
    trigger: PerformanceTrigger | EstimatedTrigger, value: float | None, interval: Interval | None, label: str
) -> tuple[float | None, bool, str | None]:
    """The value compared with the bound, whether it crosses it, and the reason (when it fires or cannot judge)."""
    if value is None:
        return None, False, None
    judged = value
    if trigger.use != "estimate":
        if interval is None:
            return None, False, f"{label} has no confidence interval to judge by {trigger.use}"
        judged = interval.lower if trigger.use == "ci_lower" else interval.upper
    below = trigger.direction == "min"
    fired = judged < trigger.bound if below else judged > trigger.bound
    if not fired:
        return judged, False, None
    sign = "<" if below else ">"
    if trigger.use == "estimate":
        return judged, True, f"{label} {value:.4g} {sign} {trigger.bound:.4g}"
    assert interval is not None
    side = "lower" if trigger.use == "ci_lower" else "upper"
    return (
        judged,
        True,
        f"{label} CI {side} bound {judged:.4g} {sign} {trigger.bound:.4g} "
        f"(estimate {value:.4g}, CI [{interval.lower:.4g}, {interval.upper:.4g}])",
    )


def evaluate_performance(
    trigger: PerformanceTrigger,
    problem: Problem,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    match_rate: float,
    pos_label: Any = None,
    proba: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PerformanceResult:
    """Compute every metric with its interval and decide whether the performance trigger fires.

    The trigger compares the value its ``use`` names (the estimate, or the
    lower or upper bound of the interval) with its bound: it fires when that
    value is strictly below ``trigger.min`` (higher-is-better metrics) or
    strictly above ``trigger.max`` (lower-is-better). With fewer than
    ``trigger.min_samples`` labelled rows the result is ``insufficient`` and
    never fires; the metrics are still reported when there is at least one row
    (``value`` is None only with no rows). A metric that is unavailable (e.g.
    ``roc_auc`` without logged probabilities) is insufficient too, with the reason.

    Parameters
    ----------
    trigger : PerformanceTrigger
        The configured metric, bound, minimum sample size and compared value.
    problem : {"classification", "regression"}
    y_true, y_pred : array-like, 1-D
        Labels and predictions of the matched rows (see :func:`join_labels`).
    match_rate : float
        Share of predictions that received a label, in [0, 1]; reported as is.
    pos_label, proba, classes, confidence, resamples, seed
        As :func:`realized_performance`.

    Returns
    -------
    PerformanceResult

    Raises
    ------
    ValueError
        If ``trigger.metric`` is not a metric of ``problem``, ``match_rate`` is
        outside [0, 1], or the inputs are invalid (see :func:`realized_performance`).
    """
    _check_problem(problem)
    known = signal_metrics_for(problem)
    if trigger.metric not in known:
        raise ValueError(f"trigger metric {trigger.metric!r} is not a {problem} metric ({', '.join(known)}).")
    if not 0.0 <= match_rate <= 1.0:
        raise ValueError(f"match_rate == {match_rate}, must be >= 0 and <= 1.")
    true, pred = _as_1d(y_true, "y_true"), _as_1d(y_pred, "y_pred")
    n = true.size
    report = MetricsReport(n=n, confidence=confidence, resamples=resamples)
    if n or pred.size:
        report = realized_performance(
            problem,
            true,
            pred,
            proba=proba,
            classes=classes,
            pos_label=pos_label,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )
    value = report.values.get(trigger.metric)
    judged: float | None = None
    triggered = False
    reason: str | None = None
    insufficient = n < trigger.min_samples
    if insufficient:
        reason = f"insufficient data: {n} labelled rows < min_samples {trigger.min_samples}"
    elif value is None:
        insufficient = True
        reason = (
            f"insufficient data: {trigger.metric} unavailable ({report.unavailable.get(trigger.metric, 'no rows')})"
        )
    else:
        judged, triggered, reason = _judge(trigger, value, report.ci.get(trigger.metric), trigger.metric)
        insufficient = judged is None
    return PerformanceResult(
        metric=trigger.metric,
        value=value,
        bound=trigger.bound,
        direction=trigger.direction,
        use=trigger.use,
        judged=judged,
        n=n,
        match_rate=match_rate,
        metrics=report.values,
        ci=report.ci,
        confidence=report.confidence,
        unavailable=report.unavailable,
        triggered=triggered,
        insufficient=insufficient,
        reason=reason,
    )


def evaluate_estimated(
    trigger: EstimatedTrigger | None,
    problem: Problem,
    y_pred: ArrayLike,
    *,
    proba: ArrayLike | None,
    classes: Sequence[Any] | None,
    pos_label: Any = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> EstimatedResult:
    """Estimate the window's performance without labels (see :func:`estimate_performance`) and judge it.

    Regression has no estimate (``available`` False, with a ``note``); so has a
    log without class probabilities. With fewer than ``min_samples`` predictions
    (the trigger's, else 100) the estimate is reported but ``insufficient``. An
    enabled trigger fires as the performance trigger does, on the estimate or a
    bound of its interval; an unavailable estimate never fires.

    Raises
    ------
    ValueError
        As :func:`estimate_performance`.
    """
    _check_problem(problem)
    pred = _as_1d(y_pred, "y_pred")
    n = pred.size
    result = EstimatedResult(
        available=False,
        enabled=trigger is not None,
        n=n,
        confidence=confidence,
        min_samples=trigger.min_samples if trigger is not None else DEFAULT_MIN_SAMPLES,
    )
    if trigger is not None:
        result.metric, result.bound, result.direction, result.use = (
            trigger.metric,
            trigger.bound,
            trigger.direction,
            trigger.use,
        )
    if problem == "regression":
        return _without_estimate(result, "regression problems have no label-free estimate (CBPE needs probabilities)")
    if n == 0:
        return _without_estimate(result, "no predictions")
    if proba is None or classes is None:
        return _without_estimate(result, "the inference log has no class probabilities")
    report = estimate_performance(
        pred, proba, classes, pos_label=pos_label, confidence=confidence, resamples=resamples, seed=seed
    )
    if not report.values:
        return _without_estimate(result, next(iter(report.unavailable.values()), "no estimate"))
    result.available, result.metrics, result.ci = True, report.values, report.ci
    if n < result.min_samples:
        result.insufficient = True
        result.reason = f"insufficient data: {n} predictions < min_samples {result.min_samples}"
    elif trigger is not None:
        result.value = report.values.get(trigger.metric)
        label = f"estimated {trigger.metric}"
        result.judged, result.triggered, result.reason = _judge(
            trigger, result.value, report.ci.get(trigger.metric), label
        )
        result.insufficient = result.judged is None
        if result.value is None:
            result.reason = f"insufficient data: {label} unavailable"
    return result


def _without_estimate(result: EstimatedResult, note: str) -> EstimatedResult:
    """``result`` without an estimate: an enabled trigger reports insufficient data, never fires."""
    result.note = note
    if result.enabled:
        result.insufficient = True
        result.reason = f"insufficient data: {note}"
    return result


def evaluate_flagged(
    trigger: FlaggedTrigger | None,
    flagged: ArrayLike,
    *,
    source: str = "column",
    confidence: float = DEFAULT_CONFIDENCE,
) -> FlaggedResult:
    """The rate of predictions flagged by people, its Wilson interval, and the flagged trigger's verdict.

    The trigger fires when the rate is strictly above ``max_rate`` and at least
    ``min_count`` predictions were flagged. With fewer than ``min_samples``
    predictions (the trigger's, else 100) the result is ``insufficient`` and
    never fires.

    Parameters
    ----------
    trigger : FlaggedTrigger or None
        None reports the rate without judging it.
    flagged : array-like of bool, 1-D
        One entry per prediction of the window: True when a person flagged it.
    source : str
        Where the flags came from (reported as is).
    confidence : float in (0, 1)
        Level of the Wilson interval.

    Returns
    -------
    FlaggedResult
    """
    flags = flag_values(flagged)
    n, count = flags.size, int(flags.sum())
    min_samples = trigger.min_samples if trigger is not None else DEFAULT_MIN_SAMPLES
    result = FlaggedResult(
        enabled=trigger is not None,
        n=n,
        count=count,
        rate=count / n if n else None,
        ci=wilson_interval(count, n, confidence) if n else None,
        confidence=confidence,
        max_rate=trigger.max_rate if trigger is not None else None,
        min_samples=min_samples,
        min_count=trigger.min_count if trigger is not None else None,
        source=source,
    )
    if n < min_samples:
        result.insufficient = True
        result.reason = f"insufficient data: {n} predictions < min_samples {min_samples}"
        return result
    if trigger is None or result.rate is None:
        return result
    if result.rate > trigger.max_rate and count >= trigger.min_count:
        result.triggered = True
        result.reason = f"flagged rate {result.rate:.4g} > {trigger.max_rate:.4g} ({count} of {n} predictions flagged)"
    return result


# ------------------------------------------------------------------------------------------- inputs
def _require(frame: pd.DataFrame, columns: list[str], label: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        noun = "column" if len(absent) == 1 else "columns"
        raise SchemaMismatch(f"{label} is missing {noun} {', '.join(repr(c) for c in absent)}", missing=absent)


def _parse_class(text: str, like: np.ndarray) -> Any:
    """A class label from a column-name suffix, in the type of the logged labels ``like``."""
    if like.dtype.kind == "b" or (like.dtype == object and like.size and isinstance(like[0], bool | np.bool_)):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    if like.dtype.kind in "iuf" or (
        like.dtype == object and like.size and isinstance(like[0], int | float | np.number)
    ):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    return text


def probability_columns(frame: pd.DataFrame, prefix: str, like: ArrayLike) -> tuple[list[str], list[Any]]:
    """The class-probability columns of an inference log and their classes.

    A column ``<prefix><class>`` holds the probability of ``<class>``; the class
    is parsed into the type of the logged labels ``like`` (``proba_1`` is the
    class ``1`` of integer labels, ``proba_yes`` the class ``"yes"``). The
    columns are returned in sorted class order.

    Returns
    -------
    columns, classes : list
        Empty lists when the log has no such column.
    """
    sample = _as_1d(like, "like")
    found = [(c, _parse_class(str(c)[len(prefix) :], sample)) for c in frame.columns if str(c).startswith(prefix)]
    try:
        found.sort(key=lambda item: item[1])
    except TypeError:
        found.sort(key=lambda item: str(item[1]))
    return [c for c, _ in found], [label for _, label in found]


def join_labels(
    inference: pd.DataFrame, labels: pd.DataFrame, *, id_column: str, target: str
) -> tuple[pd.DataFrame, float]:
    """Attach delayed ground-truth labels to logged predictions.

    Labels with a missing id or a missing target value are ignored; when an id
    has several labels the last one (in row order) wins. Inference rows with a
    missing id never match but count in the match rate's denominator. The join is an inner join on
    ``id_column`` that keeps the order of ``inference``; an inference column
    named like ``target`` is replaced by the label.

    Parameters
    ----------
    inference : pandas.DataFrame
        Logged predictions, with ``id_column``.
    labels : pandas.DataFrame
        Ground truth, with ``id_column`` and ``target``.
    id_column : str
        Name of the request id column in both frames.
    target : str
        Name of the label column in ``labels``.

    Returns
    -------
    joined : pandas.DataFrame
        The matched inference rows (all their columns) plus ``target``, with a
        fresh index.
    match_rate : float
        Matched inference rows / inference rows, in [0, 1]; 0.0 when
        ``inference`` is empty.

    Raises
    ------
    SchemaMismatch
        If ``inference`` lacks ``id_column``, ``labels`` lacks ``id_column`` or
        ``target`` (the message names the column and the frame), or the id
        columns cannot be joined (incompatible types).
    ValueError
        If ``target`` equals ``id_column``.
    """
    if target == id_column:
        raise ValueError(f"target == {target!r}, must differ from id_column.")
    _require(inference, [id_column], "inference")
    _require(labels, [id_column, target], "labels")
    truth = labels.loc[labels[id_column].notna() & labels[target].notna(), [id_column, target]]
    truth = truth.drop_duplicates(subset=id_column, keep="last")
    left = inference.drop(columns=[target]) if target in inference.columns and target != id_column else inference
    try:
        joined = left.loc[left[id_column].notna()].merge(
            truth, on=id_column, how="inner", validate="many_to_one", sort=False
        )
    except ValueError as exc:
        raise SchemaMismatch(
            f"cannot join on {id_column!r}: dtype {inference[id_column].dtype} in inference "
            f"but {labels[id_column].dtype} in labels ({exc})"
        ) from exc
    match_rate = len(joined) / len(inference) if len(inference) else 0.0
    return joined.reset_index(drop=True), match_rate


#: At most this many label values or classes are listed in a message.
_SHOWN = 10


@dataclass(frozen=True)
class AlignedLabels:
    """Labels of joined predictions, typed as the model's predictions are (see :func:`align_labels`).

    ``values`` holds one label per row. ``unseen`` lists, sorted, the classification
    labels that match none of the model's classes (new classes, scored as misses),
    ``unseen_rows`` counts their rows and ``classes`` are the classes they were matched against.
    """

    values: np.ndarray
    unseen: list[Any] = field(default_factory=list)
    unseen_rows: int = 0
    classes: list[Any] = field(default_factory=list)


def align_labels(
    problem: Problem,
    labels: ArrayLike,
    predictions: ArrayLike,
    *,
    classes: Sequence[Any] | None = None,
    column: str,
    model: str = "the champion",
    step: str = "MetricCheck",
) -> AlignedLabels:
    """Check delayed labels against the model that made the predictions, and type them as its predictions.

    Regression: every label must be a finite number (a boolean counts as 0 or 1).

    Classification: each label is matched to one of the model's classes by
    value, so that the spellings of a class are one class: ``1``, ``1.0``,
    ``"1"`` and ``"1.0"`` are the class ``1`` (or ``"1"``, or ``1.0``, whichever
    the model has), ``True`` and ``"true"`` are ``1`` (or ``True``); a matched
    label takes the class's value and type. The model's classes are ``classes``
    (the classes of its logged probability columns: every class it knows) and
    every predicted label; without ``classes``, only the predicted ones. A label
    that matches no class is *unseen*:

    - unseen labels of the other kind than the classes (text labels for a model
      whose classes are all numbers or booleans, or numbers for one whose classes
      are all text), or every label unseen while ``classes`` are given: the labels
      are encoded differently, a :class:`~retrain.errors.SchemaMismatch`;
    - otherwise a new class appeared. Its rows are kept and scored (the model
      cannot predict a class it never saw: each is a miss), the labels are returned
      in ``unseen`` for the caller to report. A new class is a reason to retrain,
      not to stop monitoring.

    Parameters
    ----------
    problem : {"classification", "regression"}
    labels : array-like, 1-D
        The joined labels (no missing values: :func:`join_labels` drops them).
    predictions : array-like, 1-D
        The model's predictions of the same rows.
    classes : sequence, optional
        Every class the model knows (e.g. from :func:`probability_columns`).
    column : str
        The labels' column, for messages.
    model : str
        Names the model in messages (``"v3"``, ``"the champion"``).
    step : str
        Names the step in messages.

    Returns
    -------
    AlignedLabels

    Raises
    ------
    SchemaMismatch
        Regression labels that are not numbers or are infinite (the message names
        the column, the step and an example); classification labels encoded
        differently from the model's classes (it names the labels, the model and
        its classes).
    """
    _check_problem(problem)
    values = _as_1d(labels, "labels")
    if problem == "regression":
        return AlignedLabels(values=_regression_labels(values, column, step))
    predicted = _as_1d(predictions, "predictions")
    candidates = [*(classes or []), *pd.unique(predicted[~pd.isna(predicted)])]
    by_key: dict[str, Any] = {}
    for value in candidates:
        by_key.setdefault(_class_key(value), _plain(value))
    codes, uniques = pd.factorize(values)
    if (codes < 0).any():
        raise ValueError(f"labels contain {int((codes < 0).sum())} missing values.")
    keys = [_class_key(value) for value in uniques]
    unseen_codes = [i for i, key in enumerate(keys) if key not in by_key]
    known = _sorted_labels(by_key.values())
    if not unseen_codes:
        mapped = [by_key[key] for key in keys]
        return AlignedLabels(values=_take(mapped, codes), classes=known)
    class_kind = _kind_of(by_key)
    unseen_rows = int(np.isin(codes, unseen_codes).sum())
    unseen_keys = {keys[i]: _plain(uniques[i]) for i in unseen_codes}
    foreign = [key for key in unseen_keys if not _fits(_kind_of([key]), class_kind)]
    everything = unseen_rows == values.size and classes is not None and len(classes) > 0
    if foreign or everything:
        named = foreign or list(unseen_keys)
        shown = _sorted_labels(unseen_keys[key] for key in named)
        named_rows = int(np.isin(codes, [keys.index(key) for key in named]).sum())
        knows = "knows" if classes else "predicted only"
        hint = "are the labels encoded differently?"
        if foreign:
            why = f"the labels are {_kind_of(foreign)} but its classes are {class_kind}"
            if _kind_of(foreign) == "fractional numbers":
                hint = "are they continuous values (a regression target)?"
        else:
            why = f"none of the {values.size} labelled predictions has a label it knows"
        raise SchemaMismatch(
            f"{step} step: labels {_listed(shown)} in column {column!r} were never seen by {model}, which {knows} "
            f"{_listed(known)}{'' if classes else ' in this window'}: {why} - {hint} "
            f"({named_rows} of {values.size} labels)"
        )
    mapped = [by_key[key] if key in by_key else _as_kind(key, unseen_keys[key], class_kind) for key in keys]
    new = _sorted_labels(_as_kind(key, unseen_keys[key], class_kind) for key in unseen_keys)
    return AlignedLabels(values=_take(mapped, codes), unseen=new, unseen_rows=unseen_rows, classes=known)


def _regression_labels(values: np.ndarray, column: str, step: str) -> np.ndarray:
    """Regression labels as float64; a label that is not a finite number raises SchemaMismatch."""
    array, bad = numbers(pd.Series(values))
    if bad.any():
        raise SchemaMismatch(
            f"{step} step: labels column {column!r} must be numeric for a regression model, found "
            f"{_plain(values[bad][0])!r} ({int(bad.sum())} non-numeric of {values.size} labels)"
        )
    infinite = int(np.isinf(array).sum())
    if infinite:
        raise SchemaMismatch(
            f"{step} step: labels column {column!r} holds {infinite} infinite values; "
            "a regression label must be a finite number"
        )
    return array


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _class_key(value: Any) -> str:
    """What every spelling of a class shares: ``1``, ``1.0``, ``"1"``, ``True``, ``"true"`` -> ``"1"``."""
    if isinstance(value, bool | np.bool_ | int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return float_label(float(value))
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return "1" if text.lower() == "true" else "0"
    try:
        number = float(text)
    except ValueError:
        return text
    return float_label(number) if math.isfinite(number) else text


def _isfloat_label(key: str) -> bool:
    try:
        float(key)
    except ValueError:
        return False
    return True


def _kind_of(keys: Any) -> str:
    """The kind of some class keys: ``"whole numbers"``, ``"fractional numbers"``, ``"numbers"`` (both), ``"text"``
    or ``"mixed"`` (text and numbers)."""
    kinds = {
        ("whole numbers" if float(key).is_integer() else "fractional numbers") if _isfloat_label(key) else "text"
        for key in keys
    }
    if len(kinds) == 1:
        return kinds.pop()
    return "mixed" if "text" in kinds else "numbers"


def _fits(label_kind: str, class_kind: str) -> bool:
    """Whether an unseen label of ``label_kind`` can be a new class of a model whose classes are ``class_kind``."""
    if class_kind == "mixed":
        return True
    if class_kind == "numbers":
        return label_kind != "text"
    return label_kind == class_kind


def _as_kind(key: str, value: Any, class_kind: str) -> Any:
    """An unseen label in the kind of the model's classes: a number for numbered classes, else text."""
    if class_kind.endswith("numbers"):
        number = float(key)
        return int(number) if number.is_integer() else number
    if class_kind == "text":
        return str(value).strip()
    return value


def _label_order(value: Any) -> tuple[int, float, str]:
    key = _class_key(value)
    return (0, float(key), "") if _isfloat_label(key) else (1, 0.0, str(value))


def _sorted_labels(values: Any) -> list[Any]:
    """Labels in order: numbers by value, then text."""
    return sorted(values, key=_label_order)


def _listed(values: list[Any]) -> str:
    """``[0, 1]``, or the first :data:`_SHOWN` and how many in all."""
    if len(values) <= _SHOWN:
        return repr(values)
    return f"{values[:_SHOWN]!r}"[:-1] + f", ... ({len(values)} in all)]"


def _take(mapped: list[Any], codes: np.ndarray) -> np.ndarray:
    """``mapped[code]`` for every row: numbers or text as numpy types them, text and numbers mixed as objects."""
    text = [isinstance(value, str) for value in mapped]
    if mapped and (all(text) or not any(text)):
        return np.asarray(mapped)[codes]
    array = np.empty(len(mapped), dtype=object)
    array[:] = mapped
    return array[codes]


__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_RESAMPLES",
    "AlignedLabels",
    "EstimatedResult",
    "FlaggedResult",
    "Interval",
    "MetricsReport",
    "PerformanceResult",
    "align_labels",
    "compute_metrics",
    "estimate_performance",
    "evaluate_estimated",
    "evaluate_flagged",
    "evaluate_performance",
    "flag_values",
    "join_labels",
    "probability_columns",
    "realized_performance",
    "wilson_interval",
]
