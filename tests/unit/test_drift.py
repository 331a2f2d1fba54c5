"""The drift statistics, each against an independent reference.

KS against ``scipy.stats.ks_2samp``, chi-squared against
``scipy.stats.chi2_contingency(correction=False)`` and a hand-worked table,
Wasserstein against ``scipy.stats.wasserstein_distance``, Jensen-Shannon
against ``scipy.spatial.distance.jensenshannon``, PSI against a hand-worked
case, Benjamini-Hochberg against ``scipy.stats.false_discovery_control``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.spatial.distance
import scipy.special
import scipy.stats

from retrain.drift import stats
from retrain.drift.stats import (
    adjust_p_values,
    chi2_table,
    chi2_test,
    jensen_shannon,
    ks_2samp,
    ks_p_values,
    linf,
    pool_rare,
    psi,
    smirnov_sf,
    two_proportion_test,
    wasserstein_distance,
)
from retrain.errors import InsufficientData

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
        (60_000, 50_000, 0.03, False),  # asymptotic, n*D^2 in Smirnov's range: the vectorized series
        (30_000, 30_000, 0.6, False),  # D >= 0.5: the series again
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
    assert p_value == pytest.approx(expected.pvalue, rel=1e-11, abs=1e-300)


@pytest.mark.parametrize(
    ("n", "x"),
    [(150, 0.2), (5000, 0.05), (50_000, 0.01), (50_000, 0.05), (500_000, 0.004), (200_000, 0.55)],
)
def test_smirnov_series_matches_scipy_special_smirnov(n: int, x: float) -> None:
    assert smirnov_sf(n, x) == pytest.approx(float(scipy.special.smirnov(n, x)), rel=1e-11, abs=1e-300)


def test_ks_p_values_of_many_tests_match_scipy_one_by_one() -> None:
    statistics = [0.0, 0.004, 0.01, 0.02, 0.2, 0.7, 1.0]
    sizes = [(1_000_000, 1_000_000), (400_000, 300_000), (50_000, 80_000), (9_000, 7_000), (500, 12_000)] * 2
    for d in statistics:
        for n1, n2 in sizes[:5]:
            m, n = max(n1, n2), min(n1, n2)
            if max(n1, n2) <= 10_000:
                continue
            expected = float(np.clip(scipy.stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
            assert ks_p_values([d], [n1], [n2])[0] == pytest.approx(expected, rel=1e-11, abs=1e-300)


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


def test_ks_falls_back_to_scipy_when_its_private_helpers_are_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a scipy whose private exact helper and binomial ufunc cannot be imported
    monkeypatch.setattr(stats, "_scipy_exact_ks", lambda: None)
    monkeypatch.setattr(stats, "_scipy_binom_pmf", lambda: None)
    rng = np.random.default_rng(11)
    reference, current = rng.normal(size=40), rng.normal(0.3, size=55)

    # When
    _statistic, p_value = ks_2samp(reference, current)

    # Then scipy's public functions compute the same p-values
    assert p_value == scipy.stats.ks_2samp(reference, current).pvalue
    assert smirnov_sf(50_000, 0.01) == scipy.special.smirnov(50_000, 0.01)
    assert ks_p_values([0.01], [60_000], [60_000])[0] == pytest.approx(scipy.stats.kstwo.sf(0.01, 30_000))


# Wasserstein ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "ties"), [(1, 1, False), (40, 70, False), (500, 300, True), (3000, 5000, False)]
)
def test_wasserstein_matches_scipy_and_is_normalized_by_the_reference_std(n_ref: int, n_cur: int, ties: bool) -> None:
    rng = np.random.default_rng(n_ref)
    reference, current = rng.gamma(2.0, 3.0, n_ref), rng.gamma(2.5, 3.0, n_cur)
    if ties:
        reference, current = np.round(reference), np.round(current)
    expected = scipy.stats.wasserstein_distance(reference, current)

    assert wasserstein_distance(reference, current, normalize=False) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    scale = reference.std() if reference.std() > 0 else max(abs(reference.mean()), 1.0)
    assert wasserstein_distance(reference, current) == pytest.approx(expected / scale, rel=1e-12, abs=1e-15)


def test_wasserstein_of_a_constant_reference_is_relative_to_its_value() -> None:
    # A shift of 0.5 from the constant 5.0: W = 0.5, scaled by |5| -> 0.1; around 0 the scale is 1.
    assert wasserstein_distance(np.full(10, 5.0), np.full(10, 5.5)) == pytest.approx(0.1)
    assert wasserstein_distance(np.zeros(10), np.full(10, 0.25)) == pytest.approx(0.25)


# PSI, JS, L-inf -------------------------------------------------------------------------------------------


def test_psi_of_a_hand_worked_case() -> None:
    # Reference proportions 0.5/0.5, current 0.3/0.7:
    # PSI = (0.3 - 0.5) ln(0.3 / 0.5) + (0.7 - 0.5) ln(0.7 / 0.5) = 0.2 ln(5/3) + 0.2 ln(7/5)
    expected = 0.2 * math.log(5 / 3) + 0.2 * math.log(7 / 5)

    assert psi([5, 5], [3, 7]) == pytest.approx(expected, rel=1e-14)
    assert psi([0.5, 0.5], [0.3, 0.7]) == pytest.approx(expected, rel=1e-14)
    assert expected == pytest.approx(0.16946, abs=1e-5)


def test_psi_replaces_an_empty_bins_zero_by_epsilon() -> None:
    # A bin the reference never filled: p = 1e-4 there, the other proportions stay as they are.
    # PSI = (0.8 - 1) ln(0.8 / 1) + (0.2 - 1e-4) ln(0.2 / 1e-4)
    expected = -0.2 * math.log(0.8) + (0.2 - 1e-4) * math.log(0.2 / 1e-4)

    assert psi([10, 0], [8, 2]) == pytest.approx(expected, rel=1e-14)
    assert psi([5, 5], [5, 5]) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jensen_shannon_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p, q = rng.integers(0, 50, 12), rng.integers(0, 50, 12)
    p[0], q[1] = 0, 0  # zero bins on either side

    assert jensen_shannon(p, q) == pytest.approx(scipy.spatial.distance.jensenshannon(p, q), rel=1e-12)
    assert jensen_shannon(p, p) == 0.0


def test_linf_is_the_largest_change_of_one_share() -> None:
    # 0.5/0.3/0.2 -> 0.2/0.3/0.5: the first and last share move by 0.3.
    assert linf([50, 30, 20], [20, 30, 50]) == pytest.approx(0.3)


def test_binned_effects_reject_bad_counts() -> None:
    with pytest.raises(ValueError, match="reference counts have 2 bins but current counts have 3"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(InsufficientData, match="current counts has no observations"):
        jensen_shannon([1, 2], [0, 0])
    with pytest.raises(ValueError, match="must hold finite counts >= 0"):
        linf([1, -2], [1, 2])
    with pytest.raises(ValueError, match=r"^epsilon == 0, must be > 0\.$"):
        psi([1, 2], [1, 2], epsilon=0)


# chi-squared ----------------------------------------------------------------------------------------------


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


def test_chi2_pools_categories_whose_expected_count_is_below_five() -> None:
    # Given 100 + 100 rows where 'x', 'y' and 'z' are rare (expected counts 1, 1.5 and 2, all < 5)
    reference = pd.Series(["a"] * 60 + ["b"] * 37 + ["x"] * 1 + ["y"] * 2 + ["z"] * 0)
    current = pd.Series(["a"] * 50 + ["b"] * 44 + ["x"] * 1 + ["y"] * 1 + ["z"] * 4)
    # Pooled, x+y+z has 9 rows (expected 4.5 < 5): still rare, so the next smallest column ('b') joins it.
    pooled = np.array([[60, 37 + 1 + 2 + 0], [50, 44 + 1 + 1 + 4]])
    expected = scipy.stats.chi2_contingency(pooled, correction=False)

    assert chi2_test(reference, current) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)
    assert chi2_test(reference, current, min_expected=0) == pytest.approx(
        scipy.stats.chi2_contingency(np.array([[60, 37, 1, 2, 0], [50, 44, 1, 1, 4]]), correction=False)[:2],
        rel=1e-12,
    )


def test_pooling_joins_a_lone_rare_column_with_the_smallest_other_and_drops_empty_columns() -> None:
    table = np.array([[50, 60, 1, 0], [50, 60, 0, 0]])

    assert pool_rare(table).tolist() == [[60, 51], [60, 50]]
    assert chi2_table(np.array([[5, 0], [7, 0]]))[:2] == (0.0, 1.0)


def test_chi2_of_integer_and_boolean_categories_matches_scipy() -> None:
    reference = pd.Series([1, 2, 2, 3, 3, 3] * 10)
    current = pd.Series([1, 1, 2, 3] * 10)
    expected = scipy.stats.chi2_contingency(np.array([[10, 20, 30], [20, 10, 10]]), correction=False)

    assert chi2_test(reference, current) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)
    assert chi2_test(pd.Series([True] * 5), pd.Series([True, False] * 5), min_expected=0)[0] > 0


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


# two proportions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), [(10, 1000, 30, 1000), (0, 500, 7, 300), (120, 400, 100, 400)])
def test_two_proportion_test_equals_chi2_on_the_2x2_table(k1: int, n1: int, k2: int, n2: int) -> None:
    table = np.array([[k1, n1 - k1], [k2, n2 - k2]])
    expected = scipy.stats.chi2_contingency(table, correction=False).pvalue

    p_value, h = two_proportion_test(k1, n1, k2, n2)

    assert p_value == pytest.approx(expected, rel=1e-10)
    assert h == pytest.approx(abs(2 * math.asin(math.sqrt(k1 / n1)) - 2 * math.asin(math.sqrt(k2 / n2))))


def test_two_proportion_test_without_any_event_is_no_evidence() -> None:
    assert two_proportion_test(0, 100, 0, 50) == (1.0, 0.0)
    assert two_proportion_test(100, 100, 50, 50) == (1.0, 0.0)


# correction ----------------------------------------------------------------------------------------------


def test_benjamini_hochberg_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 1e-4, size=10), [0.0, 1.0, 0.03, 0.03]])

    assert adjust_p_values(p, "bh") == pytest.approx(scipy.stats.false_discovery_control(p, method="bh"), rel=1e-12)


def test_bonferroni_multiplies_by_the_number_of_tests() -> None:
    assert adjust_p_values([0.01, 0.2, 0.5], "bonferroni").tolist() == pytest.approx([0.03, 0.6, 1.0])
    assert adjust_p_values([], "bh").size == 0


def test_correction_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="correction == 'holm', must be 'bh' or 'bonferroni'"):
        adjust_p_values([0.1], "holm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"p_values must lie in \[0, 1\]"):
        adjust_p_values([0.1, np.nan])


# lazy imports --------------------------------------------------------------------------------------------


def test_importing_drift_does_not_import_scipy_stats_or_sklearn() -> None:
    import subprocess
    import sys

    code = (
        "import sys, retrain.drift, retrain.metrics; "
        "print(sorted(m for m in ('scipy.stats', 'scipy.special', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
