"""Asking for a retraining run by hand: one ``Retrain Requested`` event on EventBridge.

The stack's ``ManualTrigger`` rule routes it to the state machine, where it goes
through the same dedupe, lock and cooldown as any other trigger (``force``
skips the cooldown only).
"""

from __future__ import annotations

import json
from typing import Any

from retrain.config import MODEL_NAME
from retrain.errors import InvalidEvent, TransientError

MANUAL_SOURCE = "retrain.cli"
MANUAL_DETAIL_TYPE = "Retrain Requested"


def retrain_request(model: str, *, reason: str | None = None, force: bool = False, bus: str = "default") -> dict:
    """The PutEvents entry of a manual trigger."""
    if not MODEL_NAME.match(model):
        raise InvalidEvent(f"model == {model!r} is not a valid model name (must match {MODEL_NAME.pattern})")
    detail = {"model": model, "reason": reason or "manual trigger", "force": force}
    return {
        "Source": MANUAL_SOURCE,
        "DetailType": MANUAL_DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }


def request_retrain(
    events: Any, model: str, *, reason: str | None = None, force: bool = False, bus: str = "default"
) -> str:
    """Put a ``Retrain Requested`` event; returns its event id.

    Raises
    ------
    TransientError
        EventBridge did not accept the entry (its error code and message included).
    """
    response = events.put_events(Entries=[retrain_request(model, reason=reason, force=force, bus=bus)])
    entry = response["Entries"][0]
    if "ErrorCode" in entry or response.get("FailedEntryCount"):
        raise TransientError(f"EventBridge refused the trigger: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])
