"""The adapters' region: ``retrain --region`` steers :mod:`retrain.aws`'s clients, not the process environment."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from retrain import aws

pytestmark = pytest.mark.unit

CLI = Path(__file__).parents[2] / "src" / "retrain" / "cli"


@pytest.fixture(autouse=True)
def _default_region(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset_clients()
    yield
    aws.reset_clients()


def test_use_region_creates_every_client_in_that_region():
    aws.use_region("eu-west-1")

    regions = {client().meta.region_name for client in (aws.s3, aws.dynamodb, aws.events, aws.cloudformation)}
    assert regions == {"eu-west-1"}
    assert aws.stepfunctions().meta.region_name == "eu-west-1"


def test_use_region_forgets_the_clients_made_before():
    before = aws.dynamodb()

    aws.use_region("eu-west-1")

    assert aws.dynamodb() is not before


def test_no_region_is_the_default_session_s_and_the_environment_is_left_alone():
    aws.use_region("eu-west-1")
    aws.use_region(None)

    assert aws.events().meta.region_name == "us-east-1"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"


def test_reset_clients_also_forgets_the_region():
    aws.use_region("eu-west-1")

    aws.reset_clients()

    assert aws.ssm().meta.region_name == "us-east-1"


def test_the_command_imports_no_boto3_and_writes_no_environment():
    for path in sorted(CLI.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "boto3" not in imported, path.name
        assert "os" not in imported, path.name
