"""The strict base of every config model and the metric names the config refers to.

Which metrics each problem type computes (validation) and measures (the metric check), which way each is
better, and the CloudWatch names the checks publish them under: the triggers, the gates and the alarms
all validate against these.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

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


def metrics_for(problem: Problem) -> tuple[str, ...]:
    """Names of the metrics computed for a problem type."""
    return CLASSIFICATION_METRICS if problem == "classification" else REGRESSION_METRICS


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` means a better model."""
    return METRIC_DIRECTION[metric]


class _Strict(BaseModel):
    # Each field's description is the string literal under it (``python -m retrain.docs config`` prints them).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


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
#: What confidence-based performance estimation (CBPE) estimates without labels for a classifier.
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
#: What direct loss estimation (DLE) estimates without labels for a regression model.
ESTIMATED_REGRESSION_METRICS = ("mae", "rmse")
#: Which value of a metric a trigger compares with its bound: the point estimate or a bound of its interval.
SignalValue = Literal["estimate", "ci_lower", "ci_upper"]


def signal_metrics_for(problem: Problem) -> tuple[str, ...]:
    """Names of the metrics the metric check measures for a problem type (a superset of :func:`metrics_for`)."""
    return CLASSIFICATION_SIGNAL_METRICS if problem == "classification" else REGRESSION_SIGNAL_METRICS


def estimated_metric_name(metric: str) -> str:
    """CloudWatch name of a label-free estimate: ``roc_auc`` -> ``EstimatedRocAuc`` (as the metric check says)."""
    return "Estimated" + "".join(part.capitalize() for part in metric.split("_"))


def published_performance_metrics(problem: Problem) -> tuple[str, ...]:
    """Metric names the metric check publishes for labelled predictions (and their interval bounds)."""
    names = signal_metrics_for(problem)
    return (*names, *(f"{m}_{use}" for m in names for use in ("ci_lower", "ci_upper")))


def estimated_metrics_for(problem: Problem) -> tuple[str, ...]:
    """The metrics estimated without labels: CBPE's for classification, DLE's (mae, rmse) for regression."""
    return ESTIMATED_METRICS if problem == "classification" else ESTIMATED_REGRESSION_METRICS


def published_estimated_metrics(problem: Problem = "classification") -> tuple[str, ...]:
    """Metric names the metric check publishes for a problem type's label-free estimates (and interval bounds)."""
    estimated = estimated_metrics_for(problem)
    names = [estimated_metric_name(m) for m in estimated]
    bounds = [estimated_metric_name(f"{m}_{use}") for m in estimated for use in ("ci_lower", "ci_upper")]
    return (*names, *bounds)
