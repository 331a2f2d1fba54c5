"""Metric check: the model-quality signals of the monitoring window.

Three signals, each with its own trigger in the model's config:

- ``performance``: realized metrics on the predictions whose labels arrived
  (joined by id), each with a bootstrap confidence interval;
- ``flagged``: the share of the window's predictions that people flagged (a
  ``flagged`` column of the inference log and/or a feed of flagged ids under
  ``flags/<model>/date=YYYY-MM-DD/``);
- ``estimated``: the label-free estimate, on every prediction of the window: a
  classifier's metrics from its logged class probabilities, calibrated by the
  champion's calibrator (CBPE); a regression model's MAE and RMSE from the
  champion's loss model on the logged features and predictions (DLE).

An enabled signal with enough data casts one vote (True: it fires); one without
enough data is reported and never votes. Every signal with enough data is
published as a CloudWatch metric (EMF, dimension ``model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from aws_lambda_powertools.metrics import MetricUnit

from retrain import registry, snapshot
from retrain.config import ModelConfig, estimated_metric_name
from retrain.contracts import CheckOut, Run
from retrain.data import read_partitions
from retrain.frames import require_columns
from retrain.labels import AlignedLabels, align_labels, join_labels, probability_columns
from retrain.layout import flags_prefix
from retrain.metrics import (
    DEFAULT_MIN_SAMPLES,
    Calibration,
    EstimatedResult,
    FlaggedResult,
    LossModel,
    MetricsResult,
    evaluate_estimated,
    evaluate_flagged,
    evaluate_performance,
    flag_values,
    realized_performance,
)
from retrain.observability import logger, metrics
from retrain.settings import Settings
from retrain.steps.model_config import load_model_config
from retrain.windows import inference_window, labels_since, window_bounds

__all__ = ["estimated_metric_name", "run"]


@dataclass(frozen=True)
class _Signal:
    """One signal's verdict: ``fired`` counts as a vote only when the signal is enabled and had enough data."""

    enabled: bool
    fired: bool
    insufficient: bool
    reason: str | None

    @property
    def votes(self) -> bool:
        return self.enabled and not self.insufficient


def run(run: Run, *, settings: Settings) -> CheckOut:
    """Judge every model-quality signal of the run's window and publish them.

    An empty window is insufficient data for every signal, never a trigger. A
    log without the id or prediction column, a ``flagged`` column that is not
    boolean, a flags feed without the id column, regression labels that are not
    finite numbers, or classification labels encoded differently from the
    champion's classes (:func:`~retrain.metrics.align_labels`) is a
    :class:`~retrain.errors.SchemaMismatch`. Labels of a class the champion never
    saw, among labels it knows, are scored as misses and listed in
    ``details["unseen_labels"]``.
    """
    config = load_model_config(settings, run.model)
    triggers, mon = config.triggers, config.monitoring
    enabled = any(t is not None for t in (triggers.performance, triggers.flagged, triggers.estimated))
    start, end = window_bounds(run)
    inference, _ = inference_window(settings, config, start, end)
    details: dict[str, Any] = {"n": 0, "n_predictions": len(inference), "match_rate": 0.0}
    if inference.empty:
        none = np.array([], dtype=bool)
        flagged = evaluate_flagged(triggers.flagged, none, source="none", confidence=mon.confidence)
        estimated = evaluate_estimated(triggers.estimated, config.problem, none, proba=None, classes=None)
        details.update(flagged=flagged.model_dump(mode="json"), estimated=estimated.model_dump(mode="json"))
        return CheckOut(
            signal="performance",
            enabled=enabled,
            insufficient=True,
            reason=f"insufficient data: no predictions between {run.window_start} and {run.window_end}",
            details=details,
        )
    require_columns(inference, [mon.id_column, mon.prediction_column], what="inference log")
    columns, classes = _probabilities(inference, config)
    labelled = _labelled(settings, config, run, inference, classes)  # checked before anything is published
    metrics.add_dimension(name="model", value=run.model)
    signals = {
        "performance": _performance(config, inference, labelled, columns, classes, details),
        "flagged": _flagged(settings, config, run, inference, details),
        "estimated": _estimated(settings, config, inference, columns, classes, details),
    }
    votes = [s.fired for s in signals.values() if s.votes]
    firing = [s.reason for s in signals.values() if s.votes and s.fired and s.reason]
    lacking = [s.reason for s in signals.values() if s.enabled and s.insufficient and s.reason]
    details["signals"] = {
        name: {"enabled": s.enabled, "fired": s.fired, "insufficient": s.insufficient, "votes": s.votes}
        for name, s in signals.items()
    }
    details["reasons"] = firing + lacking
    return CheckOut(
        signal="performance",
        enabled=enabled,
        insufficient=bool(lacking),
        reason="; ".join(firing or lacking) or None,
        votes=votes,
        details=details,
    )


def _probabilities(inference: pd.DataFrame, config: ModelConfig) -> tuple[list[str], list[Any]]:
    """The class-probability columns of a classifier's log and their classes (none for regression)."""
    if config.problem != "classification":
        return [], []
    mon = config.monitoring
    return probability_columns(inference, mon.proba_prefix, inference[mon.prediction_column])


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray | None:
    return frame[columns].to_numpy(dtype=np.float64, na_value=np.nan) if columns else None


@dataclass(frozen=True)
class _Labelled:
    """The window's predictions that received a label, the share that did, and their checked labels."""

    joined: pd.DataFrame
    match_rate: float
    labels: AlignedLabels


def _labelled(
    settings: Settings, config: ModelConfig, run: Run, inference: pd.DataFrame, classes: list[Any]
) -> _Labelled:
    """Join the labels that arrived to the predictions and check them against the champion (:func:`align_labels`)."""
    mon = config.monitoring
    labels, _ = labels_since(settings, config, *window_bounds(run))
    if labels.empty:
        joined, match_rate = inference.iloc[0:0].assign(**{config.target: []}), 0.0
    else:
        joined, match_rate = join_labels(inference, labels, id_column=mon.id_column, target=config.target)
    y_pred = joined[mon.prediction_column].to_numpy()
    model = f"v{run.champion_version}" if run.champion_version else "the champion"
    aligned = align_labels(
        config.problem, joined[config.target], y_pred, classes=classes, column=config.target, model=model
    )
    return _Labelled(joined=joined, match_rate=match_rate, labels=aligned)


def _performance(
    config: ModelConfig,
    inference: pd.DataFrame,
    labelled: _Labelled,
    columns: list[str],
    classes: list[Any],
    details: dict[str, Any],
) -> _Signal:
    """Realized metrics on the labelled predictions; the performance trigger's verdict."""
    mon, trigger = config.monitoring, config.triggers.performance
    joined, match_rate = labelled.joined, labelled.match_rate
    y_true, y_pred = labelled.labels.values, joined[mon.prediction_column].to_numpy()
    n = len(joined)
    details.update(n=n, match_rate=round(match_rate, 6))
    if labelled.labels.unseen:
        _report_unseen(labelled.labels, n, details)
    common: dict[str, Any] = {
        "proba": _matrix(joined, columns),
        "classes": classes or None,
        "confidence": mon.confidence,
        "resamples": mon.bootstrap_resamples,
    }
    metrics.add_metric(name="LabelMatchRate", unit=MetricUnit.Percent, value=100 * match_rate)
    metrics.add_metric(name="Predictions", unit=MetricUnit.Count, value=len(inference))
    metrics.add_metric(name="LabelledPredictions", unit=MetricUnit.Count, value=n)
    if trigger is None:
        report = realized_performance(config.problem, y_true, y_pred, **common) if n else MetricsResult(n=0)
        details.update(metrics=report.values, ci=_intervals(report.ci), confidence=mon.confidence)
        details.update(unavailable=report.unavailable, resamples=report.resamples)
        if n >= DEFAULT_MIN_SAMPLES:
            _publish_values(report.values)
        return _Signal(enabled=False, fired=False, insufficient=n < DEFAULT_MIN_SAMPLES, reason=None)
    result = evaluate_performance(trigger, config.problem, y_true, y_pred, match_rate=match_rate, **common)
    details.update(result.model_dump(mode="json"))
    if n >= trigger.min_samples:
        _publish_values(result.metrics)
        if trigger.use != "estimate" and result.statistic is not None:
            metrics.add_metric(name=f"{trigger.metric}_{trigger.use}", unit=MetricUnit.NoUnit, value=result.statistic)
    return _Signal(enabled=True, fired=result.fired, insufficient=result.insufficient, reason=result.reason)


def _report_unseen(aligned: AlignedLabels, n: int, details: dict[str, Any]) -> None:
    """A new class among the labels: the champion cannot predict it (each such row is a miss); say so."""
    details["unseen_labels"] = {"labels": aligned.unseen, "rows": aligned.unseen_rows, "classes": aligned.classes}
    logger.warning(
        "labels %s were never seen by the champion, which knows %s: %d of %d labelled predictions are of a new "
        "class and count as misses",
        aligned.unseen,
        aligned.classes,
        aligned.unseen_rows,
        n,
    )


def _flags(settings: Settings, config: ModelConfig, run: Run, inference: pd.DataFrame) -> tuple[np.ndarray, str, int]:
    """One flag per prediction (column and/or feed), the source, and feed ids that match no prediction."""
    mon = config.monitoring
    flags = np.zeros(len(inference), dtype=bool)
    sources: list[str] = []
    unmatched = 0
    if mon.flagged_column in inference.columns:
        flags |= flag_values(inference[mon.flagged_column], name=mon.flagged_column)
        sources.append("column")
    feed, objects = read_partitions(settings.data_bucket, flags_prefix(config.model), *window_bounds(run))
    if objects:
        sources.append("feed")
        if not feed.empty:
            require_columns(feed, [mon.id_column], what="flags feed")
            if mon.flagged_column in feed.columns:  # a feed may also carry explicit un-flags
                feed = feed.loc[flag_values(feed[mon.flagged_column], name=mon.flagged_column)]
            ids = pd.Index(feed[mon.id_column].dropna().unique())
            logged = inference[mon.id_column]
            flags |= logged.isin(ids).to_numpy()
            unmatched = int((~ids.isin(logged)).sum())
    return flags, "+".join(sources) or "none", unmatched


def _flagged(
    settings: Settings, config: ModelConfig, run: Run, inference: pd.DataFrame, details: dict[str, Any]
) -> _Signal:
    """The flagged rate of the window; the flagged trigger's verdict."""
    trigger = config.triggers.flagged
    flags, source, unmatched = _flags(settings, config, run, inference)
    result: FlaggedResult = evaluate_flagged(trigger, flags, source=source, confidence=config.monitoring.confidence)
    details["flagged"] = {**result.model_dump(mode="json"), "unmatched_feed_ids": unmatched}
    if (source != "none" or trigger is not None) and not result.insufficient and result.rate is not None:
        metrics.add_metric(name="FlaggedRate", unit=MetricUnit.Percent, value=100 * result.rate)
        metrics.add_metric(name="FlaggedPredictions", unit=MetricUnit.Count, value=result.count)
    return _Signal(
        enabled=trigger is not None, fired=result.fired, insufficient=result.insufficient, reason=result.reason
    )


def _estimated(
    settings: Settings,
    config: ModelConfig,
    inference: pd.DataFrame,
    columns: list[str],
    classes: list[Any],
    details: dict[str, Any],
) -> _Signal:
    """The label-free estimate on every prediction of the window (CBPE or DLE); the estimated trigger's verdict."""
    mon, trigger = config.monitoring, config.triggers.estimated
    calibration, loss_model = _estimators(settings, config)
    # The loss model reads the features (a regression model's estimate); a classifier's reads the probabilities.
    present = [c for c in config.features.all if c in inference.columns]
    features = inference[present] if config.problem == "regression" else None
    result: EstimatedResult = evaluate_estimated(
        trigger,
        config.problem,
        inference[mon.prediction_column].to_numpy(),
        proba=_matrix(inference, columns),
        classes=classes or None,
        calibration=calibration,
        loss_model=loss_model,
        features=features,
        confidence=mon.confidence,
        resamples=mon.bootstrap_resamples,
    )
    details["estimated"] = result.model_dump(mode="json")
    if result.available and result.n >= result.min_samples:
        for name, value in result.metrics.items():
            metrics.add_metric(name=estimated_metric_name(name), unit=MetricUnit.NoUnit, value=value)
        if trigger is not None and trigger.use != "estimate" and result.statistic is not None:
            name = estimated_metric_name(f"{trigger.metric}_{trigger.use}")
            metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=result.statistic)
    return _Signal(
        enabled=trigger is not None, fired=result.fired, insufficient=result.insufficient, reason=result.reason
    )


def _estimators(settings: Settings, config: ModelConfig) -> tuple[Calibration | None, LossModel | None]:
    """The champion's probability calibration (a classifier) or loss model (a regression model), if it has one.

    Both are read from the champion's model profile, verified against the
    registry's sha256 (:class:`~retrain.errors.ArtifactIntegrityError` if it
    differs). No champion, or a version trained before they existed: None.
    """
    champion = registry.get_champion(settings.registry_table, config.model)
    if champion is None:
        return None, None
    profile = snapshot.load_model_profile(champion.artifact_uri, sha256=champion.model_profile_sha256)
    meta = profile.meta if profile is not None else {}
    calibration = Calibration.model_validate(meta["calibration"]) if "calibration" in meta else None
    loss_model = LossModel.model_validate(meta["loss_model"]) if "loss_model" in meta else None
    return calibration, loss_model


def _publish_values(values: dict[str, float]) -> None:
    for name, value in values.items():
        metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=value)


def _intervals(ci: dict[str, Any]) -> dict[str, Any]:
    return {name: interval.model_dump(mode="json") for name, interval in ci.items()}
