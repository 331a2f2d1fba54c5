"""The metrics of labelled predictions, their label-free estimate, and the flagged rate."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retrain.config import ESTIMATED_METRICS, Problem, metrics_for
from retrain.errors import InsufficientData, SchemaMismatch
from retrain.metrics.encodings import by_score, check_proba, label_stat, positive_class, proba_stat, regression_stat
from retrain.metrics.engine import (
    Confusion,
    Ranking,
    Stat,
    as_1d,
    check_ci,
    check_problem,
    evaluate,
    label_scores,
    pair,
    roc_auc,
    summarize,
)
from retrain.metrics.results import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, Interval, MetricsResult


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
    check_problem(problem)
    true, pred = pair(y_true, y_pred)
    stat = label_stat(true, pred, pos_label) if problem == "classification" else regression_stat(true, pred)
    values = evaluate(stat, np.ones((true.size, 1)))
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
) -> MetricsResult:
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
    MetricsResult
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
    check_problem(problem)
    check_ci(confidence, resamples)
    true, pred = pair(y_true, y_pred)
    if problem == "regression":
        stat = regression_stat(true, pred)
        return summarize(stat, true.size, confidence=confidence, resamples=resamples, seed=seed)
    unavailable: dict[str, str] = {}
    probability: Stat | str = "the inference log has no class probabilities"
    if proba is not None:
        if classes is None:
            raise ValueError("classes must be given with proba (one label per column).")
        checked = check_proba(proba, classes, true.size)
        if isinstance(checked, str):
            probability = checked
        else:
            order = by_score(*checked, pos_label)
            true, pred, matrix = true[order], pred[order], checked[0][order]
            probability = proba_stat(true, matrix, checked[1], pos_label)
    stats = [label_stat(true, pred, pos_label)]
    if isinstance(probability, str):
        unavailable = dict.fromkeys(("roc_auc", "log_loss", "brier"), probability)
    else:
        stats.append(probability)

    def combined(weights: np.ndarray) -> dict[str, np.ndarray]:
        return {name: values for part in stats for name, values in part(weights).items()}

    return summarize(
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
) -> MetricsResult:
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
    MetricsResult
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
    check_ci(confidence, resamples)
    pred = as_1d(y_pred, "y_pred")
    if pred.size == 0:
        raise InsufficientData("y_pred is empty: no predictions to estimate from")
    checked = check_proba(proba, classes, pred.size)
    if isinstance(checked, str):
        return MetricsResult(
            n=pred.size,
            confidence=confidence,
            resamples=resamples,
            unavailable=dict.fromkeys(ESTIMATED_METRICS, checked),
        )
    order = by_score(*checked, pos_label)
    matrix, index, pred = checked[0][order], checked[1], pred[order]
    p_codes = index.get_indexer(pd.Index(pred))
    unknown = sorted({str(v) for v in pred[p_codes < 0]})
    if unknown:
        why = f"predicted labels {', '.join(unknown)} have no probability column"
        return MetricsResult(
            n=pred.size, confidence=confidence, resamples=resamples, unavailable=dict.fromkeys(ESTIMATED_METRICS, why)
        )
    positive = positive_class(index, pos_label)
    columns = [positive] if positive is not None else list(range(len(index)))
    rankings = [Ranking(matrix[:, c], matrix[:, c]) for c in columns]

    confusion = Confusion(matrix, p_codes)

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        scores = label_scores(confusion(weights), positive)
        scores["roc_auc"] = roc_auc(rankings, weights)
        return {name: scores[name] for name in ESTIMATED_METRICS}

    return summarize(stat, pred.size, confidence=confidence, resamples=resamples, seed=seed)


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
    check_ci(confidence, 1)
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
    array = as_1d(values, name)
    if array.dtype.kind in "biuf":
        return np.nan_to_num(array.astype(np.float64), nan=0.0) != 0
    present = ~pd.isna(array)
    bad = [v for v in array[present] if not isinstance(v, bool | int | float | np.bool_ | np.number)]
    if bad:
        raise SchemaMismatch(f"column {name!r} must hold booleans or 0/1, got {bad[0]!r}", missing=[])
    return np.where(present, array, 0).astype(np.float64) != 0
