"""Specification of retrain.steps.normalize._classify: which trigger, which model, which mode, why.

The state machine's input is whatever EventBridge delivers: the schedule
target's constant input, a CloudWatch alarm state change, a ``Retrain
Requested`` event from the CLI, or a direct execution input. Anything else is an
InvalidEvent whose message says what was expected.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from retrain.errors import InvalidEvent
from retrain.steps.normalize import _classify, read_trigger

pytestmark = pytest.mark.unit

ALARM_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": "123456789012",
    "time": "2024-05-08T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:retrain-churn-performance"],
    "detail": {
        "alarmName": "retrain-churn-performance",
        "state": {
            "value": "ALARM",
            "reason": "Threshold Crossed: 1 datapoint [0.71] was less than the threshold (0.8).",
            "timestamp": "2024-05-08T12:00:00.000+0000",
        },
        "previousState": {"value": "OK", "reason": "", "timestamp": "2024-05-07T12:00:00.000+0000"},
        "configuration": {
            "description": "The model's realized quality crossed its bound; triggers retraining.",
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": "Retrain",
                            "name": "accuracy",
                            "dimensions": {"model": "churn", "service": "retrain"},
                        },
                        "period": 3600,
                        "stat": "Average",
                    },
                    "returnData": True,
                }
            ],
        },
    },
}

MANUAL_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "5b0d2a8e-2f5c-4c4e-9c61-7e1f7c3d9a10",
    "detail-type": "Retrain Requested",
    "source": "retrain.cli",
    "account": "123456789012",
    "time": "2024-05-08T12:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"model": "churn", "reason": "new labels arrived"},
}

SCHEDULED_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2024-05-08T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/retrain-schedule"],
    "detail": {},
}


def changed(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    """A copy of ``event`` with its ``detail`` updated."""
    result = copy.deepcopy(event)
    result["detail"].update(detail)
    return result


# schedule ----------------------------------------------------------------------------------------------


def test_schedule_input_runs_in_the_configured_mode() -> None:
    assert _classify({"trigger": "schedule", "model": "churn"}) == ("schedule", "churn", None, "schedule trigger")


@pytest.mark.parametrize("mode", ["check", "always"])
def test_schedule_input_may_set_the_mode(mode: str) -> None:
    trigger, model, chosen, _ = _classify({"trigger": "schedule", "model": "churn", "mode": mode})

    assert (trigger, model, chosen) == ("schedule", "churn", mode)


def test_raw_scheduled_event_is_invalid_because_it_names_no_model() -> None:
    with pytest.raises(InvalidEvent, match="raw Scheduled Event names no model"):
        _classify(SCHEDULED_EVENT)


# alarm -------------------------------------------------------------------------------------------------


def test_alarm_event_retrains_the_model_of_its_metric_dimension() -> None:
    trigger, model, mode, reason = _classify(ALARM_EVENT)

    assert (trigger, model, mode) == ("alarm", "churn", "always")
    assert reason == (
        "alarm retrain-churn-performance is ALARM: "
        "Threshold Crossed: 1 datapoint [0.71] was less than the threshold (0.8)."
    )


def test_alarm_event_names_its_alarm_and_other_triggers_name_none() -> None:
    assert read_trigger(ALARM_EVENT).alarm == "retrain-churn-performance"
    assert read_trigger(MANUAL_EVENT).alarm is None
    assert read_trigger({"trigger": "schedule", "model": "churn"}).alarm is None


def test_alarm_event_finds_the_model_in_any_of_its_metrics() -> None:
    event = copy.deepcopy(ALARM_EVENT)
    metrics = event["detail"]["configuration"]["metrics"]
    metrics.insert(0, {"id": "e1", "expression": "m1 * 100", "returnData": False})
    metrics[1]["metricStat"]["metric"]["dimensions"] = {"model": "house-prices"}

    assert _classify(event)[1] == "house-prices"


@pytest.mark.parametrize(
    "configuration",
    [
        pytest.param(
            {"metrics": [{"id": "m1", "metricStat": {"metric": {"name": "CPU", "dimensions": {"host": "a"}}}}]},
            id="other dimensions",
        ),
        pytest.param({"metrics": [{"id": "m1", "expression": "SUM(METRICS())"}]}, id="expression only"),
        pytest.param({}, id="no metrics"),
    ],
)
def test_alarm_without_model_dimension_is_invalid_naming_the_alarm(configuration: dict[str, Any]) -> None:
    event = changed(ALARM_EVENT, alarmName="other-stack-cpu", configuration=configuration)

    with pytest.raises(InvalidEvent, match="alarm 'other-stack-cpu' watches no metric with a 'model' dimension"):
        _classify(event)


# manual ------------------------------------------------------------------------------------------------


def test_retrain_requested_event_retrains_its_model() -> None:
    assert _classify(MANUAL_EVENT) == ("manual", "churn", "always", "new labels arrived")


def test_retrain_requested_event_may_ask_for_check_mode() -> None:
    assert _classify(changed(MANUAL_EVENT, mode="check"))[2] == "check"


def test_retrain_requested_event_without_reason_gets_a_default_reason() -> None:
    event = copy.deepcopy(MANUAL_EVENT)
    del event["detail"]["reason"]

    assert _classify(event)[3] == "manual trigger"


@pytest.mark.parametrize("model", [None, 42, ["churn"]])
def test_retrain_requested_event_whose_model_is_no_name_is_invalid_naming_the_field(model: Any) -> None:
    with pytest.raises(InvalidEvent, match=r"Retrain Requested event: detail\.model == .*, expected a model name"):
        _classify(changed(MANUAL_EVENT, model=model))


def test_retrain_requested_event_from_another_source_is_invalid() -> None:
    event = {**MANUAL_EVENT, "source": "someone.else"}

    with pytest.raises(InvalidEvent, match="unrecognized trigger input"):
        _classify(event)


def test_direct_manual_input_retrains() -> None:
    assert _classify({"trigger": "manual", "model": "churn"}) == ("manual", "churn", "always", "manual trigger")


# garbage -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({}, id="empty"),
        pytest.param({"hello": "world"}, id="unknown keys"),
        pytest.param({"detail-type": "EC2 Instance State-change Notification", "detail": {}}, id="other event"),
    ],
)
def test_unrecognized_input_is_invalid(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent, match="unrecognized trigger input: expected a schedule input"):
        _classify(event)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param({"trigger": "schedule"}, "model is missing, expected a model name", id="schedule without model"),
        pytest.param(
            {"trigger": "alarm", "model": "churn"},
            "trigger == 'alarm', expected 'schedule' or 'manual'",
            id="direct alarm input",
        ),
        pytest.param(
            {"trigger": "cron", "model": "churn"},
            "trigger == 'cron', expected 'schedule' or 'manual'",
            id="unknown trigger",
        ),
        pytest.param({"trigger": "manual", "model": 7}, "model == 7, expected a model name", id="model not a string"),
    ],
)
def test_direct_input_with_a_malformed_field_is_invalid_naming_the_field(event: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEvent, match=f"^malformed trigger input: {message}"):
        _classify(event)


def test_unrecognized_input_message_lists_its_keys() -> None:
    with pytest.raises(InvalidEvent, match=r"keys: \['hello', 'model'\]"):
        _classify({"hello": "world", "model": "churn"})


# lock expiry ---------------------------------------------------------------------------------------------


def test_the_lock_of_a_run_without_approval_lasts_the_lock_ttl() -> None:
    from retrain.steps.normalize import lock_expires_at

    assert lock_expires_at(1_000_000, 3600, None) == 1_003_600


def test_the_lock_of_a_run_that_waits_for_approval_outlasts_the_whole_wait() -> None:
    # Given approval.timeout_hours: 24 and the default LockTtlSeconds
    from retrain.steps.normalize import lock_expires_at

    # When
    expires = lock_expires_at(1_000_000, 3600, 24 * 3600)

    # Then the lock outlives the longest wait by the TTL that covers the steps themselves
    assert expires == 1_000_000 + 24 * 3600 + 3600
