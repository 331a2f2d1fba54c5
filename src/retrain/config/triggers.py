"""The signals that vote for retraining: performance, label-free estimates, flagged predictions, drift."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from retrain.config.base import (
    ESTIMATED_METRICS,
    ESTIMATED_REGRESSION_METRICS,
    SIGNAL_METRIC_DIRECTION,
    SignalValue,
    _Strict,
)
from retrain.config.drift import DriftTrigger


class _BoundTrigger(_Strict):
    """A metric against a floor (``min``, higher-is-better metrics) or a ceiling (``max``, lower-is-better).

    ``use`` picks the value compared with the bound: ``estimate`` (the point
    estimate), ``ci_lower`` or ``ci_upper`` (a bound of its bootstrap interval).
    With ``min``, ``ci_upper`` fires only when the whole interval lies below the
    floor (the model is significantly worse); ``ci_lower`` fires as soon as the
    floor is plausible. With ``max`` the roles swap.
    """

    _path: ClassVar[str] = "triggers"
    _metrics: ClassVar[dict[str, bool]] = SIGNAL_METRIC_DIRECTION

    metric: str
    """The metric judged. ``triggers.performance``: any realized metric of the problem type (classification:
    accuracy, balanced_accuracy, precision, recall, f1, precision_macro, recall_macro, f1_macro, roc_auc,
    log_loss, brier; regression: rmse, mae, mape, r2). ``triggers.estimated``: a metric estimated without
    labels (classification, CBPE: accuracy, balanced_accuracy, precision, recall, f1, their ``_macro`` forms,
    roc_auc; regression, DLE: mae, rmse with ``max``)."""
    min: float | None = None
    """Floor of a higher-is-better metric: the signal fires when the value compared (``use``) is below it.
    Give exactly one of ``min`` and ``max``."""
    max: float | None = None
    """Ceiling of a lower-is-better metric (rmse, mae, mape, log_loss, brier): the signal fires when the value
    compared (``use``) is above it."""
    min_samples: int = Field(default=100, ge=1)
    """Fewest samples the signal needs (``performance``: labelled predictions; ``estimated``: predictions); below
    it the check reports insufficient data and the signal does not vote."""
    use: SignalValue = "estimate"
    """The value compared with the bound: ``estimate`` (the point estimate), ``ci_lower`` or ``ci_upper`` (an end
    of its bootstrap interval). With ``min``, ``ci_upper`` fires only when the whole interval lies below the
    floor (few false alarms) and ``ci_lower`` as soon as the floor is plausible (early warning); with ``max`` the
    roles swap."""

    @model_validator(mode="after")
    def _check(self) -> _BoundTrigger:
        path, known = self._path, self._metrics
        if self.metric not in known:
            raise ValueError(f"{path}.metric == {self.metric!r}, must be one of {sorted(known)}")
        if (self.min is None) == (self.max is None):
            raise ValueError(f"{path}: give exactly one of 'min' or 'max'")
        if known[self.metric] and self.min is None:
            raise ValueError(f"{path}: {self.metric} is higher-is-better, use 'min'")
        if not known[self.metric] and self.max is None:
            raise ValueError(f"{path}: {self.metric} is lower-is-better, use 'max'")
        return self

    @property
    def threshold(self) -> float:
        """The ``min`` or ``max`` the trigger holds its metric to."""
        value = self.min if self.min is not None else self.max
        assert value is not None
        return value

    @property
    def direction(self) -> Literal["min", "max"]:
        return "min" if self.min is not None else "max"


class PerformanceTrigger(_BoundTrigger):
    """Retrain when the realized metric on labelled predictions crosses a bound."""

    _path: ClassVar[str] = "triggers.performance"


class EstimatedTrigger(_BoundTrigger):
    """Retrain when the label-free estimate of a metric crosses a bound.

    A classifier's metrics are estimated from its calibrated class probabilities
    (CBPE); a regression model's MAE and RMSE from the loss model fit on its
    holdout (DLE). The model config checks the metric fits the problem type.
    """

    _path: ClassVar[str] = "triggers.estimated"
    _metrics: ClassVar[dict[str, bool]] = {
        m: SIGNAL_METRIC_DIRECTION[m] for m in (*ESTIMATED_METRICS, *ESTIMATED_REGRESSION_METRICS)
    }


class FlaggedTrigger(_Strict):
    """Retrain when people flag more than ``max_rate`` of the window's predictions.

    Below ``min_samples`` predictions the rate is insufficient data; with fewer
    than ``min_count`` flagged predictions it never fires, whatever the rate.
    """

    max_rate: float = Field(gt=0, le=1)
    """Share of the window's predictions (a fraction in (0, 1]) flagged by people above which the signal fires."""
    min_samples: int = Field(default=100, ge=1)
    """Fewest predictions in the window; fewer is insufficient data and the signal does not vote."""
    min_count: int = Field(default=5, ge=1)
    """Fewest flagged predictions for the signal to fire, whatever the rate."""


class Triggers(_Strict):
    """The signals that vote for retraining and how their votes combine (every signal is off by default).

    An enabled signal with enough data casts one vote; one without enough data never votes, so it never
    triggers. Every signal with enough data is published as a CloudWatch metric, enabled or not.
    """

    performance: PerformanceTrigger | None = None
    """Realized quality on the predictions whose labels arrived; ``null``: off."""
    drift: DriftTrigger | None = None
    """Data drift of the window against the champion's training snapshot; ``null``: off."""
    flagged: FlaggedTrigger | None = None
    """Rate of predictions flagged by people; ``null``: off."""
    estimated: EstimatedTrigger | None = None
    """Label-free estimate of a metric (classification: CBPE; regression: DLE's mae or rmse), on every prediction
    of the window; ``null``: off."""
    policy: Literal["any", "all"] = "any"
    """How the votes combine (in schedule mode ``check``): ``any`` retrains when one vote fires; ``all`` when at
    least one signal voted and none voted against."""
    cooldown_hours: float = Field(default=24.0, ge=0)
    """No retraining within this many hours after a retraining promoted a model (the first champion does not
    count; the checks still run; ``retrain trigger --force`` overrides)."""
    dedupe_minutes: float = Field(default=5.0, gt=0)
    """Scheduled events carry no id of their own: two within this many minutes are one delivery."""
