"""Specification of retrain.validation: the holdout split and the candidate's gates.

Expected metric values are worked by hand: a classifier that gets k of 100 labels
wrong has accuracy (100 - k) / 100, and a regressor off by a constant c has RMSE |c|.
Two regressors off by constants are c - h apart in RMSE on *every* resample, so
their paired bootstrap interval collapses to that point: the "vs champion"
boundaries are tested exactly on them. The interval itself is specified in
test_validation_bootstrap.py.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retrain.config import ModelConfig, parse_config
from retrain.errors import ConfigError, InsufficientData, SchemaMismatch
from retrain.metrics.difference import difference_rate
from retrain.validation import (
    Gate,
    Latency,
    ValidationResult,
    measure_latency,
    split_holdout,
    validate,
)

pytestmark = pytest.mark.unit

N = 100


def make_config(
    problem: str = "classification",
    *,
    min: dict[str, float] | None = None,
    max: dict[str, float] | None = None,
    mode: str = "not_worse",
    delta: float = 0.0,
    **validation: Any,
) -> ModelConfig:
    return parse_config(
        {
            "model": "churn",
            "problem": problem,
            "target": "y",
            "features": {"numeric": ["x"], "categorical": ["plan", "region", "tier"]},
            "training": {"estimator": "LogisticRegression" if problem == "classification" else "Ridge"},
            "validation": {
                "min": min or {},
                "max": max or {},
                "compare": {"mode": mode, "delta": delta},
                "metric": "accuracy" if problem == "classification" else "rmse",
                **validation,
            },
        }
    )


def holdout(problem: str = "classification") -> pd.DataFrame:
    y = np.tile([0, 1], N // 2) if problem == "classification" else np.linspace(0.0, 10.0, N)
    return pd.DataFrame({"x": np.arange(N, dtype=float), "plan": "basic", "y": y})


def wrong_on(rows: range) -> np.ndarray:
    """Predictions for :func:`holdout` that are wrong on exactly ``rows``."""
    pred = holdout()["y"].to_numpy().copy()
    pred[list(rows)] = 1 - pred[list(rows)]
    return pred


def with_accuracy(accuracy: float) -> np.ndarray:
    """Predictions for :func:`holdout` with exactly the given accuracy."""
    y = holdout()["y"].to_numpy()
    wrong = round((1 - accuracy) * N)
    pred = y.copy()
    pred[:wrong] = 1 - pred[:wrong]
    return pred


def with_rmse(rmse: float) -> np.ndarray:
    """Predictions for :func:`holdout` ("regression") off by a constant, so RMSE == rmse."""
    return holdout("regression")["y"].to_numpy() + rmse


def gate(result: ValidationResult, name: str) -> Gate:
    return next(g for g in result.gates if g.name == name)


# --- candidate vs champion ----------------------------------------------------------------------

# (problem, good candidate, worse candidate, metric, good value, worse value)
CASES = [
    pytest.param("classification", with_accuracy(0.80), with_accuracy(0.70), "accuracy", 0.80, 0.70, id="accuracy"),
    pytest.param("regression", with_rmse(1.0), with_rmse(2.0), "rmse", 1.0, 2.0, id="rmse"),
]


@pytest.mark.parametrize(("problem", "good", "worse", "metric", "good_value", "worse_value"), CASES)
def test_worse_candidate_is_rejected(problem, good, worse, metric, good_value, worse_value) -> None:
    result = validate(make_config(problem), holdout(problem), candidate_pred=worse, champion_pred=good)

    assert not result.passed
    vs = gate(result, "vs champion")
    assert not vs.passed
    assert vs.value == pytest.approx(worse_value - good_value)
    assert vs.low is not None
    assert vs.high is not None
    assert vs.info["candidate"] == pytest.approx(worse_value)
    assert vs.info["champion"] == pytest.approx(good_value)
    interval = f"[{vs.low:+.4f}, {vs.high:+.4f}]"
    assert result.reasons == [
        f"vs champion: {metric} {worse_value:.4f} vs {good_value:.4f}: {worse_value - good_value:+.4f} {interval} "
        "may be worse"
    ]


@pytest.mark.parametrize(("problem", "good", "worse", "metric", "good_value", "worse_value"), CASES)
def test_clearly_better_candidate_is_accepted(problem, good, worse, metric, good_value, worse_value) -> None:
    result = validate(make_config(problem), holdout(problem), candidate_pred=good, champion_pred=worse)

    assert result.passed
    assert result.reasons == []
    assert result.metric == metric
    assert result.candidate_metrics[metric] == pytest.approx(good_value)
    assert result.champion_metrics is not None
    assert result.champion_metrics[metric] == pytest.approx(worse_value)
    assert result.comparison is not None
    assert result.comparison.resamples == 1000
    assert result.comparison.confidence == 0.95


@pytest.mark.parametrize(("problem", "good", "worse", "metric", "good_value", "worse_value"), CASES)
def test_identical_predictions_pass_not_worse(problem, good, worse, metric, good_value, worse_value) -> None:
    result = validate(make_config(problem), holdout(problem), candidate_pred=good, champion_pred=good)

    vs = gate(result, "vs champion")
    assert result.passed
    assert (vs.value, vs.low, vs.high) == (0.0, 0.0, 0.0)


def test_identical_predictions_fail_better_even_with_delta_zero() -> None:
    result = validate(make_config(mode="better"), holdout(), with_accuracy(0.8), with_accuracy(0.8))

    assert not result.passed
    assert result.reasons == [
        "vs champion: accuracy 0.8000 vs 0.8000: +0.0000 [+0.0000, +0.0000] not significantly better"
    ]


#: Champion wrong on rows 0-19 (accuracy 0.80), candidate on rows 10-28 (0.81): +0.01, far from significant.
NOISY_CHAMPION, NOISY_CANDIDATE = wrong_on(range(0, 20)), wrong_on(range(10, 29))


@pytest.mark.parametrize(
    ("delta", "verdict"), [(0.0, "not significantly better"), (0.01, "not better by 0.0100")], ids=["0", "0.01"]
)
def test_non_significant_improvement_is_rejected_under_better(delta: float, verdict: str) -> None:
    result = validate(make_config(mode="better", delta=delta), holdout(), NOISY_CANDIDATE, NOISY_CHAMPION)

    vs = gate(result, "vs champion")
    assert vs.value == pytest.approx(0.01)
    assert vs.low is not None
    assert vs.high is not None
    assert vs.low < 0 < vs.high
    assert not result.passed
    assert result.reasons == [
        f"vs champion: accuracy 0.8100 vs 0.8000: +0.0100 [{vs.low:+.4f}, {vs.high:+.4f}] {verdict}"
    ]


def test_the_same_non_significant_improvement_is_accepted_as_not_worse_within_delta() -> None:
    result = validate(make_config(mode="not_worse", delta=0.1), holdout(), NOISY_CANDIDATE, NOISY_CHAMPION)

    vs = gate(result, "vs champion")
    assert vs.low is not None
    assert -0.1 < vs.low < 0
    assert result.passed
    assert vs.detail is not None
    assert vs.detail.endswith("not worse by more than 0.1000")


def test_not_worse_without_delta_needs_the_interval_above_zero() -> None:
    result = validate(make_config(mode="not_worse"), holdout(), NOISY_CANDIDATE, NOISY_CHAMPION)

    assert not result.passed
    assert result.reasons[0].endswith("may be worse")


def test_significant_improvement_passes_better_by_delta() -> None:
    # Given a champion wrong on 30 rows and a candidate wrong on 5 of those: +0.25
    result = validate(make_config(mode="better", delta=0.05), holdout(), wrong_on(range(5)), wrong_on(range(30)))

    vs = gate(result, "vs champion")
    assert vs.low is not None
    assert vs.low > 0.05
    assert result.passed
    assert vs.detail is not None
    assert vs.detail.endswith("better by more than 0.0500")


@pytest.mark.parametrize(
    ("problem", "mode", "threshold"),
    [
        ("classification", "better", 0.02),
        ("classification", "not_worse", -0.02),
        ("regression", "better", -0.02),  # lower RMSE is better: the interval's top must be below -delta
        ("regression", "not_worse", 0.02),
    ],
)
def test_threshold_is_delta_in_the_metrics_direction(problem: str, mode: str, threshold: float) -> None:
    good = with_accuracy(0.8) if problem == "classification" else with_rmse(1.0)

    result = validate(make_config(problem, mode=mode, delta=0.02), holdout(problem), good, good)

    assert gate(result, "vs champion").threshold == pytest.approx(threshold)


@pytest.mark.parametrize(
    ("mode", "candidate", "champion", "delta", "passed"),
    [
        ("not_worse", 1.5, 1.0, 0.5, True),  # higher RMSE, but exactly within delta
        ("not_worse", 1.6, 1.0, 0.5, False),
        ("better", 0.4, 1.0, 0.5, True),  # lower RMSE by more than delta
        ("better", 0.5, 1.0, 0.5, False),  # by exactly delta: the interval must *exceed* it
        ("better", 1.0, 1.0, 0.0, False),
    ],
)
def test_regression_lower_rmse_is_better(mode, candidate, champion, delta, passed) -> None:
    # Constant offsets: every resample's difference is candidate - champion, so the interval is that point
    config = make_config("regression", mode=mode, delta=delta)

    result = validate(config, holdout("regression"), with_rmse(candidate), with_rmse(champion))

    vs = gate(result, "vs champion")
    assert vs.passed is passed
    assert vs.value == pytest.approx(candidate - champion)
    assert vs.low == pytest.approx(candidate - champion)
    assert vs.high == pytest.approx(candidate - champion)


def test_the_comparison_uses_the_configured_resamples_confidence_and_seed() -> None:
    config = make_config(compare={"mode": "better", "resamples": 200, "confidence": 0.8, "seed": 7})

    result = validate(config, holdout(), NOISY_CANDIDATE, NOISY_CHAMPION)

    vs = gate(result, "vs champion")
    assert vs.info | {"candidate": 0, "champion": 0} == {
        "candidate": 0,
        "champion": 0,
        "mode": "better",
        "delta": 0.0,
        "confidence": 0.8,
        "resamples": 200,
        "n": N,
    }
    assert result.comparison is not None
    assert result.comparison.resamples == 200


# --- slices -------------------------------------------------------------------------------------


def sliced_holdout() -> pd.DataFrame:
    """100 rows: plan "a" 0-59, "b" 60-89, and "c" 90-99 (10 rows, below min_size)."""
    return holdout().assign(plan=["a"] * 60 + ["b"] * 30 + ["c"] * 10)


SLICES = {"columns": ["plan"], "max_drop": 0.05, "min_size": 20}


def test_a_regression_in_one_slice_is_rejected() -> None:
    # Given a candidate much better overall (champion wrong on 30 rows of "a") but worse on slice "b" (3 of 30)
    champion = wrong_on(range(0, 30))
    candidate = wrong_on(range(60, 63))

    result = validate(make_config(slices=SLICES), sliced_holdout(), candidate, champion)

    assert gate(result, "vs champion").passed
    plan = gate(result, "slice plan")
    assert not plan.passed
    assert plan.value == pytest.approx(0.1)
    assert plan.threshold == 0.05
    assert not result.passed
    assert result.reasons == [
        "slice plan: plan=b (n=30): accuracy 0.9000 vs 1.0000, drop 0.1000 > 0.0500; skipped below 20 rows: c (n=10)"
    ]
    assert plan.info["skipped"] == [{"value": "c", "n": 10}]
    scores = {s.value: (s.candidate, s.champion, s.passed) for s in result.slices}
    assert scores == {"a": (1.0, 0.5, True), "b": (0.9, 1.0, False), "c": (None, None, None)}


def test_a_regression_in_a_slice_below_min_size_is_skipped_and_reported() -> None:
    # Given a candidate that fails every row of the small slice "c"
    candidate = wrong_on(range(90, 100))

    result = validate(make_config(slices=SLICES), sliced_holdout(), candidate, wrong_on(range(0, 30)))

    plan = gate(result, "slice plan")
    assert plan.passed
    assert plan.detail == (
        "worst plan=b (n=30): accuracy 1.0000 vs 1.0000, drop 0.0000 <= 0.0500; skipped below 20 rows: c (n=10)"
    )


def test_a_drop_of_exactly_max_drop_is_tolerated() -> None:
    # Given slice "a" of 60 rows where the candidate gets 3 more wrong: a drop of exactly 0.05
    result = validate(make_config(slices=SLICES), sliced_holdout(), wrong_on(range(0, 3)), with_accuracy(1.0))

    plan = gate(result, "slice plan")
    assert plan.value == pytest.approx(0.05)
    assert plan.passed


def test_each_slice_column_is_one_gate_and_missing_values_are_a_slice() -> None:
    df = sliced_holdout().assign(region=[np.nan] * 50 + [2.0] * 50)
    slices = {"columns": ["plan", "region"], "max_drop": 0.05, "min_size": 20}

    result = validate(make_config(slices=slices), df, with_accuracy(1.0), with_accuracy(1.0))

    assert [g.name for g in result.gates] == ["prediction sanity", "vs champion", "slice plan", "slice region"]
    assert sorted(s.value for s in result.slices if s.column == "region") == ["2", "<missing>"]


def test_rmse_slices_drop_when_the_error_rises() -> None:
    df = holdout("regression").assign(plan=["a"] * 50 + ["b"] * 50)
    candidate = with_rmse(1.0)
    candidate[50:] += 0.5  # slice "b": RMSE 1.5 against the champion's 1.0
    slices = {"columns": ["plan"], "max_drop": 0.25, "min_size": 20}

    result = validate(make_config("regression", slices=slices), df, candidate, with_rmse(1.0))

    plan = gate(result, "slice plan")
    assert not plan.passed
    assert plan.value == pytest.approx(0.5)


def test_a_slice_column_missing_from_the_holdout_is_a_schema_mismatch() -> None:
    with pytest.raises(SchemaMismatch, match=re.escape("slice column 'tier' (validation.slices.columns)")):
        validate(make_config(slices={**SLICES, "columns": ["tier"]}), holdout(), with_accuracy(0.8), with_accuracy(0.8))


def test_every_slice_column_missing_from_the_holdout_is_named() -> None:
    config = make_config(slices={**SLICES, "columns": ["tier", "plan", "region"]})
    message = "holdout is missing slice columns 'tier', 'region' (validation.slices.columns)"

    with pytest.raises(SchemaMismatch, match=f"^{re.escape(message)}$") as info:
        validate(config, holdout(), with_accuracy(0.8), with_accuracy(0.8))
    assert info.value.missing == ["tier", "region"]


# --- first model ----------------------------------------------------------------------------------


def test_a_first_model_faces_only_sanity_absolute_and_budget_gates() -> None:
    config = make_config(
        min={"accuracy": 0.7},
        slices=SLICES,
        max_prediction_difference=0.1,
        max_latency_p95_ms=10,
        max_artifact_bytes=1000,
    )

    result = validate(
        config,
        sliced_holdout(),
        with_accuracy(0.8),
        champion_pred=None,
        recent=(np.array([0, 1]), np.array([1, 0])),
        latency=Latency(p50_ms=1.0, p95_ms=2.0, calls=100),
        artifact_bytes=500,
    )

    assert [g.name for g in result.gates] == ["prediction sanity", "min accuracy", "latency p95", "artifact size"]
    assert result.passed
    assert result.comparison is None
    assert result.slices == []
    assert result.prediction_difference is None


# --- prediction difference ------------------------------------------------------------------------


def test_classification_difference_is_the_share_of_rows_predicted_differently() -> None:
    candidate = np.array(["a", "b", "c", "a", "a", "b", "c", "c"])
    champion = np.array(["a", "b", "c", "b", "b", "b", "a", "c"])  # rows 3, 4 and 6 differ

    assert difference_rate("classification", candidate, champion) == 3 / 8


def test_regression_difference_counts_rows_further_apart_than_the_tolerance() -> None:
    candidate = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    champion = np.array([1.0, 2.05, 3.2, np.nan, 4.9])  # apart by 0, 0.05, 0.2, NaN, 0.1

    assert difference_rate("regression", candidate, champion, tolerance=0.1) == 2 / 5
    assert difference_rate("regression", candidate, champion) == 4 / 5


def test_no_recent_rows_have_no_difference() -> None:
    assert difference_rate("classification", np.array([]), np.array([])) is None


RECENT = (np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1]), np.array([0, 1, 0, 0, 1, 1, 0, 1, 0, 1]))  # 3 of 10 differ


@pytest.mark.parametrize(("ceiling", "passed"), [(0.2, False), (0.3, True)])
def test_prediction_difference_above_its_ceiling_is_rejected(ceiling: float, passed: bool) -> None:
    config = make_config(max_prediction_difference=ceiling)

    result = validate(config, holdout(), with_accuracy(0.8), with_accuracy(0.8), recent=RECENT)

    difference = gate(result, "prediction difference")
    assert difference.passed is passed
    assert result.passed is passed
    assert difference.value == pytest.approx(0.3)
    assert difference.threshold == ceiling
    assert difference.info == {"n": 10}
    op = "<=" if passed else ">"
    assert difference.detail == f"30.00% of 10 recent inputs predicted differently ({op} {ceiling:.2%})"


def test_prediction_difference_is_reported_without_a_ceiling() -> None:
    result = validate(make_config(), holdout(), with_accuracy(0.8), with_accuracy(0.8), recent=RECENT)

    assert "prediction difference" not in [g.name for g in result.gates]
    assert result.prediction_difference == pytest.approx(0.3)
    assert result.n_recent == 10


def test_without_recent_inputs_the_ceiling_is_skipped_and_said() -> None:
    config = make_config(max_prediction_difference=0.1)
    empty = (np.array([]), np.array([]))

    result = validate(config, holdout(), with_accuracy(0.8), with_accuracy(0.8), recent=empty)

    difference = gate(result, "prediction difference")
    assert difference.passed
    assert difference.value is None
    assert difference.detail == "no recent inputs in the monitoring window: not measured"


def test_an_unmeasured_prediction_difference_fails_its_ceiling() -> None:
    config = make_config(max_prediction_difference=0.1)

    result = validate(config, holdout(), with_accuracy(0.8), with_accuracy(0.8), recent=None)

    assert result.reasons == ["prediction difference: not measured"]


# --- latency and size budgets ---------------------------------------------------------------------


@pytest.mark.parametrize(("p95", "passed"), [(9.5, True), (10.0, True), (12.25, False)])
def test_latency_p95_over_budget_is_rejected(p95: float, passed: bool) -> None:
    config = make_config(max_latency_p95_ms=10)
    latency = Latency(p50_ms=1.0, p95_ms=p95, calls=100)

    result = validate(config, holdout(), with_accuracy(0.8), None, latency=latency)

    assert result.passed is passed
    assert gate(result, "latency p95").value == p95
    if not passed:
        assert result.reasons == ["latency p95: 12.250 ms per single-row call (p95 of 100) > 10 ms"]


@pytest.mark.parametrize(("size", "passed"), [(999_999, True), (1_000_000, True), (1_000_001, False)])
def test_artifact_over_its_size_budget_is_rejected(size: int, passed: bool) -> None:
    config = make_config(max_artifact_bytes=1_000_000)

    result = validate(config, holdout(), with_accuracy(0.8), None, artifact_bytes=size)

    assert result.passed is passed
    assert gate(result, "artifact size").value == size
    if not passed:
        assert result.reasons == ["artifact size: 1000001 bytes (0.95 MiB) > 1000000 bytes"]


@pytest.mark.parametrize("budget", ["max_latency_p95_ms", "max_artifact_bytes"])
def test_an_unmeasured_budget_fails(budget: str) -> None:
    budgets: dict[str, Any] = {budget: 10}
    result = validate(make_config(**budgets), holdout(), with_accuracy(0.8), None)

    assert not result.passed
    assert result.reasons[0].endswith(": not measured")


def test_measurements_without_budgets_are_reported_but_not_gated() -> None:
    latency = Latency(p50_ms=1.0, p95_ms=2.0, calls=100)

    result = validate(make_config(), holdout(), with_accuracy(0.8), None, latency=latency, artifact_bytes=123)

    assert [g.name for g in result.gates] == ["prediction sanity"]
    assert result.latency == latency
    assert result.artifact_bytes == 123


class _Clock:
    """A fake ``perf_counter``: each prediction takes the next of ``durations`` (seconds)."""

    def __init__(self, durations: list[float]) -> None:
        self.now, self.durations, self.reads = 0.0, iter(durations), 0

    def __call__(self) -> float:
        self.reads += 1
        if self.reads % 2 == 0:  # the clock read after a prediction
            self.now += next(self.durations)
        return self.now


class _Model:
    def __init__(self) -> None:
        self.calls: list[pd.DataFrame] = []

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        self.calls.append(X)
        return np.zeros(len(X))


def test_latency_is_the_p95_of_timed_single_row_calls_after_the_warm_up() -> None:
    # Given single-row calls taking 1, 2, ..., 100 ms
    model, features = _Model(), pd.DataFrame({"x": np.arange(250.0)})

    latency = measure_latency(model, features, calls=100, warmup=3, clock=_Clock([i / 1000 for i in range(1, 101)]))

    # Then the p95 is the linear-interpolation percentile: 95 + 0.05 * (96 - 95)
    assert latency.p95_ms == pytest.approx(95.05)
    assert latency.p50_ms == pytest.approx(50.5)
    assert latency.calls == 100
    assert len(model.calls) == 103
    assert all(len(X) == 1 for X in model.calls)
    assert model.calls[3].index[0] == 0
    assert model.calls[-1].index[0] == 249


def test_latency_of_an_empty_holdout_is_insufficient_data() -> None:
    with pytest.raises(InsufficientData):
        measure_latency(_Model(), pd.DataFrame({"x": []}))


# --- sanity: expected classes ---------------------------------------------------------------------


def test_a_class_seen_neither_in_training_nor_in_the_holdout_fails_sanity() -> None:
    pred = with_accuracy(0.9)
    pred[:3] = 7

    result = validate(make_config(), holdout(), pred, None, classes=[0, 1])

    assert result.reasons == ["prediction sanity: predicts 1 class seen neither in training nor in the holdout: 7"]


def test_a_class_seen_in_training_only_is_expected() -> None:
    pred = with_accuracy(0.9)
    pred[:3] = 2

    result = validate(make_config(), holdout(), pred, None, classes=[0, 1, 2])

    assert result.passed
    assert gate(result, "prediction sanity").detail == (
        "100 predictions, none missing, 3 classes, all seen in training or the holdout"
    )


def test_labels_of_another_type_than_the_holdouts_fail_sanity() -> None:
    pred = with_accuracy(0.9).astype(str)  # "0" and "1" against integer labels

    result = validate(make_config(), holdout(), pred, None)

    assert result.reasons == [
        "prediction sanity: predicts 2 classes seen neither in training nor in the holdout: '0', '1'"
    ]


def test_regression_predictions_must_be_numbers() -> None:
    pred = np.asarray(["1.0"] * N, dtype=object)

    result = validate(make_config("regression"), holdout("regression"), pred, None)

    assert result.reasons == ["prediction sanity: regression predictions must be numbers, got dtype object"]


def test_with_insane_candidate_predictions_the_comparisons_are_not_computed() -> None:
    pred = np.r_[with_accuracy(0.8)[:-1], 9]

    result = validate(make_config(slices=SLICES), sliced_holdout(), pred, with_accuracy(0.8), classes=[0, 1])

    assert [r.split(":")[0] for r in result.reasons] == ["prediction sanity", "vs champion", "slice plan"]
    assert gate(result, "vs champion").detail == "not computed"


# --- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validation", "field"),
    [
        ({"compare": {"confidence": 1.0}}, "validation.compare.confidence"),
        ({"compare": {"resamples": 10}}, "validation.compare.resamples"),
        ({"compare": {"seed": -1}}, "validation.compare.seed"),
        ({"slices": {"columns": [], "max_drop": 0.1}}, "validation.slices.columns"),
        ({"slices": {"columns": ["plan", "plan"], "max_drop": 0.1}}, "validation.slices.columns"),
        ({"slices": {"columns": ["plan"]}}, "validation.slices.max_drop"),
        ({"slices": {"columns": ["plan"], "max_drop": -0.1}}, "validation.slices.max_drop"),
        ({"slices": {"columns": ["plan"], "max_drop": 0.1, "min_size": 0}}, "validation.slices.min_size"),
        ({"slices": {"columns": ["plan"], "max_drop": 0.1, "min_rows": 5}}, "validation.slices.min_rows"),
        ({"max_prediction_difference": 1.5}, "validation.max_prediction_difference"),
        ({"prediction_difference_tolerance": -1}, "validation.prediction_difference_tolerance"),
        ({"max_latency_p95_ms": 0}, "validation.max_latency_p95_ms"),
        ({"max_artifact_bytes": 0}, "validation.max_artifact_bytes"),
    ],
)
def test_config_errors_name_the_field(validation: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{field}: ")):
        make_config(**validation)


def test_duplicate_slice_columns_are_named() -> None:
    with pytest.raises(ConfigError, match=r"validation.slices.columns: listed more than once: plan"):
        make_config(slices={"columns": ["plan", "plan"], "max_drop": 0.1})


def test_validation_defaults() -> None:
    spec = make_config().validation

    assert spec.compare.model_dump() == {
        "mode": "not_worse",
        "delta": 0.0,
        "confidence": 0.95,
        "resamples": 1000,
        "seed": 0,
    }
    assert spec.slices is None
    assert (spec.max_prediction_difference, spec.max_latency_p95_ms, spec.max_artifact_bytes) == (None, None, None)
    assert spec.prediction_difference_tolerance == 0.0
    assert make_config(slices={"columns": ["plan"], "max_drop": 0.1}).validation.slices.min_size == 50  # type: ignore[union-attr]


# --- absolute gates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "pred", "bounds", "passed", "reason"),
    [
        ("classification", with_accuracy(0.85), {"min": {"accuracy": 0.8}}, True, None),
        (
            "classification",
            with_accuracy(0.71),
            {"min": {"accuracy": 0.8}},
            False,
            "min accuracy: 0.7100 < 0.8000",
        ),
        ("regression", with_rmse(2.0), {"max": {"rmse": 2.5}}, True, None),
        ("regression", with_rmse(3.0), {"max": {"rmse": 2.5}}, False, "max rmse: 3.0000 > 2.5000"),
    ],
)
def test_first_model_has_only_absolute_gates(problem, pred, bounds, passed, reason) -> None:
    result = validate(make_config(problem, **bounds), holdout(problem), pred, champion_pred=None)

    assert [g.name for g in result.gates] == [
        "prediction sanity",
        *(f"{k} {m}" for k, v in bounds.items() for m in v),
    ]
    assert result.champion_metrics is None
    assert result.passed is passed
    assert result.reasons == ([] if reason is None else [reason])


def test_bound_exactly_met_passes() -> None:
    result = validate(make_config(min={"accuracy": 0.8}), holdout(), with_accuracy(0.8), None)

    assert result.passed


def test_gates_run_in_order_and_every_failure_has_a_reason() -> None:
    config = make_config("regression", min={"r2": 0.99}, max={"rmse": 0.5, "mae": 0.5})

    result = validate(config, holdout("regression"), with_rmse(1.0), with_rmse(0.5))

    assert [g.name for g in result.gates] == [
        "prediction sanity",
        "min r2",
        "max rmse",
        "max mae",
        "vs champion",
    ]
    assert [r.split(":")[0] for r in result.reasons] == ["min r2", "max rmse", "max mae", "vs champion"]
    assert result.n_holdout == N


# --- prediction sanity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "pred", "detail"),
    [
        ("regression", np.r_[with_rmse(1.0)[:-1], np.nan], "1 of 100 predictions are missing or not finite"),
        ("regression", np.r_[with_rmse(1.0)[:-1], np.inf], "1 of 100 predictions are missing or not finite"),
        ("classification", np.r_[with_accuracy(1.0)[:-2], [None, None]], "2 of 100 predictions are missing"),
        ("classification", with_accuracy(1.0)[:-1], "99 predictions for 100 holdout rows"),
    ],
)
def test_insane_predictions_fail_the_first_gate(problem: str, pred: np.ndarray, detail: str) -> None:
    config = make_config(problem, min={"accuracy": 0.5} if problem == "classification" else {})

    result = validate(config, holdout(problem), pred, champion_pred=None)

    assert not result.passed
    sanity = result.gates[0]
    assert sanity.name == "prediction sanity"
    assert not sanity.passed
    assert detail in (sanity.detail or "")
    assert result.reasons[0].startswith("prediction sanity: ")
    assert result.candidate_metrics == {}


def test_holdout_rows_without_a_target_are_left_out() -> None:
    # Given 100 correct predictions, where the 10 wrong ones are on unlabelled rows
    df = holdout()
    pred = with_accuracy(0.9)
    df["y"] = df["y"].astype(float)
    df.loc[:9, "y"] = np.nan

    result = validate(make_config(min={"accuracy": 1.0}), df, pred, None)

    assert result.n_holdout == 90
    assert result.candidate_metrics["accuracy"] == pytest.approx(1.0)


def test_holdout_without_target_column_is_a_schema_mismatch() -> None:
    with pytest.raises(SchemaMismatch, match="holdout is missing target column 'y'"):
        validate(make_config(), holdout().drop(columns=["y"]), with_accuracy(0.8), None)


def test_holdout_without_any_label_is_insufficient_data() -> None:
    df = holdout().assign(y=np.nan)

    with pytest.raises(InsufficientData, match="no row with a target"):
        validate(make_config(), df, with_accuracy(0.8), None)


def test_champion_predictions_of_the_wrong_length_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="champion_pred: 99 predictions for 100 holdout rows"):
        validate(make_config(), holdout(), with_accuracy(0.8), with_accuracy(0.8)[:-1])


def test_result_is_json_serializable() -> None:
    result = validate(make_config(min={"accuracy": 0.9}), holdout(), with_accuracy(0.8), with_accuracy(0.7))

    assert ValidationResult.model_validate_json(result.model_dump_json()) == result


# --- split_holdout ------------------------------------------------------------------------------


def test_holdout_is_the_most_recent_rows() -> None:
    # Given rows whose timestamps are out of order
    times = pd.date_range("2024-01-01", periods=10, freq="D")
    order = [3, 9, 0, 7, 1, 8, 2, 6, 4, 5]
    df = pd.DataFrame({"timestamp": times[order], "row": order})

    train, hold = split_holdout(df, 0.3, "timestamp")

    assert hold["row"].tolist() == [7, 8, 9]
    assert train["row"].tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_string_timestamps_are_ordered_as_times_and_ties_keep_row_order() -> None:
    df = pd.DataFrame(
        {
            "timestamp": ["2024-01-02T00:00:00Z", "2024-01-01T12:00:00+00:00", "2024-01-02T00:00:00Z", None],
            "row": ["b1", "a", "b2", "unknown"],
        }
    )

    train, hold = split_holdout(df, 0.5, "timestamp")

    assert train["row"].tolist() == ["unknown", "a"]
    assert hold["row"].tolist() == ["b1", "b2"]


@pytest.mark.parametrize("timestamp_column", [None, "absent"])
def test_without_a_timestamp_the_row_order_is_kept(timestamp_column: str | None) -> None:
    df = pd.DataFrame({"row": [5, 1, 4, 2, 3]})

    train, hold = split_holdout(df, 0.4, timestamp_column)

    assert train["row"].tolist() == [5, 1, 4]
    assert hold["row"].tolist() == [2, 3]


@pytest.mark.parametrize(("n_rows", "fraction"), [(0, 0.2), (1, 0.5), (2, 0.1), (4, 0.9)])
def test_split_needs_a_row_on_each_side(n_rows: int, fraction: float) -> None:
    with pytest.raises(InsufficientData, match="need at least 1 training row and 1 holdout row"):
        split_holdout(pd.DataFrame({"row": range(n_rows)}), fraction, None)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_split_fraction_must_be_between_zero_and_one(fraction: float) -> None:
    with pytest.raises(ValueError, match=f"fraction == {fraction!r}, must be > 0 and < 1"):
        split_holdout(pd.DataFrame({"row": range(10)}), fraction, None)


def test_unreadable_timestamps_are_a_schema_mismatch() -> None:
    df = pd.DataFrame({"timestamp": ["yesterday", "2024-01-01", "soon"], "row": [1, 2, 3]})

    with pytest.raises(SchemaMismatch, match="timestamp column 'timestamp'"):
        split_holdout(df, 0.3, "timestamp")


def test_a_primary_metric_that_needs_probabilities_is_a_config_error_naming_the_field() -> None:
    # Given a config whose primary metric cannot be computed from predicted labels (built without validation)
    config = make_config()
    config = config.model_copy(update={"validation": config.validation.model_copy(update={"metric": "roc_auc"})})

    with pytest.raises(ConfigError, match=r"validation.metric: the primary metric 'roc_auc' cannot be computed"):
        validate(config, holdout(), with_accuracy(0.8), with_accuracy(0.8))
