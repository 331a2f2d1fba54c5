"""Where each kind of data lives in the buckets (see :mod:`retrain.data`). Light: no pandas."""

from __future__ import annotations

from datetime import date

#: A model's name: lowercase letters, digits, ``-`` and ``_``, at most 63 characters (it is part of S3 keys,
#: DynamoDB keys, schedule, alarm and SSM parameter names).
MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def config_key(model: str) -> str:
    return f"configs/{model}.yaml"


def inference_prefix(model: str) -> str:
    return f"inference/{model}/"


def labels_prefix(model: str) -> str:
    return f"labels/{model}/"


def reference_prefix(model: str) -> str:
    return f"reference/{model}/"


def reference_key(model: str, stamp: str) -> str:
    """The reference a bootstrap promoted its version from (``stamp``: the bootstrap's UTC time, compact ISO)."""
    return f"{reference_prefix(model)}reference-{stamp}.parquet"


def flags_prefix(model: str) -> str:
    """Where people's flags land: ``flags/<model>/date=YYYY-MM-DD/*.parquet|csv`` with the flagged ids."""
    return f"flags/{model}/"


def partition_prefix(prefix: str, day: date) -> str:
    """One day's partition of a date-partitioned table under ``prefix``: ``<prefix>date=YYYY-MM-DD/``."""
    return f"{prefix}date={day.isoformat()}/"


def partition_key(prefix: str, day: date, name: str) -> str:
    return f"{partition_prefix(prefix, day)}{name}.parquet"


def snapshot_prefix(model: str, snapshot_id: str) -> str:
    """A training-data snapshot's folder: its ``data.parquet``, ``manifest.json`` and drift reference profile."""
    return f"snapshots/{model}/{snapshot_id}/"


#: A model version's files, next to each other under ``models/<model>/v<version>/``.
ARTIFACT_FILE = "model.skops"
#: What the drift check needs from a model version (importances, prediction distribution).
MODEL_PROFILE_FILE = "model-profile.npz"


def artifact_key(model: str, version: int, name: str = ARTIFACT_FILE) -> str:
    """A model version's file ``name`` (:data:`ARTIFACT_FILE` or :data:`MODEL_PROFILE_FILE`)."""
    return f"models/{model}/v{version}/{name}"


#: SageMaker training jobs (``training.engine: sagemaker``): their code, content-addressed under ``code/``, and
#: per job ``training-jobs/<model>/<job>/``: ``input/config.yaml`` (the config it trains) and ``output/model.tar.gz``
#: (SageMaker writes it there: the output path is ``training-jobs/<model>/``).
def sourcedir_key(sha256: str) -> str:
    """The training job source dir whose ``.tar.gz`` has this sha256."""
    return f"code/retrain-{sha256[:12]}.tar.gz"


def training_jobs_prefix(model: str) -> str:
    """A model's training jobs' folder: the jobs' ``S3OutputPath``."""
    return f"training-jobs/{model}/"


def training_job_config_key(model: str, job: str) -> str:
    return f"{training_jobs_prefix(model)}{job}/input/config.yaml"


def training_job_output_key(model: str, job: str) -> str:
    """Where SageMaker puts a job's ``SM_MODEL_DIR`` (``<S3OutputPath>/<job>/output/model.tar.gz``)."""
    return f"{training_jobs_prefix(model)}{job}/output/model.tar.gz"


#: A run's report files, under ``reports/<model>/<execution>/``: the drift check's distributions, the report.
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
DISTRIBUTIONS_FILE = "distributions.json"
#: Reports of executions whose trigger named no valid model (the event was refused): no model name has a ``_``
#: first (:data:`MODEL_NAME_PATTERN`).
NO_MODEL = "_no-model"


def reports_prefix(model: str | None = None) -> str:
    """``reports/`` or one model's ``reports/<model>/``."""
    return "reports/" if model is None else f"reports/{model}/"


def report_key(model: str | None, execution: str, name: str = REPORT_JSON) -> str:
    """A run's report file ``name`` (:data:`REPORT_JSON`, :data:`REPORT_HTML`, :data:`DISTRIBUTIONS_FILE`)."""
    return f"{reports_prefix(model or NO_MODEL)}{execution}/{name}"


#: A run's working files, under ``runs/<model>/<execution>/``. The distributed drift check keeps its batch
#: manifest, each batch's partial profile and row sample, the record of a batch that failed, and the Map's
#: result files under ``drift/`` there.
DRIFT_BATCHES = "batches.json"


def run_prefix(model: str, execution: str) -> str:
    return f"runs/{model}/{execution}/"


def drift_prefix(model: str, execution: str) -> str:
    """``runs/<model>/<execution>/drift/``: everything the distributed drift check writes."""
    return f"{run_prefix(model, execution)}drift/"


def drift_batches_key(model: str, execution: str) -> str:
    """The batch manifest: a JSON array of ``{"index", "objects": [{"key", "etag", "size"}, ...]}``."""
    return f"{drift_prefix(model, execution)}{DRIFT_BATCHES}"


def drift_partials_prefix(model: str, execution: str) -> str:
    return f"{drift_prefix(model, execution)}partials/"


def drift_partial_key(model: str, execution: str, index: int) -> str:
    """Batch ``index``'s merged window profile (``.npz``)."""
    return f"{drift_partials_prefix(model, execution)}{index}.npz"


def drift_sample_key(model: str, execution: str, index: int) -> str:
    """Batch ``index``'s seeded uniform row sample (Parquet), beside its profile."""
    return f"{drift_partials_prefix(model, execution)}{index}.sample.parquet"


def drift_failures_prefix(model: str, execution: str) -> str:
    return f"{drift_prefix(model, execution)}failures/"


def drift_failure_key(model: str, execution: str, index: int) -> str:
    """Why batch ``index`` failed (JSON: the object, the error, its message), written before the worker raises."""
    return f"{drift_failures_prefix(model, execution)}{index}.json"


def drift_map_prefix(model: str, execution: str) -> str:
    """Where the Distributed Map's ``ResultWriter`` writes its result files."""
    return f"{drift_prefix(model, execution)}map/"


def drift_receipt_key(model: str, execution: str, index: int) -> str:
    """Batch ``index``'s receipt (JSON: the objects it read, its rows), written after its profile and sample."""
    return f"{drift_partials_prefix(model, execution)}{index}.json"
