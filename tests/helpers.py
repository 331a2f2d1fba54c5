"""Helpers shared by the integration and e2e tests.

``tests/`` has no ``__init__.py``: pytest puts it on ``sys.path`` for its
``conftest.py``, so test modules import these as ``from helpers import ...``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrain import aws, fitting, registry, training
from retrain.config import ModelConfig
from retrain.contracts import Candidate
from retrain.data import inference_prefix, labels_prefix
from retrain.lifecycle import bootstrap, deploy_config
from retrain.local import patches
from retrain.local.cloud import ROOT, LocalCloud
from retrain.local.run import production_log, settings_of, write_partitioned
from retrain.settings import Settings

EVENTS = Path(__file__).parent / "events"
FUNCTIONS = ROOT / "functions"

#: Step (the folder under functions/) -> its logical id in template.yaml.
FUNCTION_IDS = {
    "normalize": "NormalizeFunction",
    "metric_check": "MetricCheckFunction",
    "drift_check": "DriftCheckFunction",
    "drift_profile": "DriftProfileFunction",
    "snapshot": "SnapshotFunction",
    "train": "TrainFunction",
    "validate": "ValidateFunction",
    "promote": "PromoteFunction",
    "reconcile": "ReconcileFunction",
    "report": "ReportFunction",
}


# ------------------------------------------------------------------ events
def load_event(name: str) -> dict[str, Any]:
    """The sample event ``tests/events/<name>.json`` (a fresh copy: tests may change it)."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def normalize_input(event: dict[str, Any], *, started_at: str, execution: str = "test-execution") -> dict[str, Any]:
    """What the state machine's Normalize state passes: the trigger event, the execution's name and start."""
    return {"event": event, "execution": execution, "started_at": started_at}


def run_input(end: datetime, *, model: str = "churn", window_days: float = 7.0) -> dict[str, Any]:
    """``tests/events/run.json`` (Normalize's output) with its window moved to end at ``end``.

    Each call is a new execution (steps are idempotent per execution: Train's retry returns its candidate).
    """
    event = load_event("run")
    start = (end - timedelta(days=window_days)).isoformat()
    event["run"].update(
        execution=f"{event['run']['execution']}-{uuid.uuid4().hex[:8]}",
        model=model,
        lock_pk=registry.model_pk(model),
        event_time=end.isoformat(),
        window_end=end.isoformat(),
        window_start=start,
        training_window_start=start,
    )
    return event


# ---------------------------------------------------------------- handlers
def load_handler(step: str) -> Callable[[dict[str, Any], Any], Any]:
    """``functions/<step>/app.py``'s ``lambda_handler``, imported afresh (a cold start: its settings read the
    environment of this moment)."""
    path = FUNCTIONS / step / "app.py"
    spec = importlib.util.spec_from_file_location(f"_test_handler_{step}_{uuid.uuid4().hex}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def call(cloud: LocalCloud, step: str, event: Any) -> Any:
    """Call the step's handler directly, in its function's environment, as the Lambda runtime would.

    Exceptions propagate as they are; stdout (logs, EMF metrics) goes to the test's stdout.
    """
    function = cloud.functions[FUNCTION_IDS[step]]
    with patches.environment(function.environment):
        patches.apply_powertools_environment()
        handler = load_handler(step)
        return handler(event, patches.FakeContext(function))


@dataclass(frozen=True)
class Invocation:
    """What ``lambda:Invoke`` answered: the decoded payload and the ``FunctionError`` header (None on success)."""

    payload: Any
    function_error: str | None

    @property
    def error_type(self) -> str | None:
        return self.payload.get("errorType") if self.function_error else None

    @property
    def error_message(self) -> str:
        return str(self.payload.get("errorMessage", "")) if self.function_error else ""


def invoke(cloud: LocalCloud, step: str, event: Any) -> Invocation:
    """Invoke the step's function through the Lambda API of the local cloud (runs the handler in-process)."""
    response = cloud.client("lambda").invoke(FunctionName=cloud.ref(FUNCTION_IDS[step]), Payload=json.dumps(event))
    return Invocation(json.loads(response["Payload"].read()), response.get("FunctionError"))


# -------------------------------------------------------------- production
@dataclass(frozen=True)
class Window:
    """A production window as written to the data bucket."""

    log: pd.DataFrame
    labels: pd.DataFrame | None
    keys: list[str]


def write_production_window(
    settings: Settings,
    config: ModelConfig,
    rows: pd.DataFrame,
    model: Any,
    *,
    end: datetime,
    prefix: str,
    label_fraction: float = 1.0,
) -> Window:
    """Score ``rows`` with ``model`` as production would and write the inference log and the labels.

    The predictions are spread over the monitoring window ending at ``end``
    (ids ``<prefix>-0000000``, ...). Labels arrive for the earliest
    ``label_fraction`` of the predictions only.
    """
    log, labels = production_log(config, rows, model, end=end, prefix=prefix)
    mon = config.monitoring
    keys = write_partitioned(settings.data_bucket, inference_prefix(config.model), log, mon.timestamp_column, prefix)
    if labels is not None:
        labels = labels.iloc[: round(len(labels) * label_fraction)].reset_index(drop=True)
        if len(labels):
            keys += write_partitioned(settings.data_bucket, labels_prefix(config.model), labels, "labelled_at", prefix)
    return Window(log=log, labels=labels, keys=keys)


def load_model(uri: str, sha256: str) -> Any:
    """A registered model artifact, checked against its sha256."""
    bucket, key = aws.split_uri(uri)
    return training.loads(aws.get_bytes(bucket, key), expected_sha256=sha256)


def job_files(fitted: fitting.Fitted, **replace: bytes) -> dict[str, bytes]:
    """What a training job writes to its model directory for ``fitted``; ``replace`` swaps or adds files."""
    files = {
        "model.skops": fitted.artifact,
        "model-profile.npz": fitted.profile,
        "training.json": fitting.summary_bytes(fitted),
    }
    return {**files, **replace}


def tarball(files: dict[str, bytes]) -> bytes:
    """``files`` (name -> bytes) as a gzipped tar, the way SageMaker packs a job's ``model.tar.gz``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


@dataclass
class Deployment:
    """A model deployed on a local cloud: its config in the data bucket and (usually) a champion v1."""

    cloud: LocalCloud
    settings: Settings
    config: ModelConfig
    text: str
    champion: Candidate | None = None
    _model: Any = field(default=None, repr=False)

    @property
    def model(self) -> Any:
        """The champion's fitted pipeline (loaded once)."""
        if self._model is None:
            assert self.champion is not None, f"{self.config.model} has no champion"
            self._model = load_model(self.champion.artifact_uri, self.champion.sha256)
        return self._model

    def write_window(
        self, rows: pd.DataFrame, *, end: datetime, prefix: str | None = None, label_fraction: float = 1.0
    ) -> Window:
        """Production's log of ``rows`` scored by the champion, for the window ending at ``end``."""
        return write_production_window(
            self.settings,
            self.config,
            rows,
            self.model,
            end=end,
            prefix=prefix or f"w{end:%Y%m%d%H%M}",
            label_fraction=label_fraction,
        )


def deploy(cloud: LocalCloud, config: ModelConfig, text: str, *, reference: pd.DataFrame | None = None) -> Deployment:
    """Store ``config`` on the cloud; with ``reference``, make v1 its champion as ``retrain bootstrap`` does.

    The bootstrap validates v1 (absolute gates only) and registers the model once v1 is
    promoted (its config, its schedule and its alarms); a v1 that fails a gate raises
    :class:`~retrain.errors.BootstrapRejected`. Without ``reference`` only the config is
    stored: the model has no schedule and no alarm.
    """
    settings = settings_of(cloud)
    champion = None
    if reference is None:
        deploy_config(settings, config, text)
    else:
        champion = bootstrap(settings, config, text, reference, stack=cloud.fleet).candidate
    return Deployment(cloud=cloud, settings=settings, config=config, text=text, champion=champion)


def register_stack(cloud: LocalCloud, name: str | None = None) -> str:
    """Register ``cloud``'s resources as a CloudFormation stack whose outputs are the template's.

    The CLI's ``--stack`` reads bucket and table names from ``describe_stacks``
    outputs only; this gives the in-process local cloud such a stack (moto's
    CloudFormation holds the outputs; the resources themselves stay the cloud's).
    Returns the stack's name (default: the cloud's ``stack_name``).
    """
    import warnings

    name = name or cloud.stack_name
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": str(value)} for key, value in cloud.outputs.items()},
    }
    with warnings.catch_warnings():  # moto creates nothing for the placeholder, and says so
        warnings.simplefilter("ignore", UserWarning)
        cloud.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def generate_houses(n: int, seed: int) -> pd.DataFrame:
    """Rows for infra/configs/house-prices.yaml (a regression model): price from area, rooms, age and district."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 200, n)
    rooms = np.clip(np.round(area / 30 + rng.normal(0, 1, n)), 1, 8)
    age = rng.uniform(0, 80, n)
    district = rng.choice(["north", "centre", "south"], n)
    price = 2.5 * area + 10 * rooms - 0.8 * age + np.where(district == "centre", 80, 0) + rng.normal(0, 20, n)
    return pd.DataFrame({"area_m2": area, "rooms": rooms, "age_years": age, "district": district, "price": price})


#: The stable fields of ``result.json`` (docs/local-run.md): later versions add, never rename.
RESULT_CONTRACT = frozenset(
    {
        "outcome",
        "trigger",
        "execution_arn",
        "triggered",
        "reasons",
        "champion_version",
        "checks",
        "candidate",
        "champion",
        "gates",
        "error",
        "error_type",
    }
)


# ------------------------------------------------------ concurrent delivery
def manual_event(model: str, *, reason: str | None = None, force: bool = False, event_id: str | None = None) -> dict:
    """A ``Retrain Requested`` event as EventBridge delivers it to a rule's target.

    What ``retrain trigger`` puts on the bus (:func:`retrain.triggers.retrain_request`), with the
    envelope EventBridge adds (``id``, ``time``, ...), so :meth:`LocalCloud.deliver` can deliver the
    same event more than once, as EventBridge may.
    """
    from datetime import UTC

    from retrain.local.cloud import ACCOUNT, REGION
    from retrain.triggers import retrain_request

    entry = retrain_request(model, reason=reason, force=force)
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }


def deliver_at_once(cloud: LocalCloud, events: list[dict[str, Any]], *, timeout: float = 300) -> list[list[str]]:
    """Deliver each of ``events`` once, each from its own thread, all released together by a barrier.

    An event listed twice is delivered twice (EventBridge's at-least-once delivery: the same id,
    two executions). Returns, per event in order, the executions its delivery started.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(len(events))

    def deliver(event: dict[str, Any]) -> list[str]:
        start.wait(timeout=timeout)
        return cloud.deliver(event)

    with ThreadPoolExecutor(max_workers=len(events), thread_name_prefix="delivery") as pool:
        futures = [pool.submit(deliver, event) for event in events]
        return [future.result(timeout=timeout) for future in futures]


def lock_item(settings: Settings, model: str) -> dict[str, Any] | None:
    """The model's ``LOCK`` item in the registry table (what AcquireLock puts and ReleaseLock deletes), or None."""
    response = aws.dynamodb().get_item(
        TableName=settings.registry_table,
        Key={"pk": {"S": registry.model_pk(model)}, "sk": {"S": "LOCK"}},
        ConsistentRead=True,
    )
    return response.get("Item")


def state_path(cloud: LocalCloud, execution_arn: str) -> list[tuple[datetime, str]]:
    """The states an execution entered so far, in order: ``(timestamp, state name)``."""
    history = cloud.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [
        (event["timestamp"], event["stateEnteredEventDetails"]["name"])
        for event in history["events"]
        if event["type"].endswith("StateEntered")
    ]
