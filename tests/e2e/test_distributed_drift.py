"""The distributed drift check on the local cloud: one window of 200 partitions, judged by both engines.

The window is written once; the model's config is stored with ``engine: single``
and then ``engine: distributed`` and the whole state machine runs on it each
time. The performance check sees perfect labels, so with ``policy: all`` no run
retrains and both judge against the same champion.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from retrain import aws, layout, registry, reports
from retrain.config import loads_config
from retrain.data import inference_prefix, labels_prefix, partition_key, to_parquet_bytes
from retrain.demo import CONFIG, generate_churn
from retrain.lifecycle import deploy_config
from retrain.local.progress import StatePrinter
from retrain.local.run import production_log, settings_of, write_partitioned

pytestmark = pytest.mark.e2e

PARTITIONS = 200
ROWS = 300
#: Drifted in the window; the other three features keep the reference's distribution.
DRIFTED = ("tenure_months", "monthly_charges", "contract")


def _config_text(engine: str) -> str:
    text = CONFIG.read_text()
    # Batches of about ten partitions (so the Map runs about twenty child executions), four at a time.
    drift = (
        f"{{share: 0.3, engine: {engine}, prediction: {{}}, distributed: {{batch_bytes: 400000, max_concurrency: 4}}}}"
    )
    text = text.replace("  drift: {share: 0.3}\n", f"  drift: {drift}\n  policy: all\n")
    assert f"engine: {engine}" in text
    return text


def _window(n: int) -> pd.DataFrame:
    stable = generate_churn(n, seed=41)
    drifted = generate_churn(n, seed=42, drift=True)
    for name in DRIFTED:
        stable[name] = drifted[name].to_numpy()
    return stable


@pytest.fixture(scope="module")
def window(module_churn):
    """The production log of one window as 200 Parquet objects over its days, with perfect labels."""
    deployment = module_churn
    config, settings = deployment.config, deployment.settings
    end = datetime.now(UTC)
    log, labels = production_log(config, _window(PARTITIONS * ROWS), deployment.model, end=end, prefix="dist")
    assert labels is not None
    labels[config.target] = log[config.monitoring.prediction_column].to_numpy()  # the champion is always right
    write_partitioned(settings.data_bucket, labels_prefix(config.model), labels, "labelled_at", "labels")
    days = pd.to_datetime(log[config.monitoring.timestamp_column], utc=True).dt.date
    keys: list[str] = []
    for i, part in enumerate(np.array_split(np.arange(len(log)), PARTITIONS)):
        rows = log.iloc[part].reset_index(drop=True)
        key = partition_key(inference_prefix(config.model), days.iloc[part[0]], f"part-{i:04d}")
        aws.put_bytes(settings.data_bucket, key, to_parquet_bytes(rows))
        keys.append(key)
    assert len(set(keys)) == PARTITIONS
    return keys


def _printed(cloud, described: dict) -> dict[str, bool]:
    """What the CLI's state printer shows for the execution's history: each state's name and whether it failed."""
    printer = StatePrinter(lambda line: None)
    for event in cloud.history(described["executionArn"]):
        printer(event)
    return dict((name, failed) for name, failed in printer.printed)


def _run(cloud, deployment, engine: str, name: str) -> tuple[dict, dict]:
    config = loads_config(_config_text(engine))
    deploy_config(deployment.settings, config, _config_text(engine))
    arn = cloud.start_execution({"trigger": "manual", "model": config.model, "mode": "check"}, name=name)
    described = cloud.wait(arn, timeout=600)
    report = reports.fetch(deployment.settings.artifact_bucket, name, model=config.model)
    return described, report


def test_single_and_distributed_engines_give_the_same_verdicts(module_cloud, module_churn, window):
    # Given one window of 200 partitions, judged by each engine in turn
    single_run, single = _run(module_cloud, module_churn, "single", "drift-single")
    distributed_run, distributed = _run(module_cloud, module_churn, "distributed", "drift-distributed")

    # Then both runs end without retraining, each engine having judged the window
    assert (single_run["status"], distributed_run["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert (single["outcome"], distributed["outcome"]) == ("no-retrain", "no-retrain")
    one, other = single["checks"]["drift"], distributed["checks"]["drift"]
    assert (one["engine"], other["engine"]) == ("single", "distributed")
    assert one["n_current"] == other["n_current"] == PARTITIONS * ROWS

    # And the verdicts are the same: per feature, for the data set, for the predictions
    verdicts = {name: f["fired"] for name, f in one["features"].items()}
    assert verdicts == {name: f["fired"] for name, f in other["features"].items()}
    assert {name for name, drifted in verdicts.items() if drifted} == set(DRIFTED)
    assert (one["fired"], one["n_drifted"], one["share"]) == (other["fired"], other["n_drifted"], other["share"])
    assert one["fired"] is True
    assert one["prediction"]["fired"] == other["prediction"]["fired"]
    # And the CLI's state printer follows the Map's history: every state of the branch, none failed
    printed = _printed(module_cloud, distributed_run)
    assert {"DriftCheck", "Distributed?", "ProfileWindow", "JudgeDrift"} <= set(printed)
    assert not any(printed.values())
    # Every partition holds at most 20 000 distinct values per feature: the merged profile is exact, so the
    # statistics equal the single engine's up to floating-point summation order.
    for name, feature in one["features"].items():
        assert other["features"][name]["statistic"] == pytest.approx(feature["statistic"], rel=1e-9, abs=1e-12)
        assert other["features"][name]["effect"] == pytest.approx(feature["effect"], rel=1e-9, abs=1e-12)


def test_an_unreadable_partition_fails_the_run_naming_it_and_keeps_the_champion(module_cloud, module_churn, window):
    # Given one of the 200 partitions is not Parquet any more
    settings = settings_of(module_cloud)
    corrupt = window[137]
    original = aws.get_bytes(settings.data_bucket, corrupt)
    aws.put_bytes(settings.data_bucket, corrupt, b"PAR1 this is not a parquet file")
    champion = registry.require_champion(settings.registry_table, "churn").version
    try:
        # When the distributed check runs
        described, report = _run(module_cloud, module_churn, "distributed", "drift-corrupt")
    finally:
        aws.put_bytes(settings.data_bucket, corrupt, original)

    # Then the run fails, the drift check's error names the object, and the champion is unchanged
    assert described["status"] == "FAILED"
    drift = report["checks"]["drift"]
    assert drift["failed"] is True
    assert corrupt in drift["error"]
    assert drift["error"].startswith("UnreadableData: ")
    assert corrupt in described.get("cause", "")
    assert registry.require_champion(settings.registry_table, "churn").version == champion
    # The Map failed as on AWS (its own error names no object); JudgeDrift read the batch's failure record
    judged = [
        json.loads(e["stateEnteredEventDetails"]["input"])
        for e in module_cloud.history(described["executionArn"])
        if e.get("stateEnteredEventDetails", {}).get("name") == "JudgeDrift"
    ]
    assert [j["map"]["Error"] for j in judged] == ["States.ExceedToleratedFailureThreshold"]
    printed = _printed(module_cloud, described)
    assert printed["ProfileWindow"]
    assert printed["JudgeDrift"]
    assert not printed["DriftCheck"]
    (record,) = aws.list_objects(settings.artifact_bucket, layout.drift_failures_prefix("churn", "drift-corrupt"))
    assert aws.get_json(settings.artifact_bucket, record["key"])["key"] == corrupt
