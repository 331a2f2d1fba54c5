"""A fleet per stack: registering a model gives it its own schedule and alarms.

One stack (buckets, table, functions, state machine) serves any number of
models. A model is registered (``retrain register``, or ``retrain bootstrap``
once its first champion is promoted) by:

1. storing its config at ``s3://<data bucket>/configs/<model>.yaml``, where every
   step reads it;
2. creating or updating its EventBridge Scheduler schedule ``<model>`` in the
   stack's schedule group: ``schedule.expression`` (UTC), flexible window off,
   ``ENABLED`` unless ``schedule.enabled`` is false, target the state machine
   with the constant input ``{"trigger": "schedule", "model": <model>}``, run as
   the stack's scheduler role, with a retry policy and (when the stack has one)
   the delivery dead-letter queue;
3. creating or updating its CloudWatch alarms ``<stack>-<model>-<signal>`` on the
   metrics the checks publish (namespace from the stack, dimensions ``model`` and
   ``service``), and deleting the ones its config disables. The stack's
   ``AlarmStateChange`` rule routes any ``<stack>-`` alarm to the state machine and
   Normalize reads the model from the metric's ``model`` dimension, so an alarm
   needs no wiring of its own.

Unregistering deletes the schedule, the alarms and the config object (a stray
trigger then fails with ``ModelNotFound``); the registry's versions and the
artifacts stay. Nothing here scans the other models: each is its own schedule.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from retrain import aws
from retrain.config import MODEL_NAME, ModelConfig
from retrain.errors import ConfigError, ModelNotFound, StackNotFound
from retrain.layout import config_key

Signal = Literal["performance", "drift", "flagged", "estimated"]
#: Every alarm a model may have, by the suffix of its name.
SIGNALS: tuple[Signal, ...] = ("performance", "drift", "flagged", "estimated")
#: The ``service`` dimension of every metric the checks publish (``POWERTOOLS_SERVICE_NAME`` in the template).
SERVICE = "retrain"
#: Alarm period and evaluation (one datapoint per check run at most once an hour).
PERIOD_SECONDS = 3600
#: How Scheduler retries a delivery the state machine refused (as the stack's rules do).
RETRY_POLICY = {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
#: ``<stack>-ops-...`` are the stack's operations alarms, which the alarm rule does not route to retraining.
RESERVED_MODELS = frozenset({"ops"})

_DESCRIPTIONS: dict[Signal, str] = {
    "performance": "The model's realized quality crossed its bound; triggers retraining.",
    "drift": "The share of drifted features reached its threshold; triggers retraining.",
    "flagged": "People flagged too many predictions; triggers retraining.",
    "estimated": "The label-free performance estimate crossed its bound before labels arrived; triggers retraining.",
}


class FleetStack(BaseModel):
    """What registration needs from a deployed stack (its CloudFormation outputs)."""

    model_config = ConfigDict(frozen=True)

    #: Output name -> field; the dead-letter queue is optional.
    OUTPUTS: ClassVar[dict[str, str]] = {
        "DataBucketName": "data_bucket",
        "StateMachineArn": "state_machine_arn",
        "ScheduleGroupName": "schedule_group",
        "SchedulerRoleArn": "scheduler_role_arn",
        "MetricsNamespace": "metrics_namespace",
    }
    DEAD_LETTER_OUTPUT: ClassVar[str] = "DeliveryDeadLetterQueueArn"

    stack: str
    data_bucket: str
    state_machine_arn: str
    schedule_group: str
    scheduler_role_arn: str
    metrics_namespace: str = "Retrain"
    dead_letter_queue_arn: str | None = None

    @classmethod
    def from_outputs(cls, stack: str, outputs: dict[str, Any]) -> FleetStack:
        """Read the stack's outputs.

        Raises
        ------
        StackNotFound
            An output is missing (a stack deployed from an older template), naming it.
        """
        missing = [name for name in cls.OUTPUTS if name not in outputs]
        if missing:
            raise StackNotFound(
                f"stack {stack!r} has no output {', '.join(map(repr, missing))}: deploy the current template.yaml "
                f"(its outputs: {', '.join(sorted(outputs)) or 'none'})"
            )
        values = {field: str(outputs[name]) for name, field in cls.OUTPUTS.items()}
        dead_letter = outputs.get(cls.DEAD_LETTER_OUTPUT)
        return cls(stack=stack, dead_letter_queue_arn=str(dead_letter) if dead_letter else None, **values)


class Registration(BaseModel):
    """What :func:`register` did."""

    model: str
    config_uri: str
    schedule_arn: str
    schedule_expression: str
    schedule_state: Literal["ENABLED", "DISABLED"]
    created: bool
    alarms: list[str]
    removed_alarms: list[str]


class Unregistration(BaseModel):
    """What :func:`unregister` removed (the registry's versions and the artifacts are kept)."""

    model: str
    schedule_deleted: bool
    alarms_deleted: list[str]
    config_deleted: bool


# ------------------------------------------------------------------------------ requests
def alarm_name(stack: str, model: str, signal: Signal) -> str:
    """``<stack>-<model>-<signal>``: the stack's alarm rule routes names with the ``<stack>-`` prefix."""
    return f"{stack}-{model}-{signal}"


def schedule_input(model: str) -> dict[str, str]:
    """The constant input a model's schedule gives each execution (Normalize's schedule trigger)."""
    return {"trigger": "schedule", "model": model}


def schedule_request(fleet: FleetStack, config: ModelConfig) -> dict[str, Any]:
    """The ``scheduler:CreateSchedule`` (or ``UpdateSchedule``) request for a model's schedule."""
    target: dict[str, Any] = {
        "Arn": fleet.state_machine_arn,
        "RoleArn": fleet.scheduler_role_arn,
        "Input": json.dumps(schedule_input(config.model)),
        "RetryPolicy": dict(RETRY_POLICY),
    }
    if fleet.dead_letter_queue_arn:
        target["DeadLetterConfig"] = {"Arn": fleet.dead_letter_queue_arn}
    return {
        "Name": config.model,
        "GroupName": fleet.schedule_group,
        "Description": f"retrain {config.model}: schedule mode {config.schedule.mode} (stack {fleet.stack})",
        "ScheduleExpression": config.schedule.expression,
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED" if config.schedule.enabled else "DISABLED",
        "Target": target,
    }


def alarm_requests(fleet: FleetStack, config: ModelConfig) -> dict[Signal, dict[str, Any] | None]:
    """Each signal's ``cloudwatch:PutMetricAlarm`` request, or None where the config disables it."""
    alarms = config.alarms
    watched: dict[Signal, tuple[str, str, float, str] | None] = dict.fromkeys(SIGNALS)
    if alarms.performance is not None:
        performance = alarms.performance
        watched["performance"] = (performance.metric, "Average", performance.threshold, performance.comparison)
    if alarms.drift_share is not None:
        watched["drift"] = ("DriftShare", "Maximum", alarms.drift_share, "GreaterThanOrEqualToThreshold")
    if alarms.flagged_rate is not None:
        watched["flagged"] = ("FlaggedRate", "Maximum", alarms.flagged_rate, "GreaterThanOrEqualToThreshold")
    if alarms.estimated is not None:
        estimated = alarms.estimated
        watched["estimated"] = (estimated.metric, "Average", estimated.threshold, estimated.comparison)
    requests: dict[Signal, dict[str, Any] | None] = {}
    for signal, spec in watched.items():
        if spec is None:
            requests[signal] = None
            continue
        metric, statistic, threshold, comparison = spec
        requests[signal] = {
            "AlarmName": alarm_name(fleet.stack, config.model, signal),
            "AlarmDescription": _DESCRIPTIONS[signal],
            "Namespace": fleet.metrics_namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": "model", "Value": config.model}, {"Name": "service", "Value": SERVICE}],
            "Statistic": statistic,
            "Period": PERIOD_SECONDS,
            "EvaluationPeriods": 1,
            "Threshold": float(threshold),
            "ComparisonOperator": comparison,
            "TreatMissingData": "notBreaching",
        }
    return requests


# ------------------------------------------------------------------------- operations
def _check_name(model: str) -> None:
    if not MODEL_NAME.match(model):
        raise ConfigError(f"model == {model!r}, must match {MODEL_NAME.pattern}")
    if model in RESERVED_MODELS:
        raise ConfigError(
            f"model == {model!r} is reserved: its alarms <stack>-{model}-... would be taken for the stack's "
            "operations alarms and never start a run"
        )


def register(fleet: FleetStack, config: ModelConfig, text: str) -> Registration:
    """Store a validated config and create or update the model's schedule and alarms.

    Parameters
    ----------
    fleet
        The stack's names (:meth:`FleetStack.from_outputs`).
    config, text
        The model's validated config (estimator included) and its YAML text, stored as is.

    Returns
    -------
    Registration
        The config's URI, the schedule (ARN, expression, state) and the alarms kept and removed.

    Raises
    ------
    ConfigError
        The model's name is reserved.
    botocore.exceptions.ClientError
        S3, Scheduler or CloudWatch refused a call (the calls already made stay: registering again
        is safe, every step is an upsert).
    """
    _check_name(config.model)
    key = config_key(config.model)
    aws.put_bytes(fleet.data_bucket, key, text.encode(), content_type="application/yaml")
    request = schedule_request(fleet, config)
    scheduler = aws.scheduler()
    try:
        arn = scheduler.create_schedule(**request)["ScheduleArn"]
        created = True
    except ClientError as exc:
        if aws.error_code(exc) != "ConflictException":
            raise
        arn = scheduler.update_schedule(**request)["ScheduleArn"]
        created = False
    cloudwatch = aws.cloudwatch()
    kept, disabled = [], []
    for signal, alarm in alarm_requests(fleet, config).items():
        if alarm is None:
            disabled.append(alarm_name(fleet.stack, config.model, signal))
        else:
            cloudwatch.put_metric_alarm(**alarm)
            kept.append(alarm["AlarmName"])
    removed = _existing_alarms(disabled)
    if removed:
        cloudwatch.delete_alarms(AlarmNames=removed)
    return Registration(
        model=config.model,
        config_uri=aws.uri(fleet.data_bucket, key),
        schedule_arn=str(arn),
        schedule_expression=request["ScheduleExpression"],
        schedule_state=request["State"],
        created=created,
        alarms=kept,
        removed_alarms=removed,
    )


def unregister(fleet: FleetStack, model: str) -> Unregistration:
    """Delete a model's schedule, alarms and config object; keep its registry versions and artifacts.

    The data bucket is versioned: the config's earlier versions stay readable.

    Raises
    ------
    ModelNotFound
        The model has no schedule, no alarm and no config on this stack (nothing was changed).
    """
    if not MODEL_NAME.match(model):
        raise ConfigError(f"model == {model!r}, must match {MODEL_NAME.pattern}")
    try:
        aws.scheduler().delete_schedule(Name=model, GroupName=fleet.schedule_group)
        schedule_deleted = True
    except ClientError as exc:
        if aws.error_code(exc) != "ResourceNotFoundException":
            raise
        schedule_deleted = False
    alarms = _existing_alarms([alarm_name(fleet.stack, model, signal) for signal in SIGNALS])
    if alarms:
        aws.cloudwatch().delete_alarms(AlarmNames=alarms)
    key = config_key(model)
    config_deleted = aws.head(fleet.data_bucket, key) is not None
    if config_deleted:
        aws.s3().delete_object(Bucket=fleet.data_bucket, Key=key)
    if not (schedule_deleted or alarms or config_deleted):
        raise ModelNotFound(
            f"model {model!r} is not registered on stack {fleet.stack!r}: no schedule in group "
            f"{fleet.schedule_group!r}, no alarm {alarm_name(fleet.stack, model, 'performance')!r}..., "
            f"no s3://{fleet.data_bucket}/{key}"
        )
    return Unregistration(
        model=model, schedule_deleted=schedule_deleted, alarms_deleted=alarms, config_deleted=config_deleted
    )


def schedule_of(fleet: FleetStack, model: str) -> dict[str, Any] | None:
    """The model's schedule as Scheduler describes it, or None."""
    try:
        return dict(aws.scheduler().get_schedule(Name=model, GroupName=fleet.schedule_group))
    except ClientError as exc:
        if aws.error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def alarms_of(fleet: FleetStack, model: str) -> list[dict[str, Any]]:
    """The model's alarms (``<stack>-<model>-<signal>``) as CloudWatch describes them."""
    names = [alarm_name(fleet.stack, model, signal) for signal in SIGNALS]
    return [dict(alarm) for alarm in aws.cloudwatch().describe_alarms(AlarmNames=names)["MetricAlarms"]]


def _existing_alarms(names: list[str]) -> list[str]:
    if not names:
        return []
    found = aws.cloudwatch().describe_alarms(AlarmNames=names)["MetricAlarms"]
    present = {a["AlarmName"] for a in found}
    return [name for name in names if name in present]
