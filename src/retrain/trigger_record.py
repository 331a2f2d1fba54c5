"""Why a model version was trained: the trigger of the run that produced it, kept on its registry record.

A run's trigger travels through the state machine in :class:`~retrain.contracts.Run`,
whose execution history expires; :class:`TriggerRecord` is the part of it that
the registry keeps on every version the run registers (attribute ``triggered_by``,
a map), so ``retrain models`` can say why each version exists long after.
"""

from __future__ import annotations

import json
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from retrain.contracts import Run, TriggerSource

#: How many characters of an event id :meth:`TriggerRecord.describe` shows (EventBridge ids are UUIDs).
EVENT_ID_SHOWN = 8


class TriggerRecord(BaseModel):
    """The trigger of the run that trained a version.

    ``kind`` is the trigger (schedule, alarm or manual); ``event_id`` the
    EventBridge event's id (the execution's name for an input without one);
    ``alarm`` the alarm's name for an alarm trigger; ``reason`` the run's
    reason (for a manual trigger, the requester's text exactly); ``execution``
    the state machine execution's name.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    kind: TriggerSource
    event_id: str
    reason: str
    execution: str
    alarm: str | None = None

    @classmethod
    def of_run(cls, run: Run) -> Self:
        """The trigger record of ``run``."""
        return cls(kind=run.trigger, event_id=run.event_id, reason=run.reason, execution=run.execution, alarm=run.alarm)

    def item(self) -> dict[str, Any]:
        """The record as the registry stores it (absent fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def describe(self) -> str:
        """One line for people: ``manual: "<reason>" (event 1a2b3c4d…)``, ``alarm: <name>`` or ``schedule``."""
        if self.kind == "manual":
            event = self.event_id if len(self.event_id) <= EVENT_ID_SHOWN else self.event_id[:EVENT_ID_SHOWN] + "…"
            return f"manual: {json.dumps(self.reason, ensure_ascii=False)} (event {event})"
        if self.kind == "alarm":
            return f"alarm: {self.alarm or self.reason}"
        return self.kind
