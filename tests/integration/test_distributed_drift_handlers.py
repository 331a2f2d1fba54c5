"""The distributed drift check's handlers on moto: DriftCheck plans, DriftProfile profiles a batch, DriftCheck judges.

The map's iterations are called here one by one, as the ProfileWindow Map
would; the whole state machine runs in tests/e2e/test_distributed_drift.py.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pandas as pd
import pytest

from helpers import Deployment, call, run_input
from retrain import aws, layout
from retrain.config import loads_config
from retrain.data import to_parquet_bytes
from retrain.demo import generate_churn
from retrain.errors import BatchMismatch, DataNotFound, SchemaMismatch, UnreadableData
from retrain.lifecycle import deploy_config

pytestmark = pytest.mark.integration

END = datetime(2025, 9, 1, tzinfo=UTC)


def _use_engine(deployment: Deployment, engine: str) -> None:
    """Store the model's config with ``triggers.drift.engine`` (one object per batch when distributed)."""
    text = deployment.text.replace(
        "  drift: {share: 0.3}\n",
        f"  drift: {{share: 0.3, engine: {engine}, multivariate: {{}}, prediction: {{}}, "
        "distributed: {batch_bytes: 1, sample_rows: 3000}}\n",
    )
    assert f"engine: {engine}" in text
    deploy_config(deployment.settings, loads_config(text), text)


@pytest.fixture(scope="module")
def window(module_churn: Deployment) -> list[str]:
    rows = generate_churn(1200, seed=51, drift=True)
    rows["support_calls"] = generate_churn(1200, seed=52)["support_calls"].to_numpy()
    keys = module_churn.write_window(rows, end=END, prefix="dist").keys
    return [key for key in keys if key.startswith("inference/")]


def _plan(deployment: Deployment, event: dict) -> dict:
    _use_engine(deployment, "distributed")
    return call(deployment.cloud, "drift_check", event)


def _profile_all(deployment: Deployment, planned: dict) -> list[dict]:
    settings = deployment.settings
    manifest = aws.get_json(settings.artifact_bucket, planned["plan"]["manifest_key"])
    return [call(deployment.cloud, "drift_profile", {"run": planned["run"], "batch": batch}) for batch in manifest]


def _judge(deployment: Deployment, planned: dict, map_outcome: dict | None = None) -> dict:
    event = {**planned, "map": map_outcome or {"MapRunArn": "arn:aws:states:::mapRun/x", "ResultWriterDetails": {}}}
    return call(deployment.cloud, "drift_check", event)


def test_the_plan_lists_every_object_of_the_window_once_in_order(module_churn, window):
    # When the check is distributed
    event = run_input(END)
    planned = _plan(module_churn, event)

    # Then it returns the run and a plan, and the manifest holds every table object of the window
    plan = planned["plan"]
    assert planned["run"]["execution"] == event["run"]["execution"]
    assert "signal" not in planned
    manifest = aws.get_json(plan["bucket"], plan["manifest_key"])
    assert plan["manifest_key"] == layout.drift_batches_key("churn", event["run"]["execution"])
    assert [b["index"] for b in manifest] == list(range(len(window)))
    assert [o["key"] for b in manifest for o in b["objects"]] == sorted(window)
    assert (plan["objects"], plan["batches"]) == (len(window), len(window))
    assert plan["bytes"] == sum(o["size"] for b in manifest for o in b["objects"])
    assert plan["max_concurrency"] == 40


def test_the_judged_profiles_give_the_single_engines_verdicts(module_churn, window):
    # Given the same window checked by the single engine
    event = run_input(END)
    _use_engine(module_churn, "single")
    single = call(module_churn.cloud, "drift_check", event)

    # When it is profiled batch by batch and judged
    planned = _plan(module_churn, event)
    outputs = _profile_all(module_churn, planned)
    judged = _judge(module_churn, planned)

    # Then each batch reports its rows, and the verdicts are the single engine's
    assert sum(o["rows"] for o in outputs) == judged["details"]["n_current"] == single["details"]["n_current"]
    assert (judged["fired"], judged["votes"]) == (single["fired"], single["votes"])
    one, other = single["details"], judged["details"]
    assert {n: f["fired"] for n, f in one["features"].items()} == {n: f["fired"] for n, f in other["features"].items()}
    for name, feature in one["features"].items():
        assert other["features"][name]["statistic"] == pytest.approx(feature["statistic"], rel=1e-9, abs=1e-12)
    assert other["prediction"]["fired"] == one["prediction"]["fired"]
    assert other["prediction"]["result"]["statistic"] == pytest.approx(one["prediction"]["result"]["statistic"])
    # The domain classifier runs on the merged uniform sample (at most 3000 rows: here the whole window)
    assert other["engine"] == "distributed"
    assert other["n_sample"] == 1200
    assert other["multivariate"]["fired"] == one["multivariate"]["fired"] is True
    assert other["votes"] == one["votes"]
    # And the report's distributions are those of the same window
    single_d = aws.get_json(*aws.split_uri(one["distributions_uri"]))
    assert aws.get_json(*aws.split_uri(other["distributions_uri"])) == single_d


def test_a_batch_without_a_profile_is_named(module_churn, window):
    planned = _plan(module_churn, run_input(END))
    _profile_all(module_churn, planned)
    run = planned["run"]
    aws.s3().delete_object(Bucket=planned["plan"]["bucket"], Key=layout.drift_receipt_key("churn", run["execution"], 2))

    with pytest.raises(DataNotFound, match=r"batch 2 of the drift window \(1 objects from inference/churn/"):
        _judge(module_churn, planned)


def test_a_profile_of_a_batch_the_manifest_lacks_is_named(module_churn, window):
    planned = _plan(module_churn, run_input(END))
    outputs = _profile_all(module_churn, planned)
    run, bucket = planned["run"], planned["plan"]["bucket"]
    receipt = aws.get_json(bucket, layout.drift_receipt_key("churn", run["execution"], 0))
    aws.put_bytes(bucket, layout.drift_receipt_key("churn", run["execution"], len(outputs)), aws.json_bytes(receipt))

    with pytest.raises(BatchMismatch, match=f"batch {len(outputs)} has a profile .* but is not in the manifest"):
        _judge(module_churn, planned)


def test_a_profile_of_other_objects_than_its_batch_is_named(module_churn, window):
    planned = _plan(module_churn, run_input(END))
    _profile_all(module_churn, planned)
    run, bucket = planned["run"], planned["plan"]["bucket"]
    key = layout.drift_receipt_key("churn", run["execution"], 1)
    receipt = aws.get_json(bucket, key)
    receipt["objects"][0]["etag"] = "0" * 32
    aws.put_bytes(bucket, key, aws.json_bytes(receipt))

    with pytest.raises(
        BatchMismatch, match=r"batch 1's profile covers 1 objects, not the manifest's 1 \(first difference"
    ):
        _judge(module_churn, planned)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b"PAR1 not parquet", UnreadableData, "is not a Parquet file"),
        (to_parquet_bytes(pd.DataFrame({"id": ["a"], "tenure_months": [3.0]})), SchemaMismatch, "'timestamp'"),
    ],
)
def test_an_unreadable_object_fails_its_batch_and_the_judge_names_it(module_churn, window, body, error, message):
    # Given one more object in the window that cannot be profiled
    settings = module_churn.settings
    bad = window[0].rsplit("/", 1)[0] + "/zz-bad.parquet"
    aws.put_bytes(settings.data_bucket, bad, body)
    try:
        planned = _plan(module_churn, run_input(END))
        manifest = aws.get_json(planned["plan"]["bucket"], planned["plan"]["manifest_key"])
        (batch,) = [b for b in manifest if b["objects"][0]["key"] == bad]

        # When its batch is profiled, it fails naming the object, and records why
        with pytest.raises(error, match=message) as failed:
            call(module_churn.cloud, "drift_profile", {"run": planned["run"], "batch": batch})
        assert bad in str(failed.value)
        record = aws.get_json(
            settings.artifact_bucket, layout.drift_failure_key("churn", planned["run"]["execution"], batch["index"])
        )
        assert (record["key"], record["error"]) == (bad, error.__name__)

        # And the judge, given only AWS's generic map error, raises the batch's error naming the object
        generic = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "The specified tolerated failure..."}
        with pytest.raises(error, match=f"batch {batch['index']} of the drift window failed on s3://.*{bad}"):
            _judge(module_churn, planned, generic)
    finally:
        aws.s3().delete_object(Bucket=settings.data_bucket, Key=bad)


def test_an_object_deleted_after_the_plan_is_named(module_churn, window):
    planned = _plan(module_churn, run_input(END))
    manifest = aws.get_json(planned["plan"]["bucket"], planned["plan"]["manifest_key"])
    batch = copy.deepcopy(manifest[0])
    batch["objects"][0]["key"] = batch["objects"][0]["key"].replace(".parquet", "-gone.parquet")

    with pytest.raises(DataNotFound, match=r"-gone.parquet"):
        call(module_churn.cloud, "drift_profile", {"run": planned["run"], "batch": batch})
