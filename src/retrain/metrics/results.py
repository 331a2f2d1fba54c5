"""The results of the model-quality signals: metric values with intervals, and each trigger's verdict."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from retrain.config import SignalValue

#: Defaults of the signals when their trigger is not configured (what is reported and published).
DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 1000
DEFAULT_MIN_SAMPLES = 100


class Interval(BaseModel):
    """A two-sided confidence interval (``lower`` <= ``upper``)."""

    lower: float
    upper: float


class MetricsResult(BaseModel):
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

    ``value`` is the point estimate of ``metric``; ``statistic`` is the value
    compared with ``threshold`` (the estimate or a bound of its interval, as the
    trigger's ``use`` says) and ``fired`` says whether it crossed it.
    ``metrics`` holds every available metric, ``ci`` their intervals.
    """

    metric: str
    value: float | None
    threshold: float
    direction: Literal["min", "max"]
    use: SignalValue = "estimate"
    statistic: float | None = None
    n: int
    match_rate: float
    metrics: dict[str, float]
    ci: dict[str, Interval] = Field(default_factory=dict)
    confidence: float = DEFAULT_CONFIDENCE
    unavailable: dict[str, str] = Field(default_factory=dict)
    fired: bool
    insufficient: bool
    reason: str | None


class EstimatedResult(BaseModel):
    """Label-free performance estimate of one window, and its trigger's verdict.

    ``method`` is ``cbpe`` (a classifier's metrics from its class probabilities)
    or ``dle`` (a regression model's MAE and RMSE from its loss model).
    ``calibration`` says how CBPE's probabilities were calibrated (``isotonic``,
    ``sigmoid`` or ``none``; None when the champion has no calibration) and
    ``calibration_reason`` why. ``available`` is False when the window cannot be
    estimated (no class probabilities, no loss model; ``note`` says why).
    ``enabled`` says whether an ``estimated`` trigger is configured; only then
    can it fire.
    """

    available: bool
    method: Literal["cbpe", "dle"] | None = None
    calibration: str | None = None
    calibration_reason: str | None = None
    enabled: bool
    n: int
    metrics: dict[str, float] = Field(default_factory=dict)
    ci: dict[str, Interval] = Field(default_factory=dict)
    confidence: float = DEFAULT_CONFIDENCE
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    direction: Literal["min", "max"] | None = None
    use: SignalValue = "estimate"
    statistic: float | None = None
    min_samples: int = DEFAULT_MIN_SAMPLES
    fired: bool = False
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
    fired: bool = False
    insufficient: bool = False
    reason: str | None = None
