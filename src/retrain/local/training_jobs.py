"""The local cloud's SageMaker training jobs: ``sagemaker:createTrainingJob.sync`` as on AWS.

moto's Step Functions interpreter forwards an integration it does not optimise
(SageMaker is one) as a request/response call to moto's SageMaker backend, and
refuses ``.sync``; moto's CreateTrainingJob only records a job, already
``Completed``, and runs nothing. :func:`install` replaces the interpreter's task
for the ``sagemaker`` service with :class:`SageMakerTask`, which:

1. calls moto's CreateTrainingJob (so DescribeTrainingJob and ListTrainingJobs
   show the job) and marks it ``InProgress``;
2. runs the job (:func:`run_job`) in a worker thread, as SageMaker runs it
   beside the execution: the channels are downloaded from moto's S3 into a
   temporary directory laid out as ``/opt/ml``, the source dir
   (``sagemaker_submit_directory``) is unpacked into its ``code/`` and the
   program (``sagemaker_program``) runs in a fresh subprocess of this
   interpreter with the training toolkit's environment (``SM_CHANNEL_<NAME>``,
   ``SM_MODEL_DIR``, ``SM_OUTPUT_DIR``, ``SM_OUTPUT_DATA_DIR``, ``SM_HPS``,
   ``hyperparameters.json``), ``PYTHONPATH`` = the unpacked source dir and this
   interpreter's site-packages only, ``OMP_NUM_THREADS=1``; its
   ``MaxRuntimeInSeconds`` is enforced (the process is killed);
3. tars ``SM_MODEL_DIR`` to ``<S3OutputPath>/<job>/output/model.tar.gz`` and sets
   the job's status in moto's backend: ``Completed``; ``Failed`` with
   ``FailureReason`` ``AlgorithmError: <the failure file>`` (or the end of its
   stderr without one); ``Stopped`` with secondary status ``MaxRuntimeExceeded``;
4. with ``.sync``, waits for the job: a completed job's DescribeTrainingJob is
   the task's result; any other ends the task with ``States.TaskFailed`` and
   the job's description (JSON, with its ``FailureReason``) as the cause, as
   Step Functions ends a ``.sync`` job that did not complete.

What differs from SageMaker: no container and no instance (the job runs in
this machine's Python, whose packages stand in for the image's and the
``requirements.txt`` install: nothing is installed); no CloudWatch logs or
metrics (the job's output is kept in :data:`LOGS`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: A job's stdout and stderr by name (what CloudWatch Logs would hold), for tests and debugging.
LOGS: dict[str, str] = {}
#: The jobs' worker threads (a test or the cloud may wait for them).
THREADS: dict[str, threading.Thread] = {}
#: Most characters of a job's stderr that stand for its failure reason when it wrote no failure file.
STDERR_TAIL = 800
_TERMINAL = frozenset({"Completed", "Failed", "Stopped"})

_ORIGINAL: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """How a job ended: its status, secondary status and failure reason."""

    status: str
    secondary_status: str
    failure_reason: str | None = None


def _download_channel(s3: Any, uri: str, target: Path) -> int:
    """Every object under an ``S3Prefix`` URI into ``target``, by its path after the prefix's folder."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    folder = prefix if prefix.endswith("/") else prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(folder) :]
            if not relative or relative.endswith("/"):
                continue
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            count += 1
    return count


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _environment(root: Path, request: dict[str, Any], channels: list[str]) -> dict[str, str]:
    """The training toolkit's environment of the job's program, with ``root`` in place of ``/opt/ml``."""
    hps = {key: _decoded(value) for key, value in (request.get("HyperParameters") or {}).items()}
    code = root / "code"
    paths = [str(code), *dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": "1",
        "TRAINING_JOB_NAME": request["TrainingJobName"],
        "SM_HPS": json.dumps(hps),
        "SM_CHANNELS": json.dumps(channels),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DIR": str(root / "output"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_INPUT_DIR": str(root / "input"),
        "SM_INPUT_CONFIG_DIR": str(root / "input" / "config"),
        "SM_MODULE_DIR": str(hps.get("sagemaker_submit_directory", "")),
        "SM_USER_ENTRY_POINT": str(hps.get("sagemaker_program", "")),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_CPUS": "1",
    }
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = str(root / "input" / "data" / name)
    return env


def _unpack(blob: bytes, target: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        archive.extractall(target, filter="data")


def _model_tarball(folder: Path) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(folder).as_posix())
    return raw.getvalue()


def run_job(request: dict[str, Any], s3: Any) -> Outcome:
    """Run one ``CreateTrainingJob`` request's job on this machine; returns how it ended.

    ``s3`` is the S3 client the channels are read from and the output written
    to. The program's output is kept in :data:`LOGS` under the job's name.
    """
    name = request["TrainingJobName"]
    hps = {key: _decoded(value) for key, value in (request.get("HyperParameters") or {}).items()}
    with tempfile.TemporaryDirectory(prefix=f"sagemaker-{name}-") as tmp:
        root = Path(tmp)
        for folder in ("code", "model", "output/data", "input/config", "input/data"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        channels = [channel["ChannelName"] for channel in request.get("InputDataConfig") or []]
        try:
            for channel in request.get("InputDataConfig") or []:
                uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
                if _download_channel(s3, uri, root / "input" / "data" / channel["ChannelName"]) == 0:
                    return Outcome(
                        "Failed", "Failed", f"ClientError: no objects at {uri} (channel {channel['ChannelName']})"
                    )
            (root / "input" / "config" / "hyperparameters.json").write_text(
                json.dumps(request.get("HyperParameters") or {})
            )
            bucket, _, key = str(hps.get("sagemaker_submit_directory", "")).removeprefix("s3://").partition("/")
            _unpack(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), root / "code")
        except Exception as exc:  # what SageMaker reports before the algorithm starts
            return Outcome("Failed", "Failed", f"ClientError: cannot prepare the job's inputs: {exc}")
        program = str(hps.get("sagemaker_program", ""))
        if not (root / "code" / program).is_file():
            return Outcome("Failed", "Failed", f"AlgorithmError: the source dir has no program {program!r}")
        limit = int((request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400))
        try:
            done = subprocess.run(
                [sys.executable, program],
                cwd=root / "code",
                env=_environment(root, request, channels),
                capture_output=True,
                text=True,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            LOGS[name] = _text(exc.stdout) + _text(exc.stderr)
            return Outcome("Stopped", "MaxRuntimeExceeded")
        LOGS[name] = done.stdout + done.stderr
        if done.returncode != 0:
            failure = root / "output" / "failure"
            reason = failure.read_text().strip() if failure.is_file() else done.stderr.strip()[-STDERR_TAIL:]
            return Outcome("Failed", "Failed", f"AlgorithmError: {reason or f'exit code {done.returncode}'}")
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        bucket, _, prefix = output.removeprefix("s3://").partition("/")
        key = f"{prefix}/{name}/output/model.tar.gz" if prefix else f"{name}/output/model.tar.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=_model_tarball(root / "model"))
        return Outcome("Completed", "Completed")


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode(errors="replace")


def _job(account: str, region: str, name: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account][region].training_jobs[name]


def _record(job: Any, outcome: Outcome | None) -> None:
    """Set a job's status in moto's backend (``None``: it is running)."""
    now = datetime.now(UTC)
    job.last_modified_time = now
    if outcome is None:
        job.training_job_status = job.secondary_status = "InProgress"
        job.training_start_time, job.training_end_time = now, None
        return
    job.training_job_status, job.secondary_status = outcome.status, outcome.secondary_status
    job.training_end_time = now
    if outcome.failure_reason is not None:
        job.failure_reason = outcome.failure_reason
    if outcome.status != "Completed":
        job.final_metric_data_list = None


def start(account: str, region: str, request: dict[str, Any], s3: Any) -> threading.Thread:
    """Run a created job in a worker thread, recording its status in moto as it goes."""
    job = _job(account, region, request["TrainingJobName"])
    _record(job, None)

    def work() -> None:
        try:
            outcome = run_job(request, s3)
        except Exception as exc:  # the runner itself broke: the job fails, as an internal error would
            outcome = Outcome("Failed", "Failed", f"InternalServerError: {type(exc).__name__}: {exc}")
        _record(job, outcome)

    thread = threading.Thread(target=work, name=f"training-job-{request['TrainingJobName']}", daemon=True)
    THREADS[request["TrainingJobName"]] = thread
    thread.start()
    return thread


def _json_ready(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


@functools.cache
def _request_members(action: str) -> frozenset[str] | None:
    """A SageMaker action's request members, from botocore's model, loaded once per process.

    moto parses a state machine's definition on every execution; loading SageMaker's
    model (a large JSON file) each time made every execution of the local cloud slower.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    operation = next((o for o in model.operation_names if o.lower() == action), None)
    if operation is None:
        return None
    shape = model.operation_model(operation).input_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def _task_class() -> type:
    """:class:`SageMakerTask`, defined once moto's interpreter is importable."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    class SageMakerTask(StateTaskServiceCallback):
        """``arn:aws:states:::sagemaker:createTrainingJob[.sync]`` that runs the job (see the module)."""

        def __init__(self) -> None:
            # WaitForTaskToken too, for moto's sake only: its .sync needs the task's callback endpoint.
            # A .waitForTaskToken resource is refused below, as SageMaker's integration has none on AWS.
            patterns = {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}
            super().__init__(supported_integration_patterns=patterns)  # type: ignore[arg-type]

        def _validate_service_integration_is_supported(self) -> None:
            if self.resource.condition == ResourceCondition.WaitForTaskToken:
                raise ValueError(
                    f"The resource provided {self.resource.resource_arn} is not supported: SageMaker "
                    "has no Wait for a Callback with Task Token integration"
                )
            super()._validate_service_integration_is_supported()

        def _get_supported_parameters(self) -> set[str] | None:
            """The action's request members (CreateTrainingJob's, as botocore's model has them)."""
            members = _request_members(self.resource.api_action.lower())
            return None if members is None else set(members)

        def _eval_service_task(
            self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
        ) -> None:
            service, action = self._get_boto_service_name(), self._get_boto_service_action()
            client = boto_client_for(
                service=service, region=resource_runtime_part.region, state_credentials=state_credentials
            )
            response = getattr(client, action)(**normalised_parameters)
            response.pop("ResponseMetadata", None)
            if action == "create_training_job":
                account = response["TrainingJobArn"].split(":")[4]
                s3 = boto_client_for(
                    service="s3", region=resource_runtime_part.region, state_credentials=state_credentials
                )
                start(account, resource_runtime_part.region, normalised_parameters, s3)
            env.stack.append(_json_ready(response))

        def _build_sync_resolver(
            self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
        ) -> Callable[[], Any]:
            env.stack.pop()  # CreateTrainingJob's answer; .sync answers with DescribeTrainingJob's
            if self._get_boto_service_action() != "create_training_job":
                raise RuntimeError(f"Unsupported .sync callback procedure in resource {self.resource.resource_arn}")
            client: Any = boto_client_for(
                service="sagemaker", region=resource_runtime_part.region, state_credentials=state_credentials
            )
            name = normalised_parameters["TrainingJobName"]

            def resolve() -> Any:
                described = client.describe_training_job(TrainingJobName=name)
                described.pop("ResponseMetadata", None)
                if described["TrainingJobStatus"] not in _TERMINAL:
                    return None
                described = _json_ready(described)
                if described["TrainingJobStatus"] == "Completed":
                    return described
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(  # type: ignore[typeddict-item]
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=to_json_str(described),
                            )
                        ),
                    )
                )

            return resolve

    return SageMakerTask


def _patched_factory(service_name: str) -> Any:
    if service_name == "sagemaker":
        return _task_class()()
    assert _ORIGINAL is not None
    return _ORIGINAL(service_name=service_name)


def install() -> None:
    """Make the interpreter run SageMaker training jobs (see the module); idempotent."""
    global _ORIGINAL
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    if _ORIGINAL is None:
        _ORIGINAL = state_task_factory.state_task_service_for
        state_task_factory.state_task_service_for = _patched_factory


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """:func:`install` for the duration, unless it was already installed (then it stays)."""
    if _ORIGINAL is not None:
        yield
        return
    install()
    try:
        yield
    finally:
        uninstall()


def uninstall() -> None:
    """Undo :func:`install`."""
    global _ORIGINAL
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    if _ORIGINAL is not None:
        state_task_factory.state_task_service_for = _ORIGINAL
        _ORIGINAL = None


def wait_for_jobs(timeout: float | None = None) -> None:
    """Wait for every job's worker thread to end (before moto stops)."""
    for thread in list(THREADS.values()):
        with contextlib.suppress(RuntimeError):
            thread.join(timeout)
    THREADS.clear()


__all__ = ["LOGS", "Outcome", "install", "installed", "run_job", "start", "uninstall", "wait_for_jobs"]
