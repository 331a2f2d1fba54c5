"""Triggering as AWS delivers it: duplicates, coinciding triggers, cooldown, policies, modes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from helpers import deploy
from retrain import registry
from retrain.config import loads_config
from retrain.demo import generate_churn
from retrain.local.run import production_log, write_partitioned
from retrain.trigger_record import TriggerRecord
from retrain.triggers import retrain_request

pytestmark = pytest.mark.e2e

ALARM = "retrain-churn-performance"


@pytest.fixture(scope="module")
def drifted():
    return generate_churn(1500, seed=31, drift=True)


@pytest.fixture(scope="module")
def stable():
    return generate_churn(1500, seed=32)


def _outcomes(cloud, executions):
    outcomes = []
    for arn in executions:
        described = cloud.wait(arn)
        assert described["status"] == "SUCCEEDED", described.get("cause")
        outcomes.append(json.loads(described["output"])["outcome"])
    return outcomes


def _window(deployment, rows):
    deployment.write_window(rows, end=datetime.now(UTC))


def test_ten_deliveries_of_one_alarm_event_make_one_run(deployed_churn, drifted):
    _window(deployed_churn, drifted)
    event = deployed_churn.cloud.alarm_event(ALARM)

    outcomes = _outcomes(deployed_churn.cloud, deployed_churn.cloud.deliver(event, copies=10))

    assert sorted(outcomes) == ["duplicate"] * 9 + ["promoted"]
    versions = registry.list_versions(deployed_churn.settings.registry_table, "churn")
    assert [v.version for v in versions] == [1, 2]
    # And the version the alarm trained records the alarm, its event and the run's execution
    trained = versions[1].triggered_by
    assert trained is not None
    assert (trained.kind, trained.alarm, trained.event_id) == ("alarm", ALARM, event["id"])
    assert trained.reason.startswith(f"alarm {ALARM} is ALARM")
    assert trained.execution == versions[1].execution
    assert versions[0].triggered_by is None  # v1 was bootstrapped, not trained by a run


def test_a_schedule_and_an_alarm_at_once_make_one_run_and_one_already_running(deployed_churn, drifted):
    _window(deployed_churn, drifted)
    cloud = deployed_churn.cloud

    executions = cloud.fire_schedule() + cloud.set_alarm_state(ALARM)

    outcomes = _outcomes(cloud, executions)
    assert "already-running" in outcomes
    assert sorted(o for o in outcomes if o != "already-running") == ["promoted"]


def test_a_trigger_during_the_cooldown_after_a_promotion_ends_in_cooldown(deployed_churn, drifted):
    _window(deployed_churn, drifted)
    cloud = deployed_churn.cloud
    assert _outcomes(cloud, cloud.set_alarm_state(ALARM)) == ["promoted"]

    outcomes = _outcomes(cloud, cloud.put_events([retrain_request("churn", reason="again")]))

    assert outcomes == ["cooldown"]
    champion = registry.get_champion(deployed_churn.settings.registry_table, "churn")
    assert champion is not None
    assert champion.version == 2


def test_a_forced_manual_trigger_retrains_during_the_cooldown(deployed_churn, drifted):
    _window(deployed_churn, drifted)
    cloud = deployed_churn.cloud
    assert _outcomes(cloud, cloud.set_alarm_state(ALARM)) == ["promoted"]

    executions = cloud.put_events([retrain_request("churn", reason="label backlog cleared", force=True)])
    outcomes = _outcomes(cloud, executions)

    assert outcomes[0] in {"promoted", "rejected"}
    # And the version it trained records the requester's reason, the event's id and the execution
    hotfix = cloud.wait(executions[0])
    run = json.loads(hotfix["output"])["run"]
    record = registry.version_of_execution(deployed_churn.settings.registry_table, "churn", run["execution"])
    assert record is not None
    assert record.triggered_by == TriggerRecord(
        kind="manual",
        event_id=json.loads(hotfix["input"])["id"],
        reason="label backlog cleared",
        execution=run["execution"],
    )
    described = cloud.wait(cloud.put_events([retrain_request("churn", force=True)])[0])
    assert json.loads(described["output"])["run"]["force"] is True


def test_the_bootstrap_promotion_starts_no_cooldown(deployed_churn, drifted):
    _window(deployed_churn, drifted)

    outcomes = _outcomes(deployed_churn.cloud, deployed_churn.cloud.put_events([retrain_request("churn")]))

    assert outcomes == ["promoted"]


def test_policy_all_needs_every_enabled_signal_to_fire(cloud, churn_config, churn_reference, stable):
    # Given policy all, and a window whose features drift but whose accuracy stays above its bound
    _config, text = churn_config
    strict = text.replace("  drift: {share: 0.3}\n", "  drift: {share: 0.1}\n  policy: all\n").replace(
        "performance: {metric: accuracy, min: 0.8}", "performance: {metric: accuracy, min: 0.5}"
    )
    assert strict.count("policy: all") == 1
    assert "min: 0.5" in strict
    deployment = deploy(cloud, loads_config(strict), strict, reference=churn_reference)
    shifted = stable.assign(tenure_months=stable["tenure_months"] + 25)
    _window(deployment, shifted)

    # When the schedule fires
    described = cloud.wait(cloud.fire_schedule()[0])

    # Then drift alone does not retrain
    state = json.loads(described["output"])
    assert state["checks"]["drift"]["fired"] is True
    assert state["checks"]["metrics"]["fired"] is False
    assert state["outcome"] == "no-retrain"


def test_schedule_mode_always_retrains_without_a_signal(cloud, churn_config, churn_reference, stable):
    _config, text = churn_config
    always = text + "schedule: {mode: always}\n"
    deployment = deploy(cloud, loads_config(always), always, reference=churn_reference)
    _window(deployment, stable)

    described = cloud.wait(cloud.fire_schedule()[0])

    state = json.loads(described["output"])
    assert state["run"]["mode"] == "always"
    assert state["retrain"] is True
    assert state["outcome"] in {"promoted", "rejected"}


def test_an_alarm_of_an_unconfigured_model_fails_before_any_lock(cloud, churn_config, churn_reference):
    deploy(cloud, *churn_config, reference=churn_reference)
    event = cloud.alarm_event(ALARM)
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["model"] = "fraud"

    described = cloud.wait(cloud.deliver(event)[0])

    assert described["status"] == "FAILED"
    assert described["error"] == "ModelNotFound"
    assert "'fraud'" in described["cause"]


def test_every_alarm_registered_for_a_model_watches_a_metric_the_checks_publish(
    cloud, churn_config, churn_reference, stable
):
    # Given every signal enabled, and a window with some flagged predictions
    _, text = churn_config
    full = text.replace(
        "  drift: {share: 0.3}\n",
        "  drift: {share: 0.3}\n  flagged: {max_rate: 0.5}\n  estimated: {metric: accuracy, min: 0.5}\n",
    )
    deployment = deploy(cloud, loads_config(full), full, reference=churn_reference)
    config = deployment.config
    log, labels = production_log(
        config,
        stable,
        deployment.model,
        end=datetime.now(UTC),
        prefix="w",
        flagged=[i % 10 == 0 for i in range(len(stable))],
    )
    assert labels is not None
    mon = config.monitoring
    write_partitioned(deployment.settings.data_bucket, f"inference/{config.model}/", log, mon.timestamp_column, "p")
    write_partitioned(deployment.settings.data_bucket, f"labels/{config.model}/", labels, "labelled_at", "l")

    # When the checks run
    assert cloud.wait(cloud.fire_schedule()[0])["status"] == "SUCCEEDED"

    # Then each of the model's alarms (all four) watches a metric (namespace, name, dimensions) that has data
    cloudwatch = cloud.client("cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{cloud.stack_name}-{config.model}-")["MetricAlarms"]
    assert len(alarms) == 4
    for alarm in alarms:
        found = cloudwatch.list_metrics(
            Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"]
        )["Metrics"]
        assert found, f"{alarm['AlarmName']} watches {alarm['MetricName']}, which no check published"
