"""Sizing on paper, from figures measured here: what a drift check and a retraining cost for 1 GB, 100 GB and 1 TB.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sizing.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sizing.py --object-mib 64 --lambda-gb-second 0.0000133334

1. Measures, on one object of an inference log (100 numeric + 10 categorical features and the log's own columns,
   written as Parquet): the bytes per row, the seconds to parse it and to profile it (what one Distributed Map
   iteration does per object), the peak memory of doing so in a fresh process (``ru_maxrss``), the size of its
   partial profile, and the seconds to merge partials (what the reduce step does per partial).
2. Measures the seconds to fit the default estimator (HistGradientBoostingClassifier) on 100 000 labelled rows
   of the same 110 features, one thread.
3. Prints, for each window size, the partitions, map iterations, Lambda GB-seconds, Step Functions state
   transitions, S3 requests, SageMaker instance-hours and dollars per run at the prices given (defaults: us-east-1
   list prices as published on AWS's pricing pages, read 2026-12-01), and which limit comes next.

The cost model is arithmetic on the measured rates (one thread here is taken as one Lambda vCPU, which a
function has at 1,769 MB); it is not a run on AWS. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from _common import machine

NUMERIC = [f"n{i:03d}" for i in range(100)]
CATEGORICAL = [f"c{i:02d}" for i in range(10)]
MiB = 2**20
GiB = 2**30

#: The Step Functions states a run passes through besides the drift map (a retraining run, promoted).
RUN_TRANSITIONS = 40
#: State transitions of one map iteration as a STANDARD child execution (start, ProfileBatch, end).
ITERATION_TRANSITIONS = 3


def make_log(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {
        "id": np.arange(rows).astype(str),
        "timestamp": pd.Timestamp("2026-11-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86_400, rows), "s"),
        "prediction": rng.integers(0, 2, rows),
        "proba_1": rng.random(rows),
    }
    for i, name in enumerate(NUMERIC):
        columns[name] = rng.lognormal(0, 1, rows) if i % 3 == 0 else np.round(rng.normal(i, 1 + i % 5, rows), 3)
    levels = np.array([f"level-{k}" for k in range(40)])
    for name in CATEGORICAL:
        columns[name] = levels[rng.zipf(1.5, rows) % levels.size]
    return pd.DataFrame(columns)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    from retrain.data import to_parquet_bytes

    return to_parquet_bytes(frame)


# ------------------------------------------------------------------ one object, in a fresh process
WORKER = r"""
import json, resource, sys, time
from retrain.drift import profile_partition
from retrain.drift.merge import window_to_bytes
from retrain.files import parse_table
numeric, categorical, points = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
data = open(sys.argv[4], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter(); frame = parse_table(data, "object.parquet"); t1 = time.perf_counter()
profile = profile_partition(frame, numeric, categorical, points=points); t2 = time.perf_counter()
blob = window_to_bytes(profile)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"parse": t1 - t0, "profile": t2 - t1, "partial": len(blob), "rows": len(frame),
                  "frame": int(frame.memory_usage(deep=True).sum()), "peak_kib": peak, "base_kib": base}))
"""


@dataclass
class ObjectFigures:
    rows: int
    file_bytes: int
    frame_bytes: int
    parse_s: float
    profile_s: float
    partial_bytes: int
    peak_bytes: int  # the process's peak resident set while parsing and profiling one object
    base_bytes: int  # its resident set before, with the libraries imported
    merge_s_per_partial: float

    def memory_for(self, size: float) -> float:
        """Bytes a process needs to parse and profile ``size`` bytes of Parquet at once (the measured peak, scaled)."""
        return self.base_bytes + (self.peak_bytes - self.base_bytes) * size / self.file_bytes

    @property
    def seconds_per_gib(self) -> float:
        return (self.parse_s + self.profile_s) * GiB / self.file_bytes


def measure_object(rows: int, points: int, merge_parts: int, path: str) -> ObjectFigures:
    from retrain.drift import merge_profiles, profile_partition

    frame = make_log(rows, 0)
    data = parquet_bytes(frame)
    with open(path, "wb") as handle:
        handle.write(data)
    out = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(NUMERIC), json.dumps(CATEGORICAL), str(points), path],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(out.stdout)
    # The reduce step's work per partial: merging partials of separate objects (different seeds).
    partials = [
        profile_partition(make_log(rows, seed), NUMERIC, CATEGORICAL, points=points, index=seed)
        for seed in range(1, merge_parts + 1)
    ]
    started = time.perf_counter()
    merge_profiles(partials)
    merge_s = (time.perf_counter() - started) / merge_parts
    return ObjectFigures(
        rows=figures["rows"],
        file_bytes=len(data),
        frame_bytes=figures["frame"],
        parse_s=figures["parse"],
        profile_s=figures["profile"],
        partial_bytes=figures["partial"],
        peak_bytes=figures["peak_kib"] * 1024,
        base_bytes=figures["base_kib"] * 1024,
        merge_s_per_partial=merge_s,
    )


def measure_fit(rows: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = make_log(rows, 7)
    x = frame[NUMERIC].to_numpy()
    y = (x[:, 1] + np.random.default_rng(7).normal(size=rows) > 1).astype(int)
    started = time.perf_counter()
    HistGradientBoostingClassifier(random_state=0).fit(x, y)
    return time.perf_counter() - started


# ------------------------------------------------------------------ the cost model
def table(args: argparse.Namespace, obj: ObjectFigures, fit_s_per_row: float) -> None:
    object_bytes = args.object_mib * MiB
    needed = obj.memory_for(object_bytes)
    worker_gb = args.worker_gb
    rows_per_byte = obj.rows / obj.file_bytes
    # The Snapshot step reads the labelled training window in one function: the rows it can hold bound training.
    per_row = (obj.peak_bytes - obj.base_bytes) / obj.rows
    train_cap = (args.snapshot_gb * 1e9 - obj.base_bytes) / per_row
    print(
        f"\nassumptions: objects of {args.object_mib} MiB, batches of {args.batch_mib} MiB "
        f"({max(1, args.batch_mib // args.object_mib)} objects), worker memory {worker_gb:.3f} GB (the template's; "
        f"one object peaks at {needed / GiB:.2f} GiB), training on {args.train_share:.0%} of the "
        f"window's rows, at most {train_cap:,.0f} (what a {args.snapshot_gb} GB Snapshot function holds at "
        f"{per_row:,.0f} B/row), on {args.instance}, one thread; judge at {args.judge_gb} GB"
    )
    print(
        f"prices (us-east-1, read 2026-12-01): Lambda ${args.lambda_gb_second}/GB-s + ${args.lambda_request}/request, "
        f"Step Functions ${args.transition}/transition, S3 GET ${args.s3_get}/1k, PUT/LIST ${args.s3_put}/1k, "
        f"SageMaker {args.instance} ${args.instance_price}/h"
    )
    header = (
        f"{'window':>7} {'rows':>9} {'objects':>7} {'iters':>6} {'worker GB-s':>11} {'judge s':>8} "
        f"{'transitions':>11} {'S3 req':>7} {'fit h':>7} {'$ drift':>8} {'$ train':>8} {'$ run':>8}  "
        "one Lambda would need"
    )
    print(header)
    for label, size in (("1 GB", GiB), ("100 GB", 100 * GiB), ("1 TB", 1024 * GiB)):
        objects = math.ceil(size / object_bytes)
        per_batch = max(1, args.batch_mib // args.object_mib)
        iterations = math.ceil(objects / per_batch)
        worker_s = size / GiB * obj.seconds_per_gib
        worker_gbs = worker_s * worker_gb
        judge_s = iterations * obj.merge_s_per_partial + iterations * obj.partial_bytes / (args.s3_mib_s * MiB)
        transitions = RUN_TRANSITIONS + iterations * ITERATION_TRANSITIONS
        s3_requests = objects + 2 * iterations + 4
        rows = size * rows_per_byte
        fit_h = min(rows * args.train_share, train_cap) * fit_s_per_row / 3600
        lambda_usd = (worker_gbs + judge_s * args.judge_gb) * args.lambda_gb_second + iterations * args.lambda_request
        drift_usd = (
            lambda_usd
            + transitions * args.transition
            + objects * args.s3_get / 1000
            + 2 * iterations * args.s3_put / 1000
        )
        train_usd = max(fit_h, 1 / 60) * args.instance_price  # SageMaker bills at least one minute
        print(
            f"{label:>7} {rows:9.2e} {objects:7d} {iterations:6d} {worker_gbs:11.0f} {judge_s:8.0f} "
            f"{transitions:11d} {s3_requests:7d} {fit_h:7.2f} {drift_usd:8.3f} {train_usd:8.2f} "
            f"{drift_usd + train_usd:8.2f}  {obj.memory_for(size) / GiB:.0f} GiB"
            + ("  (judge over 900 s: fewer points, or a second level of reduce)" if judge_s > 900 else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=150_000, help="rows of the measured object")
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--merge-parts", type=int, default=8)
    parser.add_argument("--fit-rows", type=int, default=100_000)
    parser.add_argument("--object-mib", type=int, default=128)
    parser.add_argument("--batch-mib", type=int, default=256)
    parser.add_argument("--train-share", type=float, default=0.1, help="share of the window's rows trained on")
    parser.add_argument("--worker-gb", type=float, default=2.048, help="DriftProfileFunction's MemorySize")
    parser.add_argument("--judge-gb", type=float, default=2.048, help="DriftCheckFunction's MemorySize")
    parser.add_argument("--snapshot-gb", type=float, default=10.24)
    parser.add_argument("--s3-mib-s", type=float, default=90.0, help="S3 read rate of one function, MiB/s")
    parser.add_argument("--lambda-gb-second", type=float, default=0.0000166667)
    parser.add_argument("--lambda-request", type=float, default=0.0000002)
    parser.add_argument("--transition", type=float, default=0.000025)
    parser.add_argument("--s3-get", type=float, default=0.0004)
    parser.add_argument("--s3-put", type=float, default=0.005)
    parser.add_argument("--instance", default="ml.m5.xlarge")
    parser.add_argument("--instance-price", type=float, default=0.23)
    args = parser.parse_args()
    print(machine())
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        obj = measure_object(args.rows, args.points, args.merge_parts, os.path.join(tmp, "object.parquet"))
    print(
        f"one object: {obj.rows:,} rows x {len(NUMERIC) + len(CATEGORICAL)} features, {obj.file_bytes / MiB:.1f} MiB "
        f"Parquet ({obj.file_bytes / obj.rows:.0f} B/row), {obj.frame_bytes / MiB:.0f} MiB in memory; "
        f"parse {obj.parse_s:.2f} s, profile {obj.profile_s:.2f} s ({obj.seconds_per_gib:.0f} s per GiB); "
        f"peak RSS {obj.peak_bytes / MiB:.0f} MiB; partial {obj.partial_bytes / MiB:.1f} MiB; "
        f"merge {obj.merge_s_per_partial:.2f} s per partial"
    )
    fit_s = measure_fit(args.fit_rows)
    print(f"fit: HistGradientBoostingClassifier on {args.fit_rows:,} rows x {len(NUMERIC)} features: {fit_s:.1f} s")
    table(args, obj, fit_s / args.fit_rows)


if __name__ == "__main__":
    main()
