"""``training.engine: sagemaker``: the state machine trains the candidate in a SageMaker training job.

On the local cloud the job's entry point runs from the uploaded source dir in a
fresh Python process (see :mod:`retrain.local.training_jobs`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from helpers import deploy, invoke, load_model
from retrain import aws, registry, snapshot, training
from retrain.config import loads_config
from retrain.contracts import Run
from retrain.demo import CONFIG, generate_churn
from retrain.local import training_jobs
from retrain.local.run import settings_of
from retrain.trigger_record import TriggerRecord

pytestmark = pytest.mark.e2e

SAGEMAKER_TEXT = CONFIG.read_text().replace(
    "training:\n",
    "training:\n  engine: sagemaker\n  sagemaker: {instance_type: ml.m5.large, max_runtime_minutes: 20}\n",
)
#: An interaction constraint naming feature 99 of 12 encoded columns: the config loads, the fit refuses it.
UNUSABLE_TEXT = SAGEMAKER_TEXT.replace(
    "params: {max_iter: 100, learning_rate: 0.1}",
    "params: {max_iter: 100, learning_rate: 0.1, interaction_cst: [[0, 99]]}",
)


@pytest.fixture(scope="module")
def reference():
    return generate_churn(2000, seed=61)


@pytest.fixture(scope="module")
def drifted():
    return generate_churn(1200, seed=62, drift=True)


def _retrain(deployment, window, name):
    deployment.write_window(window, end=datetime.now(UTC))
    arn = deployment.cloud.start_execution({"trigger": "manual", "model": "churn"}, name=name)
    return deployment.cloud.wait(arn)


def test_a_sagemaker_candidate_predicts_as_the_lambda_engines_from_the_same_snapshot(cloud, reference, drifted):
    # Given churn, configured to train in a SageMaker job, with a champion
    assert CONFIG.read_text() != SAGEMAKER_TEXT
    deployment = deploy(cloud, loads_config(SAGEMAKER_TEXT), SAGEMAKER_TEXT, reference=reference)

    # When a run retrains it
    described = _retrain(deployment, drifted, "sagemaker-run")

    # Then it trained in a job of this stack, which SageMaker's API shows as completed
    assert described["status"] == "SUCCEEDED", described.get("cause")
    state = json.loads(described["output"])
    assert state["run"]["training_engine"] == "sagemaker"
    # (the model's lock outlasts the job: LockTtlSeconds plus max_runtime_minutes)
    assert int(state["run"]["lock_expires_at"]) - int(state["run"]["lock_now"]) == 3600 + 20 * 60
    job = state["training_job"]
    assert job["name"].startswith(f"{cloud.stack_name}-churn-")
    assert len(job["name"]) <= 63
    sagemaker = cloud.client("sagemaker")
    assert sagemaker.describe_training_job(TrainingJobName=job["name"])["TrainingJobStatus"] == "Completed"
    assert job["name"] in [j["TrainingJobName"] for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]]
    # And its candidate is registered with the job in its lineage
    table = deployment.settings.registry_table
    record = registry.get_version(table, "churn", state["candidate"]["version"])
    assert record is not None
    assert record.training_job == job["name"]
    assert record.snapshot_id == state["snapshot"]["id"]
    # (and the run's trigger, as the Lambda engine records it)
    trained = record.triggered_by
    assert trained is not None
    assert trained == TriggerRecord.of_run(Run.model_validate(state["run"]))
    assert (trained.kind, trained.execution) == ("manual", "sagemaker-run")

    # When the Train function (the Lambda engine) trains from the same snapshot and seed
    answer = invoke(
        cloud, "train", {"run": {**state["run"], "execution": "lambda-engine"}, "snapshot": state["snapshot"]}
    )
    assert answer.function_error is None, answer.payload
    lambda_candidate = answer.payload

    # Then both candidates give the same predictions and probabilities on the holdout, and the same lineage
    other = registry.get_version(table, "churn", lambda_candidate["version"])
    assert other is not None
    assert other.triggered_by == trained.model_copy(update={"execution": "lambda-engine"})
    frame, manifest = snapshot.load(deployment.settings.artifact_bucket, "churn", state["snapshot"]["id"])
    holdout = snapshot.split(frame, manifest)[1]
    config = deployment.config
    x = training.feature_frame(holdout, config)
    assert record.sha256 is not None
    assert other.sha256 is not None
    job_model = load_model(record.artifact_uri, record.sha256)
    lambda_model = load_model(other.artifact_uri, other.sha256)
    assert np.array_equal(job_model.predict(x), lambda_model.predict(x))
    assert np.array_equal(job_model.predict_proba(x), lambda_model.predict_proba(x))
    assert (record.trained_rows, record.importances) == (other.trained_rows, other.importances)
    assert record.config_sha256 == other.config_sha256
    # The artifact bytes differ: skops names each array in its zip after the object's id in the writing process
    assert record.sha256 != other.sha256


def test_a_job_that_fails_ends_the_run_failed_with_its_failure_reason(cloud, reference, drifted):
    # Given churn with a champion, then a config its training job cannot fit with
    settings = settings_of(cloud)
    deployment = deploy(cloud, loads_config(SAGEMAKER_TEXT), SAGEMAKER_TEXT, reference=reference)
    cloud.register(loads_config(UNUSABLE_TEXT), UNUSABLE_TEXT)

    # When a run retrains it
    described = _retrain(deployment, drifted, "sagemaker-fails")

    # Then the run fails at the job, with the job's failure reason in its cause
    assert described["status"] == "FAILED"
    assert described["error"] == "TrainingJobFailed"
    job = json.loads(described["cause"])
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: ValueError: Interaction constraints")
    assert "Interaction constraints" in training_jobs.LOGS[job["TrainingJobName"]]
    # And the run's report names the step and the reason
    report = json.loads(aws.get_bytes(settings.artifact_bucket, "reports/churn/sagemaker-fails/report.json"))
    assert report["outcome"] == "failed"
    assert report["error"] == f"TrainingJobFailed: training job {job['TrainingJobName']} Failed: {job['FailureReason']}"
    # And the champion is unchanged, no candidate was registered, no model was written and the lock is free
    champion = registry.get_champion(settings.registry_table, "churn")
    assert champion is not None
    assert champion.version == 1
    assert [v.version for v in registry.list_versions(settings.registry_table, "churn")] == [1]
    assert (
        list(aws.list_objects(settings.artifact_bucket, f"training-jobs/churn/{job['TrainingJobName']}/output/")) == []
    )
    assert registry.get_version(settings.registry_table, "churn", 2) is None
