"""Specification of retrain.fleet's requests: what registering a model asks of Scheduler and CloudWatch.

The requests are plain data built from the config and the stack's outputs; the
e2e tests (tests/e2e/test_fleet.py) send them to the local cloud.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retrain import fleet
from retrain.config import load_config, loads_config
from retrain.errors import ConfigError, StackNotFound
from retrain.local.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CHURN = load_config(ROOT / "infra" / "configs" / "churn.yaml")
HOUSES = load_config(ROOT / "infra" / "configs" / "house-prices.yaml")
OUTPUTS = {
    "DataBucketName": "retrain-databucket",
    "StateMachineArn": "arn:aws:states:eu-west-1:111122223333:stateMachine:retraining",
    "ScheduleGroupName": "prod",
    "SchedulerRoleArn": "arn:aws:iam::111122223333:role/prod-SchedulerRole",
    "MetricsNamespace": "Retrain",
    "ArtifactBucketName": "ignored",
}
STACK = fleet.FleetStack.from_outputs("prod", OUTPUTS)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def test_the_stack_is_read_from_its_outputs() -> None:
    assert STACK.schedule_group == "prod"
    assert STACK.scheduler_role_arn.endswith("prod-SchedulerRole")
    assert STACK.dead_letter_queue_arn is None


def test_a_stack_without_the_fleet_outputs_is_refused_naming_them() -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k not in {"ScheduleGroupName", "SchedulerRoleArn"}}

    with pytest.raises(StackNotFound, match="'ScheduleGroupName', 'SchedulerRoleArn'"):
        fleet.FleetStack.from_outputs("old", outputs)


def test_the_schedule_starts_the_state_machine_with_the_models_constant_input() -> None:
    request = fleet.schedule_request(STACK, CHURN)

    assert request["Name"] == "churn"
    assert request["GroupName"] == "prod"
    assert request["ScheduleExpression"] == "rate(1 day)"
    assert request["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert request["State"] == "ENABLED"
    target = request["Target"]
    assert target["Arn"] == OUTPUTS["StateMachineArn"]
    assert target["RoleArn"] == OUTPUTS["SchedulerRoleArn"]
    assert json.loads(target["Input"]) == {"trigger": "schedule", "model": "churn"}
    assert target["RetryPolicy"] == fleet.RETRY_POLICY
    assert "DeadLetterConfig" not in target


def test_the_schedule_has_the_configs_expression_and_state() -> None:
    text = (
        ROOT / "infra" / "configs" / "churn.yaml"
    ).read_text() + "schedule: {expression: rate(6 hours), enabled: false}\n"

    request = fleet.schedule_request(STACK, loads_config(text))

    assert (request["ScheduleExpression"], request["State"]) == ("rate(6 hours)", "DISABLED")


def test_a_stack_with_a_delivery_dead_letter_queue_gives_it_to_the_schedule() -> None:
    queue = "arn:aws:sqs:eu-west-1:111122223333:prod-dlq"
    stack = fleet.FleetStack.from_outputs("prod", {**OUTPUTS, "DeliveryDeadLetterQueueArn": queue})

    target = fleet.schedule_request(stack, CHURN)["Target"]

    assert target["DeadLetterConfig"] == {"Arn": queue}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_the_default_alarms_are_the_former_stack_alarms() -> None:
    requests = fleet.alarm_requests(STACK, CHURN)

    watched = {
        signal: (r["AlarmName"], r["MetricName"], r["Statistic"], r["Threshold"], r["ComparisonOperator"])
        for signal, r in requests.items()
        if r is not None
    }
    assert watched == {
        "performance": ("prod-churn-performance", "accuracy", "Average", 0.8, "LessThanThreshold"),
        "drift": ("prod-churn-drift", "DriftShare", "Maximum", 0.3, "GreaterThanOrEqualToThreshold"),
        "flagged": ("prod-churn-flagged", "FlaggedRate", "Maximum", 5.0, "GreaterThanOrEqualToThreshold"),
        "estimated": ("prod-churn-estimated", "EstimatedAccuracy", "Average", 0.8, "LessThanThreshold"),
    }
    for request in requests.values():
        assert request is not None
        assert request["Namespace"] == "Retrain"
        assert request["Dimensions"] == [{"Name": "model", "Value": "churn"}, {"Name": "service", "Value": "retrain"}]
        assert (request["Period"], request["EvaluationPeriods"], request["TreatMissingData"]) == (
            3600,
            1,
            "notBreaching",
        )


def test_a_disabled_alarm_has_no_request() -> None:
    requests = fleet.alarm_requests(STACK, HOUSES)

    assert requests["flagged"] is None
    assert requests["performance"] is not None
    assert (requests["performance"]["MetricName"], requests["performance"]["ComparisonOperator"]) == (
        "rmse",
        "GreaterThanThreshold",
    )


def test_a_regression_model_alarms_on_its_estimated_error() -> None:
    estimated = fleet.alarm_requests(STACK, HOUSES)["estimated"]

    assert estimated is not None
    assert (estimated["AlarmName"], estimated["MetricName"], estimated["Threshold"]) == (
        "prod-house-prices-estimated",
        "EstimatedMae",
        50.0,
    )
    assert estimated["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_ops_model_name_is_reserved() -> None:
    text = (ROOT / "infra" / "configs" / "churn.yaml").read_text().replace("model: churn", "model: ops")

    with pytest.raises(ConfigError, match="reserved"):
        fleet.register(STACK, loads_config(text), text)


def test_the_stacks_alarm_rule_routes_every_registered_alarm(template: dict[str, Any]) -> None:
    events = template["Resources"]["RetrainingStateMachine"]["Properties"]["Events"]
    pattern = events["AlarmStateChange"]["Properties"]["Pattern"]

    prefix = pattern["detail"]["alarmName"][0]["prefix"]

    assert prefix == {"Fn::Sub": "${AWS::StackName}-"}
    assert fleet.alarm_name("STACK", "churn", "drift").startswith("STACK-")


def test_the_alarm_dimensions_are_the_ones_the_functions_publish_with(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]

    assert variables["POWERTOOLS_SERVICE_NAME"] == fleet.SERVICE
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    assert template["Outputs"]["MetricsNamespace"]["Value"] == {"Ref": "MetricsNamespace"}


def test_the_template_binds_no_model(template: dict[str, Any]) -> None:
    parameters = set(template["Parameters"])
    events = template["Resources"]["RetrainingStateMachine"]["Properties"]["Events"]

    assert not parameters & {"ModelName", "ScheduleExpression", "ScheduleState", "PerformanceAlarmThreshold"}
    assert all(event["Type"] != "Schedule" for event in events.values())
    assert set(fleet.FleetStack.OUTPUTS) <= set(template["Outputs"])


def test_the_scheduler_role_may_start_this_state_machine_only(template: dict[str, Any]) -> None:
    role = template["Resources"]["SchedulerRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]

    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    start = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert start == [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": "RetrainingStateMachine"}}
    ]
