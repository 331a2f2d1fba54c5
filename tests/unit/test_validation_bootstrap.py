"""Specification of the paired bootstrap behind the "vs champion" gate.

References are independent of the vectorized code: a slow loop that scores each
resample with scikit-learn's own metric functions, numpy's quantiles, and a
coverage simulation against a known difference.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
)

from retrain.errors import InsufficientData
from retrain.metrics import compute_metrics, engine
from retrain.validation import paired_bootstrap

pytestmark = pytest.mark.unit

Metric = Callable[[np.ndarray, np.ndarray, list], float]

#: name -> scikit-learn's value on one resample, given the labels compute_metrics scores (the whole holdout's).
SKLEARN: dict[str, Metric] = {
    "accuracy": lambda t, p, labels: accuracy_score(t, p),
    "balanced_accuracy": lambda t, p, labels: balanced_accuracy_score(t, p),
    "precision": lambda t, p, labels: precision_score(t, p, labels=labels, average="macro", zero_division=0),
    "recall": lambda t, p, labels: recall_score(t, p, labels=labels, average="macro", zero_division=0),
    "f1": lambda t, p, labels: f1_score(t, p, labels=labels, average="macro", zero_division=0),
    "rmse": lambda t, p, labels: float(np.sqrt(mean_squared_error(t, p))),
    "mae": lambda t, p, labels: mean_absolute_error(t, p),
    "r2": lambda t, p, labels: r2_score(t, p),
}


def scored_labels(y_true: np.ndarray, y_pred: np.ndarray) -> list:
    """The labels precision, recall and F1 average over: the largest of a binary union, else the whole union."""
    union = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    return union[-1:] if len(union) <= 2 else union


def slow_paired_bootstrap(metric, y, candidate, champion, *, resamples, confidence, seed):
    """One resample at a time, each model scored by scikit-learn on the same rows."""
    n = len(y)
    index = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    score = SKLEARN[metric]
    labels_candidate, labels_champion = scored_labels(y, candidate), scored_labels(y, champion)
    differences = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balanced accuracy: "y_pred contains classes not in y_true"
        for rows in index:
            t = y[rows]
            differences.append(score(t, candidate[rows], labels_candidate) - score(t, champion[rows], labels_champion))
    return np.quantile(differences, [(1 - confidence) / 2, (1 + confidence) / 2])


def tiny_case(problem: str, seed: int, n: int = 15, classes: int = 2):
    rng = np.random.default_rng(seed)
    if problem == "regression":
        y: np.ndarray = rng.normal(10, 3, n)
        return y, y + rng.normal(0, 1, n), y + rng.normal(0.5, 2, n)
    y = rng.integers(0, classes, n)
    candidate = np.where(rng.random(n) < 0.8, y, rng.integers(0, classes, n))
    champion = np.where(rng.random(n) < 0.6, y, rng.integers(0, classes, n))
    return y, candidate, champion


CASES = [
    *(pytest.param("classification", m, 2, id=f"binary-{m}") for m in SKLEARN if m not in ("rmse", "mae", "r2")),
    *(pytest.param("classification", m, 3, id=f"3-class-{m}") for m in ("balanced_accuracy", "precision", "f1")),
    *(pytest.param("regression", m, 0, id=m) for m in ("rmse", "mae", "r2")),
]


@pytest.mark.parametrize(("problem", "metric", "classes"), CASES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_interval_matches_a_slow_loop_scored_by_scikit_learn(problem, metric, classes, seed) -> None:
    y, candidate, champion = tiny_case(problem, seed, classes=classes)

    result = paired_bootstrap(problem, metric, y, candidate, champion, resamples=60, confidence=0.9, seed=seed)

    low, high = slow_paired_bootstrap(metric, y, candidate, champion, resamples=60, confidence=0.9, seed=seed)
    assert (result.low, result.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))


@pytest.mark.parametrize(("problem", "metric", "classes"), CASES)
def test_point_values_are_compute_metrics_values(problem, metric, classes) -> None:
    y, candidate, champion = tiny_case(problem, 4, n=40, classes=classes)

    result = paired_bootstrap(problem, metric, y, candidate, champion, resamples=100)

    assert result.candidate == pytest.approx(compute_metrics(problem, y, candidate)[metric], abs=1e-12)
    assert result.champion == pytest.approx(compute_metrics(problem, y, champion)[metric], abs=1e-12)
    assert result.difference == pytest.approx(result.candidate - result.champion)


def test_interval_covers_the_true_difference_at_its_level() -> None:
    # Given holdouts where the candidate is right with probability 0.80 and the champion with 0.75, independently
    rng = np.random.default_rng(2024)
    n, trials, covered = 300, 300, 0
    for trial in range(trials):
        y = np.zeros(n, dtype=int)
        candidate = (rng.random(n) >= 0.80).astype(int)
        champion = (rng.random(n) >= 0.75).astype(int)

        result = paired_bootstrap("classification", "accuracy", y, candidate, champion, resamples=400, seed=trial)

        covered += result.low <= 0.05 <= result.high
    # Then about 95% of the intervals hold the true difference (binomial sd 1.3 points over 300 trials)
    assert 0.90 <= covered / trials <= 0.99


def test_identical_predictions_have_a_zero_width_interval() -> None:
    y, candidate, _ = tiny_case("classification", 5, n=50)

    result = paired_bootstrap("classification", "f1", y, candidate, candidate.copy())

    assert (result.difference, result.low, result.high) == (0.0, 0.0, 0.0)


def test_resamples_drawn_in_blocks_are_those_of_one_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    y, candidate, champion = tiny_case("classification", 6, n=50)
    whole = paired_bootstrap("classification", "accuracy", y, candidate, champion, resamples=101, seed=9)

    monkeypatch.setattr(engine, "BLOCK_CELLS", 7 * 50)  # 7 resamples per block, the last one short
    blocks = paired_bootstrap("classification", "accuracy", y, candidate, champion, resamples=101, seed=9)

    assert blocks == whole


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    y, candidate, champion = tiny_case("regression", 7, n=80)

    def run(seed: int):
        return paired_bootstrap("regression", "rmse", y, candidate, champion, seed=seed)

    assert run(1) == run(1)
    assert (run(1).low, run(1).high) != (run(2).low, run(2).high)


def test_string_labels_are_scored_like_compute_metrics() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes", "no"] * 5)
    candidate = np.roll(y, 1)

    result = paired_bootstrap("classification", "recall", y, candidate, y, resamples=100)

    assert result.candidate == pytest.approx(compute_metrics("classification", y, candidate)["recall"])
    assert result.champion == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resamples": 0}, "resamples == 0, must be >= 1."),
        ({"confidence": 1.0}, "confidence == 1.0, must be > 0 and < 1."),
        ({"metric": "roc_auc"}, "metric == 'roc_auc', must be one of accuracy"),
        ({"champion_pred": np.zeros(3)}, "y_true has 4 values, candidate_pred 4 and champion_pred 3"),
    ],
)
def test_bad_arguments_are_value_errors_naming_them(kwargs: dict, message: str) -> None:
    arguments: dict[str, Any] = {
        "metric": "accuracy",
        "y_true": np.zeros(4),
        "candidate_pred": np.zeros(4),
        "champion_pred": np.zeros(4),
    }
    arguments.update(kwargs)

    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        paired_bootstrap("classification", **arguments)


def test_no_rows_is_insufficient_data() -> None:
    with pytest.raises(InsufficientData):
        paired_bootstrap("classification", "accuracy", np.array([]), np.array([]), np.array([]))
