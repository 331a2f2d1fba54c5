"""Direct loss estimation: label-free MAE and RMSE of a regression model.

The exported ensembles are checked against scikit-learn's own ``predict`` (the
independent reference), and the estimates against the realized errors of
labelled windows whose feature distribution moved.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from retrain.errors import InsufficientData, SchemaMismatch
from retrain.metrics import LossModel, estimate_losses, fit_loss_model
from retrain.metrics.loss import MIN_ROWS, fit_regressor, loss_inputs
from retrain.metrics.trees import Trees, export_trees

pytestmark = pytest.mark.unit

NUMERIC = [f"x{i}" for i in range(9)]
CATEGORICAL = ["tier"]
TIERS = np.array(["basic", "plus", "pro"])


def _rows(n: int, rng: np.random.Generator, *, loud: float = 0.0, pro: float = 0.2) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and target; the noise grows with ``|x5|`` and is largest for tier ``pro``.

    ``loud`` moves ``x5`` away from 0 and ``pro`` is the share of tier ``pro``: both shift rows towards
    the loud ones without changing how the target depends on the features.
    """
    frame = pd.DataFrame({name: rng.normal(size=n) for name in NUMERIC})
    frame["x5"] = rng.normal(loc=loud, size=n)
    frame["tier"] = rng.choice(TIERS, size=n, p=[(1 - pro) * 0.6, (1 - pro) * 0.4, pro])
    scale = 0.3 + np.abs(frame["x5"].to_numpy()) + 2.0 * (frame["tier"] == "pro").to_numpy()
    signal = 3 * frame["x0"] - 2 * frame["x1"] + frame["x2"] + 0.5 * frame["x3"] * frame["x4"]
    return frame, signal.to_numpy() + rng.normal(size=n) * scale


@pytest.fixture(scope="module")
def setting() -> tuple[Ridge, LossModel, float]:
    """A champion fitted on its own rows, the loss model fitted on a holdout, and the holdout's MAE."""
    rng = np.random.default_rng(7)
    train, y_train = _rows(4_000, rng)
    champion = Ridge(alpha=1.0).fit(train[NUMERIC], y_train)
    holdout, y_holdout = _rows(6_000, rng)
    predicted = champion.predict(holdout[NUMERIC])
    model = fit_loss_model(holdout, predicted, y_holdout, numeric=NUMERIC, categorical=CATEGORICAL, seed=0)
    assert isinstance(model, LossModel), model
    return champion, model, float(np.mean(np.abs(y_holdout - predicted)))


@pytest.mark.parametrize(("loud", "pro"), [(0.0, 0.2), (1.0, 0.2), (0.0, 0.6), (1.0, 0.5)])
def test_the_estimate_follows_the_realized_error_of_a_shifted_window(setting, loud, pro):
    # Given a window whose rows moved towards (or stayed away from) the noisy ones
    champion, model, reference_mae = setting
    window, y_window = _rows(20_000, np.random.default_rng(100 + int(10 * loud + 10 * pro)), loud=loud, pro=pro)
    predicted = champion.predict(window[NUMERIC])
    realized = {
        "mae": float(np.mean(np.abs(y_window - predicted))),
        "rmse": float(np.sqrt(np.mean((y_window - predicted) ** 2))),
    }
    # When the losses are estimated without its labels
    result = estimate_losses(model, window, predicted, confidence=0.95, resamples=200, seed=1)
    # Then each estimate is within 10% of the realized value, and far closer to it than the reference's MAE
    for name in ("mae", "rmse"):
        assert abs(result.values[name] - realized[name]) < 0.1 * realized[name], (name, result.values, realized)
    if loud or pro > 0.2:
        shift = abs(reference_mae - realized["mae"])
        assert shift > 0.2 * reference_mae  # the shift changed the error a lot
        assert abs(result.values["mae"] - realized["mae"]) < 0.25 * shift


def test_the_estimate_is_the_mean_predicted_loss_with_a_bootstrap_interval(setting):
    champion, model, _ = setting
    window, _ = _rows(3_000, np.random.default_rng(3), loud=1.0)
    predicted = champion.predict(window[NUMERIC])
    absolute, squared = model.predict(window, predicted)
    result = estimate_losses(model, window, predicted, confidence=0.9, resamples=300, seed=0)
    assert result.n == 3_000
    assert result.values["mae"] == pytest.approx(absolute.mean(), rel=1e-12)
    assert result.values["rmse"] == pytest.approx(np.sqrt(squared.mean()), rel=1e-12)
    for name in ("mae", "rmse"):
        assert result.ci[name].lower < result.values[name] < result.ci[name].upper
    assert (absolute >= 0).all()
    assert (squared >= 0).all()


def _frame_with_gaps(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    frame.loc[rng.random(n) < 0.15, "a"] = np.nan
    frame["tier"] = pd.Series(rng.choice(["x", "y", "z", "w"], size=n), dtype=object)
    frame.loc[rng.random(n) < 0.1, "tier"] = None
    # Missing values of "a" are informative (a split on "is it missing?"), and the category matters.
    a = frame["a"].to_numpy()
    target = np.where(np.isnan(a), 4.0, np.abs(a)) + 2.0 * (frame["tier"] == "z").to_numpy()
    return frame, target + rng.normal(size=n) * 0.5


@pytest.mark.parametrize("leaves", [31, 64])
def test_the_exported_trees_predict_what_scikit_learn_predicts(leaves):
    # Given an ensemble fitted on ordinal codes with missing values among them
    rng = np.random.default_rng(11)
    frame, target = _frame_with_gaps(5_000, rng)
    categories = {"tier": ["w", "x", "y", "z"]}
    x = loss_inputs(frame, frame["b"].to_numpy(), ["a", "b", "c"], categories)
    model = HistGradientBoostingRegressor(max_leaf_nodes=leaves, max_iter=60, random_state=0).fit(x, target)
    # And rows with NaN everywhere they can be, unseen categories and infinities
    fresh, _ = _frame_with_gaps(4_000, np.random.default_rng(12))
    fresh.loc[fresh.index[::5], "tier"] = "never seen"
    fresh.loc[fresh.index[::7], ["b", "c"]] = np.nan
    fresh.loc[fresh.index[1::9], "c"] = np.inf
    prediction = fresh["b"].to_numpy(copy=True)
    prediction[2::11] = np.nan
    rows = loss_inputs(fresh, prediction, ["a", "b", "c"], categories)
    assert np.isnan(rows[::5, 3]).all()  # unseen category
    assert np.isnan(rows[1::9, 2]).all()  # inf counts as missing
    # When the flat arrays are evaluated with numpy
    trees = export_trees(model)
    # Then they give scikit-learn's prediction, and the ensemble did split on "is it missing?"
    np.testing.assert_allclose(trees.predict(rows), model.predict(rows), rtol=0, atol=1e-9)
    assert max(trees.threshold) == np.finfo(np.float64).max
    assert trees.n_trees == model.n_iter_


def test_the_loss_models_ensembles_are_the_fitted_ones():
    rng = np.random.default_rng(5)
    frame, target = _frame_with_gaps(3_000, rng)
    x = loss_inputs(frame, frame["b"].to_numpy(), ["a", "b", "c"], {"tier": ["w", "x", "y", "z"]})
    fitted = fit_regressor(x, target, seed=0)
    np.testing.assert_allclose(export_trees(fitted).predict(x), fitted.predict(x), rtol=0, atol=1e-9)


def test_a_json_round_trip_gives_identical_predictions(setting):
    champion, model, _ = setting
    text = json.dumps(model.model_dump(mode="json"))
    loaded = LossModel.model_validate(json.loads(text))
    window, _ = _rows(2_000, np.random.default_rng(4), loud=1.0)
    window.loc[window.index[::3], "x5"] = np.nan
    window.loc[window.index[1::4], "tier"] = "enterprise"
    predicted = champion.predict(window[NUMERIC].fillna(0.0))
    for before, after in zip(model.predict(window, predicted), loaded.predict(window, predicted), strict=True):
        np.testing.assert_array_equal(before, after)
    assert loaded.categorical == {"tier": ["basic", "plus", "pro"]}
    assert loaded.rows == 6_000
    print(f"loss model JSON: {len(text) / 1e3:.0f} kB")


def test_a_missing_feature_column_is_a_schema_mismatch_naming_it(setting):
    champion, model, _ = setting
    window, _ = _rows(500, np.random.default_rng(6))
    predicted = champion.predict(window[NUMERIC])
    with pytest.raises(SchemaMismatch, match="'x3'") as caught:
        estimate_losses(model, window.drop(columns="x3"), predicted)
    assert caught.value.missing == ["x3"]


def test_an_empty_window_is_insufficient_data(setting):
    _, model, _ = setting
    window, _ = _rows(10, np.random.default_rng(8))
    with pytest.raises(InsufficientData):
        estimate_losses(model, window.iloc[:0], np.empty(0))


def test_too_few_labelled_rows_give_a_reason_instead_of_a_model():
    rng = np.random.default_rng(9)
    frame, target = _rows(MIN_ROWS + 20, rng)
    target[:30] = np.nan  # 90 labelled rows left
    outcome = fit_loss_model(frame, target + 1.0, target, numeric=NUMERIC, categorical=CATEGORICAL)
    assert isinstance(outcome, str)
    assert "90 labelled rows" in outcome
    assert str(MIN_ROWS) in outcome


def test_a_model_without_errors_estimates_zero_loss():
    # Given predictions equal to the truth: every tree of the error models is a single leaf
    frame, target = _rows(500, np.random.default_rng(13))
    model = fit_loss_model(frame, target, target, numeric=NUMERIC, categorical=CATEGORICAL)
    assert isinstance(model, LossModel)
    assert model.absolute.splits[-1] == 0
    # Then the estimated losses are zero
    result = estimate_losses(model, frame, target, resamples=50)
    assert result.values == {"mae": 0.0, "rmse": 0.0}


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("left", lambda values: [0, *values[1:]]),  # the root's left child is the root itself: a cycle
        ("value", lambda values: values[:-1]),  # one leaf value short
    ],
)
def test_inconsistent_tree_arrays_are_refused(setting, field, edit):
    _, model, _ = setting
    document = model.absolute.model_dump(mode="json")
    document[field] = edit(document[field])
    with pytest.raises(ValueError, match=r"child|disagree"):
        Trees.model_validate(document)
