"""A deployed stack as the commands see it: its names (CloudFormation outputs), its region, and ``retrain teardown``.

Every AWS call goes through :mod:`retrain.aws`, whose clients ``--region`` points at (:func:`use_region`).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from retrain.errors import RetrainError, StackNotFound

if TYPE_CHECKING:
    from retrain.fleet import FleetStack
    from retrain.settings import Settings


def use_region(args: argparse.Namespace) -> None:
    """Point the package's AWS adapters (:mod:`retrain.aws`) at ``--region`` (the default session's otherwise)."""
    from retrain import aws

    aws.use_region(args.region)


def stack_settings(args: argparse.Namespace, *, buckets: bool = False) -> Settings:
    """Resource names of a deployed stack: ``--table``, or the stack's CloudFormation outputs.

    With ``buckets`` (commands that write data), the bucket names always come from
    the stack's outputs (``DataBucketName``, ``ArtifactBucketName``) and ``--table``
    only overrides ``RegistryTableName``. The champion's SSM parameters live under
    ``/<stack>/champion``.
    """
    from retrain.settings import Settings

    prefix = f"/{args.stack}/champion"
    if args.table and not buckets:
        names = {"DATA_BUCKET": "", "ARTIFACT_BUCKET": "", "REGISTRY_TABLE": args.table}
    else:
        outputs = stack_outputs(args.stack)
        wanted = {"DATA_BUCKET": "DataBucketName", "ARTIFACT_BUCKET": "ArtifactBucketName"}
        if not args.table:
            wanted["REGISTRY_TABLE"] = "RegistryTableName"
        missing = [output for output in wanted.values() if output not in outputs]
        if missing:
            raise StackNotFound(
                f"stack {args.stack!r} has no output {', '.join(map(repr, missing))} "
                f"(its outputs: {', '.join(sorted(outputs)) or 'none'})"
            )
        names = {variable: outputs[output] for variable, output in wanted.items()}
        if args.table:
            names["REGISTRY_TABLE"] = args.table
    return Settings.model_validate({**names, "CHAMPION_PARAMETER_PREFIX": prefix})


def describe_stack(stack: str, action: str, **kwargs: Any) -> Any:
    """Call CloudFormation ``action`` on ``stack`` (the SDK's default endpoint resolution: ``AWS_ENDPOINT_URL``
    applies); a stack that does not exist raises :class:`StackNotFound`."""
    from botocore.exceptions import ClientError

    from retrain import aws

    try:
        return getattr(aws.cloudformation(), action)(StackName=stack, **kwargs)
    except ClientError as exc:
        if aws.error_code(exc) == "ValidationError":  # "Stack with id ... does not exist"
            raise StackNotFound(f"cannot describe stack {stack!r}: {exc}") from exc
        raise


def stack_outputs(stack: str) -> dict[str, str]:
    """A CloudFormation stack's outputs."""
    stacks = describe_stack(stack, "describe_stacks")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}


def fleet_stack(args: argparse.Namespace) -> FleetStack:
    """The stack's schedule group, scheduler role, state machine and metric namespace (its outputs)."""
    from retrain.fleet import FleetStack

    return FleetStack.from_outputs(args.stack, stack_outputs(args.stack))


def _retained_resources(stack: str) -> set[str]:
    """Logical ids the deployed template keeps when the stack is deleted (``DeletionPolicy: Retain``)."""
    from retrain.local.template import loads_template

    body = describe_stack(stack, "get_template", TemplateStage="Processed")["TemplateBody"]
    if isinstance(body, str):  # JSON, or YAML for a stack deployed without the SAM transform
        body = loads_template(body, source=f"stack {stack!r}'s template")
    return {name for name, r in (body.get("Resources") or {}).items() if r.get("DeletionPolicy") == "Retain"}


def teardown(args: argparse.Namespace) -> int:
    """Before ``sam delete``: remove a stack's buckets (every object version, then the bucket) and say what is kept.

    The data and artifact buckets and the registry table are retained by the
    template (``sam delete`` leaves them). By default teardown removes every
    bucket, and keeps the registry table unless ``--delete-registry``; with
    ``--keep-history`` it removes only the buckets the stack would delete.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import aws

    if args.keep_history and args.delete_registry:
        print("--keep-history keeps the registry table; it cannot go with --delete-registry", file=sys.stderr)
        return 2
    if not args.yes:
        print(
            f"teardown deletes stack {args.stack!r}'s buckets with every object version in them, for good "
            f"(--keep-history: only those sam delete removes; --delete-registry: the registry table too); "
            f"add --yes to go ahead",
            file=sys.stderr,
        )
        return 2
    kept: list[str] = []
    try:
        use_region(args)
        resources = describe_stack(args.stack, "describe_stack_resources")["StackResources"]
        retained = _retained_resources(args.stack)
        buckets = [r for r in resources if r["ResourceType"] == "AWS::S3::Bucket"]
        # Retained (history) buckets first: they log into the access-log bucket, which goes last.
        buckets.sort(key=lambda r: r["LogicalResourceId"] not in retained)
        for resource in buckets:
            bucket = resource["PhysicalResourceId"]
            if args.keep_history and resource["LogicalResourceId"] in retained:
                kept.append(f"s3://{bucket} ({resource['LogicalResourceId']}, every object version)")
                continue
            print(f"  s3://{bucket}: {aws.delete_bucket(bucket)} object versions deleted, bucket deleted")
        for resource in resources:
            if resource["ResourceType"] != "AWS::DynamoDB::Table":
                continue
            table = resource["PhysicalResourceId"]
            if args.delete_registry:
                aws.delete_table(table)
                print(f"  table {table}: deleted")
            elif resource["LogicalResourceId"] in retained:
                kept.append(f"table {table} ({resource['LogicalResourceId']}: every model's versions and lineage)")
    except (RetrainError, BotoCoreError, ClientError) as exc:
        print(f"teardown failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for item in kept:
        print(f"  kept: {item}")
    if kept:
        print("  kept resources outlive the stack; run teardown again before sam delete to remove them")
    print(f"stack {args.stack!r} is ready to delete; now: sam delete --stack-name {args.stack}")
    return 0
