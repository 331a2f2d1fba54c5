"""The layer recipe: pinned dependencies, the lineage that names them, and the size check of a build."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from retrain.local.runtime import pinned
from retrain.local.template import load_template
from retrain.steps.train import LIBRARIES, library_versions

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ROOT / "layers"


def _load_build():
    spec = importlib.util.spec_from_file_location("layers_build", LAYERS / "build.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()


def _requirements(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[=<>!~ ]", requirement, maxsplit=1)[0]).lower()


@pytest.mark.parametrize("layer", sorted(build.REQUIREMENTS))
def test_every_direct_dependency_is_pinned_to_the_lock(layer):
    for requirement in _requirements(build.REQUIREMENTS[layer]):
        name, sep, version = requirement.partition("==")
        assert sep, f"{layer}: {requirement!r} is not pinned with =="
        assert version == pinned(_name(name)), f"{layer}: {requirement} disagrees with layers/constraints.txt"


def test_the_dev_venv_runs_the_pinned_libraries_the_lineage_records():
    # Given the venv installed with -c layers/constraints.txt (make venv)
    # When a Train step records its libraries
    recorded = library_versions()

    # Then they are the versions a deployed function ships
    for library in LIBRARIES:
        assert recorded[library] == pinned(library), library


def test_every_layer_of_the_template_is_built_by_the_recipe():
    template = load_template(ROOT / "template.yaml")
    layers = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::LayerVersion"}
    assert layers
    makefile = (LAYERS / "Makefile").read_text()
    for logical_id, layer in layers.items():
        assert layer["Metadata"]["BuildMethod"] == "makefile", logical_id
        assert (ROOT / layer["Properties"]["ContentUri"] / "Makefile").exists(), logical_id
        assert f"build-{logical_id}" in makefile, logical_id
        assert logical_id in {**build.REQUIREMENTS, **build.LIBRARY}, logical_id


def _fake_build(root: Path, layer_bytes: int) -> Path:
    """A .aws-sam/build with one function on two layers; the science layer holds one sparse file."""
    (root / "Fn").mkdir(parents=True)
    (root / "Fn" / "app.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    for name, size in (("Core", 1_000_000), ("Science", layer_bytes)):
        (root / name / "python").mkdir(parents=True)
        with open(root / name / "python" / "blob.bin", "wb") as handle:
            handle.truncate(size)
    (root / "template.yaml").write_text(
        "Resources:\n"
        "  Core: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: Core}}\n"
        "  Science: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: Science}}\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: Fn, Handler: app.lambda_handler, Layers: [!Ref Core, !Ref Science]}\n"
    )
    return root


def test_size_sums_code_and_every_layer_and_passes_under_the_limit(tmp_path):
    lines: list[str] = []

    fits = build.measure(_fake_build(tmp_path, 200_000_000), write=lines.append)

    assert fits
    row = next(ln for ln in lines if ln.startswith("Fn "))
    assert "191.7" in row
    assert "ok" in row


def test_size_fails_a_function_over_lambdas_limit(tmp_path):
    lines: list[str] = []

    fits = build.measure(_fake_build(tmp_path, build.LIMIT_BYTES), write=lines.append)

    assert not fits
    assert "OVER LIMIT" in next(ln for ln in lines if ln.startswith("Fn "))


def test_size_without_a_build_says_to_run_make_build(tmp_path):
    done = subprocess.run(
        [sys.executable, str(LAYERS / "build.py"), "size", "--build-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line == f"build.py: {tmp_path}/template.yaml does not exist: run `make build` first"


def test_a_layer_build_by_another_python_says_so_in_one_line(tmp_path):
    other = "/usr/bin/python3"
    not_312 = "import sys; assert sys.version_info[:2] != (3, 12)"
    if not os.path.exists(other) or subprocess.run([other, "-c", not_312], check=False).returncode:
        pytest.skip("no python other than 3.12 at /usr/bin/python3")
    done = subprocess.run(
        [other, str(LAYERS / "build.py"), "layer", "CoreDepsLayer", "--into", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "must be built by python3.12" in line
    assert not (tmp_path / "python").exists()
