"""Train: fit a candidate on the snapshot's train part and register it.

The fitting itself is :func:`retrain.fitting.fit_snapshot`, which a SageMaker
training job runs too (engine ``sagemaker``); :func:`register_fitted` registers
either engine's result the same way.
"""

from __future__ import annotations

from typing import Any

from retrain import aws, registry, snapshot
from retrain.config import ModelConfig
from retrain.contracts import Candidate, RegistryKey, Run, SnapshotRef
from retrain.fitting import LIBRARIES, MIN_PROFILE_ROWS, Fitted, fit_snapshot, library_versions, model_profile
from retrain.layout import artifact_key
from retrain.observability import logger
from retrain.settings import Settings
from retrain.steps.common import load_model_config

__all__ = [
    "LIBRARIES",
    "MIN_PROFILE_ROWS",
    "fit_and_register",
    "library_versions",
    "model_profile",
    "register_fitted",
    "run",
]


def this_executions_version(settings: Settings, model: str, ref: SnapshotRef, execution: str) -> dict[str, Any] | None:
    """The version this execution registered from this snapshot, if any (a retry finds it)."""
    mine = registry.version_of_execution(settings.registry_table, model, execution)
    if mine is not None and mine.get("snapshot_id") != ref.id:
        return None
    return mine


def fit_and_register(
    settings: Settings, config: ModelConfig, ref: SnapshotRef, *, trigger: str, execution: str
) -> Candidate:
    """Fit the configured pipeline on the snapshot's train part; store the artifact and its profile; register it.

    Idempotent per execution: a retry returns this execution's candidate without
    fitting again, or finishes its ``training`` version under the same number.
    """
    mine = this_executions_version(settings, config.model, ref, execution)
    if mine is not None and mine.get("status") == "candidate":
        logger.info("%s v%s is already this execution's candidate: returning it", config.model, mine["version"])
        return _candidate(config.model, mine)
    frame, manifest = snapshot.load(settings.artifact_bucket, config.model, ref.id)
    fitted = fit_snapshot(config, frame, manifest)
    return register_fitted(settings, config, ref, fitted, trigger=trigger, execution=execution)


def register_fitted(
    settings: Settings,
    config: ModelConfig,
    ref: SnapshotRef,
    fitted: Fitted,
    *,
    trigger: str,
    execution: str,
    extra: dict[str, Any] | None = None,
) -> Candidate:
    """Register a fitted candidate: version record, artifact and profile upload, then ``candidate`` status.

    Nothing is written before this is called with a fitted model. The version is
    registered as ``training`` first (so every file it writes is accounted for),
    its artifact and profile are stored, and it becomes a ``candidate`` with
    their hashes. ``extra`` adds lineage to the record (a training job's name).
    Idempotent per execution, as :func:`fit_and_register`.
    """
    table = settings.registry_table
    mine = this_executions_version(settings, config.model, ref, execution)
    if mine is not None and mine.get("status") == "candidate":
        logger.info("%s v%s is already this execution's candidate: returning it", config.model, mine["version"])
        return _candidate(config.model, mine)
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
                "trained_rows": fitted.trained_rows,
                "libraries": fitted.libraries,
                **(extra or {}),
            },
            status="training",
        )
    bucket, key = aws.split_uri(artifact_uri)
    aws.put_bytes(bucket, key, fitted.artifact)
    profile_uri = snapshot.model_profile_uri(artifact_uri)
    aws.put_bytes(*aws.split_uri(profile_uri), fitted.profile)
    values = {
        "sha256": fitted.sha256,
        "artifact_bytes": len(fitted.artifact),
        "training_seconds": fitted.training_seconds,
        "model_profile_uri": profile_uri,
        "model_profile_sha256": fitted.profile_sha256,
        "snapshot_profile_sha256": fitted.snapshot_profile_sha256,
        "importances": fitted.importances,
    }
    registry.complete_version(
        table, config.model, version, execution=execution, values={k: v for k, v in values.items() if v is not None}
    )
    return Candidate(
        model=config.model,
        version=version,
        artifact_uri=artifact_uri,
        sha256=fitted.sha256,
        registry_key=RegistryKey(pk=registry.model_pk(config.model), sk=registry.version_sk(version)),
        trained_rows=fitted.trained_rows,
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
