"""Drift check: every feature of the monitoring window against the champion's training data."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from retrain import registry, snapshot
from retrain.config import DriftTrigger
from retrain.contracts import CheckOut, Run
from retrain.drift import detect_drift
from retrain.observability import metrics
from retrain.settings import Settings
from retrain.steps.common import inference_window, load_model_config, window_bounds


def run(run: Run, *, settings: Settings) -> CheckOut:
    """Compare the window's features with the champion's snapshot (its reference).

    Raises :class:`~retrain.errors.ModelNotFound` when the model has no champion
    and :class:`~retrain.errors.SchemaMismatch` naming a feature the window lacks.
    """
    config = load_model_config(settings, run.model)
    trigger = config.triggers.drift
    policy = trigger or DriftTrigger()
    champion = registry.require_champion(settings.registry_table, run.model)
    reference, _ = snapshot.load(settings.artifact_bucket, run.model, champion["snapshot_id"])
    start, end = window_bounds(run)
    current, _ = inference_window(settings, config, start, end)
    if current.empty:
        return CheckOut(
            signal="drift",
            enabled=trigger is not None,
            triggered=False,
            insufficient=True,
            reason=f"insufficient data: no predictions between {run.window_start} and {run.window_end}",
            details={"share": 0.0, "drifted": False, "features": {}, "n_current": 0},
        )
    report = detect_drift(
        reference,
        current,
        numeric=config.features.numeric,
        categorical=config.features.categorical,
        p_value=policy.p_value,
        share=policy.share,
        min_samples=policy.min_samples,
    )
    if not report.insufficient:
        metrics.add_dimension(name="model", value=run.model)
        metrics.add_metric(name="DriftShare", unit=MetricUnit.NoUnit, value=report.share)
        metrics.add_metric(name="DriftedFeatures", unit=MetricUnit.Count, value=report.n_drifted)
    details = report.model_dump(mode="json")
    details.update(n_current=len(current), n_reference=len(reference))
    return CheckOut(
        signal="drift",
        enabled=trigger is not None,
        triggered=trigger is not None and report.drifted,
        insufficient=report.insufficient,
        votes=[report.drifted] if trigger is not None and not report.insufficient else [],
        reason=report.reason if report.drifted or report.insufficient else None,
        details=details,
    )
