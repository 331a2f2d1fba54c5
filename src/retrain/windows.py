"""A model's production data in a time window: its inference log's rows and the labels that arrived.

The checks, the snapshot and the validation's prediction difference all read
the same windows; a window is ``[start, end)`` in UTC, read from the day
partitions it touches (:func:`retrain.data.table_objects`).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from retrain.clock import utc
from retrain.config import ModelConfig
from retrain.contracts import Run
from retrain.data import filter_window, read_objects, read_partitions, table_objects
from retrain.layout import inference_prefix, labels_prefix
from retrain.settings import Settings


def window_objects(settings: Settings, config: ModelConfig, start: datetime, end: datetime) -> list[dict]:
    """The inference log's table objects (key, ETag, size) in the partitions of ``[start, end)``'s days."""
    return table_objects(settings.data_bucket, inference_prefix(config.model), start, end)


def inference_window(
    settings: Settings, config: ModelConfig, start: datetime, end: datetime, *, objects: list[dict] | None = None
) -> tuple[pd.DataFrame, list[dict]]:
    """Inference-log rows predicted in ``[start, end)``, in time order, and the objects read (key and ETag).

    ``objects``: the window's objects when already listed (:func:`window_objects`).
    """
    if objects is None:
        objects = window_objects(settings, config, start, end)
    frame = read_objects(settings.data_bucket, objects)
    window = filter_window(frame, config.monitoring.timestamp_column, start, end, what="inference log")
    return window, [{"key": obj["key"], "etag": obj["etag"]} for obj in objects]


def labels_since(settings: Settings, config: ModelConfig, start: datetime, end: datetime) -> tuple[pd.DataFrame, list]:
    """Every label that arrived from ``start`` until ``end`` (labels arrive after their predictions)."""
    return read_partitions(settings.data_bucket, labels_prefix(config.model), start, end)


def window_bounds(run: Run) -> tuple[datetime, datetime]:
    """A run's monitoring window ``(start, end)``."""
    return utc(run.window_start), utc(run.window_end)
