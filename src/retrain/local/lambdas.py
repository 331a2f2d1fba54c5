"""moto's Lambda, run in this process: each handler within its timeout, a timed-out one frozen.

moto runs Lambda code only in Docker. This module replaces the private
``moto.awslambda.models.LambdaFunction._invoke_lambda(self, event)`` (moto 5.1/5.2,
default Lambda config) with a call to the function's Python handler in this
process, returning moto's ``(payload_json, errored, logs)``. A handler that
raises produces Lambda's error payload (``errorType`` = the exception's class
name), so Step Functions' Retry/Catch see the same error names as on AWS.

Invocations are serialized with a lock: handlers share ``os.environ`` (each
function's environment is applied for the duration of its call) and the
powertools singletons.

Timeouts. The handler runs in a worker thread (daemon) while the invoking
thread, which holds the lock, waits ``function.timeout`` seconds (read on
every call, so a test may shorten it). The handler module's import (cold
start) comes first and is not counted, as Lambda's Init phase is not. A
handler still running at the deadline is abandoned: the invocation answers
Lambda's timeout payload (``errorType`` ``Sandbox.Timedout``, ``errorMessage``
``RequestId: <id> Error: Task timed out after 30.00 seconds``), moto's Step
Functions interpreter fails the Task with the error ``Sandbox.Timedout``, and
the lock is released for the next invocation. ``context.get_remaining_time_in_millis()``
counts down to that deadline.

On AWS the sandbox of a timed-out invocation is stopped; here its thread
cannot be killed, so it is frozen instead:

- its AWS calls raise :class:`FrozenInvocation` (a ``BaseException``, which a
  handler's ``except Exception`` does not swallow) and never reach moto: a
  patch of ``botocore.client.BaseClient._make_api_call``, active while the
  local cloud runs, checks the calling thread's invocation. A call already
  in moto at the deadline completes (the request reached the service) and
  raises on its return, so the handler never sees the answer;
- it is not stopped: Python cannot stop a thread safely (an exception raised
  into it asynchronously can land inside library code that is not written
  for it), so it runs on until its next AWS call, or until it ends. It reads
  ``os.environ`` as it is then (the next function's environment);
- what it prints or logs is dropped from every invocation's captured output:
  it never reaches ``function.logs`` or the EMF callbacks, so a late metrics
  flush is not published as another invocation's. Outside any invocation,
  stdout is the process's own and a late line can show there.

The invoking thread gives an abandoned handler a moment (``STOP_GRACE``) to
stop before it releases the lock. The freeze outlives :func:`uninstall` while
an abandoned thread is alive. Threads a handler starts itself are not tracked
(no handler starts any).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

_LOCK = threading.RLock()


@dataclass
class InProcessFunction:
    """A deployed function whose handler runs in this process."""

    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory: int = 128
    arn: str = ""
    module: ModuleType | None = None
    invocations: int = 0
    logs: list[str] = field(default_factory=list)

    def load(self) -> Callable[[dict[str, Any], Any], Any]:
        module_name, _, attr = self.handler.rpartition(".")
        if self.module is None:
            path = self.code_dir / f"{module_name.replace('.', '/')}.py"
            if not path.exists():
                raise FileNotFoundError(f"handler file {path} of function {self.name} does not exist")
            unique = f"_retrain_fn_{self.name.replace('-', '_')}_{module_name.replace('.', '_')}"
            spec = importlib.util.spec_from_file_location(unique, path)
            assert spec
            assert spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.module = module
        return getattr(self.module, attr)  # type: ignore[no-any-return,unused-ignore]


class FakeContext:
    """The parts of ``LambdaContext`` handlers and powertools read."""

    def __init__(self, function: InProcessFunction, *, started: float | None = None) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = self.aws_request_id
        #: ``time.monotonic()`` at which the invocation times out (from ``started``, default now).
        self.deadline = (time.monotonic() if started is None else started) + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class FrozenInvocation(BaseException):
    """Raised in the thread of an invocation that timed out: its sandbox is stopped (see the module docstring)."""


#: Seconds the invoking thread waits for an abandoned handler to stop before it releases the lock.
STOP_GRACE = 0.2


class _Invocation:
    """The worker thread of one handler call: its outcome, and whether its deadline passed.

    ``lock`` makes three decisions atomic: finishing in time (:meth:`run`) versus
    expiring (:meth:`expire`), and an AWS call starting or ending (see
    :func:`_frozen_api_call`) versus the thread being stopped.
    """

    def __init__(self, output: io.StringIO | None = None) -> None:
        self.output = output  # where the handler's prints and logs go
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.running = False  # in the handler
        self.aws_calls = 0  # AWS calls in progress (moto is not interrupted mid-request)
        self.expired = False
        self.finished = False
        self.outcome: tuple[bool, Any] = (False, None)  # (returned, value or exception)

    def run(self, call: Callable[[], Any]) -> None:
        _THREAD.invocation = self
        _THREAD.output = self.output
        outcome: tuple[bool, Any]
        try:
            try:
                with self.lock:
                    if self.expired:
                        raise FrozenInvocation
                    self.running = True
                outcome = (True, call())
            finally:
                with self.lock:
                    self.running = False
        except BaseException as exc:
            outcome = (False, exc)
        with self.lock:
            if not self.expired:
                self.outcome, self.finished = outcome, True
        self.done.set()

    def expire(self) -> bool:
        """Freeze the thread if it has not finished; ``False`` if it did, just in time."""
        with self.lock:
            if self.finished:
                return False
            self.expired = True
        return True

    def begin_call(self, operation: str) -> None:
        with self.lock:
            if self.expired:
                raise FrozenInvocation(f"{operation} after the invocation timed out")
            self.aws_calls += 1

    def end_call(self, operation: str) -> None:
        with self.lock:
            self.aws_calls -= 1
            if self.expired:
                raise FrozenInvocation(f"{operation} answered after the invocation timed out")


#: ``_THREAD.invocation`` is the :class:`_Invocation` a worker thread runs.
_THREAD = threading.local()
#: Worker threads of timed-out invocations that had not stopped when their invocation answered.
_ABANDONED: list[threading.Thread] = []


def _current_invocation() -> _Invocation | None:
    return getattr(_THREAD, "invocation", None)


class _Output(io.StringIO):
    """An invocation's captured output; a timed-out invocation's thread writes nothing to it."""

    def write(self, s: str) -> int:
        invocation = _current_invocation()
        if invocation is not None and invocation.expired:
            return len(s)
        return super().write(s)


def _frozen_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
    """``BaseClient._make_api_call``, refused to the thread of an invocation that timed out."""
    invocation = _current_invocation()
    if invocation is None:
        return _ORIGINAL_API_CALL(client, operation_name, api_params)
    invocation.begin_call(operation_name)
    try:
        return _ORIGINAL_API_CALL(client, operation_name, api_params)
    finally:
        invocation.end_call(operation_name)


_FUNCTIONS: dict[str, InProcessFunction] = {}
_ORIGINAL: Any = None
_ORIGINAL_API_CALL: Any = None
_ON_OUTPUT: list[Callable[[InProcessFunction, str], None]] = []


@contextlib.contextmanager
def quiesced() -> Iterator[None]:
    """Hold the invocation lock: no handler runs until the block ends."""
    with _LOCK:
        yield


def register(function: InProcessFunction) -> None:
    """Route invocations of ``function.name`` to its in-process handler."""
    _FUNCTIONS[function.name] = function


def unregister_all() -> None:
    _FUNCTIONS.clear()
    _ON_OUTPUT.clear()


def on_output(callback: Callable[[InProcessFunction, str], None]) -> None:
    """Call ``callback(function, stdout_text)`` after every invocation (EMF metrics, logs)."""
    _ON_OUTPUT.append(callback)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Apply ``values`` to ``os.environ`` for the duration, restoring what was there."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class _Routed:
    """A process-wide stream that gives each invocation its own: a handler's writes go to its invocation's output.

    On Lambda every function has its own stdout. Here the handlers share the
    process's, and the caller (the CLI printing the execution's progress, a
    test) keeps writing while a handler runs on another thread: only threads
    that run an invocation (``_THREAD.output``) write to its buffer.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def _target(self) -> Any:
        output = getattr(_THREAD, "output", None)
        if output is not None:
            return output
        return self.__dict__.get("stream", sys.__stdout__)  # made without __init__ (copy, pickle): the real stdout

    def write(self, s: str) -> int:
        return int(self._target().write(s))

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the process's stream
        if name == "stream":  # only reached when __init__ did not run: an AttributeError, not endless recursion
            raise AttributeError(name)
        return getattr(self.stream, name)

    def __copy__(self) -> _Routed:  # one process-wide stream: a copy is the stream itself
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Routed:
        return self


#: The routed stream of each process stream, kept for the life of the process. CPython 3.12's ``print``
#: holds ``sys.stdout`` without a reference of its own: a routed stream freed when an invocation puts the
#: previous ``sys.stdout`` back, while another thread prints to it, crashes the process (a segfault in
#: ``print``). One long-lived routed stream per process stream is never freed.
_ROUTED: dict[int, _Routed] = {}
_ROUTED_LOCK = threading.Lock()


def _routed(stream: Any) -> Any:
    """The process-wide routed stream of ``stream`` (``stream`` itself when it already is one)."""
    if isinstance(stream, _Routed):
        return stream
    with _ROUTED_LOCK:
        # A cached routed stream holds its stream, so no other object can have that id meanwhile.
        routed = _ROUTED.get(id(stream))
        if routed is None:
            routed = _ROUTED[id(stream)] = _Routed(stream)
        return routed


@contextlib.contextmanager
def _capture_streams(buffer: io.StringIO) -> Iterator[None]:
    """Send this thread's (and the handler's worker thread's) stdout and stream logging to ``buffer``.

    Other threads keep writing to the process's streams (see :class:`_Routed`).
    """
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.stderr):
                swapped.append((handler, handler.setStream(_routed(handler.stream))))
    previous = getattr(_THREAD, "output", None)
    _THREAD.output = buffer
    try:
        with contextlib.redirect_stdout(_routed(sys.stdout)):
            yield
    finally:
        _THREAD.output = previous
        for handler, stream in swapped:
            handler.setStream(stream)


def apply_powertools_environment() -> None:
    """Point the package's powertools ``Metrics`` at the current ``POWERTOOLS_*`` environment.

    On Lambda, ``retrain.observability`` is imported at cold start with the
    function's environment, so its ``Metrics`` reads the namespace and service
    from the template. In-process, the module may have been imported earlier
    (by a test, the CLI) without them: every metric flush would then fail with
    "Must contain a metric namespace" and the service dimension the alarms
    watch would be missing.
    """
    module = sys.modules.get("retrain.observability")
    if module is None:  # the handler's import reads the environment itself
        return
    for attribute, variable in (("namespace", "POWERTOOLS_METRICS_NAMESPACE"), ("service", "POWERTOOLS_SERVICE_NAME")):
        if variable in os.environ:
            setattr(module.metrics, attribute, os.environ[variable])


def _error_payload(exc: BaseException) -> str:
    """Lambda's payload for a handler that raised ``exc`` (``errorType`` = the exception's class name)."""
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_exception(exc)[-6:],
        }
    )


def _call_with_deadline(
    function: InProcessFunction, handler: Callable[[Any, Any], Any], event: Any, output: io.StringIO
) -> tuple[str, bool, str]:
    """Run ``handler`` in a worker thread for at most ``function.timeout`` seconds: ``(payload, errored, log)``."""
    timeout = float(function.timeout)
    context = FakeContext(function)
    invocation = _Invocation(output)
    worker = threading.Thread(
        target=invocation.run,
        args=(lambda: handler(event, context),),
        name=f"lambda-{function.name}-{context.aws_request_id[:8]}",
        daemon=True,  # an abandoned handler blocked in C code must not keep the process alive
    )
    worker.start()
    if not invocation.done.wait(max(0.0, context.deadline - time.monotonic())) and invocation.expire():
        if not invocation.done.wait(STOP_GRACE):
            _ABANDONED.append(worker)
        message = f"RequestId: {context.aws_request_id} Error: Task timed out after {timeout:.2f} seconds"
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        payload = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message})
        return payload, True, f"{stamp} {context.aws_request_id} Task timed out after {timeout:.2f} seconds\n"
    returned, value = invocation.outcome
    if not returned:
        if not isinstance(value, Exception):
            raise value  # SystemExit, KeyboardInterrupt: as when the handler ran on this thread
        return _error_payload(value), True, ""
    try:
        return json.dumps(value), False, ""
    except Exception as exc:
        return _error_payload(exc), True, ""


def invoke(function: InProcessFunction, event: Any) -> tuple[str, bool, str]:
    """Call the handler within the function's timeout; return moto's ``(payload_json, errored, logs)``."""
    if isinstance(event, bytes):
        event = json.loads(event or b"{}")
    elif isinstance(event, str):
        # moto may have decoded the payload already: then it was a JSON string, which the handler receives as is
        with contextlib.suppress(json.JSONDecodeError):
            event = json.loads(event or "{}")
    buffer = _Output()
    # A handler invoking a function (none does) runs on a worker thread while its invoker holds the lock.
    lock = contextlib.nullcontext() if _current_invocation() is not None else _LOCK
    with lock, environment(function.environment), _capture_streams(buffer):
        if _FUNCTIONS.get(function.name) is not function:
            stopped = {"errorType": "ServiceException", "errorMessage": "the local cloud has stopped"}
            return json.dumps(stopped), True, ""
        function.invocations += 1
        apply_powertools_environment()
        try:
            handler = function.load()  # the cold start: not counted in the timeout, as Lambda's Init phase
        except Exception as exc:
            payload, errored, tail = _error_payload(exc), True, ""
        else:
            payload, errored, tail = _call_with_deadline(function, handler, event, buffer)
        # Still under the lock: callbacks (EMF -> CloudWatch) also finish before the cloud stops.
        text = buffer.getvalue() + tail
        function.logs.append(text)
        for callback in list(_ON_OUTPUT):
            callback(function, text)
    return payload, errored, text


def _patched_invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    function = _FUNCTIONS.get(self.function_name)
    if function is None:
        return _ORIGINAL(self, event)  # type: ignore[no-any-return,unused-ignore]
    return invoke(function, event if event is not None else {})


def install() -> None:
    """Patch moto's Lambda invocation and botocore's API calls (the freeze of timed-out invocations); idempotent."""
    global _ORIGINAL, _ORIGINAL_API_CALL
    from botocore.client import BaseClient
    from moto.awslambda.models import LambdaFunction

    if _ORIGINAL_API_CALL is None:
        _ORIGINAL_API_CALL = BaseClient._make_api_call  # type: ignore[attr-defined,unused-ignore]
        BaseClient._make_api_call = _frozen_api_call  # type: ignore[attr-defined,unused-ignore]
    if _ORIGINAL is None:
        _ORIGINAL = LambdaFunction._invoke_lambda
        LambdaFunction._invoke_lambda = _patched_invoke_lambda  # type: ignore[method-assign]


def uninstall() -> None:
    """Undo :func:`install`.

    The freeze of timed-out invocations stays while one of their threads is
    still alive (blocked in C code): woken up after moto stopped, its AWS calls
    would otherwise go to AWS itself. The next uninstall looks again.
    """
    global _ORIGINAL, _ORIGINAL_API_CALL
    from botocore.client import BaseClient
    from moto.awslambda.models import LambdaFunction

    _ABANDONED[:] = [thread for thread in _ABANDONED if thread.is_alive()]
    if _ORIGINAL_API_CALL is not None and not _ABANDONED:  # else a thread waking up later could reach AWS itself
        BaseClient._make_api_call = _ORIGINAL_API_CALL  # type: ignore[attr-defined,unused-ignore]
        _ORIGINAL_API_CALL = None
    if _ORIGINAL is not None:
        LambdaFunction._invoke_lambda = _ORIGINAL  # type: ignore[method-assign]
        _ORIGINAL = None
