"""Candidate-vs-champion gates (pre-production testing).

A candidate passes when every gate passes: its predictions are sane, each
absolute floor (``validation.min``) and ceiling (``validation.max``) holds, and,
when a champion exists, it compares well with the champion's predictions on
the very same holdout (``validation.compare``).

This module is pure: it takes DataFrames, arrays and configs, and returns
pydantic models. It never touches AWS.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel

from retrain.config import ModelConfig, higher_is_better
from retrain.errors import InsufficientData, SchemaMismatch
from retrain.metrics import compute_metrics

#: Slack for inclusive comparisons, so ``0.78 >= 0.80 - 0.02`` is not lost to rounding.
_EPS = 1e-12

SANITY_GATE = "prediction sanity"
CHAMPION_GATE = "vs champion"


class Gate(BaseModel):
    """The outcome of one check on the candidate."""

    name: str
    passed: bool
    value: float | None
    limit: float | None
    detail: str | None = None


class ValidationResult(BaseModel):
    """Every gate's outcome, the metrics behind them, and why the candidate failed (if it did)."""

    passed: bool
    gates: list[Gate]
    metric: str
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    n_holdout: int
    reasons: list[str]


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
    n_holdout = int(round(n_rows * fraction))
    if n_holdout < 1 or n_rows - n_holdout < 1:
        raise InsufficientData(
            f"cannot hold out {fraction:g} of {n_rows} rows: need at least 1 training row and 1 holdout row"
        )
    if timestamp_column is not None and timestamp_column in df.columns:
        df = df.iloc[_time_order(df[timestamp_column], timestamp_column)]
    return df.iloc[: n_rows - n_holdout], df.iloc[n_rows - n_holdout :]


def validate(
    config: ModelConfig,
    holdout: pd.DataFrame,
    candidate_pred: np.ndarray,
    champion_pred: np.ndarray | None,
) -> ValidationResult:
    """Run the candidate's gates on a holdout.

    Gates, in order: ``"prediction sanity"`` (one prediction per holdout row, none
    missing or non-finite); one ``"min <metric>"`` gate per ``validation.min``
    entry (value >= limit) and one ``"max <metric>"`` per ``validation.max`` entry
    (value <= limit); and, when ``champion_pred`` is given, ``"vs champion"`` on
    ``config.primary_metric``. Its limit is derived from the champion's metric and
    ``validation.compare``: with ``not_worse`` the candidate may be at most
    ``delta`` worse; with ``better`` it must be better by at least ``delta``
    (strictly better when ``delta == 0``). "Worse" follows the metric's direction
    (lower RMSE is better).

    Holdout rows without a target are left out of the metrics.

    Parameters
    ----------
    config
        The model's config.
    holdout
        Holdout rows, holding ``config.target``.
    candidate_pred, champion_pred
        Predictions on ``holdout``, row for row; ``champion_pred`` is None for a
        first model.

    Returns
    -------
    ValidationResult
        ``passed`` is True when every gate passed; ``reasons`` holds one line per
        failed gate.

    Raises
    ------
    SchemaMismatch
        The holdout lacks the target column.
    InsufficientData
        No holdout row has a target.
    ValueError
        ``champion_pred`` does not hold one finite prediction per holdout row.
    """
    if config.target not in holdout.columns:
        raise SchemaMismatch(f"holdout is missing target column {config.target!r}", missing=[config.target])
    y_all = holdout[config.target].to_numpy()
    labelled = ~pd.isna(y_all)
    n_holdout = int(labelled.sum())
    if n_holdout == 0:
        raise InsufficientData(f"holdout has no row with a target ({config.target!r}), out of {len(y_all)}")
    y_true = y_all[labelled]
    metric = config.primary_metric

    champion_metrics: dict[str, float] | None = None
    if champion_pred is not None:
        problem = _prediction_problem(champion_pred, len(y_all))
        if problem is not None:
            raise ValueError(f"champion_pred: {problem}")
        champion_metrics = _metrics(config, y_true, np.asarray(champion_pred)[labelled])

    sanity = _sanity_gate(candidate_pred, len(y_all))
    gates = [sanity]
    candidate_metrics: dict[str, float] = {}
    if sanity.passed:
        candidate_metrics = _metrics(config, y_true, np.asarray(candidate_pred)[labelled])
    for name, limit in config.validation.min.items():
        gates.append(_bound_gate(f"min {name}", candidate_metrics.get(name), limit, at_least=True))
    for name, limit in config.validation.max.items():
        gates.append(_bound_gate(f"max {name}", candidate_metrics.get(name), limit, at_least=False))
    if champion_metrics is not None:
        gates.append(_champion_gate(config, metric, candidate_metrics.get(metric), champion_metrics[metric]))

    return ValidationResult(
        passed=all(gate.passed for gate in gates),
        gates=gates,
        metric=metric,
        candidate_metrics=candidate_metrics,
        champion_metrics=champion_metrics,
        n_holdout=n_holdout,
        reasons=[f"{gate.name}: {gate.detail}" for gate in gates if not gate.passed],
    )


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


def _sanity_gate(pred: np.ndarray, n_rows: int) -> Gate:
    problem = _prediction_problem(pred, n_rows)
    detail = problem or f"{n_rows} predictions, none missing"
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


def _champion_gate(config: ModelConfig, metric: str, candidate: float | None, champion: float) -> Gate:
    mode, delta = config.validation.compare.mode, config.validation.compare.delta
    up = higher_is_better(metric)
    # The candidate must be at least `limit` (higher is better) or at most `limit` (lower is better).
    tolerant = mode == "not_worse"
    sign = "-" if tolerant == up else "+"
    limit = champion - delta if sign == "-" else champion + delta
    if candidate is None or not math.isfinite(candidate) or not math.isfinite(champion):
        detail = "not computed" if candidate is None else f"{metric} undefined on this holdout"
        return Gate(name=CHAMPION_GATE, passed=False, value=None, limit=_finite(limit), detail=detail)

    strict = mode == "better" and delta == 0
    if up:
        passed = candidate > limit if strict else candidate >= limit - _EPS
        op = (">" if strict else ">=") if passed else ("<=" if strict else "<")
    else:
        passed = candidate < limit if strict else candidate <= limit + _EPS
        op = ("<" if strict else "<=") if passed else (">=" if strict else ">")
    detail = f"{metric} {_fmt(candidate)} {op} champion {_fmt(champion)} {sign} {_fmt(delta)}"
    return Gate(name=CHAMPION_GATE, passed=passed, value=candidate, limit=limit, detail=detail)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.6g}"
