"""The ``retrain`` command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retrain.errors import RetrainError, StackNotFound

if TYPE_CHECKING:
    import pandas as pd

    from retrain.config import ModelConfig
    from retrain.fleet import FleetStack, Registration
    from retrain.lifecycle import BootstrapOutcome
    from retrain.local.progress import Console
    from retrain.settings import Settings


def _validate_config(args: argparse.Namespace) -> int:
    """``retrain validate-config``: 0 valid; 2 invalid (what every run would refuse before training)."""
    from retrain.lifecycle import read_config

    try:
        config, _ = read_config(args.config)
    except RetrainError as exc:
        print(f"invalid: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(
        f"ok: model {config.model!r} ({config.problem}, {config.training.estimator}), "
        f"{len(config.features.all)} features"
    )
    if args.show:
        print(json.dumps(config.model_dump(mode="json"), indent=2))
    return 0


def _local_run(args: argparse.Namespace) -> int:
    """``retrain local-run``: 0 the run ended (promoted, rejected, no-retrain, insufficient-data...); 1 it failed;
    2 an input was refused before anything ran (``result.json`` says which and why)."""
    from pathlib import Path

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"local-run: --out {args.out} is a file; give a directory for result.json", file=sys.stderr)
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"local-run: cannot create --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    from retrain import reports
    from retrain import result as results
    from retrain.local.inputs import read_inputs
    from retrain.local.progress import Console, Progress, StatePrinter

    started = time.perf_counter()
    console = Console(sys.stdout)
    print(f"local run: {args.trigger} trigger, config {args.config}")
    metric = None
    try:  # before the cloud starts: a bad file is reported in well under a second
        inputs = read_inputs(args.config, args.reference, args.current)
    except RetrainError as exc:
        result = results.refused(args.trigger, exc)
        reports.write(args.out, result)
    else:
        from retrain.local.run import run_inputs

        metric = inputs.config.primary_metric
        result = run_inputs(
            inputs,
            trigger=args.trigger,
            force=args.force,
            out=args.out,
            on_state=StatePrinter(console=console),
            progress=Progress(console),
        )
    _print_outcome(console, result, name=Path(args.current).name, metric=metric)
    files = ", ".join(str(out / name) for name in reports.FILES)
    print(f"wrote {files} in {time.perf_counter() - started:.1f} s")
    if result.get("invalid_input"):
        return 2
    return 1 if result["outcome"] == "failed" else 0


def _print_outcome(console: Console, result: dict[str, Any], *, name: str, metric: str | None) -> None:
    """The run's outcome line and, for a run that reached the cloud, its table (reasons wrapped under it);
    the error goes to stderr."""
    from retrain.local.progress import summary_table

    champion = f"champion v{result['champion_version']}" if result.get("champion_version") else "no champion"
    console.line(f"outcome: {console.paint(result['outcome'], 'bold')} ({champion})")
    if not result.get("invalid_input"):
        console.line(summary_table([(name, result)], metric=metric, console=console, errors=False))
    if result.get("error"):
        print(f"{'invalid input' if result.get('invalid_input') else 'error'}: {result['error']}", file=sys.stderr)


def _trigger(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain.triggers import request_retrain

    try:
        events = boto3.client("events", region_name=args.region)
        event_id = request_retrain(events, args.model, reason=args.reason, force=args.force, bus=args.event_bus)
    except (RetrainError, BotoCoreError, ClientError) as exc:
        print(f"trigger failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"Retrain Requested for {args.model!r} (event {event_id}{', force' if args.force else ''})")
    return 0


def _stack_settings(args: argparse.Namespace, *, buckets: bool = False) -> Settings:
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
        outputs = _stack_outputs(args.stack, args.region)
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


def _describe_stack(stack: str, region: str | None, action: str, **kwargs: Any) -> Any:
    """Call CloudFormation ``action`` on ``stack`` (boto3's default endpoint resolution: ``AWS_ENDPOINT_URL``
    applies); a stack that does not exist raises :class:`StackNotFound`."""
    import boto3
    from botocore.exceptions import ClientError

    try:
        return getattr(boto3.client("cloudformation", region_name=region), action)(StackName=stack, **kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationError":  # "Stack with id ... does not exist"
            raise StackNotFound(f"cannot describe stack {stack!r}: {exc}") from exc
        raise


def _stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    """A CloudFormation stack's outputs."""
    stacks = _describe_stack(stack, region, "describe_stacks")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}


def _clients_for(args: argparse.Namespace) -> None:
    """Point the package's AWS adapters at ``--region`` (the boto3 default session otherwise)."""
    import os

    from retrain import aws

    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region
    aws.reset_clients()


def _report(args: argparse.Namespace) -> int:
    """``retrain report RUN``: 0 the files are written (and opened with ``--open``); 1 there is no such report."""
    import webbrowser
    from pathlib import Path

    from retrain import reports

    local = Path(args.run)
    try:
        if local.exists():  # a local run's folder or file: the page rendered again from its report
            source = (
                local
                if local.is_file()
                else next(
                    (local / n for n in ("report.json", "result.json") if (local / n).exists()), local / "report.json"
                )
            )
            report = json.loads(source.read_text())
            paths = reports.write(Path(args.out) if args.out else source.parent, report)
        else:
            _clients_for(args)
            settings = _stack_settings(args, buckets=True)
            report = reports.fetch(settings.artifact_bucket, args.run, model=args.model)
            out = Path(args.out or f"retrain-out/reports/{reports.execution_name(args.run)}")
            paths = reports.write(out, report, reports.page(report))
    except (RetrainError, OSError, ValueError) as exc:
        print(f"report failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    champion = f"champion v{report.get('champion_version')}" if report.get("champion_version") else "no champion"
    print(f"{report.get('model') or 'no model'}: {report.get('outcome')} ({champion})")
    for path in paths.values():
        print(f"  {path}")
    if args.open:
        page = paths["report.html"].resolve().as_uri()
        if not webbrowser.open(page):
            print(f"no web browser to open here; open {page}", file=sys.stderr)
    return 0


def _answer(args: argparse.Namespace, approve: bool) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import registry

    run = args.run.rsplit(":", 1)[-1]
    try:
        _clients_for(args)
        settings = _stack_settings(args)
        record = registry.get_approval(settings.registry_table, run)
        if record is None:
            print(f"no run {run!r} is waiting for approval", file=sys.stderr)
            return 1
        sfn = boto3.client("stepfunctions", region_name=args.region)
        if approve:
            output = {"approved": True, "note": args.note or ""}
            sfn.send_task_success(taskToken=record["token"], output=json.dumps(output))
        else:
            sfn.send_task_failure(taskToken=record["token"], error="ApprovalDenied", cause=args.reason)
        registry.delete_approval(settings.registry_table, run)
    except (RetrainError, BotoCoreError, ClientError, KeyError) as exc:
        print(f"{'approve' if approve else 'reject'} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    verdict = "approved" if approve else f"rejected ({args.reason})"
    print(f"{record['model']} v{record['version']} {verdict}; run {run} continues")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain.champion import rollback

    try:
        _clients_for(args)
        promotion = rollback(_stack_settings(args), args.model, to=args.to, execution="cli-rollback")
    except (RetrainError, BotoCoreError, ClientError, KeyError) as exc:
        print(f"rollback failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.model}: champion is v{promotion.champion_version} again (was v{promotion.previous_version})")
    return 0


def _models(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import registry

    try:
        _clients_for(args)
        versions = registry.list_versions(_stack_settings(args).registry_table, args.model)
    except (RetrainError, BotoCoreError, ClientError, KeyError) as exc:
        print(f"models failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(versions, indent=2, default=str))
        return 0
    print(f"{'version':>7}  {'status':<9}  {'trigger':<9}  {'snapshot':<12}  {'created':<25}  metrics")
    for v in versions:
        metrics = ", ".join(f"{k} {val:.3f}" for k, val in sorted((v.get("metrics") or {}).items())[:3])
        print(
            f"{v['version']:>7}  {v['status']:<9}  {v.get('trigger', '-')!s:<9}  "
            f"{str(v.get('snapshot_id', '-'))[:12]:<12}  {v.get('created_at', '-')!s:<25}  {metrics or '-'}"
        )
    return 0


def _bootstrap(args: argparse.Namespace) -> int:
    """``retrain bootstrap``: 0 promoted; 1 rejected, refused or an AWS error; 2 invalid config or reference."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import lifecycle
    from retrain.errors import BootstrapRejected

    if args.local and args.table:
        print("bootstrap: --local deploys its own ephemeral stack; --table does not apply", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:  # 1. every input is checked before anything is written
        config, text = lifecycle.read_config(args.config)
        reference = lifecycle.read_reference(args.reference, config)
    except RetrainError as exc:
        print(f"invalid input: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    where = "an ephemeral local cloud (dry run: nothing is written to AWS)" if args.local else f"stack {args.stack!r}"
    print(f"bootstrap {config.model!r} from {args.reference} ({len(reference)} rows) on {where}")
    source = f"reference data {args.reference}"
    try:
        if args.local:
            outcome = _bootstrap_locally(config, text, reference, source=source)
        else:
            _clients_for(args)
            settings = _stack_settings(args, buckets=True)
            stack = _fleet_stack(args)
            outcome = lifecycle.bootstrap(
                settings, config, text, reference, force=args.force, source=source, stack=stack
            )
    except BootstrapRejected as exc:
        if exc.outcome is not None:
            _print_bootstrap(exc.outcome)
        print(f"rejected: {exc}", file=sys.stderr)
        return 1
    except (RetrainError, BotoCoreError, ClientError) as exc:
        print(f"bootstrap failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    _print_bootstrap(outcome)
    previous = f" (was v{outcome.previous_version})" if outcome.previous_version else ""
    verdict = "would be promoted" if args.local else "promoted"
    print(f"{verdict}: {outcome.model} v{outcome.version} is the champion{previous}")
    if not args.local:
        print(f"  SSM parameter {outcome.champion_parameter}; config {outcome.config_uri}")
    if outcome.registration is not None:
        _print_registration(outcome.registration)
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _bootstrap_locally(config: ModelConfig, text: str, reference: pd.DataFrame, *, source: str) -> BootstrapOutcome:
    """The bootstrap on a fresh local cloud deployed from template.yaml, discarded afterwards."""
    from retrain.lifecycle import bootstrap
    from retrain.local.cloud import LocalCloud
    from retrain.local.run import settings_of

    with LocalCloud() as cloud:
        return bootstrap(settings_of(cloud), config, text, reference, source=source, stack=cloud.fleet)


def _print_bootstrap(outcome: BootstrapOutcome) -> None:
    """The version, its snapshot and every gate (value, limit and verdict in each gate's detail)."""
    snap = outcome.snapshot
    validation = outcome.validation
    against = f"against champion v{outcome.previous_version}" if outcome.previous_version else "no champion"
    print(f"  snapshot {snap.id[:12]}: {snap.rows} rows ({snap.train_rows} train, {snap.holdout_rows} holdout)")
    print(f"  {outcome.model} v{outcome.version} trained on {outcome.candidate.trained_rows} rows")
    print(f"  gates ({against}; {validation.n_holdout} holdout rows, primary metric {validation.metric}):")
    for gate in validation.gates:
        print(f"    {'pass' if gate.passed else 'FAIL'}  {gate.name:<22} {gate.detail or ''}")


def _fleet_stack(args: argparse.Namespace) -> FleetStack:
    """The stack's schedule group, scheduler role, state machine and metric namespace (its outputs)."""
    from retrain.fleet import FleetStack

    return FleetStack.from_outputs(args.stack, _stack_outputs(args.stack, args.region))


def _print_registration(registration: Registration) -> None:
    print(
        f"  schedule {registration.schedule_arn}: {registration.schedule_expression}, {registration.schedule_state}"
        f"{'' if registration.created else ' (updated)'}"
    )
    print(f"  alarms: {', '.join(registration.alarms) or 'none'}")
    if registration.removed_alarms:
        print(f"  alarms removed (disabled in the config): {', '.join(registration.removed_alarms)}")


def _register(args: argparse.Namespace) -> int:
    """``retrain register``: 0 registered; 1 no champion yet or an AWS error; 2 invalid config."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import fleet, lifecycle, registry

    try:
        config, text = lifecycle.read_config(args.config)
    except RetrainError as exc:
        print(f"invalid: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        _clients_for(args)
        stack = _fleet_stack(args)
        table = args.table or _stack_settings(args).registry_table
        if registry.get_champion(table, config.model) is None:
            print(
                f"register refused: model {config.model!r} has no champion on stack {args.stack!r}, so a scheduled "
                "run would have nothing to compare with. Run `retrain bootstrap`, which registers the model once "
                "its first version is promoted",
                file=sys.stderr,
            )
            return 1
        registration = fleet.register(stack, config, text)
    except (RetrainError, BotoCoreError, ClientError) as exc:
        print(f"register failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"registered {config.model!r} on stack {args.stack!r}: config {registration.config_uri}")
    _print_registration(registration)
    return 0


def _unregister(args: argparse.Namespace) -> int:
    """``retrain unregister``: 0 removed; 1 not registered or an AWS error."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import fleet

    try:
        _clients_for(args)
        removed = fleet.unregister(_fleet_stack(args), args.model)
    except (RetrainError, BotoCoreError, ClientError) as exc:
        print(f"unregister failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"unregistered {args.model!r} from stack {args.stack!r}: schedule "
        f"{'deleted' if removed.schedule_deleted else 'absent'}, alarms deleted: "
        f"{', '.join(removed.alarms_deleted) or 'none'}, config {'deleted' if removed.config_deleted else 'absent'}"
    )
    print("  its registry versions, artifacts and reports are kept (`retrain models --model M` lists them)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from retrain.demo import run_demo
    from retrain.local.progress import Console

    started = time.perf_counter()
    console = Console(sys.stdout)
    results = run_demo(args.out, console=console)
    console.line(f"\ndemo finished in {time.perf_counter() - started:.1f} s; results under {args.out}/")
    return 1 if any(r["outcome"] == "failed" for r in results) else 0


def _retained_resources(stack: str, region: str | None) -> set[str]:
    """Logical ids the deployed template keeps when the stack is deleted (``DeletionPolicy: Retain``)."""
    from retrain.local.template import loads_template

    body = _describe_stack(stack, region, "get_template", TemplateStage="Processed")["TemplateBody"]
    if isinstance(body, str):  # JSON, or YAML for a stack deployed without the SAM transform
        body = loads_template(body, source=f"stack {stack!r}'s template")
    return {name for name, r in (body.get("Resources") or {}).items() if r.get("DeletionPolicy") == "Retain"}


def _teardown(args: argparse.Namespace) -> int:
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
        _clients_for(args)
        resources = _describe_stack(args.stack, args.region, "describe_stack_resources")["StackResources"]
        retained = _retained_resources(args.stack, args.region)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retrain", description="Serverless model retraining on AWS.")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("validate-config", help="validate a model's retraining config")
    check.add_argument("config")
    check.add_argument("--show", action="store_true", help="print the config with every default filled in")
    check.set_defaults(func=_validate_config)

    run = sub.add_parser("local-run", help="run one retraining window on the local cloud")
    run.add_argument("--config", required=True, help="the model's YAML config")
    run.add_argument("--reference", required=True, help="historical training data (CSV or Parquet)")
    run.add_argument("--current", required=True, help="the recent labelled production window (CSV or Parquet)")
    run.add_argument("--trigger", choices=["schedule", "alarm", "manual"], default="schedule")
    run.add_argument(
        "--force",
        action="store_true",
        help="with --trigger manual: retrain even during the cooldown after a promotion",
    )
    run.add_argument("--out", default="retrain-out", help="directory for result.json (default ./retrain-out)")
    run.set_defaults(func=_local_run)

    trigger = sub.add_parser("trigger", help="ask the deployed stack for a retraining run (EventBridge)")
    trigger.add_argument("--model", required=True)
    trigger.add_argument("--reason", default=None, help="recorded with the run")
    trigger.add_argument("--force", action="store_true", help="retrain even during the cooldown after a promotion")
    trigger.add_argument("--event-bus", default="default")
    trigger.add_argument("--region", default=None, help="AWS region (default: the boto3 session's)")
    trigger.set_defaults(func=_trigger)

    def stack_options(command: argparse.ArgumentParser, *, stack_group: Any = None) -> None:
        where = command if stack_group is None else stack_group
        where.add_argument("--stack", default="retrain", help="the deployed stack's name (default retrain)")
        command.add_argument("--table", default=None, help="the registry table (default: from the stack's outputs)")
        command.add_argument("--region", default=None, help="AWS region (default: the boto3 session's)")

    report = sub.add_parser(
        "report",
        help="a run's report.json and report.html: downloaded from the stack, or re-rendered from a local folder",
    )
    report.add_argument(
        "run", help="the execution's name or ARN, or a local run's folder (or its report.json / result.json)"
    )
    report.add_argument("--model", default=None, help="the run's model (default: looked for in every model's reports)")
    report.add_argument("--out", default=None, help="folder for the files (default retrain-out/reports/<execution>)")
    report.add_argument("--open", action="store_true", help="open report.html in a web browser")
    stack_options(report)
    report.set_defaults(func=_report)

    approve = sub.add_parser("approve", help="approve the candidate a run is waiting on; it is promoted")
    approve.add_argument("run", help="the execution's name or ARN")
    approve.add_argument("--note", default=None)
    stack_options(approve)
    approve.set_defaults(func=lambda a: _answer(a, approve=True))

    reject = sub.add_parser("reject", help="reject the candidate a run is waiting on")
    reject.add_argument("run", help="the execution's name or ARN")
    reject.add_argument("--reason", required=True, help="recorded on the rejected version")
    stack_options(reject)
    reject.set_defaults(func=lambda a: _answer(a, approve=False))

    back = sub.add_parser("rollback", help="restore a former champion (the previous one by default)")
    back.add_argument("--model", required=True)
    back.add_argument("--to", type=int, default=None, help="the version to restore")
    stack_options(back)
    back.set_defaults(func=_rollback)

    models = sub.add_parser("models", help="list a model's versions with status and lineage")
    models.add_argument("--model", required=True)
    models.add_argument("--json", action="store_true", help="every field of every version, as JSON")
    stack_options(models)
    models.set_defaults(func=_models)

    down = sub.add_parser(
        "teardown",
        help="before `sam delete`: delete the stack's buckets and every object version in them (cannot be undone)",
        description=(
            "sam delete leaves the data and artifact buckets and the registry table (DeletionPolicy Retain: every "
            "model's history outlives the stack). Before it, teardown deletes every bucket of the stack (all object "
            "versions, then the bucket) and keeps the registry table; --keep-history deletes only the buckets the "
            "stack itself would delete; --delete-registry deletes the registry table too. It lists what it kept."
        ),
    )
    down.add_argument("--yes", action="store_true", help="really delete (nothing is deleted without it)")
    down.add_argument(
        "--keep-history",
        action="store_true",
        help="keep the retained data and artifact buckets (and the table); delete only the access-log bucket",
    )
    down.add_argument(
        "--delete-registry",
        action="store_true",
        help="also delete the retained registry table: every model's versions, lineage and champion pointer",
    )
    stack_options(down)
    down.set_defaults(func=_teardown)

    boot = sub.add_parser(
        "bootstrap",
        help="train, validate and promote a model's first champion from historical data",
        description=(
            "Make the first champion of the model in CONFIG from the historical data in REFERENCE, through the "
            "steps' own code: the reference is frozen as a snapshot, version N is trained on its training part and "
            "validated on its holdout (without a champion: prediction sanity, the validation.min/max floors and "
            "ceilings, and the latency and size budgets), then promoted, published to the SSM parameter "
            "/<stack>/champion/<model> and the config uploaded - or, when a gate fails, recorded as rejected with "
            "its reasons and nothing promoted. CONFIG and REFERENCE are checked before anything is written. "
            "Exit codes: 0 promoted; 1 rejected by a gate, refused (the model has a champion) or an AWS error; "
            "2 invalid config or reference."
        ),
    )
    boot.add_argument("--config", required=True, help="the model's YAML config (uploaded once the version is promoted)")
    boot.add_argument(
        "--reference",
        required=True,
        help="historical training data, CSV or Parquet, in time order (its last training.holdout_fraction of rows "
        "is the holdout)",
    )
    boot.add_argument(
        "--force",
        action="store_true",
        help="when the model already has a champion: train a candidate from REFERENCE anyway and validate it "
        "against the champion (every gate); it replaces the champion only if it passes. Running this is a person's "
        "decision, so it stands in for the manual approval a config may require",
    )
    target = boot.add_mutually_exclusive_group()
    target.add_argument(
        "--local",
        action="store_true",
        help="dry run on a fresh, ephemeral local cloud (moto, from template.yaml): would this config and "
        "reference give an acceptable first champion? Prints the same report; nothing is written to AWS",
    )
    stack_options(boot, stack_group=target)
    boot.set_defaults(func=_bootstrap)

    reg = sub.add_parser(
        "register",
        help="store a model's config and create or update its schedule and alarms on the stack",
        description=(
            "Validate CONFIG (as validate-config does, and its estimator against the allowlist), store it at "
            "s3://<DataBucketName>/configs/<model>.yaml, create or update the model's EventBridge Scheduler "
            "schedule (schedule.expression, schedule.enabled) in the stack's schedule group and its CloudWatch "
            "alarms <stack>-<model>-<signal> (alarms.*; a disabled alarm is deleted). The model must have a "
            "champion (retrain bootstrap registers it the first time). Exit codes: 0 registered; 1 no champion "
            "or an AWS error; 2 invalid config."
        ),
    )
    reg.add_argument("--config", required=True, help="the model's YAML config")
    stack_options(reg)
    reg.set_defaults(func=_register)

    unreg = sub.add_parser(
        "unregister",
        help="delete a model's schedule, alarms and config from the stack; keep its versions and artifacts",
    )
    unreg.add_argument("--model", required=True)
    unreg.add_argument("--stack", default="retrain", help="the deployed stack's name (default retrain)")
    unreg.add_argument("--region", default=None, help="AWS region (default: the boto3 session's)")
    unreg.set_defaults(func=_unregister)

    demo = sub.add_parser("demo", help="the bundled example: a stable window, then a drifted one")
    demo.add_argument("--out", default="retrain-out/demo")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "local-run" and args.force and args.trigger != "manual":
        parser.error(
            f"--force applies only to --trigger manual (only a manual request may skip the cooldown, "
            f"a {args.trigger} trigger never does); drop --force or use --trigger manual"
        )
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
