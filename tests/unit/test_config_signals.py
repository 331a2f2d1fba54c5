"""The config of the metric check's signals: performance (with ``use``), flagged, estimated, monitoring."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from retrain.config import (
    ESTIMATED_METRICS,
    ESTIMATED_REGRESSION_METRICS,
    EstimatedTrigger,
    FlaggedTrigger,
    PerformanceTrigger,
    loads_config,
    parse_config,
    signal_metrics_for,
)
from retrain.errors import ConfigError

pytestmark = pytest.mark.unit

BASE = """\
model: churn
problem: classification
target: label
features:
  numeric: [tenure, charges]
training:
  estimator: HistGradientBoostingClassifier
"""


def _config(triggers: str = "", monitoring: str = "") -> Any:
    text = BASE + (f"triggers:\n{triggers}" if triggers else "") + (f"monitoring:\n{monitoring}" if monitoring else "")
    return loads_config(text)


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(yaml.safe_load(BASE + text))
    return str(info.value)


def test_monitoring_defaults_for_the_signals() -> None:
    mon = _config().monitoring

    assert (mon.proba_prefix, mon.flagged_column) == ("proba_", "flagged")
    assert (mon.confidence, mon.bootstrap_resamples) == (0.95, 1000)


def test_signals_are_off_unless_configured() -> None:
    triggers = _config().triggers

    assert triggers.flagged is None
    assert triggers.estimated is None


def test_performance_trigger_compares_the_estimate_by_default() -> None:
    trigger = _config("  performance: {metric: accuracy, min: 0.8}\n").triggers.performance

    assert trigger is not None
    assert (trigger.use, trigger.direction, trigger.threshold) == ("estimate", "min", 0.8)


@pytest.mark.parametrize("use", ["estimate", "ci_lower", "ci_upper"])
def test_performance_trigger_can_judge_a_bound_of_the_interval(use: str) -> None:
    trigger = _config(f"  performance: {{metric: f1, min: 0.7, use: {use}}}\n").triggers.performance

    assert trigger is not None
    assert trigger.use == use


def test_an_unknown_use_names_the_field() -> None:
    message = _error("triggers:\n  performance: {metric: accuracy, min: 0.8, use: median}\n")

    assert "triggers.performance.use" in message


@pytest.mark.parametrize(("metric", "bound"), [("roc_auc", "min"), ("log_loss", "max"), ("brier", "max")])
def test_probability_metrics_have_a_direction(metric: str, bound: str) -> None:
    trigger = PerformanceTrigger.model_validate({"metric": metric, bound: 0.5})

    assert trigger.direction == bound


def test_a_lower_is_better_probability_metric_needs_max() -> None:
    with pytest.raises(ValidationError, match=r"triggers.performance: log_loss is lower-is-better, use 'max'"):
        PerformanceTrigger(metric="log_loss", min=0.5)


def test_a_whole_config_accepts_a_probability_metric_trigger() -> None:
    trigger = _config("  performance: {metric: roc_auc, min: 0.7}\n").triggers.performance

    assert trigger is not None
    assert trigger.metric == "roc_auc"


def test_signal_metrics_extend_the_validation_metrics() -> None:
    assert signal_metrics_for("classification")[-3:] == ("roc_auc", "log_loss", "brier")
    assert signal_metrics_for("regression") == ("rmse", "mae", "mape", "r2")


def test_flagged_trigger_defaults() -> None:
    trigger = _config("  flagged: {max_rate: 0.05}\n").triggers.flagged

    assert trigger == FlaggedTrigger(max_rate=0.05, min_samples=100, min_count=5)


@pytest.mark.parametrize("max_rate", [0, 1.5])
def test_flagged_rate_must_be_a_share(max_rate: float) -> None:
    assert "triggers.flagged.max_rate" in _error(f"triggers:\n  flagged: {{max_rate: {max_rate}}}\n")


def test_flagged_trigger_needs_its_rate() -> None:
    assert "triggers.flagged.max_rate" in _error("triggers:\n  flagged: {min_count: 3}\n")


def test_estimated_trigger_is_a_bound_on_a_cbpe_metric() -> None:
    trigger = _config("  estimated: {metric: roc_auc, min: 0.75, use: ci_upper}\n").triggers.estimated

    assert trigger == EstimatedTrigger(metric="roc_auc", min=0.75, min_samples=100, use="ci_upper")


def test_estimated_trigger_rejects_a_metric_cbpe_cannot_estimate() -> None:
    message = _error("triggers:\n  estimated: {metric: log_loss, max: 0.5}\n")

    estimable = sorted([*ESTIMATED_METRICS, *ESTIMATED_REGRESSION_METRICS])
    assert f"triggers.estimated.metric == 'log_loss', must be one of {estimable}" in message


def test_a_classifier_cannot_trigger_on_an_estimated_regression_error() -> None:
    message = _error("triggers:\n  estimated: {metric: mae, max: 0.5}\n")

    assert "triggers.estimated.metric: 'mae' is not estimated without labels for a classification model" in message


@pytest.mark.parametrize(
    ("monitoring", "field"),
    [
        ("  confidence: 0.4\n", "monitoring.confidence"),
        ("  confidence: 1\n", "monitoring.confidence"),
        ("  bootstrap_resamples: 10\n", "monitoring.bootstrap_resamples"),
        ("  proba_prefix: ''\n", "monitoring.proba_prefix"),
    ],
)
def test_monitoring_signal_settings_are_bounded(monitoring: str, field: str) -> None:
    assert field in _error(f"monitoring:\n{monitoring}")


def test_a_probability_metric_trigger_leaves_validation_on_a_prediction_metric() -> None:
    assert _config("  performance: {metric: roc_auc, min: 0.7}\n").primary_metric == "accuracy"
