"""Prediction drift and the prediction difference rate.

Prediction drift compares the distribution of the champion's outputs in the
current window (its classes, its scores or its regression values) with their
reference distribution, recorded when the champion was trained: the same
significance-and-effect verdict as a feature (:mod:`retrain.drift.univariate`).

The prediction difference rate is the share of current rows on which the
champion and the latest candidate disagree (regression: differ by more than a
tolerance). It says how differently the two models would serve today's
traffic.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import BaseModel

from retrain.config import DriftFeature, DriftMethod, Problem
from retrain.drift.merge import WindowCategorical, WindowColumn, WindowNumeric, WindowProfile
from retrain.drift.profile import ColumnProfile, NumericProfile, ReferenceProfile
from retrain.drift.univariate import FeatureDrift, detect_drift
from retrain.frames import check_scalar
from retrain.metrics.difference import differing_rows


class PredictionDriftResult(BaseModel):
    """Drift of the champion's predictions: ``fired`` when ``result`` (the one tested column) drifted."""

    on: str
    result: FeatureDrift | None
    fired: bool
    insufficient: bool
    reason: str | None
    n_reference: int
    n_current: int


class PredictionDifferenceResult(BaseModel):
    """How often champion and candidate disagree on the current window."""

    rate: float | None
    n: int
    n_different: int
    tolerance: float
    max_rate: float
    fired: bool
    insufficient: bool
    reason: str | None
    champion_version: int | None = None
    candidate_version: int | None = None


def prediction_drift(
    reference: ColumnProfile,
    current: pd.Series | np.ndarray | WindowColumn,
    *,
    on: str = "prediction",
    method: DriftMethod = "auto",
    threshold: float | None = None,
    p_value: float = 0.05,
    bins: int = 10,
    min_samples: int = 100,
) -> PredictionDriftResult:
    """Drift of predictions against their reference distribution.

    Parameters
    ----------
    reference : NumericProfile or CategoricalProfile
        The reference distribution (classes are categorical; scores and regression values numeric).
    current : pandas.Series, numpy.ndarray, WindowNumeric or WindowCategorical
        The current window's predictions, or their profile (a window profiled in partitions,
        :mod:`retrain.drift.merge`; of the reference's kind, else ``ValueError``).
    on : str, default "prediction"
        What is compared (``prediction`` or ``score``), for the report.
    method, threshold, p_value, bins, min_samples
        As for a feature in :func:`~retrain.drift.univariate.detect_drift` (no
        correction: one test, at level ``p_value``).

    Returns
    -------
    PredictionDriftResult
    """
    profile = ReferenceProfile(columns={on: reference}, n_rows=reference.n_rows, schema={})
    numeric = [on] if isinstance(reference, NumericProfile) else []
    categorical = [] if numeric else [on]
    window: pd.DataFrame | WindowProfile
    if isinstance(current, WindowNumeric | WindowCategorical):
        if current.kind != ("numeric" if numeric else "categorical"):
            raise ValueError(f"current is a {current.kind} profile, the reference of {on!r} is not.")
        kind = "float" if isinstance(current, WindowNumeric) else "text"
        window, n_current = WindowProfile({on: current}, current.n_rows, {on: kind}), current.n_rows
    else:
        series = current if isinstance(current, pd.Series) else pd.Series(np.asarray(current))
        window, n_current = pd.DataFrame({on: series.reset_index(drop=True)}), len(series)
    report = detect_drift(
        profile,
        window,
        numeric=numeric,
        categorical=categorical,
        p_value=p_value,
        share=1.0,
        min_samples=min_samples,
        bins=bins,
        features={on: DriftFeature(method=method, threshold=threshold)},
        importance_share=None,
    )
    result = report.features.get(on)
    reason = None
    if report.insufficient:
        reason = report.reason
    elif result is not None and result.fired:
        reason = (
            f"{on} drift: {result.method} {result.effect:.3g} >= {result.threshold:g} "
            f"({result.test} p {result.p_value_adjusted:.2g})"
        )
    return PredictionDriftResult(
        on=on,
        result=result,
        fired=bool(result is not None and result.fired),
        insufficient=report.insufficient,
        reason=reason,
        n_reference=reference.n_rows,
        n_current=n_current,
    )


def prediction_difference(
    champion: ArrayLike,
    candidate: ArrayLike,
    *,
    problem: Problem,
    tolerance: float = 0.0,
    max_rate: float = 0.1,
    min_samples: int = 100,
) -> PredictionDifferenceResult:
    """Share of rows where two models' predictions differ.

    A row differs by the rule of :func:`retrain.metrics.difference.differing_rows`,
    the validation gate's too: classification compares class keys (``1``, ``1.0``
    and ``"1"`` agree); regression agrees within ``tolerance``, or when both
    predictions are missing or non-finite.

    Parameters
    ----------
    champion, candidate : array-like, 1-D, same length
    problem : {"classification", "regression"}
    tolerance : float, default 0
        Regression only: the absolute difference that still counts as agreement.
    max_rate : float, default 0.1
        Rate at which the signal fires, in (0, 1].
    min_samples : int, default 100
        Fewer rows are insufficient data (no verdict).

    Raises
    ------
    ValueError
        Lengths differ, or a parameter is out of range.
    """
    check_scalar(tolerance, "tolerance", Real, min_val=0)
    check_scalar(max_rate, "max_rate", Real, min_val=0, max_val=1, include_boundaries="right")
    check_scalar(min_samples, "min_samples", Integral, min_val=1)
    a, b = np.asarray(champion).ravel(), np.asarray(candidate).ravel()
    if a.size != b.size:
        raise ValueError(f"champion has {a.size} predictions but candidate has {b.size}; they must match.")
    different = differing_rows(problem, a, b, tolerance=tolerance)
    n, n_different = int(a.size), int(different.sum())
    insufficient = n < min_samples
    rate = None if insufficient else n_different / n
    fired = rate is not None and rate >= max_rate
    reason = None
    if insufficient:
        reason = f"insufficient data: {n} rows < min_samples {min_samples}"
    elif fired:
        reason = f"champion and candidate differ on {rate:.1%} of {n} rows (>= {max_rate:.1%})"
    result = {"rate": rate, "n": n, "n_different": n_different, "tolerance": tolerance, "max_rate": max_rate}
    return PredictionDifferenceResult(**result, fired=fired, insufficient=insufficient, reason=reason)
