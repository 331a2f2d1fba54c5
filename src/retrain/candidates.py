"""A candidate before its promotion: fitted and registered, then judged on the snapshot's holdout.

The Train step, the SageMaker engine's ``RegisterTrainingJob`` and ``retrain
bootstrap`` register a fitted model the same way (:func:`register_fitted`); the
Validate step and the bootstrap judge it the same way (:func:`evaluate`). The
fitting itself is :func:`retrain.fitting.fit_snapshot`, the gates
:func:`retrain.validation.validate`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from retrain import aws, registry, snapshot, training, validation
from retrain.config import ModelConfig
from retrain.contracts import Candidate, RegistryKey, SnapshotRef, ValidationOut
from retrain.fitting import Fitted, fit_snapshot
from retrain.layout import artifact_key
from retrain.observability import logger
from retrain.settings import Settings
from retrain.trigger_record import TriggerRecord
from retrain.windows import inference_window


# ------------------------------------------------------------------------ registration
def this_executions_version(
    settings: Settings, model: str, ref: SnapshotRef, execution: str
) -> registry.ModelVersion | None:
    """The version this execution registered from this snapshot, if any (a retry finds it)."""
    mine = registry.version_of_execution(settings.registry_table, model, execution)
    if mine is not None and mine.snapshot_id != ref.id:
        return None
    return mine


def fit_and_register(
    settings: Settings,
    config: ModelConfig,
    ref: SnapshotRef,
    *,
    trigger: str,
    execution: str,
    triggered_by: TriggerRecord | None = None,
) -> Candidate:
    """Fit the configured pipeline on the snapshot's train part; store the artifact and its profile; register it.

    Idempotent per execution: a retry returns this execution's candidate without
    fitting again, or finishes its ``training`` version under the same number.
    ``trigger`` and ``triggered_by`` are as :func:`register_fitted` records them.
    """
    mine = this_executions_version(settings, config.model, ref, execution)
    if mine is not None and mine.status == "candidate":
        logger.info("%s v%s is already this execution's candidate: returning it", config.model, mine.version)
        return candidate_of(mine)
    frame, manifest = snapshot.load(settings.artifact_bucket, config.model, ref.id)
    fitted = fit_snapshot(config, frame, manifest)
    return register_fitted(
        settings, config, ref, fitted, trigger=trigger, execution=execution, triggered_by=triggered_by
    )


def register_fitted(
    settings: Settings,
    config: ModelConfig,
    ref: SnapshotRef,
    fitted: Fitted,
    *,
    trigger: str,
    execution: str,
    triggered_by: TriggerRecord | None = None,
    extra: dict[str, Any] | None = None,
) -> Candidate:
    """Register a fitted candidate: version record, artifact and profile upload, then ``candidate`` status.

    Nothing is written before this is called with a fitted model. The version is
    registered as ``training`` first (so every file it writes is accounted for),
    its artifact and profile are stored, and it becomes a ``candidate`` with
    their hashes. ``trigger`` is the kind of what asked for the version
    (``schedule``, ``alarm``, ``manual``, or ``bootstrap``; the champion pointer
    copies it, and the cooldown after a promotion reads it there);
    ``triggered_by`` the run's trigger in full (:meth:`TriggerRecord.of_run`),
    stored as the map ``triggered_by``. ``extra`` adds lineage to the record (a
    training job's name). Idempotent per execution, as :func:`fit_and_register`.
    """
    table = settings.registry_table
    mine = this_executions_version(settings, config.model, ref, execution)
    if mine is not None and mine.status == "candidate":
        logger.info("%s v%s is already this execution's candidate: returning it", config.model, mine.version)
        return candidate_of(mine)
    if mine is not None and mine.status == "training":
        version = mine.version
        artifact_uri = mine.artifact_uri
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
                "triggered_by": triggered_by.item() if triggered_by is not None else None,
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


def candidate_of(record: registry.ModelVersion) -> Candidate:
    """The candidate a completed version record describes."""
    return Candidate(
        model=record.model,
        version=record.version,
        artifact_uri=record.artifact_uri,
        sha256=record.artifact_sha256,
        registry_key=RegistryKey(pk=registry.model_pk(record.model), sk=registry.version_sk(record.version)),
        trained_rows=record.trained_rows or 0,
    )


# -------------------------------------------------------------------------- validation
def load_model(uri: str, sha256: str) -> tuple[Any, int]:
    """Load an artifact after checking its sha256 against the registry's; returns the model and its size in bytes."""
    bucket, key = aws.split_uri(uri)
    data = aws.get_bytes(bucket, key)
    return training.loads(data, expected_sha256=sha256), len(data)


def recent_predictions(
    settings: Settings, config: ModelConfig, window: tuple[datetime, datetime], candidate: Any, champion: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Both models' predictions on the most recent inputs of the monitoring ``window`` (at most ``RECENT_ROWS``).

    ``window`` is ``(start, end)``. Empty arrays when the window has no inference-log rows.
    """
    start, end = window
    window_rows, _ = inference_window(settings, config, start, end)
    window_rows = window_rows.tail(validation.RECENT_ROWS)
    if window_rows.empty:
        return np.asarray([]), np.asarray([])
    features = training.feature_frame(window_rows, config, source="inference log")
    return np.asarray(candidate.predict(features)), np.asarray(champion.predict(features))


def evaluate(
    settings: Settings,
    config: ModelConfig,
    ref: SnapshotRef,
    candidate: Candidate,
    *,
    window: tuple[datetime, datetime],
) -> ValidationOut:
    """The candidate's gates on the snapshot's holdout, against the current champion if there is one.

    ``window`` is the monitoring window ``(start, end)`` whose most recent inputs the
    prediction difference is measured on (only with a champion). The gates and
    metrics are recorded on the candidate's registry version.
    """
    frame, manifest = snapshot.load(settings.artifact_bucket, config.model, ref.id)
    _, holdout = snapshot.split(frame, manifest)
    features = training.feature_frame(holdout, config, source="holdout")
    candidate_model, artifact_bytes = load_model(candidate.artifact_uri, candidate.sha256)
    candidate_pred = np.asarray(candidate_model.predict(features))
    champion = registry.get_champion(settings.registry_table, config.model)
    champion_pred = recent = None
    if champion is not None:
        champion_model, _ = load_model(champion.artifact_uri, champion.sha256)
        champion_pred = np.asarray(champion_model.predict(features))
        recent = recent_predictions(settings, config, window, candidate_model, champion_model)
    result = validation.validate(
        config,
        holdout,
        candidate_pred,
        champion_pred,
        classes=getattr(candidate_model, "classes_", None),
        recent=recent,
        latency=validation.measure_latency(candidate_model, features),
        artifact_bytes=artifact_bytes,
    )
    out = ValidationOut(
        passed=result.passed,
        metric=result.metric,
        gates=result.gates,
        reasons=result.reasons,
        candidate_metrics=result.candidate_metrics,
        champion_metrics=result.champion_metrics,
        champion_version=champion.version if champion else None,
        n_holdout=result.n_holdout,
        prediction_difference=result.prediction_difference,
        n_recent=result.n_recent,
        latency_p95_ms=result.latency.p95_ms if result.latency else None,
        artifact_bytes=result.artifact_bytes,
    )
    registry.record_validation(
        settings.registry_table,
        config.model,
        candidate.version,
        metrics=out.candidate_metrics,
        gates=[g.model_dump() for g in out.gates],
        champion_version=out.champion_version,
    )
    return out
