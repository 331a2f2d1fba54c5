"""The SageMaker training engine's two steps on the Train function: prepare a job, register its output.

``PrepareTrainingJob`` (:func:`prepare`) stores what the job reads (the config
the run trains, and this package as the job's source dir) and returns the
pieces of the ``CreateTrainingJob`` request the state machine's
``sagemaker:createTrainingJob.sync`` task sends. ``RegisterTrainingJob``
(:func:`register`) reads the job's ``model.tar.gz``, verifies it, and registers
the candidate exactly as the Lambda engine does
(:func:`retrain.candidates.register_fitted`).

Both run on the Train function: the source dir pins the versions of the science
libraries the running process has (:func:`requirements_text`), so the job fits
with the very libraries the Train and Validate functions load the model with;
only the science layer has them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

import retrain
from retrain import aws, fitting, training
from retrain.candidates import register_fitted
from retrain.config import ModelConfig, SageMakerTraining, loads_config
from retrain.contracts import Candidate, ExecutionName, Run, S3Uri, SnapshotRef, Timestamp, _Payload
from retrain.errors import ArtifactIntegrityError, ConfigError
from retrain.layout import (
    ARTIFACT_FILE,
    MODEL_PROFILE_FILE,
    config_key,
    snapshot_prefix,
    sourcedir_key,
    training_job_config_key,
    training_job_output_key,
    training_jobs_prefix,
)
from retrain.observability import logger
from retrain.settings import Settings
from retrain.training_job import CONFIG_CHANNEL, SNAPSHOT_CHANNEL, SUMMARY_FILE
from retrain.trigger_record import TriggerRecord

#: The program the training toolkit runs (``sagemaker_program``), at the source dir's top.
SCRIPT_NAME = "train.py"
SCRIPT = '''"""A retrain training job: fit the candidate from the input channels (see retrain.training_job)."""

from retrain.training_job import main

raise SystemExit(main())
'''
#: The distributions the entry point imports (directly, or as the science libraries' own imports that differ
#: between releases), pinned in the source dir's ``requirements.txt`` at the running process's versions.
JOB_REQUIREMENTS = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "skops",
    "fastparquet",
    "pyarrow",
    "pydantic",
    "pydantic-core",
    "PyYAML",
    "threadpoolctl",
    "joblib",
)
#: Of those, the ones a job cannot run without (Parquet is read by fastparquet on Lambda, by pyarrow elsewhere:
#: whichever is installed here is pinned).
REQUIRED = frozenset({"numpy", "pandas", "scipy", "scikit-learn", "skops", "pydantic", "PyYAML"})
#: SageMaker's rule for a training job's name.
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_JOB_NAME = 63
_HASH_CHARS = 12


class PrepareTrainingJobInput(_Payload):
    run: Run
    snapshot: SnapshotRef
    execution_arn: Annotated[str, Field(min_length=1, description="the execution's ARN")]
    started_at: Timestamp


class TrainingJobResult(_Payload):
    """What the state machine keeps of ``DescribeTrainingJob`` when the job completed."""

    name: ExecutionName
    status: str
    model_artifacts: S3Uri


class PreparedTrainingJob(_Payload):
    """PrepareTrainingJob's answer, with TrainingJob's result added by the state machine."""

    name: ExecutionName
    config_uri: S3Uri
    output_uri: S3Uri
    result: TrainingJobResult


class RegisterTrainingJobInput(_Payload):
    run: Run
    snapshot: SnapshotRef
    training_job: PreparedTrainingJob


# ------------------------------------------------------------------ the source dir


def requirements_text(names: tuple[str, ...] = JOB_REQUIREMENTS) -> str:
    """``requirements.txt``: each of ``names`` installed here, pinned (``==``) at the version installed here.

    Raises
    ------
    ConfigError
        A library of :data:`REQUIRED` is not installed in this process.
    """
    lines = []
    for name in names:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            if name in REQUIRED:
                raise ConfigError(f"{name} is not installed here: a training job's requirements pin it") from None
    return "\n".join(lines) + "\n"


def _package_files() -> list[tuple[str, bytes]]:
    root = Path(retrain.__file__).resolve().parent
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}:
            found.append((f"retrain/{path.relative_to(root).as_posix()}", path.read_bytes()))
    return found


def build_sourcedir() -> bytes:
    """The job's ``sourcedir.tar.gz``: the installed ``retrain`` package, :data:`SCRIPT` and ``requirements.txt``.

    Byte-for-byte reproducible (sorted members, zero times and owners), so the
    same code and libraries give the same archive and the same S3 key.
    """
    members = [(SCRIPT_NAME, SCRIPT.encode()), ("requirements.txt", requirements_text().encode()), *_package_files()]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def upload_sourcedir(bucket: str) -> str:
    """Store :func:`build_sourcedir` at its content-addressed key unless it is there; returns its URI."""
    blob = build_sourcedir()
    key = sourcedir_key(hashlib.sha256(blob).hexdigest())
    created = aws.put_new(bucket, key, blob, content_type="application/gzip")
    logger.info("training job source dir %s: %s", key, "uploaded" if created else "already stored")
    return aws.uri(bucket, key)


# ------------------------------------------------------------------ the request


def job_name(prefix: str, model: str, execution_arn: str, started_at: str) -> str:
    """A training job name unique to one execution: ``<prefix>-<model>-<12 hex of the execution>``.

    At most 63 characters, as SageMaker requires: the model's name is shortened
    to fit; the prefix (the stack's name, which the state machine's permission
    names) is kept whole.

    Raises
    ------
    ConfigError
        The prefix leaves no room for the execution's hash, or is not a valid name start.
    """
    digest = hashlib.sha256(f"{execution_arn}|{started_at}".encode()).hexdigest()[:_HASH_CHARS]
    room = MAX_JOB_NAME - len(prefix) - len(digest) - 2
    if room < 0:
        raise ConfigError(
            f"training job prefix {prefix!r} is {len(prefix)} characters, must be at most "
            f"{MAX_JOB_NAME - _HASH_CHARS - 2} (SageMaker job names have at most {MAX_JOB_NAME})"
        )
    part = re.sub(r"[^a-zA-Z0-9-]", "-", model)[:room].strip("-")
    name = f"{prefix}-{part}-{digest}" if part else f"{prefix}-{digest}"
    if not JOB_NAME_PATTERN.match(name):
        raise ConfigError(f"training job name {name!r} is not valid: prefix {prefix!r} must be letters, digits and -")
    return name


def _s3_channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        },
        "InputMode": "File",
    }


def check_engine(settings: Settings, config: ModelConfig) -> SageMakerTraining:
    """The model's training job resources.

    Raises
    ------
    ConfigError
        The model's config does not choose the SageMaker engine, or the function lacks the role or image.
    """
    job = config.training.sagemaker
    if config.training.engine != "sagemaker" or job is None:
        raise ConfigError(f"model {config.model!r} trains with engine {config.training.engine!r}, not 'sagemaker'")
    unset = {"SAGEMAKER_TRAINING_ROLE_ARN": settings.sagemaker_role_arn, "TRAINING_IMAGE": settings.training_image}
    missing = [variable for variable, value in unset.items() if not value]
    if missing:
        raise ConfigError(
            f"the Train function lacks {', '.join(missing)}: the stack's SageMaker engine is not deployed"
        )
    return job


def job_request(
    settings: Settings,
    config: ModelConfig,
    ref: SnapshotRef,
    *,
    name: str,
    sourcedir_uri: str,
    config_uri: str,
    region: str,
    run: Run,
) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request of one run (field names as the API's); raises as :func:`check_engine`."""
    job = check_engine(settings, config)
    bucket = settings.artifact_bucket
    hyperparameters = {
        "sagemaker_program": SCRIPT_NAME,
        "sagemaker_submit_directory": sourcedir_uri,
        "sagemaker_region": region,
        "sagemaker_job_name": name,
        "model": config.model,
    }
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": settings.training_image, "TrainingInputMode": "File"},
        "RoleArn": settings.sagemaker_role_arn,
        "InputDataConfig": [
            _s3_channel(SNAPSHOT_CHANNEL, aws.uri(bucket, snapshot_prefix(config.model, ref.id))),
            _s3_channel(CONFIG_CHANNEL, config_uri),
        ],
        "OutputDataConfig": {"S3OutputPath": aws.uri(bucket, training_jobs_prefix(config.model))},
        "ResourceConfig": {
            "InstanceType": job.instance_type,
            "InstanceCount": job.instance_count,
            "VolumeSizeInGB": job.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": job.max_runtime_minutes * 60},
        # The training toolkit JSON-decodes every value (as the SageMaker Python SDK encodes them).
        "HyperParameters": {key: json.dumps(value) for key, value in hyperparameters.items()},
        "Tags": [
            {"Key": "retrain:model", "Value": config.model},
            {"Key": "retrain:execution", "Value": run.execution},
            {"Key": "retrain:snapshot", "Value": ref.id},
        ],
    }


def prepare(request: PrepareTrainingJobInput, *, settings: Settings) -> dict[str, Any]:
    """Store the job's config and source dir; return its name, its files' URIs and its ``CreateTrainingJob`` request.

    The config is copied as the run reads it now, so the job trains, and the
    registry records, the same config even if it changes while the job runs.
    """
    run, ref = request.run, request.snapshot
    text = aws.get_bytes(settings.data_bucket, config_key(run.model))
    config = loads_config(text.decode(), source=aws.uri(settings.data_bucket, config_key(run.model)))
    check_engine(settings, config)  # before anything is written
    name = job_name(settings.training_job_prefix, run.model, request.execution_arn, request.started_at)
    config_uri = aws.uri(settings.artifact_bucket, training_job_config_key(run.model, name))
    aws.put_bytes(*aws.split_uri(config_uri), text, content_type="application/yaml")
    body = job_request(
        settings,
        config,
        ref,
        name=name,
        sourcedir_uri=upload_sourcedir(settings.artifact_bucket),
        config_uri=config_uri,
        region=aws.s3().meta.region_name,
        run=run,
    )
    logger.info("training job %s: %s on %s", name, config.training.estimator, body["ResourceConfig"]["InstanceType"])
    return {
        "name": name,
        "config_uri": config_uri,
        "output_uri": aws.uri(settings.artifact_bucket, training_job_output_key(run.model, name)),
        "request": body,
    }


# ------------------------------------------------------------------ the output


def read_output(blob: bytes, *, source: str) -> fitting.Fitted:
    """The job's result from its ``model.tar.gz``, each file checked against ``training.json``.

    Raises
    ------
    ArtifactIntegrityError
        Not a gzipped tar, a file missing (or not a regular file), or a hash that differs.
    """
    wanted = (ARTIFACT_FILE, MODEL_PROFILE_FILE, SUMMARY_FILE)
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
            for member in archive.getmembers():
                name = member.name.removeprefix("./")
                if name in wanted and member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        found[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactIntegrityError(f"{source} is not a readable model.tar.gz ({exc})") from exc
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ArtifactIntegrityError(f"{source} lacks {', '.join(missing)}")
    try:
        summary = json.loads(found[SUMMARY_FILE])
    except ValueError as exc:
        raise ArtifactIntegrityError(f"{source}: training.json is not JSON ({exc})") from exc
    if not isinstance(summary, dict):
        raise ArtifactIntegrityError(f"{source}: training.json is not a JSON object")
    return fitting.Fitted.from_files(found[ARTIFACT_FILE], found[MODEL_PROFILE_FILE], summary, source=source)


def register(request: RegisterTrainingJobInput, *, settings: Settings) -> Candidate:
    """Register the candidate a completed job wrote, as the Lambda engine registers its own.

    Raises
    ------
    ArtifactIntegrityError
        The job's output is not where this run asked for it, is not a complete
        and consistent ``model.tar.gz``, or its model is not a safe artifact.
    """
    run, ref, job = request.run, request.snapshot, request.training_job
    if job.result.model_artifacts != job.output_uri:
        raise ArtifactIntegrityError(
            f"training job {job.name} wrote its model to {job.result.model_artifacts}, expected {job.output_uri}"
        )
    config = loads_config(aws.get_bytes(*aws.split_uri(job.config_uri)).decode(), source=job.config_uri)
    if config.model != run.model:
        raise ConfigError(f"training job {job.name} trained model {config.model!r}, the run is for {run.model!r}")
    fitted = read_output(aws.get_bytes(*aws.split_uri(job.output_uri)), source=job.output_uri)
    training.loads(fitted.artifact, expected_sha256=fitted.sha256)  # a safe, loadable skops file, or refused
    mine, theirs = fitting.library_versions().get("scikit-learn"), fitted.libraries.get("scikit-learn")
    if mine != theirs:
        logger.warning("training job %s fitted with scikit-learn %s, this function has %s", job.name, theirs, mine)
    return register_fitted(
        settings,
        config,
        ref,
        fitted,
        trigger=run.trigger,
        execution=run.execution,
        triggered_by=TriggerRecord.of_run(run),
        extra={"training_job": job.name},
    )
