"""Validate: the candidate against absolute gates and the champion on the same holdout."""

from __future__ import annotations

from typing import Any

from retrain import aws, registry, snapshot, training, validation
from retrain.config import ModelConfig
from retrain.contracts import Candidate, GateOut, Run, SnapshotRef, ValidationOut
from retrain.settings import Settings
from retrain.steps.common import load_model_config


def load_model(uri: str, sha256: str) -> Any:
    """Load an artifact after checking its sha256 against the registry's."""
    bucket, key = aws.split_uri(uri)
    return training.loads(aws.get_bytes(bucket, key), expected_sha256=sha256)


def evaluate(settings: Settings, config: ModelConfig, ref: SnapshotRef, candidate: Candidate) -> ValidationOut:
    frame, manifest = snapshot.load(settings.artifact_bucket, config.model, ref.id)
    _, holdout = snapshot.split(frame, manifest)
    candidate_pred = training.predict(load_model(candidate.artifact_uri, candidate.sha256), holdout, config)
    champion = registry.get_champion(settings.registry_table, config.model)
    champion_pred = None
    if champion is not None:
        champion_model = load_model(champion["artifact_uri"], champion["sha256"])
        champion_pred = training.predict(champion_model, holdout, config)
    result = validation.validate(config, holdout, candidate_pred, champion_pred)
    out = ValidationOut(
        passed=result.passed,
        metric=result.metric,
        gates=[GateOut(**g.model_dump()) for g in result.gates],
        reasons=result.reasons,
        candidate_metrics=result.candidate_metrics,
        champion_metrics=result.champion_metrics,
        champion_version=champion["version"] if champion else None,
        n_holdout=result.n_holdout,
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
    return evaluate(settings, config, ref, candidate)
