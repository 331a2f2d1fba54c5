"""Model-quality signals of a monitoring window, and the triggers on them.

- realized metrics on labelled predictions (classification: accuracy, balanced
  accuracy, precision/recall/F1 binary and macro, ROC AUC, log loss, Brier;
  regression: RMSE, MAE, MAPE, R²), each with a seeded bootstrap confidence
  interval and its sample size;
- label-free estimates of the classification metrics from the model's own
  probabilities (confidence-based performance estimation, as NannyML's CBPE);
- the rate of predictions flagged by people, with a Wilson interval.

Pure numpy/pandas: every metric is a few vectorized lines written to give
scikit-learn's values (``zero_division=0``) without paying scikit-learn's
import time at cold start. The modules:

- :mod:`~retrain.metrics.results`: the result models;
- :mod:`~retrain.metrics.engine`: checked inputs, the weighted bootstrap and the scorers;
- :mod:`~retrain.metrics.encodings`: labels, predictions and probabilities as the engine's statistics;
- :mod:`~retrain.metrics.compute`: the public metrics, estimate and flagged rate;
- :mod:`~retrain.metrics.calibration`: calibrating the probabilities the estimate reads;
- :mod:`~retrain.metrics.loss`: a regression model's label-free MAE and RMSE (direct loss estimation);
- :mod:`~retrain.metrics.triggers`: the triggers' verdicts.

Joining labels to predictions and typing them as the model's classes is data
plumbing, in :mod:`retrain.labels` (re-exported here).
"""

from __future__ import annotations

from retrain.labels import AlignedLabels, align_labels, join_labels, probability_columns
from retrain.metrics.calibration import Calibration, fit_calibration
from retrain.metrics.compute import (
    compute_metrics,
    estimate_performance,
    flag_values,
    realized_performance,
    wilson_interval,
)
from retrain.metrics.loss import LossModel, estimate_losses, fit_loss_model
from retrain.metrics.results import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_SAMPLES,
    DEFAULT_RESAMPLES,
    EstimatedResult,
    FlaggedResult,
    Interval,
    MetricsResult,
    PerformanceResult,
)
from retrain.metrics.triggers import evaluate_estimated, evaluate_flagged, evaluate_performance

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_RESAMPLES",
    "AlignedLabels",
    "Calibration",
    "EstimatedResult",
    "FlaggedResult",
    "Interval",
    "LossModel",
    "MetricsResult",
    "PerformanceResult",
    "align_labels",
    "compute_metrics",
    "estimate_losses",
    "estimate_performance",
    "evaluate_estimated",
    "evaluate_flagged",
    "evaluate_performance",
    "fit_calibration",
    "fit_loss_model",
    "flag_values",
    "join_labels",
    "probability_columns",
    "realized_performance",
    "wilson_interval",
]
