"""The deployed package is whole: every function as ``sam build`` emitted it imports and answers.

Each function runs from ``.aws-sam/build`` in a fresh ``python3.12 -I -S``
process whose ``sys.path`` holds only its code, its layers' ``python/`` folders
and the runtime's boto3 (:mod:`retrain.local.runtime`), with the environment
template.yaml gives it, against a moto server on loopback holding the
template's buckets and table (:mod:`retrain.local.server`). The first champion
comes from ``retrain bootstrap --stack``, as on a real stack; then one run's
steps go in the state machine's order, each step's output feeding the next:
Normalize, Reconcile, both checks, Snapshot, Train, Validate, Approval and Promote (and the SageMaker
engine's PrepareTrainingJob on the Train function, for a copy of the model that chooses it).

Run by ``make test-build`` (after ``make build``), and by CI after ``make test``.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import load_event, normalize_input
from retrain import aws, layout, registry
from retrain.cli import main
from retrain.clock import utc
from retrain.config import load_config
from retrain.data import table_objects
from retrain.demo import CONFIG, generate_churn
from retrain.local.cloud import ROOT
from retrain.local.run import production_log, write_partitioned
from retrain.local.runtime import Invocation, invoke_built, lambda_runtime_dir, pinned
from retrain.local.server import MotoServerStack, pointed_at
from retrain.local.template import function_properties, load_template
from retrain.settings import Settings
from retrain.steps.train import LIBRARIES

pytestmark = pytest.mark.build

BUILD = ROOT / ".aws-sam" / "build"
SCIENCE = ("numpy", "pandas", "scipy", "sklearn")
#: Functions that must start without the science stack (cold starts count).
LIGHT = ("NormalizeFunction", "ReconcileFunction", "PromoteFunction", "ApprovalFunction", "ReportFunction")
#: What makes a config train in a SageMaker job.
JOB_ENGINE = "training:\n  engine: sagemaker\n"
#: X-Ray as the Lambda runtime sets it for a traced invocation; segments go to a UDP port on loopback.
TRACING = {
    "_X_AMZN_TRACE_ID": "Root=1-6746f1c0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}


class Built:
    """The functions of ``.aws-sam/build/template.yaml``, runnable as the runtime would run them."""

    def __init__(self, stack: MotoServerStack, work: Path) -> None:
        template_path = BUILD / "template.yaml"
        if not template_path.exists():
            pytest.fail(f"{template_path} does not exist: run `make build` (make test-build does)")
        self.template = load_template(template_path)
        self.stack = stack
        self.work = work
        self.calls: dict[str, Invocation] = {}

    def functions(self) -> list[str]:
        return [k for k, v in self.template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]

    def layers(self, logical_id: str) -> list[Path]:
        props = function_properties(self.template, logical_id)
        resources = self.template["Resources"]
        return [BUILD / resources[layer["Ref"]]["Properties"]["ContentUri"] for layer in props.get("Layers", [])]

    def invoke(self, logical_id: str, event: Any) -> Any:
        props = function_properties(self.template, logical_id)
        environment = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "OMP_NUM_THREADS": "1",
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(BUILD / props["CodeUri"]),
            **TRACING,
            **self.stack.client_environment(),
            **self.stack.function_environment(logical_id),
        }
        call = invoke_built(
            BUILD / props["CodeUri"],
            self.layers(logical_id),
            props["Handler"],
            event,
            environment=environment,
            name=logical_id,
            memory=int(props.get("MemorySize", 128)),
            timeout=float(props.get("Timeout", 3)) + 60,  # a busy 2-core machine is slower than Lambda
            work_dir=self.work,
        )
        self.calls[logical_id] = call
        assert call.ok, (
            f"{logical_id} failed: {call.error_type}: {call.error_message}\n"
            f"{''.join(call.stack_trace)}\nstderr:\n{call.stderr[-3000:]}"
        )
        return call.result


@pytest.fixture(scope="module")
def stack() -> Any:
    with MotoServerStack() as server:
        yield server


@pytest.fixture(scope="module")
def settings(stack: MotoServerStack) -> Settings:
    outputs = stack.outputs
    return Settings.model_validate(
        {
            "DATA_BUCKET": outputs["DataBucketName"],
            "ARTIFACT_BUCKET": outputs["ArtifactBucketName"],
            "REGISTRY_TABLE": outputs["RegistryTableName"],
            "CHAMPION_PARAMETER_PREFIX": f"/{stack.stack_name}/champion",
        }
    )


def _distributed_drift(built: Built, stack: MotoServerStack, settings: Settings, run: dict[str, Any]) -> dict:
    """The window as one batch of the distributed drift check: DriftProfile profiles it, DriftCheck judges it."""
    with pointed_at(stack):
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
    return {"profiled": profiled, "judged": built.invoke("DriftCheckFunction", {"run": run, "plan": plan, "map": {}})}


@pytest.fixture(scope="module")
def run(stack: MotoServerStack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """v1 from ``retrain bootstrap --stack``, a drifted week in the data bucket, then every step in order."""
    work = tmp_path_factory.mktemp("built")
    lambda_runtime_dir()  # installed once, before any timing
    reference = work / "reference.parquet"
    generate_churn(3000, seed=31).to_parquet(reference, index=False)
    config = load_config(CONFIG)
    with pointed_at(stack):
        assert main(["bootstrap", "--config", str(CONFIG), "--reference", str(reference), "--stack", "retrain"]) == 0
        champion = registry.require_champion(settings.registry_table, config.model)
        from helpers import load_model

        model = load_model(champion["artifact_uri"], champion["sha256"])
        end = datetime.now(UTC)
        log, labels = production_log(config, generate_churn(1500, seed=32, drift=True), model, end=end, prefix="b")
        write_partitioned(settings.data_bucket, f"inference/{config.model}/", log, "timestamp", "predictions")
        assert labels is not None
        write_partitioned(settings.data_bucket, f"labels/{config.model}/", labels, "labelled_at", "labels")

    built = Built(stack, work)
    event = load_event("retrain_requested")
    event["time"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"] |= {"model": config.model, "force": True}
    normalized = built.invoke(
        "NormalizeFunction", normalize_input(event, started_at=end.isoformat(), execution="built-run")
    )
    state: dict[str, Any] = {"run": normalized.get("run", normalized)}
    state["reconcile"] = built.invoke("ReconcileFunction", {"action": "start", "run": state["run"]})
    state["checks"] = [
        built.invoke("MetricCheckFunction", {"run": state["run"]}),
        built.invoke("DriftCheckFunction", {"run": state["run"]}),
    ]
    state["distributed"] = _distributed_drift(built, stack, settings, state["run"])
    state["snapshot"] = built.invoke("SnapshotFunction", {"run": state["run"]})
    # The SageMaker engine's first step, for a copy of the model whose config chooses it (it only reads the config)
    job_text = CONFIG.read_text().replace("model: churn", "model: churn-job")
    with pointed_at(stack):
        aws.put_bytes(
            settings.data_bucket, "configs/churn-job.yaml", job_text.replace("training:\n", JOB_ENGINE).encode()
        )
    state["training_job"] = built.invoke(
        "TrainFunction",
        {
            "action": "prepare-training-job",
            "run": {**state["run"], "model": "churn-job"},
            "snapshot": state["snapshot"],
            "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:RetrainingStateMachine:built-run",
            "started_at": end.isoformat(),
        },
    )
    state["candidate"] = built.invoke("TrainFunction", {"run": state["run"], "snapshot": state["snapshot"]})
    state["validation"] = built.invoke(
        "ValidateFunction", {"run": state["run"], "snapshot": state["snapshot"], "candidate": state["candidate"]}
    )
    promote_input = {"run": state["run"], "candidate": state["candidate"], "validation": state["validation"]}
    built.invoke("ApprovalFunction", {**promote_input, "task_token": "built-run-token"})
    state["promotion"] = built.invoke("PromoteFunction", promote_input)
    report_state = {**state, "checks": dict(zip(("metrics", "drift"), state["checks"], strict=True))}
    state["report"] = built.invoke(
        "ReportFunction",
        {
            "state": {**report_state, "retrain": True, "outcome": "promoted"},
            "status": "SUCCEEDED",
            "execution": "built-run",
            "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:RetrainingStateMachine:built-run",
            "started_at": end.isoformat(),
        },
    )
    built.state = state  # type: ignore[attr-defined]
    return built


def test_every_function_of_the_build_imports_and_answers(run: Built) -> None:
    assert sorted(run.calls) == sorted(run.functions())
    for name, call in run.calls.items():
        assert call.ok, f"{name}: {call.error_type}: {call.error_message}"
        print(f"{name:<22} import {call.import_seconds:5.2f} s, whole call {call.seconds:5.2f} s")


def test_libraries_come_from_the_built_layers_alone(run: Built) -> None:
    # The runtime's SDK aside, nothing outside .aws-sam/build can have been imported: no venv on sys.path.
    for name, call in run.calls.items():
        assert "retrain" in call.modules, name
        assert "_pytest" not in call.modules, name
        assert "moto" not in call.modules, name


def test_light_functions_start_without_the_science_stack(run: Built) -> None:
    for name in LIGHT:
        heavy = set(SCIENCE) & set(run.calls[name].modules)
        assert not heavy, f"{name} imported {sorted(heavy)}"


def test_the_checks_fire_on_the_drifted_week(run: Built) -> None:
    metric_check, drift_check = run.state["checks"]  # type: ignore[attr-defined]
    assert drift_check["triggered"]
    assert drift_check["fired"]
    assert metric_check["voted"]


def test_the_built_distributed_drift_check_gives_the_single_checks_verdicts(run: Built) -> None:
    _, single = run.state["checks"]  # type: ignore[attr-defined]
    distributed = run.state["distributed"]  # type: ignore[attr-defined]
    judged = distributed["judged"]

    assert distributed["profiled"]["rows"] == judged["details"]["n_current"] == single["details"]["n_current"]
    assert judged["details"]["engine"] == "distributed"
    assert {n: f["drifted"] for n, f in judged["details"]["features"].items()} == {
        n: f["drifted"] for n, f in single["details"]["features"].items()
    }
    assert judged["votes"] == single["votes"]


def test_the_built_steps_promote_a_candidate_trained_on_the_window(run: Built, stack, settings) -> None:
    state = run.state  # type: ignore[attr-defined]
    assert state["snapshot"]["rows"] > 0
    assert state["candidate"]["version"] == 2
    assert state["validation"]["passed"], state["validation"]["reasons"]
    assert state["promotion"]["champion_version"] == 2
    assert state["reconcile"] == {
        "model": "churn",
        "champion_version": 1,
        "parameter": "in-sync",
        "failed_versions": [],
        "expired_artifacts": [],
        "promoted": False,
        "promotion": None,
    }
    with pointed_at(stack):
        assert registry.require_champion(settings.registry_table, "churn")["version"] == 2
        parameter = stack.client("ssm").get_parameter(Name="/retrain/champion/churn")["Parameter"]
    assert json.loads(parameter["Value"])["version"] == 2


def test_the_built_report_step_writes_the_runs_report(run: Built, stack, settings) -> None:
    uris = run.state["report"]  # type: ignore[attr-defined]
    with pointed_at(stack):
        report = aws.get_json(*aws.split_uri(uris["json_uri"]))
        page = aws.get_bytes(*aws.split_uri(uris["html_uri"])).decode()
    assert report["outcome"] == "promoted"
    assert report["champion_version"] == 2
    assert report["lineage"]["version"] == 2
    assert set(report["distributions"]) == set(report["checks"]["drift"]["features"])
    assert len(re.findall(r'class="drift-mark[ "]', page)) == len(report["checks"]["drift"]["features"])


def test_lineage_records_exactly_the_pinned_libraries(run: Built, stack, settings) -> None:
    with pointed_at(stack):
        record = registry.get_version(settings.registry_table, "churn", 2)
    assert record is not None
    recorded = record["libraries"]
    assert recorded["python"].startswith("3.12.")
    for library in LIBRARIES:
        assert recorded[library] == pinned(library), library


def test_the_approval_request_keeps_the_task_token(run: Built, stack, settings) -> None:
    with pointed_at(stack):
        approval = registry.get_approval(settings.registry_table, "built-run")
    assert approval is not None
    assert approval["token"] == "built-run-token"
    assert approval["version"] == 2


def test_the_built_train_function_prepares_a_training_job_from_its_own_layers(run: Built, stack, settings) -> None:
    # The job's source dir is the Train function's own retrain package, pinned at its layers' versions
    job = run.state["training_job"]  # type: ignore[attr-defined]
    request = job["request"]
    assert request["TrainingJobName"].startswith(f"{stack.stack_name}-churn-job-")
    assert request["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-scikit-learn:1.9-0-cpu-py3")
    assert request["RoleArn"].endswith("SageMakerTrainingRole")
    with pointed_at(stack):
        blob = aws.get_bytes(*aws.split_uri(json.loads(request["HyperParameters"]["sagemaker_submit_directory"])))
        config = aws.get_bytes(*aws.split_uri(job["config_uri"])).decode()
    assert "engine: sagemaker" in config
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]
    pins = dict(line.split("==") for line in members["requirements.txt"].decode().split())
    for library in (*LIBRARIES, "fastparquet"):
        assert pins[library] == pinned(library), library
    (package,) = [
        layer / "python" / "retrain" for layer in run.layers("TrainFunction") if (layer / "python" / "retrain").is_dir()
    ]
    for path in package.rglob("*.py"):
        assert members[f"retrain/{path.relative_to(package).as_posix()}"] == path.read_bytes(), path
