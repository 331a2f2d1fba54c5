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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from retrain.clock import utc
from retrain.contracts import ExecutionName, Flag, Mode, ModelName, Run, Timestamp, parse
from retrain.errors import InvalidEvent
from retrain.registry import ChampionPointer, get_champion, model_pk
from retrain.settings import Settings
from retrain.steps.model_config import load_model_config
from retrain.triggers import MANUAL_DETAIL_TYPE, MANUAL_SOURCE, RequestDetail

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"


class NormalizeInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event: dict[str, Any]
    execution: ExecutionName
    started_at: Timestamp


# ------------------------------------------------------------------ trigger inputs
class _Input(BaseModel):
    """What every trigger input may carry: EventBridge's event id and time."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    time: Timestamp | None = None


class DirectInput(_Input):
    """The schedule target's constant input, or a direct execution input."""

    trigger: Literal["schedule", "manual"]
    model: ModelName
    mode: Mode | None = None
    reason: str | None = None
    force: Flag | None = None


class RetrainRequested(_Input):
    """A ``Retrain Requested`` event (``retrain trigger``)."""

    detail: RequestDetail


class _Dimensions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: ModelName | None = None


class _Metric(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dimensions: _Dimensions | None = None


class _MetricStat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metric: _Metric | None = None


class _AlarmMetric(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metricStat: _MetricStat | None = None


class _AlarmConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metrics: list[_AlarmMetric] | None = None


class _AlarmState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str = "?"
    reason: str = ""


class _AlarmDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarmName: str = "?"
    state: _AlarmState | None = None
    configuration: _AlarmConfiguration | None = None


class AlarmEvent(_Input):
    """A ``CloudWatch Alarm State Change`` event; the model is its metric's ``model`` dimension."""

    detail: _AlarmDetail


@dataclass(frozen=True)
class Trigger:
    """A trigger input, read: its kind, its model, the mode it asks for (None: the config's), why, its
    EventBridge id and time (None for an input without them), and the alarm's name for an alarm."""

    trigger: Literal["schedule", "alarm", "manual"]
    model: str
    mode: Literal["check", "always"] | None
    reason: str
    force: bool = False
    event_id: str | None = None
    time: str | None = None
    alarm: str | None = None


def _alarm_model(event: AlarmEvent) -> tuple[str, str]:
    detail = event.detail
    metrics = detail.configuration.metrics if detail.configuration else None
    for metric in metrics or []:
        stat = metric.metricStat
        dimensions = stat.metric.dimensions if stat and stat.metric else None
        if dimensions is not None and dimensions.model is not None:
            state = detail.state or _AlarmState()
            reason = f"alarm {detail.alarmName} is {state.value}: {state.reason}".strip()
            return dimensions.model, reason
    raise InvalidEvent(
        f"alarm {detail.alarmName!r} watches no metric with a 'model' dimension "
        "(detail.configuration.metrics.*.metricStat.metric.dimensions.model): cannot tell which model to retrain"
    )


def read_trigger(event: dict[str, Any]) -> Trigger:
    """Read a raw trigger input (see the module's docstring for the accepted ones).

    Raises
    ------
    InvalidEvent
        The input is none of the accepted ones, or one of its fields is malformed (the
        message names the field, e.g. ``detail.model``, what it expects and what it holds).
    """
    detail_type = event.get("detail-type")
    if detail_type == ALARM_DETAIL_TYPE:
        alarm = parse(AlarmEvent, event, what=ALARM_DETAIL_TYPE, kind="event")
        model, reason = _alarm_model(alarm)
        name = alarm.detail.alarmName if "alarmName" in alarm.detail.model_fields_set else None
        return Trigger("alarm", model, "always", reason, event_id=alarm.id, time=alarm.time, alarm=name)
    if detail_type == MANUAL_DETAIL_TYPE and event.get("source") == MANUAL_SOURCE:
        manual = parse(RetrainRequested, event, what=MANUAL_DETAIL_TYPE, kind="event")
        detail = manual.detail
        reason = detail.reason or "manual trigger"
        return Trigger(
            "manual", detail.model, detail.mode or "always", reason, bool(detail.force), manual.id, manual.time
        )
    if detail_type == "Scheduled Event":
        raise InvalidEvent("a raw Scheduled Event names no model: give the schedule target an Input with 'model'")
    if "trigger" in event:
        direct = parse(DirectInput, event, what="trigger", kind="input")
        manual_input = direct.trigger == "manual"
        return Trigger(
            direct.trigger,
            direct.model,
            direct.mode or ("always" if manual_input else None),
            direct.reason or f"{direct.trigger} trigger",
            manual_input and bool(direct.force),  # only a manual trigger can force
            direct.id,
            direct.time,
        )
    raise InvalidEvent(
        "unrecognized trigger input: expected a schedule input {trigger, model}, "
        f"a {ALARM_DETAIL_TYPE!r} event or a {MANUAL_DETAIL_TYPE!r} event (keys: {sorted(event)[:8]})"
    )


def _classify(event: dict[str, Any]) -> tuple[str, str, str | None, str]:
    """(trigger, model, mode override, reason) of a raw input."""
    found = read_trigger(event)
    return found.trigger, found.model, found.mode, found.reason


#: How long a delivered event's id is remembered (EventBridge retries a delivery for up to 24 hours).
DEDUPE_TTL_SECONDS = 24 * 3600
RETRAINING_TRIGGERS = ("schedule", "alarm", "manual")


def dedupe_key(event_id: str | None, trigger: str, started: datetime, window_minutes: float, execution: str) -> str:
    """What identifies one delivery: the EventBridge event id, else the schedule's time slot.

    A rule target with a constant input (the schedule) receives no event id, so
    two scheduled deliveries within ``window_minutes`` count as one. A direct
    execution input without an id is never a duplicate.
    """
    if event_id:
        return f"EVENT#{event_id}"
    if trigger == "schedule":
        slot = int(started.timestamp() // (window_minutes * 60))
        return f"EVENT#schedule-{slot}"
    return f"EVENT#{execution}"


def cooldown_until(champion: ChampionPointer | None, hours: float) -> datetime | None:
    """End of the cooldown after the champion's promotion, if a retraining promoted it."""
    if not champion or hours <= 0 or champion.trigger not in RETRAINING_TRIGGERS:
        return None
    promoted = champion.promoted_at
    return utc(promoted) + timedelta(hours=hours) if promoted else None


def lock_expires_at(
    now_epoch: int, ttl_seconds: int, approval_timeout_seconds: int | None, training_job_seconds: int | None = None
) -> int:
    """When the run's lock lapses, in epoch seconds.

    ``ttl_seconds`` (``LockTtlSeconds``) covers the steps themselves. A run that
    waits for approval also holds the lock while it waits, for up to
    ``approval_timeout_seconds``: the lock must outlive that wait, or another
    trigger would take the model over from a run that is merely waiting.
    ``None`` when the model's config needs no approval. Likewise a run that
    trains in a SageMaker job holds the lock while the job runs, for up to its
    ``training_job_seconds`` (``training.sagemaker.max_runtime_minutes``; ``None``
    with the Lambda engine).
    """
    return now_epoch + ttl_seconds + (approval_timeout_seconds or 0) + (training_job_seconds or 0)


def run(request: NormalizeInput, *, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Build the :class:`Run` for a trigger; returns ``{"run": {...}}``."""
    found = read_trigger(request.event)
    model = found.model
    config = load_model_config(settings, model)
    started = utc(request.started_at)
    event_time = utc(found.time) if found.time else started
    clock = now or started
    end = event_time
    start = end - timedelta(days=config.monitoring.window_days)
    training_start = end - timedelta(days=config.training_window_days)
    now_epoch = int(clock.timestamp())
    force = found.force
    champion = get_champion(settings.registry_table, model)
    until = cooldown_until(champion, config.triggers.cooldown_hours)
    in_cooldown = until is not None and clock < until and not force
    approval_timeout = round(config.approval.timeout_hours * 3600)
    waits = approval_timeout if config.approval.required else None
    job = config.training.sagemaker if config.training.engine == "sagemaker" else None
    expires = lock_expires_at(
        now_epoch, settings.lock_ttl_seconds, waits, job.max_runtime_minutes * 60 if job is not None else None
    )
    result = Run(
        model=model,
        trigger=found.trigger,
        mode=found.mode or config.schedule.mode,
        policy=config.triggers.policy,
        reason=found.reason,
        event_id=found.event_id or request.execution,
        alarm=found.alarm,
        event_time=event_time.isoformat(),
        execution=request.execution,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        training_window_start=training_start.isoformat(),
        lock_pk=model_pk(model),
        lock_now=str(now_epoch),
        lock_expires_at=str(expires),
        dedupe_sk=dedupe_key(found.event_id, found.trigger, started, config.triggers.dedupe_minutes, request.execution),
        dedupe_expires_at=str(now_epoch + DEDUPE_TTL_SECONDS),
        force=force,
        in_cooldown=in_cooldown,
        cooldown_until=until.isoformat() if until else None,
        approval_required=config.approval.required,
        approval_timeout_seconds=approval_timeout,
        training_engine=config.training.engine,
        champion_version=champion.version if champion else None,
    )
    return {"run": result.model_dump(mode="json")}


def parse_input(event: Any) -> NormalizeInput:
    return parse(NormalizeInput, event, what="normalize")
