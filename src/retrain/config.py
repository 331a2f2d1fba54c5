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
    # Each field's description is the string literal under it (``python -m retrain.docs config`` prints them).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Features(_Strict):
    """The model's input columns: at least one, none listed twice, none the target or a monitoring column."""

    numeric: list[str] = Field(default_factory=list)
    """Numeric feature columns. Training imputes the median and scales them; the drift check (method ``auto``)
    tests a continuous one with KS and Wasserstein distance, one with at most 10 distinct reference values with
    chi-squared and Jensen-Shannon distance."""
    categorical: list[str] = Field(default_factory=list)
    """Categorical feature columns. Training one-hot encodes them (at most ``training.max_categories`` columns
    each, a missing value as the category ``<missing>``); the drift check (method ``auto``) tests them with
    chi-squared and Jensen-Shannon distance. Only these can be ``validation.slices.columns``."""

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
    """The metric judged. ``triggers.performance``: any realized metric of the problem type (classification:
    accuracy, balanced_accuracy, precision, recall, f1, precision_macro, recall_macro, f1_macro, roc_auc,
    log_loss, brier; regression: rmse, mae, mape, r2). ``triggers.estimated``: a metric CBPE estimates without
    labels (accuracy, balanced_accuracy, precision, recall, f1, their ``_macro`` forms, roc_auc)."""
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
    """Share of the window's predictions (a fraction in (0, 1]) flagged by people above which the signal fires."""
    min_samples: int = Field(default=100, ge=1)
    """Fewest predictions in the window; fewer is insufficient data and the signal does not vote."""
    min_count: int = Field(default=5, ge=1)
    """Fewest flagged predictions for the signal to fire, whatever the rate."""


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
    """Threshold of the KS statistic (the largest gap between the two CDFs)."""
    psi: float = Field(default=0.2, gt=0)
    """Threshold of the population stability index (on ``bins`` quantile bins of the reference)."""
    wasserstein: float = Field(default=0.1, gt=0)
    """Threshold of the Wasserstein distance, in reference standard deviations."""
    js: float = Field(default=0.1, gt=0, le=1)
    """Threshold of the Jensen-Shannon distance (natural logarithm, as scipy's)."""
    chi2: float = Field(default=0.1, gt=0, le=1)
    """Threshold of Cramér's V."""
    linf: float = Field(default=0.1, gt=0, le=1)
    """Threshold of the largest change of one category's (or bin's) share."""


class DriftFeature(_Strict):
    """Per-feature drift settings: method, its threshold (default: ``thresholds.<method>``), critical."""

    method: DriftMethod = "auto"
    """The feature's effect size: ``auto`` (Wasserstein for a continuous numeric feature, Jensen-Shannon for one
    with at most 10 distinct reference values and for a categorical one), ``ks``, ``psi``, ``wasserstein``,
    ``js``, ``chi2`` or ``linf``; ``ks`` and ``wasserstein`` apply to numeric features only."""
    threshold: float | None = Field(default=None, gt=0)
    """The feature's practical threshold; ``null``: ``triggers.drift.thresholds.<method>``."""
    critical: bool = False
    """A critical feature that drifts makes the whole data set drift."""


class DomainClassifierDrift(_Strict):
    """Multivariate drift: a classifier told to separate reference rows from current rows.

    Fires when its cross-validated ROC AUC reaches ``auc`` and is significantly above 0.5.
    """

    auc: float = Field(default=0.55, gt=0.5, lt=1)
    """Cross-validated ROC AUC of the domain classifier at which the signal fires (when also significantly above
    0.5: Mann-Whitney at level ``triggers.drift.p_value``)."""
    max_rows: int = Field(default=5000, ge=50, le=200000)
    """Most rows taken from each window (reference sample and current window)."""
    folds: int = Field(default=3, ge=2, le=10)
    """Cross-validation folds."""


class PredictionDrift(_Strict):
    """Drift of the champion's predictions (classes or regression values) against their reference distribution."""

    method: DriftMethod = "auto"
    """Effect size of the change of the champion's outputs (its positive-class probability ``proba_<class>`` when
    logged, else its classes; regression values), as a feature's ``method``."""
    threshold: float | None = Field(default=None, gt=0)
    """Practical threshold; ``null``: ``triggers.drift.thresholds.<method>``."""
    min_samples: int = Field(default=100, ge=2)
    """Fewest predictions in the window; fewer is insufficient data and the signal does not vote."""


class PredictionDifference(_Strict):
    """Share of current rows where champion and latest candidate disagree (regression: by more than ``tolerance``).

    Fires when the share reaches ``max_rate``.
    """

    max_rate: float = Field(default=0.1, gt=0, le=1)
    """Share of the window's rows on which champion and latest candidate predict differently at which the signal
    fires."""
    tolerance: float = Field(default=0.0, ge=0)
    """Regression: predictions further apart than this (target unit) count as different."""
    min_samples: int = Field(default=100, ge=1)
    """Fewest rows in the window; fewer (or no candidate newer than the champion) is insufficient data."""


class DriftProfileSettings(_Strict):
    """How the reference profile is built (once per snapshot): see :mod:`retrain.drift.profile`."""

    points: int = Field(default=20000, ge=100, le=1000000)
    """Distinct values kept per numeric feature: exact up to this many; beyond, this many order statistics with
    exact counts, between which the CDF is interpolated (KS within 1/``points``)."""
    max_categories: int = Field(default=10000, ge=2, le=100000)
    """Most categories counted per categorical feature; the drift check compares every category the reference
    named up to this many."""
    sample_rows: int = Field(default=5000, ge=0, le=200000)
    """Rows of the seeded reference sample stored in the profile (the domain classifier's reference rows)."""


class DistributedDrift(_Strict):
    """How a window too large for one function is profiled: batches of partitions on a Distributed Map.

    See docs/drift.md, "Distributed drift check".
    """

    min_partitions: int = Field(default=64, ge=1)
    """With ``engine: auto``, the check runs distributed when the window has more table objects than this."""
    batch_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    """Target bytes of table objects per map iteration (objects are grouped in listing order; an object larger
    than this is a batch of its own)."""
    max_concurrency: int = Field(default=40, ge=1, le=1000)
    """Map iterations (batches) running at once."""
    points: int = Field(default=20000, ge=100, le=1000000)
    """Sketch points per numeric feature of each batch's profile (exact up to this many distinct values; beyond,
    KS within 1/``points``)."""
    sample_rows: int = Field(default=5000, ge=0, le=200000)
    """Rows of the seeded uniform sample of the window kept across batches, on which the domain classifier and
    the prediction difference rate run in distributed mode."""


class DriftTrigger(_Strict):
    """Retrain when the data drifts: enough features, a critical one, or the important ones.

    A feature drifts when its change is significant (adjusted for testing every
    feature: ``correction``) and its effect size reaches its threshold.
    """

    share: float = Field(default=0.3, gt=0, le=1)
    """Share of drifted features at which the data set drifts."""
    p_value: float = Field(default=0.05, gt=0, lt=1)
    """Level of the adjusted p-values (with ``bh``, the false discovery rate), and of the multivariate and
    prediction tests."""
    correction: Literal["bh", "bonferroni"] = "bh"
    """Multiple-testing correction across every test of the check: ``bh`` (Benjamini-Hochberg) or
    ``bonferroni``."""
    min_samples: int = Field(default=100, ge=2)
    """Rows each window needs; fewer is insufficient data and the signal does not vote."""
    bins: int = Field(default=10, ge=2, le=100)
    """Quantile bins of the reference for ``psi``, ``js``, ``linf`` and ``chi2`` on continuous features."""
    thresholds: DriftThresholds = Field(default_factory=DriftThresholds)
    """Practical threshold per method (a feature's own ``threshold`` overrides it)."""
    missing_threshold: float = Field(default=0.2, gt=0)
    """Cohen's h a significant change of a numeric feature's missing rate must reach to drift."""
    importance_share: float | None = Field(default=0.5, gt=0, le=1)
    """Share of the champion's permutation importance carried by the drifted features at which the data set
    drifts ("drift that matters"); ``null``: off."""
    features: dict[str, DriftFeature] = Field(default_factory=dict)
    """Per-feature settings, by feature name; a key that is not a feature, or a method that does not apply to the
    feature's kind, is an error."""
    multivariate: DomainClassifierDrift | None = None
    """Multivariate drift (a domain classifier): its own vote; off by default."""
    prediction: PredictionDrift | None = None
    """Prediction drift (the champion's outputs in the window against their distribution on its holdout): its own
    vote; off by default."""
    prediction_difference: PredictionDifference | None = None
    """Champion/candidate prediction difference rate: its own vote; off by default."""
    profile: DriftProfileSettings = Field(default_factory=DriftProfileSettings)
    """How each snapshot's reference profile is built (once, when the snapshot is made)."""
    engine: Literal["auto", "single", "distributed"] = "auto"
    """Where the window is read: ``single`` (the whole window in the DriftCheck function), ``distributed``
    (batches of partitions profiled on a Distributed Map, merged and judged), or ``auto`` (distributed when the
    window has more table objects than ``distributed.min_partitions``)."""
    distributed: DistributedDrift = Field(default_factory=DistributedDrift)
    """Batching and sketch settings of the distributed engine."""

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
    """Label-free estimate (CBPE) of a classification metric, on every prediction of the window; ``null``: off."""
    policy: Literal["any", "all"] = "any"
    """How the votes combine (in schedule mode ``check``): ``any`` retrains when one vote fires; ``all`` when at
    least one signal voted and none voted against."""
    cooldown_hours: float = Field(default=24.0, ge=0)
    """No retraining within this many hours after a retraining promoted a model (the first champion does not
    count; the checks still run; ``retrain trigger --force`` overrides)."""
    dedupe_minutes: float = Field(default=5.0, gt=0)
    """Scheduled events carry no id of their own: two within this many minutes are one delivery."""


class Approval(_Strict):
    """A person approves each candidate that passed its gates before it is promoted.

    The run waits (``retrain approve RUN`` / ``retrain reject RUN --reason TEXT``)
    for at most ``timeout_hours``; a timeout rejects the candidate.
    """

    required: bool = False
    """Whether a candidate that passed its gates waits for a person before it is promoted."""
    timeout_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    """Hours to wait for ``retrain approve``/``reject``; no answer in time rejects the candidate ("approval timed
    out"). The model's lock lasts this much longer."""


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
    """``check``: run the checks, retrain only if the policy over the signals fires; ``always``: retrain every
    period (alarm and manual triggers always retrain)."""
    expression: str = "rate(1 day)"
    """The schedule's EventBridge Scheduler recurrence, UTC: ``rate(N minute[s]|hour[s]|day[s])`` (singular for
    1) or ``cron(minutes hours day-of-month month day-of-week year)`` with a ``?`` in one of the day fields."""
    enabled: bool = True
    """``false`` keeps the schedule but disabled (alarm and manual triggers still run)."""

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
    """A metric the checks publish for the model's problem type: ``performance``: a realized metric or its
    ``<metric>_ci_lower``/``_ci_upper``; ``estimated``: ``Estimated<Metric>`` (e.g. ``EstimatedAccuracy``) or its
    ``CiLower``/``CiUpper`` bound."""
    threshold: float
    """The value the metric is compared with."""
    comparison: Comparison = "LessThanThreshold"
    """CloudWatch comparison operator: ``LessThanThreshold``, ``LessThanOrEqualToThreshold``,
    ``GreaterThanThreshold`` or ``GreaterThanOrEqualToThreshold``."""


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
    """Alarm ``<stack>-<model>-performance`` on a realized metric (Average); ``null``: none (the default for a
    regression model)."""
    drift_share: float | None = Field(default=0.3, gt=0, le=1)
    """Alarm ``<stack>-<model>-drift``: ``DriftShare`` (Maximum) >= this share of drifted features; ``null``:
    none."""
    flagged_rate: float | None = Field(default=5.0, gt=0, le=100)
    """Alarm ``<stack>-<model>-flagged``: ``FlaggedRate`` (Maximum) >= this percent of predictions flagged;
    ``null``: none."""
    estimated: MetricAlarm | None = Field(
        default_factory=lambda: MetricAlarm(metric="EstimatedAccuracy", threshold=0.8, comparison="LessThanThreshold")
    )
    """Alarm ``<stack>-<model>-estimated`` on a label-free estimate (Average; classification only); ``null``: none
    (the default for a regression model)."""


class Monitoring(_Strict):
    """Where the production window is read from and how its columns are named."""

    window_days: float = Field(default=7.0, gt=0)
    """Days of production the checks read, ending when the run starts."""
    id_column: str = "id"
    """Column of the inference log (and of the label and flag feeds) that identifies a prediction; labels are
    joined on it."""
    timestamp_column: str = "timestamp"
    """Column of the inference log holding when each prediction was made."""
    prediction_column: str = "prediction"
    """Column of the inference log holding the champion's prediction."""
    proba_prefix: str = Field(default="proba_", min_length=1)
    """Class probabilities (``predict_proba``): one column ``<proba_prefix><class>`` per class, e.g. ``proba_1``."""
    flagged_column: str = "flagged"
    """Boolean column: True when a person flagged the prediction (optional; a feed of flagged ids also counts)."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """Two-sided level of every confidence interval."""
    bootstrap_resamples: int = Field(default=1000, ge=100, le=100_000)
    """Bootstrap resamples per interval (seeded: the same window always gives the same interval)."""


class SageMakerTraining(_Strict):
    """Where a SageMaker training job fits the candidate (``training.engine: sagemaker``)."""

    instance_type: str = "ml.m5.xlarge"
    """The job's instance type (``ml.`` and a SageMaker training instance type); it runs the fit alone."""
    instance_count: int = 1
    """Always 1: a scikit-learn estimator fits on one machine."""
    max_runtime_minutes: int = Field(default=60, ge=1, le=7200)
    """Longest the job may run; SageMaker stops it then and the run fails (the model's lock is held this much
    longer than ``LockTtlSeconds``)."""
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    """Size of the job's storage volume, which holds the snapshot and the model while it trains."""

    @field_validator("instance_type")
    @classmethod
    def _ml_instance(cls, value: str) -> str:
        if not re.fullmatch(r"ml\.[a-z0-9]+(\.[a-z0-9]+)+", value):
            raise ValueError(f"instance_type == {value!r}, must be a SageMaker instance type such as 'ml.m5.xlarge'")
        return value

    @field_validator("instance_count")
    @classmethod
    def _one_instance(cls, value: int) -> int:
        if value != 1:
            raise ValueError(
                f"instance_count == {value}, must be 1: a scikit-learn estimator fits on one machine "
                "(choose a larger instance_type instead)"
            )
        return value


class Training(_Strict):
    """How a candidate is trained: the estimator and the data of its snapshot."""

    estimator: str
    """A scikit-learn estimator class for the model's problem, by name (``HistGradientBoostingClassifier``) or
    public dotted path, from an allowlist (logistic/linear, ridge, lasso, elastic net, trees, forests, extra
    trees, gradient boosting, hist gradient boosting, k-neighbours); nothing else is ever imported."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The estimator's constructor arguments, each checked against the class's own signature."""
    window_days: float | None = Field(default=None, gt=0)
    """Days of labelled production rows the snapshot takes; ``null``: ``monitoring.window_days``."""
    reference_fraction: float = Field(default=0.0, ge=0, le=1)
    """Share of the historical reference sampled into the snapshot beside the production rows."""
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    """Most recent share of the snapshot's rows kept as the holdout, on which candidate and champion are
    validated."""
    min_rows: int = Field(default=200, ge=10)
    """With fewer labelled rows in the training window a triggered run ends ``insufficient-data`` (nothing
    written); ``retrain bootstrap`` refuses a reference with fewer once the holdout is taken out."""
    seed: int = 0
    """Seed of the estimator's ``random_state`` (unless ``params`` sets one), of the reference sample, of the
    permutation importances and of the domain classifier."""
    max_categories: int = Field(default=50, ge=2)
    """Most one-hot columns a categorical feature is encoded into: when a feature has this many categories or
    more, its ``max_categories - 1`` most frequent ones (in the training data) get a column each and the rest
    share one "infrequent" column, which categories unseen in training also map to (a feature with fewer
    categories is encoded one column per category, unseen ones as all zeros). Raise it if more than 49
    categories of a feature matter."""
    engine: Literal["lambda", "sagemaker"] = "lambda"
    """Where the candidate is fitted: ``lambda`` in the Train function (15 minutes, 10 GB at most), or
    ``sagemaker`` in a SageMaker training job (see ``sagemaker``); both fit the same way."""
    sagemaker: SageMakerTraining | None = None
    """The training job's resources, with ``engine: sagemaker`` (``null``: the defaults)."""

    @model_validator(mode="before")
    @classmethod
    def _sagemaker_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("engine") == "sagemaker" and data.get("sagemaker") is None:
            return {**data, "sagemaker": {}}
        return data


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
    """``not_worse``: the whole interval lies above ``-delta`` (with ``delta: 0`` the candidate must be shown at
    least as good: give a margin to accept a statistical tie); ``better``: above ``+delta``."""
    delta: float = Field(default=0.0, ge=0)
    """Margin, in the primary metric's unit."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """Two-sided level of the interval."""
    resamples: int = Field(default=1000, ge=100, le=100_000)
    """Bootstrap resamples of the holdout rows."""
    seed: int = Field(default=0, ge=0)
    """Seed of the resamples (the same holdout always gives the same interval)."""


class Slices(_Strict):
    """Slice non-regression: per value of each column, the candidate may lose at most ``max_drop``.

    ``max_drop`` is in the primary metric's unit and direction (a drop of accuracy,
    a rise of RMSE). Slices with fewer than ``min_size`` labelled holdout rows are
    skipped and reported.
    """

    columns: list[str] = Field(min_length=1)
    """Categorical features whose values make the slices; one gate ``slice <column>`` each."""
    max_drop: float = Field(ge=0)
    """Most the candidate's primary metric may fall below the champion's on the same rows of a slice (metric
    unit; a rise for RMSE)."""
    min_size: int = Field(default=50, ge=1)
    """Slices with fewer labelled holdout rows are skipped and named."""

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        dupes = sorted({c for c in value if value.count(c) > 1})
        if dupes:
            raise ValueError(f"listed more than once: {', '.join(dupes)}")
        return value


class Validation(_Strict):
    """The gates a candidate must pass on the snapshot's holdout before it may be promoted.

    Every gate is reported with its value, limit and verdict. Without a champion (a first model) only
    prediction sanity, the absolute floors and ceilings and the budgets apply.
    """

    min: dict[str, float] = Field(default_factory=dict)
    """Absolute floors per higher-is-better metric (gates ``min <metric>``), e.g. ``{accuracy: 0.8}``. Validation
    computes accuracy, balanced_accuracy, f1, precision, recall (classification) and rmse, mae, r2
    (regression)."""
    max: dict[str, float] = Field(default_factory=dict)
    """Absolute ceilings per lower-is-better metric (gates ``max <metric>``), e.g. ``{rmse: 75}``."""
    compare: Compare = Field(default_factory=Compare)
    """Candidate vs champion on the same holdout (gate ``vs champion``)."""
    metric: str | None = None
    """The primary metric, which candidate and champion are compared on (one validation computes); ``null``: the
    performance trigger's metric when validation computes it, else ``accuracy`` (classification) or ``rmse``
    (regression)."""
    slices: Slices | None = None
    """Slice non-regression against the champion; ``null``: off."""
    max_prediction_difference: float | None = Field(default=None, ge=0, le=1)
    """Ceiling on the share of recent inputs (the window's last 10,000 inference-log rows) where candidate and
    champion predict differently (gate ``prediction difference``; no recent rows: skipped and said). The share
    is reported as ``prediction_difference`` either way."""
    prediction_difference_tolerance: float = Field(default=0.0, ge=0)
    """Regression: predictions further apart than this (target unit) count as different."""
    max_latency_p95_ms: float | None = Field(default=None, gt=0)
    """Budget on the p95 latency of a single-row prediction, in milliseconds (100 warm calls, native thread pools
    at one thread; gate ``latency p95``); reported as ``latency_p95_ms`` either way."""
    max_artifact_bytes: int | None = Field(default=None, gt=0)
    """Budget on the size of the stored (skops) artifact, in bytes (gate ``artifact size``); reported as
    ``artifact_bytes`` either way."""

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
    """One model's retraining policy: one YAML file per model. Unknown keys are errors."""

    model: str
    """The model's name: lowercase letters, digits, ``-`` and ``_``, at most 63 characters, starting with a letter or
    digit. It is part of S3 keys, registry keys, the schedule, alarm and SSM parameter names (``ops`` is reserved
    for the stack's operations alarms)."""
    problem: Problem
    """``classification`` or ``regression``: which metrics, estimators and signals apply."""
    target: str
    """Column of the labels (in the reference data and the label feed); not a feature nor a monitoring column."""
    features: Features
    """The model's input columns."""
    triggers: Triggers = Field(default_factory=Triggers)
    """When a run retrains (every signal off by default)."""
    schedule: Schedule = Field(default_factory=Schedule)
    """The model's own EventBridge Scheduler schedule, created by ``retrain register``."""
    monitoring: Monitoring = Field(default_factory=Monitoring)
    """The production window the checks read and the confidence intervals they report."""
    training: Training
    """How a candidate is trained."""
    validation: Validation = Field(default_factory=Validation)
    """The gates a candidate must pass."""
    approval: Approval = Field(default_factory=Approval)
    """Optional manual approval before promotion."""
    alarms: Alarms = Field(default_factory=Alarms)
    """The model's CloudWatch alarms, created by ``retrain register``; an alarm going to ``ALARM`` starts a run."""

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
        data = yaml.load(text, Loader=_UniqueKeyLoader)
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
