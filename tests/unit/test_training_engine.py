"""The SageMaker training engine: its config, the job's request and name, the source dir, the job's output."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from importlib import metadata
from pathlib import Path

import pytest

import retrain
from helpers import job_files, tarball
from retrain import fitting
from retrain.config import ModelConfig, SageMakerTraining, Training, loads_config
from retrain.contracts import Run, SnapshotRef
from retrain.demo import CONFIG
from retrain.errors import ArtifactIntegrityError, ConfigError
from retrain.settings import Settings
from retrain.steps import training_job
from retrain.steps.normalize import lock_expires_at

pytestmark = pytest.mark.unit

SNAPSHOT_ID = "ab" * 32


def _config(training: str = "  engine: sagemaker\n") -> ModelConfig:
    return loads_config(CONFIG.read_text().replace("training:\n", "training:\n" + training))


def _settings(**overrides: str) -> Settings:
    values = {
        "DATA_BUCKET": "data",
        "ARTIFACT_BUCKET": "artifacts",
        "REGISTRY_TABLE": "registry",
        "SAGEMAKER_TRAINING_ROLE_ARN": "arn:aws:iam::123456789012:role/stack-SageMakerTrainingRole-x",
        "TRAINING_IMAGE": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
        "TRAINING_JOB_PREFIX": "retrain",
        **overrides,
    }
    return Settings.model_validate(values)


def _ref() -> SnapshotRef:
    return SnapshotRef(
        id=SNAPSHOT_ID,
        uri=f"s3://artifacts/snapshots/churn/{SNAPSHOT_ID}/data.parquet",
        manifest_uri=f"s3://artifacts/snapshots/churn/{SNAPSHOT_ID}/manifest.json",
        rows=1000,
        train_rows=800,
        holdout_rows=200,
        created=True,
    )


def _run() -> Run:
    run = json.loads((Path(__file__).parents[1] / "events" / "run.json").read_text())
    return Run.model_validate(run.get("run", run))


# ------------------------------------------------------------------ config


def test_the_lambda_engine_is_the_default_and_needs_no_sagemaker_block() -> None:
    training = Training(estimator="LogisticRegression")

    assert (training.engine, training.sagemaker) == ("lambda", None)


def test_the_sagemaker_engine_without_a_block_uses_the_defaults() -> None:
    training = _config().training

    assert training.engine == "sagemaker"
    assert training.sagemaker == SageMakerTraining(
        instance_type="ml.m5.xlarge", instance_count=1, max_runtime_minutes=60, volume_size_gb=30
    )


def test_a_sagemaker_block_sets_the_jobs_resources() -> None:
    block = (
        "  engine: sagemaker\n  sagemaker: {instance_type: ml.c5.2xlarge, max_runtime_minutes: 90, volume_size_gb: 50}"
    )
    job = _config(block + "\n").training.sagemaker

    assert job is not None
    assert (job.instance_type, job.max_runtime_minutes, job.volume_size_gb) == ("ml.c5.2xlarge", 90, 50)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{instance_count: 2}", "instance_count == 2, must be 1: a scikit-learn estimator fits on one machine"),
        ("{instance_type: m5.xlarge}", "instance_type == 'm5.xlarge', must be a SageMaker instance type"),
        ("{instance_type: 'ml.'}", "instance_type == 'ml.', must be a SageMaker instance type"),
        ("{max_runtime_minutes: 0}", "training.sagemaker.max_runtime_minutes"),
        ("{max_runtime_minutes: 7201}", "training.sagemaker.max_runtime_minutes"),
        ("{volume_size_gb: 0}", "training.sagemaker.volume_size_gb"),
        ("{volume_size_gb: 16385}", "training.sagemaker.volume_size_gb"),
        ("{gpus: 1}", "training.sagemaker.gpus"),
    ],
)
def test_a_bad_sagemaker_block_is_refused_naming_the_key(block: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        _config(f"  engine: sagemaker\n  sagemaker: {block}\n")


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"training.engine"):
        _config("  engine: batch\n")


def test_the_lock_outlasts_the_training_job_and_the_approval_wait() -> None:
    assert lock_expires_at(1_000_000, 3600, None, None) == 1_003_600
    assert lock_expires_at(1_000_000, 3600, None, 60 * 60) == 1_007_200
    assert lock_expires_at(1_000_000, 3600, 86_400, 90 * 60) == 1_000_000 + 3600 + 86_400 + 5400


def test_a_run_without_an_engine_trains_on_lambda() -> None:
    payload = _run().model_dump(mode="json")
    payload.pop("training_engine")

    assert Run.model_validate(payload).training_engine == "lambda"


# ------------------------------------------------------------------ the job's name


def test_the_job_name_is_the_stack_the_model_and_a_hash_of_the_execution() -> None:
    name = training_job.job_name(
        "retrain", "churn", "arn:aws:states:us-east-1:1:execution:sm:run-1", "2026-12-01T10:00:00Z"
    )

    assert name.startswith("retrain-churn-")
    assert len(name) == len("retrain-churn-") + 12
    assert training_job.JOB_NAME_PATTERN.match(name)


def test_the_job_name_differs_per_execution_and_start_and_is_stable_for_one() -> None:
    arn = "arn:aws:states:us-east-1:1:execution:sm:run-1"
    names = {
        training_job.job_name("retrain", "churn", arn, "2026-12-01T10:00:00Z"),
        training_job.job_name("retrain", "churn", arn + "x", "2026-12-01T10:00:00Z"),
        training_job.job_name("retrain", "churn", arn, "2026-12-01T10:00:01Z"),
    }

    assert len(names) == 3
    assert training_job.job_name("retrain", "churn", arn, "2026-12-01T10:00:00Z") in names


def test_a_long_model_name_is_shortened_to_63_characters_keeping_the_prefix() -> None:
    model = "m" * 63
    name = training_job.job_name("my-retraining-stack", model, "arn", "t")

    assert len(name) == 63
    assert name.startswith("my-retraining-stack-mmm")
    assert training_job.JOB_NAME_PATTERN.match(name)


def test_underscores_of_a_model_name_become_dashes() -> None:
    assert training_job.job_name("retrain", "churn_v2", "arn", "t").startswith("retrain-churn-v2-")


def test_a_prefix_that_leaves_no_room_is_refused_naming_its_length() -> None:
    with pytest.raises(ConfigError, match=r"is 60 characters, must be at most 49"):
        training_job.job_name("s" * 60, "churn", "arn", "t")


# ------------------------------------------------------------------ the request


def _request(settings: Settings | None = None, config: ModelConfig | None = None) -> dict:
    return training_job.job_request(
        settings or _settings(),
        config or _config("  engine: sagemaker\n  sagemaker: {instance_type: ml.c5.xlarge, max_runtime_minutes: 30}\n"),
        _ref(),
        name="retrain-churn-0123456789ab",
        sourcedir_uri="s3://artifacts/code/retrain-0123456789ab.tar.gz",
        config_uri="s3://artifacts/training-jobs/churn/retrain-churn-0123456789ab/input/config.yaml",
        region="us-east-1",
        run=_run(),
    )


def test_the_request_runs_the_image_as_the_role_on_the_configured_instance() -> None:
    request = _request()

    assert request["TrainingJobName"] == "retrain-churn-0123456789ab"
    assert request["RoleArn"] == _settings().sagemaker_role_arn
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": _settings().training_image,
        "TrainingInputMode": "File",
    }
    assert request["ResourceConfig"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}


def test_the_request_reads_the_snapshot_and_the_config_and_writes_under_the_models_jobs() -> None:
    request = _request()
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request["InputDataConfig"]}

    assert channels["snapshot"]["S3Uri"] == f"s3://artifacts/snapshots/churn/{SNAPSHOT_ID}/"
    assert channels["config"]["S3Uri"].endswith("/training-jobs/churn/retrain-churn-0123456789ab/input/config.yaml")
    assert {c["S3DataType"] for c in channels.values()} == {"S3Prefix"}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://artifacts/training-jobs/churn/"}


def test_the_hyperparameters_follow_the_training_toolkits_contract() -> None:
    hps = {key: json.loads(value) for key, value in _request()["HyperParameters"].items()}

    assert hps == {
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": "s3://artifacts/code/retrain-0123456789ab.tar.gz",
        "sagemaker_region": "us-east-1",
        "sagemaker_job_name": "retrain-churn-0123456789ab",
        "model": "churn",
    }


def test_the_job_is_tagged_with_the_model_the_execution_and_the_snapshot() -> None:
    tags = {t["Key"]: t["Value"] for t in _request()["Tags"]}

    assert tags == {"retrain:model": "churn", "retrain:execution": _run().execution, "retrain:snapshot": SNAPSHOT_ID}


def test_a_model_on_the_lambda_engine_gets_no_job() -> None:
    with pytest.raises(ConfigError, match="trains with engine 'lambda', not 'sagemaker'"):
        _request(config=loads_config(CONFIG.read_text()))


@pytest.mark.parametrize("variable", ["SAGEMAKER_TRAINING_ROLE_ARN", "TRAINING_IMAGE"])
def test_a_function_without_the_role_or_image_is_refused_naming_it(variable: str) -> None:
    with pytest.raises(ConfigError, match=f"lacks {variable}"):
        _request(settings=_settings(**{variable: ""}))


# ------------------------------------------------------------------ the source dir


def _members(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def sourcedir() -> bytes:
    return training_job.build_sourcedir()


def test_the_source_dir_holds_the_script_the_requirements_and_the_installed_package(sourcedir: bytes) -> None:
    members = _members(sourcedir)
    package = Path(retrain.__file__).parent

    assert members["train.py"] == training_job.SCRIPT.encode()
    assert "from retrain.training_job import main" in members["train.py"].decode()
    for module in ("__init__.py", "training_job.py", "fitting.py", "training.py", "config/base.py", "drift/profile.py"):
        assert members[f"retrain/{module}"] == (package / module).read_bytes(), module
    assert not [name for name in members if "__pycache__" in name or name.endswith(".pyc")]


def test_the_requirements_pin_the_versions_this_process_has(sourcedir: bytes) -> None:
    lines = _members(sourcedir)["requirements.txt"].decode().split()
    pins = dict(line.split("==") for line in lines)

    assert {"numpy", "pandas", "scipy", "scikit-learn", "skops", "pydantic", "PyYAML"} <= set(pins)
    for name, version in pins.items():
        assert metadata.version(name) == version, name
    assert "boto3" not in pins
    assert "aws-lambda-powertools" not in pins


def test_the_source_dir_is_byte_for_byte_reproducible(sourcedir: bytes) -> None:
    again = training_job.build_sourcedir()

    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(sourcedir).hexdigest()
    assert gzip.decompress(sourcedir)  # a plain gzip, as the toolkit expects


def test_the_source_dir_key_is_content_addressed() -> None:
    from retrain.layout import sourcedir_key

    assert sourcedir_key("0123456789abcdef" * 4) == "code/retrain-0123456789ab.tar.gz"


def test_a_required_library_that_is_missing_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training_job, "REQUIRED", training_job.REQUIRED | {"not-a-real-library"})

    with pytest.raises(ConfigError, match="not-a-real-library is not installed here"):
        training_job.requirements_text(("numpy", "not-a-real-library"))
    assert training_job.requirements_text(("numpy", "not-installed-optional")).strip() == (
        f"numpy=={metadata.version('numpy')}"
    )


# ------------------------------------------------------------------ the job's output


def _fitted() -> fitting.Fitted:
    return fitting.Fitted(
        artifact=b"model bytes",
        profile=b"profile bytes",
        trained_rows=800,
        training_seconds=1.5,
        libraries={"numpy": "2"},
    )


def test_a_jobs_output_is_read_back_with_its_hashes_and_lineage() -> None:
    fitted = _fitted()

    read = training_job.read_output(tarball(job_files(fitted)), source="s3://a/model.tar.gz")

    assert (read.sha256, read.profile_sha256) == (fitted.sha256, fitted.profile_sha256)
    assert (read.trained_rows, read.training_seconds, read.libraries) == (800, 1.5, {"numpy": "2"})


def test_members_written_as_dot_slash_paths_are_found() -> None:
    files = {f"./{name}": data for name, data in job_files(_fitted()).items()}

    assert training_job.read_output(tarball(files), source="out").sha256 == _fitted().sha256


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"not a tarball", "is not a readable model.tar.gz"),
        (tarball({"model.skops": b"x"}), "lacks model-profile.npz, training.json"),
        (
            tarball(job_files(_fitted(), **{"model.skops": b"tampered"})),
            "model file's sha256 .* differs from training.json's",
        ),
        (tarball(job_files(_fitted(), **{"model-profile.npz": b"other"})), "model profile file's sha256"),
        (tarball(job_files(_fitted(), **{"training.json": b"[1]"})), "training.json is not a JSON object"),
        (
            tarball(job_files(_fitted(), **{"training.json": b'{"sha256": "x"}'})),
            "training.json is missing or has a bad field",
        ),
    ],
)
def test_a_bad_job_output_is_refused_naming_the_problem(blob: bytes, message: str) -> None:
    with pytest.raises(ArtifactIntegrityError, match=message):
        training_job.read_output(blob, source="s3://a/model.tar.gz")


# ------------------------------------------------------------------ the run's error


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (
            {
                "TrainingJobName": "s-churn-1",
                "TrainingJobStatus": "Failed",
                "SecondaryStatus": "Failed",
                "FailureReason": "AlgorithmError: SchemaMismatch: no column 'churned'",
            },
            "TrainingJobFailed: training job s-churn-1 Failed: AlgorithmError: SchemaMismatch: no column 'churned'",
        ),
        (
            {"TrainingJobName": "s-churn-2", "TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded"},
            "TrainingJobFailed: training job s-churn-2 Stopped (MaxRuntimeExceeded)",
        ),
    ],
)
def test_a_failed_jobs_description_reads_as_its_status_and_failure_reason(job: dict, expected: str) -> None:
    from retrain.result import error_text

    assert error_text("TrainingJobFailed", json.dumps({**job, "HyperParameters": {"model": '"churn"'}})) == expected
