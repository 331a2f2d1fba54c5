"""Immutable, content-addressed training-data snapshots.

A snapshot's id is the sha256 of its canonical content (column names, dtypes
and the CSV rendering of every row, in order). The same data gives the same id,
and an existing snapshot is never overwritten: the data object is written with
S3's ``If-None-Match: *`` condition, so a second writer finds it already there.
The manifest records rows, columns and dtypes, time range, per-file sha256, the
source objects and the time-ordered train/holdout split. Next to them lives the
snapshot's drift reference profile (``profile.npz``, :mod:`retrain.drift.profile`),
written once when the snapshot is made so that drift checks never re-sort it.

The manifest is the commit point: it is written last, and a snapshot without one
does not exist for readers (:func:`load` raises ``DataNotFound``); a later run
with the same data replaces the files and writes it. Every file the manifest
lists carries its sha256, and readers check it (the profile's hash is copied to
the registry with the version trained on it, see :func:`load_profile`).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from retrain import aws
from retrain.contracts import SnapshotRef
from retrain.data import to_parquet_bytes
from retrain.errors import ArtifactIntegrityError, DataNotFound, InsufficientData
from retrain.files import parse_table
from retrain.frames import column_kind
from retrain.layout import MODEL_PROFILE_FILE, snapshot_prefix

if TYPE_CHECKING:
    from retrain.config import ModelConfig
    from retrain.drift import ReferenceProfile


def content_id(frame: pd.DataFrame) -> str:
    """sha256 (hex) of a frame's canonical content: names and kinds, rows as CSV, then the missing-cell mask.

    Kinds (int, float, bool, datetime, text: :func:`retrain.frames.column_kind`) rather than
    dtypes, so the same data read by another Parquet engine keeps its id. The mask tells a
    missing value from an empty string, which CSV renders alike.
    """
    digest = hashlib.sha256()
    header = "\x1f".join(f"{name}:{column_kind(dtype)}" for name, dtype in frame.dtypes.items())
    digest.update(header.encode())
    digest.update(b"\n")
    digest.update(frame.to_csv(index=False, header=False, lineterminator="\n").encode())
    digest.update(frame.isna().to_numpy().tobytes())
    return digest.hexdigest()


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
    profile_for: ModelConfig | None = None,
) -> SnapshotRef:
    """Write ``frame`` (already in time order) as an immutable snapshot, unless it exists.

    With ``profile_for`` (the model's config), the drift reference profile is built
    and stored with it and listed, with its sha256, in the manifest.

    Returns
    -------
    SnapshotRef
        Its id, URIs, row counts, and whether this call created it.
    """
    if frame.empty:
        raise InsufficientData(f"the training window of model {model!r} has no rows")
    snapshot_id = content_id(frame)
    prefix = snapshot_prefix(model, snapshot_id)
    n_holdout = holdout_rows(len(frame), holdout_fraction)
    manifest_key = prefix + "manifest.json"
    if aws.head(bucket, manifest_key) is not None:
        return _ref(bucket, prefix, snapshot_id, len(frame), n_holdout, created=False)
    data = to_parquet_bytes(frame)
    # No manifest: nothing is visible yet. Write (or replace what an interrupted run left) every file, then it.
    created = aws.put_new(bucket, prefix + "data.parquet", data)
    if not created:
        aws.put_bytes(bucket, prefix + "data.parquet", data)
    files = {"data.parquet": {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}}
    if profile_for is not None:
        from retrain.drift import to_bytes
        from retrain.drift.profile import reference_profile

        profile = reference_profile(profile_for, frame, meta={"model": model, "snapshot_id": snapshot_id})
        blob = to_bytes(profile)
        aws.put_bytes(bucket, prefix + PROFILE_FILE, blob)
        files[PROFILE_FILE] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
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
        "files": files,
        "sources": sources,
        "split": {
            "method": "time" if time_range else "order",
            "train_rows": len(frame) - n_holdout,
            "holdout_rows": n_holdout,
        },
        **(extra or {}),
    }
    aws.put_new(bucket, manifest_key, aws.json_bytes(manifest), content_type="application/json")
    return _ref(bucket, prefix, snapshot_id, len(frame), n_holdout, created=True)


def _ref(bucket: str, prefix: str, snapshot_id: str, rows: int, n_holdout: int, *, created: bool) -> SnapshotRef:
    return SnapshotRef(
        id=snapshot_id,
        uri=aws.uri(bucket, prefix + "data.parquet"),
        manifest_uri=aws.uri(bucket, prefix + "manifest.json"),
        rows=rows,
        train_rows=rows - n_holdout,
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
    return parse_table(data, "data.parquet"), manifest


def split(frame: pd.DataFrame, manifest: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest's train and holdout parts (holdout = the last rows in time order)."""
    n_holdout = int(manifest["split"]["holdout_rows"])
    cut = len(frame) - n_holdout
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


# ------------------------------------------------------------------ reference profiles
#: The drift check's reference profile, stored next to the snapshot's data and manifest.
PROFILE_FILE = "profile.npz"


def profile_key(model: str, snapshot_id: str) -> str:
    return snapshot_prefix(model, snapshot_id) + PROFILE_FILE


def model_profile_uri(artifact_uri: str) -> str:
    """``s3://.../models/<model>/v<version>/model-profile.npz`` for the artifact ``.../v<version>/model.skops``."""
    return artifact_uri.rsplit("/", 1)[0] + "/" + MODEL_PROFILE_FILE


def _read_verified(bucket: str, key: str, sha256: str) -> ReferenceProfile | None:
    from retrain.drift import from_bytes

    try:
        data = aws.get_bytes(bucket, key)
    except DataNotFound:
        return None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactIntegrityError(
            f"s3://{bucket}/{key} sha256 mismatch: recorded {sha256[:12]}, object {actual[:12]}; refusing to load it"
        )
    try:
        return from_bytes(data)
    except ValueError:  # a newer format: the caller recomputes it from the data
        return None


def profile_sha256(bucket: str, model: str, snapshot_id: str) -> str | None:
    """The profile's sha256 as the snapshot's manifest lists it (``None``: no manifest, or no profile in it)."""
    try:
        manifest = aws.get_json(bucket, snapshot_prefix(model, snapshot_id) + "manifest.json")
    except DataNotFound:
        return None
    entry = (manifest.get("files") or {}).get(PROFILE_FILE) or {}
    return entry.get("sha256")


def load_profile(bucket: str, model: str, snapshot_id: str, *, sha256: str | None = None) -> ReferenceProfile | None:
    """A snapshot's stored reference profile, verified against ``sha256`` (default: the manifest's).

    ``None`` when there is no profile or no recorded hash for it (older snapshots:
    the caller profiles the verified data instead).

    Raises
    ------
    ArtifactIntegrityError
        The stored profile's sha256 differs from the recorded one.
    """
    expected = sha256 or profile_sha256(bucket, model, snapshot_id)
    if expected is None:
        return None
    return _read_verified(bucket, profile_key(model, snapshot_id), expected)


def write_model_profile(artifact_uri: str, profile: ReferenceProfile) -> tuple[str, str]:
    """Store a model version's profile next to its artifact; returns its URI and sha256."""
    from retrain.drift import to_bytes

    uri = model_profile_uri(artifact_uri)
    bucket, key = aws.split_uri(uri)
    blob = to_bytes(profile)
    aws.put_bytes(bucket, key, blob)
    return uri, hashlib.sha256(blob).hexdigest()


def load_model_profile(artifact_uri: str, *, sha256: str | None) -> ReferenceProfile | None:
    """A model version's profile (see :func:`write_model_profile`), verified against the registry's ``sha256``.

    ``None`` when it has none, or no recorded hash (versions trained before profiles were hashed).

    Raises
    ------
    ArtifactIntegrityError
        The stored profile's sha256 differs from the recorded one.
    """
    if not sha256:
        return None
    bucket, key = aws.split_uri(model_profile_uri(artifact_uri))
    return _read_verified(bucket, key, sha256)
