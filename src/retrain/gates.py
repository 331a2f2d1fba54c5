"""The gates a candidate is held to, and their outcomes.

A :class:`Gate` is one check's outcome: the measured ``value``, the
``threshold`` it was held to, and why it passed or failed. The functions here
judge measurements that :mod:`retrain.validation` made (metrics, the paired
interval, slice scores, the prediction difference, latency and size). This
module is light (pydantic only): the step contracts carry :class:`Gate`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from retrain.config import Compare, ModelConfig, Slices

#: Slack for inclusive comparisons, so ``0.78 >= 0.80 - 0.02`` is not lost to rounding.
EPS = 1e-12
#: Longest list (skipped slices, unexpected classes) a gate's detail names before "and N more".
_NAMED = 5
#: Longest list a gate's ``info`` holds (gates travel through the state machine and into DynamoDB).
_LISTED = 20

SANITY_GATE = "prediction sanity"
CHAMPION_GATE = "vs champion"
DIFFERENCE_GATE = "prediction difference"
LATENCY_GATE = "latency p95"
SIZE_GATE = "artifact size"


def slice_gate_name(column: str) -> str:
    """Name of the slice non-regression gate of ``column``."""
    return f"slice {column}"


class Gate(BaseModel):
    """The outcome of one check on the candidate.

    ``value`` is what was measured and ``threshold`` what it was held to (None
    when the gate has no numeric threshold). ``low`` and ``high`` bound ``value``'s
    interval where there is one (``"vs champion"``); ``info`` holds the gate's
    other figures (the champion's value, skipped slices, ...).
    """

    name: str
    passed: bool
    value: float | None = None
    threshold: float | None = None
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


def bound_gate(name: str, value: float | None, threshold: float, *, at_least: bool) -> Gate:
    if value is None:
        return Gate(name=name, passed=False, value=None, threshold=threshold, detail="not computed")
    if not math.isfinite(value):
        return Gate(name=name, passed=False, value=None, threshold=threshold, detail="undefined on this holdout")
    if at_least:
        passed = value >= threshold - EPS
        detail = f"{fmt(value)} {'>=' if passed else '<'} {fmt(threshold)}"
    else:
        passed = value <= threshold + EPS
        detail = f"{fmt(value)} {'<=' if passed else '>'} {fmt(threshold)}"
    return Gate(name=name, passed=passed, value=value, threshold=threshold, detail=detail)


def champion_gate(compare: Compare, metric: str, comparison: PairedInterval | None, *, up: bool) -> Gate:
    """Judge the paired interval: its worse end, read in the metric's direction (``up``: higher is better),
    against ``±delta``."""
    delta, better = compare.delta, compare.mode == "better"
    # The bound, in (candidate - champion) units, that the interval's worse end is held to.
    threshold = (delta if better else -delta) * (1 if up else -1) + 0.0  # + 0.0: no -0.0
    if comparison is None:
        return Gate(name=CHAMPION_GATE, passed=False, value=None, threshold=threshold, detail="not computed")
    low, high = comparison.low, comparison.high
    if not all(math.isfinite(v) for v in (comparison.difference, low, high)):
        return Gate(name=CHAMPION_GATE, passed=False, value=None, threshold=threshold, detail=f"{metric} undefined")
    worst_gain = low if up else -high  # the least improvement the interval allows (positive = better)
    passed = worst_gain > delta + EPS if better else worst_gain >= -delta - EPS
    margin = f" {fmt(delta)}" if delta > 0 else ""
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
        f"{metric} {fmt(comparison.candidate)} vs {fmt(comparison.champion)}: "
        f"{signed(comparison.difference)} [{signed(low)}, {signed(high)}] {verdict}"
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
        threshold=threshold,
        detail=detail,
        low=low,
        high=high,
        info=info,
    )


def slice_gate(column: str, metric: str, spec: Slices, scores: list[SliceScore], *, computed: bool) -> Gate:
    name = slice_gate_name(column)
    if not computed:
        return Gate(name=name, passed=False, value=None, threshold=spec.max_drop, detail="not computed")
    judged = [s for s in scores if s.passed is not None]
    skipped = [s for s in scores if s.passed is None]
    skip_note = ""
    if skipped:
        names = listed([f"{s.value} (n={s.n})" for s in skipped])
        skip_note = f"; skipped below {spec.min_size} rows: {names}"
    info: dict[str, Any] = {
        "metric": metric,
        "judged": len(judged),
        "skipped": [{"value": s.value, "n": s.n} for s in skipped[:_LISTED]],
    }
    if not judged:
        detail = f"no slice has {spec.min_size} labelled rows{skip_note}"
        return Gate(name=name, passed=True, value=None, threshold=spec.max_drop, detail=detail, info=info)
    worst = max(judged, key=lambda s: s.drop if s.drop is not None else -math.inf)
    assert worst.drop is not None
    assert worst.candidate is not None
    assert worst.champion is not None
    failing = [s for s in judged if not s.passed]
    op = ">" if failing else "<="
    detail = (
        f"{'worst ' if not failing else ''}{column}={worst.value} (n={worst.n}): {metric} {fmt(worst.candidate)} vs "
        f"{fmt(worst.champion)}, drop {fmt(worst.drop)} {op} {fmt(spec.max_drop)}"
    )
    if len(failing) > 1:
        detail += f" ({len(failing)} of {len(judged)} slices regress)"
    info.update(worst=worst.value, n=worst.n, candidate=worst.candidate, champion=worst.champion)
    info["failing"] = [s.value for s in failing[:_LISTED]]
    return Gate(
        name=name, passed=not failing, value=worst.drop, threshold=spec.max_drop, detail=detail + skip_note, info=info
    )


def difference_gate(config: ModelConfig, ceiling: float, rate: float | None, n_recent: int, unmeasured: bool) -> Gate:
    tolerance = config.validation.prediction_difference_tolerance
    info: dict[str, Any] = {"n": n_recent}
    if config.problem == "regression":
        info["tolerance"] = tolerance
    if unmeasured:
        return Gate(name=DIFFERENCE_GATE, passed=False, value=None, threshold=ceiling, detail="not measured", info=info)
    if rate is None:
        detail = "no recent inputs in the monitoring window: not measured"
        return Gate(name=DIFFERENCE_GATE, passed=True, value=None, threshold=ceiling, detail=detail, info=info)
    passed = rate <= ceiling + EPS
    how = "predicted differently" if config.problem == "classification" else f"apart by more than {fmt(tolerance)}"
    detail = f"{rate:.2%} of {n_recent} recent inputs {how} ({'<=' if passed else '>'} {ceiling:.2%})"
    return Gate(name=DIFFERENCE_GATE, passed=passed, value=rate, threshold=ceiling, detail=detail, info=info)


def latency_gate(latency: Latency | None, budget: float) -> Gate:
    if latency is None:
        return Gate(name=LATENCY_GATE, passed=False, value=None, threshold=budget, detail="not measured")
    passed = latency.p95_ms <= budget + EPS
    detail = (
        f"{latency.p95_ms:.3f} ms per single-row call (p95 of {latency.calls}) {'<=' if passed else '>'} {budget:g} ms"
    )
    info = {"p50_ms": latency.p50_ms, "calls": latency.calls}
    return Gate(name=LATENCY_GATE, passed=passed, value=latency.p95_ms, threshold=budget, detail=detail, info=info)


def size_gate(size: int | None, budget: int) -> Gate:
    if size is None:
        return Gate(name=SIZE_GATE, passed=False, value=None, threshold=float(budget), detail="not measured")
    passed = size <= budget
    detail = f"{size} bytes ({size / 2**20:.2f} MiB) {'<=' if passed else '>'} {budget} bytes"
    return Gate(name=SIZE_GATE, passed=passed, value=float(size), threshold=float(budget), detail=detail)


def counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def listed(items: list[str]) -> str:
    shown = ", ".join(items[:_NAMED])
    return shown if len(items) <= _NAMED else f"{shown} and {len(items) - _NAMED} more"


def signed(value: float) -> str:
    return f"{value:+.4f}" if abs(value) < 1e6 else f"{value:+.6g}"


def fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.6g}"
