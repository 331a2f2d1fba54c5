"""Run a function as ``sam build`` emitted it, the way the python3.12 Lambda runtime does.

A fresh ``python3.12 -I -S`` process whose ``sys.path`` holds only the function's
code directory, its layers' ``python/`` folders (in the template's order) and
the SDK the runtime provides (boto3, installed once into ``.lambda-runtime/``
at the version ``layers/constraints.txt`` pins): no virtualenv, no
site-packages. It imports the handler module, calls the handler with the event
and a Lambda context, and prints the JSON result (or Lambda's error payload).
What such a process can import and run is what a deployed function can.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
RUNTIME_DIR = ROOT / ".lambda-runtime"
LOCK = ROOT / "layers" / "constraints.txt"
MARK = "__retrain_invoke_result__"

#: Runs inside the fresh process: the handler, a context, Lambda's error payload on failure.
_DRIVER = r"""
import importlib, json, sys, time, traceback, uuid
paths, handler, event_path, timeout = sys.argv[1:5]
sys.path[:0] = json.loads(paths)
module_name, _, attribute = handler.rpartition(".")

class Context:
    function_name = "{name}"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:{name}"
    memory_limit_in_mb = {memory}
    aws_request_id = str(uuid.uuid4())
    log_group_name = "/aws/lambda/{name}"
    log_stream_name = aws_request_id
    _deadline = time.monotonic() + float(timeout)
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

started = time.perf_counter()
try:
    function = getattr(importlib.import_module(module_name), attribute)
    imported = time.perf_counter() - started
    with open(event_path) as f:
        event = json.load(f)
    out = {{"ok": True, "result": function(event, Context()), "import_seconds": imported}}
except Exception as exc:
    out = {{"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc),
           "stackTrace": traceback.format_exception(exc)[-6:]}}
out["seconds"] = time.perf_counter() - started
out["modules"] = sorted(m for m in sys.modules if "." not in m)
print("{mark}" + json.dumps(out, default=str))
"""


def python312() -> str:
    """A python3.12 interpreter (PATH, then pyenv), as ``scripts/find-python312`` finds it."""
    found = subprocess.run([str(ROOT / "scripts" / "find-python312")], capture_output=True, text=True, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        raise RuntimeError("python3.12 not found (tried PATH and pyenv): the Lambda runtime is python3.12")
    return found.stdout.strip()


def pinned(package: str) -> str:
    """The version ``layers/constraints.txt`` pins for ``package``."""
    wanted = re.sub(r"[-_.]+", "-", package).lower()
    for line in LOCK.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and re.sub(r"[-_.]+", "-", name.strip()).lower() == wanted:
            return version.strip()
    raise KeyError(f"{package} is not pinned in {LOCK}")


def lambda_runtime_dir() -> Path:
    """A folder with what the runtime provides beside the layers (boto3 and its dependencies)."""
    stamp = RUNTIME_DIR / f".boto3-{pinned('boto3')}"
    if not stamp.exists():
        RUNTIME_DIR.mkdir(exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--upgrade",
                "--target",
                str(RUNTIME_DIR),
                f"boto3=={pinned('boto3')}",
                "-c",
                str(LOCK),
            ],
            check=True,
        )
        stamp.touch()
    return RUNTIME_DIR


@dataclass(frozen=True)
class Invocation:
    """One call of a built function: its result or Lambda's error payload, and what it imported."""

    ok: bool
    result: Any
    error_type: str | None
    error_message: str | None
    seconds: float
    import_seconds: float | None
    modules: list[str]
    stdout: str
    stderr: str
    stack_trace: list[str]


def invoke_built(
    code_dir: Path,
    layer_dirs: Sequence[Path],
    handler: str,
    event: Any,
    *,
    environment: dict[str, str],
    name: str = "function",
    memory: int = 128,
    timeout: float = 300,
    work_dir: Path,
) -> Invocation:
    """Invoke ``handler`` of the built function in ``code_dir`` with only its layers and the runtime's SDK.

    ``layer_dirs`` are the built layers' roots (each holding ``python/``), in the
    template's order. ``environment`` is the whole process environment (nothing
    is inherited but ``PATH``). Raises ``subprocess.TimeoutExpired`` past ``timeout``.
    """
    paths = [str(code_dir), *(str(layer / "python") for layer in layer_dirs), str(lambda_runtime_dir())]
    event_path = work_dir / f"{name}-event.json"
    event_path.write_text(json.dumps(event))
    driver = _DRIVER.format(name=name, memory=memory, mark=MARK)
    done = subprocess.run(
        [python312(), "-I", "-S", "-c", driver, json.dumps(paths), handler, str(event_path), str(timeout)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        cwd=work_dir,
        check=False,
    )
    line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith(MARK)), None)
    if line is None:
        return Invocation(
            False, None, "Crashed", f"exit {done.returncode}", 0.0, None, [], done.stdout, done.stderr, []
        )
    out = json.loads(line[len(MARK) :])
    return Invocation(
        ok=out["ok"],
        result=out.get("result"),
        error_type=out.get("errorType"),
        error_message=out.get("errorMessage"),
        seconds=out["seconds"],
        import_seconds=out.get("import_seconds"),
        modules=out["modules"],
        stdout=done.stdout,
        stderr=done.stderr,
        stack_trace=out.get("stackTrace") or [],
    )
