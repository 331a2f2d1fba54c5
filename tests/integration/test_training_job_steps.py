"""The Train function's two SageMaker engine actions against moto: prepare a job, register its output."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from typing import Any

import pytest

from helpers import Deployment, call, deploy, invoke, job_files, run_input, tarball
from retrain import aws, fitting, registry, snapshot
from retrain.config import loads_config
from retrain.demo import CONFIG, generate_churn
from retrain.errors import ArtifactIntegrityError

pytestmark = pytest.mark.integration

TEXT = CONFIG.read_text().replace(
    "training:\n", "training:\n  engine: sagemaker\n  sagemaker: {max_runtime_minutes: 15}\n"
)
END = datetime(2025, 5, 1, tzinfo=UTC)
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:RetrainingStateMachine:job-run"


@pytest.fixture(scope="module")
def cloud(module_cloud: Any) -> Any:
    return module_cloud


@pytest.fixture(scope="module")
def prepared(cloud: Any, churn_reference: Any) -> tuple[Deployment, dict[str, Any], dict[str, Any]]:
    """churn on the SageMaker engine with a champion, a drifted window snapshotted, and its job prepared."""
    deployment = deploy(cloud, loads_config(TEXT), TEXT, reference=churn_reference)
    deployment.write_window(generate_churn(600, seed=81, drift=True), end=END)
    event = run_input(END)
    event["run"]["training_engine"] = "sagemaker"
    event["snapshot"] = call(cloud, "snapshot", event)
    job = call(
        cloud,
        "train",
        {**event, "action": "prepare-training-job", "execution_arn": EXECUTION_ARN, "started_at": END.isoformat()},
    )
    return deployment, event, job


def _complete(deployment: Deployment, event: dict[str, Any], job: dict[str, Any], **files: bytes) -> dict[str, Any]:
    """Write what the job would (fitted here, with the same code) and answer as TrainingJob does."""
    config = loads_config(aws.get_bytes(*aws.split_uri(job["config_uri"])).decode())
    frame, manifest = snapshot.load(deployment.settings.artifact_bucket, "churn", event["snapshot"]["id"])
    fitted = fitting.fit_snapshot(config, frame, manifest)
    aws.put_bytes(*aws.split_uri(job["output_uri"]), tarball(job_files(fitted, **files)))
    result = {"name": job["name"], "status": "Completed", "model_artifacts": job["output_uri"]}
    return {**event, "action": "register-training-job", "training_job": {**job, "result": result}}


def test_prepare_stores_the_config_and_the_source_dir_and_returns_the_request(prepared) -> None:
    deployment, event, job = prepared
    request = job["request"]

    assert job["name"] == request["TrainingJobName"]
    assert aws.get_bytes(*aws.split_uri(job["config_uri"])).decode() == TEXT
    code = json.loads(request["HyperParameters"]["sagemaker_submit_directory"])
    assert code.startswith(f"s3://{deployment.settings.artifact_bucket}/code/retrain-")
    with tarfile.open(fileobj=io.BytesIO(aws.get_bytes(*aws.split_uri(code))), mode="r:gz") as archive:
        assert {"train.py", "requirements.txt", "retrain/training_job.py"} <= set(archive.getnames())
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 900}
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{deployment.settings.artifact_bucket}/snapshots/churn/{event['snapshot']['id']}/"
    )


def _versions(deployment: Deployment) -> list[int]:
    return [v.version for v in registry.list_versions(deployment.settings.registry_table, "churn")]


def test_preparing_again_reuses_the_stored_source_dir_and_registers_nothing(prepared, cloud) -> None:
    deployment, event, job = prepared
    before = _versions(deployment)

    again = call(
        cloud,
        "train",
        {**event, "action": "prepare-training-job", "execution_arn": EXECUTION_ARN, "started_at": END.isoformat()},
    )

    assert again["request"] == job["request"]
    assert _versions(deployment) == before


def test_register_records_the_jobs_candidate_as_train_does_and_a_retry_returns_it(prepared, cloud) -> None:
    deployment, event, job = prepared
    request = _complete(deployment, event, job)

    candidate = call(cloud, "train", request)
    again = call(cloud, "train", request)

    assert candidate == again
    assert candidate["version"] >= 2
    record = registry.get_version(deployment.settings.registry_table, "churn", candidate["version"])
    assert record is not None
    assert record.status == "candidate"
    assert record.training_job == job["name"]
    assert record.snapshot_id == event["snapshot"]["id"]
    assert record.config_sha256 == loads_config(TEXT).digest()
    assert record.artifact_uri.endswith(f"/models/churn/v{candidate['version']}/model.skops")
    blob = aws.get_bytes(*aws.split_uri(record.artifact_uri))
    assert hashlib.sha256(blob).hexdigest() == record.sha256 == candidate["sha256"]


def test_output_written_elsewhere_is_refused(prepared, cloud) -> None:
    deployment, event, job = prepared
    request = _complete(deployment, event, job)
    request["training_job"]["result"]["model_artifacts"] = "s3://elsewhere/model.tar.gz"
    request["run"]["execution"] += "-elsewhere"
    before = _versions(deployment)

    with pytest.raises(ArtifactIntegrityError, match=r"wrote its model to s3://elsewhere/model.tar.gz, expected"):
        call(cloud, "train", request)
    assert _versions(deployment) == before


def test_a_model_that_is_not_a_safe_artifact_is_refused_and_nothing_is_registered(prepared, cloud) -> None:
    deployment, event, job = prepared
    fake = fitting.Fitted(b"PK not a skops file", b"profile", 480, 1.0, {"scikit-learn": "1"})
    request = _complete(
        deployment,
        event,
        job,
        **job_files(fake),
    )
    request["run"]["execution"] += "-unsafe"
    before = _versions(deployment)

    answer = invoke(cloud, "train", request)

    assert answer.error_type == "ArtifactIntegrityError"
    assert "not a readable skops file" in answer.error_message
    assert _versions(deployment) == before


def test_prepare_refuses_a_model_on_the_lambda_engine(prepared, cloud) -> None:
    _deployment, event, _ = prepared
    cloud.register(loads_config(CONFIG.read_text()), CONFIG.read_text())
    try:
        answer = invoke(
            cloud,
            "train",
            {**event, "action": "prepare-training-job", "execution_arn": EXECUTION_ARN, "started_at": END.isoformat()},
        )
    finally:
        cloud.register(loads_config(TEXT), TEXT)

    assert answer.error_type == "ConfigError"
    assert "trains with engine 'lambda', not 'sagemaker'" in answer.error_message
