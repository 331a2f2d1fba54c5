"""EventBridge delivery to Step Functions targets, as AWS does it, dead-letter queue included.

moto 5.2.5's EventBridge raises ``NotImplementedError`` for a Step Functions
target and lets a schedule rule's empty pattern match every put event. The
patched ``Rule.send_to_targets`` starts the target's execution under a random
name (EventBridge names executions itself), and a delivery StartExecution
refuses goes to the target's dead-letter queue with EventBridge's attributes.

Other targets (an SQS queue a user subscribes with) get the event as
EventBridge sends it: moto's default event for a target without an input
transformer leaves out ``account``, which :data:`EVENT_TEMPLATE` puts back.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

_ORIGINAL_SEND: Any = None
_ORIGINAL_TEMPLATE: str | None = None
#: The event EventBridge gives a target without an input transformer (SQS, logs), fields in AWS's order.
#: moto's default leaves out ``account``; ``time`` stays moto's epoch number, which moto formats for SQS.
EVENT_TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", "account": "<account>", '
    '"time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}'
)
#: Executions started by EventBridge rules, in order (see :func:`_patched_send_to_targets`).
STARTED: list[str] = []


def execution_name(prefix: str, event_id: str) -> str:
    """A valid Step Functions execution name (<= 80 chars of [A-Za-z0-9-_]), unique per delivery.

    EventBridge names executions itself, at random: the same event delivered twice starts
    two executions, and the state machine must tell they are one (it does, by event id).
    """
    raw = f"{prefix[:40]}-{event_id[:24]}-{uuid.uuid4().hex[:12]}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", raw)[:80]


def start_state_machine(target: dict[str, Any], event: dict[str, Any], rule_name: str) -> str:
    """Deliver ``event`` to a state-machine target as EventBridge does (constant ``Input`` wins)."""
    import boto3

    payload = json.loads(target["Input"]) if "Input" in target else event
    region = target["Arn"].split(":")[3]
    client = boto3.client("stepfunctions", region_name=region)
    arn = client.start_execution(
        stateMachineArn=target["Arn"],
        name=execution_name(rule_name, str(event["id"])),
        input=json.dumps(payload),
    )["executionArn"]
    STARTED.append(arn)
    return str(arn)


#: EventBridge's DLQ ``ERROR_CODE`` for a Step Functions ``StartExecution`` error (others: ERROR_FROM_TARGET).
DLQ_ERROR_CODES = {
    "StateMachineDoesNotExist": "NO_RESOURCE",
    "ResourceNotFound": "NO_RESOURCE",
    "StateMachineDeleting": "NO_RESOURCE",
    "ExecutionAlreadyExists": "RESOURCE_ALREADY_EXISTS",
    "ExecutionLimitExceeded": "RESOURCE_LIMIT_EXCEEDED",
    "AccessDeniedException": "NO_PERMISSIONS",
    "ThrottlingException": "THROTTLING",
    "InvalidExecutionInput": "INVALID_PARAMETER",
    "InvalidName": "INVALID_PARAMETER",
    "InvalidArn": "INVALID_PARAMETER",
    "ValidationException": "INVALID_PARAMETER",
}
#: Events sent to a dead-letter queue, in order: ``(queue_arn, event, attributes)``.
DEAD_LETTERS: list[tuple[str, dict[str, Any], dict[str, str]]] = []


def send_to_dead_letter_queue(queue_arn: str, event: dict[str, Any], attributes: dict[str, str]) -> None:
    """Put ``event`` (the body, unchanged) in the SQS queue ``queue_arn`` with EventBridge's DLQ attributes."""
    import boto3

    _, _, _, region, account, name = queue_arn.split(":", 5)
    sqs = boto3.client("sqs", region_name=region)
    url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(event),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )
    DEAD_LETTERS.append((queue_arn, event, attributes))


def deliver_to_state_machine(
    target: dict[str, Any], event: dict[str, Any], rule_name: str, rule_arn: str
) -> str | None:
    """Deliver ``event`` to a state-machine target; an error goes to the target's dead-letter queue.

    Returns the execution started, or ``None`` when the event was dead-lettered.
    As on EventBridge, the queue gets the original event as the body and the
    attributes ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``
    and ``RETRY_ATTEMPTS``. The errors StartExecution raises here (no such
    state machine, a name taken, invalid input) are not retried by EventBridge,
    so ``RETRY_ATTEMPTS`` is 0 and there is no ``EXHAUSTED_RETRY_CONDITION``.
    A target without ``DeadLetterConfig`` raises the error, as before.
    """
    from botocore.exceptions import ClientError

    try:
        return start_state_machine(target, event, rule_name)
    except ClientError as exc:
        queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue_arn:
            raise
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        attributes = {
            "RULE_ARN": rule_arn,
            "TARGET_ARN": str(target["Arn"]),
            "ERROR_CODE": DLQ_ERROR_CODES.get(code, "ERROR_FROM_TARGET"),
            "ERROR_MESSAGE": f"{code}: {error.get('Message', exc)}"[:1024],
            "RETRY_ATTEMPTS": "0",
        }
        send_to_dead_letter_queue(str(queue_arn), event, attributes)
        return None


def _patched_send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    """moto delivers to logs, SQS, archives and buses only; add Step Functions targets.

    A schedule rule (no event pattern) matches no put event, as on AWS; moto
    would treat its empty pattern as match-all.
    """
    if self.scheduled_expression and not self.event_pattern._pattern:
        return
    states = [t for t in self.targets if ":states:" in t["Arn"]]
    others = [t for t in self.targets if ":states:" not in t["Arn"]]
    if states and self.event_pattern.matches_event(original_event):
        event = dict(original_event)
        if isinstance(event.get("time"), int | float):
            event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event.pop("ingestion-time", None)
        for target in states:
            deliver_to_state_machine(target, event, self.name, self.arn)
    if others:
        saved = self.targets
        self.targets = others
        try:
            _ORIGINAL_SEND(self, original_event, transform_input)
        finally:
            self.targets = saved


def install() -> None:
    """Patch moto's EventBridge delivery (``Rule.send_to_targets``) to start Step Functions targets, and its
    default event for other targets (:data:`EVENT_TEMPLATE`); idempotent."""
    global _ORIGINAL_SEND, _ORIGINAL_TEMPLATE
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser

    if _ORIGINAL_SEND is None:
        _ORIGINAL_SEND = Rule.send_to_targets
        Rule.send_to_targets = _patched_send_to_targets  # type: ignore[method-assign,assignment]
    if _ORIGINAL_TEMPLATE is None:
        _ORIGINAL_TEMPLATE = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
        EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = EVENT_TEMPLATE


def uninstall() -> None:
    """Undo :func:`install`."""
    global _ORIGINAL_SEND, _ORIGINAL_TEMPLATE
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser

    if _ORIGINAL_SEND is not None:
        Rule.send_to_targets = _ORIGINAL_SEND  # type: ignore[method-assign]
        _ORIGINAL_SEND = None
    if _ORIGINAL_TEMPLATE is not None:
        EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = _ORIGINAL_TEMPLATE
        _ORIGINAL_TEMPLATE = None
