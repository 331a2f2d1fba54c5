"""The DriftCheck handler: every feature of the window against the champion's training snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from scipy import stats

from helpers import Deployment, call, deploy, invoke, run_input
from retrain.config import loads_config
from retrain.demo import generate_churn
from retrain.errors import ModelNotFound, SchemaMismatch

pytestmark = pytest.mark.integration

STABLE_END = datetime(2025, 4, 1, tzinfo=UTC)
DRIFTED_END = datetime(2025, 5, 1, tzinfo=UTC)
MISSING_COLUMN_END = datetime(2025, 6, 1, tzinfo=UTC)

NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["contract", "internet", "payment_method"]


@pytest.fixture(scope="module")
def drifted_rows(module_churn: Deployment) -> pd.DataFrame:
    rows = generate_churn(800, seed=32, drift=True)
    module_churn.write_window(rows, end=DRIFTED_END)
    return rows


@pytest.fixture(scope="module")
def drifted(module_churn: Deployment, drifted_rows: pd.DataFrame) -> dict:
    return call(module_churn.cloud, "drift_check", run_input(DRIFTED_END))


def test_a_window_from_the_training_distribution_has_not_drifted(module_churn: Deployment) -> None:
    # Given a window drawn from the same distribution as v1's training data
    module_churn.write_window(generate_churn(800, seed=31), end=STABLE_END)

    # When
    result = call(module_churn.cloud, "drift_check", run_input(STABLE_END))

    # Then
    assert result["signal"] == "drift"
    assert result["triggered"] is False
    assert result["details"]["drifted"] is False
    assert result["details"]["share"] < result["details"]["threshold_share"]


def test_a_drifted_window_has_drifted_and_triggers(drifted: dict) -> None:
    assert drifted["triggered"] is True
    assert drifted["details"]["drifted"] is True
    assert drifted["reason"].startswith("drift in ")


def test_every_feature_is_tested_against_the_whole_reference(drifted: dict, churn_reference: pd.DataFrame) -> None:
    features = drifted["details"]["features"]

    assert sorted(features) == sorted(NUMERIC + CATEGORICAL)
    assert {f["n_reference"] for f in features.values()} == {len(churn_reference)}
    assert drifted["details"]["n_current"] == 800


@pytest.mark.parametrize("feature", NUMERIC)
def test_a_numeric_feature_is_tested_with_scipys_two_sample_ks(
    drifted: dict, churn_reference: pd.DataFrame, drifted_rows: pd.DataFrame, feature: str
) -> None:
    expected = stats.ks_2samp(churn_reference[feature], drifted_rows[feature])

    result = drifted["details"]["features"][feature]

    assert result["method"] == "ks"
    assert result["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert result["drifted"] is bool(expected.pvalue < 0.05)


@pytest.mark.parametrize("feature", CATEGORICAL)
def test_a_categorical_feature_is_tested_with_scipys_chi2_of_homogeneity(
    drifted: dict, churn_reference: pd.DataFrame, drifted_rows: pd.DataFrame, feature: str
) -> None:
    table = pd.concat([churn_reference[feature].value_counts(), drifted_rows[feature].value_counts()], axis=1).fillna(0)
    expected = stats.chi2_contingency(table.to_numpy().T, correction=False)

    result = drifted["details"]["features"][feature]

    assert result["method"] == "chi2"
    assert result["statistic"] == pytest.approx(expected.statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert result["drifted"] is bool(expected.pvalue < 0.05)


def test_a_window_missing_a_feature_column_is_schema_mismatch_naming_it(module_churn: Deployment) -> None:
    # Given an upstream change that stopped logging monthly_charges
    rows = generate_churn(300, seed=33).drop(columns=["monthly_charges"])
    module_churn.write_window(rows, end=MISSING_COLUMN_END)

    response = invoke(module_churn.cloud, "drift_check", run_input(MISSING_COLUMN_END))

    assert response.error_type == SchemaMismatch.__name__
    assert "'monthly_charges'" in response.error_message


def test_a_model_without_champion_is_model_not_found(module_churn: Deployment) -> None:
    # Given a model whose config is deployed but which was never trained
    text = module_churn.text.replace("model: churn\n", "model: churn-new\n")
    deploy(module_churn.cloud, loads_config(text), text)

    response = invoke(module_churn.cloud, "drift_check", run_input(STABLE_END, model="churn-new"))

    assert response.error_type == ModelNotFound.__name__
    assert "'churn-new' has no champion" in response.error_message
