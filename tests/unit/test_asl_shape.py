"""The state machine's shape: every Task retries and is caught, every path releases the lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ASL = json.loads((Path(__file__).parents[2] / "infra/statemachine/retraining.asl.json").read_text())


def _tasks(states: dict, caught_by_parent: bool = False) -> Iterator[tuple[str, dict, bool]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state, caught_by_parent
        if state["Type"] == "Parallel":
            for branch in state["Branches"]:
                yield from _tasks(branch["States"], caught_by_parent=bool(state.get("Catch")))
        if state["Type"] == "Map":  # a failed iteration fails the Map, whose Catch takes it
            yield from _tasks(state["ItemProcessor"]["States"], caught_by_parent=bool(state.get("Catch")))


def _successors(state: dict) -> set[str]:
    found = {state["Next"]} if "Next" in state else set()
    found |= {choice["Next"] for choice in state.get("Choices", [])}
    found |= {state["Default"]} if "Default" in state else set()
    found |= {catch["Next"] for catch in state.get("Catch", [])}
    return found


@pytest.mark.parametrize(("name", "state", "parent_catches"), list(_tasks(ASL["States"])))
def test_every_task_retries_transient_errors_and_is_caught(name, state, parent_catches):
    assert state.get("Retry"), f"{name} has no Retry"
    assert state.get("Catch") or parent_catches, f"{name} has no Catch (nor a Parallel around it that catches)"


def test_lambda_tasks_retry_lambda_service_errors():
    for name, state, _ in _tasks(ASL["States"]):
        if state["Resource"].startswith("${") and state["Resource"].endswith("FunctionArn}"):
            retried = {error for rule in state["Retry"] for error in rule["ErrorEquals"]}
            assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= retried, name


def test_every_path_after_the_lock_passes_a_release_before_ending():
    # Given the states reachable after the lock is taken
    states = ASL["States"]
    after_lock = states["AcquireLock"]["Next"]

    # When every path is walked to its end without passing a release
    unreleased: list[str] = []
    stack, seen = [after_lock], set()
    while stack:
        name = stack.pop()
        if name in seen or name.startswith("ReleaseLock"):
            continue
        seen.add(name)
        state = states[name]
        if state["Type"] in {"Succeed", "Fail"} or state.get("End"):
            unreleased.append(name)
        stack.extend(_successors(state))

    # Then none reaches an end
    assert unreleased == []


def test_the_lock_is_released_only_by_its_owner():
    for name in ("ReleaseLock", "ReleaseLockAfterError"):
        parameters = ASL["States"][name]["Parameters"]
        assert parameters["ConditionExpression"] == "#o = :me"
        assert parameters["ExpressionAttributeValues"][":me"] == {"S.$": "$.run.execution"}


def test_the_definition_uses_jsonpath_only():
    text = json.dumps(ASL)
    assert "JSONata" not in text
    assert ASL.get("QueryLanguage", "JSONPath") == "JSONPath"


def test_every_outcome_the_state_machine_sets_is_in_the_result_contract():
    from retrain.result import OUTCOMES

    set_by_asl = {s["Result"] for s in ASL["States"].values() if s.get("ResultPath") == "$.outcome"}

    assert set_by_asl == set(OUTCOMES) - {"failed"}


# Failures are events ------------------------------------------------------------------------------------

FAILURE_KEYS = {"step", "model", "execution", "execution_arn", "error", "cause", "lock"}


def _paths_to(target: str, start: str, *, avoiding: str) -> list[list[str]]:
    """Every path (without cycles) from ``start`` to ``target`` that never enters ``avoiding``."""
    states = ASL["States"]
    found: list[list[str]] = []
    stack = [[start]]
    while stack:
        path = stack.pop()
        name = path[-1]
        if name == target:
            found.append(path)
            continue
        if name == avoiding:
            continue
        stack.extend([*path, nxt] for nxt in _successors(states[name]) if nxt not in path)
    return found


#: The Report step's two states: before the Succeed state and before the Fail state.
REPORTS = {"Report": ("SUCCEEDED", "Done"), "ReportFailure": ("FAILED", "Failed")}


def _keys(parameters: dict) -> set[str]:
    return {key.removesuffix(".$") for key in parameters}


def test_every_fail_state_is_reached_only_through_the_run_failed_event():
    fails = [name for name, state in ASL["States"].items() if state["Type"] == "Fail"]

    assert fails == ["Failed"]
    assert _paths_to("Failed", ASL["StartAt"], avoiding="PublishRunFailed") == []


def test_every_path_ends_with_a_report_step():
    # Every terminal state is entered only from its Report state, and nothing else leads to it
    terminals = {name for name, state in ASL["States"].items() if state["Type"] in {"Succeed", "Fail"}}
    into = {name: sorted(n for n, s in ASL["States"].items() if name in set(_successors(s))) for name in terminals}

    assert into == {"Done": ["Report"], "Failed": ["ReportFailure"]}
    for name, (_status, terminal) in REPORTS.items():
        assert _paths_to(terminal, ASL["StartAt"], avoiding=name) == []


@pytest.mark.parametrize(("name", "expected"), list(REPORTS.items()))
def test_a_report_sees_the_whole_state_and_never_changes_the_outcome(name, expected):
    status, terminal = expected
    report = ASL["States"][name]

    assert report["Resource"] == "${ReportFunctionArn}"
    assert report["Parameters"] == {
        "state.$": "$",
        "status": status,
        "execution.$": "$$.Execution.Name",
        "execution_arn.$": "$$.Execution.Id",
        "started_at.$": "$$.Execution.StartTime",
    }
    assert report["ResultPath"] == "$.report"  # the run's output carries the report's URIs
    assert report["Next"] == terminal
    # A report that cannot be written is recorded and the run ends as it would have
    assert [(c["ErrorEquals"], c["Next"], c["ResultPath"]) for c in report["Catch"]] == [
        (["States.ALL"], terminal, "$.report_error")
    ]
    assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= {
        error for rule in report["Retry"] for error in rule["ErrorEquals"]
    }


def test_run_failed_is_published_with_the_failure_and_a_failed_publish_still_fails_the_run():
    publish = ASL["States"]["PublishRunFailed"]
    entry = publish["Parameters"]["Entries"][0]

    assert publish["Resource"] == "arn:aws:states:::events:putEvents"
    assert (entry["Source"], entry["DetailType"], entry["Detail.$"]) == ("${EventSource}", "RunFailed", "$.failure")
    assert publish["Retry"]
    assert [(c["ErrorEquals"], c["Next"]) for c in publish["Catch"]] == [(["States.ALL"], "ReportFailure")]
    assert publish["Catch"][0]["ResultPath"] != "$.failure"  # the run's own error survives a failed publish
    failed = ASL["States"]["Failed"]
    assert (failed["ErrorPath"], failed["CausePath"]) == ("$.failure.error", "$.failure.cause")


def _catching_states() -> Iterator[tuple[str, dict]]:
    """(state, its catch-all) for every state whose failures end the run.

    Not the RunFailed publish, the failure record and the release after an error (the run is
    failing already), nor the notifications (a failed notification keeps the outcome, in
    ``$.notify_error``), nor the reports (a report that cannot be written keeps the outcome).
    """
    for name, state in ASL["States"].items():
        if name in {"PublishRunFailed", "ReleaseLockAfterError", "RecordFailure", *REPORTS}:
            continue
        for catch in state.get("Catch", []):
            if catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] != "$.notify_error":
                yield name, catch


@pytest.mark.parametrize(("name", "catch"), list(_catching_states()))
def test_each_failing_state_records_itself_as_the_failed_step(name, catch):
    # Given the state a caught failure goes to first
    recorder = ASL["States"][catch["Next"]]

    # Then it records the failure: this state's name, the error and cause, and the lock's fate
    assert recorder["Type"] == "Pass"
    assert recorder["ResultPath"] == "$.failure"
    assert _keys(recorder["Parameters"]) >= FAILURE_KEYS
    assert recorder["Parameters"]["step"] == name
    if name != "ReleaseLock":
        assert catch["ResultPath"] == "$.error"
        assert recorder["Parameters"]["error.$"] == "$.error.Error"
        assert recorder["Parameters"]["cause.$"] == "$.error.Cause"


def test_every_state_that_can_fail_the_run_is_caught():
    caught = {name for name, _ in _catching_states()}

    assert caught >= {"Normalize", "RecordEvent", "AcquireLock", "Checks", "Snapshot", "Train", "Validate"}
    assert caught >= {"RequestApproval", "Promote", "RecordRejection", "ReleaseLock", "Reconcile"}


def test_a_lock_that_cannot_be_released_fails_the_run_as_lock_release_failed():
    # Given the release at the end of a run that reached its outcome
    release = ASL["States"]["ReleaseLock"]
    catches = {tuple(c["ErrorEquals"]): c for c in release["Catch"]}

    # Then a lock that is no longer ours needs nothing, and any other failure fails the run
    assert catches[("DynamoDB.ConditionalCheckFailedException",)]["Next"] == "Report"
    failing = catches[("States.ALL",)]["Next"]
    recorder = ASL["States"][failing]
    assert recorder["Parameters"]["error"] == "LockReleaseFailed"
    assert recorder["Parameters"]["outcome.$"] == "$.outcome"  # the outcome the run reached is not lost
    assert _paths_to("Failed", failing, avoiding="Done")
    assert _paths_to("Done", failing, avoiding="Failed") == []


@pytest.mark.parametrize("name", ["ReleaseLock", "ReleaseLockAfterError"])
def test_releasing_the_lock_is_retried_on_transient_dynamodb_errors(name):
    retried = {error for rule in ASL["States"][name]["Retry"] for error in rule["ErrorEquals"]}

    assert {"DynamoDB.ThrottlingException", "DynamoDB.InternalServerError"} <= retried
    assert {"DynamoDB.ProvisionedThroughputExceededException", "DynamoDB.RequestLimitExceeded"} <= retried
    assert max(rule["MaxAttempts"] for rule in ASL["States"][name]["Retry"]) >= 5


def test_a_failure_after_the_lock_is_recorded_then_releases_it_before_publishing_run_failed():
    # Every failure recorded while the lock is held marks the run's candidate failed, then releases, then publishes
    held = [ASL["States"][c["Next"]] for _, c in _catching_states()]
    held = [r for r in held if r["Parameters"]["lock"] == "held" and r["Parameters"]["step"] != "ReleaseLock"]

    assert held
    assert {r["Next"] for r in held} == {"RecordFailure"}
    record = ASL["States"]["RecordFailure"]
    assert record["Resource"] == "${ReconcileFunctionArn}"
    assert record["Parameters"] == {"action": "failed", "run.$": "$.run", "failure.$": "$.failure"}
    assert record["ResultPath"] not in {"$.failure", "$"}  # the step's error survives its own record
    assert [(c["ErrorEquals"], c["Next"]) for c in record["Catch"]] == [(["States.ALL"], "ReleaseLockAfterError")]
    assert record["Catch"][0]["ResultPath"].startswith("$.failure.")
    choice = ASL["States"][record["Next"]]
    assert choice["Default"] == "ReleaseLockAfterError"
    after = ASL["States"]["ReleaseLockAfterError"]
    assert {c["Next"] for c in after["Catch"]} | {after["Next"]} <= {"LockReleased", "PublishRunFailed"}
    assert ASL["States"]["LockReleased"]["Next"] == "PublishRunFailed"


def test_the_first_step_under_the_lock_reconciles_the_champion():
    assert ASL["States"]["AcquireLock"]["Next"] == "Reconcile"
    reconcile = ASL["States"]["Reconcile"]
    assert reconcile["Parameters"] == {"action": "start", "run.$": "$.run"}
    assert reconcile["Next"] == "Checks"
    assert reconcile["ResultPath"] == "$.reconcile"


def test_a_promotion_that_committed_before_a_failure_stays_the_outcome():
    # Given the choice after a failure was recorded
    choice = ASL["States"]["PromotionCommitted?"]

    # Then a committed promotion goes on to be announced as promoted, with the promotion the record returned
    (rule,) = choice["Choices"]
    assert (rule["Variable"], rule["BooleanEquals"]) == ("$.recovery.promoted", True)
    keep = ASL["States"][rule["Next"]]
    assert (keep["InputPath"], keep["ResultPath"]) == ("$.recovery.promotion", "$.promotion")
    assert keep["Next"] == "NotifyPromoted"
    assert _paths_to("Promoted", rule["Next"], avoiding="Failed")


@pytest.mark.parametrize("name", ["Normalize", "Reconcile", "RecordFailure", "Promote"])
def test_idempotent_steps_are_retried_after_a_lambda_timeout(name):
    retried = {error for rule in ASL["States"][name]["Retry"] for error in rule["ErrorEquals"]}

    assert {"Sandbox.Timedout", "States.Timeout", "TransientError"} <= retried


@pytest.mark.parametrize("name", ["Snapshot", "Train", "Validate"])
def test_heavy_steps_are_not_retried_after_a_timeout_that_would_recur(name):
    retried = {error for rule in ASL["States"][name]["Retry"] for error in rule["ErrorEquals"]}

    assert "TransientError" in retried
    assert not {"Sandbox.Timedout", "States.Timeout"} & retried


# ------------------------------------------------------------------ the distributed drift check
def _drift_branch() -> dict:
    (branch,) = [b for b in ASL["States"]["Checks"]["Branches"] if b["StartAt"] == "DriftCheck"]
    return dict(branch["States"])


def test_a_drift_plan_goes_to_the_distributed_map_and_a_check_output_ends_the_branch():
    states = _drift_branch()

    assert states["DriftCheck"]["Next"] == "Distributed?"
    (choice,) = states["Distributed?"]["Choices"]
    assert choice == {"Variable": "$.plan", "IsPresent": True, "Next": "ProfileWindow"}
    assert states[states["Distributed?"]["Default"]]["Type"] == "Succeed"


def test_the_profile_window_map_reads_the_manifest_and_writes_under_the_run():
    profile = _drift_branch()["ProfileWindow"]

    assert profile["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert profile["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert profile["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert profile["ItemReader"]["Parameters"] == {"Bucket.$": "$.plan.bucket", "Key.$": "$.plan.manifest_key"}
    assert profile["ItemSelector"] == {"run.$": "$.run", "batch.$": "$$.Map.Item.Value"}
    assert profile["MaxConcurrencyPath"] == "$.plan.max_concurrency"
    assert "ToleratedFailurePercentage" not in profile
    assert "ToleratedFailureCount" not in profile
    assert "ItemBatcher" not in profile  # the planner batches by the objects' bytes
    assert profile["ResultWriter"]["Parameters"]["Prefix.$"] == "$.plan.result_prefix"
    (worker,) = profile["ItemProcessor"]["States"].values()
    assert worker["Resource"] == "${DriftProfileFunctionArn}"


def test_the_judge_gets_the_map_outcome_either_way_and_its_failure_is_the_drift_checks():
    states = _drift_branch()
    profile, judge = states["ProfileWindow"], states["JudgeDrift"]

    assert profile["Next"] == "JudgeDrift"
    assert profile["ResultPath"] == "$.map"
    assert [(c["ErrorEquals"], c["ResultPath"], c["Next"]) for c in profile["Catch"]] == [
        (["States.ALL"], "$.map", "JudgeDrift")
    ]
    assert judge["Resource"] == "${DriftCheckFunctionArn}"
    assert judge["Parameters"] == {"run.$": "$.run", "plan.$": "$.plan", "map.$": "$.map"}
    assert [c["Next"] for c in judge["Catch"]] == ["DriftCheckFailed"]
    assert judge.get("End") is True
