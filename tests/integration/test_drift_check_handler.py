"""The DriftCheck handler: the window against the champion's reference profile, and the champion's outputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from helpers import Deployment, call, deploy, invoke, load_model, run_input
from retrain import aws, registry, snapshot, training
from retrain.config import loads_config
from retrain.demo import generate_churn
from retrain.errors import ConfigError, ModelNotFound
from retrain.layout import config_key

pytestmark = pytest.mark.integration

STABLE_END = datetime(2025, 4, 1, tzinfo=UTC)
DRIFTED_END = datetime(2025, 5, 1, tzinfo=UTC)
MISSING_COLUMN_END = datetime(2025, 6, 1, tzinfo=UTC)
SHORT_END = datetime(2025, 7, 1, tzinfo=UTC)

CONTINUOUS = ["tenure_months", "monthly_charges"]
DISCRETE = ["support_calls"]  # a count with a handful of values: tested as categories
CATEGORICAL = ["contract", "internet", "payment_method"]
FEATURES = [*CONTINUOUS, *DISCRETE, *CATEGORICAL]


def _emf_values(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            directive = record["_aws"]["CloudWatchMetrics"][0]
            assert "model" in directive["Dimensions"][0]
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]
                values[metric["Name"]] = value[-1] if isinstance(value, list) else value
    return values


@pytest.fixture(scope="module")
def drifted_rows(module_churn: Deployment) -> pd.DataFrame:
    rows = generate_churn(800, seed=32, drift=True)
    module_churn.write_window(rows, end=DRIFTED_END)
    return rows


@pytest.fixture(scope="module")
def drifted(module_churn: Deployment, drifted_rows: pd.DataFrame) -> dict:
    return call(module_churn.cloud, "drift_check", run_input(DRIFTED_END))


@pytest.fixture(scope="module")
def stable(module_churn: Deployment) -> dict:
    module_churn.write_window(generate_churn(800, seed=31), end=STABLE_END)
    return call(module_churn.cloud, "drift_check", run_input(STABLE_END))


# the data set's verdict -------------------------------------------------------------------------------------


def test_a_window_from_the_training_distribution_has_not_drifted(stable: dict) -> None:
    assert stable["signal"] == "drift"
    assert stable["fired"] is False
    assert stable["votes"] == [False]
    assert stable["details"]["fired"] is False
    assert stable["details"]["share"] < stable["details"]["threshold_share"]
    assert stable["reason"] is None


def test_a_drifted_window_has_drifted_triggers_and_votes(drifted: dict) -> None:
    assert drifted["fired"] is True
    assert drifted["votes"] == [True]
    assert drifted["details"]["fired"] is True
    assert drifted["reason"].startswith("drift in ")
    assert drifted["details"]["votes"] == {"dataset": True}


def test_every_feature_is_compared_with_the_whole_reference(drifted: dict, churn_reference: pd.DataFrame) -> None:
    features = drifted["details"]["features"]

    assert sorted(features) == sorted(FEATURES)
    assert {f["n_reference"] for f in features.values()} == {len(churn_reference)}
    assert drifted["details"]["n_current"] == 800
    assert drifted["details"]["n_reference"] == len(churn_reference)


def test_the_reference_is_the_profile_stored_with_the_champions_snapshot(
    module_churn: Deployment, drifted: dict
) -> None:
    champion = registry.require_champion(module_churn.settings.registry_table, "churn")

    profile = snapshot.load_profile(module_churn.settings.artifact_bucket, "churn", champion.snapshot_id)

    assert drifted["details"]["profile"] == "stored"
    assert profile is not None
    assert sorted(profile.columns) == sorted(FEATURES)


@pytest.mark.parametrize("feature", CONTINUOUS)
def test_a_continuous_feature_is_tested_with_scipys_ks_and_measured_in_wasserstein(
    drifted: dict, churn_reference: pd.DataFrame, drifted_rows: pd.DataFrame, feature: str
) -> None:
    expected = stats.ks_2samp(churn_reference[feature], drifted_rows[feature])
    distance = stats.wasserstein_distance(churn_reference[feature], drifted_rows[feature])

    result = drifted["details"]["features"][feature]

    assert (result["test"], result["method"], result["threshold"]) == ("ks", "wasserstein", 0.1)
    assert result["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert result["effect"] == pytest.approx(distance / churn_reference[feature].std(ddof=0), rel=1e-9)
    assert result["fired"] is (result["p_value_adjusted"] < 0.05 and result["effect"] >= 0.1)


def test_a_count_feature_is_tested_with_scipys_chi2_on_its_values(
    drifted: dict, churn_reference: pd.DataFrame, drifted_rows: pd.DataFrame
) -> None:
    result = drifted["details"]["features"]["support_calls"]

    assert (result["kind"], result["test"], result["method"]) == ("discrete", "chi2", "js")
    assert result["fired"] is True


@pytest.mark.parametrize("feature", CATEGORICAL)
def test_a_categorical_feature_is_tested_with_scipys_chi2_of_homogeneity(
    drifted: dict, churn_reference: pd.DataFrame, drifted_rows: pd.DataFrame, feature: str
) -> None:
    table = pd.concat([churn_reference[feature].value_counts(), drifted_rows[feature].value_counts()], axis=1).fillna(0)
    expected = stats.chi2_contingency(table.to_numpy().T, correction=False)
    shares = table / table.sum()

    result = drifted["details"]["features"][feature]

    assert (result["test"], result["method"]) == ("chi2", "js")
    assert result["statistic"] == pytest.approx(expected.statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert result["effect"] == pytest.approx(float(jensenshannon(shares.iloc[:, 0], shares.iloc[:, 1])))


def test_drift_is_weighted_by_the_champions_permutation_importances(drifted: dict) -> None:
    features = drifted["details"]["features"]

    assert sum(f["importance"] for f in features.values()) == pytest.approx(1.0)
    assert drifted["details"]["weighted_share"] == pytest.approx(
        sum(f["importance"] for f in features.values() if f["fired"])
    )


def test_drift_share_and_drifted_features_are_published_as_emf_metrics(
    module_churn: Deployment, drifted_rows: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    result = call(module_churn.cloud, "drift_check", run_input(DRIFTED_END))

    published = _emf_values(capsys.readouterr().out)

    assert published["DriftShare"] == pytest.approx(result["details"]["share"])
    assert published["DriftedFeatures"] == result["details"]["n_drifted"]
    assert published["SchemaDriftColumns"] == 0
    assert published["ImportanceWeightedDriftShare"] == pytest.approx(result["details"]["weighted_share"])


def test_a_window_missing_a_feature_column_is_schema_drift_naming_it(module_churn: Deployment) -> None:
    # Given an upstream change that stopped logging monthly_charges
    rows = generate_churn(300, seed=33).drop(columns=["monthly_charges"])
    module_churn.write_window(rows, end=MISSING_COLUMN_END)

    result = call(module_churn.cloud, "drift_check", run_input(MISSING_COLUMN_END))

    assert result["fired"] is True
    assert "schema drift: current window is missing column 'monthly_charges'" in result["reason"]
    assert result["details"]["schema_drifted"] == ["monthly_charges"]
    assert result["details"]["features"]["monthly_charges"]["method"] == "schema"


def test_a_window_below_min_samples_is_insufficient_and_does_not_vote(
    module_churn: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    module_churn.write_window(generate_churn(40, seed=34, drift=True), end=SHORT_END)
    capsys.readouterr()

    result = call(module_churn.cloud, "drift_check", run_input(SHORT_END))

    assert result["insufficient"] is True
    assert result["fired"] is False
    assert result["votes"] == []
    assert result["reason"] == "insufficient data: 40 current rows < min_samples 100"
    assert "DriftShare" not in _emf_values(capsys.readouterr().out)


def test_a_model_without_champion_is_model_not_found(module_churn: Deployment) -> None:
    # Given a model whose config is deployed but which was never trained
    text = module_churn.text.replace("model: churn\n", "model: churn-new\n")
    deploy(module_churn.cloud, loads_config(text), text)

    response = invoke(module_churn.cloud, "drift_check", run_input(STABLE_END, model="churn-new"))

    assert response.error_type == ModelNotFound.__name__
    assert "'churn-new' has no champion" in response.error_message


def test_per_feature_settings_naming_no_feature_are_a_config_error(module_churn: Deployment) -> None:
    text = module_churn.text.replace("model: churn\n", "model: churn-typo\n").replace(
        "  drift: {share: 0.3}\n", "  drift: {share: 0.3, features: {tenure: {critical: true}}}\n"
    )
    # (written as is: validate-config and deploy refuse it, so only a hand-edited object gets there)
    aws.put_bytes(module_churn.settings.data_bucket, config_key("churn-typo"), text.encode())

    response = invoke(module_churn.cloud, "drift_check", run_input(STABLE_END, model="churn-typo"))

    assert response.error_type == ConfigError.__name__
    assert "triggers.drift.features.tenure: 'tenure' is not a feature of the model" in response.error_message


# an older snapshot without a profile ------------------------------------------------------------------------------


def test_a_snapshot_without_a_stored_profile_is_profiled_from_its_data(
    module_churn: Deployment, drifted: dict, churn_reference: pd.DataFrame
) -> None:
    # Given the champion's snapshot as an older version wrote it: no profile next to it
    settings = module_churn.settings
    champion = registry.require_champion(settings.registry_table, "churn")
    key = snapshot.profile_key("churn", champion.snapshot_id)
    saved = aws.get_bytes(settings.artifact_bucket, key)
    aws.s3().delete_object(Bucket=settings.artifact_bucket, Key=key)
    try:
        # When
        result = call(module_churn.cloud, "drift_check", run_input(DRIFTED_END))
    finally:
        aws.put_bytes(settings.artifact_bucket, key, saved)

    # Then the same verdicts come from the snapshot's data
    assert result["details"]["profile"] == "computed"
    assert result["details"]["features"] == drifted["details"]["features"]


# prediction drift, prediction difference, multivariate ------------------------------------------------------


SIGNALS = (
    "  drift:\n"
    "    share: 0.3\n"
    "    multivariate: {max_rows: 2000}\n"
    "    prediction: {}\n"
    "    prediction_difference: {max_rate: 0.05}\n"
)


@pytest.fixture(scope="module")
def signals(module_churn: Deployment, churn_reference: pd.DataFrame) -> Deployment:
    """A second model with every drift signal on, v1 trained on the same reference, and a drifted window."""
    text = module_churn.text.replace("model: churn\n", "model: churn-signals\n").replace(
        "  drift: {share: 0.3}\n", SIGNALS
    )
    deployment = deploy(module_churn.cloud, loads_config(text), text, reference=churn_reference)
    deployment.write_window(generate_churn(800, seed=35, drift=True), end=DRIFTED_END)
    return deployment


@pytest.fixture(scope="module")
def signals_result(signals: Deployment) -> dict:
    return call(signals.cloud, "drift_check", run_input(DRIFTED_END, model="churn-signals"))


def test_every_enabled_signal_votes_and_a_missing_candidate_does_not(signals_result: dict) -> None:
    result = signals_result

    details = result["details"]
    assert details["votes"] == {
        "dataset": True,
        "multivariate": True,
        "prediction": True,
        "prediction_difference": None,
    }
    assert result["votes"] == [True, True, True]
    assert details["prediction_difference"]["insufficient"] is True
    assert "no candidate newer than the champion v1" in details["prediction_difference"]["reason"]


def test_the_domain_classifier_separates_a_drifted_window_and_names_the_features(signals_result: dict) -> None:
    result = signals_result

    multivariate = result["details"]["multivariate"]
    assert multivariate["fired"] is True
    assert multivariate["auc"] >= 0.55
    assert multivariate["top_features"][0]["feature"] in FEATURES
    assert "multivariate drift: domain classifier AUC" in result["reason"]


def test_prediction_drift_compares_the_champions_scores_with_its_holdout(signals_result: dict) -> None:
    result = signals_result

    prediction = result["details"]["prediction"]
    assert prediction["fired"] is True
    assert prediction["n_current"] == 800
    assert prediction["on"] in {"prediction", "score"}
    assert prediction["result"]["p_value_adjusted"] < 0.05


def test_the_prediction_difference_rate_compares_champion_and_latest_candidate(
    signals: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a candidate trained on the drifted window (snapshot and train steps)
    run = run_input(DRIFTED_END, model="churn-signals")
    ref = call(signals.cloud, "snapshot", run)
    candidate = call(signals.cloud, "train", {**run, "snapshot": ref})
    capsys.readouterr()

    # When
    result = call(signals.cloud, "drift_check", run)

    # Then the two models' predictions on the window are compared row by row
    difference = result["details"]["prediction_difference"]
    champion = signals.model
    rows = generate_churn(800, seed=35, drift=True)
    new = load_model(candidate["artifact_uri"], candidate["sha256"])
    expected = np.mean(training.predict(champion, rows, signals.config) != training.predict(new, rows, signals.config))
    assert difference["rate"] == pytest.approx(expected)
    assert (difference["champion_version"], difference["candidate_version"]) == (1, candidate["version"])
    assert result["details"]["votes"]["prediction_difference"] is bool(expected >= 0.05)
    published = _emf_values(capsys.readouterr().out)
    assert published["PredictionDifferenceRate"] == pytest.approx(expected)
    assert published["DomainClassifierAuc"] == pytest.approx(result["details"]["multivariate"]["auc"])
    assert published["PredictionDriftEffect"] == pytest.approx(result["details"]["prediction"]["result"]["effect"])
