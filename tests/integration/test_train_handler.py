"""The Train handler: fit a candidate on the snapshot's train part, store it, register it with its lineage."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import scipy
import sklearn

from helpers import Deployment, call, invoke, run_input
from retrain import aws, registry
from retrain.demo import generate_churn
from retrain.errors import DataNotFound

pytestmark = pytest.mark.integration

WINDOW_END = datetime(2025, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Trained:
    event: dict
    snapshot: dict
    candidate: dict
    record: registry.ModelVersion


@pytest.fixture(scope="module")
def trained(module_churn: Deployment) -> Trained:
    """v1 is champion; a drifted window is snapshotted and a candidate trained on it."""
    module_churn.write_window(generate_churn(600, seed=51, drift=True), end=WINDOW_END)
    event = run_input(WINDOW_END)
    snapshot = call(module_churn.cloud, "snapshot", event)
    candidate = call(module_churn.cloud, "train", {**event, "snapshot": snapshot})
    record = registry.get_version(module_churn.settings.registry_table, "churn", candidate["version"])
    assert record is not None
    return Trained(event=event, snapshot=snapshot, candidate=candidate, record=record)


def test_the_candidate_is_registered_as_version_2_with_status_candidate(trained: Trained) -> None:
    assert trained.candidate["version"] == 2
    assert trained.candidate["registry_key"] == {"pk": "MODEL#churn", "sk": "VERSION#000002"}
    assert trained.record.version == 2
    assert trained.record.status == "candidate"


def test_the_artifact_is_stored_at_the_registered_uri_with_the_registered_sha256(trained: Trained) -> None:
    blob = aws.get_bytes(*aws.split_uri(trained.record.artifact_uri))

    assert trained.record.artifact_uri == trained.candidate["artifact_uri"]
    assert trained.record.artifact_uri.endswith("/models/churn/v2/model.skops")
    assert trained.record.sha256 == trained.candidate["sha256"] == hashlib.sha256(blob).hexdigest()
    assert trained.record.artifact_bytes == len(blob)


def test_the_record_names_the_snapshot_it_was_trained_on(trained: Trained) -> None:
    assert trained.record.snapshot_id == trained.snapshot["id"]
    assert trained.record.snapshot_manifest == trained.snapshot["manifest_uri"]
    assert trained.record.trained_rows == trained.candidate["trained_rows"] == trained.snapshot["train_rows"]


def test_the_record_names_the_config_by_its_digest(module_churn: Deployment, trained: Trained) -> None:
    assert trained.record.config_sha256 == module_churn.config.digest()
    assert trained.record.estimator == "HistGradientBoostingClassifier"


def test_the_record_pins_the_library_versions(trained: Trained) -> None:
    libraries = trained.record.libraries

    assert libraries is not None
    assert libraries["python"] == platform.python_version()
    assert libraries["scikit-learn"] == sklearn.__version__
    assert libraries["numpy"] == np.__version__
    assert libraries["pandas"] == pd.__version__
    assert libraries["scipy"] == scipy.__version__
    assert {"retrain", "skops"} <= set(libraries)


def test_the_record_names_the_trigger_and_execution_of_the_run(trained: Trained) -> None:
    run = trained.event["run"]

    assert (trained.record.trigger, trained.record.execution) == (run["trigger"], run["execution"])


def test_training_leaves_the_champion_alone(module_churn: Deployment, trained: Trained) -> None:
    champion = registry.get_champion(module_churn.settings.registry_table, "churn")

    assert champion is not None
    assert champion.version == 1


def test_a_snapshot_that_does_not_exist_is_data_not_found(module_churn: Deployment, trained: Trained) -> None:
    missing = {**trained.snapshot, "id": "0" * 64}

    response = invoke(module_churn.cloud, "train", {**trained.event, "snapshot": missing})

    assert response.error_type == DataNotFound.__name__
    assert "0" * 64 in response.error_message
