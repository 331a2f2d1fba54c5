"""One iteration of the distributed drift check: profile one batch of the window's table objects.

Each object is read (the same parser as the single path), cut to the run's
``[window_start, window_end)`` (the same rule, :func:`retrain.data.filter_window`),
profiled (:func:`retrain.drift.profile_partition`: the model's features, and
the prediction and class-probability columns the prediction-drift signal
reads) and sampled (:func:`retrain.drift.sample.sample_partition`), then
released; the batch's profiles and samples are merged and written under the
run's prefix (:mod:`retrain.steps.drift_batches`). When an object cannot be
read, the failure is recorded under ``failures/<index>.json`` (the object, the
error type, its message) before the error is raised, so the judge names the
object even where the Map only reports that its failure threshold was exceeded.
"""

from __future__ import annotations

import json

from retrain import aws, layout
from retrain.config import DriftTrigger, ModelConfig
from retrain.contracts import DriftProfileInput, DriftProfileOut
from retrain.data import filter_window, read_object, to_parquet_bytes
from retrain.drift.merge import WindowProfile, merge_profiles, profile_partition, window_to_bytes
from retrain.drift.sample import RowSample, merge_samples, sample_partition
from retrain.observability import logger
from retrain.settings import Settings
from retrain.steps.drift_batches import STRIDE
from retrain.steps.model_config import load_model_config
from retrain.windows import window_bounds


def profiled_columns(config: ModelConfig, columns: list[str]) -> tuple[list[str], list[str]]:
    """The numeric and categorical columns a batch profile keeps: the features, the prediction, the scores.

    The prediction is categorical for a classifier (its classes) and numeric for a regressor, as the
    champion's reference distribution of its predictions is.
    """
    mon = config.monitoring
    numeric = list(config.features.numeric)
    categorical = list(config.features.categorical)
    taken = set(numeric) | set(categorical)
    if mon.prediction_column not in taken:
        (categorical if config.problem == "classification" else numeric).append(mon.prediction_column)
        taken.add(mon.prediction_column)
    numeric += [c for c in columns if c.startswith(mon.proba_prefix) and c not in taken]
    return numeric, categorical


def run(request: DriftProfileInput, *, settings: Settings) -> DriftProfileOut:
    """Profile batch ``request.batch`` of the run's window and write its profile, sample and receipt.

    Raises
    ------
    UnreadableData, SchemaMismatch, DataNotFound
        An object of the batch cannot be read, or lacks the timestamp column (recorded first, see the module
        docstring).
    """
    run, batch = request.run, request.batch
    config = load_model_config(settings, run.model)
    policy = config.triggers.drift or DriftTrigger()
    start, end = window_bounds(run)
    profiles: list[WindowProfile] = []
    samples: list[RowSample] = []
    k = policy.distributed.sample_rows
    for j, obj in enumerate(batch.objects):
        uri = aws.uri(settings.data_bucket, obj.key)
        try:
            frame = read_object(settings.data_bucket, obj.key)
            window = filter_window(frame, config.monitoring.timestamp_column, start, end, what=f"inference log {uri}")
        except Exception as exc:
            _record_failure(settings, request, obj.key, exc)
            raise
        del frame
        index = batch.index * STRIDE + j
        numeric, categorical = profiled_columns(config, [str(c) for c in window.columns])
        profiles.append(profile_partition(window, numeric, categorical, points=policy.distributed.points, index=index))
        features = [c for c in config.features.all if c in window.columns]
        samples.append(sample_partition(window[features], k, seed=config.training.seed, index=index))
        del window
    profile = merge_profiles(profiles)
    sample = merge_samples(samples, k, seed=config.training.seed + batch.index)
    del profiles, samples
    _write(settings, request, profile, sample)
    logger.info("batch %d: %d objects, %d rows in the window", batch.index, len(batch.objects), profile.n_rows)
    return DriftProfileOut(
        index=batch.index, rows=profile.n_rows, objects=len(batch.objects), sample_rows=len(sample.rows)
    )


def _write(settings: Settings, request: DriftProfileInput, profile: WindowProfile, sample: RowSample) -> None:
    """The profile, the sample, then the receipt (its presence says the batch is complete)."""
    run, batch, bucket = request.run, request.batch, settings.artifact_bucket
    aws.put_bytes(bucket, layout.drift_partial_key(run.model, run.execution, batch.index), window_to_bytes(profile))
    aws.put_bytes(bucket, layout.drift_sample_key(run.model, run.execution, batch.index), to_parquet_bytes(sample.rows))
    receipt = {
        "index": batch.index,
        "objects": [{"key": o.key, "etag": o.etag} for o in batch.objects],
        "rows": profile.n_rows,
        "sample_rows": len(sample.rows),
    }
    key = layout.drift_receipt_key(run.model, run.execution, batch.index)
    aws.put_bytes(bucket, key, json.dumps(receipt).encode(), content_type="application/json")


def _record_failure(settings: Settings, request: DriftProfileInput, key: str, exc: Exception) -> None:
    run, batch = request.run, request.batch
    record = {"index": batch.index, "key": key, "error": type(exc).__name__, "message": str(exc)}
    aws.put_bytes(
        settings.artifact_bucket,
        layout.drift_failure_key(run.model, run.execution, batch.index),
        json.dumps(record).encode(),
        content_type="application/json",
    )
