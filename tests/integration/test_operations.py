"""What operators get from the template: log groups with retention, and alarms that page without retraining."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retrain.local.cloud import LocalCloud
from retrain.local.template import function_properties, load_template

pytestmark = pytest.mark.integration

FUNCTIONS = [
    "Normalize",
    "MetricCheck",
    "DriftCheck",
    "Snapshot",
    "Train",
    "Validate",
    "Promote",
    "Approval",
    "Reconcile",
    "Report",
    "DriftProfile",
]
OPS_ALARMS = ["ExecutionsFailedAlarm", "ExecutionsTimedOutAlarm", "FunctionErrorsAlarm", "DriftProfileErrorsAlarm"]


@pytest.fixture(scope="module")
def ops_cloud() -> Iterator[LocalCloud]:
    """A cloud deployed with a non-default log retention."""
    with LocalCloud(parameters={"LogRetentionDays": 7}) as cloud:
        yield cloud


def _retention(cloud: LocalCloud) -> dict[str, int | None]:
    groups = cloud.client("logs").describe_log_groups()["logGroups"]
    return {g["logGroupName"]: g.get("retentionInDays") for g in groups}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_logs_to_its_declared_group_with_the_stacks_retention(ops_cloud: LocalCloud, function: str):
    # Given the function's resolved properties, as SAM passes them to Lambda
    props = ops_cloud.resolver.resolve(function_properties(ops_cloud.template, f"{function}Function"))

    # Then it names its own declared log group, which exists with LogRetentionDays
    group = props["LoggingConfig"]["LogGroup"]
    assert group == ops_cloud.ref(f"{function}LogGroup")
    assert _retention(ops_cloud)[group] == 7


def test_no_two_functions_share_a_log_group(ops_cloud: LocalCloud):
    groups = {ops_cloud.ref(f"{function}LogGroup") for function in FUNCTIONS}

    assert len(groups) == len(FUNCTIONS)


def test_every_log_group_of_the_template_has_the_stacks_retention(ops_cloud: LocalCloud):
    template = load_template(ops_cloud.template_path)
    declared = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"]

    assert {ops_cloud.ref(k): 7 for k in declared} == {
        ops_cloud.ref(k): _retention(ops_cloud)[ops_cloud.ref(k)] for k in declared
    }
    assert len(declared) == len(FUNCTIONS) + 1


def test_the_state_machine_logs_errors_to_its_log_group(ops_cloud: LocalCloud):
    described = ops_cloud.client("stepfunctions").describe_state_machine(stateMachineArn=ops_cloud.state_machine_arn)

    logging = described["loggingConfiguration"]
    assert logging["level"] == "ERROR"
    [destination] = logging["destinations"]
    group = destination["cloudWatchLogsLogGroup"]["logGroupArn"].split(":log-group:")[1].removesuffix(":*")
    assert group == ops_cloud.ref("StateMachineLogGroup")
    assert _retention(ops_cloud)[group] == 7


@pytest.mark.parametrize("alarm", OPS_ALARMS)
def test_an_operations_alarm_going_off_starts_no_retraining(ops_cloud: LocalCloud, alarm: str):
    # Given an operations alarm of this stack (named with the stack's prefix)
    name = ops_cloud.ref(alarm)
    assert name.startswith(f"{ops_cloud.stack_name}-ops-")

    # When it goes to ALARM, a failing state machine must not trigger itself
    started = ops_cloud.set_alarm_state(name, "ALARM", "Threshold Crossed: 1 datapoint")

    # Then
    assert started == []


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [("ExecutionsFailedAlarm", "ExecutionsFailed"), ("ExecutionsTimedOutAlarm", "ExecutionsTimedOut")],
)
def test_the_state_machine_alarms_watch_its_own_executions(ops_cloud: LocalCloud, alarm: str, metric: str):
    [described] = ops_cloud.client("cloudwatch").describe_alarms(AlarmNames=[ops_cloud.ref(alarm)])["MetricAlarms"]

    assert (described["Namespace"], described["MetricName"]) == ("AWS/States", metric)
    assert described["Dimensions"] == [{"Name": "StateMachineArn", "Value": ops_cloud.state_machine_arn}]
    assert (described["ComparisonOperator"], described["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1.0)


def test_the_function_errors_alarm_sums_the_errors_of_every_function(ops_cloud: LocalCloud):
    cloudwatch = ops_cloud.client("cloudwatch")
    [described] = cloudwatch.describe_alarms(AlarmNames=[ops_cloud.ref("FunctionErrorsAlarm")])["MetricAlarms"]

    queries = described["Metrics"]
    [expression] = [q for q in queries if q.get("ReturnData", True)]
    assert expression["Expression"] == "SUM(METRICS())"
    watched = {
        d["Value"]
        for q in queries
        if "MetricStat" in q
        for d in q["MetricStat"]["Metric"]["Dimensions"]
        if q["MetricStat"]["Metric"]["MetricName"] == "Errors"
    }
    # An alarm on metric math takes at most 10 metrics: the eleventh function has an alarm of its own
    [worker] = cloudwatch.describe_alarms(AlarmNames=[ops_cloud.ref("DriftProfileErrorsAlarm")])["MetricAlarms"]
    assert (worker["Namespace"], worker["MetricName"]) == ("AWS/Lambda", "Errors")
    watched |= {d["Value"] for d in worker["Dimensions"] if d["Name"] == "FunctionName"}
    assert watched == {ops_cloud.ref(f"{function}Function") for function in FUNCTIONS}
