"""Calibration: how often the verdict fires without drift, and whether it fires with drift.

A p-value-only test flags everything on large windows; an effect-only threshold
flags noise on small ones. The verdict needs both, so it stays quiet on a
million rows of the same distribution, fires in at most 5% of no-drift windows
at 5 000 rows (and at 300), and still sees a 0.2 standard-deviation shift.
The seeds are fixed: these tests are deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from retrain.config import DriftFeature
from retrain.drift import build_profile, detect_drift

pytestmark = pytest.mark.unit

NUMERIC = ["income", "age", "tenure", "balance", "calls"]
CATEGORICAL = ["plan", "region", "channel"]
#: Every rule of the data set's verdict is on: share, a critical feature, importance weighting.
OPTIONS: dict[str, Any] = {
    "features": {"balance": DriftFeature(critical=True)},
    "importances": dict.fromkeys(NUMERIC + CATEGORICAL, 1.0),
}
OPTIONS["importances"]["income"] = 4.0


def _sample(rng: np.random.Generator, n: int, *, shift: float = 0.0) -> pd.DataFrame:
    """A mixed window: skewed, symmetric, heavy-tailed, discrete and categorical features."""
    return pd.DataFrame(
        {
            "income": rng.lognormal(10 + shift, 0.5, n),
            "age": rng.normal(40 + 12 * shift, 12, n),
            "tenure": rng.exponential(24, n),
            "balance": rng.standard_t(4, n) * 1000,
            "calls": rng.poisson(1.5, n),
            "plan": _text(rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1])),
            "region": _text(rng.choice([f"r{i}" for i in range(12)], n)),
            "channel": _text(rng.choice(["web", "app", "store", "phone"], n, p=[0.4, 0.3, 0.2, 0.1])),
        }
    )


def _text(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype=object)  # plain objects: quicker to build than pandas' Arrow strings


def test_a_million_rows_of_one_distribution_never_drift() -> None:
    # Given 1 000 000 reference and 1 000 000 current rows from the same distribution
    rng = np.random.default_rng(20_000_000)
    reference, current = _sample(rng, 1_000_000), _sample(rng, 1_000_000)

    # When
    report = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, **OPTIONS)

    # Then no feature and no data set verdict drifts
    assert [name for name, f in report.features.items() if f.fired] == []
    assert not report.fired
    assert max(f.effect for f in report.features.values()) < 0.01  # a hundredth of the thresholds


def test_a_negligible_shift_on_a_million_rows_fools_p_values_but_not_the_verdict() -> None:
    # Given a real but practically irrelevant change: income moves 1% of a standard deviation
    rng = np.random.default_rng(7)
    reference = pd.DataFrame({"income": rng.normal(0.0, 1.0, 1_000_000)})
    current = pd.DataFrame({"income": rng.normal(0.01, 1.0, 1_000_000)})

    report = detect_drift(reference, current, numeric=["income"], categorical=[])

    p_value_only = scipy.stats.ks_2samp(reference["income"], current["income"]).pvalue
    assert p_value_only < 1e-6  # a p-value-only check would flag it
    assert report.features["income"].significant
    assert not report.features["income"].fired
    assert not report.fired


@pytest.mark.parametrize(("rows", "seeds"), [(5000, range(200)), (300, range(1000, 1200))])
def test_no_drift_windows_fire_the_verdict_in_at_most_five_percent_of_seeds(rows: int, seeds: range) -> None:
    # Given 200 seeds of no-drift reference and current windows, the reference profiled once per seed
    fired = 0
    features_fired = 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        profile = build_profile(_sample(rng, rows), numeric=NUMERIC, categorical=CATEGORICAL, sample_rows=0)

        # When
        report = detect_drift(profile, _sample(rng, rows), numeric=NUMERIC, categorical=CATEGORICAL, **OPTIONS)

        fired += report.fired
        features_fired += report.n_drifted

    # Then the data set's verdict fires in at most 5% of them
    assert fired <= 0.05 * len(seeds), f"{fired} of {len(seeds)} no-drift windows fired"
    assert features_fired <= 0.05 * len(seeds) * len(NUMERIC + CATEGORICAL)


def test_a_shift_of_a_fifth_of_a_standard_deviation_at_5000_rows_is_detected() -> None:
    # Given 20 seeds of 5000-row windows where every numeric feature's mean moves by 0.2 standard deviations
    for seed in range(20):
        rng = np.random.default_rng(seed)
        reference = pd.DataFrame({name: rng.normal(0.0, 1.0, 5000) for name in ("a", "b", "c", "d")})
        current = pd.DataFrame({name: rng.normal(0.2, 1.0, 5000) for name in ("a", "b", "c", "d")})

        report = detect_drift(reference, current, numeric=["a", "b", "c", "d"], categorical=[])

        assert report.fired, f"seed {seed}: {report.reason}"
        assert all(f.fired for f in report.features.values())


def test_one_shifted_feature_among_ten_is_found_after_correction() -> None:
    rng = np.random.default_rng(99)
    names = [f"x{i}" for i in range(10)]
    reference = pd.DataFrame({name: rng.normal(0.0, 1.0, 5000) for name in names})
    current = pd.DataFrame({name: rng.normal(0.2 if name == "x3" else 0.0, 1.0, 5000) for name in names})

    report = detect_drift(reference, current, numeric=names, categorical=[])

    assert [name for name, f in report.features.items() if f.fired] == ["x3"]
    assert report.features["x3"].p_value_adjusted < 1e-6
    assert report.features["x3"].effect > 0.15
