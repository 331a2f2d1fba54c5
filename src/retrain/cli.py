"""The ``retrain`` command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from retrain.errors import RetrainError


def _validate_config(args: argparse.Namespace) -> int:
    from retrain.config import load_config

    try:
        config = load_config(args.config)
    except RetrainError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 2
    print(f"ok: model {config.model!r} ({config.problem}), {len(config.features.all)} features")
    if args.show:
        print(json.dumps(config.model_dump(mode="json"), indent=2))
    return 0


def _local_run(args: argparse.Namespace) -> int:
    from retrain.local.run import StatePrinter, local_run

    started = time.perf_counter()
    print(f"local run: {args.trigger} trigger, config {args.config}")
    result = local_run(
        args.config,
        args.reference,
        args.current,
        trigger=args.trigger,
        force=args.force,
        out=args.out,
        on_state=StatePrinter(print),
    )
    print(f"outcome: {result['outcome']} (champion v{result['champion_version']})")
    for reason in result.get("reasons") or []:
        print(f"  - {reason}")
    if result.get("error"):
        print(f"error: {result['error']}", file=sys.stderr)
    print(f"wrote {args.out}/result.json in {time.perf_counter() - started:.1f} s")
    return 1 if result["outcome"] == "failed" else 0


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


def _demo(args: argparse.Namespace) -> int:
    from retrain.demo import run_demo

    started = time.perf_counter()
    results = run_demo(args.out)
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s; results under {args.out}/")
    return 1 if any(r["outcome"] == "failed" for r in results) else 0


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
    run.add_argument("--force", action="store_true", help="with --trigger manual: skip the cooldown")
    run.add_argument("--out", default="retrain-out", help="directory for result.json (default ./retrain-out)")
    run.set_defaults(func=_local_run)

    trigger = sub.add_parser("trigger", help="ask the deployed stack for a retraining run (EventBridge)")
    trigger.add_argument("--model", required=True)
    trigger.add_argument("--reason", default=None, help="recorded with the run")
    trigger.add_argument("--force", action="store_true", help="retrain even during the cooldown after a promotion")
    trigger.add_argument("--event-bus", default="default")
    trigger.add_argument("--region", default=None, help="AWS region (default: the boto3 session's)")
    trigger.set_defaults(func=_trigger)

    demo = sub.add_parser("demo", help="the bundled example: a stable window, then a drifted one")
    demo.add_argument("--out", default="retrain-out/demo")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
