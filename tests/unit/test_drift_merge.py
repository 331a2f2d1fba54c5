"""Window profiles: partitions profiled apart, merged, and judged as the raw window is.

Exact parts must merge to the raw window's own numbers (checked against the
DataFrame path and numpy); sketched parts within the stated bounds (checked
against ``scipy.stats.ks_2samp`` and ``scipy.stats.wasserstein_distance`` on the
raw data); every merge must be independent of the order of its parts.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from retrain.config import DriftFeature
from retrain.drift import (
    WindowProfile,
    build_profile,
    detect_drift,
    merge_profiles,
    profile_partition,
    window_from_bytes,
    window_to_bytes,
)
from retrain.drift.comparison import compare_window_ecdf
from retrain.drift.merge import WindowCategorical, WindowNumeric
from retrain.drift.profile import category_counts

pytestmark = pytest.mark.unit

NUMERIC = ["age", "calls", "amount"]
CATEGORICAL = ["plan", "region"]


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": np.round(rng.normal(40 + shift, 10, n), 1),
            "calls": rng.poisson(1.5 + shift / 10, n).astype(np.float64),
            "amount": np.round(rng.lognormal(3 + shift / 20, 0.5, n), 2),
            "plan": rng.choice(["basic", "plus", "pro", None], n, p=[0.5, 0.3, 0.15, 0.05]),
            "region": rng.choice([f"r{i}" for i in range(40)], n),
        }
    )


def _split(frame: pd.DataFrame, parts: int, **kwargs: object) -> list[WindowProfile]:
    bounds = np.linspace(0, len(frame), parts + 1).astype(int)
    return [
        profile_partition(frame.iloc[a:b], NUMERIC, CATEGORICAL, index=i, **kwargs)  # type: ignore[arg-type]
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


def _assert_same(a: WindowProfile, b: WindowProfile) -> None:
    """Identical profiles: equal counts, arrays and exact moments, in the same order."""
    assert (a.n_rows, a.schema, list(a.schema), a.index, a.parts, a.points) == (
        b.n_rows,
        b.schema,
        list(b.schema),
        b.index,
        b.parts,
        b.points,
    )
    assert list(a.columns) == list(b.columns)
    for name, x in a.columns.items():
        y = b.columns[name]
        if isinstance(x, WindowNumeric):
            assert isinstance(y, WindowNumeric)
            assert (x.n_rows, x.n_missing, x.mean, x.m2, x.n_bad, x.bad_example, x.bad_at, x.dtype) == (
                y.n_rows,
                y.n_missing,
                y.mean,
                y.m2,
                y.n_bad,
                y.bad_example,
                y.bad_at,
                y.dtype,
            )
            for field in ("values", "lo", "hi"):
                assert np.array_equal(getattr(x, field), getattr(y, field)), (name, field)
        else:
            assert isinstance(x, WindowCategorical)
            assert isinstance(y, WindowCategorical)
            assert list(x.counts.items()) == list(y.counts.items())
            assert x.first == y.first
            assert x.n_rows == y.n_rows


def _reports_equal(raw: dict, got: dict) -> None:
    """Equal reports; the Wasserstein effect only up to float rounding (the same sum without zero-width terms)."""
    for name, feature in raw["features"].items():
        other = dict(got["features"][name])
        if feature["method"] == "wasserstein":
            assert other.pop("effect") == pytest.approx(feature["effect"], rel=1e-12, abs=0)
            feature = {k: v for k, v in feature.items() if k != "effect"}
        assert other == feature, name
    assert {k: v for k, v in raw.items() if k != "features"} == {k: v for k, v in got.items() if k != "features"}


# ---------------------------------------------------------------------------------------- exact parts
@pytest.fixture(scope="module")
def windows() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    reference, current = _frame(rng, 20_000), _frame(rng, 20_000, shift=2.0)
    current.loc[current.index[::50], "age"] = np.nan
    current.loc[current.index[::97], "amount"] = np.inf
    return reference, current


@pytest.mark.parametrize("sketched_reference", [False, True])
@pytest.mark.parametrize(
    "features",
    [
        None,  # KS + Wasserstein (age, amount), discrete JS (calls), chi-squared + JS (plan, region)
        {"amount": DriftFeature(method="psi"), "age": DriftFeature(method="ks"), "region": DriftFeature(method="chi2")},
        {"amount": DriftFeature(method="js"), "calls": DriftFeature(method="psi"), "plan": DriftFeature(method="linf")},
    ],
)
def test_exact_partitions_give_the_raw_windows_report(
    windows: tuple[pd.DataFrame, pd.DataFrame], features: dict | None, sketched_reference: bool
) -> None:
    # Given a reference profile and a window split into 10 partitions, each profiled exactly
    reference, current = windows
    profile = build_profile(
        reference, numeric=NUMERIC, categorical=CATEGORICAL, sample_rows=0, points=500 if sketched_reference else 20_000
    )
    merged = merge_profiles(_split(current, 10)[::-1])
    assert merged.exact
    # When both the raw window and the merged profile are judged
    kwargs = {"numeric": NUMERIC, "categorical": CATEGORICAL, "features": features, "ignore_columns": ["id"]}
    raw = detect_drift(profile, current, **kwargs)  # type: ignore[arg-type]
    got = detect_drift(profile, merged, **kwargs)  # type: ignore[arg-type]
    # Then every statistic, p-value, verdict and finding is the same
    assert raw.n_drifted > 0
    _reports_equal(raw.model_dump(), got.model_dump())


def test_merged_exact_cdf_is_the_windows_distinct_values_and_counts(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, current = windows
    merged = merge_profiles(_split(current, 7))
    column = merged.columns["amount"]
    assert isinstance(column, WindowNumeric)
    finite = current["amount"].to_numpy()[np.isfinite(current["amount"].to_numpy())]
    distinct, counts = np.unique(finite, return_counts=True)
    assert np.array_equal(column.values, distinct)
    assert np.array_equal(column.lo, np.cumsum(counts))
    assert column.n_missing == int((~np.isfinite(current["amount"].to_numpy())).sum())
    assert column.mean == pytest.approx(finite.mean(), rel=1e-13)
    assert column.std == pytest.approx(finite.std(), rel=1e-12)
    assert column.ks_bound == 0.0
    assert column.wasserstein_bound == 0.0


def test_category_counts_keep_the_windows_first_seen_order(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, current = windows
    merged = merge_profiles(_split(current, 10)[::-1])
    for name in CATEGORICAL:
        column = merged.columns[name]
        assert isinstance(column, WindowCategorical)
        assert list(column.counts.items()) == list(category_counts(current[name]).items())


# ---------------------------------------------------------------------------------------- order independence
def test_exact_merge_is_independent_of_order_and_grouping(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, current = windows
    parts = _split(current, 6)
    flat = merge_profiles(parts)
    _assert_same(flat, merge_profiles(parts[::-1]))
    _assert_same(flat, merge_profiles([parts[3], parts[0], parts[5], parts[1], parts[4], parts[2]]))
    left = merge_profiles([merge_profiles([merge_profiles(parts[:2]), parts[2]]), merge_profiles(parts[3:])])
    right = merge_profiles([parts[0], merge_profiles([parts[5], merge_profiles(parts[1:5][::-1])])])
    _assert_same(flat, left)
    _assert_same(flat, right)


def test_sketch_merge_is_independent_of_order_and_of_grouping_below_the_cap() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({name: rng.normal(0, 1, 30_000) for name in NUMERIC})
    frame["plan"], frame["region"] = "a", "b"
    parts = _split(frame, 6, points=200)
    assert not parts[0].exact
    # a flat merge is the same whatever the order, compressed or not
    for cap in (300, 10_000):
        flat = merge_profiles(parts, max_points=cap)
        _assert_same(flat, merge_profiles(parts[::-1], max_points=cap))
        _assert_same(flat, merge_profiles(parts[2:] + parts[:2], max_points=cap))
    # groupings are the same while no intermediate merge is compressed
    flat = merge_profiles(parts, max_points=10_000)
    grouped = merge_profiles(
        [merge_profiles(parts[4:], max_points=10_000), merge_profiles(parts[:4][::-1], max_points=10_000)],
        max_points=10_000,
    )
    _assert_same(flat, grouped)


def test_moments_merge_exactly_as_chans_update() -> None:
    # Given three parts whose own float64 mean and M2 are exact: the exact mean and M2 of their union
    parts = [np.array([1.0, 2.0]), np.array([10.0]), np.array([0.5, 1.5, 4.0])]
    profiles = [profile_partition(pd.DataFrame({"x": v}), ["x"], [], index=i) for i, v in enumerate(parts)]
    merged = merge_profiles(profiles).columns["x"]
    everything = [Fraction(v) for v in np.concatenate(parts)]
    mean = sum(everything, Fraction(0)) / len(everything)
    assert isinstance(merged, WindowNumeric)
    assert merged.mean == mean
    assert merged.m2 == sum(((v - mean) ** 2 for v in everything), Fraction(0))
    assert merged.std == pytest.approx(float(np.concatenate(parts).std()), rel=1e-15)


# ---------------------------------------------------------------------------------------- bounds
def _true_le(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_values, x, side="right")


@pytest.mark.parametrize("cap", [100_000, 400])
def test_sketch_envelope_holds_the_true_cdf_within_the_stated_bound(cap: int) -> None:
    # Given data with heavy ties and a continuous part, profiled in 8 sketched partitions
    rng = np.random.default_rng(11)
    n, points = 40_000, 250
    values = np.where(rng.random(n) < 0.3, np.round(rng.normal(0, 1, n), 1), rng.standard_t(3, n))
    frame = pd.DataFrame({"x": values})
    parts = [
        profile_partition(frame.iloc[i * 5_000 : (i + 1) * 5_000], ["x"], [], points=points, index=i) for i in range(8)
    ]
    part_bounds = [p.columns["x"].ks_bound for p in parts]  # type: ignore[union-attr]
    assert max(part_bounds) < 1 / points  # each partition's sketch
    merged = merge_profiles(parts, max_points=cap).columns["x"]
    assert isinstance(merged, WindowNumeric)
    # Then the stated bound: the largest part's, plus 1 / points if compressed
    compressed = merged.values.size < np.unique(np.concatenate([p.columns["x"].values for p in parts])).size  # type: ignore[union-attr]
    assert compressed == (cap == 400)
    assert merged.ks_bound <= max(part_bounds) + (1 / points if compressed else 0.0) + 1e-12
    assert merged.values.size <= (points + 1 if compressed else cap)
    # And the CDF the check uses is within it at every data value, between them, and just before them
    ordered = np.sort(values)
    x = np.concatenate((ordered, (ordered[1:] + ordered[:-1]) / 2, ordered - 1e-9))
    x.sort()
    error = np.abs(merged.counts(x, "right") - _true_le(ordered, x)).max()
    assert error <= merged.ks_bound * n + 1e-6
    left = np.abs(merged.counts(ordered, "left") - np.searchsorted(ordered, ordered, side="left")).max()
    assert left <= merged.ks_bound * n + 1e-6
    # And the envelope bounds hold exactly: lo <= count(<= x) and hi >= count(< x) at every point
    assert (merged.lo <= _true_le(ordered, merged.values)).all()
    assert (merged.hi >= np.searchsorted(ordered, merged.values, side="left")).all()
    assert merged.wasserstein_bound <= merged.ks_bound * (ordered[-1] - ordered[0]) + 1e-12


def test_ks_and_wasserstein_of_2m_rows_in_100_sketched_partitions_are_within_the_bound() -> None:
    # Given 2M current rows of three features (shifted, skewed, with an atom), profiled in 100 partitions
    rng = np.random.default_rng(2024)
    rows, parts, points = 2_000_000, 100, 2_000
    current = {
        "normal": rng.normal(0.05, 1.1, rows),
        "skewed": rng.lognormal(0.0, 0.7, rows),
        "atom": np.where(rng.random(rows) < 0.3, 0.0, rng.exponential(1.0, rows)),
    }
    reference = {"normal": rng.normal(0, 1, 50_000), "skewed": rng.lognormal(0, 0.6, 50_000)}
    reference["atom"] = np.where(rng.random(50_000) < 0.25, 0.0, rng.exponential(1.0, 50_000))
    # an exact reference profile (every distinct value), so the only approximation is the window's
    profile = build_profile(pd.DataFrame(reference), numeric=list(reference), categorical=[], points=50_000)
    frame = pd.DataFrame(current)
    step = rows // parts
    profiles = [
        profile_partition(frame.iloc[i * step : (i + 1) * step], list(current), [], points=points, index=i)
        for i in range(parts)
    ]
    merged = merge_profiles(profiles, max_points=20_000)
    for name, values in current.items():
        column = merged.columns[name]
        assert isinstance(column, WindowNumeric)
        assert not column.exact
        assert column.ks_bound <= 2 / points  # a partition's < 1 / points, plus one compression
        # When the window profile is compared with the reference
        statistic, distance = compare_window_ecdf(profile.columns[name], column)  # type: ignore[arg-type]
        # Then KS and Wasserstein are within the stated bounds of scipy's on the raw data
        exact_ks = scipy.stats.ks_2samp(reference[name], values).statistic
        exact_w = scipy.stats.wasserstein_distance(reference[name], values)
        assert abs(statistic - exact_ks) <= column.ks_bound + 1e-12, name
        assert abs(distance - exact_w) <= column.wasserstein_bound * (1 + 1e-9) + 1e-12, name
        assert column.wasserstein_bound <= column.ks_bound * (values.max() - values.min())


def test_sketched_window_gives_the_raw_windows_verdicts(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = windows
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, sample_rows=0)
    merged = merge_profiles(_split(current, 10, points=100), max_points=400)
    assert not merged.exact
    kwargs = {"numeric": NUMERIC, "categorical": CATEGORICAL, "ignore_columns": ["id"]}
    raw = detect_drift(profile, current, **kwargs)  # type: ignore[arg-type]
    got = detect_drift(profile, merged, **kwargs)  # type: ignore[arg-type]
    assert {n: f.fired for n, f in got.features.items()} == {n: f.fired for n, f in raw.features.items()}
    for name in ("age", "amount"):
        bound = merged.columns[name].ks_bound  # type: ignore[union-attr]
        assert got.features[name].statistic == pytest.approx(raw.features[name].statistic, abs=bound)
    assert got.features["calls"].effect == pytest.approx(raw.features["calls"].effect, abs=0.01)


# ---------------------------------------------------------------------------------------- schema, storage, errors
def test_schema_drift_reads_the_same_from_a_window_profile(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = windows
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, sample_rows=0)
    broken = current.drop(columns=["region"]).assign(age=current["age"].astype(object), extra=1)
    broken.loc[broken.index[7_500], "age"] = "n/a"
    merged = merge_profiles(_split(broken, 10))
    raw = detect_drift(profile, broken, numeric=NUMERIC, categorical=CATEGORICAL)
    got = detect_drift(profile, merged, numeric=NUMERIC, categorical=CATEGORICAL)
    assert raw.schema_drifted == got.schema_drifted == ["age", "region"]
    assert [f.message for f in got.findings] == [f.message for f in raw.findings]


def test_a_feature_some_partitions_lack_counts_as_missing_there(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, current = windows
    parts = _split(current, 4)
    lacking = profile_partition(current.iloc[:100].drop(columns=["amount", "plan"]), NUMERIC, CATEGORICAL, index=9)
    merged = merge_profiles([*parts, lacking])
    amount, plan = merged.columns["amount"], merged.columns["plan"]
    assert amount.n_rows == plan.n_rows == len(current) + 100
    assert amount.n_missing == int((~np.isfinite(current["amount"].to_numpy())).sum()) + 100
    assert plan.n_missing == int(current["plan"].isna().sum()) + 100


@pytest.mark.parametrize("points", [20_000, 50])
def test_window_profile_round_trips_through_bytes(windows: tuple[pd.DataFrame, pd.DataFrame], points: int) -> None:
    _, current = windows
    merged = merge_profiles(_split(current, 3, points=points))
    _assert_same(merged, window_from_bytes(window_to_bytes(merged)))
    with np.load(__import__("io").BytesIO(window_to_bytes(merged)), allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)


def test_other_bytes_are_not_a_window_profile(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    from retrain.drift import to_bytes

    reference, _ = windows
    with pytest.raises(ValueError, match="not a drift window profile"):
        window_from_bytes(b"junk")
    with pytest.raises(ValueError, match="not a drift window profile"):
        window_from_bytes(to_bytes(build_profile(reference, numeric=NUMERIC, categorical=[], sample_rows=0)))


def test_parameters_are_checked() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="points == 1, must be >= 2"):
        profile_partition(frame, ["x"], [], points=1)
    with pytest.raises(ValueError, match="profiles is empty"):
        merge_profiles([])
    with pytest.raises(ValueError, match="numeric in one profile and categorical"):
        merge_profiles([profile_partition(frame, ["x"], []), profile_partition(frame, [], ["x"])])
    with pytest.raises(ValueError, match="max_points == 10, must be >= 100"):
        merge_profiles([profile_partition(frame, ["x"], [])], points=100, max_points=10)


def test_empty_and_all_missing_numeric_parts_merge() -> None:
    parts = [
        profile_partition(pd.DataFrame({"x": [np.nan, np.inf]}), ["x"], [], index=0),
        profile_partition(pd.DataFrame({"x": [3.0, 1.0, 3.0]}), ["x"], [], index=1),
    ]
    merged = merge_profiles(parts).columns["x"]
    assert isinstance(merged, WindowNumeric)
    assert (merged.n_rows, merged.n_missing, merged.values.tolist(), merged.lo.tolist()) == (5, 2, [1.0, 3.0], [1, 3])
    assert merged.exact
    assert merged.std == pytest.approx(math.sqrt(8 / 9))


def test_a_window_profile_must_profile_every_feature_as_its_kind(windows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = windows
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, sample_rows=0)
    unprofiled = profile_partition(current, NUMERIC[1:], CATEGORICAL)
    with pytest.raises(ValueError, match="'age' is a column of the window profile but was not profiled"):
        detect_drift(profile, unprofiled, numeric=NUMERIC, categorical=CATEGORICAL)
    swapped = profile_partition(current, NUMERIC[1:], [*CATEGORICAL, "age"])
    with pytest.raises(ValueError, match="'age' is numeric in the reference but categorical in the window"):
        detect_drift(profile, swapped, numeric=NUMERIC, categorical=CATEGORICAL)
