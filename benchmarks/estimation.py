"""Label-free estimates against realized performance, beside NannyML's, on the data sets NannyML ships.

    .venv/bin/python benchmarks/estimation.py

NannyML runs in its OWN venv (never .venv), default /tmp/nannyml-venv, or $NANNYML_PYTHON:

    python3.12 -m venv /tmp/nannyml-venv
    /tmp/nannyml-venv/bin/pip install "nannyml==0.13.1" "pandas<3" statsmodels

Its data sets come with it, so without that venv the benchmark is skipped, saying why.

1. Classification, NannyML's synthetic car loan data: the probabilities it ships for a reference period (with
   targets) and an analysis period split into chunks of 5,000 rows (targets apart). Realized accuracy and ROC AUC
   per chunk from the targets; estimated by NannyML's CBPE (which calibrates on the reference), by
   ``retrain.metrics.estimate_performance`` on the raw probabilities, and by it on probabilities calibrated with
   ``retrain.metrics.fit_calibration`` fit on the reference (as Train fits it on the snapshot's holdout).
2. Regression, NannyML's synthetic car price data: the predictions it ships, chunks of 6,000 rows. Realized MAE
   and RMSE per chunk; estimated by NannyML's DLE (LightGBM, no tuning) and by ``retrain.metrics.fit_loss_model``
   fit on the reference and ``estimate_losses`` on each chunk.

Prints, per metric, the mean absolute error of each estimate against the realized values over the chunks (lower is
better), the error of simply expecting the reference's value (what an estimate must beat to be worth anything),
and the seconds each side took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine

from retrain.metrics import (
    estimate_losses,
    estimate_performance,
    fit_calibration,
    fit_loss_model,
    realized_performance,
)

HERE = Path(__file__).resolve().parent
NANNYML_PYTHON = Path(os.environ.get("NANNYML_PYTHON", "/tmp/nannyml-venv/bin/python"))
CAR_PRICE_NUMERIC = ["car_age", "km_driven", "price_new", "accident_count", "door_count"]
CAR_PRICE_CATEGORICAL = ["fuel", "transmission"]


def nannyml(loan_chunk: int, price_chunk: int) -> dict | str:
    """NannyML's estimates per chunk (run in its own venv), or why it was skipped."""
    if not NANNYML_PYTHON.exists():
        return f"skipped: NannyML's venv not found at {NANNYML_PYTHON.parent.parent} (see this file's docstring)"
    done = subprocess.run(
        [str(NANNYML_PYTHON), str(HERE / "peers" / "nannyml_estimation.py"), str(loan_chunk), str(price_chunk)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"},
    )
    if done.returncode != 0:
        return f"skipped: NannyML failed: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def chunks(n: int, size: int) -> list[slice]:
    """NannyML's size-based chunks: consecutive rows, the last short one dropped."""
    return [slice(start, start + size) for start in range(0, n - size + 1, size)]


def mae(estimates: list[float], realized: list[float]) -> float:
    return float(np.mean(np.abs(np.asarray(estimates) - np.asarray(realized))))


def classification(data: Path, peer: dict, size: int) -> None:
    reference = pd.read_csv(data / "synthetic_car_loan_reference.csv")
    analysis = pd.read_csv(data / "synthetic_car_loan_analysis.csv").merge(
        pd.read_csv(data / "synthetic_car_loan_analysis_target.csv"), on="id", how="left", validate="one_to_one"
    )

    def matrix(frame: pd.DataFrame) -> np.ndarray:
        p = frame["y_pred_proba"].to_numpy(dtype=np.float64)
        return np.column_stack([1 - p, p])

    started = time.perf_counter()
    calibration = fit_calibration(reference["repaid"].to_numpy(), matrix(reference), [0, 1])
    fit_seconds = time.perf_counter() - started
    metrics = ("accuracy", "roc_auc")
    realized: dict[str, list[float]] = {m: [] for m in metrics}
    raw: dict[str, list[float]] = {m: [] for m in metrics}
    ours: dict[str, list[float]] = {m: [] for m in metrics}
    seconds = 0.0
    for part in chunks(len(analysis), size):
        chunk = analysis.iloc[part]
        y_pred, proba = chunk["y_pred"].to_numpy(), matrix(chunk)
        truth = realized_performance(
            "classification", chunk["repaid"].to_numpy(), y_pred, proba=proba, classes=[0, 1], resamples=1
        )
        started = time.perf_counter()
        calibrated = estimate_performance(y_pred, calibration.apply(proba), [0, 1], resamples=1)
        seconds += time.perf_counter() - started
        uncalibrated = estimate_performance(y_pred, proba, [0, 1], resamples=1)
        for m in metrics:
            realized[m].append(truth.values[m])
            raw[m].append(uncalibrated.values[m])
            ours[m].append(calibrated.values[m])
    baseline = realized_performance(
        "classification",
        reference["repaid"].to_numpy(),
        reference["y_pred"].to_numpy(),
        proba=matrix(reference),
        classes=[0, 1],
        resamples=1,
    ).values
    n = len(realized["accuracy"])
    print(f"\n== Classification: NannyML's synthetic car loan data, {n} analysis chunks of {size:,} rows")
    print(f"  calibration fit on the {len(reference):,} reference rows: {calibration.method} ({calibration.reason})")
    print(f"  {'estimate':<52} {'accuracy MAE':>13} {'ROC AUC MAE':>12}")
    rows = [
        ("reference value (no estimate)", {m: [baseline[m]] * n for m in metrics}),
        ("retrain CBPE, raw probabilities", raw),
        (f"retrain CBPE, calibrated ({calibration.method})", ours),
    ]
    if isinstance(peer, dict):
        rows.append((f"NannyML {peer['version']} CBPE", peer["cbpe"]))
    for label, values in rows:
        print(
            f"  {label:<52} {mae(values['accuracy'], realized['accuracy']):>13.5f} "
            f"{mae(values['roc_auc'], realized['roc_auc']):>12.5f}"
        )
    if isinstance(peer, dict):
        ratio = {m: mae(ours[m], realized[m]) / mae(peer["cbpe"][m], realized[m]) for m in metrics}
        print(
            f"  calibrated retrain / NannyML error: accuracy {ratio['accuracy']:.2f}x, ROC AUC {ratio['roc_auc']:.2f}x"
        )
        print(
            f"  seconds: retrain fit {fit_seconds:.3f} + estimate {seconds:.3f} (point estimates); "
            f"NannyML fit + estimate {peer['cbpe_seconds']:.3f}"
        )


def regression(data: Path, peer: dict, size: int, seed: int) -> None:
    reference = pd.read_csv(data / "regression_synthetic_reference.csv")
    analysis = pd.read_csv(data / "regression_synthetic_analysis.csv").merge(
        pd.read_csv(data / "regression_synthetic_analysis_targets.csv"), on="id", how="left", validate="one_to_one"
    )
    features = CAR_PRICE_NUMERIC + CAR_PRICE_CATEGORICAL
    started = time.perf_counter()
    model = fit_loss_model(
        reference[features],
        reference["y_pred"].to_numpy(),
        reference["y_true"].to_numpy(),
        numeric=CAR_PRICE_NUMERIC,
        categorical=CAR_PRICE_CATEGORICAL,
        seed=seed,
    )
    fit_seconds = time.perf_counter() - started
    if isinstance(model, str):
        print(f"\n== Regression: no loss model: {model}")
        return
    metrics = ("mae", "rmse")
    realized: dict[str, list[float]] = {m: [] for m in metrics}
    ours: dict[str, list[float]] = {m: [] for m in metrics}
    seconds = 0.0
    for part in chunks(len(analysis), size):
        chunk = analysis.iloc[part]
        truth = realized_performance("regression", chunk["y_true"].to_numpy(), chunk["y_pred"].to_numpy(), resamples=1)
        started = time.perf_counter()
        estimate = estimate_losses(model, chunk[features], chunk["y_pred"].to_numpy(), resamples=1)
        seconds += time.perf_counter() - started
        for m in metrics:
            realized[m].append(truth.values[m])
            ours[m].append(estimate.values[m])
    baseline = realized_performance(
        "regression", reference["y_true"].to_numpy(), reference["y_pred"].to_numpy(), resamples=1
    ).values
    n = len(realized["mae"])
    print(f"\n== Regression: NannyML's synthetic car price data, {n} analysis chunks of {size:,} rows")
    print(f"  loss model fit on the {len(reference):,} reference rows ({model.reason})")
    print(
        f"  realized MAE per chunk {min(realized['mae']):.1f} to {max(realized['mae']):.1f}, "
        f"RMSE {min(realized['rmse']):.1f} to {max(realized['rmse']):.1f}"
    )
    print(f"  {'estimate':<52} {'MAE MAE':>13} {'RMSE MAE':>12}")
    rows = [("reference value (no estimate)", {m: [baseline[m]] * n for m in metrics}), ("retrain DLE", ours)]
    if isinstance(peer, dict):
        rows.append((f"NannyML {peer['version']} DLE (LightGBM, no tuning)", peer["dle"]))
    for label, values in rows:
        print(
            f"  {label:<52} {mae(values['mae'], realized['mae']):>13.2f} {mae(values['rmse'], realized['rmse']):>12.2f}"
        )
    if isinstance(peer, dict):
        ratio = {m: mae(ours[m], realized[m]) / mae(peer["dle"][m], realized[m]) for m in metrics}
        print(f"  retrain / NannyML error: MAE {ratio['mae']:.2f}x, RMSE {ratio['rmse']:.2f}x")
        print(
            f"  seconds: retrain fit {fit_seconds:.3f} + estimate {seconds:.3f} (point estimates); "
            f"NannyML fit + estimate {peer['dle_seconds']:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loan-chunk", type=int, default=5000)
    parser.add_argument("--price-chunk", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine())
    peer = nannyml(args.loan_chunk, args.price_chunk)
    if isinstance(peer, str):
        print(f"estimation vs NannyML: {peer}")
        return
    data = Path(peer["data"])
    classification(data, peer, args.loan_chunk)
    regression(data, peer, args.price_chunk, args.seed)


if __name__ == "__main__":
    main()
