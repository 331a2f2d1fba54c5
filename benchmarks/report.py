"""What a run's report costs: the drift check's distributions beside the check itself, and the page's size.

    .venv/bin/python benchmarks/report.py                # what `make bench` runs (1M current rows)
    .venv/bin/python benchmarks/report.py --rows 200000  # a quicker run

1. Time: the drift check (:func:`retrain.drift.detect_drift` on a stored profile) and the distributions the
   report draws (:func:`retrain.drift.distributions.distributions`) on the same window, 20 numeric and
   5 categorical features, with their ratio. Medians of --repeats runs in one process.
2. Size: the page (:func:`retrain.report_page.render`) of a report with 10, 100 and 300 features, each
   with its distributions, and that report's JSON.

Timings are printed, never asserted. Set OMP_NUM_THREADS=1 to compare with the figures in the README.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd
from _common import machine

from retrain.drift import build_profile, detect_drift
from retrain.drift.distributions import distributions
from retrain.report_page import render

CATEGORIES = list("abcdefghij")


def frames(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    rng = np.random.default_rng(seed)
    numeric = [f"n{i}" for i in range(20)]
    categorical = [f"c{i}" for i in range(5)]

    def frame(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                **{c: rng.normal(shift, 1.0, n) for c in numeric},
                **{c: rng.choice(CATEGORIES, n) for c in categorical},
            }
        )

    return frame(200_000, 0.0), frame(rows, 0.1), numeric, categorical


def timing(rows: int, repeats: int) -> None:
    reference, current, numeric, categorical = frames(rows)
    profile = build_profile(reference, numeric=numeric, categorical=categorical, sample_rows=0)
    checks, drawn = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        detect_drift(profile, current, numeric=numeric, categorical=categorical)
        checks.append(time.perf_counter() - started)
        started = time.perf_counter()
        distributions(profile, current, numeric + categorical)
        drawn.append(time.perf_counter() - started)
    check, draw = statistics.median(checks), statistics.median(drawn)
    print(f"{rows:,} current rows x 25 features, median of {repeats}:")
    print(f"  drift check     {check:6.2f} s")
    print(f"  distributions   {draw:6.2f} s  ({draw / check:.2f}x the check)")


def report_of(features: int, seed: int = 1) -> dict:
    """A promoted run's report with ``features`` drift results, each with its distributions."""
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({f"f{i}": rng.normal(size=5000) for i in range(features)})
    current = pd.DataFrame({f"f{i}": rng.normal(0.2, 1.0, size=2000) for i in range(features)})
    profile = build_profile(reference, numeric=list(reference), categorical=[], sample_rows=0)
    drift = detect_drift(profile, current, numeric=list(reference), categorical=[])
    details = drift.model_dump(mode="json")
    return {
        "outcome": "promoted",
        "model": "bench",
        "trigger": "schedule",
        "triggered": True,
        "reasons": [drift.reason or "drift"],
        "champion_version": 2,
        "checks": {"drift": {**details, "enabled": True}},
        "champion": {"version": 1, "metrics": {"accuracy": 0.71}},
        "candidate": {"version": 2, "metrics": {"accuracy": 0.85}},
        "gates": [],
        "distributions": distributions(profile, current, list(reference)),
    }


def sizes() -> None:
    print("report size (every feature with its distributions):")
    for features in (10, 100, 300):
        report = report_of(features)
        page = render(report).encode()
        body = json.dumps(report, indent=2).encode()
        html_kb, json_kb = len(page) / 1024, len(body) / 1024
        print(f"  {features:4d} features: report.html {html_kb:7.1f} KB, report.json {json_kb:7.1f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    timing(args.rows, args.repeats)
    sizes()


if __name__ == "__main__":
    main()
