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


def partition_key(prefix: str, day: date, name: str) -> str:
    return f"{prefix}date={day.isoformat()}/{name}.parquet"


#: A model version's files, next to each other under ``models/<model>/v<version>/``.
ARTIFACT_FILE = "model.skops"
#: What the drift check needs from a model version (importances, prediction distribution).
MODEL_PROFILE_FILE = "model-profile.npz"


def artifact_key(model: str, version: int, name: str = ARTIFACT_FILE) -> str:
    """A model version's file ``name`` (:data:`ARTIFACT_FILE` or :data:`MODEL_PROFILE_FILE`)."""
    return f"models/{model}/v{version}/{name}"


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
