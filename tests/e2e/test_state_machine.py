"""The whole state machine, as deployed (template.yaml + the ASL file), on the local cloud."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from retrain import registry
from retrain.config import loads_config
from retrain.demo import CONFIG, generate_churn
from retrain.lifecycle import bootstrap
from retrain.local.cloud import LocalCloud
from retrain.local.run import run_in_cloud, settings_of

pytestmark = pytest.mark.e2e

CONFIG_TEXT = Path(CONFIG).read_text()


@pytest.fixture(scope="module")
def reference():
    return generate_churn(3000, seed=11)


@pytest.fixture(scope="module")
def stable():
    return generate_churn(1500, seed=12)


@pytest.fixture(scope="module")
def drifted():
    return generate_churn(1500, seed=13, drift=True)


@pytest.fixture
def cloud():
    with LocalCloud() as local:
        yield local


def _run(cloud, window, reference, *, trigger="schedule", text=CONFIG_TEXT):
    config = loads_config(text)
    return run_in_cloud(cloud, config, text, reference, window, trigger=trigger)


def _deploy(cloud, reference, text=CONFIG_TEXT):
    """Make v1 the champion and register the model (config, schedule, alarms), without running a window."""
    config = loads_config(text)
    settings = settings_of(cloud)
    bootstrap(settings, config, text, reference, stack=cloud.fleet)
    return settings


def _hold_lock(cloud, table, owner, *, expires_in):
    """Write the model's lock as a run named ``owner`` would, expiring ``expires_in`` seconds from now."""
    cloud.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": "MODEL#churn"},
            "sk": {"S": "LOCK"},
            "owner": {"S": owner},
            "expires_at": {"N": str(int(time.time()) + expires_in)},
        },
    )


def _lock(cloud, model="churn"):
    table = settings_of(cloud).registry_table
    item = cloud.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": registry.model_pk(model)}, "sk": {"S": "LOCK"}}
    )
    return item.get("Item")


def test_schedule_without_drift_ends_in_no_retrain(cloud, reference, stable):
    # When the stable window is checked on schedule
    result = _run(cloud, stable, reference)

    # Then nothing fires, nothing is trained, v1 stays champion and the lock is released
    assert result["outcome"] == "no-retrain"
    assert result["triggered"] is False
    assert result["checks"]["drift"]["fired"] is False
    assert result["checks"]["metrics"]["accuracy"] >= 0.8
    assert result["candidate"] is None
    assert result["champion_version"] == 1
    assert _lock(cloud) is None


def test_schedule_with_drift_and_worse_metrics_promotes_a_better_candidate(cloud, reference, drifted):
    result = _run(cloud, drifted, reference)

    assert result["outcome"] == "promoted"
    assert result["triggered"] is True
    assert any(r.startswith("accuracy") for r in result["reasons"])
    assert result["checks"]["drift"]["fired"] is True
    assert result["champion_version"] == 2
    assert result["candidate"]["metrics"]["accuracy"] > result["champion"]["metrics"]["accuracy"]
    assert {g["name"]: g["passed"] for g in result["gates"]} == {
        "prediction sanity": True,
        "min accuracy": True,
        "vs champion": True,
    }
    versions = {v.version: v.status for v in registry.list_versions(settings_of(cloud).registry_table, "churn")}
    assert versions == {1: "archived", 2: "champion"}
    assert _lock(cloud) is None


def test_alarm_state_change_starts_retraining(cloud, reference, drifted):
    result = _run(cloud, drifted, reference, trigger="alarm")

    assert result["trigger"] == "alarm"
    assert result["triggered"] is True
    assert result["reasons"][0].startswith("alarm retrain-churn-performance is ALARM")
    assert result["outcome"] == "promoted"


def test_manual_trigger_retrains_even_without_a_signal(cloud, reference, stable):
    result = _run(cloud, stable, reference, trigger="manual")

    assert result["trigger"] == "manual"
    assert result["triggered"] is True
    assert result["outcome"] in {"promoted", "rejected"}
    assert result["snapshot"]["rows"] == len(stable)


def test_a_window_missing_a_feature_fails_naming_the_column_and_keeps_the_champion(cloud, reference, drifted):
    broken = drifted.drop(columns=["monthly_charges"])

    result = _run(cloud, broken, reference)

    assert result["outcome"] == "failed"
    assert "SchemaMismatch" in result["error"]
    assert "'monthly_charges'" in result["error"]
    assert result["champion_version"] == 1
    assert _lock(cloud) is None


def test_a_candidate_below_the_floor_is_rejected_and_recorded(cloud, reference, drifted):
    strict = CONFIG_TEXT.replace("min: {accuracy: 0.8}\n", "min: {accuracy: 0.99}\n")
    assert strict != CONFIG_TEXT
    _deploy(cloud, reference)  # v1 under the usual floor: a first champion faces the floors too

    result = _run(cloud, drifted, reference, text=strict)

    assert result["outcome"] == "rejected"
    assert result["champion_version"] == 1
    assert "min accuracy: " in " ".join(result["reasons"])
    record = registry.get_version(settings_of(cloud).registry_table, "churn", 2)
    assert record is not None
    assert record.status == "rejected"
    assert record.reasons is not None
    assert "min accuracy" in record.reasons
    assert _lock(cloud) is None


def test_a_second_trigger_while_one_runs_ends_already_running(cloud, reference):
    # Given a run in progress (its lock is held and not expired)
    _hold_lock(cloud, _deploy(cloud, reference).registry_table, "another-execution", expires_in=600)

    # When the schedule fires
    execution = cloud.fire_schedule()[0]
    described = cloud.wait(execution)

    # Then this run ends at once and leaves the other run's lock alone
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["outcome"] == "already-running"
    assert _lock(cloud)["owner"]["S"] == "another-execution"


def test_an_expired_lock_is_taken_over(cloud, reference):
    _hold_lock(cloud, _deploy(cloud, reference).registry_table, "crashed-execution", expires_in=-1)

    described = cloud.wait(cloud.fire_schedule()[0])

    assert json.loads(described["output"])["outcome"] == "no-retrain"
    assert _lock(cloud) is None


def test_a_trigger_for_an_unconfigured_model_fails_before_taking_the_lock(cloud):
    arn = cloud.start_execution({"trigger": "manual", "model": "unknown-model"}, name="manual-unknown")

    described = cloud.wait(arn)

    assert described["status"] == "FAILED"
    assert described["error"] == "ModelNotFound"
    assert "unknown-model" in described["cause"]
