"""Specification of retrain.result: the ``result.json`` contract.

``build()`` turns a ``DescribeExecution`` response (and the registry's champion
before and after the run) into the stable result document. The execution
output used here has the shape the state machine leaves behind: ``run`` from
Normalize, ``checks`` from the Parallel state's ResultSelector, then
``snapshot``, ``candidate``, ``validation``, ``promotion``, ``retrain`` and
``outcome``.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import RESULT_CONTRACT
from retrain.result import OUTCOMES, build, error_text, upgrade

pytestmark = pytest.mark.unit

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:RetrainingStateMachine:run-1"
CONTRACT_KEYS = RESULT_CONTRACT

RUN = {
    "model": "churn",
    "trigger": "schedule",
    "mode": "check",
    "policy": "any",
    "reason": "schedule trigger",
    "event_id": "run-1",
    "event_time": "2024-05-08T00:00:00+00:00",
    "execution": "run-1",
    "window_start": "2024-05-01T00:00:00+00:00",
    "window_end": "2024-05-08T00:00:00+00:00",
    "training_window_start": "2024-05-01T00:00:00+00:00",
    "lock_pk": "MODEL#churn",
    "lock_now": "1715126400",
    "lock_expires_at": "1715130000",
}

CANDIDATE_METRICS = {"accuracy": 0.86, "balanced_accuracy": 0.85, "f1": 0.84, "precision": 0.83, "recall": 0.85}
CHAMPION_METRICS = {"accuracy": 0.72, "balanced_accuracy": 0.70, "f1": 0.66, "precision": 0.69, "recall": 0.63}
WINDOW_METRICS = {"accuracy": 0.71, "balanced_accuracy": 0.69, "f1": 0.65, "precision": 0.68, "recall": 0.62}

DRIFT_FEATURES = {
    "tenure": {
        "method": "ks",
        "statistic": 0.31,
        "p_value": 1.2e-9,
        "threshold": 0.05,
        "fired": True,
        "n_reference": 800,
        "n_current": 500,
    },
    "plan": {
        "method": "chi2",
        "statistic": 1.7,
        "p_value": 0.43,
        "threshold": 0.05,
        "fired": False,
        "n_reference": 800,
        "n_current": 500,
    },
}

CHECKS: dict[str, Any] = {
    "metrics": {
        "signal": "performance",
        "enabled": True,
        "fired": True,
        "insufficient": False,
        "reason": "accuracy 0.71 < 0.8",
        "details": {
            "n": 480,
            "n_predictions": 500,
            "match_rate": 0.96,
            "metric": "accuracy",
            "value": 0.71,
            "threshold": 0.8,
            "direction": "min",
            "metrics": WINDOW_METRICS,
            "fired": True,
            "insufficient": False,
            "reason": "accuracy 0.71 < 0.8",
        },
    },
    "drift": {
        "signal": "drift",
        "enabled": True,
        "fired": False,
        "insufficient": False,
        "reason": None,
        "details": {
            "features": DRIFT_FEATURES,
            "n_features": 2,
            "n_drifted": 1,
            "share": 0.5,
            "threshold_share": 0.6,
            "fired": False,
            "insufficient": False,
            "reason": None,
            "n_current": 500,
            "n_reference": 800,
        },
    },
}

GATES = [
    {"name": "prediction sanity", "passed": True, "value": None, "limit": None, "detail": "120 predictions"},
    {"name": "min accuracy", "passed": True, "value": 0.86, "limit": 0.8, "detail": None},
    {"name": "vs champion", "passed": True, "value": 0.86, "limit": 0.72, "detail": None},
]

PROMOTED_STATE: dict[str, Any] = {
    "run": RUN,
    "checks": CHECKS,
    "retrain": True,
    "snapshot": {
        "id": "5f" * 32,
        "uri": "s3://artifacts/snapshots/churn/" + "5f" * 32 + "/data.parquet",
        "manifest_uri": "s3://artifacts/snapshots/churn/" + "5f" * 32 + "/manifest.json",
        "rows": 600,
        "train_rows": 480,
        "holdout_rows": 120,
        "created": True,
    },
    "candidate": {
        "model": "churn",
        "version": 3,
        "artifact_uri": "s3://artifacts/models/churn/v3/model.skops",
        "sha256": "ab" * 32,
        "registry_key": {"pk": "MODEL#churn", "sk": "VERSION#0000000003"},
        "trained_rows": 480,
    },
    "validation": {
        "passed": True,
        "metric": "accuracy",
        "gates": GATES,
        "reasons": [],
        "candidate_metrics": CANDIDATE_METRICS,
        "champion_metrics": CHAMPION_METRICS,
        "champion_version": 2,
        "n_holdout": 120,
    },
    "promotion": {
        "champion_version": 3,
        "previous_version": 2,
        "artifact_uri": "s3://artifacts/models/churn/v3/model.skops",
        "sha256": "ab" * 32,
    },
    "outcome": "promoted",
}


def no_retrain_state() -> dict[str, Any]:
    checks = copy.deepcopy(CHECKS)
    checks["metrics"].update(fired=False, reason=None)
    checks["metrics"]["details"].update(value=0.91, triggered=False, reason=None)
    return {"run": RUN, "checks": checks, "outcome": "no-retrain"}


def rejected_state() -> dict[str, Any]:
    state = copy.deepcopy(PROMOTED_STATE)
    del state["promotion"]
    state["validation"].update(
        passed=False,
        reasons=["vs champion: accuracy 0.70 < 0.72"],
        candidate_metrics={**CANDIDATE_METRICS, "accuracy": 0.70},
    )
    state["validation"]["gates"][2].update(passed=False, value=0.70)
    state["outcome"] = "rejected"
    return state


def described(status: str = "SUCCEEDED", state: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A DescribeExecution response."""
    response: dict[str, Any] = {
        "executionArn": EXECUTION_ARN,
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:RetrainingStateMachine",
        "name": "run-1",
        "status": status,
        "startDate": datetime(2024, 5, 8, tzinfo=UTC),
        "input": json.dumps({"trigger": "schedule", "model": "churn"}),
        **extra,
    }
    if state is not None:
        response["output"] = json.dumps(state)
    return response


@pytest.fixture
def promoted() -> dict[str, Any]:
    return build(described(state=PROMOTED_STATE), trigger="schedule", champion_before=2, champion_after=3)


# a promoted run ----------------------------------------------------------------------------------------


def test_promoted_result_has_every_contract_key(promoted: dict[str, Any]) -> None:
    assert set(promoted) >= CONTRACT_KEYS


def test_promoted_result_head(promoted: dict[str, Any]) -> None:
    assert promoted["outcome"] == "promoted"
    assert promoted["trigger"] == "schedule"
    assert promoted["execution_arn"] == EXECUTION_ARN
    assert promoted["triggered"] is True
    assert promoted["champion_version"] == 3
    assert promoted["error"] is None


def test_promoted_result_gives_the_reason_of_the_check_that_fired(promoted: dict[str, Any]) -> None:
    assert promoted["reasons"] == ["accuracy 0.71 < 0.8"]


def test_metric_check_summary_has_every_metric_value_and_n(promoted: dict[str, Any]) -> None:
    metrics = promoted["checks"]["metrics"]

    assert {name: metrics[name] for name in WINDOW_METRICS} == WINDOW_METRICS
    assert metrics["n"] == 480
    assert metrics["match_rate"] == 0.96
    assert metrics["metric"] == "accuracy"
    assert metrics["threshold"] == 0.8
    assert metrics["fired"] is True


def test_drift_check_summary_has_share_verdict_and_features(promoted: dict[str, Any]) -> None:
    drift = promoted["checks"]["drift"]

    assert drift["share"] == 0.5
    assert drift["fired"] is False
    assert drift["n_drifted"] == 1
    assert drift["n_features"] == 2
    assert drift["threshold_share"] == 0.6
    assert drift["features"] == DRIFT_FEATURES


def test_candidate_is_the_new_version_with_its_holdout_metrics(promoted: dict[str, Any]) -> None:
    assert promoted["candidate"]["version"] == 3
    assert promoted["candidate"]["metrics"] == CANDIDATE_METRICS
    assert promoted["candidate"]["artifact_uri"] == "s3://artifacts/models/churn/v3/model.skops"
    assert promoted["candidate"]["sha256"] == "ab" * 32


def test_champion_is_the_one_compared_against_on_the_same_holdout(promoted: dict[str, Any]) -> None:
    assert promoted["champion"] == {"version": 2, "metrics": CHAMPION_METRICS}


def test_gates_are_the_validation_gates(promoted: dict[str, Any]) -> None:
    assert promoted["gates"] == GATES


def test_snapshot_is_summarized(promoted: dict[str, Any]) -> None:
    assert promoted["snapshot"] == {
        "id": "5f" * 32,
        "rows": 600,
        "train_rows": 480,
        "holdout_rows": 120,
        "manifest_uri": "s3://artifacts/snapshots/churn/" + "5f" * 32 + "/manifest.json",
    }


def test_result_is_json_serializable(promoted: dict[str, Any]) -> None:
    assert json.loads(json.dumps(promoted)) == promoted


# other outcomes ----------------------------------------------------------------------------------------


def test_no_retrain_result() -> None:
    result = build(described(state=no_retrain_state()), trigger="schedule", champion_before=2, champion_after=2)

    assert result["outcome"] == "no-retrain"
    assert result["triggered"] is False
    assert result["reasons"] == []
    assert result["champion_version"] == 2
    assert result["snapshot"] is None
    assert result["candidate"] is None
    assert result["champion"] == {"version": 2, "metrics": None}
    assert result["gates"] == []
    assert result["error"] is None


def test_no_retrain_result_still_reports_the_checks() -> None:
    result = build(described(state=no_retrain_state()), trigger="schedule", champion_before=2, champion_after=2)

    assert result["checks"]["metrics"]["accuracy"] == 0.71
    assert result["checks"]["metrics"]["fired"] is False
    assert result["checks"]["drift"]["share"] == 0.5


def test_rejected_result_gives_the_trigger_and_the_failed_gates_as_reasons() -> None:
    result = build(described(state=rejected_state()), trigger="schedule", champion_before=2, champion_after=2)

    assert result["outcome"] == "rejected"
    assert result["triggered"] is True
    assert result["reasons"] == ["accuracy 0.71 < 0.8", "vs champion: accuracy 0.70 < 0.72"]
    assert result["champion_version"] == 2
    assert result["candidate"]["version"] == 3
    assert [gate["passed"] for gate in result["gates"]] == [True, True, False]


@pytest.mark.parametrize(
    ("run_changes", "expected_first_reason"),
    [
        ({"trigger": "alarm", "mode": "always", "reason": "alarm retrain-churn-performance is ALARM"}, "alarm"),
        ({"trigger": "manual", "mode": "always", "reason": "new labels arrived"}, "new labels arrived"),
        ({"trigger": "schedule", "mode": "always", "reason": "schedule trigger"}, "schedule trigger"),
    ],
)
def test_forced_run_gives_its_trigger_reason_first(run_changes: dict[str, Any], expected_first_reason: str) -> None:
    state = copy.deepcopy(PROMOTED_STATE)
    state["run"].update(run_changes)

    result = build(described(state=state), trigger=run_changes["trigger"], champion_before=2, champion_after=3)

    assert result["reasons"][0].startswith(expected_first_reason)
    assert result["reasons"][1:] == ["accuracy 0.71 < 0.8"]


def test_already_running_result() -> None:
    state = {"run": RUN, "outcome": "already-running"}

    result = build(described(state=state), trigger="schedule", champion_before=2, champion_after=2)

    assert result["outcome"] == "already-running"
    assert result["checks"] == {}
    assert result["triggered"] is False
    assert result["error"] is None


def test_every_outcome_name_is_documented() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()

    assert len(set(OUTCOMES)) == len(OUTCOMES) > 0
    assert [o for o in OUTCOMES if f"`{o}`" not in readme] == []


# failed executions -------------------------------------------------------------------------------------

LAMBDA_CAUSE = json.dumps(
    {
        "errorMessage": "current window is missing column 'x'",
        "errorType": "SchemaMismatch",
        "requestId": "6f1c0e4e-4c5b-4a53-9d2c-2f1d6b0c1a7e",
        "stackTrace": ['  File "/var/task/app.py", line 17, in lambda_handler\n'],
    }
)


def test_failed_execution_reports_the_lambda_error() -> None:
    response = described("FAILED", error="SchemaMismatch", cause=LAMBDA_CAUSE)

    result = build(response, trigger="schedule", champion_before=2, champion_after=2)

    assert result["outcome"] == "failed"
    assert result["error"] == "SchemaMismatch: current window is missing column 'x'"
    assert result["champion_version"] == 2
    assert result["champion"] == {"version": 2, "metrics": None}
    assert result["candidate"] is None
    assert set(result) >= CONTRACT_KEYS


def test_run_whose_lock_could_not_be_released_fails_saying_so_and_what_it_reached() -> None:
    # Given a run that promoted v3, then could not release its lock (the Fail state's plain-text cause)
    cause = (
        "the run ended promoted but the lock of model churn could not be released "
        "(DynamoDB.AccessDeniedException: denied); the next run can take it after 1715130000 (epoch seconds)"
    )
    response = described("FAILED", error="LockReleaseFailed", cause=cause)

    # When
    result = build(response, trigger="schedule", champion_before=2, champion_after=3)

    # Then the run is failed, not a quiet success, and the champion it promoted is still reported
    assert result["outcome"] == "failed"
    assert result["error"] == f"LockReleaseFailed: {cause}"
    assert result["champion_version"] == 3


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED"])
def test_execution_that_did_not_finish_reports_its_status(status: str) -> None:
    result = build(described(status), trigger="manual", champion_before=1, champion_after=1)

    assert result["outcome"] == "failed"
    assert result["error"] == status


@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [
        pytest.param(
            "SchemaMismatch", LAMBDA_CAUSE, "SchemaMismatch: current window is missing column 'x'", id="lambda"
        ),
        pytest.param(
            "Lambda.Unknown",
            json.dumps({"errorMessage": "boom"}),
            "Lambda.Unknown: boom",
            id="lambda cause without errorType",
        ),
        pytest.param(
            "States.Timeout",
            "Task timed out after 300 seconds",
            "States.Timeout: Task timed out after 300 seconds",
            id="text",
        ),
        pytest.param("States.Runtime", '["not", "a", "dict"]', 'States.Runtime: ["not", "a", "dict"]', id="json list"),
        pytest.param(None, "it broke", "it broke", id="cause only"),
        pytest.param("States.TaskFailed", None, "States.TaskFailed", id="error only"),
        pytest.param("States.TaskFailed", "", "States.TaskFailed", id="empty cause"),
        pytest.param(None, None, "unknown error", id="neither"),
    ],
)
def test_error_text(error: str | None, cause: str | None, expected: str) -> None:
    assert error_text(error, cause) == expected


# what a failed run learned ------------------------------------------------------------------------------


def fail_history(state: dict[str, Any]) -> list[dict[str, Any]]:
    """GetExecutionHistory events of a run that failed: its last state entered is the Fail state, with the state."""
    return [
        {"type": "ExecutionStarted", "id": 1, "executionStartedEventDetails": {"input": "{}"}},
        {"type": "TaskStateEntered", "id": 2, "stateEnteredEventDetails": {"name": "Snapshot", "input": "{}"}},
        {
            "type": "FailStateEntered",
            "id": 9,
            "stateEnteredEventDetails": {"name": "Failed", "input": json.dumps(state)},
        },
        {"type": "ExecutionFailed", "id": 10, "executionFailedEventDetails": {"error": "SchemaMismatch"}},
    ]


def test_a_failed_run_keeps_the_checks_the_decision_and_its_reasons_from_the_state_it_failed_with() -> None:
    # Given a run whose checks fired and whose Train step then failed
    state = copy.deepcopy(PROMOTED_STATE)
    for key in ("candidate", "validation", "promotion", "outcome"):
        del state[key]
    state["failure"] = {"step": "Train", "error": "SchemaMismatch", "cause": LAMBDA_CAUSE}
    response = described("FAILED", error="SchemaMismatch", cause=LAMBDA_CAUSE)

    # When
    result = build(response, trigger="schedule", champion_before=2, champion_after=2, history=fail_history(state))

    # Then it is failed, with the error, and keeps what the checks found and why it retrained
    assert result["outcome"] == "failed"
    assert result["error_type"] == "SchemaMismatch"
    assert result["triggered"] is True
    assert result["reasons"] == ["accuracy 0.71 < 0.8"]
    assert result["checks"]["metrics"]["fired"] is True
    assert result["checks"]["drift"]["n_drifted"] == 1
    assert result["snapshot"]["rows"] == 600
    assert result["candidate"] is None
    assert result["champion_version"] == 2


def test_a_failed_run_without_history_still_reports_its_error() -> None:
    result = build(
        described("FAILED", error="SchemaMismatch", cause=LAMBDA_CAUSE),
        trigger="schedule",
        champion_before=2,
        champion_after=2,
    )

    assert (result["checks"], result["triggered"], result["error_type"]) == ({}, False, "SchemaMismatch")


def test_a_trigger_that_fired_on_too_little_data_ends_insufficient_data_with_the_count_and_the_floor() -> None:
    # Given the state NotEnoughData leaves: the checks fired, Snapshot raised InsufficientData
    message = "training window of 'churn' has 40 labelled rows < training.min_rows 200 (2024-05-01 to 2024-05-08)"
    cause = json.dumps({"errorMessage": message, "errorType": "InsufficientData"})
    state = {
        "run": RUN,
        "checks": CHECKS,
        "retrain": True,
        "error": {"Error": "InsufficientData", "Cause": cause},
        "outcome": "insufficient-data",
    }

    result = build(described(state=state), trigger="schedule", champion_before=2, champion_after=2)

    assert result["outcome"] == "insufficient-data"
    assert result["triggered"] is True
    assert result["insufficient"] == f"InsufficientData: {message}"
    assert result["error"] is None
    assert result["checks"]["metrics"]["fired"] is True


# ------------------------------------------------------------------ reports written with the earlier names
EARLIER = {
    "outcome": "promoted",
    "triggered": True,
    "checks": {
        "metrics": {"accuracy": 0.7, "bound": 0.8, "triggered": True, "reason": "accuracy 0.7 < 0.8"},
        "flagged": {"rate": 0.01, "max_rate": 0.05, "triggered": False},
        "drift": {
            "share": 0.5,
            "drifted": False,
            "triggered": True,
            "features": {"tenure": {"effect": 0.4, "threshold": 0.1, "drifted": True}},
            "multivariate": {"auc": 0.9, "threshold": 0.55, "drifted": True},
            "prediction": {"on": "score", "drifted": False, "result": {"effect": 0.01, "drifted": False}},
            "prediction_difference": {"rate": 0.1, "max_rate": 0.05, "fired": True},
        },
    },
    "gates": [{"name": "min accuracy", "passed": True, "value": 0.86, "limit": 0.8}],
}


def test_a_report_written_with_the_earlier_names_reads_as_fired_and_threshold() -> None:
    # When a report.json written before the names were unified is upgraded
    report = upgrade(copy.deepcopy(EARLIER))

    # Then every signal result says fired / threshold; the drift check's own verdict (in votes) is dropped
    checks = report["checks"]
    assert checks["metrics"] == {"accuracy": 0.7, "threshold": 0.8, "fired": True, "reason": "accuracy 0.7 < 0.8"}
    assert checks["flagged"] == {"rate": 0.01, "max_rate": 0.05, "fired": False}
    drift = checks["drift"]
    assert (drift["fired"], "triggered" in drift, "drifted" in drift) == (False, False, False)
    assert drift["features"]["tenure"] == {"effect": 0.4, "threshold": 0.1, "fired": True}
    assert drift["multivariate"]["fired"] is True
    assert drift["prediction"] == {"on": "score", "fired": False, "result": {"effect": 0.01, "fired": False}}
    assert drift["prediction_difference"]["fired"] is True
    assert report["gates"] == [{"name": "min accuracy", "passed": True, "value": 0.86, "threshold": 0.8}]
    # and the run's own decision keeps its name
    assert report["triggered"] is True


def test_upgrading_leaves_a_current_report_and_the_given_one_as_they_are() -> None:
    given = copy.deepcopy(EARLIER)
    current = upgrade(EARLIER)

    assert given == EARLIER
    assert upgrade(current) == current
    assert upgrade({}) == {}
