"""Train: fit a candidate on the snapshot's training part and register it."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pandas as pd

from retrain import __version__, aws, registry, snapshot, training
from retrain.config import ModelConfig
from retrain.contracts import Candidate, RegistryKey, Run, SnapshotRef
from retrain.drift.profile import ReferenceProfile, build_profile, category_key
from retrain.errors import InsufficientData
from retrain.layout import artifact_key
from retrain.observability import logger
from retrain.settings import Settings
from retrain.steps.common import load_model_config

LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "skops")

#: Below this many holdout rows, a model's profile is computed on the whole snapshot instead.
MIN_PROFILE_ROWS = 100


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "retrain": __version__}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def model_profile(config: ModelConfig, model: Any, train_part: pd.DataFrame, holdout: pd.DataFrame) -> ReferenceProfile:
    """What the drift check needs from a model: its permutation importances and the distribution of its outputs.

    Both are computed on the snapshot's holdout (rows the model did not see),
    or on the whole snapshot when the holdout has fewer than
    :data:`MIN_PROFILE_ROWS` rows. The profile has a ``prediction`` column
    (classes, or regression values) and, for a binary classifier with
    ``predict_proba``, a ``score`` column (the positive class's probability);
    its ``meta`` holds ``importances`` (feature -> score drop; absent without
    labelled rows) and the scorer used.
    """
    data = holdout if len(holdout) >= MIN_PROFILE_ROWS else pd.concat([train_part, holdout], ignore_index=True)
    meta: dict[str, Any] = {"source": "holdout" if data is holdout else "snapshot", "rows": len(data)}
    try:
        meta["importances"] = training.permutation_importances(model, data, config, seed=config.training.seed)
        meta["importance_scorer"] = training.importance_scorer(config)
    except InsufficientData as exc:
        meta["importances_unavailable"] = str(exc)
    columns: dict[str, Any] = {"prediction": training.predict(model, data, config, source="holdout")}
    numeric, categorical = ([], ["prediction"]) if config.problem == "classification" else (["prediction"], [])
    classes = list(getattr(model, "classes_", []))
    if config.problem == "classification" and len(classes) == 2 and hasattr(model, "predict_proba"):
        columns["score"] = model.predict_proba(training.feature_frame(data, config, source="holdout"))[:, 1]
        numeric.append("score")
        meta["positive_class"] = category_key(classes[1])
    return build_profile(pd.DataFrame(columns), numeric=numeric, categorical=categorical, sample_rows=0, meta=meta)


def fit_and_register(
    settings: Settings, config: ModelConfig, ref: SnapshotRef, *, trigger: str, execution: str
) -> Candidate:
    """Fit the configured pipeline on the snapshot's train part; store the artifact and its profile; register it.

    Nothing is written until the model is fitted. Then the version is registered as
    ``training`` (so every file it writes is accounted for), its artifact and
    profile are stored, and it becomes a ``candidate`` with their hashes.
    Idempotent per execution: a retry returns this execution's candidate, or
    finishes its ``training`` version under the same number.
    """
    table = settings.registry_table
    mine = registry.version_of_execution(table, config.model, execution)
    if mine is not None and mine.get("snapshot_id") != ref.id:
        mine = None
    if mine is not None and mine.get("status") == "candidate":
        logger.info("%s v%s is already this execution's candidate: returning it", config.model, mine["version"])
        return _candidate(config.model, mine)
    frame, manifest = snapshot.load(settings.artifact_bucket, config.model, ref.id)
    train_part, holdout = snapshot.split(frame, manifest)
    started = datetime.now(UTC)
    model = training.fit(config, train_part)
    blob = training.dumps(model)
    sha = training.sha256_hex(blob)
    training_seconds = round((datetime.now(UTC) - started).total_seconds(), 3)
    profile = model_profile(config, model, train_part, holdout)
    if mine is not None and mine.get("status") == "training":
        version = int(mine["version"])
        artifact_uri = str(mine["artifact_uri"])
    else:
        version = registry.next_version(table, config.model)
        artifact_uri = aws.uri(settings.artifact_bucket, artifact_key(config.model, version))
        registry.register_version(
            table,
            config.model,
            version,
            {
                "artifact_uri": artifact_uri,
                "snapshot_id": ref.id,
                "snapshot_manifest": ref.manifest_uri,
                "config_sha256": config.digest(),
                "estimator": config.training.estimator,
                "trigger": trigger,
                "execution": execution,
                "trained_rows": len(train_part),
                "libraries": library_versions(),
            },
            status="training",
        )
    bucket, key = aws.split_uri(artifact_uri)
    aws.put_bytes(bucket, key, blob)
    profile_uri, profile_sha = snapshot.write_model_profile(artifact_uri, profile)
    snapshot_profile = (manifest.get("files") or {}).get(snapshot.PROFILE_FILE) or {}
    values = {
        "sha256": sha,
        "artifact_bytes": len(blob),
        "training_seconds": training_seconds,
        "model_profile_uri": profile_uri,
        "model_profile_sha256": profile_sha,
        "snapshot_profile_sha256": snapshot_profile.get("sha256"),
        "importances": profile.meta.get("importances"),
    }
    registry.complete_version(
        table, config.model, version, execution=execution, values={k: v for k, v in values.items() if v is not None}
    )
    return Candidate(
        model=config.model,
        version=version,
        artifact_uri=artifact_uri,
        sha256=sha,
        registry_key=RegistryKey(pk=registry.model_pk(config.model), sk=registry.version_sk(version)),
        trained_rows=len(train_part),
    )


def _candidate(model: str, record: dict[str, Any]) -> Candidate:
    version = int(record["version"])
    return Candidate(
        model=model,
        version=version,
        artifact_uri=record["artifact_uri"],
        sha256=record["sha256"],
        registry_key=RegistryKey(pk=registry.model_pk(model), sk=registry.version_sk(version)),
        trained_rows=int(record.get("trained_rows") or 0),
    )


def run(run: Run, ref: SnapshotRef, *, settings: Settings) -> Candidate:
    config = load_model_config(settings, run.model)
    return fit_and_register(settings, config, ref, trigger=run.trigger, execution=run.execution)
