"""The local cloud's Distributed Map behaves as AWS's where moto 5.2.5's differs (retrain.local.distributed_map)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from retrain.local import distributed_map

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/sfn"


def _machine(item_state: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Item",
                    "States": {"Item": item_state},
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "$.results"},
                },
                "ResultPath": "$.map",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.map", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        distributed_map.install()
        try:
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="items")
            s3.put_object(Bucket="items", Key="items.json", Body=json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]).encode())
            yield s3, boto3.client("stepfunctions", region_name="us-east-1")
        finally:
            distributed_map.uninstall()


def _run(sfn: Any, definition: dict[str, Any], name: str) -> dict[str, Any]:
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    payload = {"bucket": "items", "key": "items.json", "results": "runs/x/map/"}
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still running after 60 s"
        time.sleep(0.05)
    return dict(described)


def test_the_result_writer_reads_its_paths_from_the_state_input(aws):
    s3, sfn = aws

    described = _run(sfn, _machine({"Type": "Pass", "End": True}), "ok")

    assert described["status"] == "SUCCEEDED"
    writer = json.loads(described["output"])["map"]["ResultWriterDetails"]
    assert writer["Bucket"] == "items"
    assert writer["Key"].startswith("runs/x/map/")
    assert s3.get_object(Bucket="items", Key=writer["Key"])["Body"].read()


def test_a_failed_iteration_fails_the_map_with_aws_error_not_the_items(aws):
    _, sfn = aws
    # An item whose task fails (as a worker Lambda raising on an unreadable object does)
    failing = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": "items", "Key": "inference/missing.parquet"},
        "End": True,
    }

    described = _run(sfn, _machine(failing), "fails")

    caught = json.loads(described["output"])["map"]
    assert caught == {"Error": distributed_map.EXCEEDED, "Cause": distributed_map.EXCEEDED_CAUSE}


@pytest.mark.parametrize(
    ("total", "count", "percentage", "expected"),
    [(200, 0, 0.0, 0), (200, 3, 0.0, 3), (200, 0, 5.0, 10), (200, 12, 5.0, 12), (7, 0, 10.0, 0)],
)
def test_the_tolerated_failures_are_the_larger_threshold(total, count, percentage, expected):
    assert distributed_map.tolerated(total, count, percentage) == expected
