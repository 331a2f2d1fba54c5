"""Fit a candidate from a snapshot: the one fitting routine of both training engines.

The Train function (engine ``lambda``) and a SageMaker training job's entry point
(engine ``sagemaker``, :mod:`retrain.training_job`) both turn a snapshot's data
and manifest into a :class:`Fitted` here. Nothing in this module touches AWS
(no boto3, no powertools): the job runs it with only the pinned science
libraries installed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pandas as pd

from retrain import __version__, training
from retrain.config import ModelConfig
from retrain.drift import to_bytes
from retrain.drift.profile import ReferenceProfile, build_profile, category_key
from retrain.errors import ArtifactIntegrityError, InsufficientData
from retrain.files import parse_table

#: The libraries whose versions a model version records (its lineage); the job pins the same ones.
LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "skops")

#: Below this many holdout rows, a model's profile is computed on the whole snapshot instead.
MIN_PROFILE_ROWS = 100

#: A snapshot's files (see :mod:`retrain.snapshot`).
DATA_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"
SNAPSHOT_PROFILE_FILE = "profile.npz"


def library_versions() -> dict[str, str]:
    """Python's, this package's and :data:`LIBRARIES`' versions in the running process."""
    found = {"python": platform.python_version(), "retrain": __version__}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


@dataclass(frozen=True)
class Fitted:
    """A fitted candidate, ready to register: its artifact and profile bytes and what the registry records."""

    artifact: bytes
    profile: bytes
    trained_rows: int
    training_seconds: float
    libraries: dict[str, str]
    importances: dict[str, float] | None = None
    snapshot_profile_sha256: str | None = None
    sha256: str = field(init=False)
    profile_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.artifact).hexdigest())
        object.__setattr__(self, "profile_sha256", hashlib.sha256(self.profile).hexdigest())

    def summary(self) -> dict[str, Any]:
        """What a training job writes beside the files (``training.json``): hashes, sizes, timing, lineage."""
        return {
            "sha256": self.sha256,
            "artifact_bytes": len(self.artifact),
            "profile_sha256": self.profile_sha256,
            "trained_rows": self.trained_rows,
            "training_seconds": self.training_seconds,
            "libraries": self.libraries,
            "importances": self.importances,
            "snapshot_profile_sha256": self.snapshot_profile_sha256,
        }

    @classmethod
    def from_files(cls, artifact: bytes, profile: bytes, summary: dict[str, Any], *, source: str) -> Fitted:
        """Rebuild a job's result from its files, checking both hashes against its ``training.json``.

        Raises
        ------
        ArtifactIntegrityError
            ``summary`` lacks a field, or a file's sha256 differs from the one it records.
        """
        try:
            fitted = cls(
                artifact=artifact,
                profile=profile,
                trained_rows=int(summary["trained_rows"]),
                training_seconds=float(summary["training_seconds"]),
                libraries={str(k): str(v) for k, v in dict(summary["libraries"]).items()},
                importances=summary.get("importances"),
                snapshot_profile_sha256=summary.get("snapshot_profile_sha256"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactIntegrityError(f"{source}: training.json is missing or has a bad field ({exc})") from exc
        for name, actual, recorded in (
            ("model", fitted.sha256, summary.get("sha256")),
            ("model profile", fitted.profile_sha256, summary.get("profile_sha256")),
        ):
            if actual != recorded:
                raise ArtifactIntegrityError(
                    f"{source}: the {name} file's sha256 {actual[:12]} differs from "
                    f"training.json's {str(recorded)[:12]}"
                )
        return fitted


def verified_frame(data: bytes, manifest: dict[str, Any], *, source: str) -> pd.DataFrame:
    """A snapshot's data, after checking it against its manifest (sha256, row count).

    Raises
    ------
    ArtifactIntegrityError
        The manifest does not list the data file, or its sha256 or row count differs.
    """
    try:
        expected = manifest["files"][DATA_FILE]["sha256"]
        rows = int(manifest["rows"])
        int(manifest["split"]["holdout_rows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactIntegrityError(f"{source}: the manifest lacks {exc} (not a snapshot manifest)") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ArtifactIntegrityError(
            f"{source}: data sha256 mismatch: manifest {str(expected)[:12]}, object {actual[:12]}"
        )
    frame = parse_table(data, DATA_FILE)
    if len(frame) != rows:
        raise ArtifactIntegrityError(f"{source}: the data has {len(frame)} rows, the manifest says {rows}")
    return frame


def split(frame: pd.DataFrame, manifest: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest's train and holdout parts (holdout = the last rows in time order)."""
    n_holdout = int(manifest["split"]["holdout_rows"])
    cut = len(frame) - n_holdout
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def model_profile(config: ModelConfig, model: Any, train_part: pd.DataFrame, holdout: pd.DataFrame) -> ReferenceProfile:
    """What the checks need from a model: its importances, its outputs' distribution, its label-free estimators.

    Importances and outputs are computed on the snapshot's holdout (rows the
    model did not see), or on the whole snapshot when the holdout has fewer than
    :data:`MIN_PROFILE_ROWS` rows. The profile has a ``prediction`` column
    (classes, or regression values) and, for a binary classifier with
    ``predict_proba``, a ``score`` column (the positive class's probability);
    its ``meta`` holds ``importances`` (feature -> score drop; absent without
    labelled rows) and the scorer used, and the estimators of
    :func:`estimators` (fit on the holdout only).
    """
    data = holdout if len(holdout) >= MIN_PROFILE_ROWS else pd.concat([train_part, holdout], ignore_index=True)
    meta: dict[str, Any] = {"source": "holdout" if data is holdout else "snapshot", "rows": len(data)}
    try:
        meta["importances"] = training.permutation_importances(model, data, config, seed=config.training.seed)
        meta["importance_scorer"] = training.importance_scorer(config)
    except InsufficientData as exc:
        meta["importances_unavailable"] = str(exc)
    meta.update(estimators(config, model, holdout))
    columns: dict[str, Any] = {"prediction": training.predict(model, data, config, source="holdout")}
    numeric, categorical = ([], ["prediction"]) if config.problem == "classification" else (["prediction"], [])
    classes = list(getattr(model, "classes_", []))
    if config.problem == "classification" and len(classes) == 2 and hasattr(model, "predict_proba"):
        columns["score"] = model.predict_proba(training.feature_frame(data, config, source="holdout"))[:, 1]
        numeric.append("score")
        meta["positive_class"] = category_key(classes[1])
    return build_profile(pd.DataFrame(columns), numeric=numeric, categorical=categorical, sample_rows=0, meta=meta)


def estimators(config: ModelConfig, model: Any, holdout: pd.DataFrame) -> dict[str, Any]:
    """The label-free estimators of a model, fit on its holdout (rows it never saw), as JSON for the profile's meta.

    A classifier with ``predict_proba`` gets ``calibration``
    (:func:`~retrain.metrics.calibration.fit_calibration`: isotonic, sigmoid, or
    none when calibrating does not lower the cross-validated Brier score); a
    regression model gets ``loss_model``
    (:func:`~retrain.metrics.loss.fit_loss_model`), or ``loss_model_unavailable``
    saying why not. Only labelled holdout rows are used.
    """
    from retrain.metrics.calibration import fit_calibration
    from retrain.metrics.loss import fit_loss_model

    labelled = holdout.loc[holdout[config.target].notna()] if config.target in holdout.columns else holdout.iloc[0:0]
    seed = config.training.seed
    features = training.feature_frame(labelled, config, source="holdout")
    if config.problem == "classification":
        if not hasattr(model, "predict_proba") or labelled.empty:
            return {}
        proba = model.predict_proba(features)
        calibration = fit_calibration(labelled[config.target].to_numpy(), proba, list(model.classes_), seed=seed)
        return {"calibration": calibration.model_dump(mode="json")}
    if labelled.empty:
        return {"loss_model_unavailable": "the holdout has no labelled rows"}
    prediction = training.predict(model, labelled, config, source="holdout")
    fitted = fit_loss_model(
        features,
        prediction,
        labelled[config.target].to_numpy(),
        numeric=list(config.features.numeric),
        categorical=list(config.features.categorical),
        seed=seed,
    )
    if isinstance(fitted, str):
        return {"loss_model_unavailable": fitted}
    return {"loss_model": fitted.model_dump(mode="json")}


def fit_snapshot(config: ModelConfig, frame: pd.DataFrame, manifest: dict[str, Any]) -> Fitted:
    """Fit the configured pipeline on the snapshot's train part; serialize it and profile it on the holdout.

    ``frame`` is the snapshot's (verified) data and ``manifest`` its manifest.
    The same config (seed included) and snapshot give a model with the same
    predictions, whichever engine runs this.

    Raises
    ------
    SchemaMismatch, InsufficientData, EstimatorNotAllowed
        As :func:`retrain.training.fit` and :func:`retrain.training.dumps` raise them.
    """
    train_part, holdout = split(frame, manifest)
    started = time.perf_counter()
    model = training.fit(config, train_part)
    blob = training.dumps(model)
    seconds = round(time.perf_counter() - started, 3)
    profile = model_profile(config, model, train_part, holdout)
    snapshot_profile = (manifest.get("files") or {}).get(SNAPSHOT_PROFILE_FILE) or {}
    return Fitted(
        artifact=blob,
        profile=to_bytes(profile),
        trained_rows=len(train_part),
        training_seconds=seconds,
        libraries=library_versions(),
        importances=profile.meta.get("importances"),
        snapshot_profile_sha256=snapshot_profile.get("sha256"),
    )


def summary_bytes(fitted: Fitted) -> bytes:
    """``training.json``'s bytes."""
    return json.dumps(fitted.summary(), indent=2, sort_keys=True).encode()
