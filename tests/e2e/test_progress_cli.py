"""What a local run prints, checked against the execution's own history: every state, in order, no gaps.

Both cases run on one local cloud whose ``churn`` champion, v1, was trained
once (``module_churn``); each starts from an empty inference log and uses the
manual trigger (a new event each time: no schedule slot is deduplicated). The
printed state names must equal, in order, the name of every ``...StateExited``
event of the history, then the states entered and never left (the Fail state).
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from typing import Any

import pytest

from retrain import aws
from retrain.cli import main
from retrain.demo import CONFIG, generate_churn
from retrain.layout import inference_prefix, labels_prefix
from retrain.local.cloud import LocalCloud
from retrain.local.progress import Console, Progress, StatePrinter
from retrain.local.run import run_in_cloud, settings_of

pytestmark = pytest.mark.e2e

#: A state's line: ``  +   3.41 s  ✓ Snapshot   task   0.42 s`` (plain: no terminal, no color).
STATE_LINE = re.compile(r"^  \+\s*\d+\.\d\d s  (✓|✗) (\S+)", re.M)


def states_of(history: list[dict[str, Any]]) -> list[str]:
    """Every state the history left, in order, then every state it entered and never left."""
    left = [e["stateExitedEventDetails"]["name"] for e in history if e["type"].endswith("StateExited")]
    unmatched = Counter(left)
    never_left = []
    for event in history:
        if event["type"].endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            if unmatched[name]:
                unmatched[name] -= 1
            else:
                never_left.append(name)
    return left + never_left


@pytest.fixture
def cloud(reused_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> LocalCloud:
    """The shared cloud with an empty inference log; output plain whatever the environment says."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    settings = settings_of(reused_cloud)
    for prefix in (inference_prefix("churn"), labels_prefix("churn")):
        for obj in aws.list_objects(settings.data_bucket, prefix):
            aws.s3().delete_object(Bucket=settings.data_bucket, Key=obj["key"])
    return reused_cloud


def test_local_run_prints_every_state_of_the_history_in_order(cloud, tmp_path, capsys):
    # Given a drifted window, run through the command line
    window = tmp_path / "cur.csv"
    generate_churn(1500, seed=13, drift=True).to_csv(window, index=False)
    reference = tmp_path / "ref.parquet"
    generate_churn(2000, seed=1).to_parquet(reference, index=False)

    code = main(
        [
            "local-run",
            "--config",
            str(CONFIG),
            "--reference",
            str(reference),
            "--current",
            str(window),
            "--trigger",
            "manual",
            "--out",
            str(tmp_path / "out"),
        ]
    )

    # Then every state of the history is printed once, in history order
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert code == 0
    history = cloud.history(result["execution_arn"])
    assert [name for _, name in STATE_LINE.findall(printed)] == states_of(history)
    assert "✗" not in printed
    # And the phases before the execution, each with its start line and its done line
    for phase in (
        "starting the local cloud",
        "scoring cur.csv with the champion (v1): 1500 rows",
        "firing the manual trigger",
        "running the state machine",
    ):
        assert f"\n  {phase} …\n" in printed
        assert re.search(rf"\n  ✓ {re.escape(phase)} \(\d+\.\d\d s\)\n", printed)
    assert "training the first champion" not in printed  # v1 was already champion
    # And the final table's row, on a pipe: no control characters
    assert "\n  ✓ execution SUCCEEDED after " in printed
    row = next(line for line in printed.splitlines() if line.startswith("cur.csv "))
    assert re.split(r"\s{2,}", row)[1] == result["outcome"]
    assert "\r" not in printed
    assert "\x1b" not in printed


def test_a_failed_step_is_marked_with_its_error_and_no_state_is_missing(cloud, module_churn):
    # Given a window whose labels the champion never saw: MetricCheck fails, its Catch records it, the run fails
    window = generate_churn(600, seed=8)
    window["churned"] = window["churned"].map({0: "no", 1: "yes"})
    stream = io.StringIO()
    console = Console(stream, env={})

    result = run_in_cloud(
        cloud,
        module_churn.config,
        module_churn.text,
        None,
        window,
        trigger="manual",
        on_state=StatePrinter(console=console),
        progress=Progress(console),
    )

    printed = stream.getvalue()
    history = cloud.history(result["execution_arn"])
    assert result["outcome"] == "failed"
    assert [name for _, name in STATE_LINE.findall(printed)] == states_of(history)
    marks = dict((name, mark) for mark, name in STATE_LINE.findall(printed))
    assert marks["MetricCheck"] == "✗"
    assert marks["DriftCheck"] == "✓"
    assert marks["Failed"] == "✗"
    lines = printed.splitlines()
    failed_at = next(i for i, line in enumerate(lines) if "✗ MetricCheck" in line)
    error = " ".join(line.strip() for line in lines[failed_at + 1 :][:3] if line.startswith(" " * 15))
    assert error.startswith("SchemaMismatch: ")
    assert "labels ['no', 'yes'] in column 'churned' were never seen" in error
    assert any(
        line.startswith("  ✗ execution FAILED after ") and line.endswith(", step MetricCheck failed (SchemaMismatch)")
        for line in lines
    )
    assert re.search(r"\n  ✗ running the state machine \(\d+\.\d\d s\)\n", printed)


def test_states_of_reads_exits_then_states_never_left():
    # The oracle itself, on a hand-written history: A left, B entered twice and left once, Fail never left
    def event(kind: str, name: str) -> dict[str, Any]:
        key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
        return {"type": kind, key: {"name": name}}

    history = [
        event("TaskStateEntered", "A"),
        event("TaskStateExited", "A"),
        event("TaskStateEntered", "B"),
        event("TaskStateExited", "B"),
        event("TaskStateEntered", "B"),
        event("FailStateEntered", "Failed"),
    ]

    assert states_of(history) == ["A", "B", "B", "Failed"]
