"""Where each kind of data lives in the buckets (see :mod:`retrain.data`). Light: no pandas."""

from __future__ import annotations

from datetime import date


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


def artifact_key(model: str, version: int, name: str = "model.skops") -> str:
    """A model version's files: ``model.skops`` (the artifact), ``model-profile.npz``."""
    return f"models/{model}/v{version}/{name}"
