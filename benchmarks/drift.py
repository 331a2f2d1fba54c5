"""Drift check benchmark: our check vs a per-column scipy loop of the same methods, vs Evidently, and our memory.

    .venv/bin/python benchmarks/drift.py                 # what `make bench` runs (the full sizes below)
    .venv/bin/python benchmarks/drift.py --rows 200000   # a quicker run

1. 1M reference rows and 1M current rows, 100 numeric + 10 categorical features (continuous, rounded, counts,
   some missing values; 2 to 5000 categories; a few features drifted). Our check as the drift Lambda runs it
   (the reference profile built once when the snapshot was made, loaded from its bytes) and cold (profile built
   here too), against a per-column scipy loop computing the same statistics (KS with p-value and Wasserstein for
   continuous features, chi-squared and Jensen-Shannon for counts and categories, Benjamini-Hochberg).
2. Our peak memory during the check, relative to the size of the input frames: the process's peak RSS
   (VmHWM reset first, Linux) and the run's own allocations (tracemalloc, which numpy reports to).
3. Evidently's DataDriftPreset on 100k x 20, run by Evidently's own venv (never .venv; default
   /tmp/evidently-venv, or $EVIDENTLY_PYTHON) in a subprocess on the same data. Without it: skipped.

Timings are printed, never asserted. Medians of --repeats runs (the scipy loop runs once).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import machine

from retrain.drift import build_profile, detect_drift, from_bytes, to_bytes

HERE = Path(__file__).resolve().parent
EVIDENTLY_PYTHON = Path(os.environ.get("EVIDENTLY_PYTHON", "/tmp/evidently-venv/bin/python"))
CARDINALITIES = (2, 3, 5, 8, 12, 20, 50, 100, 1000, 5000)


# ------------------------------------------------------------------------------------------------ data
def make_data(rows: int, numeric: int, categorical: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Reference and current windows. A tenth of the numeric features drift by 0.2 std, a twentieth by a
    negligible 0.02 std (significant at this size, not a practical change); two categorical features drift."""
    rng = np.random.default_rng(seed)
    frames = []
    for window in ("reference", "current"):
        data: dict[str, Any] = {}
        for i in range(numeric):
            kind = i % 10
            shift = 0.0
            if window == "current":
                shift = 0.2 if i % 10 == 3 else 0.02 if i % 20 == 7 else 0.0
            if kind == 9:  # counts with a handful of values: tested as categories
                values = rng.poisson(2.0 + 2 * shift, rows).astype(np.float64)
            elif kind in (4, 5):  # skewed
                values = rng.lognormal(0.0 + shift * 0.5, 0.5, rows)
            elif kind == 6:
                values = rng.exponential(1.0, rows) + shift
            else:
                values = rng.normal(shift, 1.0, rows)
            if kind in (1, 8):  # rounded: heavy ties
                values = np.round(values, 2)
            if i % 25 == 0:  # 1% missing
                values[rng.random(rows) < 0.01] = np.nan
            data[f"n{i:03d}"] = values
        for j in range(categorical):
            k = CARDINALITIES[j % len(CARDINALITIES)]
            p = 1.0 / np.arange(1, k + 1) ** 1.1
            if window == "current" and j in (1, 4):
                p = p[::-1]
            names = np.array([f"c{j}_{v}" for v in range(k)])
            data[f"c{j:02d}"] = names[rng.choice(k, size=rows, p=p / p.sum())]
        frames.append(pd.DataFrame(data))
    columns = {
        "numeric": [c for c in frames[0].columns if c.startswith("n")],
        "categorical": [c for c in frames[0].columns if c.startswith("c")],
    }
    return frames[0], frames[1], columns


def size_mb(*frames: pd.DataFrame) -> float:
    return sum(float(f.memory_usage(deep=True).sum()) for f in frames) / 2**20


# ------------------------------------------------------------------------------------------------ ours
def ours_cold(reference: pd.DataFrame, current: pd.DataFrame, columns: dict) -> Any:
    profile = build_profile(reference, **columns, sample_rows=0)
    return detect_drift(profile, current, **columns)


def median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


# ------------------------------------------------------------------------------------------------ scipy loop
def scipy_loop(reference: pd.DataFrame, current: pd.DataFrame, columns: dict) -> dict[str, dict[str, float]]:
    """The same statistics, one column at a time, with scipy and pandas: what a straightforward check does."""
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    out: dict[str, dict[str, float]] = {}

    def categories(ref: pd.Series, cur: pd.Series) -> dict[str, float]:
        table = pd.concat([ref.value_counts(dropna=False), cur.value_counts(dropna=False)], axis=1).fillna(0)
        counts = table.to_numpy().T
        chi2 = stats.chi2_contingency(counts, correction=False)
        return {"statistic": chi2.statistic, "p_value": chi2.pvalue, "effect": jensenshannon(counts[0], counts[1])}

    for name in columns["numeric"]:
        ref, cur = reference[name].to_numpy(), current[name].to_numpy()
        ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        if np.unique(ref).size <= 10:
            out[name] = categories(pd.Series(ref), pd.Series(cur))
            continue
        ks = stats.ks_2samp(ref, cur)
        out[name] = {
            "statistic": ks.statistic,
            "p_value": ks.pvalue,
            "effect": stats.wasserstein_distance(ref, cur) / ref.std(),
        }
    for name in columns["categorical"]:
        out[name] = categories(reference[name], current[name])
    adjusted = stats.false_discovery_control([v["p_value"] for v in out.values()], method="bh")
    for value, p in zip(out.values(), adjusted, strict=True):
        value["drifted"] = float(p < 0.05 and value["effect"] >= 0.1)
    return out


# ------------------------------------------------------------------------------------------------ memory
def peak_memory(fn: Callable[[], Any]) -> tuple[float, float, float]:
    """Memory of one run of ``fn``, in MiB: (RSS before, peak RSS during, peak of its own allocations).

    The peak RSS comes from the kernel's high-water mark, reset first (Linux); it can miss memory that the
    allocator kept from an earlier run. The allocations are traced by tracemalloc (numpy reports its
    buffers to it), so that figure is exact whatever the allocator kept.
    """
    status = Path("/proc/self/status")

    def read(field: str) -> float:
        if not status.exists():
            return float("nan")
        line = next(x for x in status.read_text().splitlines() if x.startswith(field))
        return int(line.split()[1]) / 1024

    if status.exists():
        Path("/proc/self/clear_refs").write_text("5")
    before = read("VmRSS")
    tracemalloc.start()
    try:
        fn()
        traced = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return before, read("VmHWM"), traced


# ------------------------------------------------------------------------------------------------ evidently
def evidently(reference: pd.DataFrame, current: pd.DataFrame, columns: dict, repeats: int) -> dict | str:
    if not EVIDENTLY_PYTHON.exists():
        return f"skipped: evidently venv not found at {EVIDENTLY_PYTHON.parent.parent}"
    with tempfile.TemporaryDirectory() as folder:
        reference.to_parquet(Path(folder) / "reference.parquet")
        current.to_parquet(Path(folder) / "current.parquet")
        (Path(folder) / "columns.json").write_text(json.dumps(columns))
        done = subprocess.run(
            [str(EVIDENTLY_PYTHON), str(HERE / "peers" / "evidently_drift.py"), folder, str(repeats)],
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        return f"skipped: evidently failed: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--numeric", type=int, default=100)
    parser.add_argument("--categorical", type=int, default=10)
    parser.add_argument("--peer-rows", type=int, default=100_000)
    parser.add_argument("--peer-numeric", type=int, default=15)
    parser.add_argument("--peer-categorical", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-scipy", action="store_true", help="skip the (slow) per-column scipy loop")
    args = parser.parse_args()
    print(machine())
    against_scipy(args)
    against_evidently(args)
    print(f"\ncommand: {sys.executable} {' '.join(sys.argv)}")


def against_scipy(args: argparse.Namespace) -> None:
    """Sections 1 and 2: ours vs the scipy loop, and our memory."""
    started = time.perf_counter()
    reference, current, columns = make_data(args.rows, args.numeric, args.categorical, seed=1)
    input_mb = size_mb(reference, current)
    print(
        f"\n== {args.rows:,} x ({args.numeric} numeric + {args.categorical} categorical), reference and current: "
        f"{input_mb:,.0f} MiB in memory (generated in {time.perf_counter() - started:.1f} s)"
    )
    before, peak, cold_traced = peak_memory(lambda: ours_cold(reference, current, columns))
    build_s, profile = median_seconds(lambda: build_profile(reference, **columns, sample_rows=0), args.repeats)
    blob = to_bytes(profile)
    load_s, loaded = median_seconds(lambda: from_bytes(blob), args.repeats)
    check_s, report = median_seconds(lambda: detect_drift(loaded, current, **columns), args.repeats)
    current_mb = size_mb(current)
    _, _, warm_traced = peak_memory(lambda: detect_drift(loaded, current, **columns))
    lambda_input = current_mb + len(blob) / 2**20
    print(f"  profile of the reference (once per snapshot): {build_s:6.2f} s, {len(blob) / 2**20:.1f} MiB stored")
    print(f"  ours, as the drift Lambda runs (load profile + check): {load_s + check_s:6.2f} s")
    print(f"  ours, cold (profile + check):                        {build_s + check_s:6.2f} s")
    print(f"  drifted features: {report.n_drifted} of {report.n_features}, data set drifted: {report.fired}")
    print(
        f"  peak memory, cold: {peak:,.0f} MiB RSS (process, {before:,.0f} MiB before) for {input_mb:,.0f} MiB of "
        f"input = {peak / input_mb:.2f}x; the run's own allocations peaked at {cold_traced:,.0f} MiB = "
        f"{(input_mb + cold_traced) / input_mb:.2f}x the input (goal <= 2.5x)"
    )
    print(
        f"  peak memory, Lambda path: allocations peaked at {warm_traced:,.0f} MiB over {lambda_input:,.0f} MiB of "
        f"input (current window + profile) = {(lambda_input + warm_traced) / lambda_input:.2f}x"
    )
    if not args.skip_scipy:
        scipy_s, theirs = median_seconds(lambda: scipy_loop(reference, current, columns), 1)
        print(f"  scipy per-column loop, same statistics:              {scipy_s:6.2f} s")
        print(
            f"  speed-up: {scipy_s / (load_s + check_s):.1f}x as the Lambda runs, "
            f"{scipy_s / (build_s + check_s):.1f}x cold (goal >= 5x)"
        )
        agree = sum(bool(theirs[n]["drifted"]) == report.features[n].fired for n in theirs)
        continuous = [n for n, f in report.features.items() if f.test == "ks"]
        d_ks = max(abs(report.features[n].statistic - theirs[n]["statistic"]) for n in continuous)
        d_w = max(abs(report.features[n].effect - theirs[n]["effect"]) for n in continuous)
        print(
            f"  agreement: {agree} of {len(theirs)} verdicts equal; largest difference over {len(continuous)} "
            f"continuous features: KS {d_ks:.1e}, Wasserstein/std {d_w:.1e} (reference sketched at "
            f"{profile.meta['points']:,} points)"
        )


def against_evidently(args: argparse.Namespace) -> None:
    """Section 3: ours vs Evidently's DataDriftPreset, on the same data."""
    reference, current, columns = make_data(args.peer_rows, args.peer_numeric, args.peer_categorical, seed=2)
    print(
        f"\n== {args.peer_rows:,} x ({args.peer_numeric} numeric + {args.peer_categorical} categorical): vs Evidently"
    )
    cold_s, report = median_seconds(lambda: ours_cold(reference, current, columns), args.repeats)
    stored = from_bytes(to_bytes(build_profile(reference, **columns, sample_rows=0)))
    warm_s, _ = median_seconds(lambda: detect_drift(stored, current, **columns), args.repeats)
    print(f"  ours, cold (profile + check): {cold_s:.3f} s; with a stored profile: {warm_s:.3f} s")
    print(f"  ours: drifted {sorted(n for n, f in report.features.items() if f.fired)}")
    peer = evidently(reference, current, columns, repeats=max(1, min(args.repeats, 2)))
    if isinstance(peer, str):
        print(f"  evidently: {peer}")
    else:
        seconds = statistics.median(peer["seconds"])
        runs = ", ".join(f"{s:.2f}" for s in peer["seconds"])
        print(f"  evidently {peer['version']} DataDriftPreset: {seconds:.2f} s (runs: {runs})")
        print(f"  evidently: drifted {sorted(peer['drifted'])}")
        print(f"  speed-up: {seconds / cold_s:.0f}x cold, {seconds / warm_s:.0f}x with a stored profile (goal >= 30x)")


if __name__ == "__main__":
    main()
