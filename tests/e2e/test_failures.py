"""Failures nobody can miss: a RunFailed event for every failed run, locks that cannot strand a model.

RunFailed events are observed as a subscriber would: a rule on the local cloud's
default bus (source ``retrain``, detail-type ``RunFailed``) with an SQS queue as
its target. A lock release that fails is made by patching moto's DynamoDB
``delete_item`` for the model's ``LOCK`` item only.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from helpers import deploy
from retrain import registry
from retrain.cli import main
from retrain.config import loads_config
from retrain.demo import generate_churn
from retrain.errors import InsufficientData
from retrain.steps import train

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stable():
    return generate_churn(1500, seed=41)


class RunFailedEvents:
    """A subscriber to RunFailed: an EventBridge rule whose target is an SQS queue."""

    def __init__(self, cloud: Any) -> None:
        self.sqs = cloud.client("sqs")
        self.url = self.sqs.create_queue(QueueName="run-failed-subscriber")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = cloud.client("events")
        events.put_rule(
            Name="run-failed-subscriber",
            EventPattern=json.dumps({"source": ["retrain"], "detail-type": ["RunFailed"]}),
            State="ENABLED",
        )
        events.put_targets(Rule="run-failed-subscriber", Targets=[{"Id": "queue", "Arn": arn}])

    def received(self) -> list[dict[str, Any]]:
        """Every event delivered so far (each once)."""
        events: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def run_failed(cloud):
    return RunFailedEvents(cloud)


class LockDeletes:
    """moto's DynamoDB ``delete_item`` of a ``LOCK`` item, failing with the given error codes first."""

    def __init__(self) -> None:
        self.attempts = 0
        self.failures: list[str] = []  # one error code per attempt, then the delete works
        self.always: str | None = None  # fail every attempt with this code

    def error(self) -> str | None:
        self.attempts += 1
        if self.always:
            return self.always
        return self.failures.pop(0) if self.failures else None


@pytest.fixture
def lock_deletes(monkeypatch):
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    deletes = LockDeletes()
    original = DynamoDBBackend.delete_item

    def delete_item(self, table_name, key, *args, **kwargs):
        if (key or {}).get("sk") == {"S": "LOCK"} and (code := deletes.error()):
            raise DynamodbException(ERROR_TYPE_PREFIX + code, message=f"{code} (injected by the test)")
        return original(self, table_name, key, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "delete_item", delete_item)
    return deletes


def _lock(deployment):
    item = deployment.cloud.client("dynamodb").get_item(
        TableName=deployment.settings.registry_table,
        Key={"pk": {"S": registry.model_pk("churn")}, "sk": {"S": "LOCK"}},
    )
    return item.get("Item")


def _check(deployment, name):
    """Run the checks once (a direct manual input in check mode), as its own execution ``name``."""
    arn = deployment.cloud.start_execution({"trigger": "manual", "model": "churn", "mode": "check"}, name=name)
    return deployment.cloud.wait(arn)


def test_a_failed_train_publishes_one_run_failed_naming_the_step_error_and_cause(
    deployed_churn, stable, run_failed, monkeypatch
):
    # Given a model whose training fails
    def no_rows(*args, **kwargs):
        raise InsufficientData("churn: 3 training rows, need at least 50")

    monkeypatch.setattr(train, "fit_and_register", no_rows)
    deployed_churn.write_window(stable, end=datetime.now(UTC))

    # When a manual trigger retrains it
    arn = deployed_churn.cloud.start_execution({"trigger": "manual", "model": "churn"}, name="train-fails")
    described = deployed_churn.cloud.wait(arn)

    # Then the run fails with the step's error, after releasing the lock
    assert described["status"] == "FAILED"
    assert described["error"] == "InsufficientData"
    assert _lock(deployed_churn) is None
    # And exactly one RunFailed event says which step failed, with what, for which model and run
    events = run_failed.received()
    assert len(events) == 1
    event = events[0]
    assert (event["source"], event["detail-type"]) == ("retrain", "RunFailed")
    detail = event["detail"]
    assert detail["model"] == "churn"
    assert detail["execution"] == "train-fails"
    assert detail["execution_arn"] == arn
    assert detail["step"] == "Train"
    assert detail["error"] == "InsufficientData"
    assert "churn: 3 training rows, need at least 50" in json.loads(detail["cause"])["errorMessage"]
    assert detail["lock"] == "released"
    champion = registry.get_champion(deployed_churn.settings.registry_table, "churn")
    assert champion is not None
    assert champion.version == 1


def test_a_trigger_for_an_unknown_model_publishes_run_failed_from_normalize(cloud, run_failed):
    arn = cloud.start_execution({"trigger": "manual", "model": "unknown-model"}, name="unknown-model")

    described = cloud.wait(arn)

    assert (described["status"], described["error"]) == ("FAILED", "ModelNotFound")
    [event] = run_failed.received()
    assert event["detail"]["step"] == "Normalize"
    assert event["detail"]["model"] is None
    assert event["detail"]["error"] == "ModelNotFound"
    assert "unknown-model" in event["detail"]["cause"]
    assert event["detail"]["lock"] == "not-taken"


def test_a_run_that_succeeds_publishes_no_run_failed(deployed_churn, stable, run_failed):
    deployed_churn.write_window(stable, end=datetime.now(UTC))

    described = _check(deployed_churn, "checks-pass")

    assert json.loads(described["output"])["outcome"] == "no-retrain"
    assert run_failed.received() == []


def test_a_transient_error_releasing_the_lock_is_retried(deployed_churn, stable, lock_deletes, run_failed):
    # Given DynamoDB throttles the first release
    deployed_churn.write_window(stable, end=datetime.now(UTC))
    lock_deletes.failures = ["ThrottlingException"]

    # When a run ends
    described = _check(deployed_churn, "release-throttled")

    # Then the release is tried again and the run ends as it would have
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["outcome"] == "no-retrain"
    assert lock_deletes.attempts == 2
    assert _lock(deployed_churn) is None
    assert run_failed.received() == []


def test_a_lock_that_cannot_be_released_fails_the_run_visibly_and_the_model_recovers_after_expiry(
    deployed_churn, stable, lock_deletes, run_failed
):
    # Given the lock cannot be deleted (a permission removed, say)
    deployed_churn.write_window(stable, end=datetime.now(UTC))
    lock_deletes.always = "AccessDeniedException"

    # When a run reaches its outcome
    described = _check(deployed_churn, "release-denied")

    # Then it fails as LockReleaseFailed, saying which outcome it reached and until when the model is locked
    assert described["status"] == "FAILED"
    assert described["error"] == "LockReleaseFailed"
    assert "the run ended no-retrain" in described["cause"]
    assert "DynamoDB.AccessDeniedException" in described["cause"]
    [event] = run_failed.received()
    assert event["detail"]["step"] == "ReleaseLock"
    assert event["detail"]["outcome"] == "no-retrain"
    assert event["detail"]["lock"] == "held"
    lock = _lock(deployed_churn)
    assert lock["owner"]["S"] == "release-denied"
    assert event["detail"]["lock_expires_at"] == lock["expires_at"]["N"]

    # And while the lock lasts, the next run finds the model busy
    lock_deletes.always = None
    assert json.loads(_check(deployed_churn, "while-locked")["output"])["outcome"] == "already-running"

    # When the lock expires, the next run takes it over and releases it
    deployed_churn.cloud.client("dynamodb").update_item(
        TableName=deployed_churn.settings.registry_table,
        Key={"pk": {"S": registry.model_pk("churn")}, "sk": {"S": "LOCK"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    recovered = _check(deployed_churn, "after-expiry")

    assert recovered["status"] == "SUCCEEDED"
    assert json.loads(recovered["output"])["outcome"] == "no-retrain"
    assert _lock(deployed_churn) is None


def test_a_failed_step_whose_lock_cannot_be_released_keeps_its_own_error(
    deployed_churn, stable, lock_deletes, run_failed, monkeypatch
):
    # Given training fails and so does the release after it
    def no_rows(*args, **kwargs):
        raise InsufficientData("churn: 3 training rows, need at least 50")

    monkeypatch.setattr(train, "fit_and_register", no_rows)
    deployed_churn.write_window(stable, end=datetime.now(UTC))
    lock_deletes.always = "AccessDeniedException"

    # When
    arn = deployed_churn.cloud.start_execution({"trigger": "manual", "model": "churn"}, name="both-fail")
    described = deployed_churn.cloud.wait(arn)

    # Then the run fails with the step's error, and RunFailed also says the lock is still held and why
    assert (described["status"], described["error"]) == ("FAILED", "InsufficientData")
    [event] = run_failed.received()
    assert (event["detail"]["step"], event["detail"]["error"]) == ("Train", "InsufficientData")
    assert event["detail"]["lock"] == "held"
    assert event["detail"]["lock_error"]["Error"] == "DynamoDB.AccessDeniedException"
    assert _lock(deployed_churn)["owner"]["S"] == "both-fail"


def test_a_run_waiting_for_approval_keeps_its_lock_for_the_whole_wait(cloud, churn_config, churn_reference):
    # Given a model that needs approval, with the default wait of 24 hours, and a drifted window
    _, text = churn_config
    gated = text + "approval: {required: true}\n"
    deployment = deploy(cloud, loads_config(gated), gated, reference=churn_reference)
    deployment.write_window(generate_churn(1500, seed=42, drift=True), end=datetime.now(UTC))

    # When a run trains a candidate and waits for a person
    started = int(time.time())
    execution = cloud.start_execution({"trigger": "manual", "model": "churn"}, name="waits-for-approval")
    deadline = time.monotonic() + 120
    while not registry.get_approval(deployment.settings.registry_table, "waits-for-approval"):
        assert time.monotonic() < deadline, "the run never asked for approval"
        time.sleep(0.05)

    # Then its lock lasts past the longest wait (plus the TTL the steps themselves have)
    expires = int(_lock(deployment)["expires_at"]["N"])
    assert expires >= started + 24 * 3600 + deployment.settings.lock_ttl_seconds - 5
    assert expires <= int(time.time()) + 24 * 3600 + deployment.settings.lock_ttl_seconds

    # And an answer ends the run and releases the lock
    table = ["--table", deployment.settings.registry_table, "--region", "us-east-1"]
    assert main(["reject", execution, "--reason", "not today", *table]) == 0
    assert json.loads(cloud.wait(execution)["output"])["outcome"] == "rejected"
    assert _lock(deployment) is None
