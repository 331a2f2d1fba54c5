"""Specification of the label checks: a target fits its problem, and delayed labels fit the champion's classes.

- ``retrain.training.classification_target``: what ``check_inputs`` (bootstrap),
  the Snapshot step and ``training.fit`` accept as a classification target;
- ``retrain.labels.align_labels``: the MetricCheck step's labels against the
  champion's predictions and classes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from retrain import training
from retrain.config import loads_config
from retrain.demo import CONFIG, generate_churn
from retrain.errors import SchemaMismatch
from retrain.labels import align_labels
from retrain.lifecycle import check_inputs
from retrain.metrics import compute_metrics

pytestmark = pytest.mark.unit

SOURCE = "reference data history.csv"
CHURN = loads_config(CONFIG.read_text())
FAST_CHURN = CHURN.model_copy(
    update={"training": CHURN.training.model_copy(update={"estimator": "LogisticRegression", "params": {}})}
)
CONTINUOUS = (
    "holds continuous values (e.g. {example}); a classification target must be discrete - set problem: regression?"
)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate_churn(400, seed=5)


def _continuous(reference: pd.DataFrame) -> pd.DataFrame:
    """``churned`` as a price-like float: row 0 holds 12.75."""
    prices = np.round(np.random.default_rng(0).uniform(5, 50, len(reference)), 2)
    prices[0] = 12.75
    return reference.assign(churned=prices)


# ----------------------------------------------------------------- classification targets
def test_check_inputs_refuses_a_continuous_classification_target_naming_column_and_example(reference):
    with pytest.raises(SchemaMismatch) as caught:
        check_inputs(CHURN, _continuous(reference), source=SOURCE)

    assert str(caught.value) == f"{SOURCE}: target column 'churned' " + CONTINUOUS.format(example="12.75")


def test_training_refuses_a_continuous_classification_target_before_fitting(reference):
    with pytest.raises(SchemaMismatch) as caught:
        training.fit(FAST_CHURN, _continuous(reference))

    assert str(caught.value) == "training data: target column 'churned' " + CONTINUOUS.format(example="12.75")


def test_a_continuous_target_is_refused_even_with_too_few_rows_to_train(reference):
    # The wrong problem type is the error to fix first: more rows would not help.
    with pytest.raises(SchemaMismatch, match="holds continuous values"):
        training.fit(FAST_CHURN, _continuous(reference).head(20))


def test_an_integral_float_target_with_missing_values_is_accepted_and_trains_int_classes(reference):
    # Given 0/1 labels read as floats because some are missing
    floats = reference.astype({"churned": "float64"})
    floats.loc[:9, "churned"] = np.nan

    # When
    frame = check_inputs(FAST_CHURN, floats, source=SOURCE)
    model = training.fit(FAST_CHURN, frame)

    # Then the classes are the ints 0 and 1, as for an int target
    assert model.classes_.tolist() == [0, 1]
    assert model.classes_.dtype.kind == "i"


def test_float_0_1_and_int_0_1_targets_train_the_same_model(reference):
    as_int = training.fit(FAST_CHURN, reference)
    as_float = training.fit(FAST_CHURN, reference.astype({"churned": "float64"}))

    assert as_float.classes_.tolist() == as_int.classes_.tolist() == [0, 1]
    assert (as_float.predict(reference) == as_int.predict(reference)).all()


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (pd.Series([0.0, 1.0, np.nan, 2.0]), [0, 1, 2]),
        (pd.Series([True, False, True]), [True, False, True]),
        (pd.Series(["yes", None, "no"]), ["yes", "no"]),
        (pd.Series([3, 1, 3]), [3, 1, 3]),
        (pd.Series([1.0, 2.0], dtype=object), [1, 2]),
        (pd.Series([1, None], dtype="Int64"), [1]),
    ],
    ids=["integral-floats", "booleans", "strings", "ints", "object-floats", "nullable-ints"],
)
def test_discrete_targets_are_classes_without_their_missing_rows(column, expected):
    labels = training.classification_target(column, "y", "data")

    assert labels.tolist() == expected
    assert labels.index.tolist() == column.index[column.notna()].tolist()


@pytest.mark.parametrize("value", [0.5, np.inf, -3.25])
def test_a_float_target_with_a_fraction_or_infinity_is_continuous(value):
    column = pd.Series([0.0, 1.0, value, 1.0])

    with pytest.raises(SchemaMismatch, match=r"target column 'y' holds continuous values \(e\.g\. "):
        training.classification_target(column, "y", "data")


def test_a_float_target_of_many_whole_numbers_looks_like_a_regression_target():
    column = pd.Series(np.arange(training.MAX_FLOAT_CLASSES + 1, dtype="float64"))

    with pytest.raises(SchemaMismatch) as caught:
        training.classification_target(column, "price", "training data")

    assert str(caught.value) == (
        "training data: target column 'price' holds 51 distinct numbers (0, 1, 2, ...), more than the 50 classes "
        "a float target may have; a classification target must be discrete - set problem: regression?"
    )


def test_at_most_max_float_classes_whole_numbers_are_classes():
    column = pd.Series(np.arange(training.MAX_FLOAT_CLASSES, dtype="float64"))

    assert training.classification_target(column, "y", "data").nunique() == training.MAX_FLOAT_CLASSES


def test_every_part_of_an_accepted_target_is_accepted():
    # The rule depends on the values only: the training part of an accepted reference is accepted too.
    column = pd.Series(np.repeat(np.arange(50, dtype="float64"), 2))

    for part in (column, column.iloc[:60], column.iloc[:2], column.iloc[::7]):
        training.classification_target(part, "y", "data")


def test_labels_that_mix_text_and_numbers_are_refused_by_name():
    with pytest.raises(SchemaMismatch) as caught:
        training.classification_target(pd.Series([1, "yes", 0], dtype=object), "churned", "training data")

    assert str(caught.value) == (
        "training data: target column 'churned' mixes types (e.g. 1 and 'yes'); "
        "a classification target's labels must all be text, all numbers or all booleans"
    )


# ------------------------------------------------------------------ labels vs the champion
def test_yes_no_labels_for_a_champion_of_0_1_name_the_labels_and_its_classes():
    labels = pd.Series(["yes", "no", "no", "yes"])

    with pytest.raises(SchemaMismatch) as caught:
        align_labels("classification", labels, np.array([1, 0, 1, 0]), classes=[0, 1], column="churned", model="v1")

    assert str(caught.value) == (
        "MetricCheck step: labels ['no', 'yes'] in column 'churned' were never seen by v1, which knows [0, 1]: "
        "the labels are text but its classes are whole numbers - are the labels encoded differently? "
        "(4 of 4 labels)"
    )


def test_0_1_labels_for_a_champion_of_yes_no_name_the_labels_and_its_classes():
    predictions = np.array(["no", "yes", "no"], dtype=object)

    with pytest.raises(SchemaMismatch, match=r"labels \[0, 1\] in column 'churned' were never seen by the champion, "):
        align_labels("classification", pd.Series([0, 1, 1]), predictions, classes=["no", "yes"], column="churned")


def test_without_probability_columns_the_message_names_the_classes_predicted_in_the_window():
    with pytest.raises(SchemaMismatch, match=r"which predicted only \[0, 1\] in this window: the labels are text"):
        align_labels("classification", pd.Series(["yes", "no"]), np.array([0, 1]), column="churned")


def test_a_few_text_labels_among_int_labels_are_named_with_their_count():
    labels = pd.Series([1, 0, "maybe", 0], dtype=object)

    with pytest.raises(SchemaMismatch, match=r"labels \['maybe'\] .* \(1 of 4 labels\)"):
        align_labels("classification", labels, np.array([1, 0, 1, 0]), classes=[0, 1], column="churned")


def test_only_the_labels_of_the_wrong_kind_are_named_and_counted():
    # Given a new class 2 (a number, as the classes) and text on one row
    labels = pd.Series([2, 2, "maybe", 0], dtype=object)

    with pytest.raises(SchemaMismatch) as caught:
        align_labels("classification", labels, np.array([1, 0, 1, 0]), classes=[0, 1], column="churned")

    assert "labels ['maybe'] in column 'churned'" in str(caught.value)
    assert str(caught.value).endswith("(1 of 4 labels)")


def test_fractional_labels_for_whole_number_classes_look_continuous():
    labels = pd.Series([1.0, 0.0, 0.37, 0.0])

    with pytest.raises(SchemaMismatch) as caught:
        align_labels("classification", labels, np.array([1, 0, 1, 0]), classes=[0, 1], column="churned")

    assert "labels [0.37]" in str(caught.value)
    assert "the labels are fractional numbers but its classes are whole numbers" in str(caught.value)
    assert "are they continuous values (a regression target)?" in str(caught.value)


def test_every_label_of_another_class_is_a_different_encoding_when_the_classes_are_known():
    with pytest.raises(SchemaMismatch, match="none of the 4 labelled predictions has a label it knows"):
        align_labels("classification", pd.Series([2, 3, 2, 3]), np.array([0, 1, 1, 0]), classes=[0, 1], column="y")


def test_without_the_classes_labels_the_champion_did_not_predict_are_scored_not_refused():
    # Given a window where the champion predicted 0 only and its classes are unknown (no probability columns)
    aligned = align_labels("classification", pd.Series([1, 1]), np.array([0, 0]), column="y")

    # Then the labels may be a class it knows but did not predict: they are scored (as misses)
    assert aligned.values.tolist() == [1, 1]
    assert aligned.unseen == [1]
    assert aligned.unseen_rows == 2


@pytest.mark.parametrize(
    "labels",
    [
        pd.Series([1, 0, 1, 1]),
        pd.Series(["1", "0", "1", "1"]),
        pd.Series([1.0, 0.0, 1.0, 1.0]),
        pd.Series(["1.0", " 0", "1", "1.0"]),
        pd.Series([True, False, True, True]),
        pd.Series(["true", "False", "1", "1"]),
        pd.Series([1, "0", 1.0, True], dtype=object),
    ],
    ids=["ints", "strings", "floats", "float-strings", "booleans", "boolean-strings", "mixed-spellings"],
)
def test_spellings_of_an_int_class_are_that_class(labels):
    aligned = align_labels("classification", labels, np.array([1, 1, 0, 1]), classes=[0, 1], column="y")

    assert aligned.values.tolist() == [1, 0, 1, 1]
    assert aligned.values.dtype.kind == "i"
    assert aligned.unseen == []


@pytest.mark.parametrize("labels", [pd.Series([1, 0, 1]), pd.Series([1.0, 0.0, 1.0])], ids=["ints", "floats"])
def test_numbers_are_the_text_classes_that_spell_them(labels):
    predictions = np.array(["0", "1", "1"], dtype=object)

    aligned = align_labels("classification", labels, predictions, classes=["0", "1"], column="y")

    assert aligned.values.tolist() == ["1", "0", "1"]


def test_a_new_class_among_known_labels_is_scored_as_misses_and_reported():
    # Given labels 0/1 and a class 2 the champion never saw
    labels = pd.Series([0, 1, 2, 2, 1, 0])
    predictions = np.array([0, 1, 1, 0, 1, 1])

    # When
    aligned = align_labels("classification", labels, predictions, classes=[0, 1], column="y")

    # Then the new class is reported and each of its rows is a miss (scikit-learn's scores on the raw labels)
    assert aligned.unseen == [2]
    assert aligned.unseen_rows == 2
    assert aligned.classes == [0, 1]
    scores = compute_metrics("classification", aligned.values, predictions)
    assert scores["accuracy"] == pytest.approx(accuracy_score(labels, predictions))
    assert scores["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, predictions))


def test_a_new_text_class_keeps_its_text():
    predictions = np.array(["no", "yes", "no"], dtype=object)

    aligned = align_labels(
        "classification", pd.Series(["no", "yes", "maybe"]), predictions, classes=["no", "yes"], column="y"
    )

    assert aligned.values.tolist() == ["no", "yes", "maybe"]
    assert aligned.unseen == ["maybe"]


def test_text_regression_labels_name_the_column_the_step_and_an_example():
    labels = pd.Series(["210.5", "expensive", 180.0, "n/a"], dtype=object)

    with pytest.raises(SchemaMismatch) as caught:
        align_labels("regression", labels, np.array([200.0, 210.0, 190.0, 150.0]), column="price")

    assert str(caught.value) == (
        "MetricCheck step: labels column 'price' must be numeric for a regression model, "
        "found 'expensive' (2 non-numeric of 4 labels)"
    )


def test_infinite_regression_labels_are_named():
    with pytest.raises(SchemaMismatch, match=r"labels column 'price' holds 1 infinite values"):
        align_labels("regression", pd.Series([1.0, np.inf]), np.array([1.0, 2.0]), column="price")


def test_numeric_text_regression_labels_are_numbers():
    aligned = align_labels("regression", pd.Series(["1.5", "2"], dtype=object), np.array([1.0, 2.0]), column="y")

    assert aligned.values.tolist() == [1.5, 2.0]
    assert aligned.values.dtype == np.float64
