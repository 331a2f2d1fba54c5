"""Load: 100 trigger deliveries for 10 models at once, duplicates among them, make exactly one run per model.

EventBridge delivers at least once (the same event id in two executions), and a model's alarms and manual
requests can fire together. The state machine remembers each delivered event id (RecordEvent: a repeat ends
``duplicate``) and lets one run per model take the model's lock (AcquireLock: the others end
``already-running``); the run holds the lock until it ends. Every model here needs manual approval, so its
winning run holds the lock, parked on its task token, until every other execution has ended: "exactly one
run per model" is then the lock's guarantee, not a matter of timing. Answering the approvals ends the runs,
and every lock must be gone.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from helpers import Deployment, deliver_at_once, deploy, lock_item, manual_event, state_path
from retrain import aws, registry
from retrain.cli import main
from retrain.config import loads_config
from retrain.demo import CONFIG, generate_churn
from retrain.local.cloud import LocalCloud

pytestmark = pytest.mark.e2e

MODELS = [f"load-{i:02d}" for i in range(10)]
#: Deliveries per model: 10, of 5 distinct events (3 + 2 + 3 + 1 + 1 copies).
COPIES = {"performance-alarm": 3, "drift-alarm": 2, "manual": 3, "manual-once": 1, "manual-forced": 1}
WAITING = "waiting-for-approval"
#: States that show who recorded an event id and who held a lock, for failure messages.
LOCK_STATES = {"RecordEvent", "Duplicate", "AcquireLock", "AlreadyRunning", "RequestApproval", "ReleaseLock"}


@dataclass(frozen=True)
class Delivery:
    model: str
    kind: str
    event: dict[str, Any]
    execution: str = ""

    @property
    def event_id(self) -> str:
        return str(self.event["id"])

    @property
    def name(self) -> str:
        return self.execution.rsplit(":", 1)[-1]


@pytest.fixture
def fleet(cloud: LocalCloud, churn_reference) -> dict[str, Deployment]:
    """Ten models (churn.yaml under ten names, each needing approval), each with v1 champion and a drifted window."""
    # On AWS each invocation has a sandbox of its own; here 100 executions share one process and its GIL, and a
    # handler's wall-clock timeout (30 s for Normalize) can lapse while its thread waits for the GIL (seen: one
    # Normalize in 100 timed out, and its Retry absorbed it). Timeouts are not what this test is about.
    for function in cloud.functions.values():
        function.timeout = max(function.timeout, 900)
    template = CONFIG.read_text()
    drifted = generate_churn(1000, seed=71, drift=True)
    deployments = {}
    for model in MODELS:
        text = template.replace("model: churn\n", f"model: {model}\n")
        text = text.replace("validation:\n  min: {accuracy: 0.8}\n", "validation:\n  min: {accuracy: 0.7}\n")
        text += "approval: {required: true, timeout_hours: 2}\n"
        deployment = deploy(cloud, loads_config(text), text, reference=churn_reference)
        deployment.write_window(drifted, end=datetime.now(UTC))
        deployments[model] = deployment
    return deployments


def _events(cloud: LocalCloud, model: str) -> list[Delivery]:
    """The model's 10 deliveries: two alarm state changes and three manual requests, some delivered repeatedly."""
    events = {
        "performance-alarm": cloud.alarm_event(f"{cloud.stack_name}-{model}-performance"),
        "drift-alarm": cloud.alarm_event(f"{cloud.stack_name}-{model}-drift"),
        "manual": manual_event(model, reason="load test: requested, delivered three times"),
        "manual-once": manual_event(model, reason="load test: requested once"),
        "manual-forced": manual_event(model, reason="load test: hotfix", force=True),
    }
    return [Delivery(model, kind, events[kind]) for kind, copies in COPIES.items() for _ in range(copies)]


def _statuses(cloud: LocalCloud) -> dict[str, str]:
    """Every execution of the state machine: ``{arn: status}`` (one paginated listing)."""
    pages = (
        cloud.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=cloud.state_machine_arn)
    )
    return {e["executionArn"]: e["status"] for page in pages for e in page["executions"]}


def _awaiting_approval(table: str) -> set[str]:
    """The names of the executions whose task token waits in the registry table (``retrain approve`` reads it)."""
    pages = (
        aws.dynamodb()
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="begins_with(pk, :approval)",
            ExpressionAttributeValues={":approval": {"S": "APPROVAL#"}},
            ProjectionExpression="pk",
        )
    )
    return {item["pk"]["S"].removeprefix("APPROVAL#") for page in pages for item in page["Items"]}


def _settle(cloud: LocalCloud, table: str, deliveries: list[Delivery], timeout: float = 900.0) -> dict[str, str]:
    """Poll until every execution has ended or waits for approval; ``{execution arn: outcome}``.

    An execution waiting for approval cannot move until it is answered (its timeout is hours away),
    so once every running execution waits, the picture is stable. Polls one listing and one scan a
    second, not a call per execution: 100 executions share the GIL with this loop.
    """
    deadline = time.monotonic() + timeout
    while True:
        statuses = _statuses(cloud)
        running = {arn.rsplit(":", 1)[-1] for arn, status in statuses.items() if status == "RUNNING"}
        if len(statuses) >= len(deliveries) and running <= _awaiting_approval(table):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout:.0f}s {len(running)} executions still run: {sorted(running)[:10]}")
        time.sleep(1.0)
    sfn = cloud.client("stepfunctions")
    outcomes = {}
    for delivery in deliveries:
        described = sfn.describe_execution(executionArn=delivery.execution)
        if described["status"] == "RUNNING":
            outcomes[delivery.execution] = WAITING
        elif described["status"] == "SUCCEEDED":
            outcomes[delivery.execution] = json.loads(described["output"])["outcome"]
        else:
            outcomes[delivery.execution] = f"{described['status']} {described.get('error')}: {described.get('cause')}"
    return outcomes


def _timeline(cloud: LocalCloud, deliveries: list[Delivery], outcomes: dict[str, Any]) -> str:
    """The lock and dedupe states of ``deliveries``' executions, interleaved in time (for failure messages)."""
    rows = []
    for delivery in deliveries:
        for stamp, state in state_path(cloud, delivery.execution):
            if state in LOCK_STATES:
                rows.append((stamp, delivery.name, delivery.kind, delivery.event_id[:8], state))
    lines = [f"  {s:%H:%M:%S.%f} {name} ({kind}, event {eid}) {state}" for s, name, kind, eid, state in sorted(rows)]
    ends = [f"  {d.name}: {outcomes.get(d.execution)}" for d in deliveries]
    return "\n".join(["timeline:", *lines, "outcomes:", *ends])


def _cli(table: str, *args: str) -> int:
    return main([*args, "--table", table, "--region", "us-east-1"])


def test_a_hundred_deliveries_for_ten_models_at_once_make_exactly_one_run_per_model(cloud, fleet):
    table = next(iter(fleet.values())).settings.registry_table
    deliveries = [d for model in MODELS for d in _events(cloud, model)]
    random.Random(7).shuffle(deliveries)
    assert len(deliveries) == 100
    assert len({d.event_id for d in deliveries}) == 50

    # When all 100 are delivered at once
    started = time.monotonic()
    executions = deliver_at_once(cloud, [d.event for d in deliveries])
    assert all(len(e) == 1 for e in executions), executions
    deliveries = [Delivery(d.model, d.kind, d.event, e[0]) for d, e in zip(deliveries, executions, strict=True)]
    outcomes = _settle(cloud, table, deliveries)
    settled = time.monotonic() - started
    print(f"\n100 deliveries of 50 events for 10 models, settled in {settled:.1f}s: {dict(Counter(outcomes.values()))}")

    # Then per model: one run holds the lock (waiting for approval), every other delivery ended without a run
    by_model: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_model[delivery.model].append(delivery)
    winners: dict[str, Delivery] = {}
    for model, mine in by_model.items():
        runs = [d for d in mine if outcomes[d.execution] == WAITING]
        assert len(runs) == 1, f"{model}: {len(runs)} runs waiting for approval\n{_timeline(cloud, mine, outcomes)}"
        winner = winners[model] = runs[0]
        path = [state for _, state in state_path(cloud, winner.execution)]
        assert "AcquireLock" in path, f"{model}: {path}"
        assert not {"AlreadyRunning", "AcquireLockError"} & set(path), f"{model}: {path}"
        assert path[-1] == "RequestApproval", f"{model}: {path}"
        lock = lock_item(fleet[model].settings, model)
        assert lock is not None, f"{model}: no lock"
        assert lock["owner"]["S"] == winner.name, f"{model}: lock {lock}\n{_timeline(cloud, mine, outcomes)}"
        rest = Counter(outcomes[d.execution] for d in mine if d is not winner)
        assert rest == {"duplicate": 5, "already-running": 4}, f"{model}: {rest}\n{_timeline(cloud, mine, outcomes)}"
        for event_id in {d.event_id for d in mine}:
            first = [d.name for d in mine if d.event_id == event_id and outcomes[d.execution] != "duplicate"]
            assert len(first) == 1, f"{model}: event {event_id} ran in {first}\n{_timeline(cloud, mine, outcomes)}"

    print(f"the run of each model came from: {dict(Counter(w.kind for w in winners.values()))}")

    # When the approvals are answered: every other model's candidate approved, the rest rejected
    approved = set(MODELS[::2])
    for model, winner in winners.items():
        if model in approved:
            assert _cli(table, "approve", winner.name, "--note", "load test") == 0
        else:
            assert _cli(table, "reject", winner.name, "--reason", "load test") == 0

    # Then each run ends as answered and releases its lock; no lock is left anywhere
    ended: Counter[str] = Counter()
    for model, winner in winners.items():
        described = cloud.wait(winner.execution, timeout=600)
        assert described["status"] == "SUCCEEDED", f"{model}: {described.get('error')}: {described.get('cause')}"
        outcome = json.loads(described["output"])["outcome"]
        ended[outcome] += 1
        assert outcome == ("promoted" if model in approved else "rejected"), model
        assert lock_item(fleet[model].settings, model) is None, f"{model} still locked"
        champion = registry.get_champion(table, model)
        assert champion is not None, model
        assert champion.version == (2 if model in approved else 1), model
    locks = aws.dynamodb().scan(
        TableName=table, FilterExpression="sk = :lock", ExpressionAttributeValues={":lock": {"S": "LOCK"}}
    )["Items"]
    assert locks == []
    assert Counter(_statuses(cloud).values()) == {"SUCCEEDED": 100}
    print(f"runs ended as answered: {dict(ended)}; locks left: {len(locks)}")
