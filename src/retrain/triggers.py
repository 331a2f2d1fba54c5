"""Asking for a retraining run by hand: one ``Retrain Requested`` event on EventBridge.

The stack's ``ManualTrigger`` rule routes it to the state machine, where it goes
through the same dedupe, lock and cooldown as any other trigger (``force``
skips the cooldown only).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from retrain.contracts import Flag, Mode, ModelName, parse
from retrain.errors import TransientError

MANUAL_SOURCE = "retrain.cli"
MANUAL_DETAIL_TYPE = "Retrain Requested"


class RequestDetail(BaseModel):
    """The ``detail`` of a ``Retrain Requested`` event: only ``model`` is required."""

    model_config = ConfigDict(extra="ignore")

    model: ModelName
    mode: Mode | None = None
    reason: str | None = None
    force: Flag | None = None


def retrain_request(model: str, *, reason: str | None = None, force: bool = False, bus: str = "default") -> dict:
    """The PutEvents entry of a manual trigger.

    Raises
    ------
    InvalidEvent
        ``model`` is not a model name, ``reason`` not a string or ``force`` not a bool.
    """
    detail = parse(
        RequestDetail, {"model": model, "reason": reason, "force": force}, what=MANUAL_DETAIL_TYPE, kind="detail"
    )
    body = {"model": detail.model, "reason": detail.reason or "manual trigger", "force": bool(detail.force)}
    return {
        "Source": MANUAL_SOURCE,
        "DetailType": MANUAL_DETAIL_TYPE,
        "Detail": json.dumps(body),
        "EventBusName": bus,
    }


def request_retrain(
    events: Any, model: str, *, reason: str | None = None, force: bool = False, bus: str = "default"
) -> str:
    """Put a ``Retrain Requested`` event; returns its event id.

    Raises
    ------
    InvalidEvent
        The request is malformed (see :func:`retrain_request`); nothing was put.
    TransientError
        EventBridge did not accept the entry (its error code and message included).
    """
    response = events.put_events(Entries=[retrain_request(model, reason=reason, force=force, bus=bus)])
    entry = response["Entries"][0]
    if "ErrorCode" in entry or response.get("FailedEntryCount"):
        raise TransientError(f"EventBridge refused the trigger: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])
