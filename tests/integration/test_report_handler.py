"""The Report handler: every run's report.json and report.html, on every outcome, in the artifact bucket."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from helpers import Deployment, call, invoke, load_event, run_input
from retrain import aws, layout, result
from retrain.demo import generate_churn

pytestmark = pytest.mark.integration

WINDOW_END = datetime(2025, 4, 1, tzinfo=UTC)
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:RetrainingStateMachine:{}"


def _request(state: dict, *, status: str = "SUCCEEDED", execution: str = "run-1") -> dict:
    return {
        "state": state,
        "status": status,
        "execution": execution,
        "execution_arn": EXECUTION_ARN.format(execution),
        "started_at": "2025-04-01T00:00:05Z",
    }


def _read(deployment: Deployment, uri: str) -> bytes:
    return aws.get_bytes(*aws.split_uri(uri))


def test_a_checked_window_gets_a_report_with_its_checks_and_every_features_distributions(
    deployed_churn: Deployment,
) -> None:
    # Given a drifted window checked by both checks
    cloud = deployed_churn.cloud
    deployed_churn.write_window(generate_churn(800, seed=71, drift=True), end=WINDOW_END)
    state = run_input(WINDOW_END)
    state["checks"] = {
        "metrics": call(cloud, "metric_check", state),
        "drift": call(cloud, "drift_check", state),
    }
    state.update(retrain=True, outcome="no-retrain")

    # When the Report step runs
    out = call(cloud, "report", _request(state))

    # Then report.json and report.html sit under reports/<model>/<execution>/
    bucket = deployed_churn.settings.artifact_bucket
    assert out == {
        "json_uri": aws.uri(bucket, layout.report_key("churn", "run-1", "report.json")),
        "html_uri": aws.uri(bucket, layout.report_key("churn", "run-1", "report.html")),
    }
    report = json.loads(_read(deployed_churn, out["json_uri"]))
    # It is the result.json contract, built by the same function from the same state
    expected = result.assemble(
        state,
        status="SUCCEEDED",
        trigger="schedule",
        execution_arn=EXECUTION_ARN.format("run-1"),
        started_at="2025-04-01T00:00:05Z",
        champion_before=1,
        champion_after=1,
    )
    for field in ("outcome", "model", "triggered", "reasons", "checks", "champion_version", "gates", "error"):
        assert report[field] == json.loads(json.dumps(expected[field])), field
    assert report["report"] == out
    assert report["execution"] == "run-1"
    # Every feature has its reference-vs-current distribution (the drift check wrote them)
    features = deployed_churn.config.features.all
    assert set(report["distributions"]) == set(features)
    for name, dist in report["distributions"].items():
        assert sum(dist["current"]) <= 800, name
    page = _read(deployed_churn, out["html_uri"]).decode()
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    assert len(re.findall(r'class="drift-mark[ "]', page)) == len(report["checks"]["drift"]["features"])


def test_a_failed_run_gets_a_report_with_the_failed_step_and_its_error(deployed_churn: Deployment) -> None:
    # Given a run that failed at Train, as RecordFailure leaves it
    state = run_input(WINDOW_END)
    state["failure"] = {
        "step": "Train",
        "model": "churn",
        "error": "SchemaMismatch",
        "cause": json.dumps({"errorType": "SchemaMismatch", "errorMessage": "column 'tenure' is missing"}),
        "lock": "released",
    }

    out = call(deployed_churn.cloud, "report", _request(state, status="FAILED", execution="run-2"))

    report = json.loads(_read(deployed_churn, out["json_uri"]))
    assert report["outcome"] == "failed"
    assert report["error_type"] == "SchemaMismatch"
    assert report["error"] == "SchemaMismatch: column 'tenure' is missing"
    assert report["champion_version"] == 1  # the champion is unchanged
    assert "column &#x27;tenure&#x27; is missing" in _read(deployed_churn, out["html_uri"]).decode()


def test_a_refused_trigger_with_no_model_is_reported_under_a_folder_no_model_can_have(
    deployed_churn: Deployment,
) -> None:
    # Given Normalize refused the event: the state is the raw event, its error and the failure record
    state = load_event("scheduled_event")
    state["error"] = {"Error": "InvalidEvent", "Cause": "malformed event"}
    state["failure"] = {"step": "Normalize", "model": None, "error": "InvalidEvent", "cause": "malformed event"}

    out = call(deployed_churn.cloud, "report", _request(state, status="FAILED", execution="run-3"))

    assert out["json_uri"].endswith(f"/reports/{layout.NO_MODEL}/run-3/report.json")
    report = json.loads(_read(deployed_churn, out["json_uri"]))
    assert (report["outcome"], report["model"], report["error"]) == ("failed", None, "InvalidEvent: malformed event")


def test_a_malformed_report_request_names_the_field(deployed_churn: Deployment) -> None:
    answer = invoke(deployed_churn.cloud, "report", {**_request({}), "status": "DONE"})

    assert answer.error_type == "InvalidEvent"
    assert "status" in answer.error_message
