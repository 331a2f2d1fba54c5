"""The one rule of the prediction difference, shared by the drift signal and the validation gate.

Classification compares class keys (``1``, ``1.0``, ``"1"`` and ``True`` are one
class); regression agrees within a tolerance, or when both predictions are
missing or non-finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from retrain.config import parse_config
from retrain.drift import prediction_difference
from retrain.metrics.difference import difference_rate, differing_rows
from retrain.validation import validate

pytestmark = pytest.mark.unit

NAN = float("nan")


def test_two_missing_regression_predictions_agree() -> None:
    # Given two models that both give no prediction on the first row and agree on the second
    first, second = np.array([NAN, 1.0]), np.array([NAN, 1.0])

    # Then they never differ (the validation gate used to count the NaN row as a difference: 0.5)
    assert difference_rate("regression", first, second) == 0.0


def test_one_missing_regression_prediction_differs_from_a_finite_one() -> None:
    assert differing_rows("regression", [NAN, 2.0, np.inf], [1.0, NAN, NAN]).tolist() == [True, True, False]


def test_regression_predictions_agree_within_the_tolerance() -> None:
    first, second = [1.0, 2.0, 3.0], [1.05, 2.2, 3.0]

    assert differing_rows("regression", first, second, tolerance=0.1).tolist() == [False, True, False]
    assert differing_rows("regression", first, second).tolist() == [True, True, False]


def test_spellings_of_one_class_agree() -> None:
    # Given the same classes spelled as numbers by one model and as text by the other
    first = np.array([1, 0, 1, 2], dtype=object)
    second = np.array(["1", "0", 1.0, True], dtype=object)

    # Then only the last row differs (the validation gate used to count every row: 1.0)
    assert differing_rows("classification", first, second).tolist() == [False, False, False, True]
    assert difference_rate("classification", [1, 0], ["1", "0"]) == 0.0


def test_missing_classes_agree_with_each_other_only() -> None:
    first = np.array(["a", None, None, "b"], dtype=object)
    second = np.array(["a", NAN, "a", None], dtype=object)

    assert differing_rows("classification", first, second).tolist() == [False, False, True, True]


def test_no_rows_have_no_rate_and_bad_inputs_raise() -> None:
    assert difference_rate("classification", [], []) is None
    with pytest.raises(ValueError, match="first has 2 predictions but second has 1"):
        differing_rows("regression", [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match=r"tolerance == -1, must be >= 0\."):
        differing_rows("regression", [1.0], [1.0], tolerance=-1)
    with pytest.raises(ValueError, match="problem == 'ranking'"):
        differing_rows("ranking", [1], [1])  # type: ignore[arg-type]


def _gate_rate(problem: str, candidate: np.ndarray, champion: np.ndarray, tolerance: float) -> float | None:
    """The rate the validation gate reports for these recent predictions."""
    config = parse_config(
        {
            "model": "churn",
            "problem": problem,
            "target": "y",
            "features": {"numeric": ["x"]},
            "training": {"estimator": "LogisticRegression" if problem == "classification" else "Ridge"},
            "validation": {"prediction_difference_tolerance": tolerance},
        }
    )
    y = np.array([0, 1] * 5) if problem == "classification" else np.linspace(0.0, 1.0, 10)
    holdout = pd.DataFrame({"x": np.arange(10.0), "y": y})
    result = validate(config, holdout, y, y, recent=(candidate, champion))
    return result.prediction_difference


RATE_CASES: list[Any] = [
    pytest.param(
        "classification",
        np.array([1, 0, 1, 1] * 30, dtype=object),
        np.array(["1", "0", "0", 1.0] * 30, dtype=object),
        0.0,
        id="classes-spelled-differently",
    ),
    pytest.param(
        "regression",
        np.array([1.0, NAN, 3.0, NAN, 5.0] * 30),
        np.array([1.2, NAN, 3.0, 4.0, np.inf] * 30),
        0.25,
        id="regression-with-missing",
    ),
]


@pytest.mark.parametrize(("problem", "candidate", "champion", "tolerance"), RATE_CASES)
def test_the_drift_signal_and_the_validation_gate_give_the_same_rate(problem, candidate, champion, tolerance) -> None:
    signal = prediction_difference(champion, candidate, problem=problem, tolerance=tolerance)

    gate = _gate_rate(problem, candidate, champion, tolerance)

    assert signal.rate == gate == difference_rate(problem, candidate, champion, tolerance=tolerance)
