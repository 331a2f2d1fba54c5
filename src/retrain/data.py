"""Tables in S3: where each kind of data lives, reading CSV and Parquet, schema checks.

Data bucket layout (per model)::

    configs/<model>.yaml                                 the model's retraining policy
    inference/<model>/date=YYYY-MM-DD/<name>.parquet     id, timestamp, features, prediction
    labels/<model>/date=YYYY-MM-DD/<name>.parquet        id, target (ground truth, arrives late)
    reference/<model>/<name>.parquet                     historical training data

Artifact bucket layout::

    snapshots/<model>/<sha256>/data.parquet + manifest.json   immutable training sets
    models/<model>/v<version>/model.skops                     model artifacts
    runs/<model>/<execution>/...                              per-run outputs
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pandas as pd

from retrain import aws
from retrain.clock import utc  # noqa: F401 - re-exported
from retrain.errors import SchemaMismatch
from retrain.files import TABLE_SUFFIXES, parse_table
from retrain.frames import require_columns
from retrain.layout import (  # noqa: F401 - the data layout's names, re-exported
    config_key,
    inference_prefix,
    labels_prefix,
    partition_key,
    partition_prefix,
    reference_prefix,
)


def read_object(bucket: str, key: str) -> pd.DataFrame:
    """One table object, parsed by its ending (:func:`retrain.files.parse_table`)."""
    return parse_table(aws.get_bytes(bucket, key), key, what=aws.uri(bucket, key))


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), end.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def table_objects(bucket: str, prefix: str, start: datetime, end: datetime) -> list[dict]:
    """The table objects (CSV or Parquet) in the ``date=`` partitions from ``start`` to ``end`` (inclusive days).

    Each is ``{"key", "etag", "size"}``, day by day in key order: what :func:`read_partitions` reads, and what
    the distributed drift check splits into batches.
    """
    objects: list[dict] = []
    for day in _days(start, end):
        for obj in aws.list_objects(bucket, partition_prefix(prefix, day)):
            if obj["key"].lower().endswith(TABLE_SUFFIXES):
                objects.append({"key": obj["key"], "etag": obj["etag"], "size": int(obj["size"])})
    return objects


def read_objects(bucket: str, objects: list[dict]) -> pd.DataFrame:
    """Read and concatenate ``objects`` (as :func:`table_objects` lists them); empty when there are none."""
    frames = [read_object(bucket, obj["key"]) for obj in objects]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def read_partitions(bucket: str, prefix: str, start: datetime, end: datetime) -> tuple[pd.DataFrame, list[dict]]:
    """Read every table in the ``date=`` partitions from ``start`` to ``end`` (inclusive days).

    Returns the concatenated frame (empty when nothing is there) and the source
    objects read (key and ETag), for lineage.
    """
    objects = table_objects(bucket, prefix, start, end)
    return read_objects(bucket, objects), [{"key": obj["key"], "etag": obj["etag"]} for obj in objects]


def read_prefix(bucket: str, prefix: str) -> tuple[pd.DataFrame, list[dict]]:
    """Read and concatenate every table under ``prefix``."""
    frames: list[pd.DataFrame] = []
    sources: list[dict] = []
    for obj in aws.list_objects(bucket, prefix):
        if obj["key"].lower().endswith(TABLE_SUFFIXES):
            frames.append(read_object(bucket, obj["key"]))
            sources.append({"key": obj["key"], "etag": obj["etag"]})
    if not frames:
        return pd.DataFrame(), sources
    return pd.concat(frames, ignore_index=True), sources


def filter_window(frame: pd.DataFrame, column: str, start: datetime, end: datetime, *, what: str) -> pd.DataFrame:
    """Rows whose ``column`` timestamp lies in ``[start, end)``, sorted by it (stable)."""
    if frame.empty:
        return frame
    require_columns(frame, [column], what=what)
    stamps = pd.to_datetime(frame[column], utc=True, errors="coerce")
    if stamps.isna().all():
        raise SchemaMismatch(f"{what}: column {column!r} holds no parseable timestamps", missing=[])
    mask = (stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))
    window = frame.loc[mask].copy()
    window[column] = stamps[mask]
    return window.sort_values(column, kind="stable").reset_index(drop=True)
