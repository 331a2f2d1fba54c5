"""The commands about a model on a deployed stack: ``bootstrap``, ``register``, ``unregister``, ``models``,
``rollback``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from retrain.cli.stack import fleet_stack, stack_settings, use_region
from retrain.errors import RetrainError

if TYPE_CHECKING:
    import pandas as pd

    from retrain.config import ModelConfig
    from retrain.fleet import Registration
    from retrain.lifecycle import BootstrapOutcome


def bootstrap(args: argparse.Namespace) -> int:
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
            use_region(args)
            settings = stack_settings(args, buckets=True)
            stack = fleet_stack(args)
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


def _print_registration(registration: Registration) -> None:
    print(
        f"  schedule {registration.schedule_arn}: {registration.schedule_expression}, {registration.schedule_state}"
        f"{'' if registration.created else ' (updated)'}"
    )
    print(f"  alarms: {', '.join(registration.alarms) or 'none'}")
    if registration.removed_alarms:
        print(f"  alarms removed (disabled in the config): {', '.join(registration.removed_alarms)}")


def register(args: argparse.Namespace) -> int:
    """``retrain register``: 0 registered; 1 no champion yet or an AWS error; 2 invalid config."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import fleet, lifecycle, registry

    try:
        config, text = lifecycle.read_config(args.config)
    except RetrainError as exc:
        print(f"invalid: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        use_region(args)
        stack = fleet_stack(args)
        table = args.table or stack_settings(args).registry_table
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


def unregister(args: argparse.Namespace) -> int:
    """``retrain unregister``: 0 removed; 1 not registered or an AWS error."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import fleet

    try:
        use_region(args)
        removed = fleet.unregister(fleet_stack(args), args.model)
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


def list_models(args: argparse.Namespace) -> int:
    """``retrain models``: 0 the versions are listed (a table, or every field as JSON); 1 an AWS error."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain import registry

    try:
        use_region(args)
        versions = registry.list_versions(stack_settings(args).registry_table, args.model)
    except (RetrainError, BotoCoreError, ClientError, KeyError) as exc:
        print(f"models failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([v.fields() for v in versions], indent=2, default=str))
        return 0
    print(f"{'version':>7}  {'status':<9}  {'trigger':<9}  {'snapshot':<12}  {'created':<25}  {'metrics':<40}  why")
    for v in versions:
        metrics = ", ".join(f"{k} {val:.3f}" for k, val in sorted((v.metrics or {}).items())[:3])
        why = v.triggered_by.describe() if v.triggered_by is not None else "-"
        print(
            f"{v.version:>7}  {v.status:<9}  {v.trigger or '-':<9}  "
            f"{(v.snapshot_id or '-')[:12]:<12}  {v.created_at or '-':<25}  {metrics or '-':<40}  {why}"
        )
    return 0


def rollback(args: argparse.Namespace) -> int:
    """``retrain rollback``: 0 a former champion is the champion again; 1 none to restore or an AWS error."""
    from botocore.exceptions import BotoCoreError, ClientError

    from retrain.champion import rollback

    try:
        use_region(args)
        promotion = rollback(stack_settings(args), args.model, to=args.to, execution="cli-rollback")
    except (RetrainError, BotoCoreError, ClientError, KeyError) as exc:
        print(f"rollback failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.model}: champion is v{promotion.champion_version} again (was v{promotion.previous_version})")
    return 0
