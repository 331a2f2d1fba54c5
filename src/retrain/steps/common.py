"""What several steps share: loading a model's config, its windows of data."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from retrain.config import ModelConfig
from retrain.contracts import Run
from retrain.data import filter_window, inference_prefix, labels_prefix, read_partitions, utc
from retrain.settings import Settings
from retrain.steps.model_config import load_model_config  # noqa: F401 - shared by the steps


def inference_window(
    settings: Settings, config: ModelConfig, start: datetime, end: datetime
) -> tuple[pd.DataFrame, list[dict]]:
    """Inference-log rows predicted in ``[start, end)``, in time order, and the objects read."""
    frame, sources = read_partitions(settings.data_bucket, inference_prefix(config.model), start, end)
    window = filter_window(frame, config.monitoring.timestamp_column, start, end, what="inference log")
    return window, sources


def labels_since(settings: Settings, config: ModelConfig, start: datetime, end: datetime) -> tuple[pd.DataFrame, list]:
    """Every label that arrived from ``start`` until ``end`` (labels arrive after their predictions)."""
    return read_partitions(settings.data_bucket, labels_prefix(config.model), start, end)


def window_bounds(run: Run) -> tuple[datetime, datetime]:
    return utc(run.window_start), utc(run.window_end)
