"""Light functions stay light: no science libraries on their import path (cold starts count)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
HEAVY = ("pandas", "numpy", "scipy", "sklearn", "skops", "pyarrow")
ENV = {
    "DATA_BUCKET": "d",
    "ARTIFACT_BUCKET": "a",
    "REGISTRY_TABLE": "t",
    "POWERTOOLS_SERVICE_NAME": "retrain",
    "POWERTOOLS_METRICS_NAMESPACE": "Retrain",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _modules_after_import(function: str) -> set[str]:
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('app', {str(ROOT / 'functions' / function / 'app.py')!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**ENV, "PATH": "", "PYTHONPATH": str(ROOT / "src")},
    )
    return set(json.loads(completed.stdout))


@pytest.mark.parametrize("function", ["normalize", "reconcile", "promote", "approval", "report"])
def test_a_light_function_imports_no_science_library(function):
    assert set(HEAVY) & _modules_after_import(function) == set()


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("retrain.frames", {"numpy", "pandas", "scipy", "sklearn", "pyarrow"}),
        ("retrain.metrics.calibration", {"scipy", "sklearn"}),
        ("retrain.metrics.loss", {"scipy", "sklearn"}),
    ],
)
def test_a_library_module_imports_only_what_its_readers_need(module: str, absent: set[str]) -> None:
    # The label-free estimators are applied by the metric check with numpy alone; frames is read by light code
    code = f"import json, sys, {module}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "PYTHONPATH": str(ROOT / "src")},
    )
    assert absent & set(json.loads(completed.stdout)) == set()


def test_the_metric_check_does_not_import_scikit_learn():
    assert "sklearn" not in _modules_after_import("metric_check")
