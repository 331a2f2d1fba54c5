"""What a subscriber's SQS queue receives from the local cloud's EventBridge, as AWS delivers it.

Events come from two publishers: ``PutEvents`` (the Approval function) and the
Step Functions ``events:putEvents`` service integration (NotifyPromoted,
NotifyRejected, PublishRunFailed), whose ``Detail`` is a JSON object in the
state machine. Every rule whose pattern matches delivers to each of its
targets; the body is EventBridge's event with ``detail`` as the published JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from retrain.local import delivery

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ENVELOPE = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        delivery.install()
        try:
            yield
        finally:
            delivery.uninstall()


def _subscribe(name: str, pattern: dict[str, Any]) -> str:
    """A queue and a rule on the default bus targeting it, as a user subscribes; returns the queue URL."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def _received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_put_events_reaches_an_sqs_target_as_eventbridges_event(aws):
    url = _subscribe("product", {"source": ["retrain"]})
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]

    response = boto3.client("events", region_name=REGION).put_events(
        Entries=[{"Source": "retrain", "DetailType": "ApprovalRequested", "Detail": json.dumps({"model": "churn"})}]
    )

    [event] = _received(url)
    assert list(event) == ENVELOPE
    assert event["id"] == response["Entries"][0]["EventId"]
    assert (event["version"], event["source"], event["detail-type"]) == ("0", "retrain", "ApprovalRequested")
    assert (event["account"], event["region"], event["resources"]) == (account, REGION, [])
    assert event["time"].endswith("Z")
    assert event["detail"] == {"model": "churn"}


def test_an_input_transformer_still_shapes_what_its_target_gets(aws):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="shaped")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="shaped", EventPattern=json.dumps({"source": ["retrain"]}), State="ENABLED")
    events.put_targets(
        Rule="shaped",
        Targets=[
            {
                "Id": "queue",
                "Arn": arn,
                "InputTransformer": {
                    "InputPathsMap": {"model": "$.detail.model"},
                    "InputTemplate": '{"which": "<model>"}',
                },
            }
        ],
    )

    events.put_events(Entries=[{"Source": "retrain", "DetailType": "X", "Detail": json.dumps({"model": "churn"})}])

    assert _received(url) == [{"which": "churn"}]


def test_the_state_machines_put_events_reaches_every_matching_rules_target(aws):
    # Given two subscribers whose rules match the event, and one whose rule does not
    every = _subscribe("every", {"source": ["retrain"]})
    promoted = _subscribe("promoted", {"source": ["retrain"], "detail-type": ["ModelPromoted"]})
    other = _subscribe("other", {"source": ["retrain"], "detail-type": ["RunFailed"]})
    definition = {
        "StartAt": "Notify",
        "States": {
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {
                    "Entries": [
                        {
                            "EventBusName": "default",
                            "Source": "retrain",
                            "DetailType": "ModelPromoted",
                            "Detail": {"model.$": "$.model", "version.$": "$.version", "previous_version": None},
                        }
                    ]
                },
                "End": True,
            }
        },
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/notify"
    machine = sfn.create_state_machine(name="notify", definition=json.dumps(definition), roleArn=role)
    arn = machine["stateMachineArn"]

    # When an execution publishes the event
    execution = sfn.start_execution(
        stateMachineArn=arn, name="run-1", input=json.dumps({"model": "churn", "version": 2})
    )
    described = _wait(sfn, execution["executionArn"])

    # Then each matching rule's queue gets it once, its detail the JSON object, naming the machine and the execution
    assert described["status"] == "SUCCEEDED"
    for url in (every, promoted):
        [event] = _received(url)
        assert list(event) == ENVELOPE
        assert event["detail-type"] == "ModelPromoted"
        assert event["detail"] == {"model": "churn", "version": 2, "previous_version": None}
        assert event["resources"] == [arn, execution["executionArn"]]
    assert _received(other) == []


def _wait(sfn: Any, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still running"
        time.sleep(0.05)
    return dict(described)
