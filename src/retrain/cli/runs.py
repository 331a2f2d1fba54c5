"""The commands about a deployed stack's runs: ``trigger``, ``report``, ``approve`` and ``reject``."""

from __future__ import annotations

import argparse
import json
import sys

from retrain.cli.stack import stack_settings, use_region
from retrain.errors import RetrainError


def trigger(args: argparse.Namespace) -> int:
    """``retrain trigger``: 0 the request was put on the event bus; 1 it was refused."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import aws
    from retrain.triggers import request_retrain

    try:
        use_region(args)
        event_id = request_retrain(aws.events(), args.model, reason=args.reason, force=args.force, bus=args.event_bus)
    except (RetrainError, BotoCoreError, ClientError) as exc:
        print(f"trigger failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"Retrain Requested for {args.model!r} (event {event_id}{', force' if args.force else ''})")
    return 0


def report(args: argparse.Namespace) -> int:
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
            use_region(args)
            settings = stack_settings(args, buckets=True)
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


def answer(args: argparse.Namespace, approve: bool) -> int:
    """``retrain approve`` / ``reject``: 0 the waiting run was answered; 1 no run waits or an AWS error."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import aws, registry

    run = args.run.rsplit(":", 1)[-1]
    try:
        use_region(args)
        settings = stack_settings(args)
        record = registry.get_approval(settings.registry_table, run)
        if record is None:
            print(f"no run {run!r} is waiting for approval", file=sys.stderr)
            return 1
        sfn = aws.stepfunctions()
        if approve:
            output = {"approved": True, "note": args.note or ""}
            sfn.send_task_success(taskToken=record.token, output=json.dumps(output))
        else:
            sfn.send_task_failure(taskToken=record.token, error="ApprovalDenied", cause=args.reason)
        registry.delete_approval(settings.registry_table, run)
    except (RetrainError, BotoCoreError, ClientError, KeyError) as exc:
        print(f"{'approve' if approve else 'reject'} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    verdict = "approved" if approve else f"rejected ({args.reason})"
    print(f"{record.model} v{record.version} {verdict}; run {run} continues")
    return 0
