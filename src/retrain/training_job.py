"""Entry point of a SageMaker training job (``training.engine: sagemaker``).

The SageMaker scikit-learn framework image runs the training toolkit, which
unpacks the job's source dir (hyperparameter ``sagemaker_submit_directory``:
this package, the script ``train.py`` and a ``requirements.txt``), runs
``pip install -r requirements.txt`` and then the script (hyperparameter
``sagemaker_program``), which calls :func:`main`. The toolkit passes the
contract in the environment:

- ``SM_CHANNEL_SNAPSHOT``: the snapshot's files (``data.parquet``, ``manifest.json``);
- ``SM_CHANNEL_CONFIG``: the model's config (one ``.yaml`` file), as the run read it;
- ``SM_HPS`` (or ``/opt/ml/input/config/hyperparameters.json``): the hyperparameters,
  of which this reads ``model``;
- ``SM_MODEL_DIR``: where :func:`main` writes ``model.skops``, ``model-profile.npz`` and
  ``training.json``; SageMaker uploads the directory as ``<S3OutputPath>/<job>/output/model.tar.gz``;
- ``SM_OUTPUT_DIR``: where a failure is described in the file ``failure`` (its text becomes
  the job's ``FailureReason``; the toolkit keeps a failure file that exists).

The fitting is :func:`retrain.fitting.fit_snapshot`, as in the Train function.
Nothing here imports boto3 or powertools: the job has only the pinned
requirements.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retrain.errors import ArtifactIntegrityError, ConfigError, DataNotFound
from retrain.layout import ARTIFACT_FILE, MODEL_PROFILE_FILE

__all__ = ["ARTIFACT_FILE", "MODEL_PROFILE_FILE", "SUMMARY_FILE", "main", "train"]

#: What a job writes to ``SM_MODEL_DIR`` beside the model's files (:data:`ARTIFACT_FILE`, :data:`MODEL_PROFILE_FILE`).
SUMMARY_FILE = "training.json"
#: The job's input channels.
SNAPSHOT_CHANNEL = "snapshot"
CONFIG_CHANNEL = "config"
#: SageMaker keeps at most this many characters of a failure reason.
MAX_FAILURE_CHARS = 1024

_BASE = "/opt/ml"


def hyperparameters(environ: Mapping[str, str]) -> dict[str, Any]:
    """The job's hyperparameters: ``SM_HPS``, else ``input/config/hyperparameters.json`` (values JSON-decoded)."""
    if environ.get("SM_HPS"):
        found = json.loads(environ["SM_HPS"])
        return dict(found) if isinstance(found, dict) else {}
    path = Path(environ.get("SM_INPUT_CONFIG_DIR", f"{_BASE}/input/config")) / "hyperparameters.json"
    if not path.is_file():
        return {}
    decoded: dict[str, Any] = {}
    for key, value in json.loads(path.read_text()).items():
        try:
            decoded[key] = json.loads(value)
        except (TypeError, ValueError):
            decoded[key] = value
    return decoded


def _channel(environ: Mapping[str, str], name: str) -> Path:
    variable = f"SM_CHANNEL_{name.upper()}"
    path = Path(environ.get(variable, f"{_BASE}/input/data/{name}"))
    if not path.is_dir():
        raise DataNotFound(f"input channel {name!r} is missing: no directory {path} ({variable})")
    return path


def _read_snapshot(folder: Path) -> tuple[bytes, dict[str, Any]]:
    manifest_path, data_path = folder / "manifest.json", folder / "data.parquet"
    for path in (manifest_path, data_path):
        if not path.is_file():
            raise DataNotFound(f"input channel 'snapshot' has no {path.name} (files: {_listing(folder)})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactIntegrityError(f"the snapshot's manifest.json is not JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise ArtifactIntegrityError("the snapshot's manifest.json is not a JSON object")
    return data_path.read_bytes(), manifest


def _read_config_text(folder: Path) -> tuple[str, Path]:
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in {".yaml", ".yml"})
    if len(found) != 1:
        raise ConfigError(
            f"input channel 'config' must hold one .yaml file, found {len(found)} (files: {_listing(folder)})"
        )
    return found[0].read_text(), found[0]


def _listing(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    return ", ".join(names) if names else "none"


def train(environ: Mapping[str, str]) -> dict[str, Any]:
    """Fit the candidate the channels describe and write its files to ``SM_MODEL_DIR``; returns ``training.json``.

    Raises
    ------
    DataNotFound
        A channel, or a snapshot file, is missing.
    ConfigError
        The config is not one valid model config, or names another model than the ``model`` hyperparameter.
    ArtifactIntegrityError
        The snapshot's data differs from its manifest.
    SchemaMismatch, InsufficientData, EstimatorNotAllowed
        As the Train function raises them for the same snapshot and config.
    """
    from retrain import fitting
    from retrain.config import loads_config

    text, config_path = _read_config_text(_channel(environ, CONFIG_CHANNEL))
    config = loads_config(text, source=f"input channel 'config' ({config_path.name})")
    expected = hyperparameters(environ).get("model")
    if expected is not None and expected != config.model:
        raise ConfigError(f"the config is for model {config.model!r}, the job trains model {expected!r}")
    data, manifest = _read_snapshot(_channel(environ, SNAPSHOT_CHANNEL))
    frame = fitting.verified_frame(data, manifest, source=f"snapshot {str(manifest.get('id', '?'))[:12]}")
    fitted = fitting.fit_snapshot(config, frame, manifest)
    out = Path(environ.get("SM_MODEL_DIR", f"{_BASE}/model"))
    out.mkdir(parents=True, exist_ok=True)
    (out / ARTIFACT_FILE).write_bytes(fitted.artifact)
    (out / MODEL_PROFILE_FILE).write_bytes(fitted.profile)
    (out / SUMMARY_FILE).write_bytes(fitting.summary_bytes(fitted))
    return fitted.summary()


def failure_reason(exc: BaseException) -> str:
    """The job's ``FailureReason``: the error's type and message, at most :data:`MAX_FAILURE_CHARS` characters."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_FAILURE_CHARS else text[: MAX_FAILURE_CHARS - 1] + "…"


def write_failure(environ: Mapping[str, str], reason: str) -> Path:
    """Write ``failure`` in ``SM_OUTPUT_DIR`` (kept if one exists already, as the toolkit does)."""
    folder = Path(environ.get("SM_OUTPUT_DIR", f"{_BASE}/output"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "failure"
    if not path.exists():
        path.write_text(reason)
    return path


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the job; 0 when the model's files are written, 1 (and a ``failure`` file) otherwise."""
    env = os.environ if environ is None else environ
    try:
        summary = train(env)
    except Exception as exc:  # every failure must reach the job's FailureReason
        reason = failure_reason(exc)
        write_failure(env, reason)
        print(reason, file=sys.stderr)
        return 1
    print(json.dumps({"trained": {k: summary[k] for k in ("sha256", "trained_rows", "training_seconds")}}))
    return 0
