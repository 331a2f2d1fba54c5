"""Specification of a model's own schedule and alarms in its config (``schedule``, ``alarms``).

Each model on a stack carries when its schedule fires and what its alarms
watch; ``retrain register`` turns them into an EventBridge Scheduler schedule
and CloudWatch alarms. A bad expression or an alarm on a metric the checks
never publish is refused at load, naming the field.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from retrain.config import (
    ESTIMATED_METRICS,
    check_schedule_expression,
    estimated_metric_name,
    parse_config,
    published_estimated_metrics,
)
from retrain.errors import ConfigError

pytestmark = pytest.mark.unit

CLASSIFIER = """\
model: churn
problem: classification
target: label
features: {numeric: [tenure], categorical: [plan]}
training: {estimator: HistGradientBoostingClassifier}
"""
REGRESSOR = """\
model: prices
problem: regression
target: price
features: {numeric: [area]}
training: {estimator: Ridge}
"""


def _config(base: str = CLASSIFIER, **sections: Any) -> Any:
    data = yaml.safe_load(base)
    data.update(sections)
    return parse_config(data)


@pytest.mark.parametrize(
    "expression",
    ["rate(1 day)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "cron(0 6 * * ? *)", "cron(0 6 ? * MON *)"],
)
def test_a_rate_or_cron_expression_is_accepted(expression: str) -> None:
    assert _config(schedule={"expression": expression}).schedule.expression == expression


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(1 days)", "write rate(1 day)"),
        ("rate(2 day)", "write rate(2 days)"),
        ("rate(0 minutes)", "must be >= 1"),
        ("rate(1 week)", "must be 'rate("),
        ("every day", "must be 'rate("),
        ("at(2026-01-01T00:00:00)", "must be 'rate("),
        ("cron(0 6 * * *)", "a cron needs 6 fields"),
        ("cron(0 6 * * MON *)", "day-of-month or day-of-week must be '?'"),
    ],
)
def test_a_bad_schedule_expression_is_refused_naming_the_field(expression: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"schedule\.expression") as error:
        _config(schedule={"expression": expression})

    assert message in str(error.value)


def test_the_expression_check_names_the_field_it_is_given() -> None:
    with pytest.raises(ValueError, match=r"^where == 'x'"):
        check_schedule_expression("x", where="where")


def test_a_schedule_can_be_disabled() -> None:
    assert _config(schedule={"enabled": False}).schedule.enabled is False


def test_each_alarm_can_be_disabled_with_null() -> None:
    alarms = _config(alarms={"performance": None, "drift_share": None, "flagged_rate": None, "estimated": None}).alarms

    assert (alarms.performance, alarms.drift_share, alarms.flagged_rate, alarms.estimated) == (None,) * 4


def test_a_regression_model_has_no_default_performance_or_estimated_alarm() -> None:
    alarms = _config(REGRESSOR).alarms

    assert alarms.performance is None
    assert alarms.estimated is None
    assert (alarms.drift_share, alarms.flagged_rate) == (0.3, 5.0)


def test_a_regression_model_may_alarm_on_its_own_metric() -> None:
    performance = {"metric": "rmse", "threshold": 60, "comparison": "GreaterThanThreshold"}

    alarm = _config(REGRESSOR, alarms={"performance": performance}).alarms.performance

    assert alarm is not None
    assert (alarm.metric, alarm.threshold, alarm.comparison) == (
        "rmse",
        60.0,
        "GreaterThanThreshold",
    )


@pytest.mark.parametrize(
    ("base", "alarms", "field"),
    [
        (REGRESSOR, {"performance": {"metric": "accuracy", "threshold": 0.8}}, "alarms.performance.metric"),
        (CLASSIFIER, {"performance": {"metric": "rmse", "threshold": 1}}, "alarms.performance.metric"),
        (CLASSIFIER, {"performance": {"metric": "acuracy", "threshold": 0.8}}, "alarms.performance.metric"),
        (CLASSIFIER, {"estimated": {"metric": "accuracy", "threshold": 0.8}}, "alarms.estimated.metric"),
        (REGRESSOR, {"estimated": {"metric": "EstimatedAccuracy", "threshold": 0.8}}, "alarms.estimated"),
        (CLASSIFIER, {"estimated": {"metric": "EstimatedMae", "threshold": 3}}, "alarms.estimated.metric"),
        (CLASSIFIER, {"drift_share": 1.5}, "alarms.drift_share"),
        (CLASSIFIER, {"flagged_rate": 0}, "alarms.flagged_rate"),
        (CLASSIFIER, {"performance": {"metric": "accuracy", "threshold": 0.8, "comparison": "Below"}}, "comparison"),
        (CLASSIFIER, {"drift": 0.3}, "alarms.drift"),
    ],
)
def test_a_bad_alarm_is_refused_naming_the_field(base: str, alarms: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        _config(base, alarms=alarms)


def test_an_alarm_may_watch_an_interval_bound_the_check_publishes() -> None:
    alarms = _config(
        alarms={
            "performance": {"metric": "accuracy_ci_upper", "threshold": 0.8},
            "estimated": {"metric": "EstimatedRocAucCiUpper", "threshold": 0.7},
        }
    ).alarms

    assert alarms.performance is not None
    assert alarms.performance.metric == "accuracy_ci_upper"
    assert alarms.estimated is not None
    assert alarms.estimated.metric == "EstimatedRocAucCiUpper"


def test_a_regression_model_may_alarm_on_its_estimated_error() -> None:
    alarms = _config(
        REGRESSOR,
        alarms={"estimated": {"metric": "EstimatedRmseCiLower", "threshold": 9, "comparison": "GreaterThanThreshold"}},
    ).alarms

    assert alarms.estimated is not None
    assert alarms.estimated.metric == "EstimatedRmseCiLower"
    assert set(published_estimated_metrics("regression")) == {
        "EstimatedMae",
        "EstimatedRmse",
        "EstimatedMaeCiLower",
        "EstimatedMaeCiUpper",
        "EstimatedRmseCiLower",
        "EstimatedRmseCiUpper",
    }


def test_estimated_metric_names_are_the_metric_checks() -> None:
    from retrain.steps import metric_check

    assert metric_check.estimated_metric_name is estimated_metric_name
    assert estimated_metric_name("roc_auc") == "EstimatedRocAuc"
    assert {estimated_metric_name(m) for m in ESTIMATED_METRICS} <= set(published_estimated_metrics())
