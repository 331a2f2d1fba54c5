"""What template.yaml promises operations: delivery that cannot be lost quietly, history that outlives
the stack, and one dashboard with every model on it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from retrain import config
from retrain.local.template import Resolver, load_template
from retrain.steps import metric_check

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "DeliveryDeadLetterQueue"
HISTORY_BUCKETS = ["DataBucket", "ArtifactBucket"]
#: What the drift check and the metric check publish besides the performance metrics and estimates.
OTHER_SIGNALS = [
    "DriftShare",
    "ImportanceWeightedDriftShare",
    "DriftedFeatures",
    "SchemaDriftColumns",
    "DomainClassifierAuc",
    "PredictionDriftEffect",
    "PredictionDifferenceRate",
    "FlaggedRate",
    "FlaggedPredictions",
    "LabelMatchRate",
    "Predictions",
    "LabelledPredictions",
]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _rule_events(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The EventBridge rules whose target is the state machine (SAM events of type EventBridgeRule)."""
    machine = template["Resources"]["RetrainingStateMachine"]["Properties"]
    return {n: e for n, e in (machine.get("Events") or {}).items() if e["Type"] == "EventBridgeRule"}


# delivery ----------------------------------------------------------------------------------------------


def test_the_dead_letter_queue_is_encrypted_and_keeps_messages_14_days(template):
    props = template["Resources"][QUEUE]["Properties"]

    assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("event", ["AlarmStateChange", "ManualTrigger"])
def test_every_rule_to_the_state_machine_retries_then_dead_letters(template, event):
    props = _rule_events(template)[event]["Properties"]

    assert set(props["RetryPolicy"]) == {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}
    assert props["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [QUEUE, "Arn"]}}


def test_only_this_accounts_rules_and_schedules_may_send_to_the_queue(template):
    (policy,) = _of_type(template, "AWS::SQS::QueuePolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_service = {s["Principal"]["Service"]: s for s in statements}

    assert policy["Properties"]["Queues"] == [{"Ref": QUEUE}]
    assert set(by_service) == {"events.amazonaws.com", "scheduler.amazonaws.com"}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    rules = by_service["events.amazonaws.com"]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert rules == [{"Fn::GetAtt": [f"RetrainingStateMachine{e}", "Arn"]} for e in _rule_events(template)]


def test_an_ops_alarm_watches_the_queue_depth(template):
    alarms = [
        a["Properties"]
        for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/SQS"
    ]

    (alarm,) = alarms
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [QUEUE, "QueueName"]}}]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["AlarmName"] == {"Fn::Sub": "${AWS::StackName}-ops-undelivered-triggers"}


def test_the_alarm_rule_leaves_out_the_stacks_ops_alarms(template):
    pattern = _rule_events(template)["AlarmStateChange"]["Properties"]["Pattern"]

    assert pattern["detail"]["alarmName"] == [{"prefix": {"Fn::Sub": "${AWS::StackName}-"}}]
    (excluded,) = pattern["resources"]
    assert excluded["anything-but"]["prefix"]["Fn::Sub"].endswith(":alarm:${AWS::StackName}-ops-")


@pytest.mark.parametrize("output", ["DeliveryDeadLetterQueueArn", "DeliveryDeadLetterQueueUrl"])
def test_the_stack_outputs_the_queue(template, output):
    assert output in template["Outputs"]


# history -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bucket", HISTORY_BUCKETS)
def test_history_buckets_are_retained_versioned_and_expire_only_old_versions(template, bucket):
    resource = template["Resources"][bucket]
    rules = resource["Properties"]["LifecycleConfiguration"]["Rules"]

    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"
    assert resource["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    expiring = [r for r in rules if r["Status"] == "Enabled" and "NoncurrentVersionExpiration" in r]
    assert [r["NoncurrentVersionExpiration"] for r in expiring] == [
        {"NoncurrentDays": {"Ref": "NoncurrentVersionRetentionDays"}}
    ]
    # Current versions stay, except a failed candidate's tagged artifacts (tests/unit/test_template_iam.py).
    current = [r for r in rules if "ExpirationInDays" in r or "ExpirationDate" in r]
    assert all(r.get("TagFilters") == [{"Key": "retrain-status", "Value": "failed"}] for r in current)


def test_noncurrent_versions_are_kept_90_days_by_default(template):
    assert template["Parameters"]["NoncurrentVersionRetentionDays"]["Default"] == 90


# dashboard ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard(template) -> dict[str, Any]:
    """The dashboard body as CloudFormation renders it, every resource given a recognisable physical id."""
    resolver = Resolver(
        parameters={name: p.get("Default") for name, p in template["Parameters"].items()},
        pseudo={"AWS::StackName": "teststack", "AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"},
        refs={name: f"ref-{name}" for name in template["Resources"]},
        attributes={(name, attr): f"{attr}-{name}" for name in template["Resources"] for attr in ("Arn", "QueueName")},
    )
    (resource,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = resolver.resolve(resource["Properties"]["DashboardBody"])
    assert "${" not in body
    return dict(json.loads(body))


def _text(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard)


def test_the_dashboard_shows_every_function_the_state_machine_and_the_queue(template, dashboard):
    text = _text(dashboard)
    functions = _of_type(template, "AWS::Serverless::Function")

    assert len(functions) == 11
    for name in functions:
        assert f'"ref-{name}"' in text, name
    assert '"ref-RetrainingStateMachine"' in text
    assert f'"QueueName-{QUEUE}"' in text


def test_the_dashboard_shows_executions_by_every_outcome(dashboard):
    metrics = [
        row[1]
        for w in dashboard["widgets"]
        for row in w["properties"].get("metrics", [])
        if row and row[0] == "AWS/States"
    ]

    assert set(metrics) == {"ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}


def test_every_lambda_metric_row_is_an_error_or_duration_of_a_function(template, dashboard):
    rows = [r for w in dashboard["widgets"] for r in w["properties"].get("metrics", []) if r and r[0] == "AWS/Lambda"]
    functions = {f"ref-{name}" for name in _of_type(template, "AWS::Serverless::Function")}

    assert {(r[1], r[3]) for r in rows} == {(m, f) for m in ("Errors", "Duration") for f in functions}


def _searches(dashboard: dict[str, Any]) -> list[str]:
    return [
        item["expression"]
        for w in dashboard["widgets"]
        for row in w["properties"].get("metrics", [])
        for item in row
        if isinstance(item, dict) and "expression" in item
    ]


def test_per_model_widgets_search_the_checks_namespace_by_model_without_listing_models(template, dashboard):
    namespace = template["Parameters"]["MetricsNamespace"]["Default"]

    searches = _searches(dashboard)

    assert searches
    for expression in searches:
        assert expression.startswith(f"SEARCH('{{{namespace},model,service}} MetricName=(")
        assert len(expression) <= 1024  # CloudWatch's limit on a metric math expression
        assert "churn" not in expression


def test_every_published_signal_appears_on_the_dashboard(dashboard):
    shown = {name for e in _searches(dashboard) for name in re.findall(r'"([A-Za-z0-9_]+)"', e)}
    performance = [*config.CLASSIFICATION_SIGNAL_METRICS, *config.REGRESSION_SIGNAL_METRICS]
    judged = [f"{m}_{use}" for m in performance for use in ("ci_lower", "ci_upper")]
    estimable = [*config.ESTIMATED_METRICS, *config.ESTIMATED_REGRESSION_METRICS]
    estimated = [metric_check.estimated_metric_name(m) for m in estimable]
    estimated_judged = [
        metric_check.estimated_metric_name(f"{m}_{use}") for m in estimable for use in ("ci_lower", "ci_upper")
    ]

    missing = {*performance, *judged, *estimated, *estimated_judged, *OTHER_SIGNALS} - shown

    assert missing == set()


def _alarmed_functions(alarm: dict[str, Any]) -> list[str]:
    """The functions whose Lambda ``Errors`` an alarm watches (a plain alarm, or each metric of its math)."""
    props = alarm["Properties"]
    metrics = [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q] or [props]
    return [
        d["Value"]["Ref"]
        for m in metrics
        if m.get("Namespace") == "AWS/Lambda" and m.get("MetricName") == "Errors"
        for d in m.get("Dimensions", [])
        if d["Name"] == "FunctionName"
    ]


def test_no_alarm_on_metric_math_references_more_than_ten_metrics(template):
    # CloudWatch's hard limit: an alarm based on metric math references at most 10 metrics (MetricStat)
    for name, alarm in _of_type(template, "AWS::CloudWatch::Alarm").items():
        stats = [q for q in alarm["Properties"].get("Metrics", []) if "MetricStat" in q]
        assert len(stats) <= 10, f"{name} references {len(stats)} metrics"


def test_every_functions_errors_raise_an_ops_alarm_exactly_once(template):
    alarmed = [f for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values() for f in _alarmed_functions(alarm)]

    assert sorted(alarmed) == sorted(_of_type(template, "AWS::Serverless::Function"))
