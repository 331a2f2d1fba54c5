"""Metric check: model quality on labelled predictions of the monitoring window."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from retrain.contracts import CheckOut, Run
from retrain.data import require_columns
from retrain.metrics import compute_metrics, evaluate_performance, join_labels
from retrain.observability import metrics
from retrain.settings import Settings
from retrain.steps.common import inference_window, labels_since, load_model_config, window_bounds


def run(run: Run, *, settings: Settings) -> CheckOut:
    """Join the window's inference log with its labels and judge the configured metric.

    An empty window or too few labelled rows is reported as insufficient data,
    never as a trigger. A log without the id, prediction or timestamp column is
    a :class:`~retrain.errors.SchemaMismatch`.
    """
    config = load_model_config(settings, run.model)
    trigger = config.triggers.performance
    mon = config.monitoring
    start, end = window_bounds(run)
    inference, _ = inference_window(settings, config, start, end)
    details: dict = {"n": 0, "n_predictions": len(inference), "match_rate": 0.0}
    if inference.empty:
        return CheckOut(
            signal="performance",
            enabled=trigger is not None,
            triggered=False,
            insufficient=True,
            reason=f"insufficient data: no predictions between {run.window_start} and {run.window_end}",
            details=details,
        )
    require_columns(inference, [mon.id_column, mon.prediction_column], what="inference log")
    labels, _ = labels_since(settings, config, start, end)
    if labels.empty:
        joined, match_rate = inference.iloc[0:0].assign(**{config.target: []}), 0.0
    else:
        joined, match_rate = join_labels(inference, labels, id_column=mon.id_column, target=config.target)
    y_true = joined[config.target].to_numpy()
    y_pred = joined[mon.prediction_column].to_numpy()
    details.update(n=len(joined), match_rate=round(match_rate, 6))
    metrics.add_dimension(name="model", value=run.model)
    metrics.add_metric(name="LabelMatchRate", unit=MetricUnit.Percent, value=100 * match_rate)
    if trigger is None:
        values = compute_metrics(config.problem, y_true, y_pred) if len(joined) else {}
        details["metrics"] = values
        return CheckOut(signal="performance", enabled=False, triggered=False, details=details)
    result = evaluate_performance(trigger, config.problem, y_true, y_pred, match_rate=match_rate)
    details.update(result.model_dump(mode="json"))
    if result.value is not None and not result.insufficient:
        metrics.add_metric(name=result.metric, unit=MetricUnit.NoUnit, value=result.value)
    return CheckOut(
        signal="performance",
        enabled=True,
        triggered=result.triggered,
        insufficient=result.insufficient,
        reason=result.reason,
        votes=[] if result.insufficient else [result.triggered],
        details=details,
    )
