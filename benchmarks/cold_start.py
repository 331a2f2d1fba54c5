"""Cold starts of every built function: a fresh process's import of the handler, then its first call.

Each call runs the function as ``sam build`` emitted it (``.aws-sam/build``: run
``make build`` first) in a fresh ``python3.12 -I -S`` process with only its code,
its layers and the runtime's boto3 on ``sys.path`` (:mod:`retrain.local.built`),
against a moto server stack holding the example model. One run of every step
compiles the bytecode first (Lambda's deployment package is unzipped once per
sandbox; the bytecode a first import writes is what later cold starts find),
then ``--runs`` more runs are timed, each a new execution through every step.

``import`` is the handler module's import (Lambda's INIT phase); ``first call``
is the handler's first invocation in that process, including whatever it imports
on first use and its AWS calls to the local server; ``whole`` is their sum. The
figures are from this machine, not Lambda's: the ratios between functions and
between commits are what carry over.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def _figure(values: list[float]) -> str:
    return f"{statistics.median(values):5.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs through every step (default 5)")
    parser.add_argument("--build", type=Path, default=None, help="the sam build output (default .aws-sam/build)")
    args = parser.parse_args(argv)

    from retrain.local.built import BUILD, BuiltStack, run_steps, seed
    from retrain.local.server import MotoServerStack

    build = args.build or BUILD
    if not (build / "template.yaml").exists():
        print(f"{build}/template.yaml does not exist: run `make build` first", file=sys.stderr)
        return 2
    started = time.perf_counter()
    load = os.getloadavg()
    with MotoServerStack() as stack, tempfile.TemporaryDirectory() as work:
        built = BuiltStack(stack, Path(work), build=build)
        end = seed(built)
        run_steps(built, end, execution="bytecode")  # compiles every function's bytecode, untimed
        built.calls.clear()
        for run in range(args.runs):
            run_steps(built, end, execution=f"cold-{run}")
    imports: dict[str, list[float]] = defaultdict(list)
    firsts: dict[str, list[float]] = defaultdict(list)
    memory: dict[str, str] = {}
    for call in built.calls:
        imported = call.invocation.import_seconds or 0.0
        imports[call.label].append(imported)
        firsts[call.label].append(call.invocation.seconds - imported)
        props = built.template["Resources"][call.function]["Properties"]
        memory[call.label] = str(props.get("MemorySize", built.template["Globals"]["Function"].get("MemorySize", "")))

    print(
        f"cold starts of {build.relative_to(build.parents[1]) if len(build.parents) > 1 else build}: "
        f"median (min-max) of {args.runs} fresh processes per call, seconds; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    )
    print(f"{'call':<22} {'MB':>5}  {'import':<17} {'first call':<17} {'whole':<17}")
    for label in imports:
        whole = [a + b for a, b in zip(imports[label], firsts[label], strict=True)]
        print(
            f"{label:<22} {memory[label]:>5}  {_figure(imports[label]):<17} {_figure(firsts[label]):<17} "
            f"{_figure(whole):<17}"
        )
    print(f"(whole benchmark {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
