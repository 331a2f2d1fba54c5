"""Multivariate drift (domain classifier), prediction drift and the prediction difference rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from retrain.drift import build_profile, domain_classifier, prediction_difference, prediction_drift
from retrain.drift.multivariate import _auc_p_value
from retrain.errors import InsufficientData, SchemaMismatch

pytestmark = pytest.mark.unit


def _correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    """Two standard normal features with correlation ``rho`` (the marginals never change), and a category."""
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": y, "noise": rng.normal(size=n), "plan": rng.choice(["a", "b", "c"], n)})


# domain classifier -------------------------------------------------------------------------------------


def test_the_domain_classifier_cannot_separate_one_distribution() -> None:
    rng = np.random.default_rng(0)

    result = domain_classifier(
        _correlated(rng, 1500, 0.0), _correlated(rng, 1500, 0.0), numeric=["x", "y", "noise"], categorical=["plan"]
    )

    assert abs(result.auc - 0.5) < 0.05
    assert not result.fired
    assert result.reason is None
    assert (result.n_reference, result.n_current, result.folds) == (1500, 1500, 3)


def test_a_changed_correlation_is_multivariate_drift_that_univariate_tests_miss() -> None:
    # Given windows with identical marginals whose x and y became strongly correlated
    rng = np.random.default_rng(1)
    reference, current = _correlated(rng, 1500, 0.0), _correlated(rng, 1500, 0.9)
    univariate = [scipy.stats.ks_2samp(reference[c], current[c]).pvalue for c in ("x", "y")]

    # When
    result = domain_classifier(reference, current, numeric=["x", "y", "noise"], categorical=["plan"])

    # Then
    assert min(univariate) > 0.01
    assert result.fired
    assert result.auc >= 0.55
    assert result.p_value < 1e-6
    assert {f.feature for f in result.top_features[:2]} == {"x", "y"}
    assert result.reason is not None
    assert result.reason.startswith("multivariate drift: domain classifier AUC")


def test_the_domain_classifier_reads_the_reference_from_a_profiles_row_sample() -> None:
    rng = np.random.default_rng(2)
    reference = _correlated(rng, 3000, 0.0)
    profile = build_profile(reference, numeric=["x", "y", "noise"], categorical=["plan"], sample_rows=1000)
    current = _correlated(rng, 1000, 0.0).assign(plan=lambda f: f["plan"].replace({"c": "new"}))

    result = domain_classifier(profile, current, numeric=["x", "y", "noise"], categorical=["plan"])

    assert result.n_reference == 1000
    assert result.fired
    assert result.top_features[0].feature == "plan"


def test_the_auc_p_value_is_mann_whitneys() -> None:
    rng = np.random.default_rng(3)
    negatives, positives = rng.normal(size=300), rng.normal(0.2, size=200)
    u = scipy.stats.mannwhitneyu(positives, negatives, alternative="greater", method="asymptotic", use_continuity=False)
    auc = u.statistic / (200 * 300)

    assert _auc_p_value(auc, 200, 300) == pytest.approx(u.pvalue, rel=1e-10)


def test_the_domain_classifier_refuses_what_it_cannot_use() -> None:
    rng = np.random.default_rng(4)
    frame = _correlated(rng, 100, 0.0)

    with pytest.raises(InsufficientData, match="3 current window rows < 2 x folds"):
        domain_classifier(frame, frame.head(3), numeric=["x"], categorical=[])
    with pytest.raises(SchemaMismatch, match=r"^current window is missing column 'y'$"):
        domain_classifier(frame, frame.drop(columns=["y"]), numeric=["x", "y"], categorical=[])
    with pytest.raises(InsufficientData, match="no row sample"):
        domain_classifier(
            build_profile(frame, numeric=["x"], categorical=[], sample_rows=0), frame, numeric=["x"], categorical=[]
        )
    with pytest.raises(ValueError, match=r"^auc_threshold == 0.5, must be > 0.5.$"):
        domain_classifier(frame, frame, numeric=["x"], categorical=[], auc_threshold=0.5)


# prediction drift --------------------------------------------------------------------------------------------


def test_prediction_drift_of_classes_is_a_categorical_comparison() -> None:
    rng = np.random.default_rng(5)
    reference = build_profile(
        pd.DataFrame({"prediction": rng.choice([0, 1], 2000, p=[0.7, 0.3])}),
        numeric=[],
        categorical=["prediction"],
        sample_rows=0,
    ).columns["prediction"]

    same = prediction_drift(reference, rng.choice([0, 1], 1000, p=[0.7, 0.3]))
    moved = prediction_drift(reference, pd.Series(rng.choice(["0", "1"], 1000, p=[0.4, 0.6])))

    assert not same.fired
    assert same.result is not None
    assert same.result.test == "chi2"
    assert moved.fired
    assert moved.on == "prediction"
    assert moved.n_current == 1000
    assert moved.reason is not None
    assert moved.reason.startswith("prediction drift: js ")


def test_prediction_drift_of_regression_values_or_scores_is_a_numeric_comparison() -> None:
    rng = np.random.default_rng(6)
    reference = build_profile(
        pd.DataFrame({"score": rng.beta(2, 5, 3000)}), numeric=["score"], categorical=[], sample_rows=0
    ).columns["score"]

    result = prediction_drift(reference, rng.beta(5, 2, 500), on="score", method="psi")

    assert result.fired
    assert result.result is not None
    assert (result.result.method, result.result.test) == ("psi", "ks")


def test_too_few_predictions_are_insufficient() -> None:
    reference = build_profile(pd.DataFrame({"p": [0, 1] * 100}), numeric=[], categorical=["p"]).columns["p"]

    result = prediction_drift(reference, np.array([1] * 20))

    assert result.insufficient
    assert not result.fired
    assert result.reason == "insufficient data: 20 current rows < min_samples 100"


# prediction difference rate -------------------------------------------------------------------------------------


def test_the_difference_rate_of_classifiers_is_the_share_of_rows_they_disagree_on() -> None:
    champion = np.array(["yes", "no", "yes", "no"] * 50)
    candidate = np.array(["yes", "no", "no", "no"] * 50)  # disagrees on a quarter of the rows

    result = prediction_difference(champion, candidate, problem="classification", max_rate=0.2)

    assert (result.rate, result.n, result.n_different) == (0.25, 200, 50)
    assert result.fired
    assert result.reason == "champion and candidate differ on 25.0% of 200 rows (>= 20.0%)"
    assert prediction_difference([1, 0] * 60, ["1", "0"] * 60, problem="classification").rate == 0.0


def test_the_difference_rate_of_regressors_allows_a_tolerance() -> None:
    champion = np.array([10.0, 20.0, 30.0, np.nan, np.nan] * 40)
    candidate = np.array([10.4, 21.0, 30.0, np.nan, 5.0] * 40)

    strict = prediction_difference(champion, candidate, problem="regression")
    tolerant = prediction_difference(champion, candidate, problem="regression", tolerance=0.5)

    assert strict.rate == pytest.approx(3 / 5)  # 10 vs 10.4, 20 vs 21, NaN vs 5
    assert tolerant.rate == pytest.approx(2 / 5)
    assert tolerant.fired


def test_the_difference_rate_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="champion has 2 predictions but candidate has 3"):
        prediction_difference([1, 2], [1, 2, 3], problem="regression")
    with pytest.raises(ValueError, match=r"^tolerance == -1, must be >= 0.$"):
        prediction_difference([1], [1], problem="regression", tolerance=-1)
    short = prediction_difference([1] * 10, [2] * 10, problem="regression")
    assert short.insufficient
    assert short.rate is None
    assert not short.fired
