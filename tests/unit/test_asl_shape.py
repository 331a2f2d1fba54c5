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
