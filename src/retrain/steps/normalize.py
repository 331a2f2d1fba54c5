"""Normalize a trigger (schedule, CloudWatch alarm, manual) into one :class:`Run`.

Accepted inputs (what EventBridge delivers to the state machine):

- the schedule target's constant input ``{"trigger": "schedule", "model": "churn"}``;
- a ``CloudWatch Alarm State Change`` event whose alarm watches a metric with a
  ``model`` dimension;
- a ``Retrain Requested`` event from ``retrain trigger`` (source ``retrain.cli``),
  or a direct ``{"trigger": "manual", "model": ...}`` execution input.

The model must have a deployed config, so an alarm of another stack or a typo
in a manual trigger fails here, before any lock is taken.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from retrain.clock import utc
from retrain.config import MODEL_NAME
from retrain.contracts import Run, parse
from retrain.errors import InvalidEvent
from retrain.registry import get_champion, model_pk
from retrain.settings import Settings
from retrain.steps.model_config import load_model_config
from retrain.triggers import MANUAL_DETAIL_TYPE, MANUAL_SOURCE

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"


class NormalizeInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event: dict[str, Any]
    execution: str
    started_at: str


def _alarm_model(event: dict[str, Any]) -> tuple[str, str]:
    detail = event.get("detail") or {}
    name = str(detail.get("alarmName", "?"))
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
        dimensions = ((metric.get("metricStat") or {}).get("metric") or {}).get("dimensions") or {}
        if "model" in dimensions:
            state = detail.get("state") or {}
            reason = f"alarm {name} is {state.get('value', '?')}: {state.get('reason', '')}".strip()
            return str(dimensions["model"]), reason
    raise InvalidEvent(f"alarm {name!r} watches no metric with a 'model' dimension; cannot tell which model")


def _classify(event: dict[str, Any]) -> tuple[str, str, str | None, str]:
    """(trigger, model, mode override, reason) of a raw input."""
    detail_type = event.get("detail-type")
    if detail_type == ALARM_DETAIL_TYPE:
        model, reason = _alarm_model(event)
        return "alarm", model, "always", reason
    if detail_type == MANUAL_DETAIL_TYPE and event.get("source") == MANUAL_SOURCE:
        detail = event.get("detail") or {}
        requested = detail.get("model")
        if not isinstance(requested, str):
            raise InvalidEvent("Retrain Requested event has no detail.model")
        return "manual", requested, detail.get("mode") or "always", str(detail.get("reason") or "manual trigger")
    if detail_type == "Scheduled Event":
        raise InvalidEvent("a raw Scheduled Event names no model: give the schedule target an Input with 'model'")
    trigger = event.get("trigger")
    named = event.get("model")
    if trigger in {"schedule", "manual"} and isinstance(named, str):
        mode = event.get("mode") or (None if trigger == "schedule" else "always")
        return str(trigger), named, mode, str(event.get("reason") or f"{trigger} trigger")
    raise InvalidEvent(
        "unrecognized trigger input: expected a schedule input {trigger, model}, "
        f"a {ALARM_DETAIL_TYPE!r} event or a {MANUAL_DETAIL_TYPE!r} event (keys: {sorted(event)[:8]})"
    )


#: How long a delivered event's id is remembered (EventBridge retries a delivery for up to 24 hours).
DEDUPE_TTL_SECONDS = 24 * 3600
RETRAINING_TRIGGERS = ("schedule", "alarm", "manual")


def _forced(event: dict[str, Any]) -> bool:
    """``force`` of a manual trigger (``retrain trigger --force``); other triggers cannot force."""
    source = event.get("detail") if event.get("detail-type") == MANUAL_DETAIL_TYPE else event
    return bool((source or {}).get("force")) and (
        event.get("detail-type") == MANUAL_DETAIL_TYPE or event.get("trigger") == "manual"
    )


def dedupe_key(event: dict[str, Any], trigger: str, started: datetime, window_minutes: float, execution: str) -> str:
    """What identifies one delivery: the EventBridge event id, else the schedule's time slot.

    A rule target with a constant input (the schedule) receives no event id, so
    two scheduled deliveries within ``window_minutes`` count as one. A direct
    execution input without an id is never a duplicate.
    """
    if event.get("id"):
        return f"EVENT#{event['id']}"
    if trigger == "schedule":
        slot = int(started.timestamp() // (window_minutes * 60))
        return f"EVENT#schedule-{slot}"
    return f"EVENT#{execution}"


def cooldown_until(champion: dict[str, Any] | None, hours: float) -> datetime | None:
    """End of the cooldown after the champion's promotion, if a retraining promoted it."""
    if not champion or hours <= 0 or champion.get("trigger") not in RETRAINING_TRIGGERS:
        return None
    promoted = champion.get("promoted_at")
    return utc(promoted) + timedelta(hours=hours) if promoted else None


def lock_expires_at(now_epoch: int, ttl_seconds: int, approval_timeout_seconds: int | None) -> int:
    """When the run's lock lapses, in epoch seconds.

    ``ttl_seconds`` (``LockTtlSeconds``) covers the steps themselves. A run that
    waits for approval also holds the lock while it waits, for up to
    ``approval_timeout_seconds``: the lock must outlive that wait, or another
    trigger would take the model over from a run that is merely waiting.
    ``None`` when the model's config needs no approval.
    """
    return now_epoch + ttl_seconds + (approval_timeout_seconds or 0)


def run(request: NormalizeInput, *, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Build the :class:`Run` for a trigger; returns ``{"run": {...}}``."""
    trigger, model, mode, reason = _classify(request.event)
    if not MODEL_NAME.match(model):
        raise InvalidEvent(f"model == {model!r} is not a valid model name")
    config = load_model_config(settings, model)
    if mode not in (None, "check", "always"):
        raise InvalidEvent(f"mode == {mode!r}, must be 'check' or 'always'")
    event_time = utc(request.event.get("time") or request.started_at)
    clock = now or utc(request.started_at)
    end = event_time
    start = end - timedelta(days=config.monitoring.window_days)
    training_start = end - timedelta(days=config.training_window_days)
    now_epoch = int(clock.timestamp())
    force = _forced(request.event)
    until = cooldown_until(get_champion(settings.registry_table, model), config.triggers.cooldown_hours)
    in_cooldown = until is not None and clock < until and not force
    approval_timeout = round(config.approval.timeout_hours * 3600)
    waits = approval_timeout if config.approval.required else None
    expires = lock_expires_at(now_epoch, settings.lock_ttl_seconds, waits)
    result = Run(
        model=model,
        trigger=trigger,
        mode=mode or config.schedule.mode,
        policy=config.triggers.policy,
        reason=reason,
        event_id=str(request.event.get("id") or request.execution),
        event_time=event_time.isoformat(),
        execution=request.execution,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        training_window_start=training_start.isoformat(),
        lock_pk=model_pk(model),
        lock_now=str(now_epoch),
        lock_expires_at=str(expires),
        dedupe_sk=dedupe_key(
            request.event, trigger, utc(request.started_at), config.triggers.dedupe_minutes, request.execution
        ),
        dedupe_expires_at=str(now_epoch + DEDUPE_TTL_SECONDS),
        force=force,
        in_cooldown=in_cooldown,
        cooldown_until=until.isoformat() if until else None,
        approval_required=config.approval.required,
        approval_timeout_seconds=approval_timeout,
    )
    return {"run": result.model_dump(mode="json")}


def parse_input(event: Any) -> NormalizeInput:
    return parse(NormalizeInput, event, what="normalize")
