"""Model-quality metrics, label joins and the performance trigger.

Every metric is checked against scikit-learn's own implementation (the
independent reference), never against an earlier output of this code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from retrain.config import PerformanceTrigger, metrics_for, signal_metrics_for
from retrain.errors import InsufficientData, SchemaMismatch
from retrain.labels import join_labels
from retrain.metrics import PerformanceResult, compute_metrics, evaluate_performance

pytestmark = pytest.mark.unit


def _labels(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    pools = {
        "binary-int": np.array([0, 1]),
        "binary-bool": np.array([False, True]),
        "binary-string": np.array(["no", "yes"]),
        "binary-object-string": np.array(["churned", "stayed"], dtype=object),
        "multiclass-int": np.array([0, 1, 2, 3]),
        "multiclass-string": np.array(["cat", "dog", "emu"]),
    }
    return rng.choice(pools[kind], size=size)


def _sklearn_classification(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    labels = np.unique(np.concatenate([y_true, y_pred]))
    averaging = {"average": "binary", "pos_label": labels[-1]} if labels.size <= 2 else {"average": "macro"}
    return {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0, **averaging),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0, **averaging),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0, **averaging),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "binary-int",
        "binary-bool",
        "binary-string",
        "binary-object-string",
        "multiclass-int",
        "multiclass-string",
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_sklearn(kind: str, seed: int) -> None:
    # Given random labels and noisy predictions of them
    rng = np.random.default_rng(seed)
    y_true = _labels(kind, 300, rng)
    y_pred = np.where(rng.random(300) < 0.7, y_true, _labels(kind, 300, rng))

    # When
    got = compute_metrics("classification", y_true, y_pred)

    # Then
    assert list(got) == list(metrics_for("classification"))
    assert got == pytest.approx(_sklearn_classification(y_true, y_pred), rel=1e-12, abs=1e-15)


def test_multiclass_with_a_label_never_predicted_uses_zero_division_zero() -> None:
    y_true = np.array([0, 1, 2, 2, 1, 0, 2])
    y_pred = np.array([0, 0, 0, 2, 0, 0, 2])  # label 1 is never predicted: its precision is 0/0

    got = compute_metrics("classification", y_true, y_pred)

    assert got == pytest.approx(_sklearn_classification(y_true, y_pred), rel=1e-12)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_prediction_of_a_label_absent_from_y_true_matches_sklearn() -> None:
    y_true = np.array(["a", "b", "a", "b"])
    y_pred = np.array(["a", "c", "a", "b"])

    got = compute_metrics("classification", y_true, y_pred)

    assert got == pytest.approx(_sklearn_classification(y_true, y_pred), rel=1e-12)


def test_pos_label_selects_the_positive_class() -> None:
    rng = np.random.default_rng(7)
    y_true = rng.choice(["churned", "stayed"], 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.choice(["churned", "stayed"], 200))

    got = compute_metrics("classification", y_true, y_pred, pos_label="churned")

    assert got["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, pos_label="churned"), rel=1e-12)
    assert got["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, pos_label="churned"))
    assert got["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, pos_label="churned"))


def test_single_observed_label_with_unobserved_pos_label_matches_sklearn() -> None:
    y_true = np.zeros(10, dtype=int)
    y_pred = np.zeros(10, dtype=int)

    got = compute_metrics("classification", y_true, y_pred, pos_label=1)

    assert got["f1"] == skm.f1_score(y_true, y_pred, pos_label=1, zero_division=0) == 0.0
    assert got["accuracy"] == 1.0


def test_pos_label_not_among_two_labels_is_rejected() -> None:
    with pytest.raises(ValueError, match="pos_label == 2, must be one of the labels"):
        compute_metrics("classification", np.array([0, 1]), np.array([1, 1]), pos_label=2)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("size", [2, 17, 500])
def test_regression_metrics_match_sklearn(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.normal(50.0, 10.0, size)
    y_pred = y_true + rng.normal(0.0, 4.0, size)

    got = compute_metrics("regression", y_true, y_pred)

    assert list(got) == list(metrics_for("regression"))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y_true, y_pred)), rel=1e-12)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred), rel=1e-12)
    assert got["r2"] == pytest.approx(skm.r2_score(y_true, y_pred), rel=1e-10)


@pytest.mark.parametrize(
    ("y_pred", "expected"),
    [([3.0, 3.0, 3.0], 1.0), ([3.0, 2.0, 3.0], 0.0)],
    ids=["perfect", "imperfect"],
)
def test_r2_of_constant_target_follows_sklearn_force_finite(y_pred: list[float], expected: float) -> None:
    y_true = np.array([3.0, 3.0, 3.0])

    got = compute_metrics("regression", y_true, np.array(y_pred))

    assert got["r2"] == expected == skm.r2_score(y_true, y_pred, force_finite=True)


def test_lengths_that_differ_are_named() -> None:
    with pytest.raises(ValueError, match="y_true has 3 values but y_pred has 2"):
        compute_metrics("regression", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_empty_input_is_insufficient_data(problem: str) -> None:
    with pytest.raises(InsufficientData):
        compute_metrics(problem, np.array([]), np.array([]))  # type: ignore[arg-type]


def test_nan_predictions_are_counted_in_the_error() -> None:
    with pytest.raises(ValueError, match="y_pred contains 2 NaN values"):
        compute_metrics("regression", np.array([1.0, 2.0, 3.0]), np.array([np.nan, 2.0, np.nan]))


def test_mixed_string_and_numeric_labels_are_rejected() -> None:
    with pytest.raises(ValueError, match="mix string and numeric labels"):
        compute_metrics("classification", np.array([0, 1, 1]), np.array(["0", "1", "1"]))


def test_unknown_problem_is_rejected() -> None:
    with pytest.raises(ValueError, match="problem == 'ranking', must be"):
        compute_metrics("ranking", np.array([1]), np.array([1]))  # type: ignore[arg-type]


# join_labels ------------------------------------------------------------------------------------------


def test_join_labels_keeps_last_label_and_reports_match_rate() -> None:
    # Given 5 logged predictions, 3 of which have labels (id 2 labelled twice)
    inference = pd.DataFrame({"id": [1, 2, 3, 4, 5], "prediction": [0, 1, 1, 0, 1], "x": [0.1] * 5})
    labels = pd.DataFrame({"id": [2, 9, 2, 4, 1], "label": [0, 1, 1, 0, 1]})

    # When
    joined, match_rate = join_labels(inference, labels, id_column="id", target="label")

    # Then
    assert match_rate == pytest.approx(3 / 5)
    assert list(joined.columns) == ["id", "prediction", "x", "label"]
    assert joined["id"].tolist() == [1, 2, 4]
    assert joined["label"].tolist() == [1, 1, 0]  # id 2: the last label wins


def test_join_labels_ignores_labels_without_a_value() -> None:
    inference = pd.DataFrame({"id": ["a", "b"], "prediction": [1, 0]})
    labels = pd.DataFrame({"id": ["a", "b"], "label": [1.0, np.nan]})

    joined, match_rate = join_labels(inference, labels, id_column="id", target="label")

    assert joined["id"].tolist() == ["a"]
    assert match_rate == 0.5


def test_join_labels_of_empty_inference_has_zero_match_rate() -> None:
    inference = pd.DataFrame({"id": pd.Series([], dtype="int64"), "prediction": pd.Series([], dtype="int64")})
    labels = pd.DataFrame({"id": [1], "label": [1]})

    joined, match_rate = join_labels(inference, labels, id_column="id", target="label")

    assert match_rate == 0.0
    assert joined.empty


@pytest.mark.parametrize(
    ("inference_columns", "label_columns", "message", "missing"),
    [
        (["prediction"], ["id", "label"], "inference is missing column 'id'", ["id"]),
        (["id", "prediction"], ["id"], "labels is missing column 'label'", ["label"]),
        (["id", "prediction"], ["label"], "labels is missing column 'id'", ["id"]),
    ],
)
def test_join_labels_names_the_missing_column_and_frame(
    inference_columns: list[str], label_columns: list[str], message: str, missing: list[str]
) -> None:
    inference = pd.DataFrame({c: [1] for c in inference_columns})
    labels = pd.DataFrame({c: [1] for c in label_columns})

    with pytest.raises(SchemaMismatch, match=message) as info:
        join_labels(inference, labels, id_column="id", target="label")
    assert info.value.missing == missing


# evaluate_performance ---------------------------------------------------------------------------------


def _accuracy_case(accuracy: float, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.arange(n) % 2
    y_pred = y_true.copy()
    wrong = round(n * (1 - accuracy))
    y_pred[:wrong] = 1 - y_pred[:wrong]
    return y_true, y_pred


def test_performance_trigger_fires_below_min() -> None:
    trigger = PerformanceTrigger(metric="accuracy", min=0.8, min_samples=100)
    y_true, y_pred = _accuracy_case(0.71)

    result = evaluate_performance(trigger, "classification", y_true, y_pred, match_rate=0.9)

    assert result.fired
    assert not result.insufficient
    assert result.value == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert result.reason == "accuracy 0.71 < 0.8"
    assert (result.direction, result.threshold, result.n, result.match_rate) == ("min", 0.8, 200, 0.9)
    assert set(result.metrics) == set(signal_metrics_for("classification")) - {"roc_auc", "log_loss", "brier"}


def test_performance_trigger_does_not_fire_above_min() -> None:
    trigger = PerformanceTrigger(metric="accuracy", min=0.8)
    y_true, y_pred = _accuracy_case(0.9)

    result = evaluate_performance(trigger, "classification", y_true, y_pred, match_rate=1.0)

    assert not result.fired
    assert not result.insufficient
    assert result.reason is None


def test_performance_trigger_fires_above_max_for_lower_is_better_metrics() -> None:
    trigger = PerformanceTrigger(metric="rmse", max=1.0, min_samples=10)
    y_true = np.zeros(20)
    y_pred = np.full(20, 2.0)

    result = evaluate_performance(trigger, "regression", y_true, y_pred, match_rate=0.5)

    assert result.fired
    assert result.direction == "max"
    assert result.reason == "rmse 2 > 1"


def test_too_few_labels_is_insufficient_and_never_fires() -> None:
    trigger = PerformanceTrigger(metric="accuracy", min=0.8, min_samples=100)
    y_true, y_pred = _accuracy_case(0.5, n=40)

    result = evaluate_performance(trigger, "classification", y_true, y_pred, match_rate=0.1)

    assert result.insufficient
    assert not result.fired
    assert result.reason == "insufficient data: 40 labelled rows < min_samples 100"
    assert result.value == pytest.approx(0.5)


def test_no_labels_at_all_is_insufficient_with_no_value() -> None:
    trigger = PerformanceTrigger(metric="f1", min=0.5)

    result = evaluate_performance(trigger, "classification", np.array([]), np.array([]), match_rate=0.0)

    assert result.insufficient
    assert not result.fired
    assert result.value is None
    assert result.metrics == {}
    assert PerformanceResult.model_validate(result.model_dump(mode="json")) == result


def test_trigger_metric_must_belong_to_the_problem() -> None:
    trigger = PerformanceTrigger(metric="rmse", max=1.0)

    with pytest.raises(ValueError, match="'rmse' is not a classification metric"):
        evaluate_performance(trigger, "classification", np.array([1]), np.array([1]), match_rate=1.0)


def test_match_rate_out_of_range_is_rejected() -> None:
    trigger = PerformanceTrigger(metric="accuracy", min=0.5)

    with pytest.raises(ValueError, match=r"match_rate == 1.5, must be >= 0 and <= 1."):
        evaluate_performance(trigger, "classification", np.array([1]), np.array([1]), match_rate=1.5)
