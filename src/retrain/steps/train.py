"""Train: fit a candidate on the snapshot's training part and register it."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata

from retrain import __version__, aws, registry, snapshot, training
from retrain.config import ModelConfig
from retrain.contracts import Candidate, RegistryKey, Run, SnapshotRef
from retrain.settings import Settings
from retrain.steps.common import load_model_config

LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "skops")


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "retrain": __version__}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def fit_and_register(
    settings: Settings, config: ModelConfig, ref: SnapshotRef, *, trigger: str, execution: str
) -> Candidate:
    """Fit the configured pipeline on the snapshot's train part; store the artifact; register it."""
    frame, manifest = snapshot.load(settings.artifact_bucket, config.model, ref.id)
    train_part, _ = snapshot.split(frame, manifest)
    started = datetime.now(UTC)
    model = training.fit(config, train_part)
    blob = training.dumps(model)
    sha = training.sha256_hex(blob)
    version = registry.next_version(settings.registry_table, config.model)
    key = f"models/{config.model}/v{version}/model.skops"
    aws.put_bytes(settings.artifact_bucket, key, blob)
    artifact_uri = aws.uri(settings.artifact_bucket, key)
    registry_key = registry.register_version(
        settings.registry_table,
        config.model,
        version,
        {
            "artifact_uri": artifact_uri,
            "sha256": sha,
            "artifact_bytes": len(blob),
            "snapshot_id": ref.id,
            "snapshot_manifest": ref.manifest_uri,
            "config_sha256": config.digest(),
            "estimator": config.training.estimator,
            "trigger": trigger,
            "execution": execution,
            "trained_rows": len(train_part),
            "training_seconds": round((datetime.now(UTC) - started).total_seconds(), 3),
            "libraries": library_versions(),
        },
    )
    return Candidate(
        model=config.model,
        version=version,
        artifact_uri=artifact_uri,
        sha256=sha,
        registry_key=RegistryKey(**registry_key),
        trained_rows=len(train_part),
    )


def run(run: Run, ref: SnapshotRef, *, settings: Settings) -> Candidate:
    config = load_model_config(settings, run.model)
    return fit_and_register(settings, config, ref, trigger=run.trigger, execution=run.execution)
