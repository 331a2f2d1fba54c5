"""The Validate handler: the candidate's gates, and the candidate against the champion on one holdout."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from helpers import Deployment, call, invoke, load_model, run_input
from retrain import aws, registry
from retrain.config import loads_config
from retrain.demo import generate_churn
from retrain.errors import ArtifactIntegrityError
from retrain.lifecycle import deploy_config

pytestmark = pytest.mark.integration

WINDOW_END = datetime(2025, 4, 1, tzinfo=UTC)
#: HistGradientBoosting with one tiny step: it predicts the majority class for every row.
UNDERFIT = ("params: {max_iter: 100, learning_rate: 0.1}", "params: {max_iter: 1, learning_rate: 0.01}")


@dataclass(frozen=True)
class Retrain:
    """A run past its checks: the drifted window snapshotted, ready to train candidates on."""

    deployment: Deployment
    event: dict
    snapshot: dict

    def train(self) -> dict:
        return call(self.deployment.cloud, "train", {**self.event, "snapshot": self.snapshot})

    def validate_input(self, candidate: dict) -> dict:
        return {**self.event, "snapshot": self.snapshot, "candidate": candidate}

    def holdout(self) -> pd.DataFrame:
        """The snapshot's last ``holdout_rows`` rows."""
        frame = pd.read_parquet(io.BytesIO(aws.get_bytes(*aws.split_uri(self.snapshot["uri"]))))
        return frame.iloc[len(frame) - self.snapshot["holdout_rows"] :]


@pytest.fixture(scope="module")
def retrain(module_churn: Deployment) -> Retrain:
    module_churn.write_window(generate_churn(1000, seed=7, drift=True), end=WINDOW_END)
    event = run_input(WINDOW_END)
    return Retrain(module_churn, event, call(module_churn.cloud, "snapshot", event))


@pytest.fixture(scope="module")
def good(retrain: Retrain) -> tuple[dict, dict]:
    """A candidate trained by the model's config on the drifted window, and its validation."""
    candidate = retrain.train()
    return candidate, call(retrain.deployment.cloud, "validate", retrain.validate_input(candidate))


@pytest.fixture(scope="module")
def underfit(retrain: Retrain) -> tuple[dict, dict]:
    """A candidate trained while the deployed config underfit, and its validation (under the real config)."""
    deployment = retrain.deployment
    text = deployment.text.replace(*UNDERFIT)
    assert text != deployment.text
    deploy_config(deployment.settings, loads_config(text), text)
    try:
        candidate = retrain.train()
    finally:
        deploy_config(deployment.settings, deployment.config, deployment.text)
    return candidate, call(deployment.cloud, "validate", retrain.validate_input(candidate))


def test_a_better_candidate_passes_every_gate(good: tuple[dict, dict]) -> None:
    _, validation = good

    assert validation["passed"] is True
    assert {gate["name"]: gate["passed"] for gate in validation["gates"]} == {
        "prediction sanity": True,
        "min accuracy": True,
        "vs champion": True,
    }
    assert validation["reasons"] == []
    assert validation["champion_version"] == 1


def test_candidate_and_champion_are_scored_on_the_snapshots_holdout(retrain: Retrain, good: tuple[dict, dict]) -> None:
    # Given the holdout (the last rows of the snapshot) and both models
    candidate, validation = good
    holdout = retrain.holdout()
    features = holdout[retrain.deployment.config.features.all]
    challenger = load_model(candidate["artifact_uri"], candidate["sha256"])

    # Then the reported accuracies are scikit-learn's on that holdout
    assert validation["n_holdout"] == len(holdout) == retrain.snapshot["holdout_rows"]
    assert validation["candidate_metrics"]["accuracy"] == pytest.approx(
        accuracy_score(holdout["churned"], challenger.predict(features))
    )
    assert validation["champion_metrics"]["accuracy"] == pytest.approx(
        accuracy_score(holdout["churned"], retrain.deployment.model.predict(features))
    )


def test_the_outcome_is_recorded_on_the_candidates_version(retrain: Retrain, good: tuple[dict, dict]) -> None:
    candidate, validation = good

    record = registry.get_version(retrain.deployment.settings.registry_table, "churn", candidate["version"])

    assert record is not None
    assert record["metrics"] == pytest.approx(validation["candidate_metrics"])
    assert [gate["name"] for gate in record["gates"]] == [gate["name"] for gate in validation["gates"]]
    assert record["compared_with"] == 1
    assert record["status"] == "candidate"


def test_a_worse_candidate_fails_with_a_reason_per_failed_gate(underfit: tuple[dict, dict]) -> None:
    _, validation = underfit

    assert validation["passed"] is False
    assert {gate["name"]: gate["passed"] for gate in validation["gates"]} == {
        "prediction sanity": True,
        "min accuracy": False,
        "vs champion": False,
    }
    assert [reason.split(":")[0] for reason in validation["reasons"]] == ["min accuracy", "vs champion"]
    assert validation["reasons"][0].endswith("< 0.8000")


def test_a_tampered_artifact_is_artifact_integrity_error(retrain: Retrain) -> None:
    # Given a candidate whose stored artifact was overwritten after registration
    candidate = retrain.train()
    bucket, key = aws.split_uri(candidate["artifact_uri"])
    aws.put_bytes(bucket, key, b"not the model that was registered")

    # When
    response = invoke(retrain.deployment.cloud, "validate", retrain.validate_input(candidate))

    # Then
    assert response.error_type == ArtifactIntegrityError.__name__
    assert "sha256 mismatch" in response.error_message
