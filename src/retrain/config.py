"""The per-model retraining policy.

One YAML file per model. Unknown keys are rejected (``extra="forbid"``) and every
error names the field that is wrong, so a typo never silently turns a trigger
off. A minimal file (model, problem, target, features, triggers, training,
validation) is enough: everything else has a documented default.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retrain.errors import ConfigError
from retrain.layout import MODEL_NAME_PATTERN

Problem = Literal["classification", "regression"]

#: Metric name -> True when a higher value is better.
METRIC_DIRECTION: dict[str, bool] = {
    "accuracy": True,
    "balanced_accuracy": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "rmse": False,
    "mae": False,
    "r2": True,
}
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "precision", "recall")
REGRESSION_METRICS = ("rmse", "mae", "r2")

MODEL_NAME = re.compile(MODEL_NAME_PATTERN)


def metrics_for(problem: Problem) -> tuple[str, ...]:
    """Names of the metrics computed for a problem type."""
    return CLASSIFICATION_METRICS if problem == "classification" else REGRESSION_METRICS


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` means a better model."""
    return METRIC_DIRECTION[metric]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Features(_Strict):
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Features:
        names = self.numeric + self.categorical
        if not names:
            raise ValueError("features: at least one numeric or categorical feature is required")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"features: listed more than once: {', '.join(dupes)}")
        return self

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


#: Every metric the metric check measures on labelled predictions, name -> True when higher is better:
#: ``METRIC_DIRECTION`` (what validation computes from predicted labels) plus the macro averages and the
#: probability metrics, which need the class probabilities in the inference log.
SIGNAL_METRIC_DIRECTION: dict[str, bool] = {
    **METRIC_DIRECTION,
    "precision_macro": True,
    "recall_macro": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "brier": False,
    "mape": False,
}
CLASSIFICATION_SIGNAL_METRICS = (
    *CLASSIFICATION_METRICS,
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "log_loss",
    "brier",
)
REGRESSION_SIGNAL_METRICS = ("rmse", "mae", "mape", "r2")
#: What confidence-based performance estimation (CBPE) estimates without labels (classification only).
ESTIMATED_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
)
#: Which value of a metric a trigger compares with its bound: the point estimate or a bound of its interval.
SignalValue = Literal["estimate", "ci_lower", "ci_upper"]


def signal_metrics_for(problem: Problem) -> tuple[str, ...]:
    """Names of the metrics the metric check measures for a problem type (a superset of :func:`metrics_for`)."""
    return CLASSIFICATION_SIGNAL_METRICS if problem == "classification" else REGRESSION_SIGNAL_METRICS


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
    min: float | None = None
    max: float | None = None
    min_samples: int = Field(default=100, ge=1)
    use: SignalValue = "estimate"

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
    def bound(self) -> float:
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
    """Retrain when the label-free estimate (CBPE) of a classification metric crosses a bound."""

    _path: ClassVar[str] = "triggers.estimated"
    _metrics: ClassVar[dict[str, bool]] = {m: SIGNAL_METRIC_DIRECTION[m] for m in ESTIMATED_METRICS}


class FlaggedTrigger(_Strict):
    """Retrain when people flag more than ``max_rate`` of the window's predictions.

    Below ``min_samples`` predictions the rate is insufficient data; with fewer
    than ``min_count`` flagged predictions it never fires, whatever the rate.
    """

    max_rate: float = Field(gt=0, le=1)
    min_samples: int = Field(default=100, ge=1)
    min_count: int = Field(default=5, ge=1)


#: Drift methods: the effect size that must reach its threshold (``auto`` picks one by the column's type).
DriftMethod = Literal["auto", "ks", "psi", "wasserstein", "js", "chi2", "linf"]
#: Methods for numeric features (``chi2`` and ``linf`` test them on bins) and for categorical ones.
NUMERIC_DRIFT_METHODS = ("auto", "ks", "psi", "wasserstein", "js", "chi2", "linf")
CATEGORICAL_DRIFT_METHODS = ("auto", "psi", "js", "chi2", "linf")


class DriftThresholds(_Strict):
    """Practical thresholds: the effect size a significant change must reach to count as drift.

    ``ks``: KS statistic (largest CDF gap); ``psi``: population stability index;
    ``wasserstein``: Wasserstein distance in reference standard deviations;
    ``js``: Jensen-Shannon distance (natural log); ``chi2``: Cramér's V;
    ``linf``: largest change of one category's (or bin's) share.
    """

    ks: float = Field(default=0.1, gt=0, le=1)
    psi: float = Field(default=0.2, gt=0)
    wasserstein: float = Field(default=0.1, gt=0)
    js: float = Field(default=0.1, gt=0, le=1)
    chi2: float = Field(default=0.1, gt=0, le=1)
    linf: float = Field(default=0.1, gt=0, le=1)


class DriftFeature(_Strict):
    """Per-feature drift settings: method, its threshold (default: ``thresholds.<method>``), critical."""

    method: DriftMethod = "auto"
    threshold: float | None = Field(default=None, gt=0)
    #: A critical feature that drifts makes the whole data set drift.
    critical: bool = False


class DomainClassifierDrift(_Strict):
    """Multivariate drift: a classifier told to separate reference rows from current rows.

    Fires when its cross-validated ROC AUC reaches ``auc`` and is significantly above 0.5.
    """

    auc: float = Field(default=0.55, gt=0.5, lt=1)
    max_rows: int = Field(default=5000, ge=50, le=200000)
    folds: int = Field(default=3, ge=2, le=10)


class PredictionDrift(_Strict):
    """Drift of the champion's predictions (classes or regression values) against their reference distribution."""

    method: DriftMethod = "auto"
    threshold: float | None = Field(default=None, gt=0)
    min_samples: int = Field(default=100, ge=2)


class PredictionDifference(_Strict):
    """Share of current rows where champion and latest candidate disagree (regression: by more than ``tolerance``).

    Fires when the share reaches ``max_rate``.
    """

    max_rate: float = Field(default=0.1, gt=0, le=1)
    tolerance: float = Field(default=0.0, ge=0)
    min_samples: int = Field(default=100, ge=1)


class DriftProfileSettings(_Strict):
    """How the reference profile is built (once per snapshot): see :mod:`retrain.drift.profile`."""

    points: int = Field(default=20000, ge=100, le=1000000)
    max_categories: int = Field(default=10000, ge=2, le=100000)
    sample_rows: int = Field(default=5000, ge=0, le=200000)


class DriftTrigger(_Strict):
    """Retrain when the data drifts: enough features, a critical one, or the important ones.

    A feature drifts when its change is significant (adjusted for testing every
    feature: ``correction``) and its effect size reaches its threshold.
    """

    share: float = Field(default=0.3, gt=0, le=1)
    p_value: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["bh", "bonferroni"] = "bh"
    min_samples: int = Field(default=100, ge=2)
    bins: int = Field(default=10, ge=2, le=100)
    thresholds: DriftThresholds = Field(default_factory=DriftThresholds)
    missing_threshold: float = Field(default=0.2, gt=0)
    importance_share: float | None = Field(default=0.5, gt=0, le=1)
    features: dict[str, DriftFeature] = Field(default_factory=dict)
    multivariate: DomainClassifierDrift | None = None
    prediction: PredictionDrift | None = None
    prediction_difference: PredictionDifference | None = None
    profile: DriftProfileSettings = Field(default_factory=DriftProfileSettings)

    def check_features(self, numeric: list[str], categorical: list[str]) -> None:
        kinds = {**dict.fromkeys(numeric, "numeric"), **dict.fromkeys(categorical, "categorical")}
        for name, options in self.features.items():
            where = f"triggers.drift.features.{name}"
            if name not in kinds:
                raise ValueError(f"{where}: {name!r} is not a feature of the model ({', '.join(kinds)})")
            allowed = NUMERIC_DRIFT_METHODS if kinds[name] == "numeric" else CATEGORICAL_DRIFT_METHODS
            if options.method not in allowed:
                raise ValueError(
                    f"{where}.method == {options.method!r} does not apply to a {kinds[name]} feature, "
                    f"use one of {', '.join(allowed)}"
                )


class Triggers(_Strict):
    performance: PerformanceTrigger | None = None
    drift: DriftTrigger | None = None
    flagged: FlaggedTrigger | None = None
    estimated: EstimatedTrigger | None = None
    policy: Literal["any", "all"] = "any"
    #: No retraining within this many hours after a retraining promoted a model (manual --force overrides).
    cooldown_hours: float = Field(default=24.0, ge=0)
    #: Scheduled events carry no id of their own: two within this many minutes are one delivery.
    dedupe_minutes: float = Field(default=5.0, gt=0)


class Approval(_Strict):
    """A person approves each candidate that passed its gates before it is promoted.

    The run waits (``retrain approve RUN`` / ``retrain reject RUN --reason TEXT``)
    for at most ``timeout_hours``; a timeout rejects the candidate.
    """

    required: bool = False
    timeout_hours: float = Field(default=24.0, gt=0, le=24 * 365)


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


def check_schedule_expression(expression: str, *, where: str = "schedule.expression") -> str:
    """Check an EventBridge Scheduler recurrence: ``rate(N unit)`` or ``cron(6 fields)``.

    Raises
    ------
    ValueError
        Naming ``where`` and what is wrong (``rate(1 days)``: use the singular
        unit for 1; a cron needs 6 fields and a ``?`` in day-of-month or day-of-week).
    """
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise ValueError(f"{where} == {expression!r}, the rate must be >= 1")
        singular = not unit.endswith("s")
        if (value == 1) != singular:
            right = unit.rstrip("s") if value == 1 else f"{unit.rstrip('s')}s"
            raise ValueError(f"{where} == {expression!r}, write rate({value} {right})")
        return expression
    cron = _CRON.match(expression)
    if cron:
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise ValueError(
                f"{where} == {expression!r}, a cron needs 6 fields (minutes hours day-of-month month "
                f"day-of-week year), got {len(fields)}"
            )
        if "?" not in (fields[2], fields[4]):
            raise ValueError(f"{where} == {expression!r}, day-of-month or day-of-week must be '?'")
        return expression
    raise ValueError(
        f"{where} == {expression!r}, must be 'rate(<n> minute[s]|hour[s]|day[s])' or 'cron(<6 fields>)', "
        "e.g. 'rate(1 day)' or 'cron(0 6 * * ? *)'"
    )


class Schedule(_Strict):
    """When and how the model's schedule runs.

    ``mode``: ``check`` runs the checks and retrains only if a signal fires;
    ``always`` retrains every period. ``expression``: the EventBridge Scheduler
    recurrence (``rate(...)`` or ``cron(...)``, UTC) of the model's own schedule,
    created by ``retrain register``. ``enabled: false`` keeps the schedule but
    disabled (alarm and manual triggers still run).
    """

    mode: Literal["check", "always"] = "check"
    expression: str = "rate(1 day)"
    enabled: bool = True

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        return check_schedule_expression(value.strip())


#: CloudWatch comparison operators an alarm may use (``ALARM`` when the metric compares so with the threshold).
Comparison = Literal[
    "LessThanThreshold", "LessThanOrEqualToThreshold", "GreaterThanThreshold", "GreaterThanOrEqualToThreshold"
]


def estimated_metric_name(metric: str) -> str:
    """CloudWatch name of a CBPE estimate: ``roc_auc`` -> ``EstimatedRocAuc`` (as the metric check publishes it)."""
    return "Estimated" + "".join(part.capitalize() for part in metric.split("_"))


def published_performance_metrics(problem: Problem) -> tuple[str, ...]:
    """Metric names the metric check publishes for labelled predictions (and their interval bounds)."""
    names = signal_metrics_for(problem)
    return (*names, *(f"{m}_{use}" for m in names for use in ("ci_lower", "ci_upper")))


def published_estimated_metrics() -> tuple[str, ...]:
    """Metric names the metric check publishes for label-free estimates (classification only)."""
    names = [estimated_metric_name(m) for m in ESTIMATED_METRICS]
    bounds = [estimated_metric_name(f"{m}_{use}") for m in ESTIMATED_METRICS for use in ("ci_lower", "ci_upper")]
    return (*names, *bounds)


class MetricAlarm(_Strict):
    """An alarm on one published metric: ``ALARM`` when ``metric`` ``comparison`` ``threshold``."""

    metric: str = Field(min_length=1)
    threshold: float
    comparison: Comparison = "LessThanThreshold"


class Alarms(_Strict):
    """The model's CloudWatch alarms, created by ``retrain register`` as ``<stack>-<model>-<signal>``.

    An alarm going to ``ALARM`` starts a retraining run (trigger-based retraining).
    ``null`` disables one (``retrain register`` deletes it). The defaults are the
    former stack-wide ones; a regression model has no performance or estimated
    alarm unless its config names one (``accuracy`` is not a regression metric).
    ``drift_share``: ``DriftShare`` >= this share of drifted features;
    ``flagged_rate``: ``FlaggedRate`` >= this percent of predictions flagged.
    """

    performance: MetricAlarm | None = Field(
        default_factory=lambda: MetricAlarm(metric="accuracy", threshold=0.8, comparison="LessThanThreshold")
    )
    drift_share: float | None = Field(default=0.3, gt=0, le=1)
    flagged_rate: float | None = Field(default=5.0, gt=0, le=100)
    estimated: MetricAlarm | None = Field(
        default_factory=lambda: MetricAlarm(metric="EstimatedAccuracy", threshold=0.8, comparison="LessThanThreshold")
    )


class Monitoring(_Strict):
    """Where the production window is read from and how its columns are named."""

    window_days: float = Field(default=7.0, gt=0)
    id_column: str = "id"
    timestamp_column: str = "timestamp"
    prediction_column: str = "prediction"
    #: Class probabilities (``predict_proba``): one column ``<proba_prefix><class>`` per class, e.g. ``proba_1``.
    proba_prefix: str = Field(default="proba_", min_length=1)
    #: Boolean column: True when a person flagged the prediction (optional; a feed of flagged ids also counts).
    flagged_column: str = "flagged"
    #: Two-sided level of every confidence interval.
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    #: Bootstrap resamples per interval (seeded: the same window always gives the same interval).
    bootstrap_resamples: int = Field(default=1000, ge=100, le=100_000)


class Training(_Strict):
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    window_days: float | None = Field(default=None, gt=0)
    reference_fraction: float = Field(default=0.0, ge=0, le=1)
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    min_rows: int = Field(default=200, ge=10)
    seed: int = 0
    #: Most one-hot columns a categorical feature is encoded into: when a feature has this many categories or
    #: more, its ``max_categories - 1`` most frequent ones (in the training data) get a column each and the rest
    #: share one "infrequent" column, which categories unseen in training also map to (a feature with fewer
    #: categories is encoded one column per category, unseen ones as all zeros).
    max_categories: int = Field(default=50, ge=2)


class Compare(_Strict):
    """Candidate vs champion on the same holdout, judged on a paired bootstrap interval.

    The interval is of the primary metric's difference (candidate - champion) over
    ``resamples`` resamples of the holdout rows (the same rows for both models),
    at two-sided level ``confidence``. Read in the metric's direction (lower RMSE
    is better), with ``delta`` in the metric's unit:

    ``not_worse``: the whole interval lies above ``-delta`` (non-inferiority: the
    candidate is shown to be at most ``delta`` worse).
    ``better``: the whole interval lies above ``+delta`` (the candidate is shown to
    be better by more than ``delta``: a non-significant improvement is rejected).
    """

    mode: Literal["not_worse", "better"] = "not_worse"
    delta: float = Field(default=0.0, ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    resamples: int = Field(default=1000, ge=100, le=100_000)
    seed: int = Field(default=0, ge=0)


class Slices(_Strict):
    """Slice non-regression: per value of each column, the candidate may lose at most ``max_drop``.

    ``max_drop`` is in the primary metric's unit and direction (a drop of accuracy,
    a rise of RMSE). Slices with fewer than ``min_size`` labelled holdout rows are
    skipped and reported.
    """

    columns: list[str] = Field(min_length=1)
    max_drop: float = Field(ge=0)
    min_size: int = Field(default=50, ge=1)

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        dupes = sorted({c for c in value if value.count(c) > 1})
        if dupes:
            raise ValueError(f"listed more than once: {', '.join(dupes)}")
        return value


class Validation(_Strict):
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)
    compare: Compare = Field(default_factory=Compare)
    metric: str | None = None
    slices: Slices | None = None
    #: Ceiling on the share of recent inputs where candidate and champion predict differently.
    max_prediction_difference: float | None = Field(default=None, ge=0, le=1)
    #: Regression: predictions further apart than this (target unit) count as different.
    prediction_difference_tolerance: float = Field(default=0.0, ge=0)
    #: Budget on the p95 latency of a single-row prediction, in milliseconds.
    max_latency_p95_ms: float | None = Field(default=None, gt=0)
    #: Budget on the size of the stored (skops) artifact, in bytes.
    max_artifact_bytes: int | None = Field(default=None, gt=0)

    @field_validator("min", "max")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(METRIC_DIRECTION))
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}, must be one of {sorted(METRIC_DIRECTION)}")
        return value

    @model_validator(mode="after")
    def _directions(self) -> Validation:
        for metric in self.min:
            if not higher_is_better(metric):
                raise ValueError(f"validation.min.{metric}: {metric} is lower-is-better, give a ceiling in 'max'")
        for metric in self.max:
            if higher_is_better(metric):
                raise ValueError(f"validation.max.{metric}: {metric} is higher-is-better, give a floor in 'min'")
        return self


class ModelConfig(_Strict):
    model: str
    problem: Problem
    target: str
    features: Features
    triggers: Triggers = Field(default_factory=Triggers)
    schedule: Schedule = Field(default_factory=Schedule)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    training: Training
    validation: Validation = Field(default_factory=Validation)
    approval: Approval = Field(default_factory=Approval)
    alarms: Alarms = Field(default_factory=Alarms)

    @model_validator(mode="before")
    @classmethod
    def _regression_alarms(cls, data: Any) -> Any:
        """A regression model gets no default performance or estimated alarm (their defaults watch accuracy)."""
        if isinstance(data, dict) and data.get("problem") == "regression":
            alarms = data.get("alarms", {})
            if isinstance(alarms, dict):
                data = {**data, "alarms": {"performance": None, "estimated": None, **alarms}}
        return data

    @field_validator("model")
    @classmethod
    def _name(cls, value: str) -> str:
        if not MODEL_NAME.match(value):
            raise ValueError(f"model == {value!r}, must match {MODEL_NAME.pattern}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        allowed = metrics_for(self.problem)
        metrics: list[tuple[str, str]] = [(f"validation.min.{m}", m) for m in self.validation.min] + [
            (f"validation.max.{m}", m) for m in self.validation.max
        ]
        if self.validation.metric is not None:
            metrics.append(("validation.metric", self.validation.metric))
        for where, metric in metrics:
            if metric not in allowed:
                raise ValueError(f"{where}: {metric!r} is not a {self.problem} metric ({', '.join(allowed)})")
        # The metric check also measures probability metrics (roc_auc, log_loss, brier) from the logged scores.
        signals = signal_metrics_for(self.problem)
        if self.triggers.performance is not None and self.triggers.performance.metric not in signals:
            raise ValueError(
                f"triggers.performance.metric: {self.triggers.performance.metric!r} is not a {self.problem} "
                f"metric ({', '.join(signals)})"
            )
        if self.target in self.features.all:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        if self.triggers.drift is not None:
            self.triggers.drift.check_features(self.features.numeric, self.features.categorical)
        if self.triggers.estimated is not None and self.problem != "classification":
            raise ValueError("triggers.estimated: label-free estimation applies to classification only")
        for column in self.validation.slices.columns if self.validation.slices else []:
            if column not in self.features.categorical:
                raise ValueError(f"validation.slices.columns: {column!r} is not a categorical feature")
        reserved = {
            self.monitoring.id_column,
            self.monitoring.timestamp_column,
            self.monitoring.prediction_column,
        }
        clash = sorted(reserved & {self.target, *self.features.all})
        if clash:
            raise ValueError(f"column {clash[0]!r} is reserved for monitoring (id, timestamp, prediction)")
        self._check_alarms()
        return self

    def _check_alarms(self) -> None:
        performance, estimated = self.alarms.performance, self.alarms.estimated
        if performance is not None and performance.metric not in published_performance_metrics(self.problem):
            known = ", ".join(signal_metrics_for(self.problem))
            raise ValueError(
                f"alarms.performance.metric == {performance.metric!r} is not a metric the check publishes for a "
                f"{self.problem} model ({known}, or <metric>_ci_lower/_ci_upper)"
            )
        if estimated is not None:
            if self.problem != "classification":
                raise ValueError("alarms.estimated: label-free estimation applies to classification only, use null")
            if estimated.metric not in published_estimated_metrics():
                names = ", ".join(estimated_metric_name(m) for m in ESTIMATED_METRICS)
                raise ValueError(
                    f"alarms.estimated.metric == {estimated.metric!r} is not a published estimate ({names}, "
                    "or their _ci_lower/_ci_upper bounds, e.g. EstimatedAccuracyCiLower)"
                )

    @property
    def primary_metric(self) -> str:
        """The metric that compares candidate and champion."""
        if self.validation.metric:
            return self.validation.metric
        if self.triggers.performance is not None and self.triggers.performance.metric in metrics_for(self.problem):
            return self.triggers.performance.metric
        # A probability metric (roc_auc, ...) is judged on logged scores; validation compares predictions.
        return "accuracy" if self.problem == "classification" else "rmse"

    @property
    def training_window_days(self) -> float:
        return self.training.window_days or self.monitoring.window_days

    def digest(self) -> str:
        """sha256 of the canonical JSON of this config (recorded with every model version)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _format(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (not allowed)"
        # Validators' messages often start with their own path already: do not repeat it.
        parts.append(message if not where or message.startswith(where) else f"{where}: {message}")
    return "; ".join(parts)


def parse_config(data: Any, *, source: str = "config") -> ModelConfig:
    """Validate a mapping into a :class:`ModelConfig`.

    Raises
    ------
    ConfigError
        With every problem, each prefixed by the path of the field at fault.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_format(exc)}") from exc


class _UniqueKeyLoader(yaml.SafeLoader):
    """``SafeLoader`` that rejects a key written twice in one mapping (PyYAML silently keeps the last)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<' merge keys may be overridden by the mapping's own keys
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=True))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def loads_config(text: str, *, source: str = "config") -> ModelConfig:
    """Parse YAML text into a :class:`ModelConfig` (see :func:`parse_config`).

    A key given twice in one mapping is an error: with plain YAML the second
    ``triggers:`` block would silently replace the first.
    """
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    return parse_config(data, source=source)


def load_config(path: str | Path) -> ModelConfig:
    """Read and validate a config file."""
    return loads_config(read_config_text(path), source=str(path))


def read_config_text(path: str | Path) -> str:
    """A config file's text (UTF-8, with or without a byte-order mark).

    Raises
    ------
    ConfigError
        The file is missing, a directory, empty or not UTF-8; the message names it.
    """
    from retrain import files
    from retrain.errors import DataNotFound, UnreadableData

    try:
        return files.read_text(path, "config")
    except (DataNotFound, UnreadableData) as exc:
        raise ConfigError(str(exc)) from exc
