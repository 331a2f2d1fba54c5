"""A SageMaker training job's entry point, run as the training toolkit runs it, in a temporary /opt/ml.

The source dir is the one PrepareTrainingJob uploads (:func:`retrain.steps.training_job.build_sourcedir`),
unpacked; the program runs in a fresh process with the toolkit's environment and only the unpacked
source dir and site-packages on its path.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrain import fitting, training, training_job
from retrain.config import loads_config
from retrain.data import to_parquet_bytes
from retrain.demo import CONFIG, generate_churn
from retrain.steps.training_job import build_sourcedir

pytestmark = pytest.mark.integration

TEXT = CONFIG.read_text().replace("training:\n", "training:\n  engine: sagemaker\n")
HOLDOUT = 120


@dataclass
class Job:
    root: Path
    frame: pd.DataFrame
    manifest: dict

    @property
    def environ(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(self.root / "code"), sysconfig.get_paths()["purelib"]]),
            "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": "1",
            "SM_CHANNEL_SNAPSHOT": str(self.root / "input/data/snapshot"),
            "SM_CHANNEL_CONFIG": str(self.root / "input/data/config"),
            "SM_MODEL_DIR": str(self.root / "model"),
            "SM_OUTPUT_DIR": str(self.root / "output"),
            "SM_OUTPUT_DATA_DIR": str(self.root / "output/data"),
            "SM_HPS": json.dumps({"model": "churn", "sagemaker_program": "train.py"}),
        }

    def failure(self) -> str:
        return (self.root / "output" / "failure").read_text()


@pytest.fixture(scope="module")
def sourcedir() -> bytes:
    return build_sourcedir()


@pytest.fixture
def job(tmp_path: Path, sourcedir: bytes) -> Job:
    with tarfile.open(fileobj=io.BytesIO(sourcedir), mode="r:gz") as archive:
        archive.extractall(tmp_path / "code", filter="data")
    frame = generate_churn(600, seed=71)
    data = to_parquet_bytes(frame)
    manifest = {
        "id": "cd" * 32,
        "rows": len(frame),
        "files": {"data.parquet": {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}},
        "split": {"method": "order", "train_rows": len(frame) - HOLDOUT, "holdout_rows": HOLDOUT},
    }
    snapshot = tmp_path / "input/data/snapshot"
    snapshot.mkdir(parents=True)
    (snapshot / "data.parquet").write_bytes(data)
    (snapshot / "manifest.json").write_text(json.dumps(manifest))
    config = tmp_path / "input/data/config"
    config.mkdir(parents=True)
    (config / "config.yaml").write_text(TEXT)
    return Job(tmp_path, frame, manifest)


#: Runs the program as the toolkit does (``python train.py`` in the code dir), recording what it imported.
WRAPPER = """
import atexit, json, sys
OUT = sys.argv[1]
def record():
    with open(OUT, "w") as out:
        json.dump({"modules": sorted(sys.modules), "retrain": sys.modules["retrain"].__file__}, out)
atexit.register(record)
sys.argv = ["train.py"]
exec(compile(open("train.py").read(), "train.py", "exec"))
"""


def _run_program(job: Job) -> tuple[subprocess.CompletedProcess[str], dict]:
    record = job.root / "imports.json"
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(record)],
        cwd=job.root / "code",
        env=job.environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done, json.loads(record.read_text())


def test_the_job_writes_the_model_its_profile_and_training_json(job: Job) -> None:
    # When the program runs on the channels
    done, imported = _run_program(job)

    # Then it succeeds and writes the three files, training.json recording the files' hashes
    assert done.returncode == 0, done.stderr
    model_dir = job.root / "model"
    assert sorted(p.name for p in model_dir.iterdir()) == ["model-profile.npz", "model.skops", "training.json"]
    summary = json.loads((model_dir / "training.json").read_text())
    assert summary["sha256"] == hashlib.sha256((model_dir / "model.skops").read_bytes()).hexdigest()
    assert summary["profile_sha256"] == hashlib.sha256((model_dir / "model-profile.npz").read_bytes()).hexdigest()
    assert summary["trained_rows"] == len(job.frame) - HOLDOUT
    assert summary["libraries"]["scikit-learn"] == metadata.version("scikit-learn")
    # And it ran the unpacked source dir's package, not this checkout's
    assert Path(imported["retrain"]).is_relative_to(job.root / "code")


def test_the_job_predicts_as_the_train_functions_fit_of_the_same_snapshot(job: Job) -> None:
    done, _ = _run_program(job)
    assert done.returncode == 0, done.stderr

    config = loads_config(TEXT)
    here = fitting.fit_snapshot(config, job.frame, job.manifest)
    theirs = training.loads((job.root / "model" / "model.skops").read_bytes())
    mine = training.loads(here.artifact)
    holdout = training.feature_frame(fitting.split(job.frame, job.manifest)[1], config)

    assert np.array_equal(theirs.predict(holdout), mine.predict(holdout))
    assert np.array_equal(theirs.predict_proba(holdout), mine.predict_proba(holdout))
    summary = json.loads((job.root / "model" / "training.json").read_text())
    assert summary["importances"] == here.importances


#: Imported only because they are installed here: numpy.f2py tries charset_normalizer, and scikit-learn's
#: testing helpers (which skops' trusted-type discovery imports) import pytest when it is there.
OPTIONAL = {"charset-normalizer", "pytest"}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _with_dependencies(names: set[str]) -> set[str]:
    """``names`` and what pip installs with them (their dependencies, recursively, without extras)."""
    found, todo = set(), [_normalized(n) for n in names]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" not in requirement:
                todo.append(_normalized(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0]))
    return found


def test_the_job_imports_no_aws_sdk_and_only_what_its_requirements_pin(job: Job) -> None:
    done, imported = _run_program(job)
    assert done.returncode == 0, done.stderr

    top = {name.split(".")[0] for name in imported["modules"]}
    assert not top & {"boto3", "botocore", "aws_lambda_powertools", "aws_xray_sdk", "moto"}
    requirements = (job.root / "code" / "requirements.txt").read_text().split()
    pinned = {line.split("==")[0] for line in requirements}
    allowed = _with_dependencies(pinned | OPTIONAL)
    providers = metadata.packages_distributions()
    third_party = top - set(sys.stdlib_module_names) - {"retrain", "__main__", "_distutils_hack"}
    used = {_normalized(dist): module for module in third_party for dist in providers.get(module, [])}
    assert {"numpy", "pandas", "scipy", "scikit-learn", "skops", "pydantic", "pyyaml"} <= set(used)
    assert {dist: module for dist, module in used.items() if dist not in allowed} == {}


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (
            lambda job: (job.root / "input/data/snapshot/manifest.json").unlink(),
            r"^DataNotFound: input channel 'snapshot' has no manifest.json \(files: data.parquet\)",
        ),
        (
            lambda job: (job.root / "input/data/snapshot/manifest.json").write_text("{"),
            r"^ArtifactIntegrityError: the snapshot's manifest.json is not JSON",
        ),
        (
            lambda job: (job.root / "input/data/snapshot/data.parquet").write_bytes(b"PAR1 tampered"),
            r"^ArtifactIntegrityError: snapshot cdcdcdcdcdcd: data sha256 mismatch",
        ),
        (
            lambda job: (job.root / "input/data/config/config.yaml").write_text("model: [unclosed"),
            r"^ConfigError: input channel 'config' \(config.yaml\): not valid YAML",
        ),
        (
            lambda job: (job.root / "input/data/config/config.yaml").unlink(),
            r"^ConfigError: input channel 'config' must hold one .yaml file, found 0",
        ),
        (
            lambda job: (job.root / "input/data/config/config.yaml").write_text(
                TEXT.replace("target: churned", "target: left")
            ),
            r"^SchemaMismatch: training data is missing target column 'left'",
        ),
    ],
    ids=["no manifest", "manifest not json", "tampered data", "bad yaml", "no config", "config names a missing column"],
)
def test_a_snapshot_or_config_the_job_cannot_use_fails_it_naming_the_problem(job: Job, damage, reason: str) -> None:
    # Given a damaged channel
    damage(job)

    # When the job runs
    code = training_job.main(job.environ)

    # Then it fails, its failure file (the job's FailureReason) naming the problem, and writes no model
    assert code == 1
    assert re.search(reason, job.failure()), job.failure()
    assert not (job.root / "model" / "model.skops").exists()


def test_a_job_for_another_model_is_refused(job: Job) -> None:
    environ = {**job.environ, "SM_HPS": json.dumps({"model": "fraud"})}

    assert training_job.main(environ) == 1
    assert job.failure() == "ConfigError: the config is for model 'churn', the job trains model 'fraud'"


def test_a_missing_channel_is_named(job: Job) -> None:
    environ = {**job.environ, "SM_CHANNEL_SNAPSHOT": str(job.root / "nowhere")}

    assert training_job.main(environ) == 1
    assert job.failure().startswith("DataNotFound: input channel 'snapshot' is missing")


def test_hyperparameters_are_read_from_the_config_file_without_sm_hps(tmp_path: Path) -> None:
    (tmp_path / "hyperparameters.json").write_text(json.dumps({"model": '"churn"', "plain": "text", "n": "3"}))

    found = training_job.hyperparameters({"SM_INPUT_CONFIG_DIR": str(tmp_path)})

    assert found == {"model": "churn", "plain": "text", "n": 3}


def test_a_long_failure_is_cut_to_what_sagemaker_keeps() -> None:
    reason = training_job.failure_reason(ValueError("x" * 5000))

    assert len(reason) == training_job.MAX_FAILURE_CHARS
    assert reason.startswith("ValueError: xxx")
