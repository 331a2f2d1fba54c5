"""The distributed drift check's pure parts: the engine choice, batching by bytes, sample merging, the config,
and the signals a merged profile feeds (distributions, prediction drift) against the raw window's."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from pydantic import ValidationError

from retrain.config import DistributedDrift, DriftTrigger
from retrain.drift import build_profile, merge_profiles, prediction_drift, profile_partition
from retrain.drift.distributions import distributions
from retrain.drift.profile import DEFAULT_POINTS
from retrain.drift.sample import RowSample, merge_samples, sample_partition
from retrain.steps.drift_batches import MAX_ITEM_BYTES, STRIDE, distributed, plan_batches

pytestmark = pytest.mark.unit


def _objects(*sizes: int) -> list[dict]:
    return [
        {"key": f"inference/m/date=2026-01-01/p{i}.parquet", "etag": f"e{i}", "size": s} for i, s in enumerate(sizes)
    ]


# ------------------------------------------------------------------ engine
@pytest.mark.parametrize(
    ("engine", "n_objects", "expected"),
    [
        ("auto", 64, False),
        ("auto", 65, True),
        ("auto", 0, False),
        ("single", 10_000, False),
        ("distributed", 1, True),
        ("distributed", 0, False),
    ],
)
def test_the_engine_follows_the_config_and_the_window_size(engine, n_objects, expected):
    policy = DriftTrigger(engine=engine, distributed=DistributedDrift(min_partitions=64))

    assert distributed(policy, n_objects) is expected


# ------------------------------------------------------------------ batches
def test_objects_are_grouped_in_listing_order_up_to_batch_bytes():
    objects = _objects(40, 50, 10, 90, 20, 30)

    batches = plan_batches(objects, 100)

    assert [b["index"] for b in batches] == [0, 1, 2]
    assert [[o["size"] for o in b["objects"]] for b in batches] == [[40, 50, 10], [90], [20, 30]]
    assert [o for b in batches for o in b["objects"]] == objects  # every object once, in order


def test_an_object_larger_than_batch_bytes_is_a_batch_of_its_own():
    batches = plan_batches(_objects(10, 500, 10), 100)

    assert [[o["size"] for o in b["objects"]] for b in batches] == [[10], [500], [10]]


def test_batch_items_carry_key_etag_and_size_only():
    (batch,) = plan_batches([{**_objects(5)[0], "last_modified": "x"}], 100)

    assert batch == {
        "index": 0,
        "objects": [{"key": "inference/m/date=2026-01-01/p0.parquet", "etag": "e0", "size": 5}],
    }


def test_a_batch_of_many_small_objects_stays_under_the_state_payload_limit():
    objects = [
        {"key": f"inference/m/date=2026-01-01/{i:08d}-{'x' * 60}.parquet", "etag": "e" * 32, "size": 10}
        for i in range(20_000)
    ]

    batches = plan_batches(objects, 1 << 30)

    assert len(batches) > 1
    assert all(len(json.dumps(b, separators=(",", ":"))) <= MAX_ITEM_BYTES + 100 for b in batches)
    assert [o for b in batches for o in b["objects"]] == objects


def test_no_objects_plan_no_batches_and_batch_bytes_must_be_positive():
    assert plan_batches([], 100) == []
    with pytest.raises(ValueError, match="batch_bytes == 0, must be >= 1"):
        plan_batches(_objects(1), 0)


def test_a_batch_closes_at_the_stride_so_partition_indices_never_collide(monkeypatch):
    monkeypatch.setattr("retrain.steps.drift_batches.STRIDE", 3)

    batches = plan_batches(_objects(*([0] * 7)), 1 << 40)

    assert [len(b["objects"]) for b in batches] == [3, 3, 1]
    assert STRIDE == 1 << 20  # the real stride: a batch of ~1M objects, far above any batch_bytes grouping


# ------------------------------------------------------------------ samples
def _partitions(sizes: list[int]) -> list[pd.DataFrame]:
    start = np.cumsum([0, *sizes])
    return [pd.DataFrame({"row": np.arange(a, b)}) for a, b in itertools.pairwise(start)]


def test_a_partition_sample_is_a_seeded_subset_without_repeats():
    frame = pd.DataFrame({"row": np.arange(1000)})

    one = sample_partition(frame, 100, seed=7, index=3)
    again = sample_partition(frame, 100, seed=7, index=3)
    other = sample_partition(frame, 100, seed=7, index=4)

    assert len(one.rows) == 100
    assert one.rows["row"].is_unique
    assert one.n_rows == 1000
    assert one.rows.equals(again.rows)
    assert not one.rows.equals(other.rows)
    assert len(sample_partition(frame.iloc[:30], 100).rows) == 30


def test_the_merged_sample_has_min_k_rows_of_the_union_without_repeats_in_any_order():
    parts = [sample_partition(f, 50, seed=1, index=i) for i, f in enumerate(_partitions([10, 400, 0, 90]))]

    merged = merge_samples(parts, 50, seed=2)
    shuffled = merge_samples(parts[::-1], 50, seed=2)

    assert len(merged.rows) == 50
    assert merged.rows["row"].is_unique
    assert merged.n_rows == 500
    assert merged.rows.equals(shuffled.rows)
    whole = [sample_partition(f, 5000, seed=1, index=i) for i, f in enumerate(_partitions([10, 400, 0, 90]))]
    assert len(merge_samples(whole, 5000, seed=2).rows) == 500


def test_the_merged_sample_draws_partitions_in_proportion_to_their_rows():
    # Given partitions of very different sizes, each sampled to at most k rows
    sizes = [50, 200, 1000, 3750]
    frames = _partitions(sizes)
    k, trials = 200, 400
    counts = np.zeros(len(sizes))
    for seed in range(trials):
        parts = [sample_partition(f, k, seed=seed, index=i) for i, f in enumerate(frames)]
        rows = merge_samples(parts, k, seed=seed).rows["row"].to_numpy()
        counts += np.histogram(rows, bins=np.cumsum([0, *sizes]))[0]

    # Then each partition's share of the union's sample is its share of the rows (a chi-squared test)
    expected = trials * k * np.array(sizes) / sum(sizes)
    assert scipy.stats.chisquare(counts, expected).pvalue > 1e-3


def test_merging_merges_keeps_the_sample_uniform_over_rows():
    # Given a fold of merges (as the judge merges groups of batches), every row's inclusion rate is k / n
    frames = _partitions([300, 300, 600, 1200])
    k, trials = 120, 300
    hits = np.zeros(2400)
    for seed in range(trials):
        parts = [sample_partition(f, k, seed=seed, index=i) for i, f in enumerate(frames)]
        first = merge_samples(parts[:2], k, seed=seed)
        rows = merge_samples([first, *parts[2:]], k, seed=seed).rows["row"].to_numpy()
        hits[rows] += 1

    by_partition = [hits[:600].sum(), hits[600:1200].sum(), hits[1200:].sum()]
    expected = trials * k * np.array([600, 600, 1200]) / 2400
    assert scipy.stats.chisquare(by_partition, expected).pvalue > 1e-3


def test_a_sample_too_small_for_the_merge_is_refused():
    short = RowSample(pd.DataFrame({"row": np.arange(5)}), n_rows=100, index=0)

    with pytest.raises(ValueError, match=r"sample of partition 0 holds 5 rows, must hold min\(k, n_rows\) == 10"):
        merge_samples([short], 10)


# ------------------------------------------------------------------ config
def test_distributed_defaults():
    policy = DriftTrigger()

    assert policy.engine == "auto"
    assert policy.distributed.min_partitions == 64
    assert policy.distributed.batch_bytes == 256 * 1024 * 1024
    assert policy.distributed.max_concurrency == 40
    assert policy.distributed.points == DEFAULT_POINTS


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_concurrency", 0), ("max_concurrency", 1001), ("batch_bytes", 0), ("min_partitions", 0), ("points", 10)],
)
def test_distributed_settings_out_of_range_name_the_field(field, value):
    with pytest.raises(ValidationError, match=field):
        DistributedDrift(**{field: value})


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValidationError, match="engine"):
        DriftTrigger(engine="spark")


# ------------------------------------------------------------------ signals on a merged profile
def _window(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(3.2, 0.6, n), 2),
            "calls": rng.poisson(2.0, n).astype(np.float64),
            "plan": rng.choice(["basic", "plus", "pro", None], n, p=[0.4, 0.3, 0.2, 0.1]),
            "prediction": rng.choice(["0", "1"], n, p=[0.7, 0.3]),
        }
    )


def test_distributions_of_a_merged_exact_profile_equal_the_raw_windows():
    rng = np.random.default_rng(5)
    reference = _window(rng, 3000)
    window = _window(rng, 2400)
    profile = build_profile(reference, numeric=["amount", "calls"], categorical=["plan"])
    parts = [
        profile_partition(window.iloc[i : i + 400], ["amount", "calls"], ["plan"], index=i) for i in range(0, 2400, 400)
    ]

    merged = merge_profiles(parts)

    assert distributions(profile, merged, ["amount", "calls", "plan"]) == distributions(
        profile, window, ["amount", "calls", "plan"]
    )


def test_prediction_drift_on_a_merged_profile_equals_the_raw_predictions():
    rng = np.random.default_rng(6)
    reference = build_profile(_window(rng, 3000)[["prediction"]], numeric=[], categorical=["prediction"])
    window = _window(rng, 2000)
    window.loc[:600, "prediction"] = "1"
    parts = [profile_partition(window.iloc[i : i + 500], [], ["prediction"], index=i) for i in range(0, 2000, 500)]
    merged = merge_profiles(parts).columns["prediction"]

    raw = prediction_drift(reference.columns["prediction"], window["prediction"])
    profiled = prediction_drift(reference.columns["prediction"], merged)

    assert raw.fired is True
    assert profiled.model_dump() == raw.model_dump()
