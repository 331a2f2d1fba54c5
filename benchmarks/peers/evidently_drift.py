"""Evidently's DataDriftPreset on the benchmark's data: run with Evidently's OWN venv, never with .venv.

    /tmp/evidently-venv/bin/python benchmarks/peers/evidently_drift.py DATA_DIR REPEATS

DATA_DIR holds reference.parquet, current.parquet and columns.json ({"numeric": [...], "categorical": [...]}).
Prints one JSON line: Evidently's version, the seconds of each run (report run and result extraction; imports and
reading the files excluded) and the columns it found drifted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently import __version__ as evidently_version
from evidently.presets import DataDriftPreset


def main() -> None:
    folder, repeats = Path(sys.argv[1]), int(sys.argv[2])
    columns = json.loads((folder / "columns.json").read_text())
    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    definition = DataDefinition(numerical_columns=columns["numeric"], categorical_columns=columns["categorical"])
    seconds: list[float] = []
    result: dict = {}
    for _ in range(repeats):
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        result = snapshot.dict()
        seconds.append(time.perf_counter() - started)
    drifted = []
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = metric["value"], config["threshold"]
            # Distances drift above their threshold, p-value tests below it.
            method = str(config.get("method", ""))
            is_p_value = "p_value" in method or "test" in method.lower()
            if (value < threshold) if is_p_value else (value >= threshold):
                drifted.append(config["column"])
    print(json.dumps({"version": evidently_version, "seconds": seconds, "drifted": drifted}))


if __name__ == "__main__":
    main()
