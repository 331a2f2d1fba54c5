"""The product's events reach the bus with the detail docs/events.md documents, as a subscriber sees them.

A subscriber is what a user would create: one EventBridge rule on the default bus matching the
product's ``source`` (``retrain``), with an SQS queue as its target. Three runs on one stack cover the
four events: a run that needs approval and is approved with the command its ``ApprovalRequested``
names (then ``ModelPromoted``), a run whose candidate fails a gate (``CandidateRejected``), and a
trigger for a model with no config (``RunFailed``). Each expected value comes from the registry or the
run's own output, not from the event.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpers import Deployment, deploy
from retrain import registry
from retrain.cli import main
from retrain.config import loads_config
from retrain.demo import generate_churn
from retrain.local.cloud import ACCOUNT, REGION, LocalCloud

pytestmark = pytest.mark.e2e

#: The ``source`` of every event the product publishes (the template's ``EventSource``).
SOURCE = "retrain"
#: Each event's detail fields, as docs/events.md lists them.
PROMOTED_FIELDS = {"model", "version", "previous_version", "artifact_uri", "sha256", "execution"}
REJECTED_FIELDS = {"model", "version", "reasons", "gates", "execution"}
APPROVAL_FIELDS = {"model", "version", "execution", "champion_version", "gates", "answer_by", "approve", "reject"}
#: RunFailed when the trigger itself failed (Normalize): no model, no lock taken.
RUN_FAILED_FIELDS = {"model", "execution", "execution_arn", "step", "error", "cause", "lock"}


class Subscriber:
    """Every event of the product, as a user subscribing would receive them: a rule whose target is an SQS queue."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.sqs = cloud.client("sqs")
        self.url = self.sqs.create_queue(QueueName="retrain-events-subscriber")["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]
        events = cloud.client("events")
        events.put_rule(
            Name="retrain-events-subscriber", EventPattern=json.dumps({"source": [SOURCE]}), State="ENABLED"
        )
        events.put_targets(Rule="retrain-events-subscriber", Targets=[{"Id": "queue", "Arn": attributes["QueueArn"]}])
        self.events: list[dict[str, Any]] = []

    def of(self, execution: str, detail_type: str | None = None) -> list[dict[str, Any]]:
        """The events received so far about run ``execution`` (by ``detail.execution``), of one type if given."""
        while messages := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                self.events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [
            event
            for event in self.events
            if event["detail"].get("execution") == execution and detail_type in {None, event["detail-type"]}
        ]


@dataclass
class Run:
    """One finished execution: its name and ARN, its final state (``output``) and the events about it."""

    deployment: Deployment | None
    name: str
    arn: str
    described: dict[str, Any]
    events: list[dict[str, Any]]

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.described.get("output") or "{}")

    def one(self, detail_type: str) -> dict[str, Any]:
        """The run's only event of ``detail_type`` (fails if there is none or more than one)."""
        found = [event for event in self.events if event["detail-type"] == detail_type]
        assert len(found) == 1, f"{self.name}: {len(found)} {detail_type} events: {self.events}"
        return found[0]


@pytest.fixture(scope="module")
def subscriber(module_cloud: LocalCloud) -> Subscriber:
    return Subscriber(module_cloud)


@pytest.fixture(scope="module")
def drifted():
    return generate_churn(1500, seed=41, drift=True)


def _deploy(cloud: LocalCloud, text: str, reference, drifted) -> Deployment:
    deployment = deploy(cloud, loads_config(text), text, reference=reference)
    deployment.write_window(drifted, end=datetime.now(UTC))
    return deployment


@pytest.fixture(scope="module")
def approved(module_cloud, subscriber, churn_config, churn_reference, drifted) -> Run:
    """churn, needing approval, retrained on a drifted window; approved with the command its request names."""
    _, text = churn_config
    deployment = _deploy(
        module_cloud, text + "approval: {required: true, timeout_hours: 2}\n", churn_reference, drifted
    )
    name = "approved"
    arn = module_cloud.start_execution({"trigger": "manual", "model": "churn"}, name=name)
    sfn = module_cloud.client("stepfunctions")
    deadline = time.monotonic() + 300
    while not (requested := subscriber.of(name, "ApprovalRequested")):
        described = sfn.describe_execution(executionArn=arn)
        assert described["status"] == "RUNNING", f"the run ended without asking for approval: {described}"
        assert time.monotonic() < deadline, "the run never asked for approval"
        time.sleep(0.2)
    # A person answers with the command the event gives (from a shell: `retrain approve <execution>`)
    command = shlex.split(requested[0]["detail"]["approve"])
    assert command[:2] == ["retrain", "approve"]
    table = ["--table", deployment.settings.registry_table, "--region", REGION]
    assert main([*command[1:], "--note", "checked the gates", *table]) == 0
    described = module_cloud.wait(arn)
    return Run(deployment, name, arn, described, subscriber.of(name))


@pytest.fixture(scope="module")
def rejected(module_cloud, subscriber, churn_config, churn_reference, drifted) -> Run:
    """A second model whose policy asks more than any candidate can give: better than its champion by 0.5."""
    _, text = churn_config
    strict = text.replace("model: churn\n", "model: strict\n").replace(
        "validation:\n  min: {accuracy: 0.8}\n",
        "validation:\n  min: {accuracy: 0.8}\n  compare: {mode: better, delta: 0.5}\n",
    )
    assert "compare: {mode: better" in strict
    deployment = _deploy(module_cloud, strict, churn_reference, drifted)
    name = "rejected"
    arn = module_cloud.start_execution({"trigger": "manual", "model": "strict"}, name=name)
    described = module_cloud.wait(arn)
    return Run(deployment, name, arn, described, subscriber.of(name))


@pytest.fixture(scope="module")
def failed(module_cloud, subscriber) -> Run:
    """A trigger for a model that has no config: the run fails in Normalize."""
    name = "no-such-model"
    arn = module_cloud.start_execution({"trigger": "manual", "model": "no-such-model"}, name=name)
    described = module_cloud.wait(arn)
    return Run(None, name, arn, described, subscriber.of(name))


def _assert_envelope(event: dict[str, Any], detail_type: str) -> None:
    """The event as EventBridge hands it to an SQS target: its fields, their types, the product's source."""
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert (event["version"], event["source"], event["detail-type"]) == ("0", SOURCE, detail_type)
    assert (event["account"], event["region"]) == (ACCOUNT, REGION)
    assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= datetime.now(UTC)
    assert isinstance(event["detail"], dict)


# ------------------------------------------------------------------------------------------ ModelPromoted
def test_a_promotion_publishes_one_model_promoted_with_the_registrys_champion(approved):
    assert approved.state["outcome"] == "promoted"
    event = approved.one("ModelPromoted")

    _assert_envelope(event, "ModelPromoted")
    assert set(event["detail"]) == PROMOTED_FIELDS
    assert approved.deployment is not None
    champion = registry.get_champion(approved.deployment.settings.registry_table, "churn")
    assert champion is not None
    assert event["detail"] == {
        "model": "churn",
        "version": champion.version,
        "previous_version": 1,
        "artifact_uri": champion.artifact_uri,
        "sha256": champion.sha256,
        "execution": approved.name,
    }
    assert champion.version == 2
    assert champion.execution == approved.name
    # Step Functions names the state machine and the execution in the event's resources
    assert approved.arn in event["resources"]
    assert approved.deployment.cloud.state_machine_arn in event["resources"]


# ------------------------------------------------------------------------------------- ApprovalRequested
def test_a_run_that_needs_approval_publishes_one_approval_requested_saying_how_to_answer(approved):
    event = approved.one("ApprovalRequested")

    _assert_envelope(event, "ApprovalRequested")
    detail = event["detail"]
    assert set(detail) == APPROVAL_FIELDS
    assert (detail["model"], detail["version"], detail["execution"]) == ("churn", 2, approved.name)
    assert detail["champion_version"] == 1
    assert detail["gates"] == approved.state["validation"]["gates"]
    assert all(gate["passed"] for gate in detail["gates"])
    assert detail["approve"] == f"retrain approve {approved.name}"
    assert detail["reject"] == f"retrain reject {approved.name} --reason TEXT"
    # answer_by is the request's time plus the config's timeout (2 hours)
    answer_by = datetime.fromisoformat(detail["answer_by"])
    requested = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(answer_by - (requested + timedelta(hours=2))) <= timedelta(seconds=5)
    # and the answer it named was the one the run acted on
    assert approved.state["approval"] == {"approved": True, "note": "checked the gates"}


def test_an_approved_run_publishes_the_request_then_the_promotion_and_nothing_else(approved):
    # (an SQS standard queue does not keep order: the events' own times do)
    assert sorted(event["detail-type"] for event in approved.events) == ["ApprovalRequested", "ModelPromoted"]
    assert approved.one("ApprovalRequested")["time"] <= approved.one("ModelPromoted")["time"]


# ------------------------------------------------------------------------------------- CandidateRejected
def test_a_rejection_publishes_one_candidate_rejected_with_the_runs_reasons_and_gates(rejected):
    assert rejected.state["outcome"] == "rejected"
    event = rejected.one("CandidateRejected")

    _assert_envelope(event, "CandidateRejected")
    detail = event["detail"]
    assert set(detail) == REJECTED_FIELDS
    assert (detail["model"], detail["version"], detail["execution"]) == ("strict", 2, rejected.name)
    # the reasons and gates are the run's, and the registry's record of the rejected version
    assert detail["reasons"] == rejected.state["rejection"]["reasons"] == rejected.state["validation"]["reasons"]
    assert detail["gates"] == rejected.state["validation"]["gates"]
    failed_gates = [gate["name"] for gate in detail["gates"] if not gate["passed"]]
    assert failed_gates == ["vs champion"]
    assert len(detail["reasons"]) == 1
    assert detail["reasons"][0].startswith("vs champion: ")
    assert rejected.deployment is not None
    record = registry.get_version(rejected.deployment.settings.registry_table, "strict", 2)
    assert record is not None
    assert record.status == "rejected"
    assert json.loads(record.reasons or "[]") == detail["reasons"]
    assert rejected.arn in event["resources"]


def test_a_rejection_publishes_nothing_else(rejected):
    assert [event["detail-type"] for event in rejected.events] == ["CandidateRejected"]


# --------------------------------------------------------------------------------------------- RunFailed
def test_a_failed_run_publishes_one_run_failed_with_its_step_error_and_cause(failed):
    assert (failed.described["status"], failed.described["error"]) == ("FAILED", "ModelNotFound")
    event = failed.one("RunFailed")

    _assert_envelope(event, "RunFailed")
    detail = event["detail"]
    assert set(detail) == RUN_FAILED_FIELDS
    assert detail == {
        "model": None,
        "execution": failed.name,
        "execution_arn": failed.arn,
        "step": "Normalize",
        "error": "ModelNotFound",
        "cause": failed.described["cause"],
        "lock": "not-taken",
    }
    assert "no-such-model" in detail["cause"]
    assert [event["detail-type"] for event in failed.events] == ["RunFailed"]
