"""The moto patches of the local cloud.

1. Run Lambda handlers in-process when moto invokes a function, within the function's timeout
   (:mod:`retrain.local.lambdas`).
2. Freeze a timed-out invocation: its AWS calls never reach moto (``BaseClient._make_api_call``;
   :mod:`retrain.local.lambdas`).
3. Deliver EventBridge events to Step Functions targets; a failed delivery goes to the
   target's dead-letter queue, as EventBridge sends it; other targets (SQS) get EventBridge's
   whole event, ``account`` included (:mod:`retrain.local.delivery`).
4. Keep the ``cause`` of ``SendTaskFailure`` (moto's handler drops it; AWS passes it to the Catch).
5. Serialize DynamoDB calls (moto's transactions are not atomic across threads).
6. Run SageMaker training jobs for ``sagemaker:createTrainingJob.sync`` (:mod:`retrain.local.training_jobs`).
7. Run a Distributed Map as AWS does where moto differs (:mod:`retrain.local.distributed_map`).

:func:`install` applies them all and :func:`uninstall` undoes them. The names of
:mod:`~retrain.local.lambdas` and :mod:`~retrain.local.delivery` that the local
cloud uses (registering functions, the executions rules started) are importable
from here too.

moto's ``transact_write_items`` deep-copies the table and puts the copy back
when a transaction fails, so a losing thread can erase the winner's writes
(and a conditional write checks, then writes, with no lock between). DynamoDB
itself runs every request atomically. ``DynamoHandler.call_action``, which
runs one DynamoDB request against moto's backend, holds a second lock of its
own. Every call passes there: boto3 clients, handlers' and the tests', and
Step Functions' ``dynamodb:*`` integrations (moto's interpreter calls them
through a boto3 client too). Locks are taken in one order: an invocation
holds the invocation lock (on its invoking thread) while its handler calls
DynamoDB; a DynamoDB call never invokes a handler (the template has no
stream event source).
"""

from __future__ import annotations

import threading
from typing import Any

from retrain.local import delivery, distributed_map, lambdas, training_jobs
from retrain.local.delivery import DEAD_LETTERS, STARTED, deliver_to_state_machine, start_state_machine
from retrain.local.lambdas import (
    FakeContext,
    InProcessFunction,
    apply_powertools_environment,
    environment,
    on_output,
    quiesced,
    register,
    unregister_all,
)

__all__ = [
    "DEAD_LETTERS",
    "STARTED",
    "FakeContext",
    "InProcessFunction",
    "apply_powertools_environment",
    "deliver_to_state_machine",
    "environment",
    "install",
    "on_output",
    "quiesced",
    "register",
    "serialize_dynamodb",
    "start_state_machine",
    "uninstall",
    "unregister_all",
]

#: Held by every DynamoDB request moto handles (see :func:`_serialized_dynamodb_call`).
_DYNAMODB_LOCK = threading.RLock()
_ORIGINAL_TASK_FAILURE: Any = None
_ORIGINAL_DYNAMODB: Any = None


def _patched_send_task_failure(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _serialized_dynamodb_call(self: Any) -> Any:
    """Run one DynamoDB request alone, as DynamoDB does (see the module docstring)."""
    with _DYNAMODB_LOCK:
        return _ORIGINAL_DYNAMODB(self)


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB run one request at a time (idempotent; the moto server needs it too).

    It stays for the rest of the process, across local clouds and servers: it
    only makes moto as atomic as DynamoDB is, and removing it while another
    cloud or server in the process still runs would bring the race back.
    """
    global _ORIGINAL_DYNAMODB
    from moto.dynamodb.responses import DynamoHandler

    if _ORIGINAL_DYNAMODB is None:
        _ORIGINAL_DYNAMODB = DynamoHandler.call_action
        DynamoHandler.call_action = _serialized_dynamodb_call  # type: ignore[method-assign]


def install() -> None:
    """Patch moto's Lambda invocation, EventBridge delivery, SendTaskFailure and DynamoDB, and botocore's
    API calls (the freeze of timed-out invocations); idempotent."""
    global _ORIGINAL_TASK_FAILURE
    from moto.stepfunctions.responses import StepFunctionResponse

    serialize_dynamodb()
    if _ORIGINAL_TASK_FAILURE is None:
        _ORIGINAL_TASK_FAILURE = StepFunctionResponse.send_task_failure
        StepFunctionResponse.send_task_failure = _patched_send_task_failure  # type: ignore[method-assign]
    lambdas.install()
    delivery.install()
    training_jobs.install()
    distributed_map.install()


def uninstall() -> None:
    """Undo :func:`install`, except :func:`serialize_dynamodb` (see there).

    The freeze of timed-out invocations stays while one of their threads is
    still alive (blocked in C code): woken up after moto stopped, its AWS calls
    would otherwise go to AWS itself. The next uninstall looks again.
    """
    global _ORIGINAL_TASK_FAILURE
    from moto.stepfunctions.responses import StepFunctionResponse

    if _ORIGINAL_TASK_FAILURE is not None:
        StepFunctionResponse.send_task_failure = _ORIGINAL_TASK_FAILURE  # type: ignore[method-assign]
        _ORIGINAL_TASK_FAILURE = None
    lambdas.uninstall()
    delivery.uninstall()
    training_jobs.wait_for_jobs()
    training_jobs.uninstall()
    distributed_map.uninstall()
    unregister_all()
    STARTED.clear()
    DEAD_LETTERS.clear()
