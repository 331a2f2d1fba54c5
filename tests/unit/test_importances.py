"""Permutation importances and the model profile the train step stores for the drift check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance

from retrain import training
from retrain.config import ModelConfig, parse_config
from retrain.drift.profile import CategoricalProfile, NumericProfile
from retrain.steps.train import model_profile

pytestmark = pytest.mark.unit


def _config(
    problem: str = "classification", estimator: str = "HistGradientBoostingClassifier", **extra: object
) -> ModelConfig:
    return parse_config(
        {
            "model": "m",
            "problem": problem,
            "target": "y",
            "features": {"numeric": ["signal", "noise"], "categorical": ["group", "junk"]},
            "training": {"estimator": estimator, "params": {"max_iter": 30}, "min_rows": 50},
            **extra,
        }
    )


def _data(rng: np.random.Generator, n: int, problem: str = "classification") -> pd.DataFrame:
    """y depends on 'signal' and 'group' only."""
    signal = rng.normal(size=n)
    group = rng.choice(["a", "b", "c"], n)
    latent = 2 * signal + (group == "a") * 1.5
    y = (latent + rng.normal(0, 0.5, n) > 0.5).astype(int) if problem == "classification" else latent
    return pd.DataFrame(
        {"signal": signal, "noise": rng.normal(size=n), "group": group, "junk": rng.choice(["x", "y"], n), "y": y}
    )


def test_importances_rank_the_features_the_model_uses() -> None:
    rng = np.random.default_rng(0)
    config = _config()
    model = training.fit(config, _data(rng, 1500))

    importances = training.permutation_importances(model, _data(rng, 800), config, repeats=5)

    assert list(importances) == ["signal", "noise", "group", "junk"]
    assert importances["signal"] > importances["group"] > 0.02
    assert abs(importances["noise"]) < 0.01
    assert abs(importances["junk"]) < 0.01


def test_importances_equal_scikit_learns_permutation_of_the_raw_columns_on_average() -> None:
    rng = np.random.default_rng(1)
    config = _config()
    model = training.fit(config, _data(rng, 1500))
    holdout = _data(rng, 800)
    x = training.feature_frame(holdout, config)

    ours = training.permutation_importances(model, holdout, config, repeats=20, seed=1)
    theirs = permutation_importance(model, x, holdout["y"].to_numpy(), scoring="accuracy", n_repeats=20, random_state=1)

    for name, value in zip(x.columns, theirs["importances_mean"], strict=True):
        assert ours[name] == pytest.approx(value, abs=0.01), name


def test_importances_of_a_regressor_use_its_primary_metric() -> None:
    rng = np.random.default_rng(2)
    config = _config("regression", "Ridge", triggers={"performance": {"metric": "mae", "max": 1.0}})
    model = training.fit(
        config.model_copy(update={"training": config.training.model_copy(update={"params": {}})}),
        _data(rng, 600, "regression"),
    )

    importances = training.permutation_importances(model, _data(rng, 400, "regression"), config)

    assert training.importance_scorer(config) == "neg_mean_absolute_error"
    assert importances["signal"] > 1.0 > abs(importances["noise"])


@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")  # a bare estimator fed the feature frame
def test_an_estimator_outside_the_pipeline_falls_back_to_scikit_learns_permutation() -> None:
    rng = np.random.default_rng(3)
    config = parse_config(
        {
            "model": "m",
            "problem": "classification",
            "target": "y",
            "features": {"numeric": ["signal", "noise"]},
            "training": {"estimator": "LogisticRegression", "min_rows": 50},
        }
    )
    bare = training.fit(config, _data(rng, 600)).named_steps["estimator"]  # no preprocessing step

    importances = training.permutation_importances(bare, _data(rng, 300), config)

    assert importances["signal"] > 0.1 > abs(importances["noise"])


def test_the_model_profile_holds_importances_and_the_distribution_of_its_outputs() -> None:
    rng = np.random.default_rng(4)
    config = _config()
    train, holdout = _data(rng, 1200), _data(rng, 300)
    model = training.fit(config, train)

    profile = model_profile(config, model, train, holdout)

    assert profile.meta["source"] == "holdout"
    assert profile.meta["rows"] == 300
    assert profile.meta["importance_scorer"] == "accuracy"
    assert profile.meta["positive_class"] == "1"
    assert set(profile.meta["importances"]) == {"signal", "noise", "group", "junk"}
    prediction, score = profile.columns["prediction"], profile.columns["score"]
    assert isinstance(prediction, CategoricalProfile)
    assert prediction.n_rows == 300
    assert sorted(prediction.categories) == ["0", "1"]
    assert isinstance(score, NumericProfile)
    assert score.values[0] >= 0.0
    assert score.values[-1] <= 1.0


def test_a_small_holdout_profiles_the_whole_snapshot_and_a_regressor_has_no_score() -> None:
    rng = np.random.default_rng(5)
    config = _config("regression", "Ridge")
    config = config.model_copy(update={"training": config.training.model_copy(update={"params": {}})})
    train, holdout = _data(rng, 400, "regression"), _data(rng, 40, "regression")
    model = training.fit(config, train)

    profile = model_profile(config, model, train, holdout)

    assert profile.meta["source"] == "snapshot"
    assert profile.meta["rows"] == 440
    assert isinstance(profile.columns["prediction"], NumericProfile)
    assert "score" not in profile.columns
