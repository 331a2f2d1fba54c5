"""The per-model retraining policy.

One YAML file per model. Unknown keys are rejected (``extra="forbid"``) and every
error names the field that is wrong, so a typo never silently turns a trigger
off. A minimal file (model, problem, target, features, triggers, training,
validation) is enough: everything else has a documented default.

Every name is importable from ``retrain.config``; the models live by section:
:mod:`~retrain.config.base` (the strict base model and the metric names),
:mod:`~retrain.config.triggers` and :mod:`~retrain.config.drift` (the signals),
:mod:`~retrain.config.operations` (approval, schedule, alarms, monitoring),
:mod:`~retrain.config.training` (training and validation),
:mod:`~retrain.config.model` (:class:`ModelConfig`) and
:mod:`~retrain.config.loader` (reading YAML into a :class:`ModelConfig`).
"""

from __future__ import annotations

from retrain.config.base import (
    CLASSIFICATION_METRICS,
    CLASSIFICATION_SIGNAL_METRICS,
    ESTIMATED_METRICS,
    ESTIMATED_REGRESSION_METRICS,
    METRIC_DIRECTION,
    REGRESSION_METRICS,
    REGRESSION_SIGNAL_METRICS,
    SIGNAL_METRIC_DIRECTION,
    Problem,
    SignalValue,
    estimated_metric_name,
    estimated_metrics_for,
    higher_is_better,
    metrics_for,
    published_estimated_metrics,
    published_performance_metrics,
    signal_metrics_for,
)
from retrain.config.drift import (
    CATEGORICAL_DRIFT_METHODS,
    NUMERIC_DRIFT_METHODS,
    DistributedDrift,
    DomainClassifierDrift,
    DriftFeature,
    DriftMethod,
    DriftProfileSettings,
    DriftThresholds,
    DriftTrigger,
    PredictionDifference,
    PredictionDrift,
)
from retrain.config.loader import ConfigError, load_config, loads_config, parse_config, read_config_text
from retrain.config.model import MODEL_NAME, Features, ModelConfig
from retrain.config.operations import (
    Alarms,
    Approval,
    Comparison,
    MetricAlarm,
    Monitoring,
    Schedule,
    check_schedule_expression,
)
from retrain.config.training import Compare, SageMakerTraining, Slices, Training, Validation
from retrain.config.triggers import EstimatedTrigger, FlaggedTrigger, PerformanceTrigger, Triggers

__all__ = [
    "CATEGORICAL_DRIFT_METHODS",
    "CLASSIFICATION_METRICS",
    "CLASSIFICATION_SIGNAL_METRICS",
    "ESTIMATED_METRICS",
    "ESTIMATED_REGRESSION_METRICS",
    "METRIC_DIRECTION",
    "MODEL_NAME",
    "NUMERIC_DRIFT_METHODS",
    "REGRESSION_METRICS",
    "REGRESSION_SIGNAL_METRICS",
    "SIGNAL_METRIC_DIRECTION",
    "Alarms",
    "Approval",
    "Compare",
    "Comparison",
    "ConfigError",
    "DistributedDrift",
    "DomainClassifierDrift",
    "DriftFeature",
    "DriftMethod",
    "DriftProfileSettings",
    "DriftThresholds",
    "DriftTrigger",
    "EstimatedTrigger",
    "Features",
    "FlaggedTrigger",
    "MetricAlarm",
    "ModelConfig",
    "Monitoring",
    "PerformanceTrigger",
    "PredictionDifference",
    "PredictionDrift",
    "Problem",
    "SageMakerTraining",
    "Schedule",
    "SignalValue",
    "Slices",
    "Training",
    "Triggers",
    "Validation",
    "check_schedule_expression",
    "estimated_metric_name",
    "estimated_metrics_for",
    "higher_is_better",
    "load_config",
    "loads_config",
    "metrics_for",
    "parse_config",
    "published_estimated_metrics",
    "published_performance_metrics",
    "read_config_text",
    "signal_metrics_for",
]
