"""Univariate drift tests.

KS is checked against ``scipy.stats.ks_2samp`` and chi-squared against
``scipy.stats.chi2_contingency(correction=False)`` and a hand-worked table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from pydantic import ValidationError

from retrain import drift
from retrain.drift import DriftReport, FeatureDrift, chi2_test, detect_drift, ks_2samp
from retrain.errors import InsufficientData, SchemaMismatch

pytestmark = pytest.mark.unit


# ks_2samp -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "shift", "ties"),
    [
        (1, 1, 0.0, False),
        (8, 13, 0.0, False),
        (50, 50, 0.0, False),  # equal sizes: scipy's square-lattice exact path
        (50, 50, 1.0, True),
        (300, 450, 0.2, True),  # unequal sizes, heavy ties
        (1000, 999, 0.5, False),  # tiny p-value
        (2000, 3000, 0.0, True),
        (12_000, 800, 0.1, False),  # one sample > 10 000: asymptotic p-value
        (20_000, 15_000, 0.05, True),
    ],
)
def test_ks_2samp_matches_scipy(n_ref: int, n_cur: int, shift: float, ties: bool) -> None:
    # Given two samples, optionally rounded to create many ties within and across them
    rng = np.random.default_rng(n_ref + n_cur)
    reference = rng.normal(0.0, 1.0, n_ref)
    current = rng.normal(shift, 1.0, n_cur)
    if ties:
        reference, current = np.round(reference, 1), np.round(current, 1)
    expected = scipy.stats.ks_2samp(reference, current)

    # When
    statistic, p_value = ks_2samp(reference, current)

    # Then
    assert statistic == expected.statistic  # bit for bit
    assert p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)


def test_ks_2samp_of_integer_and_constant_samples_matches_scipy() -> None:
    reference = np.array([3, 3, 3, 3, 3])
    current = np.array([3, 3, 4, 4, 5, 5, 5])
    expected = scipy.stats.ks_2samp(reference, current)

    assert ks_2samp(reference, current) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)
    assert ks_2samp(reference, reference) == (0.0, 1.0)


def test_ks_2samp_drops_nan() -> None:
    rng = np.random.default_rng(3)
    reference, current = rng.normal(size=60), rng.normal(0.4, size=70)
    with_nan = np.concatenate([reference, [np.nan] * 5])

    assert ks_2samp(with_nan, pd.Series(current)) == ks_2samp(reference, current)


def test_ks_2samp_of_an_all_nan_sample_is_insufficient() -> None:
    with pytest.raises(InsufficientData, match="current has no non-NaN values"):
        ks_2samp(np.array([1.0, 2.0]), np.array([np.nan, np.nan]))


def test_ks_2samp_falls_back_to_scipy_when_its_private_helper_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a scipy whose private exact helper cannot be imported
    monkeypatch.setattr(drift, "_scipy_exact_ks", lambda: None)
    rng = np.random.default_rng(11)
    reference, current = rng.normal(size=40), rng.normal(0.3, size=55)

    # When
    statistic, p_value = ks_2samp(reference, current)

    # Then scipy's public function computes the same p-value
    assert p_value == scipy.stats.ks_2samp(reference, current).pvalue


# chi2_test ----------------------------------------------------------------------------------------------


def test_chi2_of_a_hand_worked_table() -> None:
    # reference: a=10, b=20; current: a=20, b=10. Row totals 30, 30; column totals 30, 30; N=60.
    # Every expected count is 30*30/60 = 15, so chi2 = 4 * (5**2 / 15) = 20/3 with 1 degree of freedom,
    # and p = P(chi2_1 > 20/3) = erfc(sqrt(10/3)).
    reference = pd.Series(["a"] * 10 + ["b"] * 20)
    current = pd.Series(["a"] * 20 + ["b"] * 10)

    statistic, p_value = chi2_test(reference, current)

    assert statistic == pytest.approx(20 / 3, rel=1e-14)
    assert p_value == pytest.approx(float(scipy.special.erfc(np.sqrt(10 / 3))), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("categories", [2, 5, 12])
def test_chi2_matches_scipy_chi2_contingency(seed: int, categories: int) -> None:
    rng = np.random.default_rng(seed)
    names = np.array([f"c{i}" for i in range(categories)])
    reference = pd.Series(rng.choice(names, 400))
    current = pd.Series(rng.choice(names, 300, p=np.linspace(1, 2, categories) / np.linspace(1, 2, categories).sum()))
    table = np.array([[(reference == c).sum() for c in names], [(current == c).sum() for c in names]])
    assert (table > 0).all()
    expected = scipy.stats.chi2_contingency(table, correction=False)

    statistic, p_value = chi2_test(reference, current)

    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-10, abs=1e-300)


def test_chi2_counts_unseen_categories_and_missing_values() -> None:
    # Given a current window with a category the reference never saw and some missing values
    reference = pd.Series(["a"] * 30 + ["b"] * 30 + [None] * 5, dtype=object)
    current = pd.Series(["a"] * 20 + ["b"] * 20 + ["new"] * 15 + [np.nan] * 10, dtype=object)
    table = np.array([[30, 30, 0, 5], [20, 20, 15, 10]])
    expected = scipy.stats.chi2_contingency(table, correction=False)

    statistic, p_value = chi2_test(reference, current)

    assert (statistic, p_value) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)


def test_chi2_of_integer_and_boolean_categories_matches_scipy() -> None:
    reference = pd.Series([1, 2, 2, 3, 3, 3] * 10)
    current = pd.Series([1, 1, 2, 3] * 10)
    expected = scipy.stats.chi2_contingency(np.array([[10, 20, 30], [20, 10, 10]]), correction=False)

    assert chi2_test(reference, current) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)
    assert chi2_test(pd.Series([True] * 5), pd.Series([True, False] * 5))[0] > 0


def test_chi2_of_a_single_category_is_no_evidence() -> None:
    assert chi2_test(pd.Series(["x"] * 10), pd.Series(["x"] * 4)) == (0.0, 1.0)


def test_chi2_of_categorical_dtype_ignores_unused_categories() -> None:
    dtype = pd.CategoricalDtype(["a", "b", "unused"])
    reference = pd.Series(["a", "b"] * 20, dtype=dtype)
    current = pd.Series(["a"] * 30 + ["b"] * 10, dtype=dtype)
    expected = scipy.stats.chi2_contingency(np.array([[20, 20], [30, 10]]), correction=False)

    assert chi2_test(reference, current) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)


def test_chi2_of_an_empty_window_is_insufficient() -> None:
    with pytest.raises(InsufficientData, match="reference is empty"):
        chi2_test(pd.Series([], dtype=object), pd.Series(["a"]))


# detect_drift -------------------------------------------------------------------------------------------


def _window(rng: np.random.Generator, n: int, *, shift: float = 0.0, plans: tuple[str, ...] = ()) -> pd.DataFrame:
    plan_p = [0.5, 0.3, 0.2] if shift == 0 else [0.2, 0.3, 0.5]
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 10, n),
            "tenure": rng.exponential(12 * (1 + shift), n),
            "balance": rng.normal(1000, 200, n),
            "plan": rng.choice(list(plans or ("basic", "plus", "pro")), n, p=plan_p if not plans else None),
        }
    )


NUMERIC = ["age", "tenure", "balance"]
CATEGORICAL = ["plan"]


def test_no_drift_between_samples_of_one_distribution() -> None:
    rng = np.random.default_rng(0)

    report = detect_drift(_window(rng, 1000), _window(rng, 800), numeric=NUMERIC, categorical=CATEGORICAL)

    assert not report.drifted and not report.insufficient
    assert report.n_features == 4 and report.share == report.n_drifted / 4 < 0.3
    assert report.reason is None
    assert list(report.features) == [*NUMERIC, *CATEGORICAL]
    assert report.features["age"].method == "ks" and report.features["plan"].method == "chi2"
    assert (report.features["age"].n_reference, report.features["age"].n_current) == (1000, 800)


def test_strong_shift_drifts_and_says_why() -> None:
    rng = np.random.default_rng(1)
    reference, current = _window(rng, 1000), _window(rng, 1000, shift=1.0)

    report = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL)

    assert report.drifted
    assert {name for name, f in report.features.items() if f.drifted} == {"age", "tenure", "plan"}
    assert report.reason == "drift in 3 of 4 features (share 0.75 >= 0.30)"
    expected = scipy.stats.ks_2samp(reference["age"], current["age"])
    assert report.features["age"].statistic == expected.statistic
    assert report.features["age"].p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)
    assert report.features["age"].threshold == 0.05


def test_unseen_category_in_current_window_drifts_without_crashing() -> None:
    rng = np.random.default_rng(2)
    reference = _window(rng, 500)
    current = _window(rng, 500, plans=("basic", "plus", "pro", "enterprise"))

    report = detect_drift(reference, current, numeric=[], categorical=["plan"], share=1.0)

    assert report.features["plan"].drifted
    assert report.drifted


def test_missing_column_is_named_with_its_window() -> None:
    rng = np.random.default_rng(3)
    current = _window(rng, 200).drop(columns=["tenure"])

    with pytest.raises(SchemaMismatch, match="current window is missing column 'tenure'") as info:
        detect_drift(_window(rng, 200), current, numeric=NUMERIC, categorical=CATEGORICAL)
    assert info.value.missing == ["tenure"]


def test_missing_columns_of_both_windows_are_all_reported() -> None:
    rng = np.random.default_rng(4)
    reference = _window(rng, 200).drop(columns=["plan"])
    current = _window(rng, 200).drop(columns=["age", "balance"])

    with pytest.raises(SchemaMismatch) as info:
        detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL)
    assert str(info.value) == ("reference is missing column 'plan'; current window is missing columns 'age', 'balance'")
    assert info.value.missing == ["plan", "age", "balance"]


def test_too_few_rows_is_insufficient_not_drifted() -> None:
    rng = np.random.default_rng(5)

    report = detect_drift(_window(rng, 500), _window(rng, 40, shift=2.0), numeric=NUMERIC, categorical=CATEGORICAL)

    assert report.insufficient and not report.drifted
    assert report.reason == "insufficient data: 40 current rows < min_samples 100"
    assert report.features == {}


def test_constant_and_all_nan_columns_do_not_crash() -> None:
    n = 150
    reference = pd.DataFrame({"const": np.ones(n), "empty": np.full(n, np.nan), "cat": ["x"] * n})
    current = pd.DataFrame({"const": np.ones(n), "empty": np.full(n, np.nan), "cat": [None] * n})

    report = detect_drift(reference, current, numeric=["const", "empty"], categorical=["cat"])

    assert report.features["const"] == FeatureDrift(
        method="ks", statistic=0.0, p_value=1.0, threshold=0.05, drifted=False, n_reference=n, n_current=n
    )
    assert report.features["empty"] == FeatureDrift(
        method="ks", statistic=0.0, p_value=1.0, threshold=0.05, drifted=False, n_reference=0, n_current=0
    )
    assert report.features["cat"].drifted  # all values became missing: "<missing>" is a category
    assert DriftReport.model_validate(report.model_dump(mode="json")) == report


def test_non_numeric_numeric_feature_is_a_schema_mismatch() -> None:
    frame = pd.DataFrame({"age": ["old", "young"] * 60})

    with pytest.raises(SchemaMismatch, match="column 'age' in reference is not numeric"):
        detect_drift(frame, frame, numeric=["age"], categorical=[])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"p_value": 0.0}, ValueError, "p_value == 0.0, must be > 0."),
        ({"p_value": 1}, ValueError, "p_value == 1, must be < 1."),
        ({"p_value": float("nan")}, ValueError, "p_value == nan, must be > 0."),
        ({"share": 0}, ValueError, "share == 0, must be > 0."),
        ({"share": 1.5}, ValueError, "share == 1.5, must be <= 1."),
        ({"min_samples": 1}, ValueError, "min_samples == 1, must be >= 2."),
        ({"min_samples": 10.0}, TypeError, "min_samples must be an instance of Integral, not float."),
        ({"p_value": "0.05"}, TypeError, "p_value must be an instance of Real, not str."),
    ],
)
def test_parameters_are_checked(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    frame = pd.DataFrame({"a": np.arange(200.0)})

    with pytest.raises(error, match=f"^{message.replace('.', '[.]')}$"):
        detect_drift(frame, frame, numeric=["a"], categorical=[], **kwargs)  # type: ignore[arg-type]


def test_feature_lists_are_checked() -> None:
    frame = pd.DataFrame({"a": np.arange(200.0)})

    with pytest.raises(ValueError, match="at least one feature is required"):
        detect_drift(frame, frame, numeric=[], categorical=[])
    with pytest.raises(ValueError, match="column 'a' is listed as both numeric and categorical"):
        detect_drift(frame, frame, numeric=["a"], categorical=["a"])


def test_feature_drift_rejects_unknown_method() -> None:
    with pytest.raises(ValidationError):
        FeatureDrift(
            method="psi",
            statistic=0.0,
            p_value=1.0,
            threshold=0.05,
            drifted=False,
            n_reference=1,
            n_current=1,
        )


def test_importing_drift_does_not_import_scipy_stats_or_sklearn() -> None:
    import subprocess
    import sys

    code = (
        "import sys, retrain.drift, retrain.metrics; "
        "print(sorted(m for m in ('scipy.stats', 'scipy.special', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
