"""The Validate handler: the candidate's gates, and the candidate against the champion on one holdout."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from helpers import Deployment, Window, call, invoke, load_model, run_input
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
    window: Window

    def train(self) -> dict:
        """A candidate of its own execution (Train returns an execution's candidate again on a retry)."""
        run = {**self.event["run"], "execution": f"{self.event['run']['execution']}-{uuid.uuid4().hex[:8]}"}
        return call(self.deployment.cloud, "train", {**self.event, "run": run, "snapshot": self.snapshot})

    def validate_input(self, candidate: dict) -> dict:
        return {**self.event, "snapshot": self.snapshot, "candidate": candidate}

    def validate_under(self, candidate: dict, validation: str) -> dict:
        """Validate ``candidate`` while the deployed config's ``validation:`` block also holds ``validation``."""
        deployment = self.deployment
        assert deployment.text.rstrip().endswith("min: {accuracy: 0.8}"), "validation must be the config's last block"
        text = deployment.text.rstrip() + "\n" + validation
        deploy_config(deployment.settings, loads_config(text), text)
        try:
            return call(deployment.cloud, "validate", self.validate_input(candidate))
        finally:
            deploy_config(deployment.settings, deployment.config, deployment.text)

    def holdout(self) -> pd.DataFrame:
        """The snapshot's last ``holdout_rows`` rows."""
        frame = pd.read_parquet(io.BytesIO(aws.get_bytes(*aws.split_uri(self.snapshot["uri"]))))
        return frame.iloc[len(frame) - self.snapshot["holdout_rows"] :]


@pytest.fixture(scope="module")
def retrain(module_churn: Deployment) -> Retrain:
    window = module_churn.write_window(generate_churn(1000, seed=7, drift=True), end=WINDOW_END)
    event = run_input(WINDOW_END)
    return Retrain(module_churn, event, call(module_churn.cloud, "snapshot", event), window)


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
    assert record.metrics == pytest.approx(validation["candidate_metrics"])
    assert [gate["name"] for gate in record.gates or []] == [gate["name"] for gate in validation["gates"]]
    assert record.compared_with == 1
    assert record.status == "candidate"


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


#: Every optional gate, with limits the good candidate meets.
EVERY_GATE = """\
  slices: {columns: [contract, internet], max_drop: 0.2, min_size: 30}
  max_prediction_difference: 0.9
  max_latency_p95_ms: 10000
  max_artifact_bytes: 100000000
"""


@pytest.fixture(scope="module")
def gated(retrain: Retrain, good: tuple[dict, dict]) -> dict:
    """The good candidate validated under every optional gate."""
    candidate, _ = good
    return retrain.validate_under(candidate, EVERY_GATE)


def test_every_configured_gate_is_reported_in_order(gated: dict) -> None:
    assert [(gate["name"], gate["passed"]) for gate in gated["gates"]] == [
        ("prediction sanity", True),
        ("min accuracy", True),
        ("vs champion", True),
        ("slice contract", True),
        ("slice internet", True),
        ("prediction difference", True),
        ("latency p95", True),
        ("artifact size", True),
    ]
    assert gated["passed"] is True


def test_vs_champion_reports_the_difference_its_interval_and_delta(good: tuple[dict, dict]) -> None:
    _, validation = good

    vs = next(gate for gate in validation["gates"] if gate["name"] == "vs champion")

    difference = validation["candidate_metrics"]["accuracy"] - validation["champion_metrics"]["accuracy"]
    assert vs["value"] == pytest.approx(difference)
    assert 0 < vs["low"] < difference < vs["high"]
    assert vs["threshold"] == 0.0
    assert vs["info"]["delta"] == 0.0
    assert vs["info"]["mode"] == "not_worse"


def test_the_prediction_difference_is_measured_on_the_windows_inputs(retrain: Retrain, good: tuple[dict, dict]) -> None:
    # Given both models and the inference log production wrote for the window
    candidate, validation = good
    features = retrain.window.log[retrain.deployment.config.features.all]
    challenger = load_model(candidate["artifact_uri"], candidate["sha256"])

    # Then the reported rate is the share of logged inputs on which their predictions differ
    expected = np.mean(challenger.predict(features) != retrain.deployment.model.predict(features))
    assert validation["n_recent"] == len(retrain.window.log) == 1000
    assert validation["prediction_difference"] == pytest.approx(expected)
    assert 0 < expected < 1


def test_latency_and_artifact_size_are_reported_without_budgets(good: tuple[dict, dict]) -> None:
    candidate, validation = good

    size = len(aws.get_bytes(*aws.split_uri(candidate["artifact_uri"])))

    assert validation["artifact_bytes"] == size
    assert validation["latency_p95_ms"] > 0


def test_an_artifact_over_its_size_budget_is_rejected(retrain: Retrain, good: tuple[dict, dict]) -> None:
    candidate, validation = good

    rejected = retrain.validate_under(candidate, "  max_artifact_bytes: 1000\n")

    size = validation["artifact_bytes"]
    assert rejected["passed"] is False
    assert rejected["reasons"] == [f"artifact size: {size} bytes ({size / 2**20:.2f} MiB) > 1000 bytes"]
