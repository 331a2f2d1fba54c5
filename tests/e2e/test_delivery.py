"""Triggers that cannot start a run are kept, not lost: the delivery dead-letter queue, as EventBridge fills it.

EventBridge sends an event it could not deliver to the target's ``DeadLetterConfig``
queue: the original event as the body, and the message attributes ``RULE_ARN``,
``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE`` and ``RETRY_ATTEMPTS``
(EventBridge User Guide, "Using dead-letter queues to process undelivered events").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from retrain.local import patches
from retrain.local.cloud import LocalCloud

pytestmark = pytest.mark.e2e

DLQ_ATTRIBUTES = {"RULE_ARN", "TARGET_ARN", "ERROR_CODE", "ERROR_MESSAGE", "RETRY_ATTEMPTS"}


def _dead_letters(cloud: LocalCloud) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=cloud.outputs["DeliveryDeadLetterQueueUrl"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return [
        {
            "event": json.loads(m["Body"]),
            **{k: v["StringValue"] for k, v in (m.get("MessageAttributes") or {}).items()},
        }
        for m in messages
    ]


def _executions(cloud: LocalCloud) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    return [e for m in machines for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"])["executions"]]


def _rule_arn(cloud: LocalCloud, event_name: str) -> str:
    (rule,) = [r for r in cloud.rules if r["event"] == event_name]
    return str(cloud.client("events").describe_rule(Name=rule["name"])["Arn"])


def _a_model_alarm(cloud: LocalCloud) -> str:
    """An alarm the AlarmStateChange rule routes to the state machine (<stack>-<model>-..., not <stack>-ops-...)."""
    cloud.client("cloudwatch").put_metric_alarm(
        AlarmName=f"{cloud.stack_name}-churn-drift",
        Namespace=cloud.parameters["MetricsNamespace"],
        MetricName="DriftShare",
        Dimensions=[{"Name": "model", "Value": "churn"}, {"Name": "service", "Value": "retrain"}],
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=0.3,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    return f"{cloud.stack_name}-churn-drift"


def test_every_rule_targeting_the_state_machine_retries_then_dead_letters(cloud):
    events = cloud.client("events")

    for rule in cloud.rules:
        (target,) = events.list_targets_by_rule(Rule=rule["name"])["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": cloud.outputs["DeliveryDeadLetterQueueArn"]}
        assert set(target["RetryPolicy"]) == {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}


def test_an_alarm_trigger_for_a_deleted_state_machine_lands_in_the_dlq_and_starts_nothing(cloud):
    # Given the stack's state machine is gone while its rule still routes (a stack mid-replacement)
    alarm = _a_model_alarm(cloud)
    cloud.client("stepfunctions").delete_state_machine(stateMachineArn=cloud.state_machine_arn)
    event = cloud.alarm_event(alarm)

    # When CloudWatch reports the alarm and EventBridge delivers the state change
    started = cloud.deliver(event)

    # Then no execution starts and the original event waits in the DLQ, saying why
    assert started == []
    assert _executions(cloud) == []
    (letter,) = _dead_letters(cloud)
    assert letter["event"] == event
    assert set(letter) >= DLQ_ATTRIBUTES
    assert letter["ERROR_CODE"] == "NO_RESOURCE"
    assert "StateMachineDoesNotExist" in letter["ERROR_MESSAGE"]
    assert letter["RULE_ARN"] == _rule_arn(cloud, "AlarmStateChange")
    assert letter["TARGET_ARN"] == cloud.state_machine_arn
    assert letter["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in letter


def test_a_manual_trigger_put_on_the_bus_that_cannot_start_lands_in_the_dlq(cloud):
    # Given the state machine is gone
    cloud.client("stepfunctions").delete_state_machine(stateMachineArn=cloud.state_machine_arn)

    # When `retrain trigger` puts its event on the bus (moto's own delivery path, patched)
    started = cloud.put_events(
        [{"Source": "retrain.cli", "DetailType": "Retrain Requested", "Detail": json.dumps({"model": "churn"})}]
    )

    # Then it is kept in the DLQ with the manual rule named, and nothing ran
    assert started == []
    assert _executions(cloud) == []
    (letter,) = _dead_letters(cloud)
    assert letter["event"]["detail-type"] == "Retrain Requested"
    assert letter["event"]["detail"] == {"model": "churn"}
    assert letter["RULE_ARN"] == _rule_arn(cloud, "ManualTrigger")
    assert letter["ERROR_CODE"] == "NO_RESOURCE"


def test_a_delivery_to_a_target_without_a_dlq_raises_as_before(cloud):
    target = {"Id": "bare", "Arn": cloud.state_machine_arn.replace("retrainingstatemachine", "gone")}
    event = cloud.alarm_event(_a_model_alarm(cloud))

    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        patches.deliver_to_state_machine(target, event, "bare-rule", "arn:aws:events:us-east-1:123456789012:rule/bare")

    assert _dead_letters(cloud) == []


def test_the_dlq_alarm_is_an_ops_alarm_whose_state_change_starts_no_run(cloud):
    # Given the stack's alarm on the DLQ's depth
    alarm = f"{cloud.stack_name}-ops-undelivered-triggers"
    assert alarm in cloud.alarm_names()

    # When it goes to ALARM
    started = cloud.set_alarm_state(alarm)

    # Then no rule routes it to the state machine (and nothing is dead-lettered)
    assert started == []
    assert _executions(cloud) == []
    assert _dead_letters(cloud) == []


def test_a_model_alarm_still_starts_a_run(cloud):
    started = cloud.set_alarm_state(_a_model_alarm(cloud))

    assert len(started) == 1
    assert _dead_letters(cloud) == []
