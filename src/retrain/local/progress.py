"""What ``retrain local-run`` and ``retrain demo`` print while they run, and the table they end with.

Three parts share one :class:`Console` (one output stream):

- :class:`Progress`: the phases before and around the execution (starting the
  local cloud, training the first champion, scoring CUR, firing the trigger,
  running the state machine), each with its duration.
- :class:`StatePrinter`: every state of the execution, from its history events
  (what :meth:`retrain.local.cloud.LocalCloud.wait` hands to ``on_state``), one
  line per state as it is left, in history order, with its offset from the
  execution's start and its duration; a failed state is marked with its error,
  and the execution's last line says which step failed.
- :func:`retrain.local.summary.summary_table`: one row per run (outcome, champion
  before and after, the primary metric on the window and on the holdout), reasons
  wrapped under it.

On a terminal a live status line (rewritten with ``\\r``) shows what is running
and for how long; piped or written to a file, only whole lines are printed.
Colors only on a terminal, unless ``NO_COLOR`` is set; ``FORCE_COLOR`` forces
them. A stream whose encoding cannot encode the marks gets ASCII ones.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from retrain.result import error_text, error_type

StatusSource = Callable[[], str | None]

#: Events that end an execution, and the status each gives.
EXECUTION_END = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
#: Events that say a state's work succeeded (after them, an earlier failed attempt was retried).
_WORK_SUCCEEDED = ("TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded")
#: States that hold other states: the live line names what runs inside them instead.
_CONTAINERS = ("parallel", "map")

_STYLES = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}


@dataclass(frozen=True)
class Marks:
    """The symbols the output uses: Unicode, or ASCII where the stream's encoding lacks them."""

    ok: str
    failed: str
    running: str
    arrow: str


UNICODE = Marks(ok="✓", failed="✗", running="…", arrow="→")
ASCII = Marks(ok="ok", failed="FAIL", running="...", arrow="->")


def _encodes(stream: Any, text: str) -> bool:
    """Whether ``stream`` can write ``text`` (a stream without an encoding, like StringIO, takes any str)."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def wants_color(stream: Any, env: Mapping[str, str] | None = None) -> bool:
    """Colors for ``stream``: ``NO_COLOR`` (non-empty) disables, ``FORCE_COLOR`` (non-empty) forces, else a TTY.

    As CPython's own color output decides: ``NO_COLOR`` wins over ``FORCE_COLOR``
    (https://no-color.org); a ``TERM=dumb`` terminal gets none.
    """
    env = os.environ if env is None else env
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return _isatty(stream) and env.get("TERM") != "dumb"


class Console:
    """One output stream: whole lines, and on a terminal one live status line kept below them.

    Parameters
    ----------
    stream
        Where to write (default: ``sys.stdout`` as it is when the console is made).
    write
        Instead of a stream, a function called once per whole line (``print``,
        ``list.append``): no status line, no color, Unicode marks.
    color
        Force colors on or off; None decides from the stream and the environment
        (:func:`wants_color`).
    env
        The environment ``NO_COLOR``, ``FORCE_COLOR`` and ``TERM`` are read from
        (default ``os.environ``).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        write: Callable[[str], Any] | None = None,
        color: bool | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._write = write
        self.stream: TextIO | None = None if write is not None else (stream if stream is not None else sys.stdout)
        #: A terminal: the status line is drawn (and rewritten with ``\r``).
        self.live = self.stream is not None and _isatty(self.stream)
        if color is None:
            color = self.stream is not None and wants_color(self.stream, env)
        self.color = color
        self.marks = UNICODE if _encodes(self.stream, "".join(vars(UNICODE).values())) else ASCII
        #: Held while writing; the status sources are read under it too.
        self.lock = threading.RLock()
        self._sources: list[StatusSource] = []
        self._shown = 0  # characters of the status line on screen

    # ------------------------------------------------------------------ styling
    def paint(self, text: str, *styles: str) -> str:
        """``text`` in ``styles`` (green, red, yellow, dim, bold) when this console has colors."""
        if not self.color or not styles or not text:
            return text
        codes = ";".join(_STYLES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def mark(self, ok: bool) -> str:
        """The ok or failed mark, colored, padded to one width."""
        width = max(len(self.marks.ok), len(self.marks.failed))
        if ok:
            return self.paint(self.marks.ok, "green") + " " * (width - len(self.marks.ok))
        return self.paint(self.marks.failed, "red", "bold") + " " * (width - len(self.marks.failed))

    # ------------------------------------------------------------------ output
    def line(self, text: str = "") -> None:
        """Print ``text`` (one or more whole lines), above the status line if one is drawn."""
        with self.lock:
            if self._write is not None:
                for part in text.split("\n"):
                    self._write(part)
                return
            assert self.stream is not None
            self._erase()
            self.stream.write(text + "\n")
            self._draw()
            self.stream.flush()

    def push_status(self, source: StatusSource) -> None:
        """Show ``source()`` on the status line (the last pushed source that returns text wins)."""
        with self.lock:
            self._sources.append(source)
            self.refresh()

    def pop_status(self, source: StatusSource) -> None:
        """Stop showing ``source``; the line is erased when no source has text."""
        with self.lock:
            if source in self._sources:
                self._sources.remove(source)
            self.refresh()

    def clear_status(self) -> None:
        """Drop every status source and erase the line (after a failure: nothing still runs)."""
        with self.lock:
            self._sources.clear()
            self.refresh()

    def refresh(self) -> None:
        """Redraw the status line from its sources (nothing when not a terminal)."""
        if not self.live:
            return
        with self.lock:
            assert self.stream is not None
            text = self._status()
            if not text:
                self._erase()
            else:  # overwrite in place: no blank frame between two texts
                self.stream.write("\r" + text + " " * max(self._shown - len(text), 0))
                if self._shown > len(text):
                    self.stream.write("\r" + text)
                self._shown = len(text)
            self.stream.flush()

    def _status(self) -> str:
        for source in reversed(self._sources):
            text = source()
            if text:
                columns = shutil.get_terminal_size((100, 24)).columns
                return text[: max(columns - 1, 1)]  # one line: a wrapped line cannot be rewritten
        return ""

    def _erase(self) -> None:
        if self.live and self._shown and self.stream is not None:
            self.stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def _draw(self) -> None:
        if not self.live or self.stream is None:
            return
        text = self._status()
        if text:
            self.stream.write(text)
            self._shown = len(text)


# ------------------------------------------------------------------------ phases
@dataclass
class Phase:
    """A running phase: set ``failed`` to end it marked failed though nothing raised (an execution that failed)."""

    text: str
    failed: bool = False


class Progress:
    """The phases of a local run, each printed with its duration.

    On a terminal the running phase is a live line with its elapsed time,
    replaced by a done line when it ends; piped, a start line and a done line.

    Parameters
    ----------
    console
        Where to print (default: a :class:`Console` on ``sys.stdout``).
    tick
        Seconds between redraws of the live line (a terminal only).
    """

    def __init__(self, console: Console | None = None, *, tick: float = 0.1) -> None:
        self.console = console or Console()
        self.tick = tick

    @contextmanager
    def phase(self, text: str) -> Iterator[Phase]:
        """Print ``text`` as running while the ``with`` block runs, then done (or failed) with its duration.

        An exception out of the block marks the phase failed, with the exception's type, and propagates.
        """
        console = self.console
        started = time.perf_counter()

        def status() -> str:
            return f"  {console.marks.running} {text} {time.perf_counter() - started:.1f} s"

        if not console.live:
            console.line(f"  {text} {console.marks.running}")
        console.push_status(status)
        stop = threading.Event()
        ticker = None
        if console.live:
            ticker = threading.Thread(target=self._ticking, args=(stop,), name="progress-ticker", daemon=True)
            ticker.start()
        phase = Phase(text)
        try:
            yield phase
        except BaseException as exc:
            self._end(status, stop, ticker)
            console.clear_status()  # a state printer's line too: its execution will not end in front of it
            seconds = console.paint(f"failed after {time.perf_counter() - started:.2f} s", "dim")
            console.line(f"  {console.mark(False)} {text} ({seconds}: {type(exc).__name__})")
            raise
        self._end(status, stop, ticker)
        seconds = console.paint(f"({time.perf_counter() - started:.2f} s)", "dim")
        console.line(f"  {console.mark(not phase.failed)} {text} {seconds}")

    def _ticking(self, stop: threading.Event) -> None:
        while not stop.wait(self.tick):
            self.console.refresh()

    def _end(self, status: StatusSource, stop: threading.Event, ticker: threading.Thread | None) -> None:
        stop.set()
        if ticker is not None:
            ticker.join()
        self.console.pop_status(status)


# ------------------------------------------------------------------------ states
@dataclass
class _State:
    """One visit of a state: entered, maybe failed (and retried), left."""

    name: str
    kind: str
    entered: datetime
    failures: list[tuple[str | None, str | None]] = field(default_factory=list)
    recovered: bool = False

    @property
    def failed(self) -> bool:
        """Its work failed and was not retried to success; a Fail state; an ``...Error`` state."""
        return (bool(self.failures) and not self.recovered) or self.kind == "fail" or self.catches

    @property
    def catches(self) -> bool:
        """A Pass state named ``...Error``: where a Catch leads to record a failed step (ReleaseLockAfterError,
        a Task, is not one)."""
        return self.kind == "pass" and self.name.endswith("Error")

    @property
    def error(self) -> str | None:
        return error_text(*self.failures[-1]) if self.failures else None


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's ``...EventDetails`` (each history event has at most one)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _is_failure(kind: str) -> bool:
    """A state's work failed: TaskFailed, LambdaFunctionFailed, ...TimedOut, ParallelStateFailed, ..."""
    return kind not in EXECUTION_END and (kind.endswith("Failed") or kind.endswith("TimedOut"))


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return None


def _seconds(later: datetime, earlier: datetime) -> float:
    return max((later - earlier).total_seconds(), 0.0)


class StatePrinter:
    """Prints every state of an execution from its history events: ``on_state`` for :meth:`LocalCloud.wait`.

    Each state gets one line when it is left, in history order (Parallel
    branches in the order their states end)::

          +  3.41 s  ✓ Snapshot               task       0.42 s

    the offset of its entry from the execution's start, then its duration. A
    state whose work failed (TaskFailed, LambdaFunctionFailed, a timeout) and
    was not retried to success is marked failed with its error; so is an
    ``...Error`` state a Catch led to. States entered and never left (the Fail
    state, the states an aborted run was in) are printed when the execution
    ends, followed by the execution's status and, if it failed, the failed step
    and its error. On a terminal the live line names the running states.

    Parameters
    ----------
    write
        A function called with each whole line (the old interface: ``StatePrinter(print)``);
        ignored when ``console`` is given.
    console
        Where to print (default: a console on ``sys.stdout``, or on ``write``).
    clock
        The current time, for the live line's elapsed seconds.
    """

    def __init__(
        self,
        write: Callable[[str], Any] | None = None,
        *,
        console: Console | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.console = console or Console(write=write)
        self.clock = clock
        #: ``(name, failed)`` of each state line printed, in order.
        self.printed: list[tuple[str, bool]] = []
        #: The execution's status once it ended (SUCCEEDED, FAILED, ABORTED, TIMED_OUT), else None.
        self.status: str | None = None
        #: The step the failed execution names (from its ``...Error`` state's ``failure.step``, else the first
        #: state that failed).
        self.failed_step: str | None = None
        self._start: datetime | None = None
        self._open: list[_State] = []
        self._owner: dict[int, _State | None] = {}
        self._errors_shown: set[str] = set()
        self._listening = False

    def __call__(self, event: Mapping[str, Any]) -> None:
        with self.console.lock:
            if not self._listening:
                self._listening = True
                self.console.push_status(self._running)
            self._handle(event)
            self.console.refresh()

    # ----------------------------------------------------------------- events
    def _handle(self, event: Mapping[str, Any]) -> None:
        kind = str(event["type"])
        stamp: datetime = event["timestamp"]
        if self._start is None:
            self._start = stamp
        details = _details(event)
        if kind.endswith("StateEntered"):
            state = _State(str(details.get("name")), kind.removesuffix("StateEntered").lower(), stamp)
            self._open.append(state)
            self._remember(event, state)
        elif kind.endswith("StateExited"):
            state = self._leave(str(details.get("name")), kind.removesuffix("StateExited").lower(), stamp)
            self._remember(event, None)
            self._print_state(state, stamp, output=details.get("output"))
        elif kind in EXECUTION_END:
            self._end(EXECUTION_END[kind], stamp, details)
        else:
            owner = self._owner_of(event, kind)
            self._remember(event, owner)
            if owner is not None and _is_failure(kind):
                owner.failures.append((details.get("error"), details.get("cause")))
                owner.recovered = False
            elif owner is not None and kind in _WORK_SUCCEEDED and owner.failures:
                owner.recovered = True

    def _remember(self, event: Mapping[str, Any], state: _State | None) -> None:
        if isinstance(event.get("id"), int):
            self._owner[event["id"]] = state

    def _owner_of(self, event: Mapping[str, Any], kind: str) -> _State | None:
        """The open state an event belongs to: follow ``previousEventId`` back to a state's entry."""
        owner = self._owner.get(event.get("previousEventId") or 0)
        if owner is not None and owner in self._open:
            return owner
        containers = kind.startswith(("Parallel", "Map"))
        for state in reversed(self._open):
            if (state.kind in _CONTAINERS) == containers:
                return state
        return self._open[-1] if self._open else None

    def _leave(self, name: str, kind: str, stamp: datetime) -> _State:
        for state in reversed(self._open):
            if state.name == name:
                self._open.remove(state)
                return state
        return _State(name, kind, stamp)  # left without an entry this printer saw

    # ----------------------------------------------------------------- lines
    def _print_state(
        self, state: _State, left: datetime, *, output: Any = None, note: str | None = None, stopped: bool = False
    ) -> None:
        """The state's line (``stopped``: it never left, the execution ended) and, if it failed, its error."""
        failed = state.failed or stopped
        error = state.error if state.failures and not state.recovered else None
        caught = (_json(output) or {}).get("failure") if state.catches else None
        if isinstance(caught, Mapping):  # an ...Error state a Catch led to: the failure it records
            error = error or error_text(caught.get("error"), caught.get("cause"))
            if caught.get("step"):
                self.failed_step = str(caught["step"])
                note = note or f"caught from {caught['step']}"
        elif failed and self.failed_step is None and state.failures and not state.recovered:
            self.failed_step = state.name
        if state.failures and state.recovered:
            note = note or f"retried after {state.error}"
        start = self._start or state.entered
        offset = self.console.paint(f"+{_seconds(state.entered, start):7.2f} s", "dim")
        took = self.console.paint(f"{_seconds(left, state.entered):6.2f} s", "dim")
        line = f"  {offset}  {self.console.mark(not failed)} {state.name:<22} {state.kind:<8} {took}"
        self.console.line(line + (f"  {self.console.paint(note, 'dim')}" if note else ""))
        self.printed.append((state.name, failed))
        if error and error not in self._errors_shown:
            self._errors_shown.add(error)
            self.console.line(self._indented(error, "red"))

    def _indented(self, text: str, *styles: str, indent: int = 15) -> str:
        lines = textwrap.wrap(text, width=100 - indent, max_lines=8, placeholder=" ...")
        return "\n".join(" " * indent + self.console.paint(part, *styles) for part in lines)

    def _end(self, status: str, stamp: datetime, details: Mapping[str, Any]) -> None:
        self.status = status
        for state in list(self._open):  # entered, never left: the Fail state, or where an aborted run stopped
            self._open.remove(state)
            stopped = status != "SUCCEEDED"
            note = None if state.kind == "fail" else f"not left: execution {status}"
            self._print_state(state, stamp, note=note, stopped=stopped)
        self.console.pop_status(self._running)
        self._listening = False
        took = _seconds(stamp, self._start or stamp)
        ok = status == "SUCCEEDED"
        head = f"  {self.console.mark(ok)} execution {self.console.paint(status, 'bold')} after {took:.2f} s"
        if ok:
            outcome = (_json(details.get("output")) or {}).get("outcome")
            self.console.line(head + (f": {self.console.paint(str(outcome), 'bold')}" if outcome else ""))
            return
        error, cause = details.get("error"), details.get("cause")
        if self.failed_step:
            head += f", step {self.console.paint(self.failed_step, 'bold')} failed"
        kind = error_type(error, cause)
        self.console.line(head + (f" ({kind})" if kind else ""))
        text = error_text(error, cause) if error or cause else None
        if text and text not in self._errors_shown:
            self.console.line(self._indented(text, "red"))

    def _running(self) -> str | None:
        """The live line: the states running now (not the Parallel around them) and for how long."""
        with self.console.lock:
            running = [s for s in self._open if s.kind not in _CONTAINERS] or list(self._open)
            if not running:
                return None
            now = self.clock()
            parts = [f"{s.name} running {self._since(s.entered, now):.1f} s" for s in running]
            return f"  {self.console.marks.running} " + ", ".join(parts)

    @staticmethod
    def _since(stamp: datetime, now: datetime) -> float:
        if stamp.tzinfo is None:  # a naive timestamp is UTC
            stamp = stamp.replace(tzinfo=UTC)
        return _seconds(now, stamp)
