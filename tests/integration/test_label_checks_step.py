"""Labels checked against the problem in the steps: MetricCheck, Snapshot and Train name the column and the values.

Each test writes its own model's window (churn.yaml under another name, scored by
the churn champion v1, trained on 0/1 labels), so the tests share one cloud.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from helpers import Deployment, call, invoke, run_input
from retrain import aws, registry, snapshot
from retrain.config import ModelConfig, loads_config
from retrain.data import inference_prefix, labels_prefix
from retrain.demo import generate_churn
from retrain.errors import SchemaMismatch
from retrain.lifecycle import deploy_config
from retrain.local.cloud import ROOT
from retrain.local.run import production_log, write_partitioned

pytestmark = pytest.mark.integration

END = datetime(2025, 4, 1, tzinfo=UTC)
YES_NO = (
    "MetricCheck step: labels ['no', 'yes'] in column 'churned' were never seen by the champion, which knows [0, 1]: "
    "the labels are text but its classes are whole numbers - are the labels encoded differently? "
    "(300 of 300 labels)"
)


def _model(module_churn: Deployment, name: str) -> ModelConfig:
    """churn.yaml deployed as model ``name`` (the churn champion scores its windows)."""
    text = module_churn.text.replace("model: churn", f"model: {name}")
    config = loads_config(text)
    deploy_config(module_churn.settings, config, text)
    return config


def _write(module_churn: Deployment, config: ModelConfig, rows: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """The champion's log of ``rows`` (with its class probabilities) and ``labels`` as their labels, written to S3."""
    log, truth = production_log(config, rows, module_churn.model, end=END, prefix=config.model)
    assert truth is not None
    truth[config.target] = labels
    bucket = module_churn.settings.data_bucket
    write_partitioned(bucket, inference_prefix(config.model), log, "timestamp", "log")
    write_partitioned(bucket, labels_prefix(config.model), truth, "labelled_at", "labels")
    return log


def test_yes_no_labels_for_the_0_1_champion_are_a_schema_mismatch_naming_both(module_churn: Deployment) -> None:
    # Given labels yes/no for predictions of a champion trained on 0/1
    config = _model(module_churn, "churn-yes-no")
    rows = generate_churn(300, seed=61)
    _write(module_churn, config, rows, np.where(rows["churned"] == 1, "yes", "no"))

    # When / Then
    with pytest.raises(SchemaMismatch) as caught:
        call(module_churn.cloud, "metric_check", run_input(END, model=config.model))
    assert str(caught.value) == YES_NO


def test_through_lambda_the_yes_no_labels_fail_as_schema_mismatch(module_churn: Deployment) -> None:
    config = _model(module_churn, "churn-yes-no-lambda")
    rows = generate_churn(300, seed=61)
    _write(module_churn, config, rows, np.where(rows["churned"] == 1, "yes", "no"))

    response = invoke(module_churn.cloud, "metric_check", run_input(END, model=config.model))

    assert response.error_type == "SchemaMismatch"
    assert response.error_message == YES_NO


@pytest.mark.parametrize(
    "spell",
    [lambda y: y.astype(str), lambda y: y.astype(float), lambda y: np.where(y == 1, "1.0", "0")],
    ids=["strings", "floats", "float-strings"],
)
def test_labels_spelled_otherwise_score_as_the_int_labels(module_churn: Deployment, spell, request) -> None:
    # Given the champion's 0/1 classes and the same labels written as text or floats
    config = _model(module_churn, f"churn-{request.node.callspec.id}")
    rows = generate_churn(300, seed=62)
    log = _write(module_churn, config, rows, spell(rows["churned"].to_numpy()))

    # When
    details = call(module_churn.cloud, "metric_check", run_input(END, model=config.model))["details"]

    # Then every metric is scikit-learn's on the int labels, probability metrics included
    y, pred = rows["churned"].to_numpy(), log["prediction"].to_numpy()
    assert details["n"] == 300
    assert details["metrics"]["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), rel=1e-12)
    assert details["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, log["proba_1"]), rel=1e-12)
    assert "unseen_labels" not in details


def test_a_new_class_is_scored_as_misses_and_reported_not_refused(module_churn: Deployment) -> None:
    # Given 0/1 labels and, on 30 rows, a class 2 the champion never saw
    config = _model(module_churn, "churn-new-class")
    rows = generate_churn(300, seed=63)
    labels = rows["churned"].to_numpy().copy()
    labels[::10] = 2
    log = _write(module_churn, config, rows, labels)

    # When
    out = call(module_churn.cloud, "metric_check", run_input(END, model=config.model))

    # Then the check runs: the new class's rows count as misses, and the class is reported
    details = out["details"]
    assert details["unseen_labels"] == {"labels": [2], "rows": 30, "classes": [0, 1]}
    assert details["value"] == pytest.approx(skm.accuracy_score(labels, log["prediction"]), rel=1e-12)
    assert "labels 2 have no probability column" in details["unavailable"]["roc_auc"]


def test_text_labels_of_a_regression_model_name_the_column_and_the_step(module_churn: Deployment) -> None:
    # Given a regression model's log (its predictions need no champion here) and labels, some of them text
    text = (ROOT / "infra" / "configs" / "house-prices.yaml").read_text()
    config = loads_config(text)
    deploy_config(module_churn.settings, config, text)
    n = 150
    stamps = pd.date_range(start=END - timedelta(days=4), periods=n, freq="30min")
    ids = [f"h-{i:04d}" for i in range(n)]
    log = pd.DataFrame({"id": ids, "timestamp": stamps, "prediction": np.linspace(100.0, 400.0, n)})
    prices = np.linspace(110.0, 390.0, n).astype(object)
    prices[[5, 40, 41]] = "expensive"
    labels = pd.DataFrame({"id": ids, "price": prices.astype(str), "labelled_at": stamps})
    bucket = module_churn.settings.data_bucket
    write_partitioned(bucket, inference_prefix(config.model), log, "timestamp", "log")
    write_partitioned(bucket, labels_prefix(config.model), labels, "labelled_at", "labels")

    # When / Then
    with pytest.raises(SchemaMismatch) as caught:
        call(module_churn.cloud, "metric_check", run_input(END, model=config.model))
    assert str(caught.value) == (
        "MetricCheck step: labels column 'price' must be numeric for a regression model, "
        "found 'expensive' (3 non-numeric of 150 labels)"
    )


def _continuous_labels(n: int) -> np.ndarray:
    prices = np.round(np.random.default_rng(7).uniform(5, 50, n), 2)
    prices[0] = 12.75
    return prices


def _written_under(bucket: str, prefix: str) -> list[str]:
    listed = aws.s3().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_the_snapshot_step_refuses_a_continuous_classification_target_before_writing(
    module_churn: Deployment,
) -> None:
    # Given a classification model whose labels are prices
    config = _model(module_churn, "churn-prices")
    rows = generate_churn(300, seed=64)
    _write(module_churn, config, rows, _continuous_labels(len(rows)))

    # When / Then
    with pytest.raises(SchemaMismatch) as caught:
        call(module_churn.cloud, "snapshot", run_input(END, model=config.model))
    assert str(caught.value) == (
        "labelled training window of 'churn-prices': target column 'churned' holds continuous values (e.g. 12.75); "
        "a classification target must be discrete - set problem: regression?"
    )
    # and nothing was written: no snapshot, no version
    settings = module_churn.settings
    assert _written_under(settings.artifact_bucket, f"snapshots/{config.model}/") == []
    assert registry.list_versions(settings.registry_table, config.model) == []


def test_the_train_step_refuses_a_continuous_classification_target_before_registering(
    module_churn: Deployment,
) -> None:
    # Given a snapshot (written directly: the Snapshot step would refuse it) whose target is continuous
    config = _model(module_churn, "churn-prices-train")
    frame = generate_churn(300, seed=65).assign(churned=_continuous_labels(300))
    settings = module_churn.settings
    ref = snapshot.create(
        settings.artifact_bucket, config.model, frame, sources=[], holdout_fraction=0.2, timestamp_column=None
    )
    event = {**run_input(END, model=config.model), "snapshot": ref.model_dump(mode="json")}

    # When / Then
    with pytest.raises(SchemaMismatch, match=r"training data: target column 'churned' holds continuous values"):
        call(module_churn.cloud, "train", event)
    assert registry.list_versions(settings.registry_table, config.model) == []
    assert _written_under(settings.artifact_bucket, f"models/{config.model}/") == []
