"""Operations outside a retraining run: deploying a config, and the gated first champion (``retrain bootstrap``).

A bootstrap goes through the very code the state machine's steps run:

1. :func:`check_inputs`: the config and the reference are checked before anything
   is written (columns, types, rows on both sides of the holdout split, classes,
   the estimator), so an input the training would refuse late writes nothing.
2. The reference becomes a snapshot (:func:`retrain.snapshot.create`, with its
   drift reference profile), version N is trained and registered by
   :func:`~retrain.candidates.fit_and_register` and judged by
   :func:`~retrain.candidates.evaluate`, as the Train and Validate steps do: without a champion
   only the absolute floors and ceilings, sanity, latency and size gates apply;
   with one (``force``) every gate, against it.
3. Every gate passed: the version is promoted (one conditional transaction,
   :func:`retrain.registry.promote`), published to its SSM parameter, the
   reference stored under ``reference/<model>/`` and the model registered on the
   stack (:func:`retrain.fleet.register`: its config, schedule and alarms). A gate
   failed: the version is recorded ``rejected`` with its reasons (what the state
   machine's ``RecordRejection`` writes) and :class:`~retrain.errors.BootstrapRejected`
   is raised; the champion, the deployed config, the schedule and alarms are unchanged.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from retrain import aws, files, fleet, layout, registry, snapshot, targets, training
from retrain.candidates import evaluate, fit_and_register
from retrain.champion import publish_champion
from retrain.config import ModelConfig, loads_config, read_config_text
from retrain.contracts import Candidate, SnapshotRef, ValidationOut
from retrain.data import config_key, to_parquet_bytes
from retrain.errors import BootstrapRejected, ChampionExists, InsufficientData, SchemaMismatch
from retrain.frames import require_columns
from retrain.settings import Settings

#: The trigger recorded on a bootstrapped version (no retraining cooldown follows its promotion).
TRIGGER = "bootstrap"


def deploy_config(settings: Settings, config: ModelConfig, text: str) -> str:
    """Store a validated config where the steps read it; returns its S3 URI."""
    key = config_key(config.model)
    aws.put_bytes(settings.data_bucket, key, text.encode(), content_type="application/yaml")
    return aws.uri(settings.data_bucket, key)


class BootstrapOutcome(BaseModel):
    """What a bootstrap did: the version, its snapshot, every gate, and (when promoted) where it was published.

    ``previous_version`` is the champion the version was validated against (None for
    a first champion). ``config_uri``, ``champion_parameter`` and ``reference_uri``
    are None unless the version was promoted.
    """

    model: str
    version: int
    promoted: bool
    execution: str
    previous_version: int | None
    snapshot: SnapshotRef
    candidate: Candidate
    validation: ValidationOut
    config_uri: str | None = None
    champion_parameter: str | None = None
    reference_uri: str | None = None
    registration: fleet.Registration | None = None


# ------------------------------------------------------------------------------- inputs
def check_inputs(config: ModelConfig, reference: pd.DataFrame, *, source: str = "reference data") -> pd.DataFrame:
    """Check that ``reference`` can train and validate a first version of ``config``; returns the training frame.

    The frame is the reference's feature and target columns, in the reference's
    row order (its last ``training.holdout_fraction`` of rows is the holdout, as
    the snapshot's manifest will say). Nothing is written.

    Parameters
    ----------
    config
        The model's config.
    reference
        Historical rows with the features and the target.
    source
        Names the data in error messages (e.g. ``"reference data history.parquet"``).

    Raises
    ------
    EstimatorNotAllowed
        ``training.estimator`` is not allowlisted, or its ``training.params`` are invalid.
    SchemaMismatch
        A feature or the target column is missing, a numeric feature (or a
        regression target) holds a non-numeric value, a regression target is
        infinite, or a classification target holds continuous values or mixes
        types (:func:`retrain.training.classification_target`).
    InsufficientData
        Too few rows for the holdout split, fewer labelled training rows than
        ``training.min_rows``, no labelled holdout row, or (classification) fewer
        than two classes among the training rows.
    """
    check_config(config)
    require_columns(reference, [*config.features.all, config.target], what=source)
    frame = reference[[*config.features.all, config.target]].reset_index(drop=True)
    training.feature_frame(frame, config, source=source)  # numeric features are numeric
    # A classifier's labels as training will see them (whole-number floats as int classes); continuous ones refused.
    typed = (
        training.classification_target(frame[config.target], config.target, source)
        if config.problem == "classification"
        else None
    )
    labelled = _labelled(frame[config.target], config, source)
    n_rows = len(frame)
    if n_rows < 2:
        raise InsufficientData(f"{source} has {n_rows} row: at least 2 are needed for a training part and a holdout")
    fraction = config.training.holdout_fraction
    n_holdout = snapshot.holdout_rows(n_rows, fraction)
    n_train = n_rows - n_holdout
    split = (
        f"the first {n_train} of {n_rows} rows; the last {n_holdout} are the holdout "
        f"(training.holdout_fraction {fraction:g})"
    )
    train_labelled = int(labelled[:n_train].sum())
    if train_labelled < config.training.min_rows:
        need = math.ceil(config.training.min_rows / (1 - fraction))
        raise InsufficientData(
            f"{source}: {train_labelled} training rows with a target {config.target!r} ({split}), fewer than "
            f"training.min_rows == {config.training.min_rows}; about {need} labelled rows are needed"
        )
    if not labelled[n_train:].any():
        raise InsufficientData(f"{source}: no holdout row has a target {config.target!r} ({split})")
    if typed is not None:
        classes = typed[typed.index < n_train].unique().tolist()
        if len(classes) < 2:
            raise InsufficientData(
                f"{source}: target {config.target!r} has {len(classes)} class ({', '.join(map(repr, classes))}) "
                f"among its training rows ({split}); a classifier needs at least 2"
            )
    return frame


def _labelled(target: pd.Series, config: ModelConfig, source: str) -> np.ndarray:
    """Which rows have a target the training can use (a regression target must be a finite number)."""
    if config.problem == "classification":
        return np.asarray(target.notna(), dtype=bool)
    values, bad = targets.numbers(target)
    if bad.any():
        raise SchemaMismatch(
            f"{source}: target column {config.target!r} must be numeric, found {target[bad].iloc[0]!r} "
            f"({int(bad.sum())} non-numeric values)"
        )
    infinite = np.isinf(values)
    if infinite.any():
        raise SchemaMismatch(f"{source}: target column {config.target!r} holds {int(infinite.sum())} infinite values")
    return np.asarray(~np.isnan(values), dtype=bool)


def read_config(path: str | Path) -> tuple[ModelConfig, str]:
    """A config file, checked as a run would check it before training: ``(config, yaml text)``.

    Everything :func:`retrain.config.loads_config` validates (fields, types,
    metrics against the problem, triggers against features), and the estimator:
    allowlisted, of the config's problem kind, every parameter a parameter of
    its class with a value of the right type (:func:`retrain.training.build_pipeline`).
    ``retrain validate-config``, ``bootstrap``, ``register`` and ``local-run`` all
    call :func:`check_config`.

    Raises
    ------
    ConfigError, EstimatorNotAllowed
    """
    text = read_config_text(path)
    config = loads_config(text, source=str(path))
    check_config(config)
    return config, text


def check_config(config: ModelConfig) -> None:
    """What a run checks in a valid config before it trains: the estimator is allowlisted, solves the config's
    problem, and takes every configured parameter with a value of the right type.

    Raises
    ------
    EstimatorNotAllowed
    """
    training.build_pipeline(config)


def read_reference(path: str | Path, config: ModelConfig) -> pd.DataFrame:
    """Read a reference file (CSV or Parquet) and check it with :func:`check_inputs`; returns the training frame.

    Raises
    ------
    DataNotFound
        The file does not exist.
    UnreadableData
        The file is empty, a directory, not UTF-8, or cannot be parsed (see :mod:`retrain.files`).
    SchemaMismatch, InsufficientData, EstimatorNotAllowed
        See :func:`check_inputs`; duplicated column names.
    """
    frame = files.read_table(path, "reference")
    return check_inputs(config, frame, source=files.describe(path, "reference"))


# ---------------------------------------------------------------------------- bootstrap
def bootstrap(
    settings: Settings,
    config: ModelConfig,
    text: str,
    reference: pd.DataFrame,
    *,
    force: bool = False,
    source: str = "reference data",
    now: datetime | None = None,
    stack: fleet.FleetStack | None = None,
) -> BootstrapOutcome:
    """Train a version from historical data, validate it, and promote it only if every gate passes.

    Parameters
    ----------
    settings
        The stack's bucket, table and SSM names.
    config, text
        The model's config and its YAML text (uploaded once the version is promoted).
    reference
        Historical rows (features and target), in time order: the last
        ``training.holdout_fraction`` of them is the holdout.
    force
        When the model already has a champion: train a candidate anyway and
        validate it against the champion (every gate); it replaces the champion
        only if it passes. The caller's decision stands in for manual approval.
    source
        Names the reference in error messages.
    now
        The bootstrap's clock (the prediction-difference window ends here).
    stack
        The stack's schedule group, scheduler role and state machine: once the version is
        promoted the model is registered there (config, schedule and alarms,
        :func:`retrain.fleet.register`). None: the config is only uploaded.

    Returns
    -------
    BootstrapOutcome
        The promoted version, its snapshot and its gates.

    Raises
    ------
    SchemaMismatch, InsufficientData, EstimatorNotAllowed
        The inputs cannot make a model (:func:`check_inputs`); nothing was written.
    ChampionExists
        The model has a champion and ``force`` is False; nothing was written.
    BootstrapRejected
        A gate failed: the version is recorded ``rejected`` with the reasons; the
        champion, its SSM parameter and the deployed config are unchanged.
    PromotionConflict
        The champion changed while the version was trained; the version stays a candidate.
    """
    frame = check_inputs(config, reference, source=source)
    table = settings.registry_table
    champion = registry.get_champion(table, config.model)
    if champion is not None and not force:
        current = champion.version
        raise ChampionExists(
            f"model {config.model!r} already has a champion, v{current}: bootstrap refused, nothing written. "
            f"Use --force to train a candidate from this reference and validate it against v{current} "
            "(it replaces the champion only if it passes every gate)",
            champion_version=current,
        )
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    execution = f"{TRIGGER}-{stamp}"
    reference_key = layout.reference_key(config.model, stamp)
    ref = snapshot.create(
        settings.artifact_bucket,
        config.model,
        frame,
        sources=[{"key": reference_key}],  # stored there once the version is promoted
        holdout_fraction=config.training.holdout_fraction,
        timestamp_column=None,
        extra={"window": None, "trigger": TRIGGER},
        profile_for=config,  # the drift check's reference profile
    )
    candidate = fit_and_register(settings, config, ref, trigger=TRIGGER, execution=execution)
    window = (now - timedelta(days=config.monitoring.window_days), now)
    validation = evaluate(settings, config, ref, candidate, window=window)
    outcome = BootstrapOutcome(
        model=config.model,
        version=candidate.version,
        promoted=False,
        execution=execution,
        previous_version=validation.champion_version,
        snapshot=ref,
        candidate=candidate,
        validation=validation,
    )
    if not validation.passed:
        registry.record_rejection(table, config.model, candidate.version, validation.reasons)
        kept = f"champion v{validation.champion_version} unchanged" if validation.champion_version else "no champion"
        raise BootstrapRejected(
            f"{config.model} v{candidate.version} rejected, not promoted ({kept}, config not uploaded): "
            + "; ".join(validation.reasons),
            outcome=outcome,
        )
    expected = validation.champion_version if force else None
    promotion = registry.promote(table, config.model, candidate.version, expected=expected, execution=execution)
    parameter = publish_champion(settings, config.model, promotion)
    aws.put_bytes(settings.data_bucket, reference_key, to_parquet_bytes(frame))
    registration = fleet.register(stack, config, text) if stack is not None else None
    config_uri = registration.config_uri if registration else deploy_config(settings, config, text)
    return outcome.model_copy(
        update={
            "promoted": True,
            "config_uri": config_uri,
            "registration": registration,
            "champion_parameter": parameter,
            "reference_uri": aws.uri(settings.data_bucket, reference_key),
        }
    )
