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

from retrain.config import Compare, ModelConfig, Problem, Slices, higher_is_better, metrics_for
from retrain.errors import ConfigError, InsufficientData, SchemaMismatch
from retrain.metrics import compute_metrics

#: Slack for inclusive comparisons, so ``0.78 >= 0.80 - 0.02`` is not lost to rounding.
_EPS = 1e-12
#: Index entries per block of bootstrap resamples (bounds memory: 2**21 int64 entries are 16 MiB).
_BLOCK = 1 << 21
#: Longest list (skipped slices, unexpected classes) a gate's detail names before "and N more".
_NAMED = 5
#: Longest list a gate's ``info`` holds (gates travel through the state machine and into DynamoDB).
_LISTED = 20

SANITY_GATE = "prediction sanity"
CHAMPION_GATE = "vs champion"
DIFFERENCE_GATE = "prediction difference"
LATENCY_GATE = "latency p95"
SIZE_GATE = "artifact size"
#: Slice value of the rows whose slice column is missing.
MISSING_SLICE = "<missing>"
#: Most recent inference-log rows the prediction difference is measured on.
RECENT_ROWS = 10_000
#: Single-row prediction calls timed for the latency p95 (after a few untimed warm-up calls).
LATENCY_CALLS = 100


def slice_gate_name(column: str) -> str:
    """Name of the slice non-regression gate of ``column``."""
    return f"slice {column}"


class Gate(BaseModel):
    """The outcome of one check on the candidate.

    ``value`` is what was measured and ``limit`` what it was held to (None when
    the gate has no numeric limit). ``low`` and ``high`` bound ``value``'s
    interval where there is one (``"vs champion"``); ``info`` holds the gate's
    other figures (the champion's value, skipped slices, ...).
    """

    name: str
    passed: bool
    value: float | None
    limit: float | None
    detail: str | None = None
    low: float | None = None
    high: float | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class PairedInterval(BaseModel):
    """A metric's difference between two models on the same rows, with its paired bootstrap interval.

    ``difference`` is ``candidate - champion`` in the metric's unit (positive
    is better for accuracy, worse for RMSE); ``low`` and ``high`` bound its
    two-sided percentile interval at level ``confidence``.
    """

    metric: str
    candidate: float
    champion: float
    difference: float
    low: float
    high: float
    confidence: float
    resamples: int
    n: int


class SliceScore(BaseModel):
    """Both models' metric on one slice; ``passed`` is None when the slice was skipped (too small)."""

    column: str
    value: str
    n: int
    candidate: float | None = None
    champion: float | None = None
    drop: float | None = None
    passed: bool | None = None


class Latency(BaseModel):
    """Wall-clock time of single-row prediction calls, in milliseconds."""

    p50_ms: float
    p95_ms: float
    calls: int


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
class _Scorer:
    """One model's metric on any selections of holdout rows: one selection per row of an index matrix.

    The labels (classification) are fixed by the whole holdout, exactly as
    :func:`retrain.metrics.compute_metrics` sees it: with at most two labels in
    the union of true and predicted labels, precision, recall and F1 score the
    largest; with more they are macro averages over that union. So a selection
    of every row gives ``compute_metrics``' value, and a slice or a resample is
    scored with the same labels.
    """

    def __init__(self, problem: Problem, metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        if metric not in metrics_for(problem):
            raise ValueError(f"metric == {metric!r}, must be one of {', '.join(metrics_for(problem))}.")
        self.metric = metric
        self.n = len(y_true)
        if problem == "classification":
            labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
            self._k = len(labels)
            true, pred = codes[: self.n], codes[self.n :]
            self._pairs = true * self._k + pred
            self._correct = (true == pred).astype(np.float64)
        else:
            self._y = np.asarray(y_true, dtype=np.float64)
            error = self._y - np.asarray(y_pred, dtype=np.float64)
            self._squared = error**2
            self._absolute = np.abs(error)

    def __call__(self, index: np.ndarray) -> np.ndarray:
        """The metric on each selection: ``index`` is (selections, rows) of row positions; returns (selections,)."""
        metric = self.metric
        if metric == "accuracy":
            return np.asarray(self._correct[index].mean(axis=1))
        if metric in ("balanced_accuracy", "precision", "recall", "f1"):
            return self._from_confusion(index)
        if metric == "rmse":
            return np.asarray(np.sqrt(self._squared[index].mean(axis=1)))
        if metric == "mae":
            return np.asarray(self._absolute[index].mean(axis=1))
        return self._r2(index)

    def _from_confusion(self, index: np.ndarray) -> np.ndarray:
        k, selections = self._k, index.shape[0]
        cells = self._pairs[index] + (np.arange(selections) * k * k)[:, None]
        confusion = np.bincount(cells.ravel(), minlength=selections * k * k).reshape(selections, k, k)
        tp = np.diagonal(confusion, axis1=1, axis2=2).astype(np.float64)
        support = confusion.sum(axis=2).astype(np.float64)  # true rows per label
        predicted = confusion.sum(axis=1).astype(np.float64)  # predicted rows per label
        if self.metric == "balanced_accuracy":  # mean recall over the labels present among the selected rows
            present = support > 0
            return np.asarray((_ratio(tp, support) * present).sum(axis=1) / present.sum(axis=1))
        if k <= 2:  # binary: the positive label is the largest
            tp, support, predicted = tp[:, -1:], support[:, -1:], predicted[:, -1:]
        if self.metric == "precision":
            return np.asarray(_ratio(tp, predicted).mean(axis=1))
        if self.metric == "recall":
            return np.asarray(_ratio(tp, support).mean(axis=1))
        return np.asarray(_ratio(2.0 * tp, support + predicted).mean(axis=1))

    def _r2(self, index: np.ndarray) -> np.ndarray:
        y = self._y[index]
        ss_tot = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        ss_res = self._squared[index].sum(axis=1)
        constant = np.where(ss_res == 0, 1.0, 0.0)  # scikit-learn's force_finite for a constant target
        return np.where(ss_tot > 0, 1.0 - _ratio(ss_res, ss_tot), constant)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio, 0.0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _all_rows(n: int) -> np.ndarray:
    return np.arange(n)[None, :]


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
    (drawn in blocks of rows to bound memory; the draws are the same). The
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
    if resamples < 1:
        raise ValueError(f"resamples == {resamples!r}, must be >= 1.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence == {confidence!r}, must be > 0 and < 1.")
    true, candidate, champion = (np.asarray(a) for a in (y_true, candidate_pred, champion_pred))
    n = len(true)
    if len(candidate) != n or len(champion) != n:
        raise ValueError(
            f"y_true has {n} values, candidate_pred {len(candidate)} and champion_pred {len(champion)}; "
            "they must have the same length."
        )
    if n == 0:
        raise InsufficientData("no rows to compare the candidate and the champion on")
    score_candidate = _Scorer(problem, metric, true, candidate)
    score_champion = _Scorer(problem, metric, true, champion)
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples, dtype=np.float64)
    per_block = max(1, _BLOCK // n)
    for start in range(0, resamples, per_block):
        stop = min(resamples, start + per_block)
        index = rng.integers(0, n, size=(stop - start, n))
        differences[start:stop] = score_candidate(index) - score_champion(index)
    low, high = np.quantile(differences, [(1 - confidence) / 2, (1 + confidence) / 2])
    everything = _all_rows(n)
    candidate_value, champion_value = float(score_candidate(everything)[0]), float(score_champion(everything)[0])
    return PairedInterval(
        metric=metric,
        candidate=candidate_value,
        champion=champion_value,
        difference=candidate_value - champion_value,
        low=float(low),
        high=float(high),
        confidence=confidence,
        resamples=resamples,
        n=n,
    )


def prediction_difference(problem: Problem, candidate: Any, champion: Any, *, tolerance: float = 0.0) -> float | None:
    """Share of rows on which two models' predictions differ (shadow comparison).

    Classification: the predicted classes differ. Regression: they are more than
    ``tolerance`` apart (target unit); a missing or non-finite prediction differs
    from everything.

    Returns
    -------
    float or None
        The share in [0, 1], or None when there are no rows.

    Raises
    ------
    ValueError
        Arrays of different lengths, or a negative ``tolerance``.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance == {tolerance!r}, must be >= 0.")
    a, b = np.asarray(candidate), np.asarray(champion)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"candidate has shape {a.shape} and champion {b.shape}; they must be 1-D and alike.")
    if a.size == 0:
        return None
    if problem == "classification":
        differs = np.asarray(a != b, dtype=bool)
    else:
        gap = np.abs(a.astype(np.float64) - b.astype(np.float64))
        differs = ~(gap <= tolerance)  # NaN gaps differ
    return float(differs.mean())


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
        gates.append(_bound_gate(f"min {name}", candidate_metrics.get(name), limit, at_least=True))
    for name, limit in spec.max.items():
        gates.append(_bound_gate(f"max {name}", candidate_metrics.get(name), limit, at_least=False))

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
        gates.append(_champion_gate(spec.compare, metric, comparison))
        if spec.slices is not None:
            slice_gates, slices = _slice_gates(config, spec.slices, holdout, labelled, y_true, candidate, champion)
            gates.extend(slice_gates)

    difference: float | None = None
    n_recent = 0
    if champion is not None and recent is not None:
        n_recent = len(recent[0])
        difference = prediction_difference(
            config.problem, recent[0], recent[1], tolerance=spec.prediction_difference_tolerance
        )
    if champion is not None and spec.max_prediction_difference is not None:
        gates.append(_difference_gate(config, spec.max_prediction_difference, difference, n_recent, recent is None))
    if spec.max_latency_p95_ms is not None:
        gates.append(_latency_gate(latency, spec.max_latency_p95_ms))
    if spec.max_artifact_bytes is not None:
        gates.append(_size_gate(artifact_bytes, spec.max_artifact_bytes))

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
    if config.target not in holdout.columns:
        raise SchemaMismatch(f"holdout is missing target column {config.target!r}", missing=[config.target])
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
    return f"predicts {_count(len(unexpected), 'class', 'classes')} seen neither in training nor in the holdout: " + (
        _names([repr(v) for v in unexpected])
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
        detail += f", {_count(len(pd.unique(values)), 'class', 'classes')}, all seen in training or the holdout"
    return Gate(name=SANITY_GATE, passed=problem is None, value=None, limit=None, detail=detail)


def _metrics(config: ModelConfig, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {name: float(value) for name, value in compute_metrics(config.problem, y_true, y_pred).items()}


def _bound_gate(name: str, value: float | None, limit: float, *, at_least: bool) -> Gate:
    if value is None:
        return Gate(name=name, passed=False, value=None, limit=limit, detail="not computed")
    if not math.isfinite(value):
        return Gate(name=name, passed=False, value=None, limit=limit, detail="undefined on this holdout")
    if at_least:
        passed = value >= limit - _EPS
        detail = f"{_fmt(value)} {'>=' if passed else '<'} {_fmt(limit)}"
    else:
        passed = value <= limit + _EPS
        detail = f"{_fmt(value)} {'<=' if passed else '>'} {_fmt(limit)}"
    return Gate(name=name, passed=passed, value=value, limit=limit, detail=detail)


def _champion_gate(compare: Compare, metric: str, comparison: PairedInterval | None) -> Gate:
    """Judge the paired interval: its worse end, read in the metric's direction, against ``±delta``."""
    up = higher_is_better(metric)
    delta, better = compare.delta, compare.mode == "better"
    # The bound, in (candidate - champion) units, that the interval's worse end is held to.
    limit = (delta if better else -delta) * (1 if up else -1) + 0.0  # + 0.0: no -0.0
    if comparison is None:
        return Gate(name=CHAMPION_GATE, passed=False, value=None, limit=limit, detail="not computed")
    low, high = comparison.low, comparison.high
    if not all(math.isfinite(v) for v in (comparison.difference, low, high)):
        return Gate(name=CHAMPION_GATE, passed=False, value=None, limit=limit, detail=f"{metric} undefined")
    worst_gain = low if up else -high  # the least improvement the interval allows (positive = better)
    passed = worst_gain > delta + _EPS if better else worst_gain >= -delta - _EPS
    margin = f" {_fmt(delta)}" if delta > 0 else ""
    if better:
        verdict = (
            (f"better by more than{margin}" if delta > 0 else "significantly better")
            if passed
            else (f"not better by{margin}" if delta > 0 else "not significantly better")
        )
    else:
        verdict = (
            (f"not worse by more than{margin}" if delta > 0 else "not worse")
            if passed
            else (f"may be worse by more than{margin}" if delta > 0 else "may be worse")
        )
    detail = (
        f"{metric} {_fmt(comparison.candidate)} vs {_fmt(comparison.champion)}: "
        f"{_signed(comparison.difference)} [{_signed(low)}, {_signed(high)}] {verdict}"
    )
    info = {
        "candidate": comparison.candidate,
        "champion": comparison.champion,
        "mode": compare.mode,
        "delta": delta,
        "confidence": comparison.confidence,
        "resamples": comparison.resamples,
        "n": comparison.n,
    }
    return Gate(
        name=CHAMPION_GATE,
        passed=passed,
        value=comparison.difference,
        limit=limit,
        detail=detail,
        low=low,
        high=high,
        info=info,
    )


def _slice_keys(values: np.ndarray) -> np.ndarray:
    """Slice value of each row as text (``2.0`` as ``"2"``, missing as :data:`MISSING_SLICE`)."""
    column = pd.Series(values)
    missing = column.isna().to_numpy()
    if pd.api.types.is_float_dtype(column):
        text = [str(int(v)) if math.isfinite(v) and float(v).is_integer() else str(v) for v in column]
    else:
        text = [str(v) for v in column]
    keys = np.asarray(text, dtype=object)
    keys[missing] = MISSING_SLICE
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
    missing = [c for c in spec.columns if c not in holdout.columns]
    if missing:
        raise SchemaMismatch(
            f"holdout is missing slice column {missing[0]!r} (validation.slices.columns)", missing=missing
        )
    metric = config.primary_metric
    score_champion = _Scorer(config.problem, metric, y_true, champion)
    score_candidate = _Scorer(config.problem, metric, y_true, candidate) if candidate is not None else None
    gates, scores = [], []
    for column in spec.columns:
        keys = _slice_keys(holdout[column].to_numpy()[labelled])
        values, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        rows = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
        column_scores = []
        for value, positions in zip(values.tolist(), rows, strict=True):
            score = SliceScore(column=column, value=value, n=len(positions))
            if len(positions) >= spec.min_size and score_candidate is not None:
                selection = positions[None, :]
                score.candidate = float(score_candidate(selection)[0])
                score.champion = float(score_champion(selection)[0])
                gain = score.candidate - score.champion
                score.drop = (-gain if higher_is_better(metric) else gain) + 0.0  # + 0.0: no -0.0
                score.passed = score.drop <= spec.max_drop + _EPS
            column_scores.append(score)
        gates.append(_slice_gate(column, metric, spec, column_scores, computed=score_candidate is not None))
        scores.extend(column_scores)
    return gates, scores


def _slice_gate(column: str, metric: str, spec: Slices, scores: list[SliceScore], *, computed: bool) -> Gate:
    name = slice_gate_name(column)
    if not computed:
        return Gate(name=name, passed=False, value=None, limit=spec.max_drop, detail="not computed")
    judged = [s for s in scores if s.passed is not None]
    skipped = [s for s in scores if s.passed is None]
    skip_note = ""
    if skipped:
        listed = _names([f"{s.value} (n={s.n})" for s in skipped])
        skip_note = f"; skipped below {spec.min_size} rows: {listed}"
    info: dict[str, Any] = {
        "metric": metric,
        "judged": len(judged),
        "skipped": [{"value": s.value, "n": s.n} for s in skipped[:_LISTED]],
    }
    if not judged:
        detail = f"no slice has {spec.min_size} labelled rows{skip_note}"
        return Gate(name=name, passed=True, value=None, limit=spec.max_drop, detail=detail, info=info)
    worst = max(judged, key=lambda s: s.drop if s.drop is not None else -math.inf)
    assert worst.drop is not None
    assert worst.candidate is not None
    assert worst.champion is not None
    failing = [s for s in judged if not s.passed]
    op = ">" if failing else "<="
    detail = (
        f"{'worst ' if not failing else ''}{column}={worst.value} (n={worst.n}): {metric} {_fmt(worst.candidate)} vs "
        f"{_fmt(worst.champion)}, drop {_fmt(worst.drop)} {op} {_fmt(spec.max_drop)}"
    )
    if len(failing) > 1:
        detail += f" ({len(failing)} of {len(judged)} slices regress)"
    info.update(worst=worst.value, n=worst.n, candidate=worst.candidate, champion=worst.champion)
    info["failing"] = [s.value for s in failing[:_LISTED]]
    return Gate(
        name=name, passed=not failing, value=worst.drop, limit=spec.max_drop, detail=detail + skip_note, info=info
    )


def _difference_gate(config: ModelConfig, ceiling: float, rate: float | None, n_recent: int, unmeasured: bool) -> Gate:
    tolerance = config.validation.prediction_difference_tolerance
    info: dict[str, Any] = {"n": n_recent}
    if config.problem == "regression":
        info["tolerance"] = tolerance
    if unmeasured:
        return Gate(name=DIFFERENCE_GATE, passed=False, value=None, limit=ceiling, detail="not measured", info=info)
    if rate is None:
        detail = "no recent inputs in the monitoring window: not measured"
        return Gate(name=DIFFERENCE_GATE, passed=True, value=None, limit=ceiling, detail=detail, info=info)
    passed = rate <= ceiling + _EPS
    how = "predicted differently" if config.problem == "classification" else f"apart by more than {_fmt(tolerance)}"
    detail = f"{rate:.2%} of {n_recent} recent inputs {how} ({'<=' if passed else '>'} {ceiling:.2%})"
    return Gate(name=DIFFERENCE_GATE, passed=passed, value=rate, limit=ceiling, detail=detail, info=info)


def _latency_gate(latency: Latency | None, budget: float) -> Gate:
    if latency is None:
        return Gate(name=LATENCY_GATE, passed=False, value=None, limit=budget, detail="not measured")
    passed = latency.p95_ms <= budget + _EPS
    detail = (
        f"{latency.p95_ms:.3f} ms per single-row call (p95 of {latency.calls}) {'<=' if passed else '>'} {budget:g} ms"
    )
    info = {"p50_ms": latency.p50_ms, "calls": latency.calls}
    return Gate(name=LATENCY_GATE, passed=passed, value=latency.p95_ms, limit=budget, detail=detail, info=info)


def _size_gate(size: int | None, budget: int) -> Gate:
    if size is None:
        return Gate(name=SIZE_GATE, passed=False, value=None, limit=float(budget), detail="not measured")
    passed = size <= budget
    detail = f"{size} bytes ({size / 2**20:.2f} MiB) {'<=' if passed else '>'} {budget} bytes"
    return Gate(name=SIZE_GATE, passed=passed, value=float(size), limit=float(budget), detail=detail)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_NAMED])
    return shown if len(items) <= _NAMED else f"{shown} and {len(items) - _NAMED} more"


def _signed(value: float) -> str:
    return f"{value:+.4f}" if abs(value) < 1e6 else f"{value:+.6g}"


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.6g}"
