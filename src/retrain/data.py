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
from pathlib import Path

import pandas as pd

from retrain import aws
from retrain.clock import utc  # noqa: F401 - re-exported
from retrain.errors import DataNotFound, InsufficientData, SchemaMismatch
from retrain.layout import (  # noqa: F401 - the data layout's names, re-exported
    config_key,
    inference_prefix,
    labels_prefix,
    partition_key,
    reference_prefix,
)

TABLE_SUFFIXES = (".parquet", ".csv", ".csv.gz")


def read_table_bytes(data: bytes, name: str) -> pd.DataFrame:
    """Parse CSV or Parquet bytes, chosen by the name's suffix."""
    lowered = name.lower()
    if lowered.endswith(".parquet"):
        return pd.read_parquet(io.BytesIO(data))
    if lowered.endswith(".csv") or lowered.endswith(".csv.gz"):
        return pd.read_csv(io.BytesIO(data), compression="infer" if lowered.endswith(".gz") else None)
    raise SchemaMismatch(f"{name}: unsupported table format (use .csv or .parquet)")


def read_table_file(path: str | Path) -> pd.DataFrame:
    """Read a local CSV or Parquet file."""
    path = Path(path)
    if not path.exists():
        raise DataNotFound(f"{path} does not exist")
    frame = read_table_bytes(path.read_bytes(), path.name)
    if frame.empty:
        raise InsufficientData(f"{path} has no rows")
    return frame


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def require_columns(frame: pd.DataFrame, columns: list[str], *, what: str) -> None:
    """Raise :class:`SchemaMismatch` naming every required column ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        noun = "column" if len(missing) == 1 else "columns"
        raise SchemaMismatch(f"{what} is missing {noun} {names}", missing=missing)


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), end.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def read_partitions(bucket: str, prefix: str, start: datetime, end: datetime) -> tuple[pd.DataFrame, list[dict]]:
    """Read every table in the ``date=`` partitions from ``start`` to ``end`` (inclusive days).

    Returns the concatenated frame (empty when nothing is there) and the source
    objects read (key and ETag), for lineage.
    """
    frames: list[pd.DataFrame] = []
    sources: list[dict] = []
    for day in _days(start, end):
        for obj in aws.list_objects(bucket, f"{prefix}date={day.isoformat()}/"):
            if not obj["key"].lower().endswith(TABLE_SUFFIXES):
                continue
            frames.append(read_table_bytes(aws.get_bytes(bucket, obj["key"]), obj["key"]))
            sources.append({"key": obj["key"], "etag": obj["etag"]})
    if not frames:
        return pd.DataFrame(), sources
    return pd.concat(frames, ignore_index=True), sources


def read_prefix(bucket: str, prefix: str) -> tuple[pd.DataFrame, list[dict]]:
    """Read and concatenate every table under ``prefix``."""
    frames: list[pd.DataFrame] = []
    sources: list[dict] = []
    for obj in aws.list_objects(bucket, prefix):
        if obj["key"].lower().endswith(TABLE_SUFFIXES):
            frames.append(read_table_bytes(aws.get_bytes(bucket, obj["key"]), obj["key"]))
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
