"""Specification: every malformed field of a trigger or step input is an InvalidEvent that names it.

The message names the field's path (``detail.model``, ``run.window_end``), what
the field expects, and the value found (or says the field is missing). Trigger
inputs are read by :func:`retrain.steps.normalize.read_trigger`; the Normalize
step's own input by :func:`retrain.steps.normalize.parse_input`; every other
step's input by :func:`retrain.contracts.parse`, as its handler does.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel

from helpers import load_event
from nested import DELETE, changed
from retrain.clock import utc
from retrain.contracts import (
    PromoteInput,
    ReconcileInput,
    RunInput,
    TrainInput,
    ValidateInput,
    parse,
)
from retrain.errors import InvalidEvent
from retrain.steps.normalize import parse_input, read_trigger
from retrain.triggers import retrain_request

pytestmark = pytest.mark.unit

A_MODEL_NAME = "expected a model name (a string matching ^[a-z0-9][a-z0-9_-]{0,62}$)"
A_TIMESTAMP = "expected an ISO 8601 timestamp"
SHA = "ab" * 32


def refusal(event: Any) -> str:
    """The message of the :class:`InvalidEvent` that reading ``event`` as a trigger raises."""
    with pytest.raises(InvalidEvent) as raised:
        read_trigger(event)
    return str(raised.value)


# ------------------------------------------------------------------ trigger inputs
SCHEDULE = {"trigger": "schedule", "model": "churn"}
MANUAL = {"trigger": "manual", "model": "churn"}
MODEL_DIMENSION = "detail.configuration.metrics.0.metricStat.metric.dimensions.model"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        # the schedule target's input, or a direct execution input
        pytest.param(
            {**SCHEDULE, "model": 12345}, f"malformed trigger input: model == 12345, {A_MODEL_NAME}", id="model-int"
        ),
        pytest.param(
            {**SCHEDULE, "model": "../x"}, f"malformed trigger input: model == '../x', {A_MODEL_NAME}", id="model-path"
        ),
        pytest.param(
            {**SCHEDULE, "model": "Churn"},
            f"malformed trigger input: model == 'Churn', {A_MODEL_NAME}",
            id="model-case",
        ),
        pytest.param(
            {"trigger": "schedule"}, f"malformed trigger input: model is missing, {A_MODEL_NAME}", id="model-missing"
        ),
        pytest.param(
            {**SCHEDULE, "mode": "sometimes"},
            "malformed trigger input: mode == 'sometimes', expected 'check' or 'always'",
            id="mode",
        ),
        pytest.param(
            {**SCHEDULE, "trigger": "cron"},
            "malformed trigger input: trigger == 'cron', expected 'schedule' or 'manual'",
            id="trigger",
        ),
        pytest.param(
            {**MANUAL, "force": "yes"}, "malformed trigger input: force == 'yes', expected true or false", id="force"
        ),
        pytest.param({**MANUAL, "reason": 42}, "malformed trigger input: reason == 42, expected a string", id="reason"),
        pytest.param(
            {**SCHEDULE, "time": "yesterday"}, f"malformed trigger input: time == 'yesterday', {A_TIMESTAMP}", id="time"
        ),
        pytest.param({**SCHEDULE, "id": 7}, "malformed trigger input: id == 7, expected a string", id="id"),
    ],
)
def test_a_malformed_direct_input_names_its_field(event: dict[str, Any], message: str) -> None:
    assert refusal(event) == message


RETRAIN_REQUESTED = "malformed Retrain Requested event: "


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param("detail.model", 12345, f"detail.model == 12345, {A_MODEL_NAME}", id="model-int"),
        pytest.param("detail.model", "../x", f"detail.model == '../x', {A_MODEL_NAME}", id="model-path"),
        pytest.param("detail.model", DELETE, f"detail.model is missing, {A_MODEL_NAME}", id="model-missing"),
        pytest.param("detail.mode", "sometimes", "detail.mode == 'sometimes', expected 'check' or 'always'", id="mode"),
        pytest.param("detail.force", "yes", "detail.force == 'yes', expected true or false", id="force-yes"),
        pytest.param("detail.force", 1, "detail.force == 1, expected true or false", id="force-1"),
        pytest.param("detail.reason", ["x"], "detail.reason == ['x'], expected a string", id="reason"),
        pytest.param("detail", DELETE, "detail is missing, expected an object", id="detail-missing"),
        pytest.param("detail", "churn", "detail == 'churn', expected an object", id="detail-string"),
        pytest.param("time", "not-a-date", f"time == 'not-a-date', {A_TIMESTAMP}", id="time"),
    ],
)
def test_a_malformed_retrain_requested_event_names_its_field(path: str, value: Any, message: str) -> None:
    event = changed(load_event("retrain_requested"), path, value)

    assert refusal(event) == RETRAIN_REQUESTED + message


def test_an_alarm_without_a_model_dimension_names_the_dimension_it_looks_for() -> None:
    assert refusal(load_event("alarm_state_change_lambda_errors")) == (
        "alarm 'retrain-scoring-api-errors' watches no metric with a 'model' dimension "
        "(detail.configuration.metrics.*.metricStat.metric.dimensions.model): cannot tell which model to retrain"
    )


ALARM = "malformed CloudWatch Alarm State Change event: "


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param(MODEL_DIMENSION, "../x", f"{MODEL_DIMENSION} == '../x', {A_MODEL_NAME}", id="model-path"),
        pytest.param(MODEL_DIMENSION, 7, f"{MODEL_DIMENSION} == 7, {A_MODEL_NAME}", id="model-int"),
        pytest.param(
            "detail.configuration.metrics",
            "m1",
            "detail.configuration.metrics == 'm1', expected a list",
            id="metrics-string",
        ),
        pytest.param("detail", [], "detail == [], expected an object", id="detail-list"),
        pytest.param("time", "not-a-date", f"time == 'not-a-date', {A_TIMESTAMP}", id="time"),
    ],
)
def test_a_malformed_alarm_event_names_its_field(path: str, value: Any, message: str) -> None:
    event = changed(load_event("alarm_state_change"), path, value)

    assert refusal(event) == ALARM + message


# ------------------------------------------------------------------ the Normalize step's input
NORMALIZE = {"event": SCHEDULE, "execution": "retrain-1", "started_at": "2025-03-14T06:00:00.123Z"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("started_at", "yesterday", f"started_at == 'yesterday', {A_TIMESTAMP}", id="started_at"),
        pytest.param("started_at", 1741932000, f"started_at == 1741932000, {A_TIMESTAMP}", id="started_at-epoch"),
        pytest.param("started_at", DELETE, f"started_at is missing, {A_TIMESTAMP}", id="started_at-missing"),
        pytest.param(
            "execution",
            "a run",
            "execution == 'a run', expected an execution name (1 to 256 characters, no spaces)",
            id="execution",
        ),
        pytest.param("event", ["schedule", "churn"], "event == ['schedule', 'churn'], expected an object", id="event"),
    ],
)
def test_a_malformed_normalize_input_names_its_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_input(changed(NORMALIZE, field, value))

    assert str(raised.value) == f"malformed normalize input: {message}"


def test_a_normalize_input_that_is_no_object_says_so() -> None:
    with pytest.raises(
        InvalidEvent, match=r"^malformed normalize input: input == 'retrain churn', expected an object$"
    ):
        parse_input("retrain churn")


# ------------------------------------------------------------------ step inputs
SNAPSHOT = {
    "id": "cd" * 32,
    "uri": "s3://artifacts/snapshots/churn/cdcd/",
    "manifest_uri": "s3://artifacts/snapshots/churn/cdcd/manifest.json",
    "rows": 1000,
    "train_rows": 800,
    "holdout_rows": 200,
    "created": True,
}
CANDIDATE = {
    "model": "churn",
    "version": 3,
    "artifact_uri": "s3://artifacts/models/churn/v3/model.skops",
    "sha256": SHA,
    "registry_key": {"pk": "MODEL#churn", "sk": "VERSION#000003"},
    "trained_rows": 800,
}
VALIDATION = {
    "passed": True,
    "metric": "f1",
    "gates": [{"name": "min_f1", "passed": True, "value": 0.8, "threshold": 0.7}],
    "reasons": [],
    "candidate_metrics": {"f1": 0.8},
    "champion_version": 2,
    "n_holdout": 200,
}


def step_input(kind: type) -> dict[str, Any]:
    """A valid input of the step that reads ``kind``: the sample run plus what the step adds."""
    event = load_event("run")
    if kind in (TrainInput, ValidateInput):
        event["snapshot"] = copy.deepcopy(SNAPSHOT)
    if kind in (ValidateInput, PromoteInput):
        event["candidate"] = copy.deepcopy(CANDIDATE)
    if kind is PromoteInput:
        event["validation"] = copy.deepcopy(VALIDATION)
    if kind is ReconcileInput:
        event.update(action="failed", failure={"step": "Train", "error": "States.Timeout"})
    return event


@pytest.mark.parametrize("kind", [RunInput, TrainInput, ValidateInput, PromoteInput, ReconcileInput])
def test_a_valid_step_input_keeps_its_shape(kind: type[BaseModel]) -> None:
    event = step_input(kind)

    parsed = parse(kind, event, what="step").model_dump(mode="json")

    assert {k: v for k, v in parsed["run"].items() if k in event["run"]} == event["run"]


@pytest.mark.parametrize(
    ("kind", "path", "value", "message"),
    [
        # times
        pytest.param(
            RunInput, "run.window_end", "not-a-date", f"run.window_end == 'not-a-date', {A_TIMESTAMP}", id="window_end"
        ),
        pytest.param(
            RunInput, "run.window_end", 20250314, f"run.window_end == 20250314, {A_TIMESTAMP}", id="window_end-int"
        ),
        pytest.param(
            RunInput, "run.window_end", DELETE, f"run.window_end is missing, {A_TIMESTAMP}", id="window_end-gone"
        ),
        pytest.param(
            RunInput,
            "run.window_start",
            "last week",
            f"run.window_start == 'last week', {A_TIMESTAMP}",
            id="window_start",
        ),
        pytest.param(
            RunInput,
            "run.training_window_start",
            "2025-02-30T00:00:00",
            f"run.training_window_start == '2025-02-30T00:00:00', {A_TIMESTAMP}",
            id="training_window_start",
        ),
        pytest.param(RunInput, "run.event_time", "", f"run.event_time == '', {A_TIMESTAMP}", id="event_time"),
        pytest.param(
            RunInput,
            "run.cooldown_until",
            "tomorrow",
            f"run.cooldown_until == 'tomorrow', {A_TIMESTAMP}",
            id="cooldown",
        ),
        pytest.param(
            RunInput,
            "run.window_start",
            "2025-03-15T00:00:00+00:00",
            "run.window_start == '2025-03-15T00:00:00+00:00', "
            "expected a time no later than window_end (2025-03-14T06:00:00+00:00)",
            id="window_start-after-end",
        ),
        pytest.param(
            RunInput,
            "run.training_window_start",
            "2025-03-14T07:00:00+00:30",
            "run.training_window_start == '2025-03-14T07:00:00+00:30', "
            "expected a time no later than window_end (2025-03-14T06:00:00+00:00)",
            id="training_window_start-after-end",
        ),
        # names, modes and flags
        pytest.param(RunInput, "run.model", "../x", f"run.model == '../x', {A_MODEL_NAME}", id="model"),
        pytest.param(
            RunInput, "run.mode", "sometimes", "run.mode == 'sometimes', expected 'check' or 'always'", id="mode"
        ),
        pytest.param(
            RunInput,
            "run.trigger",
            "cron",
            "run.trigger == 'cron', expected 'schedule', 'alarm' or 'manual'",
            id="trigger",
        ),
        pytest.param(RunInput, "run.force", "yes", "run.force == 'yes', expected true or false", id="force"),
        pytest.param(
            RunInput,
            "run.execution",
            "",
            "run.execution == '', expected an execution name (1 to 256 characters, no spaces)",
            id="execution",
        ),
        pytest.param(
            RunInput,
            "run.lock_expires_at",
            "soon",
            "run.lock_expires_at == 'soon', expected epoch seconds (a string of digits)",
            id="lock_expires_at",
        ),
        pytest.param(
            RunInput,
            "run.approval_timeout_seconds",
            -1,
            "run.approval_timeout_seconds == -1, expected seconds (an integer >= 0)",
            id="approval_timeout_seconds",
        ),
        pytest.param(RunInput, "run", "churn", "run == 'churn', expected an object", id="run-string"),
        # what the later steps add
        pytest.param(
            TrainInput,
            "snapshot.id",
            "../x",
            "snapshot.id == '../x', expected a snapshot id (64 lowercase hex digits)",
            id="snapshot-id",
        ),
        pytest.param(
            TrainInput, "snapshot.rows", -1, "snapshot.rows == -1, expected a count (an integer >= 0)", id="rows"
        ),
        pytest.param(
            ValidateInput,
            "candidate.version",
            "abc",
            "candidate.version == 'abc', expected a version number (an integer >= 1)",
            id="version-abc",
        ),
        pytest.param(
            ValidateInput,
            "candidate.version",
            0,
            "candidate.version == 0, expected a version number (an integer >= 1)",
            id="version-0",
        ),
        pytest.param(
            ValidateInput,
            "candidate.sha256",
            "abc",
            "candidate.sha256 == 'abc', expected a sha256 (64 lowercase hex digits)",
            id="sha256",
        ),
        pytest.param(
            ValidateInput,
            "candidate.artifact_uri",
            "/tmp/model.skops",
            "candidate.artifact_uri == '/tmp/model.skops', expected an s3://bucket/key URI",
            id="artifact_uri",
        ),
        pytest.param(
            PromoteInput,
            "candidate.model",
            "fraud",
            "candidate.model == 'fraud', expected the run's model ('churn')",
            id="candidate-of-another-model",
        ),
        pytest.param(
            PromoteInput, "validation.passed", "yes", "validation.passed == 'yes', expected true or false", id="passed"
        ),
        pytest.param(
            PromoteInput,
            "validation.champion_version",
            "abc",
            "validation.champion_version == 'abc', expected a version number (an integer >= 1)",
            id="champion_version",
        ),
        pytest.param(
            ReconcileInput,
            "action",
            "retry",
            "action == 'retry', expected 'start' or 'failed'",
            id="action",
        ),
        pytest.param(ReconcileInput, "failure.step", 3, "failure.step == 3, expected a string", id="failure-step"),
    ],
)
def test_a_malformed_step_input_names_its_field(kind: type, path: str, value: Any, message: str) -> None:
    # Given a valid input of the step with one field changed
    event = changed(step_input(kind), path, value)

    # When the handler parses it
    with pytest.raises(InvalidEvent) as raised:
        parse(kind, event, what="step")

    # Then
    assert str(raised.value) == f"malformed step input: {message}"


def test_every_malformed_field_is_named_up_to_five() -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse(RunInput, {"run": {"model": "churn"}}, what="snapshot")

    message = str(raised.value)
    assert message.startswith("malformed snapshot input: run.trigger is missing, expected 'schedule', 'alarm' or")
    assert message.count(" is missing, ") == 5
    assert message.endswith("; and 7 more")


def test_a_long_value_is_cut_short() -> None:
    event = changed(load_event("run"), "run.window_end", "x" * 500)

    with pytest.raises(InvalidEvent) as raised:
        parse(RunInput, event, what="snapshot")

    assert str(raised.value) == f"malformed snapshot input: run.window_end == '{'x' * 56}..., {A_TIMESTAMP}"


# ------------------------------------------------------------------ the CLI's request, and the shared pieces
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"model": "../x"}, f"model == '../x', {A_MODEL_NAME}", id="model"),
        pytest.param({"model": "churn", "force": "yes"}, "force == 'yes', expected true or false", id="force"),
        pytest.param({"model": "churn", "reason": 42}, "reason == 42, expected a string", id="reason"),
    ],
)
def test_a_malformed_retrain_request_is_refused_before_it_is_put(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEvent) as raised:
        retrain_request(**arguments)

    assert str(raised.value) == f"malformed Retrain Requested detail: {message}"


@pytest.mark.parametrize("value", ["yesterday", "", "2025-13-01T00:00:00Z", "9999-12-31T23:59:59-01:00"])
def test_utc_refuses_what_is_no_iso_8601_time_in_range(value: str) -> None:
    with pytest.raises(ValueError, match=repr(value).replace("+", r"\+")):
        utc(value)
