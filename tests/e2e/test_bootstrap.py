"""`retrain bootstrap`: the first champion, through the steps' own code and gates, on any stack.

The CLI finds the stack's buckets and table from CloudFormation ``describe_stacks``
outputs only; ``register_stack`` gives the in-process local cloud such a stack.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import register_stack
from retrain import aws, registry
from retrain.cli import main
from retrain.demo import CONFIG, generate_churn

pytestmark = pytest.mark.e2e

STACK = ["--stack", "retrain", "--region", "us-east-1"]
PARAMETER = "/retrain/champion/churn"
STRICT = CONFIG.read_text().replace("min: {accuracy: 0.8}", "min: {accuracy: 0.999}")


@pytest.fixture(scope="module")
def files(tmp_path_factory, churn_reference):
    root = tmp_path_factory.mktemp("bootstrap")
    paths = {
        "reference": root / "reference.parquet",
        "drifted": root / "drifted.parquet",
        "current": root / "current.csv",
        "strict": root / "strict.yaml",
    }
    churn_reference.to_parquet(paths["reference"], index=False)
    generate_churn(3000, seed=51, drift=True).to_parquet(paths["drifted"], index=False)
    generate_churn(600, seed=52).to_csv(paths["current"], index=False)
    assert CONFIG.read_text() != STRICT
    paths["strict"].write_text(STRICT)
    return paths


def _bootstrap(config, reference, *extra):
    return main(["bootstrap", "--config", str(config), "--reference", str(reference), *extra])


def _keys(cloud, bucket):
    return sorted(o["Key"] for o in cloud.client("s3").list_objects_v2(Bucket=bucket).get("Contents", []))


def _everything(cloud, settings):
    """Every object of both buckets and every registry item: what a command may have written."""
    items = cloud.client("dynamodb").scan(TableName=settings.registry_table)["Items"]
    return {
        "data": _keys(cloud, settings.data_bucket),
        "artifacts": _keys(cloud, settings.artifact_bucket),
        "registry": sorted((i["pk"]["S"], i["sk"]["S"], json.dumps(i, sort_keys=True)) for i in items),
    }


def _parameter(cloud):
    ssm = cloud.client("ssm")
    names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    return json.loads(ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]) if PARAMETER in names else None


def _statuses(settings):
    return {v.version: v.status for v in registry.list_versions(settings.registry_table, "churn")}


# ----------------------------------------------------------------------------------- promoted
def test_a_first_champion_that_passes_its_floors_is_promoted_and_published(cloud, settings, files, capsys):
    # Given a stack with no model yet
    register_stack(cloud)

    # When the reference is bootstrapped with the example config
    code = _bootstrap(CONFIG, files["reference"], *STACK)

    # Then v1 is the champion, published for serving code, and the config is deployed
    assert code == 0
    champion = registry.get_champion(settings.registry_table, "churn")
    assert champion is not None
    assert champion.version == 1
    assert champion.trigger == "bootstrap"
    assert _parameter(cloud) == {
        "model": "churn",
        "version": 1,
        "artifact_uri": champion.artifact_uri,
        "sha256": champion.sha256,
    }
    stored = cloud.client("s3").get_object(Bucket=settings.data_bucket, Key="configs/churn.yaml")["Body"].read()
    assert stored.decode() == CONFIG.read_text()
    printed = capsys.readouterr().out
    assert "pass  min accuracy" in printed
    assert "promoted: churn v1 is the champion" in printed


def test_a_bootstrapped_version_keeps_its_snapshot_gates_and_lineage(cloud, settings, files, capsys):
    # Given a bootstrapped first champion
    register_stack(cloud)
    assert _bootstrap(CONFIG, files["reference"], *STACK) == 0
    capsys.readouterr()

    # When its versions are listed
    code = main(["models", "--model", "churn", "--json", *STACK])

    # Then v1 names its snapshot (whose manifest records the split), its gates and its lineage
    assert code == 0
    (v1,) = json.loads(capsys.readouterr().out)
    assert (v1["version"], v1["status"], v1["trigger"]) == (1, "champion", "bootstrap")
    assert [g["name"] for g in v1["gates"]] == ["prediction sanity", "min accuracy"]
    assert all(g["passed"] for g in v1["gates"])
    assert v1["compared_with"] == 0
    assert {"config_sha256", "libraries", "sha256", "execution"} <= set(v1)
    manifest = aws.get_json(settings.artifact_bucket, f"snapshots/churn/{v1['snapshot_id']}/manifest.json")
    assert manifest["rows"] == 2000
    assert manifest["trigger"] == "bootstrap"
    assert manifest["split"] == {"method": "order", "train_rows": 1600, "holdout_rows": 400}
    references = [k for k in _keys(cloud, settings.data_bucket) if k.startswith("reference/churn/")]
    assert [source["key"] for source in manifest["sources"]] == references
    assert len(references) == 1


# ----------------------------------------------------------------------------------- rejected
def test_a_first_version_below_its_floor_is_rejected_and_nothing_is_promoted(cloud, settings, files, capsys):
    # Given a config whose accuracy floor no model reaches
    register_stack(cloud)

    # When it is bootstrapped
    code = _bootstrap(files["strict"], files["reference"], *STACK)

    # Then the command fails naming the gate with value and limit; v1 is recorded rejected, nothing else moves
    assert code == 1
    err = capsys.readouterr().err
    assert "churn v1 rejected" in err
    assert "min accuracy: 0." in err
    assert "< 0.9990" in err
    assert registry.get_champion(settings.registry_table, "churn") is None
    record = registry.get_version(settings.registry_table, "churn", 1)
    assert record is not None
    assert record.status == "rejected"
    assert record.reasons is not None
    assert [r.split(":")[0] for r in json.loads(record.reasons)] == ["min accuracy"]
    assert _keys(cloud, settings.data_bucket) == []  # no config, no reference
    assert _parameter(cloud) is None


def test_a_rejected_first_version_is_listed_as_rejected(cloud, settings, files, capsys):
    # Given a bootstrap its floor rejected
    register_stack(cloud)
    assert _bootstrap(files["strict"], files["reference"], *STACK) == 1
    capsys.readouterr()

    # When the versions are listed
    assert main(["models", "--model", "churn", *STACK]) == 0

    # Then v1 shows as rejected
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("1 ")]
    assert row.split()[:3] == ["1", "rejected", "bootstrap"]


# ------------------------------------------------------------------------ an existing champion
def test_a_model_with_a_champion_is_refused_and_nothing_is_written(deployed_churn, files, capsys):
    # Given churn with champion v1
    cloud, settings = deployed_churn.cloud, deployed_churn.settings
    register_stack(cloud)
    before = _everything(cloud, settings)

    # When it is bootstrapped again without --force
    code = _bootstrap(CONFIG, files["drifted"], *STACK)

    # Then it is refused, naming the champion and --force, and nothing changed
    assert code == 1
    err = capsys.readouterr().err
    assert "ChampionExists" in err
    assert "v1" in err
    assert "--force" in err
    assert _everything(cloud, settings) == before


def test_force_promotes_a_candidate_that_beats_the_champion(deployed_churn, files, capsys):
    # Given churn with champion v1, and recent history where v1 has decayed
    cloud, settings = deployed_churn.cloud, deployed_churn.settings
    register_stack(cloud)

    # When the new history is bootstrapped with --force
    code = _bootstrap(CONFIG, files["drifted"], "--force", *STACK)

    # Then v2 faced every gate against v1 on the same holdout, passed, and replaced it
    assert code == 0
    record = registry.get_version(settings.registry_table, "churn", 2)
    assert record is not None
    assert record.compared_with == 1
    assert record.gates is not None
    assert [g["name"] for g in record.gates] == ["prediction sanity", "min accuracy", "vs champion"]
    assert _statuses(settings) == {1: "archived", 2: "champion"}
    assert _parameter(cloud)["version"] == 2
    assert "promoted: churn v2 is the champion (was v1)" in capsys.readouterr().out


def test_force_rejects_a_candidate_worse_than_the_champion(deployed_churn, churn_reference, tmp_path, capsys):
    # Given churn with champion v1, and a reference whose training rows carry shuffled labels
    cloud, settings = deployed_churn.cloud, deployed_churn.settings
    register_stack(cloud)
    labels = churn_reference["churned"].to_numpy().copy()
    labels[:1600] = np.random.default_rng(3).permutation(labels[:1600])  # the holdout (last 400) keeps its labels
    churn_reference.assign(churned=labels).to_parquet(tmp_path / "noisy.parquet", index=False)

    # When it is bootstrapped with --force
    code = _bootstrap(CONFIG, tmp_path / "noisy.parquet", "--force", *STACK)

    # Then v2 is rejected against v1, and v1 stays champion
    assert code == 1
    assert "vs champion: accuracy" in capsys.readouterr().err
    assert _statuses(settings) == {1: "champion", 2: "rejected"}
    assert _parameter(cloud)["version"] == 1


# ----------------------------------------------------------------------------- invalid input
@pytest.mark.parametrize(
    ("case", "named"),
    [
        ("config with an unknown field", "targte"),
        ("config with an estimator off the allowlist", "SVC"),
        ("reference missing a column", "'contract'"),
        ("reference with too few rows", "training.min_rows == 200"),
        ("reference with one class", "a classifier needs at least 2"),
        ("reference that does not exist", "nope.parquet"),
    ],
)
def test_invalid_input_exits_2_naming_the_problem_and_writes_nothing(
    cloud, settings, churn_reference, tmp_path, capsys, case, named
):
    # Given a stack, and a config or reference the training would refuse
    register_stack(cloud)
    config, reference = tmp_path / "config.yaml", tmp_path / "reference.csv"
    text = CONFIG.read_text()
    frame = churn_reference
    if case == "config with an unknown field":
        text = text.replace("target: churned", "target: churned\ntargte: oops")
    elif case == "config with an estimator off the allowlist":
        text = text.replace("estimator: HistGradientBoostingClassifier", "estimator: SVC").replace(
            "params: {max_iter: 100, learning_rate: 0.1}", "params: {}"
        )
    elif case == "reference missing a column":
        frame = frame.drop(columns=["contract"])
    elif case == "reference with too few rows":
        frame = frame.head(150)
    elif case == "reference with one class":
        frame = frame.assign(churned=0)
    config.write_text(text)
    frame.to_csv(reference, index=False)
    if case == "reference that does not exist":
        reference = tmp_path / "nope.parquet"

    # When it is bootstrapped
    code = _bootstrap(config, reference, *STACK)

    # Then the command exits 2 naming the problem, and neither bucket nor the registry holds anything
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("invalid input: ")
    assert named in err
    assert _everything(cloud, settings) == {"data": [], "artifacts": [], "registry": []}


# ------------------------------------------------------------------------------ --local, local-run
def test_a_local_dry_run_reports_the_gates_of_an_acceptable_first_champion(files, capsys):
    # Given no stack at all

    # When the example config and reference are bootstrapped on an ephemeral local cloud
    code = _bootstrap(CONFIG, files["reference"], "--local")

    # Then the report lists every gate and says v1 would be promoted
    assert code == 0
    printed = capsys.readouterr().out
    assert "dry run" in printed
    assert "pass  prediction sanity" in printed
    assert "pass  min accuracy" in printed
    assert "would be promoted: churn v1 is the champion" in printed


def test_a_local_dry_run_of_an_impossible_floor_exits_1_naming_the_gate(files, capsys):
    # When a config whose floor no model reaches is tried on an ephemeral local cloud
    code = _bootstrap(files["strict"], files["reference"], "--local")

    # Then the same report shows the failed gate, and the command fails naming it
    assert code == 1
    captured = capsys.readouterr()
    assert "FAIL  min accuracy" in captured.out
    assert "min accuracy: 0." in captured.err
    assert "< 0.9990" in captured.err


def test_local_run_refuses_a_first_champion_below_its_floor(files, tmp_path):
    # When local-run is given a config whose floor v1 cannot reach
    args = ["local-run", "--config", str(files["strict"]), "--reference", str(files["reference"])]
    code = main([*args, "--current", str(files["current"]), "--out", str(tmp_path)])

    # Then no window runs: the outcome is failed, naming the gate, and there is no champion
    result = json.loads((tmp_path / "result.json").read_text())
    assert code == 1
    assert result["outcome"] == "failed"
    assert result["error"].startswith("BootstrapRejected: churn v1 rejected")
    assert "min accuracy: " in result["error"]
    assert result["champion_version"] is None
