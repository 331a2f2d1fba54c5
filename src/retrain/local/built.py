"""Run one retraining through the functions ``sam build`` emitted, step by step, each in a fresh process.

The functions of ``.aws-sam/build/template.yaml`` run as the python3.12 runtime
runs them (:func:`retrain.local.runtime.invoke_built`: only the function's code,
its layers and the runtime's boto3 on ``sys.path``, the environment the template
gives it) against a moto server holding the template's buckets and table
(:class:`retrain.local.server.MotoServerStack`). :func:`seed` makes the first
champion with ``retrain bootstrap --stack`` and writes a drifted week;
:func:`run_steps` then calls the steps in the state machine's order, each step's
output feeding the next: Normalize, Reconcile, both checks, the distributed drift
check's two calls, Snapshot, the SageMaker engine's PrepareTrainingJob, Train,
Validate, Approval, Promote and Report.

Used by ``make test-build`` (tests/build) and by ``benchmarks/cold_start.py``,
which times each call's import and first invocation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrain import aws, layout
from retrain.clock import utc
from retrain.local.runtime import ROOT, Invocation, invoke_built, lambda_runtime_dir
from retrain.local.server import MotoServerStack, pointed_at
from retrain.local.template import function_properties, load_template
from retrain.settings import Settings

BUILD = ROOT / ".aws-sam" / "build"
#: What makes a config train in a SageMaker job.
JOB_ENGINE = "training:\n  engine: sagemaker\n"
#: X-Ray as the Lambda runtime sets it for a traced invocation; segments go to a UDP port on loopback.
TRACING = {
    "_X_AMZN_TRACE_ID": "Root=1-6746f1c0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}
ACCOUNT_ARN = "arn:aws:states:us-east-1:123456789012:execution:RetrainingStateMachine"


def stack_settings(stack: MotoServerStack) -> Settings:
    """A moto server stack's buckets, table and champion parameter prefix, as its functions see them."""
    outputs = stack.outputs
    return Settings.model_validate(
        {
            "DATA_BUCKET": outputs["DataBucketName"],
            "ARTIFACT_BUCKET": outputs["ArtifactBucketName"],
            "REGISTRY_TABLE": outputs["RegistryTableName"],
            "CHAMPION_PARAMETER_PREFIX": f"/{stack.stack_name}/champion",
        }
    )


class BuiltCallFailed(RuntimeError):
    """A built function answered with an error (or crashed); the message has its error and stderr's tail."""


@dataclass
class Call:
    """One step's call: which function, the label of the call, and how it went."""

    label: str
    function: str
    invocation: Invocation


@dataclass
class BuiltStack:
    """The functions of a built template, runnable against a moto server stack."""

    stack: MotoServerStack
    work: Path
    build: Path = BUILD
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        template_path = self.build / "template.yaml"
        if not template_path.exists():
            raise FileNotFoundError(f"{template_path} does not exist: run `make build`")
        self.template = load_template(template_path)

    @property
    def settings(self) -> Settings:
        """The stack's buckets, table and champion parameter prefix, as the functions see them."""
        return stack_settings(self.stack)

    def functions(self) -> list[str]:
        """Every function's logical id."""
        return [k for k, v in self.template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]

    def layers(self, logical_id: str) -> list[Path]:
        """The built layers' roots of one function, in the template's order."""
        props = function_properties(self.template, logical_id)
        resources = self.template["Resources"]
        return [self.build / resources[layer["Ref"]]["Properties"]["ContentUri"] for layer in props.get("Layers", [])]

    def invoke(self, logical_id: str, event: Any, *, label: str | None = None) -> Any:
        """Call the function in a fresh process; its result, or :class:`BuiltCallFailed`."""
        props = function_properties(self.template, logical_id)
        memory = int(props.get("MemorySize", 128))
        environment = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "OMP_NUM_THREADS": "1",
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(self.build / props["CodeUri"]),
            **TRACING,
            **self.stack.client_environment(),
            **self.stack.function_environment(logical_id),
        }
        call = invoke_built(
            self.build / props["CodeUri"],
            self.layers(logical_id),
            props["Handler"],
            event,
            environment=environment,
            name=logical_id,
            memory=memory,
            timeout=float(props.get("Timeout", 3)) + 60,  # a busy 2-core machine is slower than Lambda
            work_dir=self.work,
        )
        self.calls.append(Call(label or logical_id, logical_id, call))
        if not call.ok:
            raise BuiltCallFailed(
                f"{logical_id} failed: {call.error_type}: {call.error_message}\n"
                f"{''.join(call.stack_trace)}\nstderr:\n{call.stderr[-3000:]}"
            )
        return call.result

    @contextmanager
    def pointed(self) -> Iterator[None]:
        """This process's boto3 pointed at the stack's server for the duration."""
        with pointed_at(self.stack):
            yield


def seed(built: BuiltStack, *, rows: int = 3000, drifted_rows: int = 1500) -> datetime:
    """v1 of the example model from ``retrain bootstrap --stack``, and a drifted week ending now in the data bucket."""
    from retrain import registry, training
    from retrain.cli import main
    from retrain.config import load_config
    from retrain.demo import CONFIG, generate_churn
    from retrain.local.run import production_log, write_partitioned

    lambda_runtime_dir()  # installed once, before any timing
    settings = built.settings
    reference = built.work / "reference.parquet"
    generate_churn(rows, seed=31).to_parquet(reference, index=False)
    config = load_config(CONFIG)
    with built.pointed():
        code = main(["bootstrap", "--config", str(CONFIG), "--reference", str(reference), "--stack", "retrain"])
        if code != 0:
            raise RuntimeError(f"retrain bootstrap --stack exited {code}")
        champion = registry.require_champion(settings.registry_table, config.model)
        model = training.loads(aws.get_bytes(*aws.split_uri(champion.artifact_uri)), expected_sha256=champion.sha256)
        end = datetime.now(UTC)
        current = generate_churn(drifted_rows, seed=32, drift=True)
        log, labels = production_log(config, current, model, end=end, prefix="b")
        write_partitioned(settings.data_bucket, layout.inference_prefix(config.model), log, "timestamp", "predictions")
        if labels is None:
            raise RuntimeError("the example's production log has no labels")
        write_partitioned(settings.data_bucket, layout.labels_prefix(config.model), labels, "labelled_at", "labels")
    return end


def _distributed_drift(built: BuiltStack, run: dict[str, Any]) -> dict[str, Any]:
    """The window as one batch of the distributed drift check: DriftProfile profiles it, DriftCheck judges it."""
    from retrain.data import table_objects

    settings = built.settings
    with built.pointed():
        start, end = utc(run["window_start"]), utc(run["window_end"])
        objects = table_objects(settings.data_bucket, layout.inference_prefix(run["model"]), start, end)
        batch = {"index": 0, "objects": objects}
        manifest = layout.drift_batches_key(run["model"], run["execution"])
        aws.put_bytes(settings.artifact_bucket, manifest, json.dumps([batch]).encode())
    profiled = built.invoke("DriftProfileFunction", {"run": run, "batch": batch})
    plan = {
        "bucket": settings.artifact_bucket,
        "manifest_key": manifest,
        "partials_prefix": layout.drift_partials_prefix(run["model"], run["execution"]),
        "failures_prefix": layout.drift_failures_prefix(run["model"], run["execution"]),
        "result_prefix": layout.drift_map_prefix(run["model"], run["execution"]),
        "objects": len(objects),
        "batches": 1,
        "bytes": sum(o["size"] for o in objects),
        "max_concurrency": 1,
    }
    judged = built.invoke("DriftCheckFunction", {"run": run, "plan": plan, "map": {}}, label="DriftCheck (judge)")
    return {"profiled": profiled, "judged": judged}


def run_steps(built: BuiltStack, end: datetime, *, execution: str = "built-run") -> dict[str, Any]:
    """One forced run of the example model through every built function, in the state machine's order.

    Returns the state: each step's output under the name the state machine gives it.
    """
    settings = built.settings
    event = json.loads((ROOT / "tests" / "events" / "retrain_requested.json").read_text())
    event["time"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"] |= {"model": "churn", "force": True}
    normalized = built.invoke(
        "NormalizeFunction", {"event": event, "execution": execution, "started_at": end.isoformat()}
    )
    state: dict[str, Any] = {"run": normalized.get("run", normalized)}
    state["reconcile"] = built.invoke("ReconcileFunction", {"action": "start", "run": state["run"]})
    state["checks"] = [
        built.invoke("MetricCheckFunction", {"run": state["run"]}),
        built.invoke("DriftCheckFunction", {"run": state["run"]}, label="DriftCheck (single)"),
    ]
    state["distributed"] = _distributed_drift(built, state["run"])
    state["snapshot"] = built.invoke("SnapshotFunction", {"run": state["run"]})
    # The SageMaker engine's first step, for a copy of the model whose config chooses it (it only reads the config)
    from retrain.demo import CONFIG

    with built.pointed():
        job_text = CONFIG.read_text().replace("model: churn", "model: churn-job").replace("training:\n", JOB_ENGINE)
        aws.put_bytes(settings.data_bucket, layout.config_key("churn-job"), job_text.encode())
    execution_arn = f"{ACCOUNT_ARN}:{execution}"
    state["training_job"] = built.invoke(
        "TrainFunction",
        {
            "action": "prepare-training-job",
            "run": {**state["run"], "model": "churn-job"},
            "snapshot": state["snapshot"],
            "execution_arn": execution_arn,
            "started_at": end.isoformat(),
        },
        label="Train (prepare job)",
    )
    state["candidate"] = built.invoke(
        "TrainFunction", {"run": state["run"], "snapshot": state["snapshot"]}, label="Train (fit)"
    )
    state["validation"] = built.invoke(
        "ValidateFunction", {"run": state["run"], "snapshot": state["snapshot"], "candidate": state["candidate"]}
    )
    promote_input = {"run": state["run"], "candidate": state["candidate"], "validation": state["validation"]}
    built.invoke("ApprovalFunction", {**promote_input, "task_token": f"{execution}-token"})
    state["promotion"] = built.invoke("PromoteFunction", promote_input)
    report_state = {**state, "checks": dict(zip(("metrics", "drift"), state["checks"], strict=True))}
    state["report"] = built.invoke(
        "ReportFunction",
        {
            "state": {**report_state, "retrain": True, "outcome": "promoted"},
            "status": "SUCCEEDED",
            "execution": execution,
            "execution_arn": execution_arn,
            "started_at": end.isoformat(),
        },
    )
    return state
