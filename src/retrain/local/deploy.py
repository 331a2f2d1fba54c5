"""Deploying template.yaml into moto: every resource type the local cloud supports, in dependency order.

:class:`TemplateDeployment` creates the template's buckets, table, log groups,
functions (registered to run in-process, :mod:`retrain.local.lambdas`), the
state machine from its ``DefinitionUri`` with its ``DefinitionSubstitutions``
and its EventBridge rules, roles, the schedule group, queues, alarms and the
dashboard, each with the names and attributes its references resolve to. A
resource type not in :data:`SUPPORTED_TYPES` is an error, not a silent gap.
:class:`~retrain.local.cloud.LocalCloud` is one.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3

from retrain.local import lambdas
from retrain.local.template import Resolver, TemplateError, function_properties, references, substitute_definition

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE = ROOT / "template.yaml"

#: Resource types the local cloud creates; anything else in the template is an error.
SUPPORTED_TYPES = (
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::DynamoDB::Table",
    "AWS::Serverless::LayerVersion",
    "AWS::Logs::LogGroup",  # before the functions and the state machine, which log to it
    "AWS::Serverless::Function",
    "AWS::SQS::Queue",  # before the state machine: its rules name the queue as their dead-letter queue
    "AWS::Serverless::StateMachine",
    "AWS::IAM::Role",  # after the state machine, which its policy names
    "AWS::Scheduler::ScheduleGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::SQS::QueuePolicy",  # last: it names the rules and the schedule group
)
_ORDER = {t: i for i, t in enumerate(SUPPORTED_TYPES)}


def _order(resource: dict[str, Any], resources: dict[str, Any]) -> int:
    """Where a resource comes in the deployment: by type; a role that names no function or state machine
    comes before the functions (their environment may name it)."""
    kind = resource["Type"]
    if kind == "AWS::IAM::Role":
        named = references(resource.get("Properties") or {})
        serverless = {name for name in named if resources.get(name, {}).get("Type", "").startswith("AWS::Serverless")}
        if not serverless:
            return _ORDER["AWS::Logs::LogGroup"]
    return _ORDER[kind]


def _state_machine_logging(logging_config: dict[str, Any]) -> dict[str, Any]:
    """SAM's ``Logging`` of a state machine as the ``loggingConfiguration`` of ``CreateStateMachine``."""
    return {
        "level": logging_config.get("Level", "OFF"),
        "includeExecutionData": bool(logging_config.get("IncludeExecutionData", False)),
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
            for d in logging_config.get("Destinations") or []
        ],
    }


def configure_bucket(s3: Any, name: str, props: dict[str, Any]) -> None:
    """Apply a template bucket's versioning and public access block (what moto's CloudFormation ignores too)."""
    if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "code runs in-process; see retrain.local.patches")
    return buffer.getvalue()


class TemplateDeployment:
    """Creates a template's resources in moto (:meth:`deploy`) and records how their references resolve.

    The attributes are set by the class that starts the cloud (:class:`~retrain.local.cloud.LocalCloud`).
    """

    template: dict[str, Any]
    root: Path
    stack_name: str
    resolver: Resolver
    functions: dict[str, lambdas.InProcessFunction]
    state_machine_arn: str
    rules: list[dict[str, Any]]
    outputs: dict[str, Any]
    bucket_policies: dict[str, Any]

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

    def _physical(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}".lower()[:63]

    def deploy(self) -> None:
        """Create every resource of the template, in dependency order."""
        resources = self.template["Resources"]
        unknown = sorted({r["Type"] for r in resources.values()} - set(SUPPORTED_TYPES))
        if unknown:
            raise TemplateError(f"the local cloud cannot create resource type(s): {', '.join(unknown)}")
        for logical_id, resource in sorted(resources.items(), key=lambda kv: _order(kv[1], resources)):
            kind = resource["Type"].split("::")[-1]
            getattr(self, f"_create_{kind.lower()}")(logical_id, resource.get("Properties", {}))
        for name, output in (self.template.get("Outputs") or {}).items():
            self.outputs[name] = self.resolver.resolve(output["Value"])

    def _create_bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self._physical(logical_id)
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name)
        configure_bucket(s3, name, props)
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"

    def _create_bucketpolicy(self, logical_id: str, props: dict[str, Any]) -> None:
        # Resolved (so a broken reference fails here) but not applied: moto's policy evaluator
        # supplies no aws:SecureTransport context key, so the TLS-only Deny would deny every request.
        self.bucket_policies[logical_id] = self.resolver.resolve(props)

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        name = resolved.get("TableName") or self._physical(logical_id)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": resolved["AttributeDefinitions"],
            "KeySchema": resolved["KeySchema"],
            "BillingMode": resolved.get("BillingMode", "PAY_PER_REQUEST"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if key in resolved:
                kwargs[key] = resolved[key]
        self.client("dynamodb").create_table(**kwargs)
        if "TimeToLiveSpecification" in resolved:
            self.client("dynamodb").update_time_to_live(
                TableName=name, TimeToLiveSpecification=resolved["TimeToLiveSpecification"]
            )
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    def _create_layerversion(self, logical_id: str, props: dict[str, Any]) -> None:
        # Layers only carry dependencies, which this process already has installed.
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{self._physical(logical_id)}:1"
        self.resolver.refs[logical_id] = arn

    def _create_loggroup(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        name = resolved.get("LogGroupName") or self._physical(logical_id)
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in resolved:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(resolved["RetentionInDays"]))
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"

    def _role(self, name: str, service: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        role = self.client("iam").create_role(RoleName=name[:64], AssumeRolePolicyDocument=json.dumps(trust))
        return str(role["Role"]["Arn"])

    def _create_function(self, logical_id: str, _props: dict[str, Any]) -> None:
        props = self.resolver.resolve(function_properties(self.template, logical_id))
        name = props.get("FunctionName") or self._physical(logical_id)
        env = {k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()}
        response = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.12"),
            Role=self._role(f"{name}-role", "lambda.amazonaws.com"),
            Handler=props["Handler"],
            Code={"ZipFile": _dummy_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": env},
            **({"LoggingConfig": props["LoggingConfig"]} if "LoggingConfig" in props else {}),
        )
        function = lambdas.InProcessFunction(
            name=name,
            code_dir=(self.root / props["CodeUri"]).resolve(),
            handler=props["Handler"],
            environment={**env, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION},
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            arn=response["FunctionArn"],
        )
        lambdas.register(function)
        self.functions[logical_id] = function
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = response["FunctionArn"]

    def _create_statemachine(self, logical_id: str, props: dict[str, Any]) -> None:
        if "DefinitionUri" not in props:
            raise TemplateError(f"{logical_id}: the local cloud needs DefinitionUri (the deployed ASL file)")
        definition = (self.root / props["DefinitionUri"]).read_text()
        substitutions = self.resolver.resolve(props.get("DefinitionSubstitutions") or {})
        definition = substitute_definition(definition, substitutions)
        name = props.get("Name") or self._physical(logical_id)
        logging_config = self.resolver.resolve(props.get("Logging") or {})
        arn = self.client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=self._role(f"{name}-role", "states.amazonaws.com"),
            **({"loggingConfiguration": _state_machine_logging(logging_config)} if logging_config else {}),
        )["stateMachineArn"]
        self.state_machine_arn = arn
        self.resolver.refs[logical_id] = arn
        self.resolver.attributes[(logical_id, "Arn")] = arn
        self.resolver.attributes[(logical_id, "Name")] = name
        for event_name, event in (props.get("Events") or {}).items():
            self._create_rule(logical_id, event_name, event, arn)

    def _create_rule(self, logical_id: str, event_name: str, event: dict[str, Any], target_arn: str) -> None:
        props = self.resolver.resolve(event.get("Properties") or {})
        rule_name = props.get("RuleName") or props.get("Name") or f"{self.stack_name}-{logical_id}{event_name}"[:64]
        bus = props.get("EventBusName", "default")
        events = self.client("events")
        if event["Type"] == "Schedule":
            rule = events.put_rule(
                Name=rule_name,
                ScheduleExpression=props["Schedule"],
                State="ENABLED" if props.get("State", "ENABLED") == "ENABLED" else "DISABLED",
            )
        elif event["Type"] in {"EventBridgeRule", "CloudWatchEvent"}:
            rule = events.put_rule(
                Name=rule_name, EventPattern=json.dumps(props["Pattern"]), EventBusName=bus, State="ENABLED"
            )
        else:
            raise TemplateError(f"{logical_id}.Events.{event_name}: event type {event['Type']} is not supported")
        target: dict[str, Any] = {"Id": f"{logical_id}{event_name}Target"[:64], "Arn": target_arn}
        for key in ("Input", "InputPath", "RetryPolicy", "DeadLetterConfig"):
            if key in props:
                target[key] = props[key]
        events.put_targets(Rule=rule_name, EventBusName=bus, Targets=[target])
        # SAM names the rule it generates <StateMachine><Event>; the template may refer to it (a queue policy).
        self.resolver.refs[f"{logical_id}{event_name}"] = rule_name
        self.resolver.attributes[(f"{logical_id}{event_name}", "Arn")] = rule["RuleArn"]
        self.rules.append({"name": rule_name, "event": event_name, "type": event["Type"], "bus": bus})

    def _create_role(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        name = str(resolved.get("RoleName") or self._physical(logical_id))[:64]
        iam = self.client("iam")
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(resolved["AssumeRolePolicyDocument"]),
            Description=resolved.get("Description", ""),
        )["Role"]["Arn"]
        for policy in resolved.get("Policies") or []:
            iam.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
            )
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = arn

    def _create_schedulegroup(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        name = resolved.get("Name") or self._physical(logical_id)
        arn = self.client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = arn

    def _create_alarm(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        name = resolved.get("AlarmName") or self._physical(logical_id)
        kwargs = {
            k: resolved[k]
            for k in (
                "AlarmDescription",
                "Namespace",
                "MetricName",
                "Dimensions",
                "Statistic",
                "Period",
                "EvaluationPeriods",
                "ComparisonOperator",
                "TreatMissingData",
                "Metrics",
            )
            if k in resolved
        }
        kwargs["Threshold"] = float(resolved["Threshold"])
        if "Metrics" not in kwargs:  # a metric math alarm has its periods in its metrics
            kwargs["Period"] = int(kwargs.get("Period", 60))
        kwargs["EvaluationPeriods"] = int(kwargs.get("EvaluationPeriods", 1))
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        name = resolved.get("QueueName") or self._physical(logical_id)
        attributes = {
            key: str(resolved[key]).lower() if isinstance(resolved[key], bool) else str(resolved[key])
            for key in ("MessageRetentionPeriod", "SqsManagedSseEnabled", "KmsMasterKeyId", "VisibilityTimeout")
            if key in resolved
        }
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.resolver.refs[logical_id] = url
        self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        self.resolver.attributes[(logical_id, "QueueName")] = name
        self.resolver.attributes[(logical_id, "QueueUrl")] = url

    def _create_queuepolicy(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        policy = json.dumps(resolved["PolicyDocument"])
        for url in resolved["Queues"]:
            self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})

    def _create_dashboard(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        name = resolved.get("DashboardName") or self._physical(logical_id)
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=resolved["DashboardBody"])
        self.resolver.refs[logical_id] = name
