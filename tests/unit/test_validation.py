"""Specification of retrain.validation: the holdout split and the candidate's gates.

Expected metric values are worked by hand: a classifier that gets k of 100 labels
wrong has accuracy (100 - k) / 100, and a regressor off by a constant c has RMSE |c|.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrain.config import ModelConfig, parse_config
from retrain.errors import InsufficientData, SchemaMismatch
from retrain.validation import Gate, ValidationResult, split_holdout, validate

pytestmark = pytest.mark.unit

N = 100


def make_config(
    problem: str = "classification",
    *,
    min: dict[str, float] | None = None,
    max: dict[str, float] | None = None,
    mode: str = "not_worse",
    delta: float = 0.0,
) -> ModelConfig:
    return parse_config(
        {
            "model": "churn",
            "problem": problem,
            "target": "y",
            "features": {"numeric": ["x"]},
            "training": {"estimator": "LogisticRegression" if problem == "classification" else "Ridge"},
            "validation": {
                "min": min or {},
                "max": max or {},
                "compare": {"mode": mode, "delta": delta},
                "metric": "accuracy" if problem == "classification" else "rmse",
            },
        }
    )


def holdout(problem: str = "classification") -> pd.DataFrame:
    y = np.tile([0, 1], N // 2) if problem == "classification" else np.linspace(0.0, 10.0, N)
    return pd.DataFrame({"x": np.arange(N, dtype=float), "y": y})


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
    assert vs.value == pytest.approx(worse_value) and vs.limit == pytest.approx(good_value)
    op = "<" if metric == "accuracy" else ">"
    sign = "-" if metric == "accuracy" else "+"
    assert result.reasons == [f"vs champion: {metric} {worse_value:.4f} {op} champion {good_value:.4f} {sign} 0.0000"]


@pytest.mark.parametrize(("problem", "good", "worse", "metric", "good_value", "worse_value"), CASES)
def test_better_candidate_is_accepted(problem, good, worse, metric, good_value, worse_value) -> None:
    result = validate(make_config(problem), holdout(problem), candidate_pred=good, champion_pred=worse)

    assert result.passed and result.reasons == []
    assert result.metric == metric
    assert result.candidate_metrics[metric] == pytest.approx(good_value)
    assert result.champion_metrics is not None
    assert result.champion_metrics[metric] == pytest.approx(worse_value)


@pytest.mark.parametrize(("problem", "good", "worse", "metric", "good_value", "worse_value"), CASES)
def test_equal_candidate_passes_not_worse(problem, good, worse, metric, good_value, worse_value) -> None:
    result = validate(make_config(problem), holdout(problem), candidate_pred=good, champion_pred=good)

    assert result.passed


@pytest.mark.parametrize(
    ("candidate", "champion", "delta", "passed"),
    [
        (0.78, 0.80, 0.02, True),  # exactly delta worse: tolerated (no float rounding loss)
        (0.79, 0.80, 0.02, True),
        (0.77, 0.80, 0.02, False),
    ],
)
def test_not_worse_tolerates_delta(candidate: float, champion: float, delta: float, passed: bool) -> None:
    config = make_config(mode="not_worse", delta=delta)

    result = validate(config, holdout(), with_accuracy(candidate), with_accuracy(champion))

    vs = gate(result, "vs champion")
    assert vs.passed is passed
    assert vs.limit == pytest.approx(champion - delta)


@pytest.mark.parametrize(
    ("candidate", "champion", "delta", "passed"),
    [
        (0.85, 0.80, 0.05, True),  # exactly delta better
        (0.84, 0.80, 0.05, False),
        (0.81, 0.80, 0.0, True),
        (0.80, 0.80, 0.0, False),  # delta 0 means strictly better: a tie is not enough
    ],
)
def test_better_requires_improvement_by_delta(candidate: float, champion: float, delta: float, passed: bool) -> None:
    config = make_config(mode="better", delta=delta)

    result = validate(config, holdout(), with_accuracy(candidate), with_accuracy(champion))

    vs = gate(result, "vs champion")
    assert vs.passed is passed
    assert vs.limit == pytest.approx(champion + delta)


@pytest.mark.parametrize(
    ("mode", "candidate", "champion", "delta", "passed", "limit"),
    [
        ("not_worse", 1.5, 1.0, 0.5, True, 1.5),  # higher RMSE, but within delta
        ("not_worse", 1.6, 1.0, 0.5, False, 1.5),
        ("better", 0.5, 1.0, 0.5, True, 0.5),  # lower RMSE by delta
        ("better", 0.6, 1.0, 0.5, False, 0.5),
        ("better", 1.0, 1.0, 0.0, False, 1.0),
    ],
)
def test_regression_lower_rmse_is_better(mode, candidate, champion, delta, passed, limit) -> None:
    config = make_config("regression", mode=mode, delta=delta)

    result = validate(config, holdout("regression"), with_rmse(candidate), with_rmse(champion))

    vs = gate(result, "vs champion")
    assert vs.passed is passed
    assert vs.value == pytest.approx(candidate) and vs.limit == pytest.approx(limit)


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
    assert sanity.name == "prediction sanity" and not sanity.passed
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
