"""Validate: the candidate against absolute gates and the champion on the same holdout."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from retrain import aws, registry, snapshot, training, validation
from retrain.config import ModelConfig
from retrain.contracts import Candidate, GateOut, Run, SnapshotRef, ValidationOut
from retrain.settings import Settings
from retrain.steps.common import inference_window, load_model_config, window_bounds


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
        champion_model, _ = load_model(champion["artifact_uri"], champion["sha256"])
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
        gates=[GateOut(**g.model_dump()) for g in result.gates],
        reasons=result.reasons,
        candidate_metrics=result.candidate_metrics,
        champion_metrics=result.champion_metrics,
        champion_version=champion["version"] if champion else None,
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


def run(run: Run, ref: SnapshotRef, candidate: Candidate, *, settings: Settings) -> ValidationOut:
    config = load_model_config(settings, run.model)
    return evaluate(settings, config, ref, candidate, window=window_bounds(run))
