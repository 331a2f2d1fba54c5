"""The local cloud itself: deployed from template.yaml, and its moto patches."""

from __future__ import annotations

import json
import threading

import pytest
from botocore.exceptions import ClientError

from retrain.local import patches
from retrain.local.template import load_template

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def template(module_cloud):
    return load_template(module_cloud.template_path)


@pytest.fixture(scope="module")
def registered(module_cloud, churn_config):
    """churn registered on the module's cloud (its config, schedule and alarms; no champion needed here)."""
    return module_cloud.register(*churn_config)


def _of_type(template, kind):
    return [name for name, resource in template["Resources"].items() if resource["Type"] == kind]


def test_every_bucket_table_function_and_alarm_of_the_template_exists(module_cloud, template):
    # (a registered model's alarms come on top of the template's)
    buckets = {b["Name"] for b in module_cloud.client("s3").list_buckets()["Buckets"]}
    tables = set(module_cloud.client("dynamodb").list_tables()["TableNames"])
    functions = {f["FunctionName"] for f in module_cloud.client("lambda").list_functions()["Functions"]}
    alarms = set(module_cloud.alarm_names())

    assert {module_cloud.ref(n) for n in _of_type(template, "AWS::S3::Bucket")} <= buckets
    assert {module_cloud.ref(n) for n in _of_type(template, "AWS::DynamoDB::Table")} <= tables
    assert {module_cloud.ref(n) for n in _of_type(template, "AWS::Serverless::Function")} == functions
    assert {module_cloud.ref(n) for n in _of_type(template, "AWS::CloudWatch::Alarm")} <= alarms


def test_the_schedule_group_and_the_scheduler_role_are_the_stacks_outputs(module_cloud):
    group = module_cloud.client("scheduler").get_schedule_group(Name=module_cloud.outputs["ScheduleGroupName"])
    role_name = module_cloud.outputs["SchedulerRoleArn"].rsplit("/", 1)[-1]
    role = module_cloud.client("iam").get_role(RoleName=role_name)["Role"]
    policy = module_cloud.client("iam").get_role_policy(RoleName=role_name, PolicyName="StartRetrainingRuns")

    assert group["Name"] == module_cloud.stack_name
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    start = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "states:StartExecution"]
    assert start[0]["Resource"] == module_cloud.state_machine_arn
    assert module_cloud.outputs["StateMachineArn"] == module_cloud.state_machine_arn


def test_functions_get_the_globals_environment_with_resources_resolved(module_cloud):
    config = module_cloud.client("lambda").get_function_configuration(FunctionName=module_cloud.ref("TrainFunction"))

    variables = config["Environment"]["Variables"]
    assert variables["DATA_BUCKET"] == module_cloud.ref("DataBucket")
    assert variables["REGISTRY_TABLE"] == module_cloud.ref("RegistryTable")
    assert variables["POWERTOOLS_SERVICE_NAME"] == "retrain"
    assert config["Timeout"] == 900


def test_the_state_machine_is_the_asl_file_with_its_substitutions(module_cloud):
    described = module_cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=module_cloud.state_machine_arn
    )

    definition = json.loads(described["definition"])
    source = json.loads((module_cloud.root / "infra/statemachine/retraining.asl.json").read_text())
    assert set(definition["States"]) == set(source["States"])
    assert definition["States"]["Train"]["Resource"] == module_cloud.resolver.get_att("TrainFunction", "Arn")
    assert "${" not in described["definition"]


def test_each_event_source_of_the_state_machine_is_a_rule(module_cloud, template):
    events = template["Resources"]["RetrainingStateMachine"]["Properties"]["Events"]
    rules = {r["Name"] for r in module_cloud.client("events").list_rules()["Rules"]}

    assert len(module_cloud.rules) == len(events)
    assert {r["name"] for r in module_cloud.rules} <= rules
    assert module_cloud.schedule_rules() == []  # schedules are per model, in EventBridge Scheduler


def test_put_events_starts_the_state_machine_of_a_matching_rule_only(module_cloud):
    matching = {"Source": "retrain.cli", "DetailType": "Retrain Requested", "Detail": json.dumps({"model": "x"})}
    other = {"Source": "retrain.cli", "DetailType": "Something Else", "Detail": "{}"}

    started = module_cloud.put_events([matching, other])

    assert len(started) == 1
    execution = module_cloud.client("stepfunctions").describe_execution(executionArn=started[0])
    delivered = json.loads(execution["input"])
    assert delivered["detail-type"] == "Retrain Requested"
    assert delivered["detail"] == {"model": "x"}
    assert delivered["time"].endswith("Z")


def test_a_models_schedule_matches_no_put_event_but_fires_with_its_constant_input(module_cloud, registered):
    before = len(patches.STARTED)
    module_cloud.put_events([{"Source": "aws.events", "DetailType": "Scheduled Event", "Detail": "{}"}])
    assert len(patches.STARTED) == before

    started = module_cloud.fire_schedule("churn")

    execution = module_cloud.client("stepfunctions").describe_execution(executionArn=started[0])
    assert json.loads(execution["input"]) == {"trigger": "schedule", "model": "churn"}
    module_cloud.wait(started[0])


def test_an_alarm_state_change_is_the_standard_event_with_the_alarm_metric(module_cloud, registered):
    alarm = "retrain-churn-drift"

    started = module_cloud.set_alarm_state(alarm, "ALARM", "Threshold Crossed: 1 datapoint")

    execution = module_cloud.client("stepfunctions").describe_execution(executionArn=started[0])
    event = json.loads(execution["input"])
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["detail"]["alarmName"] == alarm
    assert event["detail"]["state"]["value"] == "ALARM"
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    assert metric["name"] == "DriftShare"
    assert metric["dimensions"] == {"model": "churn", "service": "retrain"}
    state = module_cloud.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    assert state["StateValue"] == "ALARM"


def test_an_alarm_returning_to_ok_starts_nothing(module_cloud, registered):
    assert module_cloud.set_alarm_state("retrain-churn-performance", "OK", "back to normal") == []


def test_a_handler_error_becomes_lambdas_error_payload(module_cloud):
    response = module_cloud.client("lambda").invoke(
        FunctionName=module_cloud.ref("PromoteFunction"), Payload=json.dumps({"run": {}})
    )

    payload = json.loads(response["Payload"].read())
    assert "FunctionError" in response
    assert payload["errorType"] == "InvalidEvent"
    assert "run." in payload["errorMessage"]
    assert isinstance(payload["stackTrace"], list)


RACERS = 8
#: moto's transactions deep-copy the whole table: with a few hundred items, unserialized racers lose writes or fail.
FILLERS = 500


def test_concurrent_conditional_writes_to_one_item_behave_as_on_dynamodb(module_cloud):
    # Given a pointer item and racers that each move it on from the version it holds: even racers with a
    # transaction (pointer + a claim item of their own), odd racers with a conditional put of the pointer
    dynamodb = module_cloud.client("dynamodb")
    dynamodb.create_table(
        TableName="race",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for batch in range(0, FILLERS, 25):
        fillers = [{"PutRequest": {"Item": {"pk": {"S": f"filler-{i}"}}}} for i in range(batch, batch + 25)]
        dynamodb.batch_write_item(RequestItems={"race": fillers})
    dynamodb.put_item(TableName="race", Item={"pk": {"S": "pointer"}, "version": {"N": "0"}})
    for version in range(10):
        # When all racers write at once
        won = _all_at_once([_mover(dynamodb, version, racer) for racer in range(RACERS)])

        # Then exactly one wins, its whole write is there, and no loser's write is
        assert len(won) == 1, f"round {version}: winners {won}"
        pointer = dynamodb.get_item(TableName="race", Key={"pk": {"S": "pointer"}})["Item"]
        assert pointer == {"pk": {"S": "pointer"}, "version": {"N": str(version + 1)}, "owner": {"N": str(won[0])}}
        claims = {
            r for r in range(0, RACERS, 2) if "Item" in dynamodb.get_item(TableName="race", Key=_claim(version, r))
        }
        assert claims == ({won[0]} if won[0] % 2 == 0 else set()), f"round {version}"


def _claim(version, racer):
    return {"pk": {"S": f"claim-{version}-{racer}"}}


def _mover(dynamodb, version, racer):
    """``(racer, write)``: the racer's write moving the pointer from ``version`` to the next."""
    pointer = {"pk": {"S": "pointer"}, "version": {"N": str(version + 1)}, "owner": {"N": str(racer)}}
    condition = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": {"N": str(version)}}}

    def write():
        if racer % 2:
            dynamodb.put_item(TableName="race", Item=pointer, **condition)
        else:
            put = {"Put": {"TableName": "race", "Item": pointer, **condition}}
            dynamodb.transact_write_items(
                TransactItems=[put, {"Put": {"TableName": "race", "Item": _claim(version, racer)}}]
            )

    return racer, write


def _all_at_once(writers):
    """Run each ``(racer, write)`` in its own thread, released together; return the racers whose write succeeded."""
    start, won = threading.Barrier(len(writers)), []
    failed: list[Exception] = []

    def run(racer, write):
        start.wait(timeout=30)
        try:
            write()
            won.append(racer)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
                failed.append(exc)
        except Exception as exc:
            failed.append(exc)

    threads = [threading.Thread(target=run, args=writer) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed, failed
    return won
