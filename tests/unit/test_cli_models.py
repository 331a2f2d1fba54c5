"""``retrain models``: every version of a model with its status, lineage and why it was trained."""

from __future__ import annotations

import json

import pytest

from retrain import registry
from retrain.cli import main
from retrain.cli import models as models_cli

pytestmark = pytest.mark.unit

BASE = {"model": "churn", "artifact_uri": "s3://artifacts/models/churn/v1/model.skops", "snapshot_id": "ab" * 32}
#: One version per kind of trigger, and a bootstrapped first version written without a trigger record.
VERSIONS = [
    {**BASE, "version": 1, "status": "archived", "trigger": "bootstrap", "execution": "bootstrap-1"},
    {
        **BASE,
        "version": 2,
        "status": "archived",
        "trigger": "schedule",
        "triggered_by": {"kind": "schedule", "event_id": "s-1", "reason": "schedule trigger", "execution": "s-1"},
    },
    {
        **BASE,
        "version": 3,
        "status": "rejected",
        "trigger": "alarm",
        "triggered_by": {
            "kind": "alarm",
            "event_id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
            "reason": "alarm retrain-prod-churn-estimated is ALARM: Threshold Crossed",
            "execution": "a-1",
            "alarm": "retrain-prod-churn-estimated",
        },
    },
    {
        **BASE,
        "version": 4,
        "status": "champion",
        "trigger": "manual",
        "metrics": {"accuracy": 0.9},
        "triggered_by": {
            "kind": "manual",
            "event_id": "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
            "reason": "label backlog cleared",
            "execution": "m-1",
        },
    },
]


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables the command read (the registry is the four versions above; no AWS call is made)."""
    tables: list[str] = []

    def list_versions(table: str, model: str) -> list[registry.ModelVersion]:
        tables.append(table)
        assert model == "churn"
        return [registry.ModelVersion.from_item(item) for item in VERSIONS]

    monkeypatch.setattr(registry, "list_versions", list_versions)
    monkeypatch.setattr(models_cli, "use_region", lambda args: None)
    return tables


def _rows(out: str) -> dict[int, str]:
    header, *rows = out.splitlines()
    assert header.split()[-1] == "why"
    return {int(row.split()[0]): row for row in rows}


def test_the_table_says_why_each_version_was_trained(listed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # When the versions are listed as a table
    assert main(["models", "--model", "churn", "--table", "registry"]) == 0

    # Then each row ends with its trigger: the requester's reason and event, the alarm's name, or the schedule
    rows = _rows(capsys.readouterr().out)
    assert listed == ["registry"]
    assert rows[4].endswith('manual: "label backlog cleared" (event 1a2b3c4d…)')
    assert rows[3].endswith("alarm: retrain-prod-churn-estimated")
    assert rows[2].endswith("  schedule")
    # And a version registered without a trigger record shows none, its trigger kind still in its column
    assert rows[1].split()[:3] == ["1", "archived", "bootstrap"]
    assert rows[1].endswith("  -")


def test_the_json_holds_each_versions_trigger_record(listed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--model", "churn", "--table", "registry", "--json"]) == 0

    found = {v["version"]: v for v in json.loads(capsys.readouterr().out)}
    assert "triggered_by" not in found[1]
    assert found[2]["triggered_by"] == VERSIONS[1]["triggered_by"]
    assert found[3]["triggered_by"]["alarm"] == "retrain-prod-churn-estimated"
    assert found[4]["triggered_by"] == {
        "kind": "manual",
        "event_id": "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
        "reason": "label backlog cleared",
        "execution": "m-1",
    }
