"""The Normalize handler: a schedule, alarm or manual trigger becomes one Run, or a typed error."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from helpers import Deployment, call, deploy, invoke, load_event, normalize_input
from retrain.config import ModelConfig, loads_config
from retrain.errors import InvalidEvent, ModelNotFound
from retrain.local.cloud import LocalCloud

pytestmark = pytest.mark.integration

#: The execution's start ($$.Execution.StartTime), a few seconds after the trigger.
STARTED_AT = "2025-03-14T12:00:05.123Z"

TRIGGERS = [
    pytest.param("schedule_input", "schedule", "check", id="schedule"),
    pytest.param("alarm_state_change", "alarm", "always", id="alarm"),
    pytest.param("retrain_requested", "manual", "always", id="manual"),
]


@pytest.fixture(scope="module")
def churn(module_cloud: LocalCloud, churn_config: tuple[ModelConfig, str]) -> Deployment:
    """churn.yaml deployed (Normalize needs the config, not a champion)."""
    return deploy(module_cloud, *churn_config)


@pytest.fixture(scope="module")
def always_retrained(module_cloud: LocalCloud, churn_config: tuple[ModelConfig, str]) -> Deployment:
    """A second model whose schedule retrains every period (schedule.mode always)."""
    text = churn_config[1].replace("model: churn\n", "model: churn-always\n") + "schedule: {mode: always}\n"
    return deploy(module_cloud, loads_config(text), text)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.parametrize(("event_name", "trigger", "mode"), TRIGGERS)
def test_each_trigger_becomes_a_run_of_its_kind(churn: Deployment, event_name: str, trigger: str, mode: str) -> None:
    # Given a trigger as EventBridge delivers it to the state machine
    event = normalize_input(load_event(event_name), started_at=STARTED_AT)

    # When
    run = call(churn.cloud, "normalize", event)["run"]

    # Then
    assert (run["model"], run["trigger"], run["mode"]) == ("churn", trigger, mode)


@pytest.mark.parametrize(("model", "mode"), [("churn", "check"), ("churn-always", "always")])
def test_the_schedule_mode_comes_from_the_models_config(
    churn: Deployment, always_retrained: Deployment, model: str, mode: str
) -> None:
    event = normalize_input({"trigger": "schedule", "model": model}, started_at=STARTED_AT)

    run = call(churn.cloud, "normalize", event)["run"]

    assert run["mode"] == mode


@pytest.mark.parametrize(
    ("event_name", "window_end"),
    [
        pytest.param("schedule_input", STARTED_AT, id="schedule-input-has-no-time:execution-start"),
        pytest.param("alarm_state_change", "2025-03-14T09:30:12Z", id="alarm:event-time"),
        pytest.param("retrain_requested", "2025-03-14T11:15:00Z", id="manual:event-time"),
    ],
)
def test_the_window_ends_at_the_event_time_else_at_the_execution_start(
    churn: Deployment, event_name: str, window_end: str
) -> None:
    event = normalize_input(load_event(event_name), started_at=STARTED_AT)

    run = call(churn.cloud, "normalize", event)["run"]

    assert _time(run["window_end"]) == _time(window_end)


@pytest.mark.parametrize("event_name", ["schedule_input", "alarm_state_change", "retrain_requested"])
def test_the_window_spans_monitoring_window_days(churn: Deployment, event_name: str) -> None:
    event = normalize_input(load_event(event_name), started_at=STARTED_AT)

    run = call(churn.cloud, "normalize", event)["run"]

    span = _time(run["window_end"]) - _time(run["window_start"])
    assert span == timedelta(days=churn.config.monitoring.window_days)


def test_an_alarm_run_gives_the_alarm_and_its_state_as_reason(churn: Deployment) -> None:
    event = normalize_input(load_event("alarm_state_change"), started_at=STARTED_AT)

    run = call(churn.cloud, "normalize", event)["run"]

    assert run["reason"].startswith("alarm retrain-churn-performance is ALARM: Threshold Crossed")
    assert run["alarm"] == "retrain-churn-performance"


def test_a_manual_run_gives_the_requesters_reason(churn: Deployment) -> None:
    event = normalize_input(load_event("retrain_requested"), started_at=STARTED_AT)

    run = call(churn.cloud, "normalize", event)["run"]

    assert run["reason"] == "new labelling guidelines"
    assert run["alarm"] is None


def test_an_unknown_model_is_model_not_found_naming_the_model(churn: Deployment) -> None:
    # Given a manual trigger for a model that has no deployed config
    event = load_event("retrain_requested")
    event["detail"]["model"] = "fraud"

    # When
    response = invoke(churn.cloud, "normalize", normalize_input(event, started_at=STARTED_AT))

    # Then
    assert response.error_type == ModelNotFound.__name__
    assert "'fraud'" in response.error_message


def test_a_raw_scheduled_event_names_no_model_and_is_invalid(churn: Deployment) -> None:
    # Given a schedule target without the constant Input that names the model
    event = normalize_input(load_event("scheduled_event"), started_at=STARTED_AT)

    response = invoke(churn.cloud, "normalize", event)

    assert response.error_type == InvalidEvent.__name__
    assert "names no model" in response.error_message


def test_an_alarm_without_a_model_dimension_is_invalid_naming_the_alarm(churn: Deployment) -> None:
    # Given an alarm on a metric of another service (its name matches the stack's rule prefix)
    event = normalize_input(load_event("alarm_state_change_lambda_errors"), started_at=STARTED_AT)

    response = invoke(churn.cloud, "normalize", event)

    assert response.error_type == InvalidEvent.__name__
    assert "'retrain-scoring-api-errors'" in response.error_message
    assert "'model' dimension" in response.error_message


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param({}, "malformed normalize input", id="empty"),
        pytest.param("retrain churn", "malformed normalize input", id="not-an-object"),
        pytest.param(
            {"event": ["schedule", "churn"], "execution": "test-execution", "started_at": STARTED_AT},
            "malformed normalize input",
            id="event-list",
        ),
        pytest.param({"event": {"trigger": "schedule"}}, "malformed normalize input", id="no-execution"),
        pytest.param(
            normalize_input({"trigger": "schedule"}, started_at=STARTED_AT), "model is missing", id="no-model"
        ),
        pytest.param(
            normalize_input({"trigger": "nightly", "model": "churn"}, started_at=STARTED_AT),
            "trigger == 'nightly', expected 'schedule' or 'manual'",
            id="unknown-trigger",
        ),
        pytest.param(
            normalize_input(
                {"detail-type": "Retrain Requested", "source": "retrain.cli", "detail": {}}, started_at=STARTED_AT
            ),
            "detail.model is missing",
            id="manual-without-model",
        ),
        pytest.param(
            normalize_input({"trigger": "manual", "model": "churn", "mode": "sometimes"}, started_at=STARTED_AT),
            "mode == 'sometimes'",
            id="unknown-mode",
        ),
        pytest.param(
            normalize_input({"trigger": "manual", "model": "../churn"}, started_at=STARTED_AT),
            "model == '../churn', expected a model name",
            id="bad-model-name",
        ),
    ],
)
def test_malformed_input_is_invalid_event(churn: Deployment, payload: object, message: str) -> None:
    response = invoke(churn.cloud, "normalize", payload)

    assert response.error_type == InvalidEvent.__name__
    assert message in response.error_message


@pytest.mark.parametrize(
    ("approval", "waits"),
    [
        pytest.param("", 0, id="no-approval:lock-ttl"),
        pytest.param("approval: {required: true}\n", 24 * 3600, id="approval-24h-default"),
        pytest.param("approval: {required: true, timeout_hours: 48}\n", 48 * 3600, id="approval-48h"),
        pytest.param("approval: {required: false, timeout_hours: 48}\n", 0, id="approval-off"),
    ],
)
def test_the_lock_outlasts_the_approval_wait_when_the_model_needs_approval(
    module_cloud: LocalCloud, churn_config: tuple[ModelConfig, str], approval: str, waits: int
) -> None:
    # Given a model whose config asks (or not) for approval
    text = churn_config[1].replace("model: churn\n", "model: churn-approved\n") + approval
    deployment = deploy(module_cloud, loads_config(text), text)
    event = normalize_input({"trigger": "manual", "model": "churn-approved"}, started_at=STARTED_AT)

    # When
    run = call(module_cloud, "normalize", event)["run"]

    # Then its lock lasts the steps' TTL plus the longest approval wait
    ttl = deployment.settings.lock_ttl_seconds
    assert int(run["lock_expires_at"]) - int(run["lock_now"]) == ttl + waits
