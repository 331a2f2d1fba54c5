"""Operations outside a retraining run: deploying a config, registering a first champion."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from retrain import aws, registry, snapshot
from retrain.champion import publish_champion
from retrain.config import ModelConfig
from retrain.contracts import Candidate
from retrain.data import config_key, reference_prefix, require_columns, to_parquet_bytes
from retrain.settings import Settings
from retrain.steps.train import fit_and_register


def deploy_config(settings: Settings, config: ModelConfig, text: str) -> str:
    """Store a validated config where the steps read it; returns its S3 URI."""
    key = config_key(config.model)
    aws.put_bytes(settings.data_bucket, key, text.encode(), content_type="application/yaml")
    return aws.uri(settings.data_bucket, key)


def bootstrap(settings: Settings, config: ModelConfig, reference: pd.DataFrame) -> Candidate:
    """Train the first champion on historical data and promote it (version 1 of a new model).

    The reference is stored under ``reference/<model>/``, frozen as a snapshot
    (the drift check's first reference), trained on its train part and promoted
    with the condition that the model has no champion yet.
    """
    require_columns(reference, [*config.features.all, config.target], what="reference data")
    frame = reference[[*config.features.all, config.target]].reset_index(drop=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aws.put_bytes(
        settings.data_bucket,
        f"{reference_prefix(config.model)}reference-{stamp}.parquet",
        to_parquet_bytes(frame),
    )
    ref = snapshot.create(
        settings.artifact_bucket,
        config.model,
        frame,
        sources=[{"key": f"{reference_prefix(config.model)}reference-{stamp}.parquet"}],
        holdout_fraction=config.training.holdout_fraction,
        timestamp_column=None,
        extra={"window": None, "trigger": "bootstrap"},
    )
    snapshot.ensure_profile(settings.artifact_bucket, config, ref.id, frame)  # the drift check's reference profile
    candidate = fit_and_register(settings, config, ref, trigger="bootstrap", execution="bootstrap")
    promotion = registry.promote(
        settings.registry_table, config.model, candidate.version, expected=None, execution="bootstrap"
    )
    publish_champion(settings, config.model, promotion)
    return candidate
