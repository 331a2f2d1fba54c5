"""The deployed package is whole: every function as ``sam build`` emitted it imports and answers.

Each function runs from ``.aws-sam/build`` in a fresh ``python3.12 -I -S``
process whose ``sys.path`` holds only its code, its layers' ``python/`` folders
and the runtime's boto3 (:mod:`retrain.local.runtime`), with the environment
template.yaml gives it, against a moto server on loopback holding the
template's buckets and table (:mod:`retrain.local.server`). The first champion
comes from ``retrain bootstrap --stack``, as on a real stack; then one run's
steps go in the state machine's order, each step's output feeding the next
(:mod:`retrain.local.built`, which ``benchmarks/cold_start.py`` times too):
Normalize, Reconcile, both checks, the distributed drift check's two calls,
Snapshot, the SageMaker engine's PrepareTrainingJob (for a copy of the model that
chooses it), Train, Validate, Approval, Promote and Report.

Run by ``make test-build`` (after ``make build``), and by CI after ``make test``.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from typing import Any

import pytest

from retrain import aws, registry
from retrain.fitting import LIBRARIES
from retrain.local.built import BuiltStack, run_steps, seed, stack_settings
from retrain.local.runtime import Invocation, pinned
from retrain.local.server import MotoServerStack, pointed_at
from retrain.settings import Settings

pytestmark = pytest.mark.build

SCIENCE = ("numpy", "pandas", "scipy", "sklearn")
#: Functions that must start without the science stack (cold starts count).
LIGHT = ("NormalizeFunction", "ReconcileFunction", "PromoteFunction", "ApprovalFunction", "ReportFunction")


class Built:
    """One run's state and each function's call (the last call of each)."""

    def __init__(self, built: BuiltStack, state: dict[str, Any]) -> None:
        self.state = state
        self.template = built.template
        self.calls: dict[str, Invocation] = {call.function: call.invocation for call in built.calls}
        self.names = built.functions()
        self.layers = built.layers

    def functions(self) -> list[str]:
        return self.names


@pytest.fixture(scope="module")
def stack() -> Any:
    with MotoServerStack() as server:
        yield server


@pytest.fixture(scope="module")
def settings(stack: MotoServerStack) -> Settings:
    return stack_settings(stack)


@pytest.fixture(scope="module")
def run(stack: MotoServerStack, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """v1 from ``retrain bootstrap --stack``, a drifted week in the data bucket, then every step in order."""
    try:
        built = BuiltStack(stack, tmp_path_factory.mktemp("built"))
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (make test-build does)")
    state = run_steps(built, seed(built), execution="built-run")
    return Built(built, state)


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
    metric_check, drift_check = run.state["checks"]
    assert drift_check["fired"]
    assert metric_check["voted"]


def test_the_built_distributed_drift_check_gives_the_single_checks_verdicts(run: Built) -> None:
    _, single = run.state["checks"]
    distributed = run.state["distributed"]
    judged = distributed["judged"]

    assert distributed["profiled"]["rows"] == judged["details"]["n_current"] == single["details"]["n_current"]
    assert judged["details"]["engine"] == "distributed"
    assert {n: f["fired"] for n, f in judged["details"]["features"].items()} == {
        n: f["fired"] for n, f in single["details"]["features"].items()
    }
    assert judged["votes"] == single["votes"]


def test_the_built_steps_promote_a_candidate_trained_on_the_window(run: Built, stack, settings) -> None:
    state = run.state
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
        assert registry.require_champion(settings.registry_table, "churn").version == 2
        parameter = stack.client("ssm").get_parameter(Name="/retrain/champion/churn")["Parameter"]
    assert json.loads(parameter["Value"])["version"] == 2


def test_the_built_report_step_writes_the_runs_report(run: Built, stack, settings) -> None:
    uris = run.state["report"]
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
    recorded = record.libraries
    assert recorded is not None
    assert recorded["python"].startswith("3.12.")
    for library in LIBRARIES:
        assert recorded[library] == pinned(library), library


def test_the_approval_request_keeps_the_task_token(run: Built, stack, settings) -> None:
    with pointed_at(stack):
        approval = registry.get_approval(settings.registry_table, "built-run")
    assert approval is not None
    assert approval.token == "built-run-token"
    assert approval.version == 2


def test_the_built_train_function_prepares_a_training_job_from_its_own_layers(run: Built, stack, settings) -> None:
    # The job's source dir is the Train function's own retrain package, pinned at its layers' versions
    job = run.state["training_job"]
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
