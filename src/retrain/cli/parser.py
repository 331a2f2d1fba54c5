"""The ``retrain`` command's arguments: one sub-command per operation, each calling its handler."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from retrain.cli import local, models, runs, stack


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retrain", description="Serverless model retraining on AWS.")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("validate-config", help="validate a model's retraining config")
    check.add_argument("config")
    check.add_argument("--show", action="store_true", help="print the config with every default filled in")
    check.set_defaults(func=local.validate_config)

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
    run.set_defaults(func=local.local_run)

    trigger = sub.add_parser("trigger", help="ask the deployed stack for a retraining run (EventBridge)")
    trigger.add_argument("--model", required=True)
    trigger.add_argument(
        "--reason", default=None, help="recorded with the run and on the version it trains (`retrain models`)"
    )
    trigger.add_argument("--force", action="store_true", help="retrain even during the cooldown after a promotion")
    trigger.add_argument("--event-bus", default="default")
    trigger.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
    trigger.set_defaults(func=runs.trigger)

    def stack_options(command: argparse.ArgumentParser, *, stack_group: Any = None) -> None:
        where = command if stack_group is None else stack_group
        where.add_argument("--stack", default="retrain", help="the deployed stack's name (default retrain)")
        command.add_argument("--table", default=None, help="the registry table (default: from the stack's outputs)")
        command.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")

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
    report.set_defaults(func=runs.report)

    approve = sub.add_parser("approve", help="approve the candidate a run is waiting on; it is promoted")
    approve.add_argument("run", help="the execution's name or ARN")
    approve.add_argument("--note", default=None)
    stack_options(approve)
    approve.set_defaults(func=lambda a: runs.answer(a, approve=True))

    reject = sub.add_parser("reject", help="reject the candidate a run is waiting on")
    reject.add_argument("run", help="the execution's name or ARN")
    reject.add_argument("--reason", required=True, help="recorded on the rejected version")
    stack_options(reject)
    reject.set_defaults(func=lambda a: runs.answer(a, approve=False))

    back = sub.add_parser("rollback", help="restore a former champion (the previous one by default)")
    back.add_argument("--model", required=True)
    back.add_argument("--to", type=int, default=None, help="the version to restore")
    stack_options(back)
    back.set_defaults(func=models.rollback)

    listing = sub.add_parser("models", help="list a model's versions with status and lineage")
    listing.add_argument("--model", required=True)
    listing.add_argument("--json", action="store_true", help="every field of every version, as JSON")
    stack_options(listing)
    listing.set_defaults(func=models.list_models)

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
    down.set_defaults(func=stack.teardown)

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
    boot.set_defaults(func=models.bootstrap)

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
    reg.set_defaults(func=models.register)

    unreg = sub.add_parser(
        "unregister",
        help="delete a model's schedule, alarms and config from the stack; keep its versions and artifacts",
    )
    unreg.add_argument("--model", required=True)
    unreg.add_argument("--stack", default="retrain", help="the deployed stack's name (default retrain)")
    unreg.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
    unreg.set_defaults(func=models.unregister)

    demo = sub.add_parser("demo", help="the bundled example: a stable window, then a drifted one")
    demo.add_argument("--out", default="retrain-out/demo")
    demo.set_defaults(func=local.demo)
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
