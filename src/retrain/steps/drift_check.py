"""Drift check: the monitoring window against the champion's training data, and the champion's outputs.

Signals, each one vote when enabled and given enough data (insufficient data never votes):

- data set drift (always, when ``triggers.drift`` is set): every feature against
  the champion snapshot's reference profile (:func:`retrain.drift.detect_drift`);
- ``multivariate``: a domain classifier on the profile's row sample vs the window;
- ``prediction``: the champion's logged predictions (or scores) against their
  distribution on its holdout, recorded at training time;
- ``prediction_difference``: how often champion and the latest candidate disagree on the window.

The profile is read from S3 (written when the snapshot was made); an older
snapshot without one, or one that lacks a feature, is profiled here from its data.

A window of many partitions (``triggers.drift.engine``) is not read here: :func:`run`
writes a batch manifest and returns a plan, the ``ProfileWindow`` Distributed Map
profiles the batches (:mod:`retrain.steps.drift_profile`), and :func:`judge` merges
their profiles. Both paths end in :func:`check`, which judges a DataFrame window and
a merged profile alike (see docs/drift.md, "Distributed drift check").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from retrain import aws, layout, registry, snapshot
from retrain.config import DriftTrigger, ModelConfig
from retrain.contracts import CheckOut, DriftJudgeInput, DriftPlanOut, Run
from retrain.drift import (
    MultivariateDrift,
    PredictionDriftResult,
    ReferenceProfile,
    WindowProfile,
    detect_drift,
    domain_classifier,
    prediction_difference,
    prediction_drift,
)
from retrain.drift.distributions import distributions
from retrain.drift.merge import WindowColumn
from retrain.drift.profile import build_profile, reference_profile
from retrain.errors import ConfigError, DataNotFound, InsufficientData
from retrain.observability import logger, metrics
from retrain.settings import Settings
from retrain.steps import drift_batches as batches
from retrain.steps.model_config import load_model_config
from retrain.windows import inference_window, window_bounds, window_objects

#: Largest ``details`` (JSON bytes) a check returns: Step Functions' payload limit is 256 KB for the whole state.
MAX_DETAILS_BYTES = 120_000


@dataclass(frozen=True)
class Window:
    """The window a check judges: every row (single engine), or a merged profile and a row sample (distributed).

    ``data`` is what the data set drift and the distributions read (a DataFrame
    or a :class:`~retrain.drift.WindowProfile`, judged alike); ``rows`` are the
    rows the domain classifier and the prediction difference rate see (the
    window itself, or its seeded uniform sample).
    """

    data: pd.DataFrame | WindowProfile
    rows: pd.DataFrame
    engine: str = "single"

    @property
    def n_rows(self) -> int:
        return self.data.n_rows if isinstance(self.data, WindowProfile) else len(self.data)

    @property
    def columns(self) -> list[str]:
        data = self.data
        return list(data.schema) if isinstance(data, WindowProfile) else [str(c) for c in data.columns]

    def column(self, name: str) -> pd.Series | WindowColumn | None:
        """A column's values (a DataFrame window) or its profile (a profiled window); None when absent."""
        if isinstance(self.data, WindowProfile):
            return self.data.columns.get(name)
        return self.data[name] if name in self.data.columns else None


def run(run: Run, *, settings: Settings) -> CheckOut | DriftPlanOut:
    """Compare the window with the champion's reference; one vote per enabled signal with enough data.

    When the window is to be profiled in batches (``triggers.drift.engine``),
    writes the batch manifest and returns a :class:`~retrain.contracts.DriftPlanOut`
    for the state machine's Distributed Map instead; :func:`judge` then gives the verdict.

    Raises :class:`~retrain.errors.ModelNotFound` when the model has no
    champion and :class:`~retrain.errors.ConfigError` when
    ``triggers.drift.features`` names a column that is not a feature.
    """
    config, policy, champion = _prepare(settings, run)
    start, end = window_bounds(run)
    objects = window_objects(settings, config, start, end)
    if batches.distributed(policy, len(objects)):
        return batches.plan(settings, run, policy, objects)
    current, _ = inference_window(settings, config, start, end, objects=objects)
    return check(settings, run, config, champion, Window(current, current))


def judge(request: DriftJudgeInput, *, settings: Settings) -> CheckOut:
    """The verdict on a window the Distributed Map profiled: the batches' profiles merged, then as :func:`run`.

    Raises
    ------
    UnreadableData, SchemaMismatch, DataNotFound, AccessDenied, BatchFailed
        A batch failed: its recorded error, of its recorded type, naming the batch and its object.
    DataNotFound, BatchMismatch
        The batches' profiles do not cover exactly the manifest's objects (the message names the batch).
    """
    run = request.run
    config, policy, champion = _prepare(settings, run)
    profile, sample = batches.merged(settings, request, policy, seed=config.training.seed)
    return check(settings, run, config, champion, Window(profile, sample, engine="distributed"))


def _prepare(settings: Settings, run: Run) -> tuple[ModelConfig, DriftTrigger, registry.ChampionPointer]:
    config = load_model_config(settings, run.model)
    policy = config.triggers.drift or DriftTrigger()
    try:
        policy.check_features(config.features.numeric, config.features.categorical)
    except ValueError as exc:
        raise ConfigError(f"config of model {run.model!r}: {exc}") from exc
    return config, policy, registry.require_champion(settings.registry_table, run.model)


def check(
    settings: Settings, run: Run, config: ModelConfig, champion: registry.ChampionPointer, window: Window
) -> CheckOut:
    """Every signal on ``window`` (rows or a merged profile), the EMF metrics, the distributions: the check's output."""
    trigger = config.triggers.drift
    policy = trigger or DriftTrigger()
    if window.n_rows == 0:
        return CheckOut(
            signal="drift",
            enabled=trigger is not None,
            insufficient=True,
            reason=f"insufficient data: no predictions between {run.window_start} and {run.window_end}",
            details={"share": 0.0, "fired": False, "features": {}, "n_current": 0, "engine": window.engine},
        )
    profile, source = _reference(settings, config, champion.snapshot_id, champion.snapshot_profile_sha256)
    model_profile = snapshot.load_model_profile(champion.artifact_uri, sha256=champion.model_profile_sha256)
    importances = model_profile.meta.get("importances") if model_profile is not None else None
    report = detect_drift(
        profile,
        window.data,
        numeric=config.features.numeric,
        categorical=config.features.categorical,
        p_value=policy.p_value,
        share=policy.share,
        min_samples=policy.min_samples,
        correction=policy.correction,
        bins=policy.bins,
        thresholds=policy.thresholds,
        features=policy.features,
        missing_threshold=policy.missing_threshold,
        importances=importances,
        importance_share=policy.importance_share,
        ignore_columns=_monitoring_columns(config, window.columns),
    )
    details: dict[str, Any] = report.model_dump(mode="json")
    details.update(n_current=window.n_rows, n_reference=profile.n_rows, profile=source, engine=window.engine)
    if window.engine != "single":
        details["n_sample"] = len(window.rows)
    details["distributions_uri"] = _store_distributions(settings, run, profile, window.data, config.features.all)
    votes: list[bool] = []
    reasons: list[str] = []
    if not report.insufficient:
        votes.append(report.fired)
        if report.fired and report.reason:
            reasons.append(report.reason)

    checks: list[tuple[str, Any]] = []
    if policy.multivariate is not None and not report.insufficient:
        checks.append(("multivariate", _multivariate(policy, config, profile, window.rows)))
    if policy.prediction is not None:
        checks.append(("prediction", _prediction(settings, policy, config, champion, model_profile, profile, window)))
    if policy.prediction_difference is not None:
        checks.append(("prediction_difference", _difference(settings, policy, config, champion, window.rows)))
    for name, outcome in checks:
        details[name] = outcome.model_dump(mode="json")
        fired = _fired(outcome)
        if fired is None:
            continue
        votes.append(fired)
        if fired and outcome.reason:
            reasons.append(outcome.reason)

    _publish(run.model, report, checks)
    if trigger is None:
        votes = []
    details["votes"] = {
        "dataset": None if report.insufficient else report.fired,
        **{name: _fired(outcome) for name, outcome in checks},
    }
    return CheckOut(
        signal="drift",
        enabled=trigger is not None,
        insufficient=report.insufficient,
        votes=votes,
        reason="; ".join(reasons) if reasons else (report.reason if report.insufficient else None),
        details=_fit(details),
    )


# ------------------------------------------------------------------ reference
def _reference(
    settings: Settings, config: ModelConfig, snapshot_id: str, sha256: str | None
) -> tuple[ReferenceProfile, str]:
    """The champion snapshot's stored profile (``"stored"``), or one profiled now from its data (``"computed"``).

    The stored profile is verified against ``sha256`` (the registry's copy of the
    manifest's hash) or, for a champion promoted before profiles were hashed, the manifest's.
    """
    stored = snapshot.load_profile(settings.artifact_bucket, config.model, snapshot_id, sha256=sha256)
    if stored is not None and not stored.lacking(config.features.numeric, config.features.categorical):
        return stored, "stored"
    frame, _ = snapshot.load(settings.artifact_bucket, config.model, snapshot_id)
    logger.info("profiling snapshot %s: no stored profile covers every feature", snapshot_id[:12])
    return reference_profile(config, frame, meta={"model": config.model, "snapshot_id": snapshot_id}), "computed"


def _monitoring_columns(config: ModelConfig, columns: list[str]) -> list[str]:
    mon = config.monitoring
    prefix = getattr(mon, "proba_prefix", None)
    names = [mon.id_column, mon.timestamp_column, mon.prediction_column, getattr(mon, "flagged_column", "flagged")]
    if prefix:
        names += [c for c in columns if c.startswith(prefix)]
    return names


# ------------------------------------------------------------------ more signals
def _fired(outcome: Any) -> bool | None:
    """The vote of a signal's outcome: None when it had too little data."""
    if getattr(outcome, "insufficient", False):
        return None
    return bool(getattr(outcome, "fired", False))


class Unavailable(BaseModel):
    """A signal that could not be computed (insufficient data: it does not vote), with why."""

    model_config = ConfigDict(extra="allow")

    insufficient: bool = True
    reason: str


def _unavailable(reason: str, **fields: Any) -> Unavailable:
    return Unavailable(reason=reason, **fields)


def _multivariate(policy: DriftTrigger, config: ModelConfig, profile: ReferenceProfile, current: pd.DataFrame) -> Any:
    settings = policy.multivariate
    assert settings is not None
    numeric, categorical = config.features.present(current.columns)
    try:
        result: MultivariateDrift = domain_classifier(
            profile,
            current,
            numeric=numeric,
            categorical=categorical,
            auc_threshold=settings.auc,
            p_value=policy.p_value,
            folds=settings.folds,
            max_rows=settings.max_rows,
            seed=config.training.seed,
        )
    except InsufficientData as exc:
        return _unavailable(f"insufficient data: {exc}")
    return result


def _prediction(
    settings: Settings,
    policy: DriftTrigger,
    config: ModelConfig,
    champion: registry.ChampionPointer,
    model_profile: ReferenceProfile | None,
    profile: ReferenceProfile,
    window: Window,
) -> Any:
    options = policy.prediction
    assert options is not None
    mon = config.monitoring
    if model_profile is None:
        model_profile = _predictions_of_sample(settings, config, champion, profile)
        if model_profile is None:
            return _unavailable("insufficient data: the champion has no reference distribution of its predictions")
    on, values = "prediction", window.column(mon.prediction_column)
    positive = model_profile.meta.get("positive_class")
    score_column = f"{getattr(mon, 'proba_prefix', 'proba_')}{positive}" if positive is not None else None
    score = window.column(score_column) if score_column else None
    if score is not None and "score" in model_profile.columns:
        on, values = "score", score
    if values is None:
        return _unavailable(f"insufficient data: the inference log has no {mon.prediction_column!r} column")
    reference = model_profile.columns.get(on)
    if reference is None:
        return _unavailable(f"insufficient data: no reference distribution of {on!r}")
    result: PredictionDriftResult = prediction_drift(
        reference,
        values,
        on=on,
        method=options.method,
        threshold=options.threshold,
        p_value=policy.p_value,
        bins=policy.bins,
        min_samples=options.min_samples,
    )
    return result


def _predictions_of_sample(
    settings: Settings, config: ModelConfig, champion: registry.ChampionPointer, profile: ReferenceProfile
) -> ReferenceProfile | None:
    """Fallback for a champion trained before model profiles: its predictions on the reference's row sample."""
    if profile.sample is None or profile.sample.empty:
        return None
    model = _load_model(champion.artifact_uri, champion.sha256)
    from retrain import training

    sample = profile.sample.reindex(columns=config.features.all)
    predictions = training.predict(model, sample, config, source="reference sample")
    numeric, categorical = ([], ["prediction"]) if config.problem == "classification" else (["prediction"], [])
    return build_profile(
        pd.DataFrame({"prediction": predictions}), numeric=numeric, categorical=categorical, sample_rows=0
    )


def _load_model(uri: str, sha256: str) -> Any:
    from retrain import training

    bucket, key = aws.split_uri(uri)
    return training.loads(aws.get_bytes(bucket, key), expected_sha256=sha256)


def _difference(
    settings: Settings,
    policy: DriftTrigger,
    config: ModelConfig,
    champion: registry.ChampionPointer,
    current: pd.DataFrame,
) -> Any:
    options = policy.prediction_difference
    assert options is not None
    champion_version = champion.version
    newer = [
        v
        for v in registry.list_versions(settings.registry_table, config.model)
        if v.version > champion_version and v.status in ("candidate", "rejected")
    ]
    if not newer:
        return _unavailable(
            f"insufficient data: no candidate newer than the champion v{champion_version}",
            champion_version=champion_version,
        )
    candidate = max(newer, key=lambda v: v.version)
    from retrain import training

    try:
        champion_model = _load_model(champion.artifact_uri, champion.sha256)
        candidate_model = _load_model(candidate.artifact_uri, candidate.artifact_sha256)
    except DataNotFound as exc:
        return _unavailable(f"insufficient data: {exc}", champion_version=champion_version)
    rows = current.reindex(columns=config.features.all)
    result = prediction_difference(
        training.predict(champion_model, rows, config, source="current window"),
        training.predict(candidate_model, rows, config, source="current window"),
        problem=config.problem,
        tolerance=options.tolerance,
        max_rate=options.max_rate,
        min_samples=options.min_samples,
    )
    return result.model_copy(update={"champion_version": champion_version, "candidate_version": candidate.version})


# ------------------------------------------------------------------ output
def _store_distributions(
    settings: Settings, run: Run, profile: ReferenceProfile, current: pd.DataFrame | WindowProfile, features: list[str]
) -> str:
    """Write every feature's reference and current distributions for the run's report; returns their S3 URI.

    They go to S3, not into the state: a hundred features' bins would take a
    fifth of Step Functions' 256 KB payload.
    """
    body = json.dumps(distributions(profile, current, features), separators=(",", ":")).encode()
    key = layout.report_key(run.model, run.execution, layout.DISTRIBUTIONS_FILE)
    aws.put_bytes(settings.artifact_bucket, key, body, content_type="application/json")
    return aws.uri(settings.artifact_bucket, key)


def _publish(model: str, report: Any, checks: list[tuple[str, Any]]) -> None:
    """EMF metrics (dimension ``model``) for alarms and dashboards."""
    values: list[tuple[str, MetricUnit, float]] = []
    if not report.insufficient:
        values += [
            ("DriftShare", MetricUnit.NoUnit, report.share),
            ("DriftedFeatures", MetricUnit.Count, report.n_drifted),
            ("SchemaDriftColumns", MetricUnit.Count, len(report.schema_drifted)),
        ]
        if report.weighted_share is not None:
            values.append(("ImportanceWeightedDriftShare", MetricUnit.NoUnit, report.weighted_share))
    for name, outcome in checks:
        if getattr(outcome, "insufficient", False):
            continue
        if name == "multivariate":
            values.append(("DomainClassifierAuc", MetricUnit.NoUnit, outcome.auc))
        elif name == "prediction" and outcome.result is not None:
            values.append(("PredictionDriftEffect", MetricUnit.NoUnit, outcome.result.effect))
        elif name == "prediction_difference" and outcome.rate is not None:
            values.append(("PredictionDifferenceRate", MetricUnit.NoUnit, outcome.rate))
    if not values:
        return
    metrics.add_dimension(name="model", value=model)
    for name, unit, value in values:
        metrics.add_metric(name=name, unit=unit, value=float(value))


def _fit(details: dict[str, Any]) -> dict[str, Any]:
    """Keep ``details`` under :data:`MAX_DETAILS_BYTES`: drop the least drifted features' entries if needed."""
    if len(json.dumps(details, default=str)) <= MAX_DETAILS_BYTES:
        return details
    features: dict[str, Any] = details["features"]
    ranked = sorted(features, key=lambda n: (not features[n]["fired"], -float(features[n]["effect"])))
    kept: dict[str, Any] = {}
    budget = MAX_DETAILS_BYTES - len(json.dumps({**details, "features": {}}, default=str)) - 200
    for name in ranked:
        size = len(json.dumps({name: features[name]}, default=str))
        if size > budget:
            break
        kept[name] = features[name]
        budget -= size
    return {**details, "features": kept, "features_omitted": len(features) - len(kept)}
