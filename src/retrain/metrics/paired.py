"""One metric of two models on the same rows: scores on row selections and the paired bootstrap of the difference.

Validation compares a candidate with the champion on one holdout. Both models
are scored by the metric engine (:mod:`retrain.metrics.engine`), from row
weights: a column of ones scores every row (the value of
:func:`~retrain.metrics.compute_metrics`), a 0/1 column scores a slice, and a
column of bootstrap counts scores a resample. The same resample weights applied
to both models give the *paired* difference: the rows drawn are the same for
both, so the interval reflects how the two models differ, not how hard the
drawn rows happen to be.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from retrain.config import Problem, metrics_for
from retrain.metrics.encodings import label_stat, regression_stat
from retrain.metrics.engine import BLOCK_CELLS, check_ci, check_problem, evaluate, pair, resample_weights

#: A metric of fixed rows as a function of row weights: ``(n, b)`` weights to ``(b,)`` values.
Scorer = Callable[[np.ndarray], np.ndarray]


def metric_scorer(problem: Problem, metric: str, y_true: ArrayLike, y_pred: ArrayLike) -> Scorer:
    """``metric`` of ``y_pred`` against ``y_true`` on any weighting of the rows.

    The labels of a classification problem are fixed by all the rows, as
    :func:`~retrain.metrics.compute_metrics` sees them: with at most two labels
    in the union of true and predicted labels, precision, recall and F1 score
    the largest; with more they are macro averages over that union. So a
    weight of one on every row gives ``compute_metrics``' value, and a slice or
    a resample is scored with the same labels.

    Raises
    ------
    ValueError
        An unknown problem or metric, or invalid values (see :func:`~retrain.metrics.compute_metrics`).
    InsufficientData
        No rows.
    """
    check_problem(problem)
    if metric not in metrics_for(problem):
        raise ValueError(f"metric == {metric!r}, must be one of {', '.join(metrics_for(problem))}.")
    true, pred = pair(y_true, y_pred)
    stat = label_stat(true, pred, None) if problem == "classification" else regression_stat(true, pred, (metric,))

    def score(weights: np.ndarray) -> np.ndarray:
        return evaluate(stat, weights)[metric]

    return score


def paired_differences(
    first: Scorer, second: Scorer, n: int, *, resamples: int, confidence: float, seed: int
) -> tuple[float, float, float, float]:
    """Both scorers' values on all ``n`` rows and the percentile interval of ``first - second`` over resamples.

    Resample ``b`` is row ``b`` of ``numpy.random.default_rng(seed).integers(0, n,
    size=(resamples, n))`` as row counts (drawn in blocks that bound memory; the
    draws are the same). The interval's ends are numpy's default (linear)
    quantiles ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` of the
    resampled differences.

    Returns
    -------
    first_value, second_value, low, high : float
    """
    check_ci(confidence, resamples)
    ones = np.ones((n, 1))
    first_value, second_value = float(first(ones)[0]), float(second(ones)[0])
    differences = np.concatenate([first(w) - second(w) for w in resample_weights(n, resamples, seed)])
    low, high = np.quantile(differences, [(1 - confidence) / 2, (1 + confidence) / 2])
    return first_value, second_value, float(low), float(high)


def selection_scores(scorer: Scorer, selections: list[np.ndarray], n: int) -> np.ndarray:
    """The scorer's value on each selection of row positions (a slice), one weight column per selection.

    The 0/1 weight columns are built in blocks of at most ``BLOCK_CELLS`` cells, so many small
    selections of a large holdout never hold one ``(n, selections)`` matrix.
    """
    scores = np.empty(len(selections), dtype=np.float64)
    per_block = max(1, BLOCK_CELLS // max(n, 1))
    for start in range(0, len(selections), per_block):
        block = selections[start : start + per_block]
        weights = np.zeros((n, len(block)), dtype=np.float64)
        for column, rows in enumerate(block):
            weights[rows, column] = 1.0
        scores[start : start + len(block)] = scorer(weights)
    return scores
