"""The registry's records: typed views of the table's items, which the items' format does not depend on."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from helpers import load_event
from retrain import registry
from retrain.contracts import Run
from retrain.errors import ArtifactIntegrityError
from retrain.trigger_record import TriggerRecord

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


#: The trigger record of a manual run, as :func:`retrain.candidates.register_fitted` stores it (``triggered_by``).
MANUAL_TRIGGER = TriggerRecord(
    kind="manual",
    event_id="1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
    reason="label backlog cleared",
    execution="run-1",
)


@pytest.mark.parametrize(
    "trigger",
    [
        pytest.param(MANUAL_TRIGGER, id="manual"),
        pytest.param(
            TriggerRecord(
                kind="alarm",
                event_id="c4c1c1c9",
                reason="alarm retrain-churn-performance is ALARM: Threshold Crossed",
                execution="run-2",
                alarm="retrain-churn-performance",
            ),
            id="alarm",
        ),
        pytest.param(
            TriggerRecord(kind="schedule", event_id="run-3", reason="schedule trigger", execution="run-3"),
            id="schedule",
        ),
    ],
)
def test_the_trigger_record_round_trips_through_the_tables_item_format(trigger):
    # Given a version item holding a trigger record, as DynamoDB stores it
    item = registry._to_item({**CANDIDATE_ITEM, "triggered_by": trigger.item()})

    # When it is read back
    record = registry.ModelVersion.from_item(registry._from_item(item))

    # Then the record is the one written, stored as a map without absent fields
    assert record.triggered_by == trigger
    assert set(item["triggered_by"]["M"]) == {"kind", "event_id", "reason", "execution"} | (
        {"alarm"} if trigger.alarm else set()
    )
    assert record.fields()["triggered_by"] == trigger.item()


def test_a_manual_trigger_record_keeps_the_requesters_reason_exactly():
    reason = 'retrain "now": labels\nfixed – ünïcode'
    item = registry._to_item({**CANDIDATE_ITEM, "triggered_by": {**MANUAL_TRIGGER.item(), "reason": reason}})

    record = registry.ModelVersion.from_item(registry._from_item(item))

    assert record.triggered_by is not None
    assert record.triggered_by.reason == reason


def test_an_item_written_before_trigger_records_reads_as_before():
    # Given a version item without a trigger record (written by an earlier release, or by the bootstrap)
    item = registry._to_item(CANDIDATE_ITEM)

    # When it is read back
    record = registry.ModelVersion.from_item(registry._from_item(item))

    # Then it has no trigger record and its fields are the item's, unchanged
    assert record.triggered_by is None
    assert record.fields() == {k: v for k, v in CANDIDATE_ITEM.items() if k not in ("pk", "sk")}
    assert registry._to_item({"pk": "MODEL#churn", "sk": "VERSION#000002", **record.fields()}) == item


def test_a_trigger_record_of_an_unknown_kind_is_refused():
    with pytest.raises(ValidationError, match="kind"):
        registry.ModelVersion.from_item({**CANDIDATE_ITEM, "triggered_by": {**MANUAL_TRIGGER.item(), "kind": "cron"}})


def test_the_trigger_record_of_a_run_is_its_trigger_event_alarm_reason_and_execution():
    run = Run.model_validate(
        {
            **load_event("run")["run"],
            "trigger": "alarm",
            "alarm": "retrain-churn-performance",
            "reason": "alarm retrain-churn-performance is ALARM: Threshold Crossed",
        }
    )

    record = TriggerRecord.of_run(run)

    assert record == TriggerRecord(
        kind="alarm",
        event_id=run.event_id,
        reason="alarm retrain-churn-performance is ALARM: Threshold Crossed",
        execution=run.execution,
        alarm="retrain-churn-performance",
    )


@pytest.mark.parametrize(
    ("trigger", "line"),
    [
        pytest.param(MANUAL_TRIGGER, 'manual: "label backlog cleared" (event 1a2b3c4d…)', id="manual"),
        pytest.param(
            TriggerRecord(kind="manual", event_id="run-9", reason="hotfix", execution="run-9"),
            'manual: "hotfix" (event run-9)',
            id="manual-short-id",
        ),
        pytest.param(
            TriggerRecord(
                kind="alarm", event_id="e", reason="alarm x is ALARM", execution="r", alarm="retrain-churn-drift"
            ),
            "alarm: retrain-churn-drift",
            id="alarm",
        ),
        pytest.param(
            TriggerRecord(kind="schedule", event_id="e", reason="schedule trigger", execution="r"),
            "schedule",
            id="schedule",
        ),
    ],
)
def test_a_trigger_record_describes_itself_in_one_line(trigger, line):
    assert trigger.describe() == line
