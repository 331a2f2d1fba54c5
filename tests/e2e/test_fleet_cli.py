"""``retrain register`` and ``retrain unregister`` against a stack reached over HTTP (a moto server on loopback).

The server's stack has the template's storage, schedule group and scheduler role
(:class:`retrain.local.server.MotoServerStack`); the commands read their names
from the stack's outputs, as they do on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from retrain import registry
from retrain.cli import main
from retrain.demo import CONFIG, generate_churn
from retrain.local.server import MotoServerStack, pointed_at

pytestmark = pytest.mark.e2e

SIGNALS = ("performance", "drift", "flagged", "estimated")


@pytest.fixture(scope="module")
def stack() -> Iterator[MotoServerStack]:
    with MotoServerStack(stack_name="fleet") as server, pointed_at(server):
        yield server


@pytest.fixture(scope="module")
def bootstrapped(stack, tmp_path_factory) -> MotoServerStack:
    reference = tmp_path_factory.mktemp("fleet") / "history.parquet"
    generate_churn(2000, seed=71).to_parquet(reference, index=False)
    assert main(["bootstrap", "--config", str(CONFIG), "--reference", str(reference), "--stack", "fleet"]) == 0
    return stack


def _schedule(stack, model):
    return stack.client("scheduler").get_schedule(Name=model, GroupName=stack.outputs["ScheduleGroupName"])


def _alarms(stack, model):
    names = [f"fleet-{model}-{signal}" for signal in SIGNALS]
    return {a["AlarmName"]: a for a in stack.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]}


def test_the_server_stack_names_the_fleet_resources_in_its_outputs(stack):
    assert {"ScheduleGroupName", "SchedulerRoleArn", "StateMachineArn", "MetricsNamespace"} <= set(stack.outputs)
    group = stack.client("scheduler").get_schedule_group(Name=stack.outputs["ScheduleGroupName"])
    assert group["Name"] == "fleet"


def test_bootstrap_registers_the_model_once_v1_is_promoted(bootstrapped, capsys):
    schedule = _schedule(bootstrapped, "churn")

    assert json.loads(schedule["Target"]["Input"]) == {"trigger": "schedule", "model": "churn"}
    assert schedule["Target"]["Arn"] == bootstrapped.outputs["StateMachineArn"]
    assert schedule["Target"]["RoleArn"] == bootstrapped.outputs["SchedulerRoleArn"]
    assert schedule["State"] == "ENABLED"
    alarms = _alarms(bootstrapped, "churn")
    assert set(alarms) == {f"fleet-churn-{signal}" for signal in SIGNALS}
    assert {a["Namespace"] for a in alarms.values()} == {bootstrapped.outputs["MetricsNamespace"]}


def test_register_over_http_updates_the_schedule_and_the_alarms(bootstrapped, tmp_path, capsys):
    # Given a changed config: every 6 hours, and no flagged-rate alarm
    changed = tmp_path / "churn.yaml"
    text = CONFIG.read_text().replace("  flagged_rate: 5 ", "  flagged_rate: null ")
    changed.write_text(text + "schedule: {expression: rate(6 hours)}\n")

    code = main(["register", "--config", str(changed), "--stack", "fleet"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "rate(6 hours), ENABLED (updated)" in out
    assert _schedule(bootstrapped, "churn")["ScheduleExpression"] == "rate(6 hours)"
    assert set(_alarms(bootstrapped, "churn")) == {f"fleet-churn-{s}" for s in ("performance", "drift", "estimated")}
    stored = bootstrapped.client("s3").get_object(
        Bucket=bootstrapped.outputs["DataBucketName"], Key="configs/churn.yaml"
    )
    assert stored["Body"].read().decode() == changed.read_text()


def test_register_refuses_a_model_without_a_champion(bootstrapped, tmp_path, capsys):
    other = tmp_path / "fraud.yaml"
    other.write_text(CONFIG.read_text().replace("model: churn\n", "model: fraud\n"))

    code = main(["register", "--config", str(other), "--stack", "fleet"])

    assert code == 1
    assert "no champion" in capsys.readouterr().err
    assert _alarms(bootstrapped, "fraud") == {}


def test_register_refuses_an_invalid_config_with_exit_2(bootstrapped, tmp_path, capsys):
    bad = tmp_path / "churn.yaml"
    bad.write_text(CONFIG.read_text() + "schedule: {expression: rate(1 days)}\n")

    code = main(["register", "--config", str(bad), "--stack", "fleet"])

    assert code == 2
    assert "schedule.expression" in capsys.readouterr().err


def test_unregister_over_http_removes_schedule_alarms_and_config_and_keeps_the_versions(bootstrapped, capsys):
    table = bootstrapped.outputs["RegistryTableName"]
    before = registry.list_versions(table, "churn")

    code = main(["unregister", "--model", "churn", "--stack", "fleet"])

    assert code == 0, capsys.readouterr().err
    assert "unregistered 'churn'" in capsys.readouterr().out
    listed = bootstrapped.client("scheduler").list_schedules(GroupName="fleet")["Schedules"]
    assert [s["Name"] for s in listed] == []
    assert _alarms(bootstrapped, "churn") == {}
    assert registry.list_versions(table, "churn") == before
    assert main(["unregister", "--model", "churn", "--stack", "fleet"]) == 1
    assert "is not registered" in capsys.readouterr().err
