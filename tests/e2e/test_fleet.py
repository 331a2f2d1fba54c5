"""A fleet per stack: two models registered in one local cloud, each scheduled and alarmed on its own.

Each model has its own EventBridge Scheduler schedule (named after it, in the
stack's group) and its own alarms ``<stack>-<model>-<signal>``; their runs share
the state machine but never each other's lock, cooldown or dedupe memory.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from helpers import deploy
from retrain import fleet, registry
from retrain.config import loads_config
from retrain.demo import CONFIG, generate_churn
from retrain.local.template import TemplateError
from retrain.triggers import retrain_request

pytestmark = pytest.mark.e2e

#: The second model: churn.yaml under another name (its own config, champion, schedule and alarms).
OTHER = "churn-eu"


@pytest.fixture(scope="module")
def stable():
    return generate_churn(1500, seed=61)


@pytest.fixture(scope="module")
def drifted():
    return generate_churn(1500, seed=62, drift=True)


@pytest.fixture
def two_models(cloud, churn_reference):
    """churn and churn-eu bootstrapped (v1 promoted, then registered) on one local cloud."""
    text = CONFIG.read_text()
    other = text.replace("model: churn\n", f"model: {OTHER}\n")
    return {
        "churn": deploy(cloud, loads_config(text), text, reference=churn_reference),
        OTHER: deploy(cloud, loads_config(other), other, reference=churn_reference),
    }


def _outcome(cloud, execution):
    described = cloud.wait(execution)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    return json.loads(described["output"])


def _windows(two_models, rows):
    for deployment in two_models.values():
        deployment.write_window(rows, end=datetime.now(UTC))


def _hold_lock(cloud, table, model, owner):
    """The model's lock, as a run named ``owner`` holds it for the next 10 minutes."""
    cloud.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": registry.model_pk(model)},
            "sk": {"S": "LOCK"},
            "owner": {"S": owner},
            "expires_at": {"N": str(int(time.time()) + 600)},
        },
    )


def _versions(deployment):
    return [v.version for v in registry.list_versions(deployment.settings.registry_table, deployment.config.model)]


def test_each_registered_model_has_its_own_schedule_and_alarms(cloud, two_models):
    scheduler = cloud.client("scheduler")
    group = cloud.outputs["ScheduleGroupName"]

    assert cloud.schedules() == sorted(["churn", OTHER])
    for model in ("churn", OTHER):
        schedule = scheduler.get_schedule(Name=model, GroupName=group)
        assert json.loads(schedule["Target"]["Input"]) == {"trigger": "schedule", "model": model}
        assert schedule["Target"]["Arn"] == cloud.state_machine_arn
        assert schedule["Target"]["RoleArn"] == cloud.outputs["SchedulerRoleArn"]
        assert (schedule["ScheduleExpression"], schedule["State"]) == ("rate(1 day)", "ENABLED")
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        alarms = fleet.alarms_of(cloud.fleet, model)
        assert sorted(a["AlarmName"].rsplit("-", 1)[-1] for a in alarms) == [
            "drift",
            "estimated",
            "flagged",
            "performance",
        ]
        assert all({"Name": "model", "Value": model} in a["Dimensions"] for a in alarms)


def test_firing_one_models_schedule_starts_a_run_of_that_model_only(cloud, two_models, stable):
    _windows(two_models, stable)

    started = cloud.fire_schedule(OTHER)

    assert len(started) == 1
    state = _outcome(cloud, started[0])
    assert (state["run"]["model"], state["run"]["trigger"]) == (OTHER, "schedule")
    assert state["outcome"] == "no-retrain"
    executions = cloud.client("stepfunctions").list_executions(stateMachineArn=cloud.state_machine_arn)["executions"]
    assert len(executions) == 1


def test_one_models_alarm_starts_a_run_of_that_model_only(cloud, two_models, drifted):
    _windows(two_models, drifted)

    state = _outcome(cloud, cloud.set_alarm_state(f"retrain-{OTHER}-drift")[0])

    assert (state["run"]["model"], state["run"]["trigger"]) == (OTHER, "alarm")
    assert state["outcome"] == "promoted"
    assert _versions(two_models[OTHER]) == [1, 2]
    assert _versions(two_models["churn"]) == [1]


def test_a_run_holding_one_models_lock_does_not_block_another_model(cloud, two_models, stable):
    # Given a run of churn in progress (its lock held)
    _windows(two_models, stable)
    _hold_lock(cloud, two_models["churn"].settings.registry_table, "churn", "another-execution")

    # When both schedules fire
    blocked = _outcome(cloud, cloud.fire_schedule("churn")[0])
    other = _outcome(cloud, cloud.fire_schedule(OTHER)[0])

    # Then churn's run defers to the one in progress, and churn-eu's runs
    assert blocked["outcome"] == "already-running"
    assert other["outcome"] == "no-retrain"
    assert other["checks"]["drift"]["fired"] is False


def test_one_models_cooldown_does_not_stop_another_model(cloud, two_models, drifted):
    # Given churn just retrained (its cooldown runs) and a drifted window for both
    _windows(two_models, drifted)
    assert _outcome(cloud, cloud.set_alarm_state("retrain-churn-performance")[0])["outcome"] == "promoted"

    # When both are asked to retrain
    churn = _outcome(cloud, cloud.put_events([retrain_request("churn", reason="again")])[0])
    other = _outcome(cloud, cloud.put_events([retrain_request(OTHER, reason="first retraining")])[0])

    # Then churn is in its cooldown and churn-eu retrains
    assert churn["outcome"] == "cooldown"
    assert other["outcome"] == "promoted"
    champion = registry.get_champion(two_models[OTHER].settings.registry_table, OTHER)
    assert champion is not None
    assert champion.version == 2


def test_one_models_dedupe_does_not_swallow_another_models_delivery(cloud, two_models, stable):
    # Given churn's scheduled delivery of this slot already ran
    _windows(two_models, stable)
    assert _outcome(cloud, cloud.fire_schedule("churn")[0])["outcome"] == "no-retrain"

    # When churn's schedule delivers again within triggers.dedupe_minutes, and churn-eu's fires in the same slot
    again = _outcome(cloud, cloud.fire_schedule("churn")[0])
    other = _outcome(cloud, cloud.fire_schedule(OTHER)[0])

    # Then only churn's repeat is a duplicate
    assert again["outcome"] == "duplicate"
    assert other["outcome"] == "no-retrain"


def test_unregister_removes_the_schedule_and_alarms_and_keeps_the_registry_versions(cloud, two_models):
    before = registry.list_versions(two_models[OTHER].settings.registry_table, OTHER)

    removed = cloud.unregister(OTHER)

    assert removed.schedule_deleted
    assert removed.config_deleted
    assert sorted(removed.alarms_deleted) == sorted(
        f"retrain-{OTHER}-{s}" for s in ("performance", "drift", "flagged", "estimated")
    )
    assert cloud.schedules() == ["churn"]
    assert fleet.alarms_of(cloud.fleet, OTHER) == []
    assert len(fleet.alarms_of(cloud.fleet, "churn")) == 4
    assert registry.list_versions(two_models[OTHER].settings.registry_table, OTHER) == before
    with pytest.raises(TemplateError, match=f"no schedule for model '{OTHER}'"):
        cloud.fire_schedule(OTHER)


def test_a_stray_trigger_of_an_unregistered_model_fails_with_model_not_found(cloud, two_models):
    cloud.unregister(OTHER)

    described = cloud.wait(cloud.put_events([retrain_request(OTHER, reason="stray")])[0])

    assert described["status"] == "FAILED"
    assert described["error"] == "ModelNotFound"
    assert f"'{OTHER}'" in described["cause"]


def test_unregistering_a_model_that_is_not_registered_is_an_error(cloud, two_models):
    from retrain.errors import ModelNotFound

    with pytest.raises(ModelNotFound, match="'fraud' is not registered"):
        cloud.unregister("fraud")


def test_registering_again_updates_the_schedule_and_removes_a_disabled_alarm(cloud, two_models):
    text = two_models["churn"].text.replace("  flagged_rate: 5 ", "  flagged_rate: null ")
    text += "schedule: {expression: rate(6 hours), enabled: false}\n"
    assert "flagged_rate: null" in text

    registration = cloud.register(loads_config(text), text)

    assert not registration.created
    assert registration.removed_alarms == ["retrain-churn-flagged"]
    schedule = cloud.client("scheduler").get_schedule(Name="churn", GroupName=cloud.outputs["ScheduleGroupName"])
    assert (schedule["ScheduleExpression"], schedule["State"]) == ("rate(6 hours)", "DISABLED")
    with pytest.raises(TemplateError, match="DISABLED"):
        cloud.fire_schedule("churn")
    names = {a["AlarmName"] for a in cloud.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert "retrain-churn-flagged" not in names
    assert "retrain-churn-drift" in names
