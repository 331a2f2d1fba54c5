"""Each feature's reference and current distributions, as the report draws them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from retrain.drift.distributions import distributions
from retrain.drift.profile import OTHER, UNSEEN, build_profile

pytestmark = pytest.mark.unit


def _frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame(
        {
            "income": rng.normal(50.0, 10.0, 4000),
            "plan": rng.choice(["basic", "pro", "team"], 4000, p=[0.6, 0.3, 0.1]),
            "seats": rng.integers(1, 5, 4000),
        }
    )
    current = pd.DataFrame(
        {
            "income": rng.normal(65.0, 10.0, 1500),
            "plan": rng.choice(["basic", "pro", "enterprise"], 1500, p=[0.2, 0.5, 0.3]),
            "seats": rng.integers(1, 5, 1500).astype(float),
        }
    )
    return reference, current


def _profile(reference: pd.DataFrame, **kwargs):
    return build_profile(reference, numeric=["income", "seats"], categorical=["plan"], sample_rows=0, **kwargs)


def test_numeric_counts_equal_a_histogram_of_the_raw_columns_on_the_same_edges():
    # Given an exact profile (fewer distinct values than its points)
    reference, current = _frames()
    reference.loc[:99, "income"] = np.nan
    current.loc[:49, "income"] = np.inf

    # When the distributions are computed
    income = distributions(_profile(reference), current, ["income"])["income"]

    # Then each side's counts are numpy's histogram of its values, tails folded into the end bins
    edges = np.asarray(income["edges"])
    assert income["kind"] == "numeric"
    assert edges.size == 21
    assert np.all(np.diff(edges) > 0)
    for side, frame in (("reference", reference), ("current", current)):
        values = frame["income"].to_numpy()
        values = np.clip(values[np.isfinite(values)], edges[0], edges[-1])
        expected, _ = np.histogram(values, bins=edges)
        assert income[side] == expected.tolist()
    assert income["missing_reference"] == pytest.approx(100 / 4000)
    assert income["missing_current"] == pytest.approx(50 / 1500)


def test_the_bins_span_both_windows_so_a_shifted_window_stays_in_view():
    reference, current = _frames()

    income = distributions(_profile(reference), current, ["income"])["income"]

    # The reference sits left, the shifted window right: each has most of its mass inside the span
    assert income["edges"][0] <= np.quantile(reference["income"], 0.01)
    assert income["edges"][-1] >= np.quantile(current["income"], 0.99)
    assert np.argmax(income["reference"]) < np.argmax(income["current"])


def test_a_sketched_profile_gives_counts_within_its_resolution():
    # Given a profile that keeps 200 order statistics of 50 000 distinct values
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.lognormal(0.0, 1.0, 50_000)})
    profile = build_profile(reference, numeric=["x"], categorical=[], points=200, sample_rows=0)

    x = distributions(profile, reference, ["x"])["x"]

    # Then the reference's counts (interpolated CDF) agree with the exact window's within n / points per edge
    assert sum(x["reference"]) == 50_000
    cumulative_error = np.abs(np.cumsum(x["reference"]) - np.cumsum(x["current"]))
    assert cumulative_error.max() <= 50_000 / 200


def test_categories_show_the_largest_shares_of_either_window_then_other_and_unseen():
    # Given a categorical feature with a category the reference never had
    reference, current = _frames()
    current.loc[:9, "plan"] = None

    plan = distributions(_profile(reference), current, ["plan"], top=2)["plan"]

    # Then the two largest shares are named, the third reference category is pooled, the new one is unseen
    assert plan["kind"] == "categorical"
    assert plan["categories"] == ["basic", "pro", OTHER, UNSEEN]
    ref = reference["plan"].value_counts()
    cur = current["plan"].value_counts()
    assert plan["reference"] == [ref["basic"], ref["pro"], ref["team"], 0]
    assert plan["current"] == [cur["basic"], cur["pro"], 0, cur["enterprise"]]
    assert plan["missing_current"] == pytest.approx(10 / 1500)
    assert plan["missing_reference"] == 0.0


def test_a_numeric_feature_with_few_values_is_drawn_as_categories_and_2_equals_2_0():
    reference, current = _frames()

    seats = distributions(_profile(reference), current, ["seats"])["seats"]

    assert seats["kind"] == "categorical"
    assert sorted(seats["categories"]) == ["1", "2", "3", "4"]
    order = [int(c) for c in seats["categories"]]
    assert seats["reference"] == [int((reference["seats"] == v).sum()) for v in order]
    assert seats["current"] == [int((current["seats"] == v).sum()) for v in order]


def test_a_constant_feature_and_a_missing_column_do_not_break_the_report():
    reference = pd.DataFrame({"c": np.full(100, 7.0), "gone": np.arange(100.0)})
    profile = build_profile(reference, numeric=["c", "gone"], categorical=[], sample_rows=0)
    current = pd.DataFrame({"c": np.full(30, 7.0)})

    out = distributions(profile, current, ["c", "gone", "never-profiled"])

    assert list(out) == ["c"]
    assert sum(out["c"]["reference"]) == 100
    assert sum(out["c"]["current"]) == 30


def test_a_hundred_features_fit_in_a_small_json():
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({f"f{i}": rng.normal(size=2000) for i in range(100)})
    current = pd.DataFrame({f"f{i}": rng.normal(0.3, 1.0, size=800) for i in range(100)})
    profile = build_profile(reference, numeric=list(reference.columns), categorical=[], sample_rows=0)

    out = distributions(profile, current, list(reference.columns))

    assert len(out) == 100
    assert len(json.dumps(out, separators=(",", ":"))) < 100 * 1024
