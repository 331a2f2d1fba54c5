"""Lambda timeouts on the local cloud: the timeout payload, the frozen sandbox, and a run whose step timed out.

The first tests deploy small handlers of their own (written to ``tmp_path``) next to the
template's functions; the last runs the real state machine with a Snapshot step that sleeps
past a shortened timeout. Timeouts are 1 s; the margins allow for a busy 2-core machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import time
import zipfile
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from retrain import registry
from retrain.demo import generate_churn
from retrain.local import lambdas, patches
from retrain.steps import snapshot

pytestmark = pytest.mark.integration

#: Seconds an invocation may take beyond its timeout to answer (the stop grace, moto, a busy machine).
MARGIN = 2.5

HANDLERS = '''
import threading
import time

import boto3

done = threading.Event()
outcome = []
wait_for = None


def sleeps(event, context):
    """Sleep, then print and write to S3, in a finally: cleanup code runs even when the sandbox stops here."""
    try:
        time.sleep(event["sleep"])
    finally:
        print("LATE-OUTPUT " + event["key"])
        try:
            boto3.client("s3").put_object(Bucket=event["bucket"], Key=event["key"], Body=b"written")
            outcome.append("written")
        except Exception as exc:  # what a handler's own error handling would see
            outcome.append("swallowed " + type(exc).__name__)
        except BaseException as exc:
            outcome.append(type(exc).__name__)
            raise
        finally:
            done.set()
    return {"remaining_ms": context.get_remaining_time_in_millis()}


def waits(event, context):
    """Print, then wait for another handler module's ``done`` (set by the test as ``wait_for``)."""
    print("ON-TIME-OUTPUT")
    return {"waited": wait_for.wait(event["wait"])}


def spins(event, context):
    """CPU work past the deadline, then a write."""
    import time

    import boto3

    n, until = 0, time.monotonic() + event["seconds"]
    while time.monotonic() < until:
        n += 1
    boto3.client("s3").put_object(Bucket=event["bucket"], Key=event["key"], Body=str(n).encode())
'''


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "code runs in-process")
    return buffer.getvalue()


@pytest.fixture
def deploy_handler(cloud, tmp_path):
    """``deploy_handler(name, handler, timeout)``: a function of ``HANDLERS`` on the cloud, run in-process."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "handlers.py").write_text(HANDLERS)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = cloud.client("iam").create_role(RoleName="timeout-tests", AssumeRolePolicyDocument=json.dumps(trust))

    def deploy(name, handler, timeout):
        arn = cloud.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler=f"handlers.{handler}",
            Code={"ZipFile": _zip()},
            Timeout=30,
        )["FunctionArn"]
        function = patches.InProcessFunction(
            name=name, code_dir=code, handler=f"handlers.{handler}", timeout=30, arn=arn
        )
        patches.register(function)
        function.load()
        function.timeout = timeout  # what a test does to a template function: read on the next invocation
        return function

    return deploy


@pytest.fixture
def bucket(cloud):
    return cloud.ref("ArtifactBucket")


def _invoke(cloud, function, event):
    """``(payload, FunctionError, seconds)`` of a synchronous invocation."""
    started = time.monotonic()
    response = cloud.client("lambda").invoke(FunctionName=function.name, Payload=json.dumps(event))
    return json.loads(response["Payload"].read()), response.get("FunctionError"), time.monotonic() - started


def _exists(cloud, bucket, key):
    try:
        cloud.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
    else:
        return True
    assert code == "404"
    return False


def _lock_is_free():
    if not lambdas._LOCK.acquire(blocking=False):
        return False
    lambdas._LOCK.release()
    return True


def test_a_handler_sleeping_past_its_timeout_answers_lambdas_timeout_payload_at_the_deadline(
    cloud, deploy_handler, bucket
):
    function = deploy_handler("sleeper", "sleeps", timeout=1)

    payload, function_error, seconds = _invoke(cloud, function, {"sleep": 4, "bucket": bucket, "key": "late"})

    assert function_error is not None
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].startswith("RequestId: ")
    assert payload["errorMessage"].endswith(" Error: Task timed out after 1.00 seconds")
    assert 1 <= seconds < 1 + MARGIN, seconds
    assert function.logs[-1].endswith("Task timed out after 1.00 seconds\n")
    assert _lock_is_free()
    function.module.done.wait(15)  # let the abandoned handler end before the cloud stops


def test_a_write_after_the_deadline_never_lands_and_late_output_reaches_no_invocation(cloud, deploy_handler, bucket):
    # Given a handler whose cleanup (a print and an S3 put in a finally) runs after its 1 s deadline
    late = deploy_handler("late-writer", "sleeps", timeout=1)
    # and a second function invoked right after it, still running when that cleanup runs
    next_one = deploy_handler("next-one", "waits", timeout=30)
    next_one.module.wait_for = late.module.done

    # When the first times out and the second is invoked at once
    payload, _, _ = _invoke(cloud, late, {"sleep": 2.5, "bucket": bucket, "key": "late-write"})
    answer, function_error, _ = _invoke(cloud, next_one, {"wait": 20})

    # Then the late put raised FrozenInvocation (no `except Exception` swallows it) and never reached S3
    assert payload["errorType"] == "Sandbox.Timedout"
    assert (answer, function_error) == ({"waited": True}, None)
    assert late.module.outcome == ["FrozenInvocation"]
    assert not _exists(cloud, bucket, "late-write")
    # And the late print is in neither invocation's logs, while the second's own output is
    assert "LATE-OUTPUT" not in late.logs[-1]
    assert "ON-TIME-OUTPUT" in next_one.logs[-1]
    assert "LATE-OUTPUT" not in next_one.logs[-1]


def test_a_handler_that_finishes_in_time_is_unaffected(cloud, deploy_handler, bucket):
    function = deploy_handler("quick", "sleeps", timeout=5)

    payload, function_error, _ = _invoke(cloud, function, {"sleep": 0.2, "bucket": bucket, "key": "in-time"})

    assert function_error is None
    assert 0 < payload["remaining_ms"] <= 4800  # counted down from the start of the invocation
    assert function.module.outcome == ["written"]
    assert _exists(cloud, bucket, "in-time")
    assert "LATE-OUTPUT in-time" in function.logs[-1]


def test_an_abandoned_cpu_bound_handler_runs_on_but_its_write_never_lands(cloud, deploy_handler, bucket):
    spinner = deploy_handler("spinner", "spins", timeout=1)

    payload, _, seconds = _invoke(cloud, spinner, {"seconds": 3, "bucket": bucket, "key": "spun"})

    assert payload["errorType"] == "Sandbox.Timedout"
    assert seconds < 1 + MARGIN
    # The next invocation runs while the abandoned one still computes
    quick = deploy_handler("after-spinner", "sleeps", timeout=5)
    assert _invoke(cloud, quick, {"sleep": 0, "bucket": bucket, "key": "after"})[1] is None
    # And when the abandoned one gets to its write, the write is refused
    spinners = [t for t in threading.enumerate() if t.name.startswith("lambda-spinner-")]
    assert len(spinners) <= 1, spinners
    for worker in spinners:
        worker.join(15)
        assert not worker.is_alive()
    assert not _exists(cloud, bucket, "spun")


@pytest.mark.e2e
def test_a_step_that_times_out_fails_the_run_as_sandbox_timedout_and_releases_the_lock(deployed_churn, monkeypatch):
    # Given Snapshot takes longer than its (shortened) timeout, in every attempt
    def slow(*args, **kwargs):
        time.sleep(3)
        raise AssertionError("a frozen invocation must not get here")

    monkeypatch.setattr(snapshot, "run", slow)
    cloud = deployed_churn.cloud
    cloud.functions["SnapshotFunction"].timeout = 1
    deployed_churn.write_window(generate_churn(1500, seed=41), end=datetime.now(UTC))

    # When a manual trigger retrains the model
    arn = cloud.start_execution({"trigger": "manual", "model": "churn"}, name="snapshot-times-out")
    described = cloud.wait(arn, timeout=300)

    # Then the run fails with Lambda's timeout error, as on AWS
    assert (described["status"], described["error"]) == ("FAILED", "Sandbox.Timedout")
    assert "Task timed out after 1.00 seconds" in described["cause"]
    history = cloud.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    failed = [e for e in history if e["type"] == "LambdaFunctionFailed"]
    assert failed
    assert {e["lambdaFunctionFailedEventDetails"]["error"] for e in failed} == {"Sandbox.Timedout"}
    assert not [e for e in history if e["type"] == "LambdaFunctionTimedOut"]
    # And the model's lock and the invocation lock are released
    item = cloud.client("dynamodb").get_item(
        TableName=deployed_churn.settings.registry_table,
        Key={"pk": {"S": registry.model_pk("churn")}, "sk": {"S": "LOCK"}},
    )
    assert "Item" not in item
    assert _lock_is_free()


def test_the_routed_stream_survives_copies_and_never_recurses():
    # A copy of the process-wide stream (copy.copy, copy.deepcopy of an object holding it) is the stream itself;
    # an instance made without __init__ writes to the real stdout instead of recursing in __getattr__.
    import copy
    import io
    import sys

    from retrain.local.lambdas import _Routed

    target = io.StringIO()
    routed = _Routed(target)
    assert copy.copy(routed) is routed
    assert copy.deepcopy({"stream": routed})["stream"] is routed
    routed.write("x")
    assert target.getvalue() == "x"
    bare = _Routed.__new__(_Routed)
    assert bare._target() is sys.__stdout__
    with pytest.raises(AttributeError):
        _ = bare.stream


def test_the_routed_stream_outlives_every_invocation_that_installs_it():
    # print() in another thread may still be writing to sys.stdout when an invocation puts the previous one
    # back: the routed stream it installed must not be freed then (CPython 3.12 crashes in print)
    import gc
    import weakref

    from retrain.local.lambdas import _capture_streams, _routed

    process_stream = io.StringIO()
    with contextlib.redirect_stdout(process_stream):
        with _capture_streams(io.StringIO()):
            installed = weakref.ref(sys.stdout)
            assert installed() is not process_stream
        assert sys.stdout is process_stream
        gc.collect()
        assert installed() is not None
        with _capture_streams(io.StringIO()):
            assert sys.stdout is installed()  # one routed stream per process stream, reused
        print("after", end="")
    assert process_stream.getvalue() == "after"
    assert _routed(process_stream) is installed()
