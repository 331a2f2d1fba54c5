"""`retrain local-run` and `retrain validate-config`: the command-line contract."""

from __future__ import annotations

import json

import pytest

from helpers import RESULT_CONTRACT
from retrain.cli import main
from retrain.demo import CONFIG, generate_churn

pytestmark = pytest.mark.e2e

CONTRACT = RESULT_CONTRACT


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    paths = {
        "reference": root / "reference.parquet",
        "drifted": root / "drifted.csv",
        "broken": root / "broken.csv",
    }
    generate_churn(3000, seed=21).to_parquet(paths["reference"], index=False)
    drifted = generate_churn(1500, seed=22, drift=True)
    drifted.to_csv(paths["drifted"], index=False)
    drifted.drop(columns=["contract"]).to_csv(paths["broken"], index=False)
    return paths


def test_local_run_writes_the_result_contract_and_exits_zero(files, tmp_path, capsys):
    args = ["local-run", "--config", str(CONFIG), "--reference", str(files["reference"])]
    code = main([*args, "--current", str(files["drifted"]), "--out", str(tmp_path)])

    result = json.loads((tmp_path / "result.json").read_text())
    assert code == 0
    assert set(result) >= CONTRACT
    assert result["outcome"] == "promoted"
    assert result["trigger"] == "schedule"
    assert result["execution_arn"].startswith("arn:aws:states:")
    assert result["champion_version"] == 2
    assert result["checks"]["metrics"]["n"] == 1500
    assert set(result["checks"]["drift"]["features"]["tenure_months"]) >= {
        "method",
        "statistic",
        "p_value",
        "fired",
    }
    assert result["candidate"]["version"] == 2
    lineage = result["lineage"]
    assert lineage["snapshot_id"] == result["snapshot"]["id"]
    assert lineage["sha256"] == result["candidate"]["sha256"]
    assert lineage["trigger"] == "schedule"
    assert lineage["execution"] == result["execution_arn"].rsplit(":", 1)[-1]
    assert {"scikit-learn", "python", "retrain"} <= set(lineage["libraries"])
    assert result["champion"]["version"] == 1
    assert result["error"] is None
    printed = capsys.readouterr().out
    assert "Promote" in printed
    assert "outcome: promoted" in printed


def test_local_run_with_a_missing_column_exits_nonzero_naming_it(files, tmp_path):
    args = ["local-run", "--config", str(CONFIG), "--reference", str(files["reference"])]
    code = main([*args, "--current", str(files["broken"]), "--out", str(tmp_path)])

    result = json.loads((tmp_path / "result.json").read_text())
    assert code != 0
    assert result["outcome"] == "failed"
    assert "'contract'" in result["error"]
    assert result["champion_version"] == 1


def test_local_run_with_a_missing_file_fails_cleanly(files, tmp_path):
    args = ["local-run", "--config", str(CONFIG), "--reference", str(files["reference"])]
    code = main([*args, "--current", str(tmp_path / "nope.csv"), "--out", str(tmp_path)])

    result = json.loads((tmp_path / "result.json").read_text())
    assert code != 0
    assert result["outcome"] == "failed"
    assert "nope.csv" in result["error"]


def test_validate_config_accepts_the_example_and_names_a_bad_field(tmp_path, capsys):
    assert main(["validate-config", str(CONFIG)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.read_text().replace("target: churned", "target: churned\ntargte: oops"))

    assert main(["validate-config", str(bad)]) == 2
    assert "targte" in capsys.readouterr().err


def test_trigger_puts_a_retrain_requested_event_the_stack_routes_to_the_state_machine(capsys):
    from retrain.local import patches
    from retrain.local.cloud import LocalCloud

    with LocalCloud() as cloud:
        before = len(patches.STARTED)

        code = main(["trigger", "--model", "churn", "--reason", "labels arrived", "--force", "--region", "us-east-1"])

        assert code == 0
        started = patches.STARTED[before:]
        assert len(started) == 1
        execution = cloud.client("stepfunctions").describe_execution(executionArn=started[0])
        event = json.loads(execution["input"])
        assert event["source"] == "retrain.cli"
        assert event["detail"] == {"model": "churn", "reason": "labels arrived", "force": True}
        assert "Retrain Requested for 'churn'" in capsys.readouterr().out


def test_trigger_refuses_an_invalid_model_name(capsys):
    assert main(["trigger", "--model", "Not A Model", "--region", "us-east-1"]) == 1
    assert "Not A Model" in capsys.readouterr().err
