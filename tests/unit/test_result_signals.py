"""``result.json``'s report of the metric check's signals: ``checks.metrics``, ``checks.flagged``, ``checks.estimated``.

The metric check's output here has the shape of ``retrain.steps.metric_check``:
the performance result at the top of ``details`` (as before), plus
``flagged``, ``estimated``, ``signals`` and ``reasons``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from retrain.result import build

pytestmark = pytest.mark.unit

METRICS = {"accuracy": 0.71, "f1": 0.81, "roc_auc": 0.64, "log_loss": 1.24, "brier": 0.25}
CI = {name: {"lower": value - 0.03, "upper": value + 0.03} for name, value in METRICS.items()}
FLAGGED = {
    "enabled": True,
    "n": 600,
    "count": 42,
    "rate": 0.07,
    "ci": {"lower": 0.052, "upper": 0.093},
    "confidence": 0.95,
    "max_rate": 0.05,
    "min_samples": 100,
    "min_count": 5,
    "source": "column+feed",
    "fired": True,
    "insufficient": False,
    "reason": "flagged rate 0.07 > 0.05 (42 of 600 predictions flagged)",
    "unmatched_feed_ids": 3,
}
ESTIMATED = {
    "available": True,
    "enabled": False,
    "n": 600,
    "metrics": {"accuracy": 0.93, "roc_auc": 0.97},
    "ci": {"accuracy": {"lower": 0.92, "upper": 0.94}, "roc_auc": {"lower": 0.96, "upper": 0.98}},
    "confidence": 0.95,
    "metric": None,
    "value": None,
    "threshold": None,
    "direction": None,
    "use": "estimate",
    "statistic": None,
    "min_samples": 100,
    "fired": False,
    "insufficient": False,
    "reason": None,
    "note": None,
}
METRIC_CHECK: dict[str, Any] = {
    "signal": "performance",
    "enabled": True,
    "fired": True,
    "insufficient": False,
    "reason": "accuracy 0.71 < 0.8; flagged rate 0.07 > 0.05 (42 of 600 predictions flagged)",
    "votes": [True, True],
    "details": {
        "n": 600,
        "n_predictions": 640,
        "match_rate": 0.9375,
        "metric": "accuracy",
        "value": 0.71,
        "threshold": 0.8,
        "direction": "min",
        "use": "estimate",
        "statistic": 0.71,
        "metrics": METRICS,
        "ci": CI,
        "confidence": 0.95,
        "unavailable": {},
        "fired": True,
        "insufficient": False,
        "reason": "accuracy 0.71 < 0.8",
        "flagged": FLAGGED,
        "estimated": ESTIMATED,
        "signals": {
            "performance": {"enabled": True, "fired": True, "insufficient": False, "votes": True},
            "flagged": {"enabled": True, "fired": True, "insufficient": False, "votes": True},
            "estimated": {"enabled": False, "fired": False, "insufficient": False, "votes": False},
        },
        "reasons": ["accuracy 0.71 < 0.8", "flagged rate 0.07 > 0.05 (42 of 600 predictions flagged)"],
    },
}


def _result(metric_check: dict[str, Any]) -> dict[str, Any]:
    state = {"run": {"trigger": "schedule", "mode": "check"}, "checks": {"metrics": metric_check}, "retrain": False}
    state["outcome"] = "no-retrain"
    described = {"executionArn": "arn:x", "status": "SUCCEEDED", "output": json.dumps(state)}
    return build(described, trigger="schedule", champion_before=1, champion_after=1)


def test_checks_metrics_keeps_its_flat_values_and_gains_intervals() -> None:
    metrics = _result(METRIC_CHECK)["checks"]["metrics"]

    assert {name: metrics[name] for name in METRICS} == METRICS
    assert metrics["ci"] == CI
    assert (metrics["n"], metrics["n_predictions"], metrics["match_rate"]) == (600, 640, 0.9375)
    assert (metrics["metric"], metrics["threshold"], metrics["use"], metrics["statistic"]) == (
        "accuracy",
        0.8,
        "estimate",
        0.71,
    )
    assert metrics["confidence"] == 0.95


def test_checks_metrics_verdict_is_the_performance_signal_own() -> None:
    # Given the check fired on the flagged rate only
    check = copy.deepcopy(METRIC_CHECK)
    check["details"].update(fired=False, reason=None)
    check["details"]["signals"]["performance"]["fired"] = False

    metrics = _result(check)["checks"]["metrics"]

    assert metrics["fired"] is False
    assert metrics["reason"] is None
    assert metrics["enabled"] is True
    assert metrics["insufficient"] is False


def test_checks_flagged_is_the_flagged_signal() -> None:
    assert _result(METRIC_CHECK)["checks"]["flagged"] == FLAGGED


def test_checks_estimated_is_the_label_free_estimate() -> None:
    assert _result(METRIC_CHECK)["checks"]["estimated"] == ESTIMATED


def test_a_metric_check_output_of_the_earlier_shape_still_reads() -> None:
    # Given details without signals, flagged or estimated (a check output of the first version)
    check = copy.deepcopy(METRIC_CHECK)
    for key in ("signals", "flagged", "estimated", "reasons", "ci", "use", "statistic", "unavailable"):
        del check["details"][key]

    checks = _result(check)["checks"]

    assert checks["metrics"]["accuracy"] == 0.71
    assert checks["metrics"]["fired"] is True
    assert checks["metrics"]["reason"] == METRIC_CHECK["reason"]
    assert checks["metrics"]["ci"] == {}
    assert "flagged" not in checks
    assert "estimated" not in checks
