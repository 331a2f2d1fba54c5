"""Drift over a large window: one process sorting the whole window vs partitions profiled apart and merged.

    .venv/bin/python benchmarks/drift_scale.py                    # 10M rows in 100 partitions
    .venv/bin/python benchmarks/drift_scale.py --rows 2000000     # a quicker run

1. The single-process path: ``detect_drift(reference_profile, window)`` on the whole window.
2. The partitioned path: ``profile_partition`` on each partition (what each Lambda of a Distributed Map would
   run; here one after the other in this process), ``merge_profiles``, then ``detect_drift`` on the merge.
3. The peak memory of profiling one partition (tracemalloc, which numpy reports to), beside the partition's size.
4. Verdict agreement (the same drifted features), and for every continuous feature the two paths' KS statistic
   and Wasserstein distance, the merged profile's stated bounds, and the exact values (scipy on the raw data).

Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import itertools
import time
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
from _common import machine

from retrain.drift import build_profile, detect_drift, merge_profiles, profile_partition
from retrain.drift.comparison import compare_window_ecdf
from retrain.drift.merge import WindowNumeric


def make_window(rows: int, seed: int, drifted: bool) -> pd.DataFrame:
    """Four continuous features (one shifted by 0.2 std, one by a negligible 0.02), a count, a category."""
    rng = np.random.default_rng(seed)
    shift = 1.0 if drifted else 0.0
    return pd.DataFrame(
        {
            "normal": rng.normal(0.2 * shift, 1.0, rows),
            "small_shift": rng.normal(0.02 * shift, 1.0, rows),
            "skewed": rng.lognormal(0.0, 0.5, rows),
            "rounded": np.round(rng.normal(0.0, 1.0, rows), 2),
            "count": rng.poisson(2.0, rows).astype(np.float64),
            "plan": rng.choice(np.array(["basic", "plus", "pro"]), rows, p=[0.6, 0.3, 0.1]),
        }
    )


NUMERIC = ["normal", "small_shift", "skewed", "rounded", "count"]
CATEGORICAL = ["plan"]


def seconds(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--reference-rows", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(
        f"rows {args.rows:,}, partitions {args.partitions}, reference rows {args.reference_rows:,}, "
        f"points {args.points:,}; {machine()}"
    )
    reference = make_window(args.reference_rows, args.seed, drifted=False)
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, points=args.points, sample_rows=0)
    window = make_window(args.rows, args.seed + 1, drifted=True)
    print(f"window {window.memory_usage(deep=True).sum() / 2**20:,.0f} MiB in memory")

    # 1. single process
    single_s, single = seconds(lambda: detect_drift(profile, window, numeric=NUMERIC, categorical=CATEGORICAL))

    # 2. partitions, merge, judge
    bounds = np.linspace(0, args.rows, args.partitions + 1).astype(np.int64)
    slices = [window.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    times: list[float] = []
    parts = []
    for i, part in enumerate(slices):
        elapsed, result = seconds(
            lambda p=part, i=i: profile_partition(p, NUMERIC, CATEGORICAL, points=args.points, index=i)
        )
        times.append(elapsed)
        parts.append(result)
    merge_s, merged = seconds(lambda: merge_profiles(parts))
    judge_s, judged = seconds(lambda: detect_drift(profile, merged, numeric=NUMERIC, categorical=CATEGORICAL))

    # 3. memory of one partition's profiling
    part = slices[0].copy()
    tracemalloc.start()
    profile_partition(part, NUMERIC, CATEGORICAL, points=args.points)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    part_mb = part.memory_usage(deep=True).sum() / 2**20

    print("\ntime (s)")
    print(f"  single process, detect_drift on the window   {single_s:8.2f}")
    print(
        f"  profile one partition (median / max)          {float(np.median(times)):8.3f} / {max(times):.3f}"
        f"   (all {len(times)} in sequence: {sum(times):.2f})"
    )
    print(f"  merge {len(parts)} profiles                         {merge_s:8.2f}")
    print(f"  detect_drift on the merged profile            {judge_s:8.2f}")
    print(f"  partitioned, wall time if partitions run in parallel: {max(times) + merge_s + judge_s:.2f}")
    print(
        f"\nmemory: profiling one partition ({part_mb:.1f} MiB of rows) peaks at {peak / 2**20:.1f} MiB (tracemalloc)"
    )

    # 4. agreement
    same = {n for n, f in single.features.items() if f.fired} == {n for n, f in judged.features.items() if f.fired}
    print(f"\nverdicts agree: {same} (data set drifted: single {single.fired}, partitioned {judged.fired})")
    print(
        f"{'feature':12} {'drifted':>9} {'stat single':>12} {'stat merged':>12} "
        f"{'effect single':>14} {'effect merged':>14} {'exact':>6}"
    )
    for name, f in single.features.items():
        g = judged.features[name]
        column = merged.columns[name]
        exact = (isinstance(column, WindowNumeric) and column.exact) or not isinstance(column, WindowNumeric)
        print(
            f"{name:12} {f.fired!s:>4}/{g.fired!s:<4} {f.statistic:12.6f} {g.statistic:12.6f} "
            f"{f.effect:14.6f} {g.effect:14.6f} {exact!s:>6}"
        )
    print("\nmerged profile vs exact statistics on the raw data (scipy; the reference profile's own sketch included)")
    from scipy import stats

    for name in NUMERIC:
        column = merged.columns[name]
        if not isinstance(column, WindowNumeric) or profile.columns[name].discrete:  # type: ignore[union-attr]
            continue
        ks, distance = compare_window_ecdf(profile.columns[name], column)  # type: ignore[arg-type]
        ref_values = reference[name].to_numpy()
        cur_values = window[name].to_numpy()
        exact_ks = stats.ks_2samp(ref_values, cur_values).statistic
        exact_w = stats.wasserstein_distance(ref_values, cur_values)
        print(
            f"  {name:12} points {column.values.size:6d}  KS {ks:.6f} exact {exact_ks:.6f}"
            f" |diff| {abs(ks - exact_ks):.2e}"
            f" bound {column.ks_bound:.2e}   W1 {distance:.6f} exact {exact_w:.6f} |diff| {abs(distance - exact_w):.2e}"
            f" bound {column.wasserstein_bound:.2e}"
        )


if __name__ == "__main__":
    main()
