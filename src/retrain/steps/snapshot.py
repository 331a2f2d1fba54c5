"""Snapshot: freeze the training window as an immutable, content-addressed data set."""

from __future__ import annotations

import pandas as pd

from retrain import snapshot
from retrain.contracts import Run, SnapshotRef
from retrain.data import read_prefix, reference_prefix, utc
from retrain.errors import InsufficientData
from retrain.frames import require_columns
from retrain.labels import join_labels
from retrain.settings import Settings
from retrain.steps.model_config import load_model_config
from retrain.targets import classification_target
from retrain.windows import inference_window, labels_since


def run(run: Run, *, settings: Settings) -> SnapshotRef:
    """Labelled production rows of the training window (plus an optional sample of the reference).

    The rows are put in time order, so the manifest's holdout is the most recent
    part. The snapshot's drift reference profile is stored next to it. Raises
    :class:`~retrain.errors.SchemaMismatch` when a classification target holds
    continuous values or mixes types (:func:`retrain.targets.classification_target`,
    the Train step's own check), and :class:`~retrain.errors.InsufficientData`
    below ``training.min_rows``; either way nothing is written.
    """
    config = load_model_config(settings, run.model)
    mon = config.monitoring
    start, end = utc(run.training_window_start), utc(run.window_end)
    inference, sources = inference_window(settings, config, start, end)
    columns = [mon.id_column, mon.timestamp_column, *config.features.all, config.target]
    frame = pd.DataFrame(columns=columns)
    if not inference.empty:
        labels, label_sources = labels_since(settings, config, start, end)
        sources += label_sources
        if not labels.empty:
            joined, _ = join_labels(inference, labels, id_column=mon.id_column, target=config.target)
            require_columns(joined, columns, what="labelled training window")
            frame = joined[columns]
    if config.training.reference_fraction > 0:
        reference, ref_sources = read_prefix(settings.data_bucket, reference_prefix(config.model))
        if not reference.empty:
            require_columns(reference, [*config.features.all, config.target], what="reference data")
            sample = reference.sample(frac=config.training.reference_fraction, random_state=config.training.seed)
            sample = sample.reindex(columns=columns)
            sources += ref_sources
            frame = pd.concat([sample, frame], ignore_index=True)
    if config.problem == "classification":
        classification_target(frame[config.target], config.target, f"labelled training window of {run.model!r}")
    if len(frame) < config.training.min_rows:
        raise InsufficientData(
            f"training window of {run.model!r} has {len(frame)} labelled rows < training.min_rows "
            f"{config.training.min_rows} ({run.training_window_start} to {run.window_end})"
        )
    frame = frame.reset_index(drop=True)
    ref = snapshot.create(
        settings.artifact_bucket,
        config.model,
        frame,
        sources=sources,
        holdout_fraction=config.training.holdout_fraction,
        timestamp_column=mon.timestamp_column,
        extra={"window": {"start": run.training_window_start, "end": run.window_end}, "trigger": run.trigger},
        # The drift reference once this snapshot's model is champion: profiled now, while the data is in memory.
        profile_for=config,
    )
    return ref
