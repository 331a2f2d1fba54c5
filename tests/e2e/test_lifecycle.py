"""Promotion, manual approval, rollback and the registry, on the local cloud."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest

from helpers import deploy
from retrain import registry
from retrain.champion import champion_parameter
from retrain.cli import main
from retrain.config import loads_config
from retrain.demo import generate_churn
from retrain.errors import PromotionConflict
from retrain.triggers import retrain_request

pytestmark = pytest.mark.e2e

ALARM = "retrain-churn-performance"


@pytest.fixture(scope="module")
def drifted():
    return generate_churn(1500, seed=41, drift=True)


def _with_approval(cloud, churn_config, churn_reference, timeout_hours=1.0):
    _, text = churn_config
    gated = text + f"approval: {{required: true, timeout_hours: {timeout_hours}}}\n"
    return deploy(cloud, loads_config(gated), gated, reference=churn_reference)


def _wait_for_approval_request(deployment, execution, timeout=60.0):
    name = execution.rsplit(":", 1)[-1]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if registry.get_approval(deployment.settings.registry_table, name):
            return name
        time.sleep(0.05)
    raise AssertionError(f"{name} never asked for approval")


def _champion_parameter(deployment):
    name = champion_parameter(deployment.settings, "churn")
    return json.loads(deployment.cloud.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])


def _cli(deployment, *args):
    return main([*args, "--table", deployment.settings.registry_table, "--region", "us-east-1"])


def test_a_promotion_publishes_the_champion_for_serving_code(deployed_churn, drifted):
    deployed_churn.write_window(drifted, end=datetime.now(UTC))
    assert _champion_parameter(deployed_churn)["version"] == 1

    described = deployed_churn.cloud.wait(deployed_churn.cloud.set_alarm_state(ALARM)[0])

    assert json.loads(described["output"])["outcome"] == "promoted"
    published = _champion_parameter(deployed_churn)
    champion = registry.get_champion(deployed_churn.settings.registry_table, "churn")
    assert champion is not None
    assert published == {
        "model": "churn",
        "version": 2,
        "artifact_uri": champion.artifact_uri,
        "sha256": champion.sha256,
    }


def test_an_approved_candidate_is_promoted(cloud, churn_config, churn_reference, drifted):
    deployment = _with_approval(cloud, churn_config, churn_reference)
    deployment.write_window(drifted, end=datetime.now(UTC))
    execution = cloud.set_alarm_state(ALARM)[0]
    run = _wait_for_approval_request(deployment, execution)
    champion = registry.get_champion(deployment.settings.registry_table, "churn")
    assert champion is not None
    assert champion.version == 1

    assert _cli(deployment, "approve", run, "--note", "looks good") == 0

    state = json.loads(cloud.wait(execution)["output"])
    assert state["outcome"] == "promoted"
    assert state["approval"] == {"approved": True, "note": "looks good"}
    assert registry.get_approval(deployment.settings.registry_table, run) is None


def test_a_rejected_candidate_is_recorded_with_the_reviewers_reason(cloud, churn_config, churn_reference, drifted):
    deployment = _with_approval(cloud, churn_config, churn_reference)
    deployment.write_window(drifted, end=datetime.now(UTC))
    execution = cloud.set_alarm_state(ALARM)[0]
    run = _wait_for_approval_request(deployment, execution)

    assert _cli(deployment, "reject", execution, "--reason", "holiday traffic, wait a week") == 0

    state = json.loads(cloud.wait(execution)["output"])
    assert state["outcome"] == "rejected"
    record = registry.get_version(deployment.settings.registry_table, "churn", 2)
    assert record is not None
    assert record.status == "rejected"
    assert record.reasons is not None
    assert "approval denied: holiday traffic, wait a week" in record.reasons
    champion = registry.get_champion(deployment.settings.registry_table, "churn")
    assert champion is not None
    assert champion.version == 1
    assert run


def test_an_unanswered_approval_times_out_as_a_rejection(cloud, churn_config, churn_reference, drifted):
    deployment = _with_approval(cloud, churn_config, churn_reference, timeout_hours=0.0003)  # about 1 s
    deployment.write_window(drifted, end=datetime.now(UTC))

    state = json.loads(cloud.wait(cloud.set_alarm_state(ALARM)[0])["output"])

    assert state["outcome"] == "rejected"
    assert state["rejection"]["reasons"] == ["approval timed out"]


def test_answering_a_run_that_waits_for_nothing_fails_clearly(deployed_churn, capsys):
    assert _cli(deployed_churn, "approve", "no-such-run") == 1
    assert "no run 'no-such-run' is waiting for approval" in capsys.readouterr().err


def test_rollback_restores_the_previous_champion_and_its_parameter(deployed_churn, drifted, capsys):
    deployed_churn.write_window(drifted, end=datetime.now(UTC))
    deployed_churn.cloud.wait(deployed_churn.cloud.set_alarm_state(ALARM)[0])
    table = deployed_churn.settings.registry_table
    before = registry.get_champion(table, "churn")
    assert before is not None
    assert before.version == 2

    assert _cli(deployed_churn, "rollback", "--model", "churn") == 0

    after = registry.get_champion(table, "churn")
    assert after is not None
    assert after.version == 1
    assert {v.version: v.status for v in registry.list_versions(table, "churn")} == {
        1: "champion",
        2: "archived",
    }
    assert _champion_parameter(deployed_churn)["version"] == 1
    assert "champion is v1 again (was v2)" in capsys.readouterr().out


def test_rollback_refuses_a_version_that_never_was_champion(deployed_churn, capsys):
    assert _cli(deployed_churn, "rollback", "--model", "churn", "--to", "1") == 1
    assert "already the champion" in capsys.readouterr().err


def test_two_promotions_racing_for_one_pointer_exactly_one_wins(deployed_churn, drifted):
    deployed_churn.write_window(drifted, end=datetime.now(UTC))
    table = deployed_churn.settings.registry_table
    champion, history = 1, {1: "champion"}
    for round_ in range(20):
        # Given two candidates validated against the same champion
        pair = []
        for side in ("first", "second"):
            pair.append(registry.next_version(table, "churn"))
            registry.register_version(table, "churn", pair[-1], _copy_of_v1(table, f"{side} of round {round_}"))

        # When both promote at once
        results = _promote_at_once(table, pair, expected=champion)

        # Then one wins, the other gets PromotionConflict, and nothing is half-written
        winners = [v for v, r in results.items() if not isinstance(r, PromotionConflict)]
        assert len(winners) == 1, f"round {round_}: {results}"
        winner, loser = winners[0], (set(pair) - set(winners)).pop()
        assert isinstance(results[loser], PromotionConflict), f"round {round_}: {results}"
        history |= {champion: "archived", winner: "champion", loser: "candidate"}
        statuses = {v.version: v.status for v in registry.list_versions(table, "churn")}
        assert statuses == history, f"round {round_}"
        pointer = registry.get_champion(table, "churn")
        assert pointer is not None
        assert pointer.version == winner
        champion = winner


def _promote_at_once(table, versions, *, expected):
    """Promote each of ``versions`` over ``expected`` in its own thread, all released together."""
    results: dict[int, object] = {}
    start = threading.Barrier(len(versions))

    def promote(version: int) -> None:
        start.wait(timeout=30)
        try:
            results[version] = registry.promote(table, "churn", version, expected=expected, execution=f"race-{version}")
        except PromotionConflict as exc:
            results[version] = exc

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _copy_of_v1(table, note):
    v1 = registry.get_version(table, "churn", 1)
    assert v1 is not None
    return {k: v1.fields()[k] for k in ("artifact_uri", "sha256", "snapshot_id")} | {"trigger": "manual", "note": note}


def test_models_lists_every_version_with_its_lineage(deployed_churn, capsys):
    assert _cli(deployed_churn, "models", "--model", "churn", "--json") == 0

    versions = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in versions] == [1]
    lineage = versions[0]
    assert lineage["status"] == "champion"
    assert not {"pk", "sk"} & set(lineage)  # the record's fields, not the table's key
    assert {"snapshot_id", "config_sha256", "libraries", "trigger", "execution", "sha256"} <= set(lineage)


def test_a_manual_trigger_cannot_promote_over_a_concurrent_promotion(deployed_churn, drifted):
    deployed_churn.write_window(drifted, end=datetime.now(UTC))
    cloud = deployed_churn.cloud
    executions = cloud.put_events([retrain_request("churn", reason="a")]) + cloud.set_alarm_state(ALARM)

    outcomes = sorted(json.loads(cloud.wait(e)["output"])["outcome"] for e in executions)

    assert outcomes == ["already-running", "promoted"]
