"""Candidate-vs-champion gates (pre-production testing).

A candidate passes when every gate passes. Gates, in order:

- ``"prediction sanity"``: one finite prediction per holdout row; a classifier
  predicts only classes seen in training or in the holdout.
- ``"min <metric>"`` / ``"max <metric>"``: the absolute floors and ceilings of
  ``validation.min`` and ``validation.max``.
- ``"vs champion"``: a paired bootstrap interval of the primary metric's
  difference (candidate - champion) on the very same holdout rows, judged by
  ``validation.compare`` (``better`` by more than δ, or ``not_worse`` by more than δ).
- ``"slice <column>"``: per value of each ``validation.slices`` column, the
  candidate loses at most ``max_drop`` against the champion; small slices are
  skipped and reported.
- ``"prediction difference"``: the share of recent inputs on which candidate
  and champion disagree, under ``validation.max_prediction_difference``.
- ``"latency p95"`` and ``"artifact size"``: under ``validation.max_latency_p95_ms``
  and ``validation.max_artifact_bytes``.

The champion gates exist only when there is a champion (a first model faces
sanity, absolute and budget gates only). The prediction difference, latency and
size gates exist only when their limit is configured; their measurements are
reported in :class:`ValidationResult` either way.

This module is pure: it takes DataFrames, arrays, fitted models and configs,
and returns pydantic models. It never touches AWS.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from threadpoolctl import threadpool_limits

from retrain.config import ModelConfig, Problem, Slices, higher_is_better, metrics_for
from retrain.errors import ConfigError, InsufficientData, SchemaMismatch
from retrain.frames import MISSING, require_columns
from retrain.gates import (
    CHAMPION_GATE,
    DIFFERENCE_GATE,
    EPS,
    LATENCY_GATE,
    SANITY_GATE,
    SIZE_GATE,
    Gate,
    Latency,
    PairedInterval,
    SliceScore,
    bound_gate,
    champion_gate,
    counted,
    difference_gate,
    latency_gate,
    listed,
    size_gate,
    slice_gate,
    slice_gate_name,
)
from retrain.metrics import compute_metrics
from retrain.metrics.difference import difference_rate
from retrain.metrics.engine import check_ci
from retrain.metrics.paired import metric_scorer, paired_differences, selection_scores

#: Most recent inference-log rows the prediction difference is measured on.
RECENT_ROWS = 10_000
#: Single-row prediction calls timed for the latency p95 (after a few untimed warm-up calls).
LATENCY_CALLS = 100

__all__ = [
    "CHAMPION_GATE",
    "DIFFERENCE_GATE",
    "LATENCY_CALLS",
    "LATENCY_GATE",
    "RECENT_ROWS",
    "SANITY_GATE",
    "SIZE_GATE",
    "Gate",
    "Latency",
    "PairedInterval",
    "SliceScore",
    "ValidationResult",
    "measure_latency",
    "paired_bootstrap",
    "slice_gate_name",
    "split_holdout",
    "validate",
]


class ValidationResult(BaseModel):
    """Every gate's outcome, the measurements behind them, and why the candidate failed (if it did)."""

    passed: bool
    gates: list[Gate]
    metric: str
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    n_holdout: int
    reasons: list[str]
    comparison: PairedInterval | None = None
    slices: list[SliceScore] = Field(default_factory=list)
    prediction_difference: float | None = None
    n_recent: int = 0
    latency: Latency | None = None
    artifact_bytes: int | None = None


def split_holdout(df: pd.DataFrame, fraction: float, timestamp_column: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``df`` into (train, holdout), the holdout being the most recent rows.

    Rows are ordered by ``timestamp_column`` when it is given and present (a stable
    sort, so ties keep their order; rows without a timestamp count as oldest),
    otherwise they keep their order. The last ``round(len(df) * fraction)`` rows are
    the holdout. The original index is kept.

    Parameters
    ----------
    df
        The rows to split.
    fraction
        Share of rows held out, in (0, 1).
    timestamp_column
        Column to order by, or None to keep the row order.

    Raises
    ------
    ValueError
        ``fraction`` is not in (0, 1).
    SchemaMismatch
        The timestamp column cannot be read as times or numbers.
    InsufficientData
        Either side of the split would be empty.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction == {fraction!r}, must be > 0 and < 1.")
    n_rows = len(df)
    n_holdout = round(n_rows * fraction)
    if n_holdout < 1 or n_rows - n_holdout < 1:
        raise InsufficientData(
            f"cannot hold out {fraction:g} of {n_rows} rows: need at least 1 training row and 1 holdout row"
        )
    if timestamp_column is not None and timestamp_column in df.columns:
        df = df.iloc[_time_order(df[timestamp_column], timestamp_column)]
    return df.iloc[: n_rows - n_holdout], df.iloc[n_rows - n_holdout :]


# ------------------------------------------------------------------------------------- scoring
def paired_bootstrap(
    problem: Problem,
    metric: str,
    y_true: Any,
    candidate_pred: Any,
    champion_pred: Any,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedInterval:
    """Paired bootstrap interval of ``metric(candidate) - metric(champion)`` on the same rows.

    Each resample draws ``n`` row positions with replacement and scores *both*
    models on those same rows, so the interval reflects only how the two models
    differ, not how hard the sampled rows happen to be. Resample ``b`` is row
    ``b`` of ``numpy.random.default_rng(seed).integers(0, n, size=(resamples, n))``
    (drawn in blocks of rows to bound memory; the draws are the same), applied
    as row counts to both models' statistics by the metric engine
    (:func:`retrain.metrics.paired.paired_differences`). The
    interval is the percentile interval: numpy's default (linear) quantiles
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` of the resampled
    differences.

    Parameters
    ----------
    problem : {"classification", "regression"}
    metric
        One of :func:`retrain.config.metrics_for` ``(problem)``; scored as
        :func:`retrain.metrics.compute_metrics` scores it on every row.
    y_true, candidate_pred, champion_pred : array-like, 1-D
        True values and both models' predictions, aligned row by row, none missing.
    resamples
        Number of bootstrap resamples, >= 1.
    confidence
        Two-sided level of the interval, in (0, 1).
    seed
        Seed of the resampling: the same inputs always give the same interval.

    Returns
    -------
    PairedInterval
        Both point values, their difference (metric unit) and its interval.

    Raises
    ------
    InsufficientData
        No rows.
    ValueError
        An unknown metric, arrays of different lengths, or ``resamples`` or
        ``confidence`` out of range.
    """
    true, candidate, champion = (np.asarray(a) for a in (y_true, candidate_pred, champion_pred))
    n = len(true)
    if len(candidate) != n or len(champion) != n:
        raise ValueError(
            f"y_true has {n} values, candidate_pred {len(candidate)} and champion_pred {len(champion)}; "
            "they must have the same length."
        )
    if n == 0:
        raise InsufficientData("no rows to compare the candidate and the champion on")
    check_ci(confidence, resamples)
    candidate_value, champion_value, low, high = paired_differences(
        metric_scorer(problem, metric, true, candidate),
        metric_scorer(problem, metric, true, champion),
        n,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )
    return PairedInterval(
        metric=metric,
        candidate=candidate_value,
        champion=champion_value,
        difference=candidate_value - champion_value,
        low=low,
        high=high,
        confidence=confidence,
        resamples=resamples,
        n=n,
    )


def measure_latency(
    model: Any,
    features: pd.DataFrame,
    *,
    calls: int = LATENCY_CALLS,
    warmup: int = 3,
    threads: int | None = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> Latency:
    """Time ``model.predict`` on single rows of ``features`` (wall clock), as an online caller would.

    ``calls`` rows are spread evenly over ``features`` (rows repeat when there
    are fewer); each row's one-row frame is built before the clock starts, so
    only the prediction is timed. ``warmup`` untimed calls come first (caches,
    lazy imports). The p50 and p95 are numpy's default (linear) percentiles.

    The native thread pools (OpenMP, BLAS) are limited to ``threads`` while
    timing, as a serving worker usually runs (``OMP_NUM_THREADS=1``): one row
    gains nothing from threads, and idle OpenMP workers spinning on a busy host
    make a single-row call of a tree ensemble 3-30x slower and erratic.
    ``threads=None`` leaves the pools as they are.

    Raises
    ------
    InsufficientData
        ``features`` has no row.
    ValueError
        ``calls`` < 1, ``warmup`` < 0 or ``threads`` < 1.
    """
    if calls < 1:
        raise ValueError(f"calls == {calls!r}, must be >= 1.")
    if warmup < 0:
        raise ValueError(f"warmup == {warmup!r}, must be >= 0.")
    if threads is not None and threads < 1:
        raise ValueError(f"threads == {threads!r}, must be >= 1 or None.")
    if len(features) == 0:
        raise InsufficientData("no rows to time the candidate's predictions on")
    rows = np.linspace(0, len(features) - 1, num=calls).round().astype(int)
    elapsed = np.empty(calls, dtype=np.float64)
    with threadpool_limits(limits=threads):
        for row in rows[:warmup]:
            model.predict(features.iloc[[row]])
        for i, row in enumerate(rows):
            one = features.iloc[[row]]
            started = clock()
            model.predict(one)
            elapsed[i] = (clock() - started) * 1000.0
    return Latency(p50_ms=float(np.percentile(elapsed, 50)), p95_ms=float(np.percentile(elapsed, 95)), calls=calls)


# -------------------------------------------------------------------------------------- gates
def validate(
    config: ModelConfig,
    holdout: pd.DataFrame,
    candidate_pred: np.ndarray,
    champion_pred: np.ndarray | None,
    *,
    classes: Sequence[Any] | None = None,
    recent: tuple[np.ndarray, np.ndarray] | None = None,
    latency: Latency | None = None,
    artifact_bytes: int | None = None,
) -> ValidationResult:
    """Run the candidate's gates (see the module's docstring for the list and order).

    Holdout rows without a target are left out of the metrics and slices.

    ``"vs champion"`` compares the primary metric (``config.primary_metric``)
    with :func:`paired_bootstrap` (``validation.compare``'s ``resamples``,
    ``confidence`` and ``seed``). Reading the interval of ``candidate -
    champion`` in the metric's direction, ``better`` needs its worse end to lie
    above ``+delta`` and ``not_worse`` above ``-delta``. The gate's ``value`` is
    the point difference, ``low``/``high`` its interval, and ``limit`` the bound
    the interval's worse end is held to (``+delta`` or ``-delta``, sign flipped
    for lower-is-better metrics).

    Parameters
    ----------
    config
        The model's config.
    holdout
        Holdout rows, holding ``config.target`` and the slice columns.
    candidate_pred, champion_pred
        Predictions on ``holdout``, row for row; ``champion_pred`` is None for a
        first model.
    classes
        The classes the candidate was trained on (a classifier's ``classes_``);
        with the holdout's labels, the only classes it may predict.
    recent
        ``(candidate, champion)`` predictions on recent inputs, for the
        prediction difference (empty arrays: no recent inputs; None: not measured).
    latency
        The candidate's single-row latency (see :func:`measure_latency`), or None if not measured.
    artifact_bytes
        Size of the candidate's stored artifact, or None if not measured.

    Returns
    -------
    ValidationResult
        ``passed`` is True when every gate passed; ``reasons`` holds one line per failed gate.

    Raises
    ------
    ConfigError
        The primary metric needs more than predicted labels (e.g. a ``roc_auc``
        performance trigger without a ``validation.metric``).
    SchemaMismatch
        The holdout lacks the target column or a slice column.
    InsufficientData
        No holdout row has a target.
    ValueError
        ``champion_pred`` does not hold one finite prediction per holdout row.
    """
    y_all, labelled = _targets(config, holdout)
    n_holdout = int(labelled.sum())
    y_true = y_all[labelled]
    metric = config.primary_metric
    spec = config.validation

    champion: np.ndarray | None = None
    champion_metrics: dict[str, float] | None = None
    if champion_pred is not None:
        problem = _prediction_problem(champion_pred, len(y_all))
        if problem is not None:
            raise ValueError(f"champion_pred: {problem}")
        champion = np.asarray(champion_pred)[labelled]
        champion_metrics = _metrics(config, y_true, champion)

    sanity = _sanity_gate(config, candidate_pred, y_true, classes, len(y_all))
    gates = [sanity]
    candidate: np.ndarray | None = None
    candidate_metrics: dict[str, float] = {}
    if sanity.passed:
        candidate = np.asarray(candidate_pred)[labelled]
        candidate_metrics = _metrics(config, y_true, candidate)
    for name, limit in spec.min.items():
        gates.append(bound_gate(f"min {name}", candidate_metrics.get(name), limit, at_least=True))
    for name, limit in spec.max.items():
        gates.append(bound_gate(f"max {name}", candidate_metrics.get(name), limit, at_least=False))

    comparison: PairedInterval | None = None
    slices: list[SliceScore] = []
    if champion is not None:
        if candidate is not None:
            comparison = paired_bootstrap(
                config.problem,
                metric,
                y_true,
                candidate,
                champion,
                resamples=spec.compare.resamples,
                confidence=spec.compare.confidence,
                seed=spec.compare.seed,
            )
        gates.append(champion_gate(spec.compare, metric, comparison, up=higher_is_better(metric)))
        if spec.slices is not None:
            slice_gates, slices = _slice_gates(config, spec.slices, holdout, labelled, y_true, candidate, champion)
            gates.extend(slice_gates)

    difference: float | None = None
    n_recent = 0
    if champion is not None and recent is not None:
        n_recent = len(recent[0])
        difference = difference_rate(
            config.problem, recent[0], recent[1], tolerance=spec.prediction_difference_tolerance
        )
    if champion is not None and spec.max_prediction_difference is not None:
        gates.append(difference_gate(config, spec.max_prediction_difference, difference, n_recent, recent is None))
    if spec.max_latency_p95_ms is not None:
        gates.append(latency_gate(latency, spec.max_latency_p95_ms))
    if spec.max_artifact_bytes is not None:
        gates.append(size_gate(artifact_bytes, spec.max_artifact_bytes))

    return ValidationResult(
        passed=all(gate.passed for gate in gates),
        gates=gates,
        metric=metric,
        candidate_metrics=candidate_metrics,
        champion_metrics=champion_metrics,
        n_holdout=n_holdout,
        reasons=[f"{gate.name}: {gate.detail}" for gate in gates if not gate.passed],
        comparison=comparison,
        slices=slices,
        prediction_difference=difference,
        n_recent=n_recent,
        latency=latency,
        artifact_bytes=artifact_bytes,
    )


def _targets(config: ModelConfig, holdout: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The holdout's target column and its labelled-row mask, after checking validation can score them."""
    if config.primary_metric not in metrics_for(config.problem):
        raise ConfigError(
            f"validation.metric: the primary metric {config.primary_metric!r} cannot be computed from predicted "
            f"labels on the holdout; set validation.metric to one of {', '.join(metrics_for(config.problem))}"
        )
    require_columns(holdout, [config.target], what="holdout", role="target")
    y_all = holdout[config.target].to_numpy()
    labelled = ~pd.isna(y_all)
    if not labelled.any():
        raise InsufficientData(f"holdout has no row with a target ({config.target!r}), out of {len(y_all)}")
    return y_all, labelled


def _time_order(column: pd.Series, name: str) -> np.ndarray:
    """Row positions ordered by time: rows without a time first (as oldest), then a stable sort."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        key = column
    else:
        try:
            key = pd.to_datetime(column, utc=True, format="mixed")
        except (ValueError, TypeError) as exc:
            raise SchemaMismatch(f"timestamp column {name!r} cannot be read as times: {exc}") from exc
    missing = key.isna().to_numpy()
    present = np.flatnonzero(~missing)
    by_time = present[np.argsort(key.to_numpy()[present], kind="stable")]
    return np.concatenate([np.flatnonzero(missing), by_time])


def _prediction_problem(pred: np.ndarray, n_rows: int) -> str | None:
    """Why ``pred`` is not one valid prediction per row, or None when it is."""
    values = np.asarray(pred)
    if values.ndim != 1:
        return f"expected a 1-D array, got shape {values.shape}"
    if len(values) != n_rows:
        return f"{len(values)} predictions for {n_rows} holdout rows"
    missing = pd.isna(values)
    if values.dtype.kind in "fc":
        missing = missing | ~np.isfinite(values)
    n_bad = int(missing.sum())
    if n_bad:
        return f"{n_bad} of {n_rows} predictions are missing or not finite"
    return None


def _unexpected_classes(pred: np.ndarray, y_true: np.ndarray, classes: Sequence[Any] | None) -> str | None:
    """Why a classifier's predictions hold a class seen neither in training nor in the holdout, or None."""
    expected = set(pd.unique(np.asarray(y_true, dtype=object)).tolist())
    if classes is not None:
        expected |= set(np.asarray(classes, dtype=object).tolist())
    unexpected = sorted((v for v in pd.unique(np.asarray(pred, dtype=object)).tolist() if v not in expected), key=repr)
    if not unexpected:
        return None
    return f"predicts {counted(len(unexpected), 'class', 'classes')} seen neither in training nor in the holdout: " + (
        listed([repr(v) for v in unexpected])
    )


def _sanity_gate(
    config: ModelConfig, pred: np.ndarray, y_true: np.ndarray, classes: Sequence[Any] | None, n_rows: int
) -> Gate:
    problem = _prediction_problem(pred, n_rows)
    values = np.asarray(pred)
    if problem is None and config.problem == "classification":
        problem = _unexpected_classes(values, y_true, classes)
    elif problem is None and values.dtype.kind not in "biuf":
        problem = f"regression predictions must be numbers, got dtype {values.dtype}"
    detail = problem or f"{n_rows} predictions, none missing"
    if problem is None and config.problem == "classification":
        detail += f", {counted(len(pd.unique(values)), 'class', 'classes')}, all seen in training or the holdout"
    return Gate(name=SANITY_GATE, passed=problem is None, value=None, threshold=None, detail=detail)


def _metrics(config: ModelConfig, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {name: float(value) for name, value in compute_metrics(config.problem, y_true, y_pred).items()}


def _slice_keys(values: np.ndarray) -> np.ndarray:
    """Slice value of each row as text (``2.0`` as ``"2"``, missing as :data:`~retrain.frames.MISSING`)."""
    column = pd.Series(values)
    missing = column.isna().to_numpy()
    if pd.api.types.is_float_dtype(column):
        text = [str(int(v)) if math.isfinite(v) and float(v).is_integer() else str(v) for v in column]
    else:
        text = [str(v) for v in column]
    keys = np.asarray(text, dtype=object)
    keys[missing] = MISSING
    return keys


def _slice_gates(
    config: ModelConfig,
    spec: Slices,
    holdout: pd.DataFrame,
    labelled: np.ndarray,
    y_true: np.ndarray,
    candidate: np.ndarray | None,
    champion: np.ndarray,
) -> tuple[list[Gate], list[SliceScore]]:
    require_columns(holdout, spec.columns, what="holdout", role="slice", setting="validation.slices.columns")
    metric = config.primary_metric
    n = len(y_true)
    score_champion = metric_scorer(config.problem, metric, y_true, champion)
    score_candidate = metric_scorer(config.problem, metric, y_true, candidate) if candidate is not None else None
    gates, scores = [], []
    for column in spec.columns:
        keys = _slice_keys(holdout[column].to_numpy()[labelled])
        values, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        rows = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
        judged = [i for i, positions in enumerate(rows) if len(positions) >= spec.min_size]
        both: dict[int, tuple[float, float]] = {}
        if score_candidate is not None and judged:
            selections = [rows[i] for i in judged]  # every slice of the column in a few weighted passes
            candidates = selection_scores(score_candidate, selections, n).tolist()
            champions = selection_scores(score_champion, selections, n).tolist()
            both = dict(zip(judged, zip(candidates, champions, strict=True), strict=True))
        column_scores = []
        for i, (value, positions) in enumerate(zip(values.tolist(), rows, strict=True)):
            score = SliceScore(column=column, value=value, n=len(positions))
            if i in both:
                score.candidate, score.champion = both[i]
                gain = score.candidate - score.champion
                score.drop = (-gain if higher_is_better(metric) else gain) + 0.0  # + 0.0: no -0.0
                score.passed = score.drop <= spec.max_drop + EPS
            column_scores.append(score)
        gates.append(slice_gate(column, metric, spec, column_scores, computed=score_candidate is not None))
        scores.extend(column_scores)
    return gates, scores
