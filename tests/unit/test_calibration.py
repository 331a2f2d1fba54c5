"""Calibration of a model's probabilities for the label-free estimate.

The models here are miscalibrated on purpose: the true chance of the positive
class is ``sigmoid(z)`` but the model reports ``sigmoid(3 z)`` (overconfident),
so a calibration fitted on a labelled holdout must bring the probabilities, and
the CBPE estimate built on them, back to what fresh rows of the same process
realize. Brier scores and ROC AUC are checked with scikit-learn's own functions;
the seeds are fixed, so these tests are deterministic.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from retrain.metrics import Calibration, estimate_performance, fit_calibration

pytestmark = pytest.mark.unit


def _binary(n: int, seed: int, sharpen: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from ``sigmoid(z)`` and the model's reported ``[1 - q, q]`` with ``q = sigmoid(sharpen * z)``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, n)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(int)
    reported = 1.0 / (1.0 + np.exp(-sharpen * z))
    return labels, np.column_stack([1.0 - reported, reported])


def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _three_classes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from ``softmax(s)``, the model reporting ``softmax(2.5 s)``."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.0, 1.0, (n, 3))
    truth = _softmax(scores)
    labels = (rng.random((n, 1)) > truth.cumsum(axis=1)).sum(axis=1)
    return np.asarray(["cat", "dog", "emu"])[labels], _softmax(2.5 * scores)


def _multiclass_brier(proba: np.ndarray, codes: np.ndarray) -> float:
    """The textbook multi-class Brier score: mean over rows of the summed squared error to the one-hot truth."""
    return float(((proba - np.eye(proba.shape[1])[codes]) ** 2).sum(axis=1).mean())


@pytest.mark.parametrize(("rows", "method"), [(5000, "isotonic"), (300, "sigmoid")])
def test_an_overconfident_model_is_calibrated_and_fresh_rows_score_a_lower_brier(rows, method):
    # Given a holdout of an overconfident model
    y, proba = _binary(rows, seed=1)
    # When a calibration is fitted on it
    calibration = fit_calibration(y, proba, [0, 1])
    # Then the method fits the holdout's size, and fresh rows of the same process score better
    assert calibration.method == method
    assert calibration.label() == method
    assert calibration.reason.startswith(f"{method} on {rows:,} holdout rows: cross-validated Brier")
    assert calibration.brier_calibrated is not None
    assert calibration.brier_raw is not None
    assert calibration.brier_calibrated < calibration.brier_raw
    fresh_y, fresh = _binary(20_000, seed=99)
    calibrated = calibration.apply(fresh)
    assert brier_score_loss(fresh_y, calibrated[:, 1]) < brier_score_loss(fresh_y, fresh[:, 1]) - 0.015


@pytest.mark.parametrize("rows", [5000, 300])
def test_the_label_free_estimate_of_calibrated_probabilities_meets_the_realized_metrics(rows):
    # Given a calibration fitted on a holdout, and a fresh window whose labels are not yet known
    y, proba = _binary(rows, seed=1)
    calibration = fit_calibration(y, proba, [0, 1])
    fresh_y, fresh = _binary(20_000, seed=99)
    predicted = fresh.argmax(axis=1)
    realized = {"accuracy": float((predicted == fresh_y).mean()), "roc_auc": roc_auc_score(fresh_y, fresh[:, 1])}

    # When CBPE estimates the window's metrics from raw and from calibrated probabilities
    def gaps(matrix: np.ndarray) -> dict[str, float]:
        estimate = estimate_performance(predicted, matrix, [0, 1], resamples=1).values
        return {name: abs(estimate[name] - value) for name, value in realized.items()}

    raw, calibrated = gaps(fresh), gaps(calibration.apply(fresh))
    # Then the raw estimate is far off (0.14 on both), the calibrated one within 0.01
    assert all(gap > 0.1 for gap in raw.values()), raw
    assert all(gap < 0.01 for gap in calibrated.values()), calibrated


@pytest.mark.parametrize("seed", range(5))
def test_probabilities_that_are_already_calibrated_are_left_alone(seed):
    # Given labels drawn from the very probabilities the model reports
    y, proba = _binary(10_000, seed=seed, sharpen=1.0)
    # When a calibration is fitted
    calibration = fit_calibration(y, proba, [0, 1], seed=seed)
    # Then isotonic regression does not lower the cross-validated Brier and is not kept; Platt scaling, tried
    # next, is kept only when it lowers it, and then it barely moves a probability
    assert calibration.method in ("none", "sigmoid")
    assert "isotonic made the cross-validated Brier worse" in calibration.reason
    moved = np.abs(calibration.apply(proba) - proba)
    assert moved.mean() < 0.01
    assert moved.max() < 0.03
    if calibration.method == "none":
        assert calibration.calibrators == []
        np.testing.assert_array_equal(calibration.apply(proba), proba)


def test_three_classes_are_calibrated_one_versus_rest_into_rows_that_sum_to_one():
    labels, proba = _three_classes(5000, seed=3)
    calibration = fit_calibration(labels, proba, ["cat", "dog", "emu"])
    assert calibration.method == "isotonic"
    assert len(calibration.calibrators) == 3
    fresh_labels, fresh = _three_classes(20_000, seed=4)
    calibrated = calibration.apply(fresh)
    assert calibrated.shape == fresh.shape
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    codes = np.searchsorted(["cat", "dog", "emu"], fresh_labels)
    assert _multiclass_brier(calibrated, codes) < _multiclass_brier(fresh, codes) - 0.02


def test_the_raw_brier_is_scikit_learns_and_isotonic_points_are_its_isotonic_regression():
    y, proba = _binary(5000, seed=5)
    calibration = fit_calibration(y, proba, [0, 1])
    assert calibration.brier_raw == pytest.approx(brier_score_loss(y, proba[:, 1]))
    reference = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba[:, 1], y)
    grid = np.linspace(0.0, 1.0, 1001)
    np.testing.assert_allclose(calibration.calibrators[0].transform(grid), reference.predict(grid))


@pytest.mark.parametrize(
    ("rows", "data"),
    [(5000, _binary), (300, _binary), (5000, _three_classes), (10_000, lambda n, seed: _binary(n, seed, 1.0))],
    ids=["isotonic", "sigmoid", "three-classes", "none"],
)
def test_a_calibration_read_back_from_json_calibrates_identically(rows, data):
    labels, proba = data(rows, 6)
    classes = sorted(set(labels.tolist()))
    calibration = fit_calibration(labels, proba, classes)
    stored = json.dumps(calibration.model_dump(mode="json"))
    restored = Calibration.model_validate(json.loads(stored))
    assert restored == calibration
    fresh = data(2000, 7)[1]
    np.testing.assert_array_equal(restored.apply(fresh), calibration.apply(fresh))


@pytest.mark.parametrize("rows", [5000, 300])
def test_rows_with_missing_or_impossible_probabilities_come_back_as_they_came(rows):
    y, proba = _binary(rows, seed=8)
    calibration = fit_calibration(y, proba, [0, 1])
    window = np.array([[np.nan, np.nan], [0.3, np.nan], [1.2, -0.2], [0.9, 0.1]])
    calibrated = calibration.apply(window)
    np.testing.assert_array_equal(calibrated[:3], window[:3])
    assert calibrated[3, 1] == pytest.approx(calibration.calibrators[0].transform(np.array([0.1]))[0])
    assert calibrated[3].sum() == pytest.approx(1.0)


def test_the_positive_class_and_the_column_order_follow_the_classes():
    y, proba = _binary(5000, seed=9)
    labels = np.where(y == 1, "yes", "no")
    calibration = fit_calibration(labels, proba, ["no", "yes"])
    assert (calibration.classes, calibration.positive) == (["no", "yes"], 1)
    by_zero = fit_calibration(labels, proba, ["no", "yes"], pos_label="no")
    assert by_zero.positive == 0
    np.testing.assert_allclose(by_zero.apply(proba).sum(axis=1), 1.0)
    swapped = calibration.apply(proba[:, ::-1], classes=["yes", "no"])
    np.testing.assert_array_equal(swapped, calibration.apply(proba)[:, ::-1])
    with pytest.raises(ValueError, match="must be the calibrated classes"):
        calibration.apply(proba, classes=["no", "maybe"])


def test_labels_are_matched_to_the_classes_by_value_and_the_others_dropped():
    y, proba = _binary(2000, seed=10)
    labels = np.where(y == 1, "1", "0.0").astype(object)
    labels[:30] = "2"
    labels[30:35] = None
    calibration = fit_calibration(labels, proba, [0, 1])
    assert calibration.rows == 1965
    assert calibration.classes == ["0", "1"]
    assert "5 rows with a missing label dropped" in calibration.reason
    assert "30 rows with a label outside the classes ['0', '1'] dropped" in calibration.reason


@pytest.mark.parametrize(
    ("labels", "proba", "reason"),
    [
        ([1] * 200, np.full((200, 2), 0.5), "none: only class '1' is in the holdout's labels, calibration needs two"),
        ([0, 1, 0, 1, 1], np.full((5, 2), 0.5), "none: 5 usable holdout rows, at least 20 are needed to calibrate"),
        ([0] * 97 + [1] * 3, np.full((100, 2), 0.5), "none: class '1' is the label of 3 of 100 holdout rows"),
        (["x"] * 50, np.full((50, 2), 0.5), "none: 0 usable holdout rows"),
    ],
    ids=["one-class", "five-rows", "rare-class", "no-known-label"],
)
def test_too_little_to_calibrate_gives_none_with_the_reason(labels, proba, reason):
    calibration = fit_calibration(labels, proba, [0, 1])
    assert calibration.method == "none"
    assert calibration.reason.startswith(reason)
    np.testing.assert_array_equal(calibration.apply(proba), proba)


@pytest.mark.parametrize(
    ("labels", "proba", "classes", "message"),
    [
        ([0, 1], np.full((3, 2), 0.5), [0, 1], r"proba must have shape \(2, 2\)"),
        ([0, 1], np.full(2, 0.5), [0, 1], r"proba must have shape \(2, 2\)"),
        ([[0, 1]], np.full((1, 2), 0.5), [0, 1], "y_true must be 1-D"),
        ([0, 1], np.full((2, 1), 0.5), [0], "must hold at least 2 distinct classes"),
        ([0, 1], np.full((2, 2), 0.5), [1, "1"], "must hold at least 2 distinct classes"),
    ],
)
def test_bad_shapes_raise_a_value_error_naming_them(labels, proba, classes, message):
    with pytest.raises(ValueError, match=message):
        fit_calibration(labels, proba, classes)


def test_a_pos_label_that_is_not_a_class_is_refused():
    with pytest.raises(ValueError, match="pos_label == 2, must be one of the classes"):
        fit_calibration([0, 1], np.full((2, 2), 0.5), [0, 1], pos_label=2)


def test_applying_a_calibration_needs_one_column_per_class():
    calibration = fit_calibration(*_binary(300, seed=11), [0, 1])
    with pytest.raises(ValueError, match=r"proba must have shape \(rows, 2\)"):
        calibration.apply(np.full((4, 3), 1 / 3))
