"""Approval: park a validated candidate until a person approves or rejects it.

The state machine invokes this step with ``.waitForTaskToken``: the step keeps
the task token under the run's name in the registry table and announces an
``ApprovalRequested`` event (model, version, gates, how to answer). The run
then waits until ``retrain approve RUN`` or ``retrain reject RUN --reason TEXT``
answers the token, or until the config's ``approval.timeout_hours``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from retrain import aws, registry
from retrain.contracts import PromoteInput
from retrain.settings import Settings

APPROVAL_DETAIL_TYPE = "ApprovalRequested"


class ApprovalInput(PromoteInput):
    task_token: str


def run(request: ApprovalInput, *, settings: Settings, source: str = "retrain") -> dict[str, Any]:
    """Store the task token for ``request.run.execution`` and announce the request."""
    run = request.run
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=run.approval_timeout_seconds)
    registry.put_approval(
        settings.registry_table,
        run.execution,
        {
            "token": request.task_token,
            "model": run.model,
            "version": request.candidate.version,
            "requested_at": now.isoformat(timespec="seconds"),
            "expires_at": int(expires.timestamp()) + 3600,
        },
    )
    detail = {
        "model": run.model,
        "version": request.candidate.version,
        "execution": run.execution,
        "champion_version": request.validation.champion_version,
        "gates": [g.model_dump() for g in request.validation.gates],
        "answer_by": expires.isoformat(timespec="seconds"),
        "approve": f"retrain approve {run.execution}",
        "reject": f"retrain reject {run.execution} --reason TEXT",
    }
    aws.put_events(
        [
            {
                "Source": source,
                "DetailType": APPROVAL_DETAIL_TYPE,
                "Detail": json.dumps(detail, default=str),
                "EventBusName": settings.event_bus_name,
            }
        ]
    )
    return {"requested": True, "execution": run.execution}
