"""The local cloud's Distributed Map: where moto 5.2.5's interpreter differs from AWS, it does what AWS does.

moto runs a ``Map`` with ``ProcessorConfig.Mode: DISTRIBUTED`` (one child
execution per item, an S3 ``ItemReader``, ``MaxConcurrency(Path)``), inside a
``Parallel`` branch too. Two things differ from AWS, and are patched here:

1. ``ResultWriter.Parameters`` paths (``"Prefix.$": "$.plan.result_prefix"``):
   AWS reads them from the Map state's input, as it reads ``ItemReader.Parameters``;
   moto reads them from the map's results (the list of the iterations' outputs),
   so a path into the input fails the state with ``States.Runtime``. Patched:
   :class:`ResultWriter` evaluates its parameters on the state's input.
2. A failed iteration: on AWS an item whose child execution fails (or times out)
   counts as failed, and when the failed items exceed the tolerated threshold
   (``ToleratedFailureCount``/``ToleratedFailurePercentage``, default 0: the first
   failure) the Map run fails and the Map state fails with
   ``States.ExceedToleratedFailureThreshold``, whatever the child's own error (that
   error and its cause are only in the child execution's history). moto counts
   the failed items but ends the Map as succeeded, with ``null`` results for them.
   Patched: after the run, failed, timed-out and aborted items beyond the larger of
   the two thresholds fail the Map state with AWS's error and cause, so what the
   state machine does with a failed map here is what it does on AWS.

moto's ``ResultWriter`` writes only an empty ``manifest.json`` (no result files);
nothing here depends on them.
"""

from __future__ import annotations

from typing import Any

#: The Map state's error when its iterations fail beyond the tolerated threshold (AWS's name and cause).
EXCEEDED = "States.ExceedToleratedFailureThreshold"
EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"

_ORIGINAL_WRITER: Any = None
_ORIGINAL_MAP_RUN: Any = None


def _writer_eval_body(self: Any, env: Any) -> None:
    """``ResultWriter._eval_body`` with its parameters evaluated on the state's input (the results stay below)."""
    env.stack.append(env.states.get_input())
    self.parargs.eval(env=env)
    parameters = env.stack.pop()
    env.stack.pop()  # the state's input
    env.stack.append(parameters)  # above the results, where the resource evaluation pops them
    self.resource_eval.eval_resource(env=env)


def tolerated(total: int, count: int, percentage: float) -> int:
    """Failed items a map run of ``total`` items tolerates: the larger of ``count`` and ``percentage`` of it."""
    return max(int(count), int(total * float(percentage) / 100.0))


def _map_run(self: Any, env: Any, eval_input: Any) -> None:
    """``DistributedIterationComponent._map_run``, failing the run as AWS does when items failed."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    _ORIGINAL_MAP_RUN(self, env, eval_input)
    items = eval_input.map_run_record.item_counter
    failed = items.failed.get() + items.timed_out.get() + items.aborted.get()
    limit = tolerated(items.total.get(), eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage)
    if failed > limit:
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                event_type=HistoryEventType.MapRunFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                    executionFailedEventDetails=ExecutionFailedEventDetails(error=EXCEEDED, cause=EXCEEDED_CAUSE)
                ),
            )
        )


def install() -> None:
    """Patch moto's ``ResultWriter`` and distributed map runs (idempotent)."""
    global _ORIGINAL_WRITER, _ORIGINAL_MAP_RUN
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import (
        ResultWriter,
    )

    if _ORIGINAL_WRITER is None:
        _ORIGINAL_WRITER = ResultWriter._eval_body
        ResultWriter._eval_body = _writer_eval_body  # type: ignore[method-assign]
    if _ORIGINAL_MAP_RUN is None:
        _ORIGINAL_MAP_RUN = DistributedIterationComponent._map_run
        DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]


def uninstall() -> None:
    """Undo :func:`install`."""
    global _ORIGINAL_WRITER, _ORIGINAL_MAP_RUN
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import (
        ResultWriter,
    )

    if _ORIGINAL_WRITER is not None:
        ResultWriter._eval_body = _ORIGINAL_WRITER  # type: ignore[method-assign]
        _ORIGINAL_WRITER = None
    if _ORIGINAL_MAP_RUN is not None:
        DistributedIterationComponent._map_run = _ORIGINAL_MAP_RUN  # type: ignore[method-assign]
        _ORIGINAL_MAP_RUN = None
