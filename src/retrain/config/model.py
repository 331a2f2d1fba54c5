"""One model's whole policy (:class:`ModelConfig`): its columns and every section, checked against each other."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import Field, field_validator, model_validator

from retrain.config.base import (
    Problem,
    _Strict,
    estimated_metric_name,
    estimated_metrics_for,
    metrics_for,
    published_estimated_metrics,
    published_performance_metrics,
    signal_metrics_for,
)
from retrain.config.operations import Alarms, Approval, Monitoring, Schedule
from retrain.config.training import Training, Validation
from retrain.config.triggers import Triggers
from retrain.layout import MODEL_NAME_PATTERN

MODEL_NAME = re.compile(MODEL_NAME_PATTERN)


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

    def present(self, columns: Iterable[str]) -> tuple[list[str], list[str]]:
        """The numeric and the categorical features found in ``columns``, in config order.

        A window or a reference may lack a feature; the drift checks test only what both hold.
        """
        found = set(columns)
        return [c for c in self.numeric if c in found], [c for c in self.categorical if c in found]


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
        estimable = estimated_metrics_for(self.problem)
        if self.triggers.estimated is not None and self.triggers.estimated.metric not in estimable:
            raise ValueError(
                f"triggers.estimated.metric: {self.triggers.estimated.metric!r} is not estimated without labels "
                f"for a {self.problem} model ({', '.join(estimable)})"
            )
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
        if estimated is not None and estimated.metric not in published_estimated_metrics(self.problem):
            estimable = estimated_metrics_for(self.problem)
            names = ", ".join(estimated_metric_name(m) for m in estimable)
            example = estimated_metric_name(f"{estimable[0]}_ci_upper")
            raise ValueError(
                f"alarms.estimated.metric == {estimated.metric!r} is not an estimate published for a {self.problem} "
                f"model ({names}, or their CiLower/CiUpper bounds, e.g. {example})"
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
