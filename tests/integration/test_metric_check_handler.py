"""The MetricCheck handler: the champion's quality on the window's labelled predictions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from helpers import Deployment, Window, call, invoke, run_input
from retrain import observability
from retrain.demo import generate_churn
from retrain.errors import ModelNotFound

pytestmark = pytest.mark.integration

#: Each test reads its own window; the windows are weeks apart, so they never share a partition.
WORSE_END = datetime(2025, 4, 1, tzinfo=UTC)
HALF_LABELLED_END = datetime(2025, 5, 1, tzinfo=UTC)
EMPTY_END = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def worse(module_churn: Deployment) -> tuple[pd.DataFrame, Window]:
    """A drifted window scored by the champion: its accuracy falls below the trigger's 0.8."""
    rows = generate_churn(600, seed=21, drift=True)
    return rows, module_churn.write_window(rows, end=WORSE_END)


def _expected_accuracy(rows: pd.DataFrame, window: Window) -> float:
    return float(accuracy_score(rows["churned"], window.log["prediction"]))


def _emf_records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_a_window_with_worse_accuracy_triggers_naming_metric_and_bound(
    module_churn: Deployment, worse: tuple[pd.DataFrame, Window]
) -> None:
    # Given the champion's predictions on a drifted window, every one labelled
    rows, window = worse
    expected = _expected_accuracy(rows, window)
    assert expected < 0.8

    # When
    result = call(module_churn.cloud, "metric_check", run_input(WORSE_END))

    # Then
    assert result["signal"] == "performance"
    assert result["triggered"] is True
    assert result["insufficient"] is False
    assert result["reason"] == f"accuracy {expected:.4g} < 0.8"


def test_the_accuracy_is_measured_on_every_labelled_prediction(
    module_churn: Deployment, worse: tuple[pd.DataFrame, Window]
) -> None:
    rows, window = worse

    details = call(module_churn.cloud, "metric_check", run_input(WORSE_END))["details"]

    assert details["n"] == details["n_predictions"] == len(rows)
    assert details["match_rate"] == 1.0
    assert details["value"] == pytest.approx(_expected_accuracy(rows, window), abs=1e-12)


def test_labels_for_half_the_predictions_give_match_rate_one_half(module_churn: Deployment) -> None:
    # Given 400 predictions of which only the earliest 200 have their label yet
    rows = generate_churn(400, seed=22)
    window = module_churn.write_window(rows, end=HALF_LABELLED_END, label_fraction=0.5)

    details = call(module_churn.cloud, "metric_check", run_input(HALF_LABELLED_END))["details"]

    assert details["match_rate"] == 0.5
    assert details["n"] == 200
    labelled = window.log.iloc[:200]
    assert details["value"] == pytest.approx(accuracy_score(rows["churned"].iloc[:200], labelled["prediction"]))


def test_an_empty_window_is_insufficient_and_never_triggers(module_churn: Deployment) -> None:
    result = call(module_churn.cloud, "metric_check", run_input(EMPTY_END))

    assert result["insufficient"] is True
    assert result["triggered"] is False
    assert result["reason"].startswith("insufficient data: no predictions")
    assert result["details"]["n"] == 0


def test_the_accuracy_is_printed_as_an_emf_metric_with_the_model_dimension(
    module_churn: Deployment, worse: tuple[pd.DataFrame, Window], capsys: pytest.CaptureFixture[str]
) -> None:
    rows, window = worse

    call(module_churn.cloud, "metric_check", run_input(WORSE_END))

    records = [r for r in _emf_records(capsys.readouterr().out) if "accuracy" in r]
    assert len(records) == 1
    record = records[0]
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Retrain"
    assert "accuracy" in {m["Name"] for m in directive["Metrics"]}
    assert "model" in directive["Dimensions"][0]
    assert record["model"] == "churn"
    assert record["accuracy"] == [pytest.approx(_expected_accuracy(rows, window))]


def test_through_lambda_the_accuracy_reaches_cloudwatch_as_the_alarm_watches_it(
    module_churn: Deployment, worse: tuple[pd.DataFrame, Window]
) -> None:
    # Given the performance alarm of the template
    cloudwatch = module_churn.cloud.client("cloudwatch")
    alarm = cloudwatch.describe_alarms(AlarmNames=[module_churn.cloud.ref("PerformanceAlarm")])["MetricAlarms"][0]

    # When the check runs as a Lambda function (its EMF output becomes metric data)
    response = invoke(module_churn.cloud, "metric_check", run_input(WORSE_END))

    # Then the alarm's metric, with the alarm's dimensions, holds the measured accuracy
    assert response.function_error is None
    assert response.payload["triggered"] is True
    stats = cloudwatch.get_metric_statistics(
        Namespace=alarm["Namespace"],
        MetricName=alarm["MetricName"],
        Dimensions=alarm["Dimensions"],
        StartTime=datetime(2000, 1, 1, tzinfo=UTC),
        EndTime=datetime(2100, 1, 1, tzinfo=UTC),
        Period=3600,
        Statistics=["Average"],
    )["Datapoints"]
    assert stats
    assert all(p["Average"] == pytest.approx(response.payload["details"]["value"]) for p in stats)


def test_through_lambda_metrics_are_published_even_if_the_package_was_imported_outside_lambda(
    module_churn: Deployment, worse: tuple[pd.DataFrame, Window], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the package's Metrics created without the function's POWERTOOLS_* environment (imported by a test
    # or the CLI before the first invocation)
    monkeypatch.setattr(observability.metrics, "namespace", None)
    monkeypatch.setattr(observability.metrics, "service", None)

    # When the check runs as a Lambda function
    response = invoke(module_churn.cloud, "metric_check", run_input(WORSE_END))

    # Then it publishes under the template's namespace instead of failing
    assert response.function_error is None, response.payload
    assert response.payload["triggered"] is True


def test_a_model_without_config_is_model_not_found(module_churn: Deployment) -> None:
    response = invoke(module_churn.cloud, "metric_check", run_input(WORSE_END, model="fraud"))

    assert response.error_type == ModelNotFound.__name__
    assert "'fraud'" in response.error_message
