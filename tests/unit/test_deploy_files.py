"""What the README's "Deploy to AWS" section hands a user: samconfig.toml and the deployer's IAM policy."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path

import pytest

from retrain.cli import build_parser
from retrain.local.template import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

#: The calls CloudFormation makes, with the deployer's credentials, to create each resource type.
CREATES = {
    "AWS::S3::Bucket": ["s3:CreateBucket", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration"],
    "AWS::S3::BucketPolicy": ["s3:PutBucketPolicy"],
    "AWS::DynamoDB::Table": ["dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "dynamodb:UpdateContinuousBackups"],
    "AWS::Serverless::LayerVersion": ["lambda:PublishLayerVersion"],
    "AWS::Serverless::Function": ["lambda:CreateFunction", "iam:CreateRole", "iam:PassRole", "iam:PutRolePolicy"],
    "AWS::Serverless::StateMachine": ["states:CreateStateMachine", "events:PutRule", "events:PutTargets"],
    "AWS::CloudWatch::Alarm": ["cloudwatch:PutMetricAlarm"],
    "AWS::Scheduler::ScheduleGroup": ["scheduler:CreateScheduleGroup"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:PutRolePolicy"],
    "AWS::Logs::LogGroup": ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource"],
    "AWS::SQS::Queue": ["sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes"],
    "AWS::SQS::QueuePolicy": ["sqs:SetQueueAttributes"],
    "AWS::CloudWatch::Dashboard": ["cloudwatch:PutDashboard"],
}
#: What the retrain commands in the README call (bootstrap, models, trigger, approve, teardown).
COMMANDS = [
    "cloudformation:DescribeStacks",
    "s3:PutObject",
    "s3:GetObject",
    "dynamodb:TransactWriteItems",
    "dynamodb:Query",
    "ssm:PutParameter",
    "events:PutEvents",
    "states:SendTaskSuccess",
    "s3:DeleteObjectVersion",
    # register / unregister: the model's schedule (run as the stack's scheduler role), alarms and config
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:DeleteSchedule",
    "iam:PassRole",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DescribeAlarms",
    "s3:DeleteObject",
    "s3:DeleteBucket",
    "cloudformation:GetTemplate",
    "dynamodb:DeleteTable",
]


def _allowed(policy: dict, action: str) -> bool:
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action, a) for a in actions):
            return True
    return False


def test_samconfig_deploys_the_stack_the_commands_default_to():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploy = config["default"]["deploy"]["parameters"]
    stack = config["default"]["global"]["parameters"]["stack_name"]

    assert "CAPABILITY_IAM" in deploy["capabilities"].split()
    assert deploy["resolve_s3"] is True
    assert "region" not in deploy  # the user's choice: --region or the profile's
    bootstrap = build_parser().parse_args(["bootstrap", "--config", "c.yaml", "--reference", "r.csv"])
    assert bootstrap.stack == stack


def test_the_deployer_policy_can_create_every_resource_type_of_the_template():
    policy = json.loads((ROOT / "infra" / "iam" / "deployer-policy.json").read_text())
    types = {r["Type"] for r in load_template(ROOT / "template.yaml")["Resources"].values()}

    unknown = types - set(CREATES)
    assert not unknown, f"add the calls that create {sorted(unknown)} to CREATES and the deployer policy"
    missing = sorted({a for t in types for a in CREATES[t] if not _allowed(policy, a)})
    assert not missing, f"infra/iam/deployer-policy.json does not allow {missing}"


def test_the_deployer_policy_covers_the_retrain_commands():
    policy = json.loads((ROOT / "infra" / "iam" / "deployer-policy.json").read_text())

    assert [a for a in COMMANDS if not _allowed(policy, a)] == []


def test_the_deployer_policy_grants_no_service_wide_wildcard():
    policy = json.loads((ROOT / "infra" / "iam" / "deployer-policy.json").read_text())
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if a == "*" or a.endswith(":*")], statement["Sid"]
