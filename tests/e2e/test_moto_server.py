"""The README's "Deploy to AWS" commands against a stack reached over HTTP (a moto server on loopback).

The server holds template.yaml's buckets and table as a CloudFormation stack
(:class:`retrain.local.server.MotoServerStack`); the CLI finds them from the
stack's outputs and talks to them through ``AWS_ENDPOINT_URL``, as it talks to
AWS through its regional endpoints.
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


@pytest.fixture(scope="module")
def stack() -> Iterator[MotoServerStack]:
    with MotoServerStack() as server, pointed_at(server):
        yield server


@pytest.fixture(scope="module")
def bootstrapped(stack, tmp_path_factory) -> MotoServerStack:
    reference = tmp_path_factory.mktemp("server") / "history.parquet"
    generate_churn(2000, seed=41).to_parquet(reference, index=False)
    code = main(["bootstrap", "--config", str(CONFIG), "--reference", str(reference), "--stack", "retrain"])
    assert code == 0
    return stack


def test_the_server_stack_has_the_templates_storage_and_outputs(stack):
    assert {"DataBucketName", "ArtifactBucketName", "RegistryTableName"} <= set(stack.outputs)
    buckets = {b["Name"] for b in stack.client("s3").list_buckets()["Buckets"]}
    assert {stack.outputs["DataBucketName"], stack.outputs["ArtifactBucketName"]} <= buckets
    versioning = stack.client("s3").get_bucket_versioning(Bucket=stack.outputs["DataBucketName"])
    assert versioning["Status"] == "Enabled"


def test_bootstrap_over_http_makes_a_gated_first_champion(bootstrapped):
    table = bootstrapped.outputs["RegistryTableName"]

    champion = registry.require_champion(table, "churn")

    assert champion.version == 1
    assert champion.trigger == "bootstrap"
    parameter = bootstrapped.client("ssm").get_parameter(Name="/retrain/champion/churn")["Parameter"]
    assert json.loads(parameter["Value"])["sha256"] == champion.sha256
    config = bootstrapped.client("s3").get_object(
        Bucket=bootstrapped.outputs["DataBucketName"], Key="configs/churn.yaml"
    )
    assert config["Body"].read().decode() == CONFIG.read_text()


def test_models_lists_the_champion_from_the_stacks_outputs(bootstrapped, capsys):
    assert main(["models", "--model", "churn", "--stack", "retrain"]) == 0

    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[:3] for row in rows] == [["1", "champion", "bootstrap"]]


def test_a_second_bootstrap_is_refused_and_changes_nothing(bootstrapped, tmp_path, capsys):
    reference = tmp_path / "again.csv"
    generate_churn(2000, seed=42).to_csv(reference, index=False)
    table = bootstrapped.outputs["RegistryTableName"]
    before = registry.list_versions(table, "churn")

    code = main(["bootstrap", "--config", str(CONFIG), "--reference", str(reference), "--stack", "retrain"])

    assert code == 1
    assert "ChampionExists" in capsys.readouterr().err
    assert registry.list_versions(table, "churn") == before


def test_bootstrap_on_a_stack_that_does_not_exist_names_it(stack, tmp_path, capsys):
    reference = tmp_path / "history.csv"
    generate_churn(500, seed=43).to_csv(reference, index=False)

    code = main(["bootstrap", "--config", str(CONFIG), "--reference", str(reference), "--stack", "nope"])

    assert code == 1
    assert "'nope'" in capsys.readouterr().err


def test_the_local_dry_run_ignores_an_endpoint_pointed_at_a_server(stack, tmp_path, capsys):
    # Given AWS_ENDPOINT_URL points at the server (pointed_at), a --local dry run still runs in-process
    reference = tmp_path / "history.parquet"
    generate_churn(2000, seed=44).to_parquet(reference, index=False)

    code = main(["bootstrap", "--config", str(CONFIG), "--reference", str(reference), "--local"])

    assert code == 0
    assert "would be promoted" in capsys.readouterr().out


def _fill(stack: MotoServerStack) -> None:
    """Versioned buckets holding overwritten and deleted objects (3 versions in the data bucket)."""
    s3 = stack.client("s3")
    bucket = stack.outputs["DataBucketName"]
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=bucket, Key="configs/churn.yaml", Body=body)
    s3.delete_object(Bucket=bucket, Key="configs/churn.yaml")
    s3.put_object(Bucket=stack.outputs["ArtifactBucketName"], Key="models/churn/v1/model.skops", Body=b"x")


def _buckets(stack: MotoServerStack) -> set[str]:
    return {b["Name"] for b in stack.client("s3").list_buckets()["Buckets"]}


def _tables(stack: MotoServerStack) -> set[str]:
    return set(stack.client("dynamodb").list_tables()["TableNames"])


def test_teardown_needs_yes_then_deletes_every_bucket_and_says_it_kept_the_registry(capsys):
    with MotoServerStack(stack_name="doomed") as doomed, pointed_at(doomed):
        _fill(doomed)
        stack_buckets = {
            r["PhysicalResourceId"]
            for r in doomed.client("cloudformation").describe_stack_resources(StackName="doomed")["StackResources"]
            if r["ResourceType"] == "AWS::S3::Bucket"
        }
        table = doomed.outputs["RegistryTableName"]

        # When teardown runs without --yes, nothing is deleted
        assert main(["teardown", "--stack", "doomed"]) == 2
        assert stack_buckets <= _buckets(doomed)

        # When it runs with --yes
        assert main(["teardown", "--stack", "doomed", "--yes"]) == 0

        # Then every bucket of the stack is gone, versions and all, and the retained registry table is kept
        assert not stack_buckets & _buckets(doomed)
        assert table in _tables(doomed)
    out = capsys.readouterr().out
    assert "3 object versions deleted, bucket deleted" in out
    assert f"kept: table {table}" in out
    assert "sam delete --stack-name doomed" in out


def test_teardown_keep_history_deletes_only_what_the_stack_deletes(capsys):
    with MotoServerStack(stack_name="doomed-kept") as doomed, pointed_at(doomed):
        _fill(doomed)
        kept = {doomed.outputs["DataBucketName"], doomed.outputs["ArtifactBucketName"]}

        assert main(["teardown", "--stack", "doomed-kept", "--yes", "--keep-history"]) == 0

        # The retained buckets keep every version; the access-log bucket (deleted with the stack) is gone
        assert kept <= _buckets(doomed)
        assert doomed.physical["AccessLogBucket"] not in _buckets(doomed)
        versions = doomed.client("s3").list_object_versions(Bucket=doomed.outputs["DataBucketName"])
        assert len(versions["Versions"]) == 2
        assert len(versions["DeleteMarkers"]) == 1
        assert doomed.outputs["RegistryTableName"] in _tables(doomed)
    out = capsys.readouterr().out
    assert all(f"kept: s3://{bucket}" in out for bucket in kept)


def test_teardown_delete_registry_deletes_the_retained_table_too(capsys):
    with MotoServerStack(stack_name="doomed-all") as doomed, pointed_at(doomed):
        table = doomed.outputs["RegistryTableName"]

        assert main(["teardown", "--stack", "doomed-all", "--yes", "--delete-registry"]) == 0

        assert table not in _tables(doomed)
    out = capsys.readouterr().out
    assert f"table {table}: deleted" in out
    assert "kept:" not in out


def test_teardown_refuses_to_keep_history_and_delete_the_registry():
    assert main(["teardown", "--stack", "doomed", "--yes", "--keep-history", "--delete-registry"]) == 2
