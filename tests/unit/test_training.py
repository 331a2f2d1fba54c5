"""Specification of retrain.training: allowlisted estimators, fitting and safe artifacts."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import shuffle

from retrain import training
from retrain.config import ModelConfig, Problem, parse_config
from retrain.errors import ArtifactIntegrityError, EstimatorNotAllowed, InsufficientData, SchemaMismatch

pytestmark = pytest.mark.unit

CLASSIFIERS = sorted(n for n, p in training.ESTIMATOR_PROBLEM.items() if p == "classification")
REGRESSORS = sorted(n for n, p in training.ESTIMATOR_PROBLEM.items() if p == "regression")
ALL = [(name, training.ESTIMATOR_PROBLEM[name]) for name in sorted(training.ALLOWED_ESTIMATORS)]
TARGET = {"classification": "churned", "regression": "spend"}

# Small ensembles keep the whole file fast; the behaviour under test does not depend on size.
FAST_PARAMS: dict[str, dict[str, int]] = {
    "RandomForestClassifier": {"n_estimators": 15},
    "RandomForestRegressor": {"n_estimators": 15},
    "ExtraTreesClassifier": {"n_estimators": 15},
    "ExtraTreesRegressor": {"n_estimators": 15},
    "GradientBoostingClassifier": {"n_estimators": 20},
    "GradientBoostingRegressor": {"n_estimators": 20},
    "HistGradientBoostingClassifier": {"max_iter": 20},
    "HistGradientBoostingRegressor": {"max_iter": 20},
}


def make_config(problem: str = "classification", estimator: str | None = None, **training_extra) -> ModelConfig:
    estimator = estimator or ("LogisticRegression" if problem == "classification" else "Ridge")
    return parse_config(
        {
            "model": "churn",
            "problem": problem,
            "target": TARGET[problem],
            "features": {"numeric": ["tenure", "usage"], "categorical": ["plan"]},
            "training": {
                "estimator": estimator,
                "params": FAST_PARAMS.get(estimator, {}),
                "min_rows": 100,
                "seed": 3,
                **training_extra,
            },
        }
    )


def make_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.uniform(0, 60, n)
    usage = rng.normal(10, 3, n)
    plan = rng.choice(["basic", "pro", "team"], n)
    score = -0.05 * tenure + 0.3 * (usage - 10) + np.where(plan == "basic", 1.0, 0.0) + rng.normal(0, 0.5, n)
    frame = pd.DataFrame(
        {
            "tenure": tenure,
            "usage": usage,
            "plan": plan,
            "churned": (score > -0.5).astype(int),
            "spend": 2.0 * usage + 0.1 * tenure + np.where(plan == "team", 5.0, 0.0) + rng.normal(0, 1, n),
        }
    )
    frame.loc[::11, "usage"] = np.nan
    frame.loc[::13, "plan"] = None
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame()


# --- resolve_estimator -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["os.system", "sklearn.svm.SVC", "SVC", "builtins.eval", "subprocess.Popen"])
@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_estimator_outside_allowlist_is_refused_with_the_allowed_names(name: str, problem: Problem) -> None:
    with pytest.raises(EstimatorNotAllowed) as info:
        training.resolve_estimator(name, {}, problem, seed=0)

    message = str(info.value)
    assert repr(name) in message
    expected = CLASSIFIERS if problem == "classification" else REGRESSORS
    assert all(allowed in message for allowed in expected)


@pytest.mark.parametrize(("name", "problem"), ALL)
def test_allowlisted_estimator_resolves_by_name_and_by_public_path(name: str, problem: Problem) -> None:
    by_name = training.resolve_estimator(name, {}, problem, seed=0)
    by_path = training.resolve_estimator(f"{training.ALLOWED_ESTIMATORS[name]}.{name}", {}, problem, seed=0)

    assert type(by_name).__name__ == name
    assert type(by_path) is type(by_name)


@pytest.mark.parametrize(("name", "problem"), ALL)
def test_estimator_for_the_other_problem_type_is_refused(name: str, problem: Problem) -> None:
    other: Problem = "regression" if problem == "classification" else "classification"

    with pytest.raises(EstimatorNotAllowed, match=f"{name} is a {problem} estimator.*problem is {other}"):
        training.resolve_estimator(name, {}, other, seed=0)


@pytest.mark.parametrize(("name", "problem"), [("RandomForestClassifier", "classification"), ("Ridge", "regression")])
def test_unknown_parameter_is_named_with_the_estimator(name: str, problem: Problem) -> None:
    with pytest.raises(EstimatorNotAllowed, match=f"unknown parameter 'n_trees' for {name}"):
        training.resolve_estimator(name, {"n_trees": 10}, problem, seed=0)


@pytest.mark.parametrize(
    ("name", "problem", "params", "parameter"),
    [
        ("LogisticRegression", "classification", {"max_iter": -1}, "max_iter"),
        ("RandomForestRegressor", "regression", {"n_estimators": 0}, "n_estimators"),
        ("Ridge", "regression", {"alpha": -1.0}, "alpha"),
        ("KNeighborsClassifier", "classification", {"weights": "heaviest"}, "weights"),
    ],
)
def test_invalid_parameter_value_is_refused(name: str, problem: Problem, params: dict, parameter: str) -> None:
    with pytest.raises(EstimatorNotAllowed, match=f"invalid parameter for {name}.*'{parameter}'"):
        training.resolve_estimator(name, params, problem, seed=0)


@pytest.mark.parametrize(("name", "problem"), ALL)
def test_seed_becomes_random_state_when_the_estimator_takes_one(name: str, problem: Problem) -> None:
    estimator = training.resolve_estimator(name, {}, problem, seed=7)

    params = estimator.get_params()
    if "random_state" in params:
        assert params["random_state"] == 7


def test_explicit_random_state_wins_over_the_seed() -> None:
    estimator = training.resolve_estimator("DecisionTreeRegressor", {"random_state": 42}, "regression", seed=7)

    assert estimator.get_params()["random_state"] == 42


def test_unknown_problem_type_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="problem == 'ranking'"):
        training.resolve_estimator("Ridge", {}, "ranking", seed=0)  # type: ignore[arg-type]


# --- feature_frame ------------------------------------------------------------------------------


def test_missing_feature_column_is_named(frame: pd.DataFrame) -> None:
    with pytest.raises(SchemaMismatch, match="training data is missing column 'plan'") as info:
        training.fit(make_config(), frame.drop(columns=["plan"]))

    assert info.value.missing == ["plan"]


def test_every_missing_feature_column_is_listed(frame: pd.DataFrame) -> None:
    with pytest.raises(SchemaMismatch, match="missing columns 'tenure', 'plan'") as info:
        training.feature_frame(frame.drop(columns=["tenure", "plan"]), make_config())

    assert info.value.missing == ["tenure", "plan"]


def test_missing_target_column_is_named(frame: pd.DataFrame) -> None:
    with pytest.raises(SchemaMismatch, match="missing target column 'churned'") as info:
        training.fit(make_config(), frame.drop(columns=["churned"]))

    assert info.value.missing == ["churned"]


def test_non_numeric_value_in_numeric_column_is_named(frame: pd.DataFrame) -> None:
    bad = frame.astype({"usage": object})
    bad.loc[5, "usage"] = "n/a"

    with pytest.raises(SchemaMismatch, match="column 'usage' must be numeric, found 'n/a'"):
        training.fit(make_config(), bad)


def test_feature_frame_selects_features_in_config_order_and_types_them() -> None:
    # Given a frame with extra columns, strings for numbers, an infinity and mixed categoricals
    df = pd.DataFrame(
        {
            "extra": [1, 2, 3],
            "plan": [1.0, np.nan, 2.5],
            "usage": ["1.5", "2", None],
            "tenure": [1.0, np.inf, 3.0],
        }
    )

    # When
    out = training.feature_frame(df, make_config())

    # Then
    assert list(out.columns) == ["tenure", "usage", "plan"]
    assert out["tenure"].dtype == np.float64
    assert np.isnan(out["tenure"].loc[1])
    assert out["usage"].tolist()[:2] == [1.5, 2.0]
    assert np.isnan(out["usage"].loc[2])
    assert out["plan"].dtype == object
    assert out.loc[0, "plan"] == "1"
    assert out.loc[2, "plan"] == "2.5"
    assert pd.isna(out["plan"].loc[1])


# --- fit ----------------------------------------------------------------------------------------


def test_too_few_labelled_rows_is_insufficient_data(frame: pd.DataFrame) -> None:
    # Given 120 rows of which 30 have no target, and min_rows == 100
    few = frame.head(120).copy()
    few.loc[few.index[:30], "churned"] = np.nan

    with pytest.raises(InsufficientData, match=r"90 rows with a target, fewer than training.min_rows == 100"):
        training.fit(make_config(), few)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_a_single_class_is_insufficient_data(frame: pd.DataFrame, name: str) -> None:
    one_class = frame.assign(churned=1)

    with pytest.raises(InsufficientData, match="'churned' has 1 class, a classifier needs at least 2"):
        training.fit(make_config(estimator=name), one_class)


def test_non_numeric_regression_target_is_named(frame: pd.DataFrame) -> None:
    bad = frame.astype({"spend": object})
    bad.loc[3, "spend"] = "lots"

    with pytest.raises(SchemaMismatch, match="column 'spend' must be numeric"):
        training.fit(make_config("regression"), bad)


@pytest.mark.parametrize(("name", "problem"), ALL)
def test_fit_is_deterministic(frame: pd.DataFrame, name: str, problem: str) -> None:
    config = make_config(problem, name)
    same_data = frame.copy()

    first = training.predict(training.fit(config, frame), frame, config)
    second = training.predict(training.fit(config, same_data), frame, config)

    np.testing.assert_array_equal(first, second)


def test_fit_learns_something(frame: pd.DataFrame) -> None:
    config = make_config(estimator="HistGradientBoostingClassifier")

    pred = training.predict(training.fit(config, frame), frame, config)

    base_rate = max(frame["churned"].mean(), 1 - frame["churned"].mean())
    assert (pred == frame["churned"].to_numpy()).mean() > base_rate


def test_numeric_only_features_are_supported(frame: pd.DataFrame) -> None:
    config = make_config().model_copy(
        update={"features": make_config().features.model_copy(update={"categorical": []})}
    )

    pred = training.predict(training.fit(config, frame), frame, config)

    assert pred.shape == (len(frame),)


@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_unseen_and_missing_categories_at_predict_time_do_not_crash(frame: pd.DataFrame, problem: str) -> None:
    config = make_config(problem)
    model = training.fit(config, frame)
    scoring = frame.head(4).drop(columns=[TARGET[problem]]).copy()
    scoring["plan"] = ["enterprise", None, "basic", "trial"]

    pred = training.predict(model, scoring, config)

    assert pred.shape == (4,)


# --- artifacts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "problem"), ALL)
def test_skops_round_trip_gives_identical_predictions(frame: pd.DataFrame, name: str, problem: str) -> None:
    config = make_config(problem, name)
    model = training.fit(config, frame)
    data = training.dumps(model)

    loaded = training.loads(data, expected_sha256=training.sha256_hex(data))

    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(training.predict(loaded, frame, config), training.predict(model, frame, config))


def test_sha256_hex_is_the_hex_sha256() -> None:
    assert training.sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()


@pytest.fixture(scope="module")
def artifact(frame: pd.DataFrame) -> bytes:
    return training.dumps(training.fit(make_config(estimator="DecisionTreeClassifier"), frame))


def test_tampered_bytes_fail_the_sha256_check(artifact: bytes) -> None:
    expected = training.sha256_hex(artifact)
    tampered = bytearray(artifact)
    tampered[len(tampered) // 2] ^= 0xFF

    with pytest.raises(ArtifactIntegrityError, match=f"artifact sha256 mismatch: expected {expected}, got "):
        training.loads(bytes(tampered), expected_sha256=expected)


@pytest.mark.parametrize("data", [b"", b"not a zip file", b"PK\x03\x04garbage"])
def test_bytes_that_are_not_an_artifact_are_refused(data: bytes) -> None:
    with pytest.raises(ArtifactIntegrityError, match="not a readable skops file"):
        training.loads(data)


class Smuggled:
    """A class from outside the trusted modules."""

    def __call__(self, x: object) -> object:
        return x


@pytest.mark.parametrize(
    ("func", "refused"),
    [
        (os.system, f"{os.system.__module__}.system"),
        (shuffle, f"{shuffle.__module__}.shuffle"),  # a scikit-learn *function*, not a class
        (Smuggled(), f"{__name__}.Smuggled"),
    ],
)
def test_artifact_with_a_type_outside_the_allowlist_is_refused(func: object, refused: str) -> None:
    data = sio.dumps(Pipeline([("step", FunctionTransformer(func=func))]))  # crafted: training.dumps refuses it

    with pytest.raises(ArtifactIntegrityError, match=f"outside the allowlist: .*{refused}"):
        training.loads(data)


def test_a_type_is_refused_by_name_without_importing_its_module() -> None:
    # Given a function that claims to live in numpy's f2py command-line entry point
    def main(x: object) -> object:
        return x

    main.__module__ = "numpy.f2py.__main__"
    data = sio.dumps(Pipeline([("step", FunctionTransformer(func=main))]))

    # Then it is refused by name, without importing (and so running) that module
    with pytest.raises(ArtifactIntegrityError, match=r"outside the allowlist: numpy\.f2py\.__main__\.main"):
        training.loads(data)
