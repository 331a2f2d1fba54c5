"""Specification of retrain.lifecycle.check_inputs: a bootstrap's inputs are refused before anything is written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrain.config import loads_config
from retrain.demo import CONFIG, generate_churn
from retrain.errors import EstimatorNotAllowed, InsufficientData, SchemaMismatch
from retrain.lifecycle import check_inputs

pytestmark = pytest.mark.unit

SOURCE = "reference data history.csv"
CHURN = loads_config(CONFIG.read_text())
REGRESSION = loads_config(
    """
model: spend
problem: regression
target: spend
features: {numeric: [tenure_months]}
training: {estimator: Ridge, min_rows: 10}
"""
)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate_churn(400, seed=5).assign(customer_id=lambda df: np.arange(len(df)))


def test_a_usable_reference_gives_its_feature_and_target_columns_in_row_order(reference):
    frame = check_inputs(CHURN, reference.iloc[::-1], source=SOURCE)

    assert list(frame.columns) == [*CHURN.features.all, "churned"]
    assert frame["tenure_months"].tolist() == reference["tenure_months"].iloc[::-1].tolist()
    assert frame.index.tolist() == list(range(len(reference)))


def test_missing_columns_are_named_with_the_file(reference):
    with pytest.raises(SchemaMismatch, match=r"reference data history\.csv is missing columns 'contract', 'churned'"):
        check_inputs(CHURN, reference.drop(columns=["contract", "churned"]), source=SOURCE)


def test_a_non_numeric_numeric_feature_is_named(reference):
    broken = reference.astype({"support_calls": object})
    broken.loc[7, "support_calls"] = "many"

    with pytest.raises(SchemaMismatch, match=r"column 'support_calls' must be numeric, found 'many'"):
        check_inputs(CHURN, broken, source=SOURCE)


def test_too_few_training_rows_name_min_rows_and_the_split(reference):
    # 240 rows: the last 48 are the holdout, 192 train < training.min_rows 200
    with pytest.raises(InsufficientData) as caught:
        check_inputs(CHURN, reference.head(240), source=SOURCE)

    message = str(caught.value)
    assert message.startswith(SOURCE)
    assert "192 training rows with a target 'churned'" in message
    assert "the last 48 are the holdout" in message
    assert "training.min_rows == 200" in message


def test_rows_without_a_target_do_not_count_towards_min_rows(reference):
    unlabelled = reference.copy()
    unlabelled.loc[:150, "churned"] = np.nan

    with pytest.raises(InsufficientData, match=r"169 training rows with a target"):
        check_inputs(CHURN, unlabelled, source=SOURCE)


def test_a_holdout_without_any_target_is_refused(reference):
    unlabelled = reference.copy()
    unlabelled.loc[320:, "churned"] = np.nan

    with pytest.raises(InsufficientData, match=r"no holdout row has a target 'churned'"):
        check_inputs(CHURN, unlabelled, source=SOURCE)


def test_a_classifier_needs_two_classes_among_its_training_rows(reference):
    one_class = reference.assign(churned=1)

    with pytest.raises(InsufficientData, match=r"has 1 class \(1\) among its training rows.*at least 2"):
        check_inputs(CHURN, one_class, source=SOURCE)


def test_an_estimator_off_the_allowlist_is_refused(reference):
    config = loads_config(
        CONFIG.read_text()
        .replace("HistGradientBoostingClassifier", "SVC")
        .replace("params: {max_iter: 100, learning_rate: 0.1}", "params: {}")
    )

    with pytest.raises(EstimatorNotAllowed, match="SVC"):
        check_inputs(config, reference, source=SOURCE)


@pytest.mark.parametrize(
    ("value", "message"),
    [("lots", r"target column 'spend' must be numeric, found 'lots'"), (np.inf, r"holds 1 infinite values")],
)
def test_a_regression_target_must_be_a_finite_number(value, message):
    frame = pd.DataFrame({"tenure_months": np.arange(50.0), "spend": np.arange(50.0)}).astype({"spend": object})
    frame.loc[3, "spend"] = value

    with pytest.raises(SchemaMismatch, match=message):
        check_inputs(REGRESSION, frame, source=SOURCE)
