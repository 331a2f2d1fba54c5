"""Model-quality metrics on labelled predictions, and the performance trigger.

Pure numpy/pandas: the metrics are a few vectorized lines each, written to
give the same values as scikit-learn's (``zero_division=0``) without paying
scikit-learn's import time at cold start.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import BaseModel

from retrain.config import PerformanceTrigger, Problem, metrics_for
from retrain.errors import InsufficientData, SchemaMismatch

_NUMERIC_KINDS = {"integer", "floating", "boolean", "mixed-integer-float", "decimal"}


class PerformanceResult(BaseModel):
    """Outcome of the performance trigger on one window of labelled predictions."""

    metric: str
    value: float | None
    bound: float
    direction: Literal["min", "max"]
    n: int
    match_rate: float
    metrics: dict[str, float]
    triggered: bool
    insufficient: bool
    reason: str | None


def _check_problem(problem: str) -> None:
    if problem not in ("classification", "regression"):
        raise ValueError(f"problem == {problem!r}, must be 'classification' or 'regression'.")


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
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _classification(true: np.ndarray, pred: np.ndarray, pos_label: Any) -> dict[str, float]:
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
    k = labels.size
    confusion = np.bincount(codes[:n] * k + codes[n : 2 * n], minlength=k * k).reshape(k, k)

    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1).astype(np.float64)  # true count per label
    predicted = confusion.sum(axis=0).astype(np.float64)  # predicted count per label
    if k <= 2:  # binary: score the positive label only
        positive = k - 1 if pos_label is None else int(np.searchsorted(labels, pos_label))
        tp, support, predicted = tp[[positive]], support[[positive]], predicted[[positive]]
    present = confusion.sum(axis=1) > 0
    return {
        "accuracy": float(np.trace(confusion) / n),
        "balanced_accuracy": float(np.mean(np.diag(confusion)[present] / confusion.sum(axis=1)[present])),
        "f1": float(np.mean(_divide(2.0 * tp, support + predicted))),
        "precision": float(np.mean(_divide(tp, predicted))),
        "recall": float(np.mean(_divide(tp, support))),
    }


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


def _regression(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    t = _as_float(true, "y_true")
    p = _as_float(pred, "y_pred")
    squared = (t - p) ** 2
    ss_res = float(squared.sum())
    ss_tot = float(((t - t.mean()) ** 2).sum())
    if ss_tot > 0:
        r2 = 1.0 - ss_res / ss_tot
    else:  # constant y_true: scikit-learn's force_finite=True
        r2 = 1.0 if ss_res == 0 else 0.0
    return {
        "rmse": float(np.sqrt(squared.mean())),
        "mae": float(np.abs(t - p).mean()),
        "r2": r2,
    }


def compute_metrics(
    problem: Problem, y_true: ArrayLike, y_pred: ArrayLike, *, pos_label: Any = None
) -> dict[str, float]:
    """Every quality metric of a problem type, from true and predicted values.

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
        One entry per name in :func:`retrain.config.metrics_for`.

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
    if problem == "classification":
        return _classification(true, pred, pos_label)
    return _regression(true, pred)


def _require(frame: pd.DataFrame, columns: list[str], label: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        noun = "column" if len(absent) == 1 else "columns"
        raise SchemaMismatch(f"{label} is missing {noun} {', '.join(repr(c) for c in absent)}", missing=absent)


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


def evaluate_performance(
    trigger: PerformanceTrigger,
    problem: Problem,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    match_rate: float,
    pos_label: Any = None,
) -> PerformanceResult:
    """Compute every metric and decide whether the performance trigger fires.

    The trigger fires when ``trigger.metric`` is strictly below ``trigger.min``
    (higher-is-better metrics) or strictly above ``trigger.max``
    (lower-is-better). With fewer than ``trigger.min_samples`` labelled rows the
    result is ``insufficient`` and never fires; the metrics are still reported
    when there is at least one row (``value`` is None only with no rows).

    Parameters
    ----------
    trigger : PerformanceTrigger
        The configured metric, bound and minimum sample size.
    problem : {"classification", "regression"}
    y_true, y_pred : array-like, 1-D
        Labels and predictions of the matched rows (see :func:`join_labels`).
    match_rate : float
        Share of predictions that received a label, in [0, 1]; reported as is.
    pos_label : optional
        Positive label of a binary problem (see :func:`compute_metrics`).

    Returns
    -------
    PerformanceResult

    Raises
    ------
    ValueError
        If ``trigger.metric`` is not a metric of ``problem``, ``match_rate`` is
        outside [0, 1], or the inputs are invalid (see :func:`compute_metrics`).
    """
    _check_problem(problem)
    if trigger.metric not in metrics_for(problem):
        known = ", ".join(metrics_for(problem))
        raise ValueError(f"trigger metric {trigger.metric!r} is not a {problem} metric ({known}).")
    if not 0.0 <= match_rate <= 1.0:
        raise ValueError(f"match_rate == {match_rate}, must be >= 0 and <= 1.")
    true, pred = _as_1d(y_true, "y_true"), _as_1d(y_pred, "y_pred")
    n = true.size
    metrics = compute_metrics(problem, true, pred, pos_label=pos_label) if n or pred.size else {}
    value = metrics.get(trigger.metric)
    bound = trigger.bound
    direction: Literal["min", "max"] = "min" if trigger.min is not None else "max"

    insufficient = n < trigger.min_samples
    triggered = False
    reason: str | None = None
    if insufficient:
        reason = f"insufficient data: {n} labelled rows < min_samples {trigger.min_samples}"
    elif value is not None:
        triggered = value < bound if direction == "min" else value > bound
        if triggered:
            reason = f"{trigger.metric} {value:.4g} {'<' if direction == 'min' else '>'} {bound:.4g}"
    return PerformanceResult(
        metric=trigger.metric,
        value=value,
        bound=bound,
        direction=direction,
        n=n,
        match_rate=match_rate,
        metrics=metrics,
        triggered=triggered,
        insufficient=insufficient,
        reason=reason,
    )
