"""The reference profile: built once per snapshot, stored as bytes, and as good as the raw reference."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from retrain.config import parse_config
from retrain.drift import ReferenceProfile, build_profile, detect_drift, from_bytes, to_bytes
from retrain.drift.comparison import compare_ecdf
from retrain.drift.profile import (
    OTHER,
    PROFILE_VERSION,
    CategoricalProfile,
    NumericProfile,
    category_counts,
    category_key,
    reference_profile,
)
from retrain.errors import SchemaMismatch

pytestmark = pytest.mark.unit


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": np.round(rng.normal(40 + shift, 10, n), 1),
            "calls": rng.poisson(1.5 + shift / 10, n),
            "plan": rng.choice(["basic", "plus", "pro", None], n, p=[0.5, 0.3, 0.15, 0.05]),
        }
    )


# building -----------------------------------------------------------------------------------------------


def test_a_numeric_feature_is_its_exact_cdf_when_it_has_few_distinct_values() -> None:
    values = pd.Series([3.0, 1.0, 2.0, 2.0, np.nan, np.inf, 3.0, 3.0])

    profile = build_profile(pd.DataFrame({"x": values}), numeric=["x"], categorical=[], sample_rows=0)

    x = profile.columns["x"]
    assert isinstance(x, NumericProfile)
    assert x.exact
    assert x.discrete
    assert x.values.tolist() == [1.0, 2.0, 3.0]
    assert x.le.tolist() == [1, 3, 6]
    assert (x.n_rows, x.n_missing, x.n) == (8, 2, 6)  # NaN and inf are missing
    assert x.mean == pytest.approx(14 / 6)
    assert x.std == pytest.approx(np.std([3, 1, 2, 2, 3, 3]))


def test_a_numeric_feature_with_many_values_is_a_sketch_of_order_statistics() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=50_000)

    profile = build_profile(pd.DataFrame({"x": values}), numeric=["x"], categorical=[], points=500, sample_rows=0)

    x = profile.columns["x"]
    assert isinstance(x, NumericProfile)
    assert not x.exact
    assert not x.discrete
    assert 400 <= x.values.size <= 501
    assert x.values[0] == values.min()
    assert x.values[-1] == values.max()
    ordered = np.sort(values)
    assert x.le.tolist() == np.searchsorted(ordered, x.values, side="right").tolist()  # exact counts at its points


def test_a_sketch_keeps_ks_and_wasserstein_within_a_few_thousandths_of_the_raw_reference() -> None:
    rng = np.random.default_rng(1)
    reference, current = rng.normal(size=200_000), rng.normal(0.01, 1.0, 50_000)
    sketch = build_profile(pd.DataFrame({"x": reference}), numeric=["x"], categorical=[], points=2000, sample_rows=0)

    statistic, distance = compare_ecdf(sketch.columns["x"], np.sort(current))  # type: ignore[arg-type]

    assert statistic == pytest.approx(scipy.stats.ks_2samp(reference, current).statistic, abs=1 / 2000)
    assert distance == pytest.approx(scipy.stats.wasserstein_distance(reference, current), abs=2e-3)


def test_a_sketch_steps_at_a_heavily_repeated_value_instead_of_ramping_up_to_it() -> None:
    # Given a reference whose zeros are 40% of its rows among continuous values (a sketch of 500 points)
    rng = np.random.default_rng(11)
    reference = np.concatenate((np.zeros(40_000), rng.exponential(size=60_000), -rng.exponential(size=10_000)))
    sketch = build_profile(pd.DataFrame({"x": reference}), numeric=["x"], categorical=[], points=500, sample_rows=0)
    x = sketch.columns["x"]
    assert isinstance(x, NumericProfile)
    assert not x.exact
    assert x.lt is not None

    # Then its CDF just below 0 is the count below 0, not a ramp toward the count at 0 ...
    ordered = np.sort(reference)
    probes = np.array([-1e-9, -1e-3, 0.0, 1e-3])
    expected = np.searchsorted(ordered, probes, side="right")
    np.testing.assert_allclose(x.counts_at(probes), expected, atol=len(reference) / 500)
    assert x.counts_at(np.array([0.0]), side="left")[0] == np.searchsorted(ordered, 0.0, side="left")
    # ... so KS against a window whose zeros are gone is within 1/points of the raw reference's
    current = np.sort(rng.exponential(size=20_000) - 0.5)
    statistic, _ = compare_ecdf(x, current)
    assert statistic == pytest.approx(scipy.stats.ks_2samp(reference, current).statistic, abs=1 / 500)
    # and the counts below each point survive a round trip
    again = from_bytes(to_bytes(sketch)).columns["x"]
    assert isinstance(again, NumericProfile)
    assert again.lt is not None
    np.testing.assert_array_equal(again.lt, x.lt)


def test_quantile_bins_of_the_reference_have_exact_counts() -> None:
    # 1..20, ten times each: the quartiles are 5, 10 and 15, so four bins of 50 rows
    profile = build_profile(
        pd.DataFrame({"x": np.tile(np.arange(1.0, 21.0), 10)}), numeric=["x"], categorical=[], sample_rows=0
    )

    edges, counts = profile.columns["x"].bins(4)  # type: ignore[union-attr]

    assert edges.tolist() == [5.0, 10.0, 15.0]
    assert counts.tolist() == [50, 50, 50, 50]


def test_a_constant_column_has_two_bins_around_its_value() -> None:
    profile = build_profile(pd.DataFrame({"x": np.full(50, 7.0)}), numeric=["x"], categorical=[], sample_rows=0)

    edges, counts = profile.columns["x"].bins(10)  # type: ignore[union-attr]

    assert edges.tolist() == [7.0]
    assert counts.tolist() == [50, 0]


def test_categories_are_counted_as_keys_with_missing_as_a_category() -> None:
    counts = category_counts(pd.Series([1, 2.0, "2", None, np.nan, "b"], dtype=object))

    assert counts == {"<missing>": 2, "1": 1, "2": 2, "b": 1}
    assert category_counts(pd.Series([True, False, True])) == {"True": 2, "False": 1}
    assert [category_key(v) for v in (3.0, 3.5, pd.NA, "x")] == ["3", "3.5", "<missing>", "x"]


def test_a_categorical_feature_names_its_categories_most_frequent_first_up_to_a_cap() -> None:
    values = pd.Series(["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"])

    capped = build_profile(pd.DataFrame({"c": values}), numeric=[], categorical=["c"], max_categories=2, sample_rows=0)
    full = build_profile(pd.DataFrame({"c": values}), numeric=[], categorical=["c"], sample_rows=0)

    c = capped.columns["c"]
    assert isinstance(c, CategoricalProfile)
    assert (c.categories, c.counts.tolist(), c.other_count, c.n_categories) == (["a", "b"], [5, 3], 3, 4)
    assert not c.complete
    uncapped = full.columns["c"]
    assert isinstance(uncapped, CategoricalProfile)
    assert uncapped.complete


def test_the_row_sample_is_seeded_and_encodes_categories_as_the_profile_does() -> None:
    rng = np.random.default_rng(2)
    frame = _frame(rng, 1000)

    one = build_profile(frame, numeric=["age"], categorical=["plan"], sample_rows=100, max_categories=2, seed=3)
    two = build_profile(frame, numeric=["age"], categorical=["plan"], sample_rows=100, max_categories=2, seed=3)

    assert one.sample is not None
    assert two.sample is not None
    assert len(one.sample) == 100
    pd.testing.assert_frame_equal(one.sample, two.sample)
    assert set(one.sample["plan"]) <= {"basic", "plus", OTHER}


def test_the_schema_records_every_column_of_the_reference() -> None:
    rng = np.random.default_rng(3)

    profile = build_profile(_frame(rng, 50), numeric=["age"], categorical=["plan"], sample_rows=0)

    assert profile.schema == {"id": "int", "age": "float", "calls": "int", "plan": "text"}
    assert profile.lacking(["age", "calls"], ["plan", "age"]) == ["calls", "age"]


def test_building_a_profile_names_what_is_wrong() -> None:
    frame = pd.DataFrame({"age": ["old", "young"] * 5, "x": range(10)})

    with pytest.raises(SchemaMismatch, match="reference is missing columns 'nope', 'gone'"):
        build_profile(frame, numeric=["nope"], categorical=["gone"])
    with pytest.raises(SchemaMismatch, match=r"column 'age' in reference is not numeric \(dtype \w+, e.g. 'old'\)"):
        build_profile(frame, numeric=["age"], categorical=[])
    with pytest.raises(ValueError, match=r"^points == 1, must be >= 2.$"):
        build_profile(frame, numeric=["x"], categorical=[], points=1)
    with pytest.raises(TypeError, match=r"^sample_rows must be an instance of Integral, not float.$"):
        build_profile(frame, numeric=["x"], categorical=[], sample_rows=1.5)  # type: ignore[arg-type]


def test_the_config_sets_how_a_snapshot_is_profiled() -> None:
    config = parse_config(
        {
            "model": "m",
            "problem": "classification",
            "target": "y",
            "features": {"numeric": ["age", "absent"], "categorical": ["plan"]},
            "triggers": {"drift": {"profile": {"points": 100, "max_categories": 2, "sample_rows": 10}}},
            "training": {"estimator": "LogisticRegression", "seed": 4},
        }
    )

    profile = reference_profile(config, _frame(np.random.default_rng(4), 500), meta={"snapshot_id": "abc"})

    assert sorted(profile.columns) == ["age", "plan"]  # a feature the data lacks is left out
    assert profile.meta["points"] == 100
    assert profile.meta["snapshot_id"] == "abc"
    assert profile.sample is not None
    assert len(profile.sample) == 10
    assert len(profile.columns["plan"].categories) == 2  # type: ignore[union-attr]


# storing --------------------------------------------------------------------------------------------------


def test_a_profile_survives_a_round_trip_through_bytes() -> None:
    rng = np.random.default_rng(5)
    frame = _frame(rng, 3000).assign(empty=np.nan)
    profile = build_profile(
        frame, numeric=["age", "calls", "empty"], categorical=["plan"], points=200, sample_rows=50, meta={"k": 1}
    )

    again = from_bytes(to_bytes(profile))

    assert (again.n_rows, again.schema, again.meta) == (profile.n_rows, profile.schema, profile.meta)
    for name in ("age", "calls", "empty"):
        a, b = profile.columns[name], again.columns[name]
        assert isinstance(a, NumericProfile)
        assert isinstance(b, NumericProfile)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.le, b.le)
        assert (a.exact, a.n_rows, a.n_missing) == (b.exact, b.n_rows, b.n_missing)
        assert (a.mean, a.std) == pytest.approx((b.mean, b.std), nan_ok=True)
    plan, plan_again = profile.columns["plan"], again.columns["plan"]
    assert isinstance(plan, CategoricalProfile)
    assert isinstance(plan_again, CategoricalProfile)
    assert (plan.categories, plan.counts.tolist()) == (plan_again.categories, plan_again.counts.tolist())
    assert profile.sample is not None
    assert again.sample is not None
    pd.testing.assert_frame_equal(profile.sample, again.sample, check_dtype=False)


def test_drift_against_a_stored_profile_equals_drift_against_the_raw_reference() -> None:
    rng = np.random.default_rng(6)
    reference, current = _frame(rng, 4000), _frame(rng, 3000, shift=3.0)
    stored = from_bytes(to_bytes(build_profile(reference, numeric=["age", "calls"], categorical=["plan"])))

    from_profile = detect_drift(stored, current, numeric=["age", "calls"], categorical=["plan"], ignore_columns=["id"])
    from_frame = detect_drift(reference, current, numeric=["age", "calls"], categorical=["plan"], ignore_columns=["id"])

    assert from_profile.model_dump() == from_frame.model_dump()
    assert from_profile.features["age"].statistic == scipy.stats.ks_2samp(reference["age"], current["age"]).statistic


def test_unreadable_or_newer_profiles_are_refused() -> None:
    with pytest.raises(ValueError, match="not a drift reference profile"):
        from_bytes(b"not a zip")
    buffer = io.BytesIO()
    header = json.dumps({"version": PROFILE_VERSION + 1, "n_rows": 0, "schema": {}, "columns": []}).encode()
    np.savez(buffer, meta=np.frombuffer(header, dtype=np.uint8))
    with pytest.raises(ValueError, match="is newer than"):
        from_bytes(buffer.getvalue())
    assert from_bytes(to_bytes(ReferenceProfile(columns={}, n_rows=0, schema={}))).columns == {}
