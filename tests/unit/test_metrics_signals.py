"""Realized metrics with confidence intervals, label-free estimates (CBPE) and the flagged rate.

Every value is checked against an independent reference: scikit-learn's own
metrics (with sample weights for the expected confusion of CBPE), scipy's
Wilson interval, a loop of scikit-learn calls over the very same bootstrap
resamples, or a population value known in closed form (coverage).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn import metrics as skm

from retrain.config import ESTIMATED_METRICS, EstimatedTrigger, FlaggedTrigger, PerformanceTrigger
from retrain.errors import SchemaMismatch
from retrain.labels import probability_columns
from retrain.metrics import (
    LossModel,
    engine,
    estimate_performance,
    evaluate_estimated,
    evaluate_flagged,
    evaluate_performance,
    fit_calibration,
    fit_loss_model,
    flag_values,
    realized_performance,
    wilson_interval,
)

pytestmark = pytest.mark.unit


def _binary(n: int, seed: int, *, labels: tuple = (0, 1)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated binary probabilities, labels drawn from them, and the thresholded predictions."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2.0, 3.0, n)
    y = np.where(rng.random(n) < p, labels[1], labels[0])
    pred = np.where(p > 0.5, labels[1], labels[0])
    return y, pred, np.c_[1.0 - p, p]


def _multiclass(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, (n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > proba.cumsum(axis=1)).sum(axis=1)
    return y, proba.argmax(axis=1), proba


def _sklearn_binary(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, classes: list) -> dict[str, float]:
    positive = classes[1]
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1": skm.f1_score(y, pred, pos_label=positive, zero_division=0),
        "precision": skm.precision_score(y, pred, pos_label=positive, zero_division=0),
        "recall": skm.recall_score(y, pred, pos_label=positive, zero_division=0),
        "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y == positive, proba[:, 1]),
        "log_loss": skm.log_loss(y, proba, labels=classes),
        "brier": skm.brier_score_loss(y, proba, labels=classes),
    }


# realized metrics against scikit-learn ------------------------------------------------------------------


@pytest.mark.parametrize("labels", [(0, 1), ("no", "yes"), (False, True)], ids=["int", "string", "bool"])
@pytest.mark.parametrize("seed", [0, 1])
def test_binary_metrics_match_sklearn(labels: tuple, seed: int) -> None:
    # Given calibrated probabilities and labels of one of three kinds
    y, pred, proba = _binary(400, seed, labels=labels)

    # When
    report = realized_performance("classification", y, pred, proba=proba, classes=list(labels))

    # Then every metric equals scikit-learn's on the same rows
    assert report.n == 400
    assert report.unavailable == {}
    assert report.values == pytest.approx(_sklearn_binary(y, pred, proba, list(labels)), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multiclass_metrics_match_sklearn(seed: int) -> None:
    y, pred, proba = _multiclass(500, 4, seed)

    report = realized_performance("classification", y, pred, proba=proba, classes=[0, 1, 2, 3])

    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1": skm.f1_score(y, pred, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"),
        "log_loss": skm.log_loss(y, proba, labels=[0, 1, 2, 3]),
        "brier": skm.brier_score_loss(y, proba, labels=[0, 1, 2, 3]),
    }
    assert {name: report.values[name] for name in expected} == pytest.approx(expected, rel=1e-12)


def test_roc_auc_with_tied_scores_matches_sklearn() -> None:
    # Given probabilities rounded to one decimal: many ties, which count one half
    y, pred, proba = _binary(300, 3)
    rounded = np.round(proba, 1)

    report = realized_performance("classification", y, pred, proba=rounded, classes=[0, 1])

    assert report.values["roc_auc"] == pytest.approx(skm.roc_auc_score(y, rounded[:, 1]), rel=1e-12)


def test_log_loss_clips_certain_wrong_predictions_as_sklearn() -> None:
    y = np.array([0, 1, 1, 0])
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])  # row 3 is certain and wrong

    report = realized_performance("classification", y, proba.argmax(axis=1), proba=proba, classes=[0, 1])

    assert report.values["log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(50.0, 10.0, 300)
    pred = y + rng.normal(0.0, 4.0, 300)

    report = realized_performance("regression", y, pred)

    assert report.values == pytest.approx(
        {
            "rmse": np.sqrt(skm.mean_squared_error(y, pred)),
            "mae": skm.mean_absolute_error(y, pred),
            "mape": skm.mean_absolute_percentage_error(y, pred),
            "r2": skm.r2_score(y, pred),
        },
        rel=1e-10,
    )


def test_mape_of_a_zero_target_uses_sklearn_epsilon() -> None:
    y = np.array([0.0, 2.0, 4.0])
    pred = np.array([1.0, 2.0, 5.0])

    report = realized_performance("regression", y, pred)

    assert report.values["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred), rel=1e-12)


# unavailable metrics -----------------------------------------------------------------------------------


def test_without_probabilities_the_probability_metrics_are_unavailable_with_the_reason() -> None:
    y, pred, _ = _binary(200, 0)

    report = realized_performance("classification", y, pred)

    assert set(report.unavailable) == {"roc_auc", "log_loss", "brier"}
    assert report.unavailable["roc_auc"] == "the inference log has no class probabilities"
    assert "accuracy" in report.values
    assert "roc_auc" not in report.values


def test_a_label_without_a_probability_column_makes_probability_metrics_unavailable() -> None:
    y = np.array([0, 1, 2, 1])
    proba = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5], [0.4, 0.6]])

    report = realized_performance("classification", y, np.array([0, 1, 1, 1]), proba=proba, classes=[0, 1])

    assert report.unavailable["log_loss"] == "labels 2 have no probability column"
    assert report.values["accuracy"] == 0.75


def test_roc_auc_of_a_single_class_is_undefined() -> None:
    y = np.ones(50, dtype=int)
    proba = np.c_[np.full(50, 0.2), np.full(50, 0.8)]

    report = realized_performance("classification", y, np.ones(50, dtype=int), proba=proba, classes=[0, 1])

    assert report.unavailable["roc_auc"] == "undefined on this window"
    assert report.values["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=[0, 1]))


@pytest.mark.parametrize(
    ("proba", "why"),
    [
        (np.array([[0.5, np.nan], [0.5, 0.5]]), "1 rows have missing probabilities"),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), "probabilities outside [0, 1]"),
    ],
    ids=["missing", "out of range"],
)
def test_unusable_probabilities_are_reported_not_raised(proba: np.ndarray, why: str) -> None:
    report = realized_performance("classification", np.array([0, 1]), np.array([0, 1]), proba=proba, classes=[0, 1])

    assert report.unavailable["brier"] == why


def test_probabilities_of_the_wrong_shape_are_rejected_naming_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"proba must have shape \(2, 2\)"):
        realized_performance("classification", [0, 1], [0, 1], proba=np.ones((2, 3)) / 3, classes=[0, 1])


# confidence intervals ----------------------------------------------------------------------------------


def test_every_metric_has_an_interval_around_its_estimate() -> None:
    y, pred, proba = _binary(500, 4)

    report = realized_performance("classification", y, pred, proba=proba, classes=[0, 1])

    assert set(report.ci) == set(report.values)
    for name, value in report.values.items():
        assert report.ci[name].lower <= value <= report.ci[name].upper, name
        assert report.ci[name].lower < report.ci[name].upper, name


def test_intervals_are_reproducible_for_a_seed_and_differ_across_seeds() -> None:
    y, pred, proba = _binary(300, 5)

    first = realized_performance("classification", y, pred, proba=proba, classes=[0, 1], seed=7)
    again = realized_performance("classification", y, pred, proba=proba, classes=[0, 1], seed=7)
    other = realized_performance("classification", y, pred, proba=proba, classes=[0, 1], seed=8)

    assert first == again
    assert first.ci["accuracy"] != other.ci["accuracy"]


def test_the_vectorized_bootstrap_equals_a_loop_of_sklearn_calls_on_the_same_resamples() -> None:
    # Given the resample indices the engine draws (one (resamples, n) integer array from the seed)
    n, resamples, seed = 120, 100, 11
    rng = np.random.default_rng(0)
    y = rng.normal(10.0, 3.0, n)
    pred = y + rng.normal(0.0, 1.0, n)
    drawn = np.random.default_rng(seed).integers(0, n, size=(resamples, n))

    # When
    report = realized_performance("regression", y, pred, resamples=resamples, seed=seed, confidence=0.9)

    # Then its interval is the percentile interval of scikit-learn's values on those resamples
    for name, reference in {
        "rmse": lambda t, p: np.sqrt(skm.mean_squared_error(t, p)),
        "mae": skm.mean_absolute_error,
        "mape": skm.mean_absolute_percentage_error,
        "r2": skm.r2_score,
    }.items():
        values = [reference(y[i], pred[i]) for i in drawn]
        lower, upper = np.quantile(values, [0.05, 0.95])
        assert (report.ci[name].lower, report.ci[name].upper) == pytest.approx((lower, upper), rel=1e-9), name


def test_the_classification_bootstrap_equals_sklearn_on_the_same_resamples() -> None:
    n, resamples, seed = 150, 100, 3
    y, pred, proba = _binary(n, 9)
    report = realized_performance(
        "classification", y, pred, proba=proba, classes=[0, 1], resamples=resamples, seed=seed
    )
    # the engine sorts the rows by the positive class's probability before resampling
    order = np.argsort(proba[:, 1], kind="stable")
    y, pred, proba = y[order], pred[order], proba[order]
    drawn = np.random.default_rng(seed).integers(0, n, size=(resamples, n))

    for name, reference in {
        "f1": lambda i: skm.f1_score(y[i], pred[i], zero_division=0),
        "roc_auc": lambda i: skm.roc_auc_score(y[i], proba[i, 1]),
        "log_loss": lambda i: skm.log_loss(y[i], proba[i], labels=[0, 1]),
        "brier": lambda i: skm.brier_score_loss(y[i], proba[i, 1]),
    }.items():
        lower, upper = np.quantile([reference(i) for i in drawn], [0.025, 0.975])
        assert (report.ci[name].lower, report.ci[name].upper) == pytest.approx((lower, upper), rel=1e-9), name


@pytest.mark.parametrize(("n", "used"), [(100, 1000), (1000, 500), (10_000, 200)])
def test_large_windows_use_fewer_resamples_but_never_fewer_than_the_floor(
    n: int, used: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a budget of 500k cells (resamples x rows) and a floor of 200 resamples
    monkeypatch.setattr(engine, "MAX_BOOTSTRAP_CELLS", 500_000)
    monkeypatch.setattr(engine, "MIN_CAPPED_RESAMPLES", 200)
    y = np.arange(n, dtype=float)

    report = realized_performance("regression", y, y + 1.0, resamples=1000)

    assert report.resamples == used


def _coverage(draw, truth: dict[str, float], runs: int = 200) -> dict[str, float]:
    hits = dict.fromkeys(truth, 0)
    for seed in range(runs):
        report = draw(seed)
        for name, value in truth.items():
            hits[name] += report.ci[name].lower <= value <= report.ci[name].upper
    return {name: count / runs for name, count in hits.items()}


def test_95_percent_intervals_cover_the_true_classification_metrics() -> None:
    # Given a population with known metrics: prevalence 0.4, a prediction right with probability 0.8,
    # and binormal scores (positives ~ N(1.2, 1), negatives ~ N(0, 1)), so AUC = Phi(1.2 / sqrt 2)
    prevalence, right, shift, n = 0.4, 0.8, 1.2, 300
    precision = prevalence * right / (prevalence * right + (1 - prevalence) * (1 - right))
    truth = {
        "accuracy": right,
        "recall": right,
        "f1": 2 * precision * right / (precision + right),
        "roc_auc": NormalDist().cdf(shift / np.sqrt(2)),
    }

    def draw(seed: int):
        rng = np.random.default_rng(1000 + seed)
        y = (rng.random(n) < prevalence).astype(int)
        pred = np.where(rng.random(n) < right, y, 1 - y)
        score = 1 / (1 + np.exp(-(rng.normal(0.0, 1.0, n) + shift * y)))
        return realized_performance(
            "classification", y, pred, proba=np.c_[1 - score, score], classes=[0, 1], resamples=400, seed=seed
        )

    # When 200 seeded samples each get a 95% interval, Then each covers the truth 90-99% of the time
    for name, rate in _coverage(draw, truth).items():
        assert 0.90 <= rate <= 0.99, (name, rate)


def test_95_percent_intervals_cover_the_true_regression_metrics() -> None:
    # Given errors ~ N(0, 2): RMSE = 2 and MAE = 2 * sqrt(2 / pi)
    sigma, n = 2.0, 300
    truth = {"rmse": sigma, "mae": sigma * np.sqrt(2 / np.pi)}

    def draw(seed: int):
        rng = np.random.default_rng(5000 + seed)
        y = rng.normal(20.0, 5.0, n)
        return realized_performance("regression", y, y + rng.normal(0.0, sigma, n), resamples=400, seed=seed)

    for name, rate in _coverage(draw, truth).items():
        assert 0.90 <= rate <= 0.99, (name, rate)


# the performance trigger on a bound of the interval ----------------------------------------------------


def _accuracy_window(accuracy: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(n) % 2
    pred = y.copy()
    pred[: round(n * (1 - accuracy))] ^= 1
    return y, pred


@pytest.mark.parametrize(
    ("use", "fires"),
    [("estimate", True), ("ci_upper", False), ("ci_lower", True)],
)
def test_a_floor_judged_on_the_interval(use: str, fires: bool) -> None:
    # Given accuracy 0.78 on 200 rows (95% CI about [0.72, 0.84]) and a floor of 0.8
    y, pred = _accuracy_window(0.78, 200)
    trigger = PerformanceTrigger(metric="accuracy", min=0.8, use=use)

    result = evaluate_performance(trigger, "classification", y, pred, match_rate=1.0)

    assert result.fired is fires
    assert result.use == use
    interval = result.ci["accuracy"]
    assert result.statistic == {"estimate": result.value, "ci_lower": interval.lower, "ci_upper": interval.upper}[use]


def test_the_upper_bound_fires_only_when_the_whole_interval_is_below_the_floor() -> None:
    y, pred = _accuracy_window(0.6, 400)
    trigger = PerformanceTrigger(metric="accuracy", min=0.8, use="ci_upper")

    result = evaluate_performance(trigger, "classification", y, pred, match_rate=1.0)

    assert result.fired
    assert result.reason is not None
    assert result.reason.startswith(f"accuracy CI upper bound {result.statistic:.4g} < 0.8 (estimate 0.6, CI [")


def test_a_ceiling_judged_on_the_lower_bound_of_the_interval() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0.0, 1.0, 400)
    trigger = PerformanceTrigger(metric="rmse", max=1.7, use="ci_lower", min_samples=10)

    result = evaluate_performance(trigger, "regression", y, y + rng.normal(0.0, 2.0, 400), match_rate=1.0)

    assert result.fired
    assert result.statistic == result.ci["rmse"].lower > 1.7


def test_a_trigger_metric_that_is_unavailable_is_insufficient_data_and_never_fires() -> None:
    y, pred = _accuracy_window(0.5, 200)
    trigger = PerformanceTrigger(metric="roc_auc", min=0.9)

    result = evaluate_performance(trigger, "classification", y, pred, match_rate=1.0)

    assert result.insufficient
    assert not result.fired
    assert result.reason == "insufficient data: roc_auc unavailable (the inference log has no class probabilities)"


def test_a_probability_metric_can_trigger() -> None:
    y, pred, proba = _binary(300, 1)
    trigger = PerformanceTrigger(metric="log_loss", max=0.3)

    result = evaluate_performance(trigger, "classification", y, pred, match_rate=1.0, proba=proba, classes=[0, 1])

    assert result.fired
    assert result.value == pytest.approx(skm.log_loss(y, proba))
    assert result.reason == f"log_loss {result.value:.4g} > 0.3"


# label-free estimation (CBPE) --------------------------------------------------------------------------


def _weighted_copies(pred: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every row once per class c, labelled c with weight proba[:, c]: the expected data set of CBPE."""
    n, k = proba.shape
    y = np.repeat(np.arange(k), n)
    return y, np.tile(pred, k), proba.T.ravel(), np.tile(np.arange(n), k)


@pytest.mark.parametrize("seed", [0, 1])
def test_binary_estimate_equals_sklearn_on_the_expected_data_set(seed: int) -> None:
    # Given predictions and their probabilities, no labels
    _, pred, proba = _binary(400, seed)

    # When
    report = estimate_performance(pred, proba, [0, 1])

    # Then each estimate is scikit-learn's metric on the weighted copies (label c with weight p_c)
    y, p, weight, rows = _weighted_copies(pred, proba)
    expected = {
        "accuracy": skm.accuracy_score(y, p, sample_weight=weight),
        "balanced_accuracy": skm.balanced_accuracy_score(y, p, sample_weight=weight),
        "precision": skm.precision_score(y, p, sample_weight=weight),
        "recall": skm.recall_score(y, p, sample_weight=weight),
        "f1": skm.f1_score(y, p, sample_weight=weight),
        "precision_macro": skm.precision_score(y, p, average="macro", sample_weight=weight),
        "recall_macro": skm.recall_score(y, p, average="macro", sample_weight=weight),
        "f1_macro": skm.f1_score(y, p, average="macro", sample_weight=weight),
        "roc_auc": skm.roc_auc_score(y, proba[rows, 1], sample_weight=weight),
    }
    assert list(report.values) == list(ESTIMATED_METRICS)
    assert report.values == pytest.approx(expected, rel=1e-10)


def test_multiclass_estimate_equals_sklearn_on_the_expected_data_set() -> None:
    _, pred, proba = _multiclass(300, 3, 2)

    report = estimate_performance(pred, proba, [0, 1, 2])

    y, p, weight, rows = _weighted_copies(pred, proba)
    assert report.values["accuracy"] == pytest.approx(skm.accuracy_score(y, p, sample_weight=weight), rel=1e-10)
    assert report.values["f1"] == pytest.approx(skm.f1_score(y, p, average="macro", sample_weight=weight), rel=1e-10)
    auc = np.mean([skm.roc_auc_score(y == c, proba[rows, c], sample_weight=weight) for c in range(3)])
    assert report.values["roc_auc"] == pytest.approx(auc, rel=1e-10)


def test_estimated_accuracy_is_the_mean_probability_of_the_predicted_class() -> None:
    # Hand-worked: predicted classes 1, 1, 0, 0 with P(class 1) 0.9, 0.6, 0.2, 0.5
    pred = np.array([1, 1, 0, 0])
    p1 = np.array([0.9, 0.6, 0.2, 0.5])

    report = estimate_performance(pred, np.c_[1 - p1, p1], [0, 1])

    assert report.values["accuracy"] == pytest.approx((0.9 + 0.6 + 0.8 + 0.5) / 4)
    assert report.values["precision"] == pytest.approx((0.9 + 0.6) / 2)  # E[TP] / predicted positives
    assert report.values["recall"] == pytest.approx((0.9 + 0.6) / (0.9 + 0.6 + 0.2 + 0.5))  # E[TP] / E[positives]


def test_with_calibrated_probabilities_the_estimate_matches_the_realized_metrics() -> None:
    # Given labels really drawn from the probabilities (a calibrated model, no concept drift)
    y, pred, proba = _binary(20_000, 8)

    estimated = estimate_performance(pred, proba, [0, 1], resamples=100)
    realized = realized_performance("classification", y, pred, proba=proba, classes=[0, 1], resamples=100)

    for name in ("accuracy", "f1", "roc_auc"):
        assert estimated.values[name] == pytest.approx(realized.values[name], abs=0.015), name


def test_a_predicted_label_without_a_probability_column_leaves_the_estimate_unavailable() -> None:
    report = estimate_performance(np.array([0, 2]), np.array([[0.6, 0.4], [0.3, 0.7]]), [0, 1])

    assert report.values == {}
    assert report.unavailable["accuracy"] == "predicted labels 2 have no probability column"


def test_a_regression_champion_without_a_loss_model_has_no_estimate_and_an_enabled_trigger_reports_why() -> None:
    trigger = EstimatedTrigger(metric="mae", max=3.0)

    result = evaluate_estimated(trigger, "regression", np.ones(200), proba=None, classes=None)

    assert not result.available
    assert result.method == "dle"
    assert not result.fired
    assert result.insufficient
    assert result.note is not None
    assert result.note.startswith("the champion has no loss model")
    assert result.reason == f"insufficient data: {result.note}"


def _losses(n: int, seed: int, noise: np.ndarray | float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A regression window: features, a model's predictions and the truth, noise scale growing with ``x``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, n) if np.isscalar(noise) else np.asarray(noise)
    prediction = 3.0 * x
    truth = prediction + rng.normal(0.0, 1.0, x.size) * (0.2 + 2.0 * x)
    return pd.DataFrame({"x": x}), prediction, truth


def test_a_regression_window_is_estimated_by_the_loss_model_and_can_fire() -> None:
    # Given a loss model fit on a holdout where the error grows with x, and a window shifted to large x
    frame, prediction, truth = _losses(4000, 0, 0.0)
    model = fit_loss_model(frame, prediction, truth, numeric=["x"], categorical=[], seed=0)
    assert isinstance(model, LossModel)
    window, window_pred, window_truth = _losses(3000, 1, np.random.default_rng(2).uniform(0.6, 1.0, 3000))
    realized = np.abs(window_truth - window_pred).mean()

    # When the estimated trigger judges the window's MAE against a ceiling the holdout's MAE is under
    trigger = EstimatedTrigger(metric="mae", max=float(np.abs(truth - prediction).mean()) * 1.2)
    result = evaluate_estimated(
        trigger, "regression", window_pred, proba=None, classes=None, loss_model=model, features=window
    )

    # Then the estimate follows the shifted window's realized MAE, and fires
    assert (result.available, result.method, result.n) == (True, "dle", 3000)
    assert set(result.metrics) == {"mae", "rmse"}
    assert result.metrics["mae"] == pytest.approx(realized, rel=0.1)
    assert result.fired
    assert result.reason == f"estimated mae {result.value:.4g} > {trigger.threshold:.4g}"


def test_a_window_missing_a_feature_of_the_loss_model_has_no_estimate_naming_it() -> None:
    frame, prediction, truth = _losses(500, 0, 0.0)
    model = fit_loss_model(frame, prediction, truth, numeric=["x"], categorical=[], seed=0)
    assert isinstance(model, LossModel)
    trigger = EstimatedTrigger(metric="rmse", max=1.0)

    result = evaluate_estimated(
        trigger, "regression", prediction, proba=None, classes=None, loss_model=model, features=frame.iloc[:, :0]
    )

    assert not result.available
    assert result.insufficient
    assert not result.fired
    assert result.note is not None
    assert "'x'" in result.note


def test_the_estimate_reads_calibrated_probabilities_and_says_which_calibration() -> None:
    # Given an overconfident classifier: labels drawn from p, reported probabilities sharpened
    rng = np.random.default_rng(5)
    p = rng.beta(2.0, 2.0, 8000)
    y = (rng.random(p.size) < p).astype(int)
    sharp = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))
    proba, pred = np.c_[1 - sharp, sharp], (sharp > 0.5).astype(int)
    calibration = fit_calibration(y[:4000], proba[:4000], [0, 1])

    # When a window is estimated with and without the champion's calibration
    raw = evaluate_estimated(None, "classification", pred[4000:], proba=proba[4000:], classes=[0, 1])
    calibrated = evaluate_estimated(
        None, "classification", pred[4000:], proba=proba[4000:], classes=[0, 1], calibration=calibration
    )

    # Then the calibrated estimate is close to the realized accuracy, the raw one is not, and it says which
    realized = float(np.mean(pred[4000:] == y[4000:]))
    assert calibrated.calibration == calibration.method == "isotonic"
    assert calibrated.calibration_reason == calibration.reason
    assert raw.calibration is None
    assert abs(calibrated.metrics["accuracy"] - realized) < 0.02
    assert abs(raw.metrics["accuracy"] - realized) > 0.05


def test_a_calibration_of_other_classes_is_not_applied_and_says_why() -> None:
    _, pred, proba = _binary(300, 0)
    calibration = fit_calibration(*_binary(2000, 1, labels=("no", "yes"))[::2], ["no", "yes"])

    result = evaluate_estimated(None, "classification", pred, proba=proba, classes=[0, 1], calibration=calibration)

    assert result.available
    assert result.calibration == "none"
    assert result.calibration_reason is not None
    assert result.calibration_reason.startswith("not applied: classes == ['0', '1']")
    plain = evaluate_estimated(None, "classification", pred, proba=proba, classes=[0, 1])
    assert result.metrics == plain.metrics


def test_an_estimate_without_its_trigger_is_reported_but_never_judged() -> None:
    _, pred, proba = _binary(300, 0)

    result = evaluate_estimated(None, "classification", pred, proba=proba, classes=[0, 1])

    assert result.available
    assert not result.enabled
    assert not result.fired
    assert not result.insufficient
    assert result.reason is None
    assert set(result.metrics) == set(ESTIMATED_METRICS)


def test_the_estimated_trigger_fires_below_its_floor() -> None:
    _, pred, proba = _binary(300, 0)
    trigger = EstimatedTrigger(metric="accuracy", min=0.9)

    result = evaluate_estimated(trigger, "classification", pred, proba=proba, classes=[0, 1])

    assert result.fired
    assert not result.insufficient
    assert result.value == pytest.approx(np.mean(np.where(pred == 1, proba[:, 1], proba[:, 0])))
    assert result.reason == f"estimated accuracy {result.value:.4g} < 0.9"


def test_the_estimated_trigger_needs_min_samples_predictions() -> None:
    _, pred, proba = _binary(60, 0)
    trigger = EstimatedTrigger(metric="roc_auc", min=0.99, min_samples=100)

    result = evaluate_estimated(trigger, "classification", pred, proba=proba, classes=[0, 1])

    assert result.insufficient
    assert not result.fired
    assert result.reason == "insufficient data: 60 predictions < min_samples 100"
    assert "roc_auc" in result.metrics  # still reported


# the flagged rate --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "n"), [(0, 50), (5, 100), (37, 400), (400, 400)])
def test_the_wilson_interval_matches_scipy(count: int, n: int) -> None:
    expected = binomtest(count, n).proportion_ci(confidence_level=0.95, method="wilson")

    got = wilson_interval(count, n, 0.95)

    assert (got.lower, got.upper) == pytest.approx((expected.low, expected.high), rel=1e-9, abs=1e-12)


def test_the_flagged_trigger_fires_above_its_rate_with_enough_flags() -> None:
    flags = np.zeros(200, dtype=bool)
    flags[:12] = True  # 6%
    trigger = FlaggedTrigger(max_rate=0.05, min_count=5)

    result = evaluate_flagged(trigger, flags)

    assert result.fired
    assert not result.insufficient
    assert (result.count, result.n, result.rate) == (12, 200, 0.06)
    assert result.reason == "flagged rate 0.06 > 0.05 (12 of 200 predictions flagged)"


def test_a_high_rate_with_fewer_flags_than_min_count_does_not_fire() -> None:
    flags = np.zeros(100, dtype=bool)
    flags[:3] = True  # 3% > 2%, but only 3 flags
    trigger = FlaggedTrigger(max_rate=0.02, min_count=5)

    result = evaluate_flagged(trigger, flags)

    assert not result.fired
    assert not result.insufficient
    assert result.reason is None


def test_too_few_predictions_for_the_flagged_rate_is_insufficient() -> None:
    result = evaluate_flagged(FlaggedTrigger(max_rate=0.01), np.ones(40, dtype=bool))

    assert result.insufficient
    assert not result.fired
    assert result.reason == "insufficient data: 40 predictions < min_samples 100"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([True, False, True]), [True, False, True]),
        (np.array([1.0, 0.0, np.nan]), [True, False, False]),
        (np.array([True, None, False], dtype=object), [True, False, False]),
        (np.array([1, 0, 0]), [True, False, False]),
    ],
    ids=["bool", "float with NaN", "object with None", "int"],
)
def test_flags_are_booleans_or_zero_one(values: np.ndarray, expected: list[bool]) -> None:
    assert flag_values(values).tolist() == expected


def test_a_flag_column_of_words_is_a_schema_mismatch() -> None:
    with pytest.raises(SchemaMismatch, match="column 'flagged' must hold booleans or 0/1, got 'yes'"):
        flag_values(np.array(["yes", None], dtype=object))


# probability columns of an inference log ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "like", "classes"),
    [
        (["proba_1", "proba_0"], np.array([0, 1]), [0, 1]),
        (["proba_yes", "proba_no"], np.array(["no"], dtype=object), ["no", "yes"]),
        (["proba_True", "proba_False"], np.array([True]), [False, True]),
        (["proba_10", "proba_9", "proba_2"], np.array([2.0]), [2, 9, 10]),
    ],
    ids=["int", "string", "bool", "numeric order"],
)
def test_probability_columns_are_parsed_into_the_label_type_in_class_order(
    columns: list[str], like: np.ndarray, classes: list
) -> None:
    frame = pd.DataFrame({c: [0.5] for c in ["id", *columns, "prediction"]})

    found, parsed = probability_columns(frame, "proba_", like)

    assert parsed == classes
    assert [frame[c].name for c in found] == [f"proba_{c}" for c in classes]
