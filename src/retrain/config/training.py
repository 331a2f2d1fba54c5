"""How a candidate is trained (estimator, data, engine) and the gates it must pass before promotion."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from retrain.config.base import METRIC_DIRECTION, _Strict, higher_is_better


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
