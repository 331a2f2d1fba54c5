"""Immutable, content-addressed training-data snapshots.

A snapshot's id is the sha256 of its canonical content (column names, dtypes
and the CSV rendering of every row, in order). The same data gives the same id,
and an existing snapshot is never overwritten: the data object is written with
S3's ``If-None-Match: *`` condition, so a second writer finds it already there.
The manifest records rows, columns and dtypes, time range, per-file sha256, the
source objects and the time-ordered train/holdout split. Next to them lives the
snapshot's drift reference profile (``profile.npz``, :mod:`retrain.drift.profile`),
written once when the snapshot is made so that drift checks never re-sort it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from retrain import aws
from retrain.contracts import SnapshotRef
from retrain.data import read_table_bytes, to_parquet_bytes
from retrain.errors import ArtifactIntegrityError, DataNotFound, InsufficientData

if TYPE_CHECKING:
    from retrain.config import ModelConfig
    from retrain.drift import ReferenceProfile


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


# ------------------------------------------------------------------ reference profiles
#: The drift check's reference profile, stored next to the snapshot's data and manifest.
PROFILE_FILE = "profile.npz"
#: What the drift check needs from a model version (importances, prediction distribution), next to its artifact.
MODEL_PROFILE_FILE = "model-profile.npz"


def profile_key(model: str, snapshot_id: str) -> str:
    return snapshot_prefix(model, snapshot_id) + PROFILE_FILE


def model_profile_uri(artifact_uri: str) -> str:
    """``s3://.../models/<model>/v<version>/model-profile.npz`` for the artifact ``.../v<version>/model.skops``."""
    return artifact_uri.rsplit("/", 1)[0] + "/" + MODEL_PROFILE_FILE


def has_profile(bucket: str, model: str, snapshot_id: str) -> bool:
    return aws.head(bucket, profile_key(model, snapshot_id)) is not None


def write_profile(bucket: str, model: str, snapshot_id: str, profile: ReferenceProfile) -> bool:
    """Store a snapshot's reference profile once (conditional write); ``False`` if one was already there."""
    from retrain.drift import to_bytes

    return aws.put_new(bucket, profile_key(model, snapshot_id), to_bytes(profile))


def _read_profile(bucket: str, key: str) -> ReferenceProfile | None:
    from retrain.drift import from_bytes

    try:
        data = aws.get_bytes(bucket, key)
    except DataNotFound:
        return None
    try:
        return from_bytes(data)
    except ValueError:  # unreadable or newer format: the caller recomputes it from the data
        return None


def load_profile(bucket: str, model: str, snapshot_id: str) -> ReferenceProfile | None:
    """A snapshot's stored reference profile, or ``None`` when it has none (older snapshots) or it is unreadable."""
    return _read_profile(bucket, profile_key(model, snapshot_id))


def write_model_profile(artifact_uri: str, profile: ReferenceProfile) -> str:
    """Store a model version's profile next to its artifact; returns its URI."""
    from retrain.drift import to_bytes

    uri = model_profile_uri(artifact_uri)
    bucket, key = aws.split_uri(uri)
    aws.put_bytes(bucket, key, to_bytes(profile))
    return uri


def load_model_profile(artifact_uri: str) -> ReferenceProfile | None:
    """A model version's profile (see :func:`write_model_profile`), or ``None`` when it has none."""
    bucket, key = aws.split_uri(model_profile_uri(artifact_uri))
    return _read_profile(bucket, key)


def ensure_profile(bucket: str, config: ModelConfig, snapshot_id: str, frame: pd.DataFrame) -> bool:
    """Build and store the snapshot's drift reference profile unless it has one; ``True`` when written.

    ``frame`` is the snapshot's data (already in memory where a snapshot is made).
    """
    if has_profile(bucket, config.model, snapshot_id):
        return False
    from retrain.drift.profile import reference_profile

    profile = reference_profile(config, frame, meta={"model": config.model, "snapshot_id": snapshot_id})
    return write_profile(bucket, config.model, snapshot_id, profile)
