"""A moto server on loopback holding the template's storage as a CloudFormation stack.

Where :class:`~retrain.local.cloud.LocalCloud` patches boto3 inside one process,
this is AWS as a separate client sees it: real HTTP to ``127.0.0.1``, reached by
any process through ``AWS_ENDPOINT_URL``. :class:`MotoServerStack` starts moto's
``ThreadedMotoServer`` and creates, through CloudFormation's ``CreateStack``, the
template's buckets and table with the template's own properties and its
``Outputs`` that name them, so ``describe_stacks`` answers as it does for a
deployed stack (``retrain bootstrap --stack``, ``retrain models --stack``). The
built functions (``.aws-sam/build``) run against it in their own processes
with the environment the template gives them (:meth:`function_environment`).

moto's CloudFormation ignores a bucket's versioning and public access block;
they are applied after the stack is created, as the template sets them. It has
no EventBridge Scheduler schedule group and no SAM state machine either: what
``retrain register`` needs of the fleet (the schedule group, the scheduler
role's trust, and a stand-in state machine with one Succeed state, since the
functions do not run on the server) is created beside the stack and its
outputs (``ScheduleGroupName``, ``SchedulerRoleArn``, ``StateMachineArn``)
are added to the stack's, so ``describe_stacks`` names them as on AWS.
Bucket policies are left out: moto's policy evaluator has no
``aws:SecureTransport`` key, so the TLS-only Deny would refuse every request
(see :mod:`retrain.local.cloud`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from retrain.local.deploy import ACCOUNT, DEFAULT_TEMPLATE, REGION, configure_bucket
from retrain.local.template import (
    PSEUDO_PARAMETERS,
    Resolver,
    TemplateError,
    function_properties,
    load_template,
    parameter_defaults,
    pseudo_parameters,
    references,
)

#: What the stack on the server holds: the state every step reads and writes.
STORAGE_TYPES = ("AWS::S3::Bucket", "AWS::DynamoDB::Table")
#: Fleet resources created beside the stack (see the module's docstring), in this order.
FLEET_TYPES = ("AWS::Serverless::StateMachine", "AWS::IAM::Role", "AWS::Scheduler::ScheduleGroup")
#: Credentials for the server (moto accepts any); never real ones.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def storage_template(template: dict[str, Any]) -> dict[str, Any]:
    """The template's storage resources and the outputs that only name them, as a plain CloudFormation template."""
    resources = {k: v for k, v in template["Resources"].items() if v["Type"] in STORAGE_TYPES}
    known = set(resources) | set(template.get("Parameters") or {}) | PSEUDO_PARAMETERS
    outputs = {
        name: output for name, output in (template.get("Outputs") or {}).items() if references(output["Value"]) <= known
    }
    for logical_id, resource in resources.items():
        missing = references(resource.get("Properties", {})) - known
        if missing:
            raise TemplateError(f"{logical_id} refers to {sorted(missing)}, which the server stack does not hold")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": template.get("Parameters") or {},
        "Resources": resources,
        "Outputs": outputs,
    }


class MotoServerStack:
    """A ``ThreadedMotoServer`` on 127.0.0.1 with the template's storage deployed as stack ``stack_name``.

    Use as a context manager. :attr:`endpoint` is the server's URL;
    :meth:`client_environment` the variables that point boto3 at it.
    """

    def __init__(
        self,
        template: str | Path = DEFAULT_TEMPLATE,
        *,
        stack_name: str = "retrain",
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self.template = load_template(template)
        self.stack_name = stack_name
        self.parameters = parameter_defaults(self.template, parameters)
        self.endpoint = ""
        self.physical: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self._server: Any = None

    def __enter__(self) -> MotoServerStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_environment(self) -> dict[str, str]:
        """What points any process's boto3 at the server."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        from retrain.local import patches

        patches.serialize_dynamodb()  # the server answers requests on threads: DynamoDB runs them one by one
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        fleet_outputs = self._create_fleet()
        template = storage_template(self.template)
        template["Outputs"].update({name: {"Value": value} for name, value in fleet_outputs.items()})
        cfn = self.client("cloudformation")
        cfn.create_stack(
            StackName=self.stack_name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in self.parameters.items()],
        )
        stack = cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise TemplateError(f"stack {self.stack_name} on the moto server: {stack['StackStatus']}")
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        resources = cfn.describe_stack_resources(StackName=self.stack_name)["StackResources"]
        self.physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
        self._apply_bucket_settings()

    def _create_fleet(self) -> dict[str, str]:
        """The schedule group, the scheduler role and a stand-in state machine; the outputs naming them."""
        resolver = self.resolver()
        created: set[str] = set()
        resources = self.template["Resources"]
        for kind in FLEET_TYPES:
            for logical_id, resource in resources.items():
                if resource["Type"] != kind:
                    continue
                name = f"{self.stack_name}-{logical_id}"[:64]
                props = resource.get("Properties") or {}
                if kind == "AWS::Scheduler::ScheduleGroup":
                    name = str(resolver.resolve(props.get("Name") or name))
                    arn = self.client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
                    resolver.refs[logical_id] = name
                elif kind == "AWS::IAM::Role":  # its trust only: the policies name resources the server lacks
                    trust = json.dumps(resolver.resolve(props["AssumeRolePolicyDocument"]))
                    arn = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
                    resolver.refs[logical_id] = name
                else:
                    arn = self._stand_in_state_machine(name)
                    resolver.refs[logical_id] = arn
                resolver.attributes[(logical_id, "Arn")] = arn
                created.add(logical_id)
        outputs = {}
        for output_name, output in (self.template.get("Outputs") or {}).items():
            refs = references(output["Value"])
            if refs & created and refs <= created | set(self.parameters) | PSEUDO_PARAMETERS:
                outputs[output_name] = str(resolver.resolve(output["Value"]))
        return outputs

    def _stand_in_state_machine(self, name: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = self.client("iam").create_role(RoleName=f"{name}-role"[:64], AssumeRolePolicyDocument=json.dumps(trust))
        definition: dict[str, Any] = {
            "Comment": "stand-in: the functions do not run on the server",
            "StartAt": "Done",
            "States": {"Done": {"Type": "Succeed"}},
        }
        return str(
            self.client("stepfunctions").create_state_machine(
                name=name, definition=json.dumps(definition), roleArn=role["Role"]["Arn"]
            )["stateMachineArn"]
        )

    def _apply_bucket_settings(self) -> None:
        """What moto's CloudFormation ignores of a bucket's properties: versioning and the public access block."""
        s3 = self.client("s3")
        for logical_id, name in self.physical.items():
            resource = self.template["Resources"][logical_id]
            if resource["Type"] != "AWS::S3::Bucket":
                continue
            configure_bucket(s3, name, resource.get("Properties") or {})

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def resolver(self) -> Resolver:
        resolver = Resolver.for_template(
            self.template, self.parameters, pseudo_parameters(self.stack_name, REGION, ACCOUNT)
        )
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":  # not created on the server; functions may name their ARN
                resolver.attributes[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/{self.stack_name}-{logical_id}"
        for logical_id, name in self.physical.items():
            kind = self.template["Resources"][logical_id]["Type"]
            resolver.refs[logical_id] = name
            arn = f"arn:aws:s3:::{name}" if kind == "AWS::S3::Bucket" else ""
            if kind == "AWS::DynamoDB::Table":
                arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
            resolver.attributes[(logical_id, "Arn")] = arn
        return resolver

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The environment template.yaml gives function ``logical_id`` (Globals merged), resolved on this stack."""
        props = function_properties(self.template, logical_id)
        variables = self.resolver().resolve((props.get("Environment") or {}).get("Variables") or {})
        return {k: str(v) for k, v in variables.items()}


@contextmanager
def pointed_at(stack: MotoServerStack) -> Iterator[None]:
    """Point this process's boto3 (new clients) at the server for the duration."""
    from retrain import aws
    from retrain.local.lambdas import environment

    with environment(stack.client_environment()):
        aws.reset_clients()
        try:
            yield
        finally:
            aws.reset_clients()
