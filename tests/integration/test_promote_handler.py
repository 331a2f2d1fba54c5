"""The Promote handler: the champion pointer moves to a validated candidate, atomically, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from helpers import Deployment, call, invoke, run_input
from retrain import registry
from retrain.demo import generate_churn
from retrain.errors import PromotionConflict

pytestmark = pytest.mark.integration

WINDOW_END = datetime(2025, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Validated:
    """A run at the Promote state: candidate v2 validated against champion v1 on the run's snapshot."""

    input: dict
    snapshot: dict

    @property
    def candidate(self) -> dict:
        return self.input["candidate"]


@pytest.fixture
def validated(deployed_churn: Deployment) -> Validated:
    cloud = deployed_churn.cloud
    deployed_churn.write_window(generate_churn(600, seed=61, drift=True), end=WINDOW_END)
    event = run_input(WINDOW_END)
    snapshot = call(cloud, "snapshot", event)
    candidate = call(cloud, "train", {**event, "snapshot": snapshot})
    validation = call(cloud, "validate", {**event, "snapshot": snapshot, "candidate": candidate})
    assert validation["passed"] is True
    assert validation["champion_version"] == 1
    return Validated(input={**event, "candidate": candidate, "validation": validation}, snapshot=snapshot)


def _statuses(deployment: Deployment) -> dict[int, str]:
    return {v.version: v.status for v in registry.list_versions(deployment.settings.registry_table, "churn")}


def _champion(deployment: Deployment) -> int:
    champion = registry.require_champion(deployment.settings.registry_table, "churn")
    return champion.version


def test_promotion_moves_the_champion_pointer_to_the_candidate_and_archives_the_old_one(
    deployed_churn: Deployment, validated: Validated
) -> None:
    candidate = validated.candidate

    promotion = call(deployed_churn.cloud, "promote", validated.input)

    assert promotion == {
        "champion_version": 2,
        "previous_version": 1,
        "artifact_uri": candidate["artifact_uri"],
        "sha256": candidate["sha256"],
    }
    pointer = registry.require_champion(deployed_churn.settings.registry_table, "churn")
    assert (pointer.version, pointer.artifact_uri, pointer.sha256) == (
        2,
        candidate["artifact_uri"],
        candidate["sha256"],
    )
    assert pointer.execution == validated.input["run"]["execution"]
    assert _statuses(deployed_churn) == {1: "archived", 2: "champion"}


def test_a_stale_expected_champion_is_promotion_conflict_and_changes_nothing(
    deployed_churn: Deployment, validated: Validated
) -> None:
    # Given another run promoted its own candidate v3 after v2 was validated against v1
    settings = deployed_churn.settings
    rival = call(deployed_churn.cloud, "train", {**run_input(WINDOW_END), "snapshot": validated.snapshot})
    registry.promote(settings.registry_table, "churn", rival["version"], expected=1, execution="rival-execution")
    before = registry.require_champion(settings.registry_table, "churn")

    # When v2 is promoted on the strength of its comparison with v1
    response = invoke(deployed_churn.cloud, "promote", validated.input)

    # Then it loses, and the registry is as the rival left it
    assert response.error_type == PromotionConflict.__name__
    assert "the champion pointer is v3, expected v1" in response.error_message
    assert registry.require_champion(settings.registry_table, "churn") == before
    assert _statuses(deployed_churn) == {1: "archived", 2: "candidate", 3: "champion"}


def test_a_candidate_that_did_not_pass_validation_is_refused(deployed_churn: Deployment, validated: Validated) -> None:
    rejected = {**validated.input, "validation": {**validated.input["validation"], "passed": False}}

    response = invoke(deployed_churn.cloud, "promote", rejected)

    assert response.error_type == PromotionConflict.__name__
    assert "did not pass validation" in response.error_message
    assert _champion(deployed_churn) == 1
    assert _statuses(deployed_churn) == {1: "champion", 2: "candidate"}


def test_a_version_whose_artifact_is_not_complete_cannot_be_promoted(deployed_churn: Deployment) -> None:
    # Given a version registered as ``training`` (its artifact not written yet)
    table = deployed_churn.settings.registry_table
    version = registry.next_version(table, "churn")
    registry.register_version(
        table, "churn", version, {"artifact_uri": "s3://a/models/churn/v2/model.skops"}, status="training"
    )
    before = registry.require_champion(table, "churn")

    # When it is promoted, Then it is refused as a conflict and the champion is unchanged
    with pytest.raises(PromotionConflict, match=r"churn v2 champion: it is training, its artifact is not complete"):
        registry.promote(table, "churn", version, expected=1, execution="early")
    assert registry.require_champion(table, "churn") == before
    assert _statuses(deployed_churn) == {1: "champion", 2: "training"}
