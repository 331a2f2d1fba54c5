"""The MetricCheck handler: the champion's quality on the window's labelled predictions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.metrics import accuracy_score

from helpers import Deployment, Window, call, deploy, generate_houses, invoke, run_input
from retrain import aws, observability, registry, result, snapshot
from retrain.config import ModelConfig, loads_config
from retrain.data import inference_prefix, labels_prefix, partition_key, to_parquet_bytes
from retrain.demo import generate_churn
from retrain.errors import ModelNotFound
from retrain.layout import flags_prefix
from retrain.lifecycle import deploy_config
from retrain.local.cloud import ROOT
from retrain.local.run import production_log, write_partitioned
from retrain.metrics import Calibration
from retrain.steps.metric_check import estimated_metric_name

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
    assert result["fired"] is True
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
    assert result["fired"] is False
    assert result["reason"].startswith("insufficient data: no predictions")
    assert result["details"]["n"] == 0
    assert result["details"]["flagged"]["n"] == 0
    assert result["details"]["flagged"]["rate"] is None
    assert result["details"]["estimated"]["note"] == "no predictions"


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
    # Given the performance alarm registered for the model
    cloudwatch = module_churn.cloud.client("cloudwatch")
    name = f"{module_churn.cloud.stack_name}-churn-performance"
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]

    # When the check runs as a Lambda function (its EMF output becomes metric data)
    response = invoke(module_churn.cloud, "metric_check", run_input(WORSE_END))

    # Then the alarm's metric, with the alarm's dimensions, holds the measured accuracy
    assert response.function_error is None
    assert response.payload["fired"] is True
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
    assert response.payload["fired"] is True


def test_a_model_without_config_is_model_not_found(module_churn: Deployment) -> None:
    response = invoke(module_churn.cloud, "metric_check", run_input(WORSE_END, model="fraud"))

    assert response.error_type == ModelNotFound.__name__
    assert "'fraud'" in response.error_message


# every signal of the metric check ---------------------------------------------------------------------

SIGNALS_END = datetime(2025, 7, 1, tzinfo=UTC)
FLAGS_END = datetime(2025, 7, 15, tzinfo=UTC)
UNLABELLED_END = datetime(2025, 8, 1, tzinfo=UTC)
FEW_END = datetime(2025, 8, 15, tzinfo=UTC)
REGRESSION_END = datetime(2025, 9, 1, tzinfo=UTC)


def _variant(module_churn: Deployment, model: str, triggers: str) -> ModelConfig:
    """churn.yaml as another model with other triggers, deployed on the module's cloud (no champion needed)."""
    text = module_churn.text.replace("model: churn", f"model: {model}")
    start = text.index("triggers:\n")
    end = text.index("training:\n")
    text = text[:start] + "triggers:\n" + triggers + text[end:]
    config = loads_config(text)
    deploy_config(module_churn.settings, config, text)
    return config


def _write(
    module_churn: Deployment,
    config: ModelConfig,
    rows: pd.DataFrame,
    *,
    end: datetime,
    flagged: np.ndarray | None = None,
    labelled: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The churn champion's log of ``rows`` for ``config``'s model (with its probabilities), written to S3."""
    log, labels = production_log(config, rows, module_churn.model, end=end, prefix=f"s{end:%m%d}", flagged=flagged)
    bucket = module_churn.settings.data_bucket
    write_partitioned(bucket, inference_prefix(config.model), log, "timestamp", "log")
    if labelled and labels is not None:
        write_partitioned(bucket, labels_prefix(config.model), labels, "labelled_at", "labels")
    return log, labels


def _emf_values(text: str, model: str = "churn") -> dict[str, float]:
    """Every metric of the EMF records printed (name -> last value); each record carries the model dimension."""
    values: dict[str, float] = {}
    for record in _emf_records(text):
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert "model" in directive["Dimensions"][0]
        assert record["model"] == model
        for metric in directive["Metrics"]:
            value = record[metric["Name"]]
            values[metric["Name"]] = value[-1] if isinstance(value, list) else value
    return values


@pytest.fixture(scope="module")
def signals_window(module_churn: Deployment) -> tuple[pd.DataFrame, pd.DataFrame]:
    """600 drifted predictions of the churn model, every one labelled, with the champion's probabilities."""
    rows = generate_churn(600, seed=31, drift=True)
    log, _ = _write(module_churn, module_churn.config, rows, end=SIGNALS_END)
    return rows, log


def test_every_metric_is_reported_with_its_interval_and_equals_sklearn(
    module_churn: Deployment, signals_window: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    # Given the champion's predictions and probabilities on a labelled window
    rows, log = signals_window
    y, pred, proba = rows["churned"].to_numpy(), log["prediction"].to_numpy(), log[["proba_0", "proba_1"]].to_numpy()

    # When
    details = call(module_churn.cloud, "metric_check", run_input(SIGNALS_END))["details"]

    # Then every metric equals scikit-learn's on the same rows and lies in its interval
    assert details["metrics"] == pytest.approx(
        {
            "accuracy": skm.accuracy_score(y, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
            "f1": skm.f1_score(y, pred),
            "precision": skm.precision_score(y, pred),
            "recall": skm.recall_score(y, pred),
            "precision_macro": skm.precision_score(y, pred, average="macro"),
            "recall_macro": skm.recall_score(y, pred, average="macro"),
            "f1_macro": skm.f1_score(y, pred, average="macro"),
            "roc_auc": skm.roc_auc_score(y, proba[:, 1]),
            "log_loss": skm.log_loss(y, proba),
            "brier": skm.brier_score_loss(y, proba[:, 1]),
        },
        rel=1e-9,
    )
    assert details["confidence"] == 0.95
    for name, value in details["metrics"].items():
        assert details["ci"][name]["lower"] <= value <= details["ci"][name]["upper"], name


def test_the_estimate_is_reported_beside_the_realized_metrics(
    module_churn: Deployment, signals_window: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, log = signals_window
    p1, pred = log["proba_1"].to_numpy(), log["prediction"].to_numpy()

    estimated = call(module_churn.cloud, "metric_check", run_input(SIGNALS_END))["details"]["estimated"]

    # The champion's probabilities pass through the calibration Train fit on its holdout, then CBPE
    calibration = _champion_calibration(module_churn)
    calibrated = calibration.apply(np.column_stack([1 - p1, p1]), [0, 1])[:, 1]
    assert estimated["available"] is True
    assert estimated["enabled"] is False
    assert estimated["n"] == 600
    assert (estimated["method"], estimated["calibration"]) == ("cbpe", calibration.method)
    assert calibration.method in ("isotonic", "sigmoid")
    assert estimated["calibration_reason"] == calibration.reason
    assert estimated["metrics"]["accuracy"] == pytest.approx(np.mean(np.where(pred == 1, calibrated, 1 - calibrated)))
    assert set(estimated["ci"]) == set(estimated["metrics"])


def _champion_calibration(deployment: Deployment) -> Calibration:
    """The calibration in the champion's model profile (hash-checked against the registry)."""
    assert deployment.champion is not None
    pointer = registry.require_champion(deployment.settings.registry_table, deployment.config.model)
    profile = snapshot.load_model_profile(pointer.artifact_uri, sha256=pointer.model_profile_sha256)
    assert profile is not None
    return Calibration.model_validate(profile.meta["calibration"])


def test_a_tampered_model_profile_is_refused_not_estimated_from(module_churn: Deployment) -> None:
    # Given the champion's profile replaced by other bytes after registration
    pointer = registry.require_champion(module_churn.settings.registry_table, "churn")
    bucket, key = aws.split_uri(snapshot.model_profile_uri(pointer.artifact_uri))
    original = aws.get_bytes(bucket, key)
    aws.put_bytes(bucket, key, original + b"tampered")
    try:
        # When the metric check runs, it refuses the profile rather than estimate from it
        with pytest.raises(Exception, match=r"sha256 mismatch"):
            call(module_churn.cloud, "metric_check", run_input(SIGNALS_END))
    finally:
        aws.put_bytes(bucket, key, original)


def test_every_signal_is_published_as_an_emf_metric_of_the_model(
    module_churn: Deployment, signals_window: tuple[pd.DataFrame, pd.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    details = call(module_churn.cloud, "metric_check", run_input(SIGNALS_END))["details"]

    published = _emf_values(capsys.readouterr().out)

    for name, value in details["metrics"].items():
        assert published[name] == pytest.approx(value), name
    for name, value in details["estimated"]["metrics"].items():
        assert published[estimated_metric_name(name)] == pytest.approx(value), name
    assert published["LabelMatchRate"] == 100.0
    assert published["Predictions"] == published["LabelledPredictions"] == 600
    assert "FlaggedRate" not in published  # no flags column, no feed: nothing to publish


def test_the_result_reports_metrics_with_intervals_flagged_and_estimated(
    module_churn: Deployment, signals_window: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    out = call(module_churn.cloud, "metric_check", run_input(SIGNALS_END))
    state = {"run": {"trigger": "schedule", "mode": "check"}, "checks": {"metrics": out}, "outcome": "no-retrain"}
    described = {"executionArn": "arn:x", "status": "SUCCEEDED", "output": json.dumps(state)}

    checks = result.build(described, trigger="schedule", champion_before=1, champion_after=1)["checks"]

    assert checks["metrics"]["accuracy"] == out["details"]["metrics"]["accuracy"]
    assert checks["metrics"]["ci"]["roc_auc"] == out["details"]["ci"]["roc_auc"]
    assert checks["metrics"]["n"] == 600
    assert checks["flagged"]["source"] == "none"
    assert checks["estimated"]["metrics"] == out["details"]["estimated"]["metrics"]


def test_flags_from_the_log_and_from_the_feed_are_one_rate_that_can_fire(
    module_churn: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a model with a flagged trigger, 400 predictions of which 10 are flagged in the log
    config = _variant(module_churn, "churn-flags", "  flagged: {max_rate: 0.05, min_count: 5}\n")
    rows = generate_churn(400, seed=32)
    column = np.zeros(400, dtype=bool)
    column[:10] = True
    log, _ = _write(module_churn, config, rows, end=FLAGS_END, flagged=column)
    # and a feed flagging 15 more of them, one already flagged, and 2 ids that match no prediction
    feed_ids = [*log["id"].iloc[9:24], "elsewhere-1", "elsewhere-2"]
    day = (FLAGS_END - pd.Timedelta(days=1)).date()
    key = partition_key(flags_prefix(config.model), day, "reviews")
    aws.put_bytes(module_churn.settings.data_bucket, key, to_parquet_bytes(pd.DataFrame({"id": feed_ids})))

    # When
    out = call(module_churn.cloud, "metric_check", run_input(FLAGS_END, model=config.model))

    # Then 24 of 400 predictions are flagged (6% > 5%): the flagged signal votes to retrain
    flagged = out["details"]["flagged"]
    assert (flagged["count"], flagged["n"], flagged["rate"]) == (24, 400, 0.06)
    assert flagged["source"] == "column+feed"
    assert flagged["unmatched_feed_ids"] == 2
    assert out["votes"] == [True]
    assert out["fired"] is True
    assert out["reason"] == "flagged rate 0.06 > 0.05 (24 of 400 predictions flagged)"
    published = _emf_values(capsys.readouterr().out, model=config.model)
    assert published["FlaggedRate"] == pytest.approx(6.0)
    assert published["FlaggedPredictions"] == 24


def test_without_labels_the_estimate_still_votes_and_the_performance_signal_abstains(
    module_churn: Deployment,
) -> None:
    # Given a model judged on realized accuracy and on its estimate, and a window whose labels have not arrived
    triggers = "  performance: {metric: accuracy, min: 0.8}\n  estimated: {metric: accuracy, min: 0.99}\n"
    config = _variant(module_churn, "churn-unlabelled", triggers)
    _write(module_churn, config, generate_churn(300, seed=33), end=UNLABELLED_END, labelled=False)

    # When
    out = call(module_churn.cloud, "metric_check", run_input(UNLABELLED_END, model=config.model))

    # Then only the estimate votes, and it fires; the missing labels are reported
    estimated = out["details"]["estimated"]
    assert out["votes"] == [True]
    assert out["fired"] is True
    assert out["insufficient"] is True
    assert out["reason"] == f"estimated accuracy {estimated['value']:.4g} < 0.99"
    assert out["details"]["reasons"] == [
        out["reason"],
        "insufficient data: 0 labelled rows < min_samples 100",
    ]
    assert out["details"]["signals"]["performance"] == {
        "enabled": True,
        "fired": False,
        "insufficient": True,
        "votes": False,
    }


def test_a_signal_below_its_minimum_sample_is_reported_and_never_votes(module_churn: Deployment) -> None:
    # Given 50 predictions, all flagged, and a flagged trigger that needs 100
    config = _variant(module_churn, "churn-few", "  flagged: {max_rate: 0.01}\n")
    _write(module_churn, config, generate_churn(50, seed=34), end=FEW_END, flagged=np.ones(50, dtype=bool))

    out = call(module_churn.cloud, "metric_check", run_input(FEW_END, model=config.model))

    assert out["votes"] == []
    assert out["fired"] is False
    assert out["insufficient"] is True
    assert out["reason"] == "insufficient data: 50 predictions < min_samples 100"
    assert out["details"]["flagged"]["rate"] == 1.0


def test_a_regression_model_gets_every_regression_metric_and_an_estimate(
    module_churn: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a regression model (house-prices.yaml) with its own champion
    text = (ROOT / "infra" / "configs" / "house-prices.yaml").read_text()
    config = loads_config(text)
    houses = deploy(module_churn.cloud, config, text, reference=generate_houses(600, 1))
    rows = generate_houses(300, 2)
    window = houses.write_window(rows, end=REGRESSION_END)
    y, pred = rows["price"].to_numpy(), window.log["prediction"].to_numpy()

    # When
    out = call(module_churn.cloud, "metric_check", run_input(REGRESSION_END, model=config.model))

    # Then the regression metrics equal scikit-learn's, each with its interval
    details = out["details"]
    assert details["metrics"] == pytest.approx(
        {
            "rmse": np.sqrt(skm.mean_squared_error(y, pred)),
            "mae": skm.mean_absolute_error(y, pred),
            "mape": skm.mean_absolute_percentage_error(y, pred),
            "r2": skm.r2_score(y, pred),
        },
        rel=1e-9,
    )
    assert set(details["ci"]) == set(details["metrics"])
    # and the label-free estimate (DLE) is reported and published, without voting (no estimated trigger)
    estimated = details["estimated"]
    assert (estimated["method"], estimated["available"], estimated["enabled"]) == ("dle", True, False)
    assert set(estimated["metrics"]) == {"mae", "rmse"}
    assert estimated["metrics"]["mae"] == pytest.approx(details["metrics"]["mae"], rel=0.35)
    assert len(out["votes"]) == 1  # the performance signal only
    published = _emf_values(capsys.readouterr().out, model=config.model)
    assert published["mape"] == pytest.approx(details["metrics"]["mape"])
    assert published["EstimatedMae"] == pytest.approx(estimated["metrics"]["mae"])
    assert published["EstimatedRmse"] == pytest.approx(estimated["metrics"]["rmse"])


def test_a_regression_window_without_labels_can_trigger_on_its_estimated_error(module_churn: Deployment) -> None:
    # Given a regression model that retrains when its estimated MAE exceeds 5, and a window with no labels yet
    text = (ROOT / "infra" / "configs" / "house-prices.yaml").read_text()
    text = text.replace("model: house-prices", "model: houses-estimated").replace(
        "  performance: {metric: rmse, max: 60}\n", "  estimated: {metric: mae, max: 5}\n"
    )
    config = loads_config(text)
    houses = deploy(module_churn.cloud, config, text, reference=generate_houses(600, 1))
    houses.write_window(generate_houses(300, 3), end=REGRESSION_END, label_fraction=0.0)

    # When
    out = call(module_churn.cloud, "metric_check", run_input(REGRESSION_END, model=config.model))

    # Then the estimate votes and fires, naming the metric and the bound
    estimated = out["details"]["estimated"]
    assert estimated["n"] == 300
    assert out["votes"] == [True]
    assert out["reason"] == f"estimated mae {estimated['value']:.4g} > 5"
    assert estimated["value"] > 5
