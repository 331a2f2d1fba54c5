"""Specification of retrain.local.progress: what a local run prints while it runs, and its final table.

The state printer is fed history events of the shape boto3's
``get_execution_history`` returns (``type``, ``timestamp`` as a datetime, ``id``,
``previousEventId`` and one ``...EventDetails``), built here with fixed
timestamps, so every offset and duration is known exactly. Output goes to a
StringIO: a plain one is a pipe, one whose ``isatty()`` is True a terminal.
Colors are decided from an explicit environment, never the test runner's.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retrain.local.progress import Console, Progress, StatePrinter
from retrain.local.summary import summary_table

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 8, 12, 0, 0, tzinfo=UTC)
CAUSE = json.dumps({"errorMessage": "labelled training window is missing column 'contract'", "errorType": "X"})
STATE_LINE = re.compile(r"^\s+\+\s*[\d.]+ s\s+(?:\x1b\[[\d;]*m)?(?:✓|✗|ok|FAIL)(?:\x1b\[0m)?\s+(\S+)", re.M)
ANSI = re.compile(r"\x1b\[[\d;]*m")


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class History:
    """A ``GetExecutionHistory`` event list: ids in order, each event after the one it names (or the last)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, at: float, *, after: int | None = None, **details: Any) -> int:
        event_id = len(self.events) + 1
        event: dict[str, Any] = {
            "type": kind,
            "timestamp": T0 + timedelta(seconds=at),
            "id": event_id,
            "previousEventId": event_id - 1 if after is None else after,
        }
        if kind.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = {"name": details.pop("name"), "input": "{}"}
        elif kind.endswith("StateExited"):
            event["stateExitedEventDetails"] = {"name": details.pop("name"), "output": details.pop("output", "{}")}
        elif details:
            event[kind[0].lower() + kind[1:] + "EventDetails"] = details
        self.events.append(event)
        return event_id

    def state(self, kind: str, name: str, entered: float, left: float | None, **kw: Any) -> None:
        self.add(f"{kind}StateEntered", entered, name=name)
        if left is not None:
            self.add(f"{kind}StateExited", left, name=name, **kw)


def succeeded() -> History:
    history = History()
    history.add("ExecutionStarted", 0.0)
    entered = history.add("TaskStateEntered", 0.10, name="Normalize")
    history.add("LambdaFunctionScheduled", 0.11, after=entered, resource="arn:normalize")
    history.add("LambdaFunctionSucceeded", 0.30)
    history.add("TaskStateExited", 0.35, name="Normalize")
    history.state("Choice", "Decide", 0.35, 0.40)
    history.state("Succeed", "Done", 0.40, 0.41)
    history.add("ExecutionSucceeded", 0.42, output=json.dumps({"outcome": "no-retrain"}))
    return history


def parallel() -> History:
    """Checks runs MetricCheck and DriftCheck; DriftCheck leaves first."""
    history = History()
    history.add("ExecutionStarted", 0.0)
    checks = history.add("ParallelStateEntered", 0.0, name="Checks")
    started = history.add("ParallelStateStarted", 0.01, after=checks)
    metric = history.add("TaskStateEntered", 0.02, after=started, name="MetricCheck")
    drift = history.add("TaskStateEntered", 0.03, after=started, name="DriftCheck")
    done = history.add("LambdaFunctionSucceeded", 1.0, after=drift)
    history.add("TaskStateExited", 1.01, after=done, name="DriftCheck")
    done = history.add("LambdaFunctionSucceeded", 2.0, after=metric)
    history.add("TaskStateExited", 2.02, after=done, name="MetricCheck")
    history.add("ParallelStateSucceeded", 2.03)
    history.add("ParallelStateExited", 2.05, name="Checks")
    history.add("ExecutionSucceeded", 2.06)
    return history


def failed() -> History:
    """Snapshot's Lambda fails, its Catch leads to SnapshotError, the run ends in the Fail state."""
    history = History()
    history.add("ExecutionStarted", 0.0)
    history.state("Pass", "Retrain", 0.0, 0.5)
    history.add("TaskStateEntered", 0.5, name="Snapshot")
    history.add("LambdaFunctionScheduled", 0.51, resource="arn:snapshot")
    history.add("LambdaFunctionFailed", 0.80, error="SchemaMismatch", cause=CAUSE)
    history.add("TaskStateExited", 0.81, name="Snapshot")
    failure = {"failure": {"step": "Snapshot", "error": "SchemaMismatch", "cause": CAUSE}}
    history.state("Pass", "SnapshotError", 0.81, 0.82, output=json.dumps(failure))
    history.state("Task", "ReleaseLockAfterError", 0.82, 0.90, output=json.dumps(failure))
    history.state("Fail", "Failed", 0.90, None)
    history.add("ExecutionFailed", 0.91, error="SchemaMismatch", cause=CAUSE)
    return history


def feed(history: History, console: Console, **kw: Any) -> StatePrinter:
    printer = StatePrinter(console=console, **kw)
    for event in history.events:
        printer(event)
    return printer


def printed(history: History, **console: Any) -> str:
    stream = console.pop("stream", io.StringIO())
    feed(history, Console(stream, env=console.pop("env", {}), **console))
    return str(stream.getvalue())


# ------------------------------------------------------------------ every state, in order
def test_every_state_is_printed_once_when_it_is_left_in_history_order():
    assert STATE_LINE.findall(printed(succeeded())) == ["Normalize", "Decide", "Done"]


def test_parallel_branches_are_printed_in_the_order_they_end():
    assert STATE_LINE.findall(printed(parallel())) == ["DriftCheck", "MetricCheck", "Checks"]


def test_a_state_line_gives_its_offset_from_the_execution_start_and_its_duration():
    lines = printed(succeeded()).splitlines()

    assert lines[0] == "  +   0.10 s  ✓ Normalize              task       0.25 s"
    assert lines[1] == "  +   0.35 s  ✓ Decide                 choice     0.05 s"


def test_the_last_line_gives_the_status_the_time_and_the_outcome():
    assert printed(succeeded()).splitlines()[-1] == "  ✓ execution SUCCEEDED after 0.42 s: no-retrain"


def test_a_state_entered_and_never_left_is_printed_when_the_execution_ends():
    # Given a run aborted while Train ran
    history = History()
    history.add("ExecutionStarted", 0.0)
    history.state("Task", "Snapshot", 0.0, 1.0)
    history.state("Task", "Train", 1.0, None)
    history.add("ExecutionAborted", 4.0)

    text = printed(history)

    assert STATE_LINE.findall(text) == ["Snapshot", "Train"]
    assert "✗ Train                  task       3.00 s  not left: execution ABORTED" in text
    assert text.splitlines()[-1] == "  ✗ execution ABORTED after 4.00 s"


# ------------------------------------------------------------------ failures
def test_a_failed_step_is_marked_with_its_error_and_the_last_line_names_it():
    text = printed(failed())
    lines = text.splitlines()

    assert STATE_LINE.findall(text) == ["Retrain", "Snapshot", "SnapshotError", "ReleaseLockAfterError", "Failed"]
    assert lines[1] == "  +   0.50 s  ✗ Snapshot               task       0.31 s"
    assert lines[2].strip() == "X: labelled training window is missing column 'contract'"
    assert "✗ SnapshotError          pass       0.01 s  caught from Snapshot" in text
    assert "✓ ReleaseLockAfterError" in text  # a Task that runs after an error is no failure
    assert "✗ Failed                 fail" in text
    assert lines[-1] == "  ✗ execution FAILED after 0.91 s, step Snapshot failed (X)"
    assert text.count("missing column 'contract'") == 1  # the error is printed once


def test_a_failed_service_task_is_marked_with_its_task_failed_details():
    history = History()
    history.add("ExecutionStarted", 0.0)
    history.add("TaskStateEntered", 0.0, name="AcquireLock")
    history.add("TaskScheduled", 0.01, resource="dynamodb:putItem")
    history.add("TaskFailed", 0.02, error="DynamoDB.ConditionalCheckFailedException", cause="The lock is held")
    history.add("TaskStateExited", 0.03, name="AcquireLock")
    history.add("ExecutionFailed", 0.04, error="DynamoDB.ConditionalCheckFailedException", cause="The lock is held")

    text = printed(history)

    assert "✗ AcquireLock" in text
    assert "DynamoDB.ConditionalCheckFailedException: The lock is held" in text
    assert text.splitlines()[-1].endswith("step AcquireLock failed (DynamoDB.ConditionalCheckFailedException)")


def test_a_step_retried_to_success_is_not_marked_failed():
    history = History()
    history.add("ExecutionStarted", 0.0)
    history.add("TaskStateEntered", 0.0, name="Train")
    history.add("LambdaFunctionFailed", 0.5, error="TransientError", cause="throttled")
    history.add("LambdaFunctionScheduled", 2.5)
    history.add("LambdaFunctionSucceeded", 3.0)
    history.add("TaskStateExited", 3.1, name="Train")
    history.add("ExecutionSucceeded", 3.2)

    text = printed(history)

    assert "✓ Train                  task       3.10 s  retried after TransientError: throttled" in text


def test_a_failure_in_a_parallel_branch_is_marked_on_that_branch_state():
    history = History()
    history.add("ExecutionStarted", 0.0)
    checks = history.add("ParallelStateEntered", 0.0, name="Checks")
    metric = history.add("TaskStateEntered", 0.1, after=checks, name="MetricCheck")
    drift = history.add("TaskStateEntered", 0.1, after=checks, name="DriftCheck")
    history.add("LambdaFunctionFailed", 0.5, after=metric, error="SchemaMismatch", cause="labels never seen")
    history.add("LambdaFunctionSucceeded", 0.6, after=drift)
    history.add("TaskStateExited", 0.7, name="DriftCheck")
    history.add("TaskStateExited", 0.8, name="MetricCheck")
    history.add("ParallelStateExited", 0.9, name="Checks")
    history.add("ExecutionSucceeded", 1.0)

    text = printed(history)

    assert "✓ DriftCheck" in text
    assert "✗ MetricCheck" in text
    assert "SchemaMismatch: labels never seen" in text


# ------------------------------------------------------------------ terminal or pipe
def test_a_pipe_gets_whole_lines_without_control_characters():
    text = printed(failed())

    assert "\r" not in text
    assert "\x1b" not in text
    assert text.endswith("\n")


def test_a_terminal_gets_colors_and_a_live_line_naming_the_running_state():
    # Given Train entered at T0 + 1 s, seen at T0 + 4.2 s
    history = History()
    history.add("ExecutionStarted", 0.0)
    history.add("TaskStateEntered", 1.0, name="Train")
    stream = Terminal()

    feed(history, Console(stream, env={}), clock=lambda: T0 + timedelta(seconds=4.2))

    assert stream.getvalue().endswith("\r  … Train running 3.2 s")


def test_a_terminal_gets_green_and_red_marks():
    text = printed(failed(), stream=Terminal())

    assert "\x1b[32m✓\x1b[0m" in text
    assert "\x1b[31;1m✗\x1b[0m" in text


def test_the_live_line_is_erased_when_the_execution_ends():
    stream = Terminal()
    feed(succeeded(), Console(stream, env={}))

    last = stream.getvalue().rsplit("\n", 2)[-2:]
    assert last[-1] == ""  # nothing drawn after the last whole line
    assert "running" not in ANSI.sub("", last[0].rsplit("\r", 1)[-1])


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_color_on_a_terminal_when_the_environment_says_so(env):
    assert "\x1b" not in printed(failed(), stream=Terminal(), env=env)


def test_force_color_colors_a_pipe_but_draws_no_live_line():
    text = printed(failed(), env={"FORCE_COLOR": "1"})

    assert "\x1b[32m" in text
    assert "\r" not in text


def test_a_stream_that_cannot_encode_the_marks_gets_ascii_ones():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")

    feed(failed(), Console(stream, env={}))
    stream.flush()
    text = raw.getvalue().decode("ascii")

    assert "  +   0.50 s  FAIL Snapshot" in text
    assert "  +   0.00 s  ok   Retrain" in text


def test_the_old_interface_writes_whole_lines_to_a_function():
    lines: list[str] = []
    printer = StatePrinter(lines.append)
    for event in succeeded().events:
        printer(event)

    assert lines[0] == "  +   0.10 s  ✓ Normalize              task       0.25 s"
    assert not any("\n" in line or "\r" in line for line in lines)


def test_the_printer_is_still_importable_from_its_old_module():
    from retrain.local import progress, run

    assert run.StatePrinter is progress.StatePrinter


# ------------------------------------------------------------------ phases
def test_a_piped_phase_prints_a_start_line_and_a_done_line():
    stream = io.StringIO()
    with Progress(Console(stream, env={})).phase("starting the local cloud"):
        pass

    start, done = stream.getvalue().splitlines()
    assert start == "  starting the local cloud …"
    assert re.fullmatch(r"  ✓ starting the local cloud \(\d+\.\d\d s\)", done)


def test_a_phase_that_raises_is_marked_failed_with_the_exception_and_the_exception_propagates():
    stream = io.StringIO()
    with pytest.raises(KeyError), Progress(Console(stream, env={})).phase("scoring cur.csv"):
        raise KeyError("x")

    assert re.fullmatch(
        r"  ✗ scoring cur.csv \(failed after \d+\.\d\d s: KeyError\)", stream.getvalue().splitlines()[-1]
    )


def test_a_phase_marked_failed_ends_with_the_failed_mark():
    stream = io.StringIO()
    with Progress(Console(stream, env={})).phase("running the state machine") as phase:
        phase.failed = True

    assert stream.getvalue().splitlines()[-1].startswith("  ✗ running the state machine (")


def test_a_phase_on_a_terminal_is_a_live_line_then_one_done_line():
    stream = Terminal()
    with Progress(Console(stream, env={}), tick=3600).phase("starting the local cloud"):
        live = stream.getvalue()

    assert live.startswith("\r  … starting the local cloud 0.")
    whole = ANSI.sub("", stream.getvalue()).split("\n")
    assert whole[-1] == ""
    assert re.fullmatch(r"  ✓ starting the local cloud \(\d+\.\d\d s\)", whole[-2].rsplit("\r", 1)[-1])


def test_a_phase_that_raises_leaves_no_live_line_behind():
    # Given a terminal showing a running state, inside the phase that waits for the execution
    history = History()
    history.add("ExecutionStarted", 0.0)
    history.add("TaskStateEntered", 1.0, name="Train")
    stream = Terminal()
    console = Console(stream, env={})

    def run() -> None:
        with Progress(console, tick=3600).phase("running the state machine"):
            feed(history, console)
            raise TimeoutError("still RUNNING")

    with pytest.raises(TimeoutError):
        run()

    assert stream.getvalue().endswith(")\n")  # the failed phase's line is the last thing drawn


# ------------------------------------------------------------------ the table
def promoted() -> dict[str, Any]:
    return {
        "outcome": "promoted",
        "champion_version": 2,
        "reasons": [
            "accuracy 0.7153 < 0.8",
            "drift in 5 of 6 features (share 0.83 >= 0.30); importance-weighted drift share 0.98 >= 0.50; "
            "schema drift: current window is missing column 'contract'",
        ],
        "checks": {
            "metrics": {
                "metric": "accuracy",
                "accuracy": 0.7153,
                "ci": {"accuracy": {"lower": 0.6998, "upper": 0.7321}},
                "confidence": 0.95,
            },
            "drift": {"share": 0.8333},
        },
        "candidate": {"version": 2, "metrics": {"accuracy": 0.86, "f1": 0.9}},
        "champion": {"version": 1, "metrics": {"accuracy": 0.7167, "f1": 0.82}},
        "error": None,
    }


def no_retrain() -> dict[str, Any]:
    return {
        "outcome": "no-retrain",
        "champion_version": 1,
        "reasons": [],
        "checks": {"metrics": {"metric": "accuracy", "accuracy": 0.883}, "drift": {"share": 0.0}},
        "candidate": None,
        "champion": {"version": 1, "metrics": None},
    }


def cells(line: str) -> list[str]:
    """A table line's cells (columns are two or more spaces apart)."""
    return re.split(r"\s{2,}", line.strip())


def test_the_table_shows_the_champion_before_and_after_and_both_holdout_metrics():
    table = summary_table([("drifted", promoted())])
    header, _, row = table.splitlines()[:3]

    assert cells(header) == [
        "window",
        "outcome",
        "champion",
        "window accuracy",
        "holdout: champion",
        "candidate",
        "drift",
    ]
    assert cells(row) == ["drifted", "promoted", "v1 → v2", "0.715 [0.700, 0.732]", "0.717", "0.860", "0.83"]


def test_a_run_without_a_candidate_shows_one_champion_and_no_holdout_metrics():
    row = summary_table([("stable", no_retrain())]).splitlines()[2]

    assert cells(row) == ["stable", "no-retrain", "v1", "0.883", "-", "-", "0.00"]


def test_the_reasons_are_wrapped_under_the_row_within_100_characters():
    table = summary_table([("drifted", promoted()), ("stable", no_retrain())])
    lines = table.splitlines()

    assert max(len(line) for line in lines) <= 100
    reasons = lines[3 : lines.index(next(line for line in lines if line.startswith("stable")))]
    assert reasons[0] == "         - accuracy 0.7153 < 0.8"
    assert len(reasons) == 3  # the long reason takes two lines, indented under the row
    assert reasons[2].startswith("           ")
    assert " ".join(" ".join(reasons[1:]).split()) == "- " + promoted()["reasons"][1]


def test_the_table_without_a_metric_check_uses_the_given_validation_metric():
    result = promoted()
    result["checks"] = {}

    table = summary_table([("w", result)], metric="f1")

    assert "window f1" in table.splitlines()[0]
    assert cells(table.splitlines()[2])[3:] == ["-", "0.820", "0.900", "-"]


def test_the_table_in_ascii_uses_an_ascii_arrow():
    raw = io.TextIOWrapper(io.BytesIO(), encoding="ascii")

    table = summary_table([("drifted", promoted())], console=Console(raw, env={}))

    assert "v1 -> v2" in table
    table.encode("ascii")
