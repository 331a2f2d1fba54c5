"""The model-quality triggers: the performance, estimated-performance and flagged-rate verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retrain.config import EstimatedTrigger, FlaggedTrigger, PerformanceTrigger, Problem, signal_metrics_for
from retrain.errors import SchemaMismatch
from retrain.metrics.calibration import Calibration
from retrain.metrics.compute import estimate_performance, flag_values, realized_performance, wilson_interval
from retrain.metrics.engine import as_1d, check_problem
from retrain.metrics.loss import LossModel, estimate_losses
from retrain.metrics.results import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_SAMPLES,
    DEFAULT_RESAMPLES,
    EstimatedResult,
    FlaggedResult,
    Interval,
    MetricsResult,
    PerformanceResult,
)


def _judge(
    trigger: PerformanceTrigger | EstimatedTrigger, value: float | None, interval: Interval | None, label: str
) -> tuple[float | None, bool, str | None]:
    """The value compared with the threshold, whether it crosses it, and the reason (when it fires or cannot judge)."""
    if value is None:
        return None, False, None
    judged = value
    if trigger.use != "estimate":
        if interval is None:
            return None, False, f"{label} has no confidence interval to judge by {trigger.use}"
        judged = interval.lower if trigger.use == "ci_lower" else interval.upper
    below = trigger.direction == "min"
    fired = judged < trigger.threshold if below else judged > trigger.threshold
    if not fired:
        return judged, False, None
    sign = "<" if below else ">"
    if trigger.use == "estimate":
        return judged, True, f"{label} {value:.4g} {sign} {trigger.threshold:.4g}"
    assert interval is not None
    side = "lower" if trigger.use == "ci_lower" else "upper"
    return (
        judged,
        True,
        f"{label} CI {side} bound {judged:.4g} {sign} {trigger.threshold:.4g} "
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
    lower or upper bound of the interval) with its threshold: it fires when that
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
    check_problem(problem)
    known = signal_metrics_for(problem)
    if trigger.metric not in known:
        raise ValueError(f"trigger metric {trigger.metric!r} is not a {problem} metric ({', '.join(known)}).")
    if not 0.0 <= match_rate <= 1.0:
        raise ValueError(f"match_rate == {match_rate}, must be >= 0 and <= 1.")
    true, pred = as_1d(y_true, "y_true"), as_1d(y_pred, "y_pred")
    n = true.size
    report = MetricsResult(n=n, confidence=confidence, resamples=resamples)
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
    fired = False
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
        judged, fired, reason = _judge(trigger, value, report.ci.get(trigger.metric), trigger.metric)
        insufficient = judged is None
    return PerformanceResult(
        metric=trigger.metric,
        value=value,
        threshold=trigger.threshold,
        direction=trigger.direction,
        use=trigger.use,
        statistic=judged,
        n=n,
        match_rate=match_rate,
        metrics=report.values,
        ci=report.ci,
        confidence=report.confidence,
        unavailable=report.unavailable,
        fired=fired,
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
    calibration: Calibration | None = None,
    loss_model: LossModel | None = None,
    features: pd.DataFrame | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> EstimatedResult:
    """Estimate the window's performance without labels and judge it.

    A classifier's metrics come from its class probabilities (CBPE, see
    :func:`estimate_performance`), first mapped through the champion's
    ``calibration`` when it has one; the result says which calibration was used.
    A regression model's MAE and RMSE come from its ``loss_model`` (DLE, see
    :func:`retrain.metrics.loss.estimate_losses`) applied to the window's
    ``features`` and predictions. Without probabilities, or without a loss model
    or a feature it needs, there is no estimate (``available`` False, with a
    ``note``). With fewer than ``min_samples`` predictions (the trigger's, else
    100) the estimate is reported but ``insufficient``. An enabled trigger fires
    as the performance trigger does, on the estimate or a bound of its interval;
    an unavailable estimate never fires.

    Raises
    ------
    ValueError
        As :func:`estimate_performance`.
    """
    check_problem(problem)
    pred = as_1d(y_pred, "y_pred")
    n = pred.size
    result = EstimatedResult(
        available=False,
        enabled=trigger is not None,
        n=n,
        confidence=confidence,
        min_samples=trigger.min_samples if trigger is not None else DEFAULT_MIN_SAMPLES,
        method="cbpe" if problem == "classification" else "dle",
    )
    if trigger is not None:
        result.metric, result.threshold, result.direction, result.use = (
            trigger.metric,
            trigger.threshold,
            trigger.direction,
            trigger.use,
        )
    if n == 0:
        return _without_estimate(result, "no predictions")
    common: dict[str, Any] = {"confidence": confidence, "resamples": resamples, "seed": seed}
    if problem == "regression":
        if loss_model is None:
            return _without_estimate(
                result,
                "the champion has no loss model (a version trained before regression "
                "estimates, or its holdout was too small); the next version fits one",
            )
        if features is None:
            return _without_estimate(result, "the window has no feature columns")
        try:
            report = estimate_losses(loss_model, features, pred, **common)
        except SchemaMismatch as exc:
            return _without_estimate(result, str(exc))
    else:
        if proba is None or classes is None:
            return _without_estimate(result, "the inference log has no class probabilities")
        matrix = np.asarray(proba, dtype=np.float64)
        if calibration is not None:
            matrix, result.calibration, result.calibration_reason = calibrated(calibration, matrix, classes)
        report = estimate_performance(pred, matrix, classes, pos_label=pos_label, **common)
    if not report.values:
        return _without_estimate(result, next(iter(report.unavailable.values()), "no estimate"))
    result.available, result.metrics, result.ci = True, report.values, report.ci
    if n < result.min_samples:
        result.insufficient = True
        result.reason = f"insufficient data: {n} predictions < min_samples {result.min_samples}"
    elif trigger is not None:
        result.value = report.values.get(trigger.metric)
        label = f"estimated {trigger.metric}"
        result.statistic, result.fired, result.reason = _judge(
            trigger, result.value, report.ci.get(trigger.metric), label
        )
        result.insufficient = result.statistic is None
        if result.value is None:
            result.reason = f"insufficient data: {label} unavailable"
    return result


def calibrated(calibration: Calibration, proba: np.ndarray, classes: Sequence[Any]) -> tuple[np.ndarray, str, str]:
    """The window's class probabilities through the champion's calibration, which calibration, and why.

    The log's columns are matched to the calibration's classes by class key,
    whatever their order. A log whose classes differ from the calibration's is
    estimated uncalibrated, and the reason says so.
    """
    try:
        out = calibration.apply(proba, classes)
    except ValueError as exc:
        return proba, "none", f"not applied: {exc}"
    return out, calibration.method, calibration.reason


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
        result.fired = True
        result.reason = f"flagged rate {result.rate:.4g} > {trigger.max_rate:.4g} ({count} of {n} predictions flagged)"
    return result
