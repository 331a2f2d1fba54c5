"""NannyML's CBPE and DLE on the data sets it ships: run with NannyML's OWN venv, never with .venv.

    /tmp/nannyml-venv/bin/python benchmarks/peers/nannyml_estimation.py CLASSIFICATION_CHUNK REGRESSION_CHUNK

Prints one JSON line: NannyML's version, the folder of its data files (the benchmark reads the same files), the
seconds each estimator took (fit and estimate), and per analysis chunk (in row order) CBPE's estimated accuracy
and ROC AUC on the synthetic car loan data and DLE's estimated MAE and RMSE on the synthetic car price data.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nannyml
import nannyml.datasets

CAR_LOAN_FEATURES = [
    "car_value",
    "salary_range",
    "debt_to_income_ratio",
    "loan_length",
    "repaid_loan_on_prev_car",
    "size_of_downpayment",
    "driver_tenure",
]
CAR_PRICE_FEATURES = ["car_age", "km_driven", "price_new", "accident_count", "door_count", "fuel", "transmission"]


def main() -> None:
    loan_chunk, price_chunk = int(sys.argv[1]), int(sys.argv[2])
    out: dict = {"version": nannyml.__version__, "data": str(Path(nannyml.datasets.__file__).parent / "data")}

    reference, analysis, _ = nannyml.load_synthetic_car_loan_dataset()
    started = time.perf_counter()
    cbpe = nannyml.CBPE(
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="repaid",
        timestamp_column_name="timestamp",
        metrics=["accuracy", "roc_auc"],
        chunk_size=loan_chunk,
        problem_type="classification_binary",
    )
    cbpe.fit(reference)
    frame = cbpe.estimate(analysis).filter(period="analysis").to_df()
    out["cbpe_seconds"] = time.perf_counter() - started
    out["cbpe"] = {m: [float(v) for v in frame[(m, "value")]] for m in ("accuracy", "roc_auc")}

    reference, analysis, _ = nannyml.load_synthetic_car_price_dataset()
    started = time.perf_counter()
    dle = nannyml.DLE(
        feature_column_names=CAR_PRICE_FEATURES,
        y_pred="y_pred",
        y_true="y_true",
        timestamp_column_name="timestamp",
        metrics=["mae", "rmse"],
        chunk_size=price_chunk,
        tune_hyperparameters=False,
    )
    dle.fit(reference)
    frame = dle.estimate(analysis).filter(period="analysis").to_df()
    out["dle_seconds"] = time.perf_counter() - started
    out["dle"] = {m: [float(v) for v in frame[(m, "value")]] for m in ("mae", "rmse")}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
