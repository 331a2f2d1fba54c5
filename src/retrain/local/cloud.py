"""The local cloud: moto, deployed from template.yaml and the ASL file.

``LocalCloud`` starts ``mock_aws`` with Step Functions execution enabled, then
creates every resource of the SAM template (buckets, table, functions, the
state machine from its ``DefinitionUri`` with its ``DefinitionSubstitutions``,
its EventBridge rules, the schedule group and scheduler role, alarms). There is
no second copy of the wiring: a resource added to the template is created here,
and a resource type this module cannot create is an error, not a silent gap.

moto stores EventBridge rules but delivers nothing and fires no schedule, and
CloudWatch alarms emit no events; moto's EventBridge Scheduler stores schedules
and never fires them. The cloud bridges these: :meth:`put_events` delivers to
matching rules' targets, :meth:`fire_schedule` fires a model's Scheduler
schedule, :meth:`set_alarm_state` emits the standard "CloudWatch Alarm State
Change" event. Models are registered as on AWS (:meth:`register`,
:mod:`retrain.fleet`): each gets its own schedule and alarms. Functions run
in-process (:mod:`retrain.local.patches`); their EMF output becomes CloudWatch
metric data.
:class:`~retrain.local.deploy.TemplateDeployment` holds the deployment itself.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrain import fleet as fleets
from retrain.config import ModelConfig
from retrain.fleet import FleetStack, Registration, Unregistration
from retrain.local import patches
from retrain.local.deploy import (
    ACCOUNT,
    DEFAULT_TEMPLATE,
    REGION,
    ROOT,
    SUPPORTED_TYPES,
    TemplateDeployment,
    configure_bucket,
)
from retrain.local.template import (
    Resolver,
    TemplateError,
    load_template,
    parameter_defaults,
    pseudo_parameters,
)

__all__ = ["ACCOUNT", "DEFAULT_TEMPLATE", "REGION", "ROOT", "SUPPORTED_TYPES", "LocalCloud", "configure_bucket"]

_DONE = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def _event_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """``detail.configuration.metrics`` of an alarm's state-change event (one metric, or its metric math)."""

    def stat(metric: dict[str, Any], period: Any, statistic: Any) -> dict[str, Any]:
        return {
            "metric": {
                "namespace": metric["Namespace"],
                "name": metric["MetricName"],
                "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
            },
            "period": period,
            "stat": statistic,
        }

    if not alarm.get("Metrics"):
        return [
            {
                "id": "m1",
                "metricStat": stat(alarm, alarm.get("Period", 60), alarm.get("Statistic", "Average")),
                "returnData": True,
            }
        ]
    metrics = []
    for query in alarm["Metrics"]:
        entry: dict[str, Any] = {"id": query["Id"], "returnData": query.get("ReturnData", True)}
        if "Expression" in query:
            entry["expression"] = query["Expression"]
        if "Label" in query:
            entry["label"] = query["Label"]
        if "MetricStat" in query:
            entry["metricStat"] = stat(
                query["MetricStat"]["Metric"], query["MetricStat"]["Period"], query["MetricStat"]["Stat"]
            )
        metrics.append(entry)
    return metrics


class LocalCloud(TemplateDeployment):
    """A moto cloud deployed from the SAM template.

    Use as a context manager; everything (clients, executions) must finish inside it.
    """

    def __init__(
        self,
        template: str | Path = DEFAULT_TEMPLATE,
        *,
        stack_name: str = "retrain",
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self.template_path = Path(template).resolve()
        self.root = self.template_path.parent
        self.stack_name = stack_name
        self.template = load_template(self.template_path)
        self.parameters = parameter_defaults(self.template, parameters)
        self.resolver = Resolver.for_template(
            self.template, self.parameters, pseudo_parameters(stack_name, REGION, ACCOUNT)
        )
        self.functions: dict[str, patches.InProcessFunction] = {}
        self.state_machine_arn = ""
        self.rules: list[dict[str, Any]] = []
        self.outputs: dict[str, Any] = {}
        self.bucket_policies: dict[str, Any] = {}
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}

    # ------------------------------------------------------------------ life
    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from moto import mock_aws

        for key, value in {"AWS_DEFAULT_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true"}.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        # moto's in-process mock does not intercept a custom endpoint: a client would call it for real.
        for key in ("AWS_ENDPOINT_URL", *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))):
            self._saved_env[key] = os.environ.pop(key, None)
        # moto's interpreter logs every failed state at WARNING; the execution history has them.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        # Handlers that publish nothing (normalize, snapshot, ...) make powertools warn on every call.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        from retrain import aws

        aws.reset_clients()
        patches.install()
        patches.on_output(self._publish_emf)
        self.deploy()

    def stop(self) -> None:
        from retrain import aws

        # A Parallel branch can still be running a handler after its execution ended: let it finish
        # while moto is active, and refuse later invocations, so nothing outlives this cloud.
        with patches.quiesced():
            patches.uninstall()
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            aws.reset_clients()
        for key, old in self._saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old

    # ------------------------------------------------------------ resources
    def ref(self, logical_id: str) -> str:
        """The physical name (or ARN) of a template resource."""
        return str(self.resolver.ref(logical_id))

    def environment(self) -> dict[str, str]:
        """The functions' shared environment (bucket and table names), for code run outside a function."""
        first = next(iter(self.functions.values()))
        return dict(first.environment)

    # ---------------------------------------------------------------- events
    def put_events(self, entries: list[dict[str, Any]]) -> list[str]:
        """``events:PutEvents``; matching rules deliver to the state machine. Returns the executions started."""
        before = len(patches.STARTED)
        response = self.client("events").put_events(Entries=entries)
        failed = [e for e in response["Entries"] if "ErrorCode" in e]
        if failed:
            raise TemplateError(f"PutEvents rejected {len(failed)} entries: {failed[0]}")
        return patches.STARTED[before:]

    def deliver(self, event: dict[str, Any], *, copies: int = 1) -> list[str]:
        """Deliver one event (its ``id`` kept) ``copies`` times to every matching rule's targets.

        EventBridge delivers at least once; this is how a duplicate delivery looks
        to the state machine: the same event id in a new, randomly named execution.
        A delivery that cannot start an execution goes to the target's dead-letter
        queue (:func:`retrain.local.patches.deliver_to_state_machine`) and starts nothing.
        """
        from moto.events.models import EventPattern

        events = self.client("events")
        started: list[str] = []
        for rule in self.rules:
            described = events.describe_rule(Name=rule["name"], EventBusName=rule["bus"])
            if described.get("State") != "ENABLED" or "EventPattern" not in described:
                continue
            if not EventPattern.load(described["EventPattern"]).matches_event(event):  # type: ignore[arg-type]
                continue
            for target in events.list_targets_by_rule(Rule=rule["name"], EventBusName=rule["bus"])["Targets"]:
                for _ in range(copies):
                    arn = patches.deliver_to_state_machine(target, event, rule["name"], described["Arn"])
                    if arn is not None:
                        started.append(arn)
        return started

    # ----------------------------------------------------------------- fleet
    @property
    def fleet(self) -> FleetStack:
        """This stack's names for registering models (from its outputs, as the CLI reads them)."""
        return FleetStack.from_outputs(self.stack_name, self.outputs)

    def register(self, config: ModelConfig, text: str) -> Registration:
        """Register a model as ``retrain register`` does: its config, its schedule and its alarms."""
        return fleets.register(self.fleet, config, text)

    def unregister(self, model: str) -> Unregistration:
        """Remove a model's schedule, alarms and config as ``retrain unregister`` does."""
        return fleets.unregister(self.fleet, model)

    def schedules(self) -> list[str]:
        """The registered models' schedules (each is named after its model)."""
        listed = self.client("scheduler").list_schedules(GroupName=self.fleet.schedule_group)["Schedules"]
        return sorted(s["Name"] for s in listed)

    def fire_schedule(self, model: str | None = None) -> list[str]:
        """Fire a model's Scheduler schedule now, as EventBridge Scheduler does (the only one, if none is named).

        Scheduler starts the target's state machine with the schedule's constant input, under a
        name of its own; a disabled schedule does not fire.
        """
        names = self.schedules()
        if model is None:
            if len(names) != 1:
                raise TemplateError(f"name the model whose schedule fires; registered schedules: {names}")
            model = names[0]
        if model not in names:
            raise TemplateError(f"no schedule for model {model!r}; registered schedules: {names}")
        schedule = self.client("scheduler").get_schedule(Name=model, GroupName=self.fleet.schedule_group)
        if schedule["State"] != "ENABLED":
            raise TemplateError(f"the schedule of model {model!r} is {schedule['State']}: Scheduler would not fire it")
        delivery = {"id": uuid.uuid4().hex}  # Scheduler passes only the target's Input; the id names the execution
        return [patches.start_state_machine(schedule["Target"], delivery, f"{self.stack_name}-{model}")]

    def schedule_rules(self) -> list[str]:
        return [r["name"] for r in self.rules if r["type"] == "Schedule"]

    def alarm_names(self) -> list[str]:
        alarms = self.client("cloudwatch").describe_alarms()["MetricAlarms"]
        return [a["AlarmName"] for a in alarms]

    def alarm_event(self, alarm_name: str, state: str = "ALARM", reason: str = "Threshold Crossed") -> dict[str, Any]:
        """Change an alarm's state; return the "CloudWatch Alarm State Change" event CloudWatch emits."""
        cloudwatch = self.client("cloudwatch")
        found = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
        if not found:
            raise TemplateError(f"no alarm {alarm_name!r}; the template has {self.alarm_names()}")
        alarm = found[0]
        previous = alarm.get("StateValue", "INSUFFICIENT_DATA")
        cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue=state, StateReason=reason)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        event = {
            "version": "0",
            "id": uuid.uuid4().hex,
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [alarm["AlarmArn"]],
            "detail": {
                "alarmName": alarm_name,
                "state": {"value": state, "reason": reason, "timestamp": now},
                "previousState": {
                    "value": previous,
                    "reason": alarm.get("StateReason", ""),
                    "timestamp": now,
                },
                "configuration": {
                    "description": alarm.get("AlarmDescription", ""),
                    "metrics": _event_metrics(alarm),
                },
            },
        }
        return event

    def set_alarm_state(self, alarm_name: str, state: str = "ALARM", reason: str = "Threshold Crossed") -> list[str]:
        """Change an alarm's state and deliver its state-change event to the matching rules."""
        return self.deliver(self.alarm_event(alarm_name, state, reason))

    def start_execution(self, payload: dict[str, Any], name: str) -> str:
        """Start the state machine directly (as ``aws stepfunctions start-execution`` would)."""
        return str(
            self.client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload)
            )["executionArn"]
        )

    # ------------------------------------------------------------ executions
    def wait(
        self,
        execution_arn: str,
        *,
        timeout: float = 900,
        on_state: Callable[[dict[str, Any]], None] | None = None,
        poll: float = 0.05,
        history_every: float = 0.5,
    ) -> dict[str, Any]:
        """Poll an execution until it ends; call ``on_state`` for each history event as it appears.

        The history is read at most every ``history_every`` seconds, and once more
        at the end: moto serializes the whole history on every read, and the
        execution's thread waits for this one while it does.
        """
        sfn = self.client("stepfunctions")
        seen = 0
        deadline = time.monotonic() + timeout
        next_history = 0.0
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            done = described["status"] in _DONE
            if on_state is not None and (done or time.monotonic() >= next_history):
                history = self.history(execution_arn)
                for event in history[seen:]:
                    on_state(event)
                seen = len(history)
                next_history = time.monotonic() + history_every
            if done:
                return dict(described)
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still {described['status']} after {timeout}s")
            time.sleep(poll)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event of an execution's history, oldest first (with each state's input and output)."""
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    # --------------------------------------------------------------- metrics
    def _publish_emf(self, function: patches.InProcessFunction, text: str) -> None:
        """Turn the function's EMF lines into CloudWatch metric data (what CloudWatch Logs does on AWS)."""
        data: dict[str, list[dict[str, Any]]] = {}
        for line in text.splitlines():
            if '"_aws"' not in line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
                for dimension_set in directive.get("Dimensions", []):
                    dimensions = [{"Name": d, "Value": str(record[d])} for d in dimension_set if d in record]
                    for metric in directive.get("Metrics", []):
                        values = record.get(metric["Name"])
                        for value in values if isinstance(values, list) else [values]:
                            if value is None:
                                continue
                            item = {
                                "MetricName": metric["Name"],
                                "Dimensions": dimensions,
                                "Value": float(value),
                            }
                            if metric.get("Unit"):
                                item["Unit"] = metric["Unit"]
                            data.setdefault(directive["Namespace"], []).append(item)
        client = self.client("cloudwatch")
        for namespace, items in data.items():
            client.put_metric_data(Namespace=namespace, MetricData=items)
