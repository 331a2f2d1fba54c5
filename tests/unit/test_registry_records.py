"""The registry's records: typed views of the table's items, which the items' format does not depend on."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from retrain import registry
from retrain.errors import ArtifactIntegrityError

pytestmark = pytest.mark.unit

#: A candidate's item as :func:`registry._from_item` gives it (Decimals already turned into int and float).
CANDIDATE_ITEM = {
    "pk": "MODEL#churn",
    "sk": "VERSION#000002",
    "model": "churn",
    "version": 2,
    "status": "candidate",
    "created_at": "2026-01-02T03:04:05+00:00",
    "artifact_uri": "s3://artifacts/models/churn/v2/model.skops",
    "snapshot_id": "ab" * 32,
    "config_sha256": "cd" * 32,
    "trigger": "schedule",
    "execution": "run-1",
    "trained_rows": 1600,
    "libraries": {"python": "3.12.1", "scikit-learn": "1.8.0"},
    "sha256": "ef" * 32,
    "metrics": {"accuracy": 0.91, "f1": 0.5},
    "gates": [{"name": "min accuracy", "passed": True}],
    "compared_with": 1,
}


def test_a_version_record_reads_every_attribute_of_its_item_but_the_key():
    # Given a version item, When it is read as a record
    record = registry.ModelVersion.from_item(CANDIDATE_ITEM)

    # Then its attributes are the item's, typed, and its fields are the item without pk and sk
    assert (record.version, record.status, record.trained_rows) == (2, "candidate", 1600)
    assert record.metrics == {"accuracy": 0.91, "f1": 0.5}
    assert record.fields() == {k: v for k, v in CANDIDATE_ITEM.items() if k not in ("pk", "sk")}


def test_an_attribute_the_record_does_not_name_is_kept():
    record = registry.ModelVersion.from_item({**CANDIDATE_ITEM, "note": "copied by hand"})

    assert record.fields()["note"] == "copied by hand"


def test_a_record_is_frozen():
    record = registry.ModelVersion.from_item(CANDIDATE_ITEM)

    with pytest.raises(ValidationError, match="frozen"):
        record.status = "champion"  # type: ignore[misc]


def test_an_unknown_status_is_refused():
    with pytest.raises(ValidationError, match="status"):
        registry.ModelVersion.from_item({**CANDIDATE_ITEM, "status": "deleted"})


def test_the_statuses_are_every_status_in_lifecycle_order():
    assert registry.STATUSES == ("training", "candidate", "rejected", "failed", "champion", "archived")
    assert set(registry.UNDECIDED) <= set(registry.STATUSES)


def test_a_training_version_has_no_artifact_sha256_to_load_with():
    training = {k: v for k, v in CANDIDATE_ITEM.items() if k not in ("sha256", "metrics", "gates", "compared_with")}
    record = registry.ModelVersion.from_item({**training, "status": "training"})

    with pytest.raises(ArtifactIntegrityError, match=r"churn v2 is training: it has no complete artifact"):
        _ = record.artifact_sha256


def test_a_completed_version_s_artifact_sha256_is_its_sha256():
    assert registry.ModelVersion.from_item(CANDIDATE_ITEM).artifact_sha256 == "ef" * 32


def test_the_rejection_reasons_are_the_stored_json_array():
    # Given reasons stored as the state machine's RecordRejection stores them (States.JsonToString)
    reasons = ["min accuracy: 0.61 < 0.7", "prediction sanity: constant"]
    record = registry.ModelVersion.from_item(
        {**CANDIDATE_ITEM, "status": "rejected", "reasons": json.dumps(reasons, separators=(",", ":"))}
    )

    assert record.rejection_reasons == reasons
    assert registry.ModelVersion.from_item(CANDIDATE_ITEM).rejection_reasons == []


def test_the_champion_pointer_reads_its_item():
    item = {
        "pk": "MODEL#churn",
        "sk": "CHAMPION",
        "model": "churn",
        "version": 2,
        "artifact_uri": "s3://artifacts/models/churn/v2/model.skops",
        "sha256": "ef" * 32,
        "snapshot_id": "ab" * 32,
        "promoted_at": "2026-01-02T04:00:00+00:00",
        "execution": "run-1",
        "trigger": "schedule",
    }

    pointer = registry.ChampionPointer.from_item(item)

    assert (pointer.version, pointer.execution, pointer.trigger) == (2, "run-1", "schedule")
    assert pointer.model_profile_sha256 is None
    assert pointer.fields() == {k: v for k, v in item.items() if k not in ("pk", "sk")}


def test_an_approval_request_reads_its_item():
    item = {"pk": "APPROVAL#run-1", "sk": "TOKEN", "token": "t0k", "model": "churn", "version": 3, "expires_at": 17}

    request = registry.ApprovalRequest.from_item(item)

    assert (request.token, request.model, request.version, request.expires_at) == ("t0k", "churn", 3, 17)
