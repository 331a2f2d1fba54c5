"""Every execution ends with its report: report.json and report.html under reports/<model>/<execution>/.

The Report step builds report.json from the state the run ends with; the CLI
builds result.json from DescribeExecution and the execution's history. Both go
through one builder (:func:`retrain.result.assemble`), so for the same run
they agree, field by field, on every path: promoted, no-retrain, failed.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import register_stack
from retrain import aws, layout, registry, result
from retrain.config import loads_config
from retrain.demo import CONFIG, generate_churn
from retrain.local.cloud import LocalCloud
from retrain.local.run import fire, run_in_cloud, settings_of

pytestmark = pytest.mark.e2e

CONFIG_TEXT = Path(CONFIG).read_text()
CONFIG_MODEL = loads_config(CONFIG_TEXT)
#: Fields of the contract both builders fill from the run itself (not from where they were called).
SAME = (
    "outcome",
    "model",
    "trigger",
    "execution",
    "execution_arn",
    "triggered",
    "reasons",
    "champion_version",
    "checks",
    "snapshot",
    "candidate",
    "champion",
    "gates",
    "error",
    "error_type",
    "reconcile",
)


@pytest.fixture(scope="module")
def cloud():
    with LocalCloud() as local:
        yield local


@pytest.fixture(scope="module")
def reference():
    return generate_churn(3000, seed=21)


@pytest.fixture(autouse=True)
def fresh_window(cloud):
    """Each test's window alone in the data bucket, and no scheduled delivery remembered from the last test."""
    settings = settings_of(cloud)
    for prefix in ("inference/churn/", "labels/churn/"):
        for item in list(aws.list_objects(settings.data_bucket, prefix)):
            aws.s3().delete_object(Bucket=settings.data_bucket, Key=item["key"])
    table = settings.registry_table
    for item in aws.dynamodb().scan(TableName=table)["Items"]:
        if item["sk"]["S"].startswith("EVENT#schedule-"):  # triggers.dedupe_minutes: one run per slot
            aws.dynamodb().delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def _report_of(cloud: LocalCloud, execution_arn: str) -> tuple[dict, str]:
    settings = settings_of(cloud)
    execution = execution_arn.rsplit(":", 1)[-1]
    key = layout.report_key("churn", execution)
    report = aws.get_json(settings.artifact_bucket, key)
    page = aws.get_bytes(settings.artifact_bucket, key.replace("report.json", "report.html")).decode()
    return report, page


def _built_from_history(cloud: LocalCloud, execution_arn: str, *, before: int) -> dict:
    """What the CLI builds without the Report step: DescribeExecution and the history."""
    described = cloud.client("stepfunctions").describe_execution(executionArn=execution_arn)
    after = registry.get_champion(settings_of(cloud).registry_table, "churn")
    return result.build(
        described,
        trigger="schedule",
        champion_before=before,
        champion_after=after.version if after else None,
        history=cloud.history(execution_arn),
    )


def _same(report: dict, built: dict) -> None:
    for field in SAME:
        assert report[field] == json.loads(json.dumps(built[field], default=str)), field


def test_a_promoted_run_reports_why_and_what_it_promoted(cloud, reference):
    # When a drifted window is checked on schedule and its candidate promoted
    run = run_in_cloud(cloud, CONFIG_MODEL, CONFIG_TEXT, reference, generate_churn(1500, seed=22, drift=True))
    assert run["outcome"] == "promoted"

    # Then its report is in the artifact bucket and the execution's output points at it
    report, page = _report_of(cloud, run["execution_arn"])
    described = cloud.client("stepfunctions").describe_execution(executionArn=run["execution_arn"])
    output = json.loads(described["output"])
    assert output["report"] == report["report"]
    assert output["report"]["html_uri"].endswith(f"/reports/churn/{report['execution']}/report.html")
    # And it says what the CLI's result says
    _same(report, _built_from_history(cloud, run["execution_arn"], before=1))
    assert report["lineage"]["version"] == 2
    assert report["lineage"]["libraries"]["scikit-learn"]
    # With every feature's distributions and one drift mark per feature on the page
    features = report["checks"]["drift"]["features"]
    assert set(report["distributions"]) == set(features) == set(CONFIG_MODEL.features.all)
    assert len(re.findall(r'class="drift-mark[ "]', page)) == len(features)


def test_a_run_held_back_by_the_cooldown_is_reported_too(cloud, reference):
    # When the old distribution comes back right after v2 (trained on the drifted window) was promoted
    run = run_in_cloud(cloud, CONFIG_MODEL, CONFIG_TEXT, reference, generate_churn(1500, seed=23))

    # Then drift fires again, the cooldown holds the retrain back, and the report says both
    report, _ = _report_of(cloud, run["execution_arn"])
    assert report["outcome"] == run["outcome"] == "cooldown"
    assert report["triggered"]
    assert report["reasons"]
    _same(report, _built_from_history(cloud, run["execution_arn"], before=2))


def test_a_failed_run_is_reported_with_its_failed_step_and_error(cloud):
    # Given the window's inference log is not Parquet at all
    bucket = settings_of(cloud).data_bucket
    day = datetime.now(UTC).date()
    aws.put_bytes(bucket, f"inference/churn/date={day.isoformat()}/predictions.parquet", b"PAR1 not parquet PAR1")

    # When the schedule fires
    execution = fire(cloud, "schedule", "churn")
    described = cloud.wait(execution)

    # Then the run fails with the checks' error, and its report says so
    assert described["status"] == "FAILED"
    report, page = _report_of(cloud, execution)
    built = _built_from_history(cloud, execution, before=2)
    _same(report, built)
    assert report["outcome"] == "failed"
    assert report["error_type"] == "UnreadableData"
    assert report["champion_version"] == 2  # the champion is unchanged
    assert "UnreadableData" in page


def test_a_report_that_cannot_be_written_never_changes_the_outcome(cloud, monkeypatch):
    # Given the Report step fails (its writes refused)
    from retrain.steps import report as step

    def refuse(*args, **kwargs):
        raise RuntimeError("reports bucket refused the write")

    monkeypatch.setattr(step, "run", refuse)

    # When a run with no data to check ends
    execution = fire(cloud, "schedule", "churn")
    described = cloud.wait(execution)

    # Then it ends as it would have, with the report's error on record
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["outcome"] == "no-retrain"
    assert "reports bucket refused the write" in output["report_error"]["Cause"]
    assert "report" not in output


def test_retrain_report_downloads_a_runs_report_by_name_or_arn(cloud, tmp_path, capsys):
    # Given the stack's finished runs
    from retrain.cli import main

    stack = register_stack(cloud, "reports-stack")
    settings = settings_of(cloud)
    keys = [
        i["key"] for i in aws.list_objects(settings.artifact_bucket, "reports/churn/") if i["key"].endswith(".json")
    ]
    execution = next(k.split("/")[2] for k in keys if k.endswith("/report.json"))
    stored = aws.get_json(settings.artifact_bucket, layout.report_key("churn", execution))
    arn = stored["execution_arn"]

    # When a person asks for one run's report, by execution name or by ARN
    for run, out in ((execution, tmp_path / "by-name"), (arn, tmp_path / "by-arn")):
        assert main(["report", run, "--stack", stack, "--out", str(out)]) == 0

        # Then report.json (and result.json, the same) and the stored page are in the folder, and their paths printed
        assert json.loads((out / "report.json").read_text()) == stored
        assert json.loads((out / "result.json").read_text()) == stored
        page = aws.get_bytes(settings.artifact_bucket, layout.report_key("churn", execution, "report.html"))
        assert (out / "report.html").read_bytes() == page
        printed = capsys.readouterr().out
        assert str(out / "report.html") in printed
        assert stored["outcome"] in printed


def test_retrain_report_names_a_run_it_cannot_find(cloud, tmp_path, capsys):
    from retrain.cli import main

    stack = register_stack(cloud, "reports-stack-2")

    assert main(["report", "no-such-run", "--stack", stack, "--out", str(tmp_path)]) == 1
    assert "no report of run 'no-such-run'" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_retrain_report_renders_a_local_runs_folder_again(tmp_path, capsys):
    from retrain.cli import main

    report = json.loads((Path(__file__).parents[1] / "report_real_promoted.json").read_text())
    (tmp_path / "result.json").write_text(json.dumps(report))

    assert main(["report", str(tmp_path)]) == 0

    assert json.loads((tmp_path / "report.json").read_text()) == report
    assert "<!DOCTYPE html>" in (tmp_path / "report.html").read_text()
