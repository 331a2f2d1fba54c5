"""The local cloud's SageMaker training jobs (:mod:`retrain.local.training_jobs`) against moto's S3 and SageMaker."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from retrain.local import training_jobs

pytestmark = pytest.mark.integration

BUCKET = "artifacts"
REGION = "us-east-1"


def _sourcedir(script: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        data = script.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="snapshots/m/abc/data.parquet", Body=b"rows")
        client.put_object(Bucket=BUCKET, Key="snapshots/m/abc/manifest.json", Body=b"{}")
        client.put_object(Bucket=BUCKET, Key="training-jobs/m/job/input/config.yaml", Body=b"model: m")
        yield client


def _request(s3: Any, script: str, *, max_runtime: int = 60, name: str = "job") -> dict[str, Any]:
    s3.put_object(Bucket=BUCKET, Key=f"code/{name}.tar.gz", Body=_sourcedir(script))

    def channel(channel_name: str, uri: str) -> dict[str, Any]:
        return {"ChannelName": channel_name, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}

    return {
        "TrainingJobName": name,
        "InputDataConfig": [
            channel("snapshot", f"s3://{BUCKET}/snapshots/m/abc/"),
            channel("config", f"s3://{BUCKET}/training-jobs/m/job/input/config.yaml"),
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/training-jobs/m/"},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/{name}.tar.gz"),
            "model": json.dumps("m"),
        },
    }


def _output(s3: Any, name: str = "job") -> dict[str, bytes]:
    body = s3.get_object(Bucket=BUCKET, Key=f"training-jobs/m/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


#: Writes what the toolkit's contract gave it into the model dir.
CONTRACT = """
import json, os, pathlib, sys
model = pathlib.Path(os.environ["SM_MODEL_DIR"])
snapshot = pathlib.Path(os.environ["SM_CHANNEL_SNAPSHOT"])
config = pathlib.Path(os.environ["SM_CHANNEL_CONFIG"])
hps_file = pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"]) / "hyperparameters.json"
(model / "seen.json").write_text(json.dumps({
    "snapshot": sorted(p.name for p in snapshot.iterdir()),
    "config": sorted(p.name for p in config.iterdir()),
    "hps": json.loads(os.environ["SM_HPS"]),
    "hps_file": json.loads(hps_file.read_text()),
    "pythonpath": os.environ["PYTHONPATH"].split(os.pathsep),
    "sys_path0": sys.path[0],
    "cwd": os.getcwd(),
    "omp": os.environ["OMP_NUM_THREADS"],
    "output_data": os.path.isdir(os.environ["SM_OUTPUT_DATA_DIR"]),
}))
"""


def test_a_job_runs_its_program_with_the_toolkits_contract_and_its_model_dir_is_uploaded(s3: Any) -> None:
    outcome = training_jobs.run_job(_request(s3, CONTRACT), s3)

    assert outcome == training_jobs.Outcome("Completed", "Completed")
    seen = json.loads(_output(s3)["seen.json"])
    assert seen["snapshot"] == ["data.parquet", "manifest.json"]
    assert seen["config"] == ["config.yaml"]
    assert seen["hps"] == {
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": "s3://artifacts/code/job.tar.gz",
        "model": "m",
    }
    assert json.loads(seen["hps_file"]["model"]) == "m"  # the file holds the values as SageMaker passes them
    assert seen["pythonpath"][0] == seen["cwd"] == seen["sys_path0"]  # the unpacked source dir comes first
    assert all("site-packages" in path for path in seen["pythonpath"][1:])
    assert seen["omp"] == "1"
    assert seen["output_data"] is True


def test_a_failure_file_becomes_the_failure_reason(s3: Any) -> None:
    script = """
import os, pathlib, sys
pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("SchemaMismatch: no column 'churned'")
sys.exit(1)
"""
    outcome = training_jobs.run_job(_request(s3, script), s3)

    assert outcome == training_jobs.Outcome("Failed", "Failed", "AlgorithmError: SchemaMismatch: no column 'churned'")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="training-jobs/m/job/output/")


def test_without_a_failure_file_the_end_of_stderr_is_the_reason(s3: Any) -> None:
    outcome = training_jobs.run_job(
        _request(s3, "import sys\nprint('boom: out of cheese', file=sys.stderr)\nsys.exit(3)\n"), s3
    )

    assert (outcome.status, outcome.failure_reason) == ("Failed", "AlgorithmError: boom: out of cheese")


def test_a_job_past_its_max_runtime_is_stopped_and_writes_nothing(s3: Any) -> None:
    outcome = training_jobs.run_job(_request(s3, "import time\ntime.sleep(60)\n", max_runtime=1), s3)

    assert outcome == training_jobs.Outcome("Stopped", "MaxRuntimeExceeded")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="training-jobs/m/job/output/")


def test_an_empty_channel_fails_the_job_before_it_starts(s3: Any) -> None:
    request = _request(s3, CONTRACT)
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{BUCKET}/snapshots/m/missing/"

    outcome = training_jobs.run_job(request, s3)

    assert outcome.status == "Failed"
    assert outcome.failure_reason == "ClientError: no objects at s3://artifacts/snapshots/m/missing/ (channel snapshot)"


def test_a_source_dir_without_the_program_fails_the_job(s3: Any) -> None:
    request = _request(s3, CONTRACT)
    request["HyperParameters"]["sagemaker_program"] = json.dumps("missing.py")

    assert (
        training_jobs.run_job(request, s3).failure_reason
        == "AlgorithmError: the source dir has no program 'missing.py'"
    )


def test_a_started_job_is_in_progress_then_recorded_in_moto_as_it_ended(s3: Any) -> None:
    # Given a job created in moto's SageMaker
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    request = _request(s3, "import sys\nsys.exit(2)\n", name="ends-badly")
    sagemaker.create_training_job(
        **request,
        AlgorithmSpecification={"TrainingImage": "image", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/r",
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    )

    # When it is started and ends
    thread = training_jobs.start("123456789012", REGION, request, s3)
    thread.join(120)

    # Then DescribeTrainingJob shows how it ended
    described = sagemaker.describe_training_job(TrainingJobName="ends-badly")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Failed", "Failed")
    assert described["FailureReason"] == "AlgorithmError: exit code 2"


# ------------------------------------------------------------------ the .sync task in moto's interpreter

DEFINITION = {
    "StartAt": "Job",
    "States": {
        "Job": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": "$.name",
                "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
                "RoleArn": "arn:aws:iam::123456789012:role/training",
                "InputDataConfig.$": "$.request.InputDataConfig",
                "OutputDataConfig.$": "$.request.OutputDataConfig",
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition.$": "$.request.StoppingCondition",
                "HyperParameters.$": "$.request.HyperParameters",
            },
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "JobFailed"}],
            "End": True,
        },
        "JobFailed": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture
def machine() -> Iterator[tuple[Any, Any, str]]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        training_jobs.install()
        try:
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket=BUCKET)
            s3.put_object(Bucket=BUCKET, Key="snapshots/m/abc/data.parquet", Body=b"rows")
            s3.put_object(Bucket=BUCKET, Key="training-jobs/m/job/input/config.yaml", Body=b"model: m")
            sfn = boto3.client("stepfunctions", region_name=REGION)
            arn = sfn.create_state_machine(
                name="jobs", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/sfn"
            )["stateMachineArn"]
            yield s3, sfn, arn
        finally:
            training_jobs.wait_for_jobs()
            training_jobs.uninstall()


def _execute(sfn: Any, arn: str, name: str, request: dict[str, Any]) -> dict[str, Any]:
    execution = sfn.start_execution(
        stateMachineArn=arn, name=name, input=json.dumps({"name": name, "request": request})
    )
    for _ in range(1200):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError("the execution did not end")


def test_the_sync_task_answers_with_the_completed_jobs_description(machine) -> None:
    s3, sfn, arn = machine

    described = _execute(sfn, arn, "done", _request(s3, "print('fitted')\n", name="done"))

    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert (output["TrainingJobName"], output["TrainingJobStatus"]) == ("done", "Completed")
    assert output["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/training-jobs/m/done/output/model.tar.gz"
    assert "fitted" in training_jobs.LOGS["done"]


def test_the_sync_task_fails_with_states_task_failed_and_the_jobs_description(machine) -> None:
    s3, sfn, arn = machine
    script = (
        "import os, pathlib, sys\n"
        "pathlib.Path(os.environ['SM_OUTPUT_DIR'], 'failure').write_text('no rows')\n"
        "sys.exit(1)\n"
    )

    described = _execute(sfn, arn, "fails", _request(s3, script, name="fails"))

    assert described["status"] == "SUCCEEDED"  # caught by the definition's Catch
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    job = json.loads(error["Cause"])
    assert (job["TrainingJobName"], job["TrainingJobStatus"]) == ("fails", "Failed")
    assert job["FailureReason"] == "AlgorithmError: no rows"


def test_a_sagemaker_task_waiting_for_a_task_token_is_refused_as_on_aws(machine) -> None:
    _, sfn, _ = machine
    definition = json.loads(json.dumps(DEFINITION))
    definition["States"]["Job"]["Resource"] = "arn:aws:states:::sagemaker:createTrainingJob.waitForTaskToken"

    with pytest.raises(sfn.exceptions.ClientError, match="no Wait for a Callback with Task Token"):
        sfn.create_state_machine(
            name="callback", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )
