"""Immutable, content-addressed training-data snapshots.

A snapshot's id is the sha256 of its canonical content (column names, dtypes
and the CSV rendering of every row, in order). The same data gives the same id,
and an existing snapshot is never overwritten: the data object is written with
S3's ``If-None-Match: *`` condition, so a second writer finds it already there.
The manifest records rows, columns and dtypes, time range, per-file sha256, the
source objects and the time-ordered train/holdout split.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from retrain import aws
from retrain.contracts import SnapshotRef
from retrain.data import read_table_bytes, to_parquet_bytes
from retrain.errors import ArtifactIntegrityError, InsufficientData


def _kind(dtype: object) -> str:
    """A dtype's engine-independent kind (pyarrow reads text as ``str``, fastparquet as ``object``)."""
    kind = getattr(dtype, "kind", "O")
    return {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime", "m": "timedelta"}.get(kind, "text")


def content_id(frame: pd.DataFrame) -> str:
    """sha256 (hex) of a frame's canonical content: names and kinds, rows as CSV, then the missing-cell mask.

    Kinds (int, float, bool, datetime, text) rather than dtypes, so the same data read by
    another Parquet engine keeps its id. The mask tells a missing value from an empty
    string, which CSV renders alike.
    """
    digest = hashlib.sha256()
    header = "\x1f".join(f"{name}:{_kind(dtype)}" for name, dtype in frame.dtypes.items())
    digest.update(header.encode())
    digest.update(b"\n")
    digest.update(frame.to_csv(index=False, header=False, lineterminator="\n").encode())
    digest.update(frame.isna().to_numpy().tobytes())
    return digest.hexdigest()


def snapshot_prefix(model: str, snapshot_id: str) -> str:
    return f"snapshots/{model}/{snapshot_id}/"


def holdout_rows(rows: int, fraction: float) -> int:
    """Rows in the holdout: the last ``fraction`` of a time-ordered snapshot, at least 1."""
    if rows < 2:
        raise InsufficientData(f"a snapshot needs at least 2 rows to split, got {rows}")
    return min(rows - 1, max(1, round(rows * fraction)))


def create(
    bucket: str,
    model: str,
    frame: pd.DataFrame,
    *,
    sources: list[dict[str, Any]],
    holdout_fraction: float,
    timestamp_column: str | None,
    extra: dict[str, Any] | None = None,
) -> SnapshotRef:
    """Write ``frame`` (already in time order) as an immutable snapshot, unless it exists.

    Returns
    -------
    SnapshotRef
        Its id, URIs, row counts, and whether this call created it.
    """
    if frame.empty:
        raise InsufficientData(f"the training window of model {model!r} has no rows")
    snapshot_id = content_id(frame)
    prefix = snapshot_prefix(model, snapshot_id)
    data = to_parquet_bytes(frame)
    n_holdout = holdout_rows(len(frame), holdout_fraction)
    manifest_key = prefix + "manifest.json"
    created = aws.put_new(bucket, prefix + "data.parquet", data)
    if created or aws.head(bucket, manifest_key) is None:
        time_range = None
        if timestamp_column and timestamp_column in frame.columns:
            stamps = pd.to_datetime(frame[timestamp_column], utc=True)
            time_range = {"start": stamps.min().isoformat(), "end": stamps.max().isoformat()}
        manifest = {
            "id": snapshot_id,
            "model": model,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": len(frame),
            "columns": {name: str(dtype) for name, dtype in frame.dtypes.items()},
            "time_range": time_range,
            "files": {"data.parquet": {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}},
            "sources": sources,
            "split": {
                "method": "time" if time_range else "order",
                "train_rows": len(frame) - n_holdout,
                "holdout_rows": n_holdout,
            },
            **(extra or {}),
        }
        aws.put_new(bucket, manifest_key, aws.json_bytes(manifest), content_type="application/json")
    return SnapshotRef(
        id=snapshot_id,
        uri=aws.uri(bucket, prefix + "data.parquet"),
        manifest_uri=aws.uri(bucket, manifest_key),
        rows=len(frame),
        train_rows=len(frame) - n_holdout,
        holdout_rows=n_holdout,
        created=created,
    )


def load(bucket: str, model: str, snapshot_id: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a snapshot and its manifest, verifying the data file's sha256."""
    prefix = snapshot_prefix(model, snapshot_id)
    manifest = aws.get_json(bucket, prefix + "manifest.json")
    data = aws.get_bytes(bucket, prefix + "data.parquet")
    expected = manifest["files"]["data.parquet"]["sha256"]
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ArtifactIntegrityError(
            f"snapshot {snapshot_id[:12]} data sha256 mismatch: manifest {expected[:12]}, object {actual[:12]}"
        )
    return read_table_bytes(data, "data.parquet"), manifest


def split(frame: pd.DataFrame, manifest: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest's train and holdout parts (holdout = the last rows in time order)."""
    n_holdout = int(manifest["split"]["holdout_rows"])
    cut = len(frame) - n_holdout
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)
