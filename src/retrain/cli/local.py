"""The commands that need no AWS account: ``validate-config``, ``local-run`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from retrain.errors import RetrainError

if TYPE_CHECKING:
    from retrain.local.progress import Console


def validate_config(args: argparse.Namespace) -> int:
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


def local_run(args: argparse.Namespace) -> int:
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
    from retrain.local.summary import summary_table

    champion = f"champion v{result['champion_version']}" if result.get("champion_version") else "no champion"
    console.line(f"outcome: {console.paint(result['outcome'], 'bold')} ({champion})")
    if not result.get("invalid_input"):
        console.line(summary_table([(name, result)], metric=metric, console=console, errors=False))
    if result.get("error"):
        print(f"{'invalid input' if result.get('invalid_input') else 'error'}: {result['error']}", file=sys.stderr)


def demo(args: argparse.Namespace) -> int:
    from retrain.demo import run_demo
    from retrain.local.progress import Console

    started = time.perf_counter()
    console = Console(sys.stdout)
    results = run_demo(args.out, console=console)
    console.line(f"\ndemo finished in {time.perf_counter() - started:.1f} s; results under {args.out}/")
    return 1 if any(r["outcome"] == "failed" for r in results) else 0
