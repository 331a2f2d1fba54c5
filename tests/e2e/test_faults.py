"""Faults, one at a time, on a run that would promote: the champion is never split or changed by a failure.

Every case starts from v1 as champion (registry and SSM agree) and a drifted
window whose run promotes v2 when nothing goes wrong. One fault is injected
(a step raising; S3, DynamoDB or SSM refusing or throttling in moto's backend; a
Lambda timeout in the local cloud, which enforces the template's ``Timeout``),
and each case asserts what a user relies on afterwards: the champion in the
registry and in its SSM parameter, the model's lock, the snapshot and version
records, and the error text. Faults covered elsewhere: a lock release that fails
(tests/e2e/test_failures.py), concurrent runs and duplicate deliveries
(tests/e2e/test_load.py, tests/e2e/test_delivery.py, tests/e2e/test_lifecycle.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from helpers import Deployment
from retrain import aws, registry, snapshot
from retrain.champion import champion_parameter
from retrain.demo import generate_churn
from retrain.errors import DataNotFound
from retrain.steps import drift_check, metric_check, promote, train, validate
from retrain.steps import snapshot as snapshot_step

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def drifted():
    """A window on which retraining promotes a new champion."""
    return generate_churn(1500, seed=42, drift=True)


@dataclass
class State:
    """What a user relies on after a run."""

    champion: int | None
    parameter: int | None
    lock: bool
    versions: dict[int, str]
    records: dict[int, registry.ModelVersion]


def state(deployment: Deployment) -> State:
    table = deployment.settings.registry_table
    champion = registry.get_champion(table, "churn")
    name = champion_parameter(deployment.settings, "churn")
    parameter = json.loads(deployment.cloud.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
    lock = deployment.cloud.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": registry.model_pk("churn")}, "sk": {"S": "LOCK"}}
    )
    records = {v.version: v for v in registry.list_versions(table, "churn")}
    return State(
        champion=champion.version if champion else None,
        parameter=int(parameter["version"]),
        lock="Item" in lock,
        versions={v: r.status for v, r in records.items()},
        records=records,
    )


def run(deployment: Deployment, name: str) -> dict[str, Any]:
    """A manual retraining run named ``name``; its described execution (output parsed into ``state``)."""
    arn = deployment.cloud.start_execution({"trigger": "manual", "model": "churn"}, name=name)
    described = deployment.cloud.wait(arn, timeout=300)
    described["state"] = json.loads(described.get("output") or "{}")
    return described


def retried(deployment: Deployment, described: dict[str, Any], name: str) -> list[str | None]:
    """The errors of every failed attempt of state ``name``, in order, from the execution history.

    An attempt whose failure event names no error counts as ``None``.
    """
    events = deployment.cloud.client("stepfunctions").get_execution_history(
        executionArn=described["executionArn"], maxResults=1000
    )["events"]
    errors, current = [], None
    for event in events:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif current == name and event["type"] in {"LambdaFunctionFailed", "TaskFailed"}:
            details = event.get("lambdaFunctionFailedEventDetails") or event.get("taskFailedEventDetails") or {}
            errors.append(details.get("error"))
    return errors


@pytest.fixture
def churn(deployed_churn: Deployment, drifted) -> Deployment:
    deployed_churn.write_window(drifted, end=datetime.now(UTC))
    before = state(deployed_churn)
    assert (before.champion, before.parameter, before.lock, before.versions) == (1, 1, False, {1: "champion"})
    return deployed_churn


def expired(deployment: Deployment, version: int) -> list[str]:
    """The files of ``version`` tagged for the artifact bucket's expiry rule."""
    bucket = deployment.settings.artifact_bucket
    tagged = []
    for name in ("model.skops", "model-profile.npz"):
        key = f"models/churn/v{version}/{name}"
        try:
            if aws.object_tags(bucket, key).get("retrain-status") == "failed":
                tagged.append(name)
        except DataNotFound:
            continue
    return tagged


# ----------------------------------------------------------------- moto faults
class Faults:
    """Errors raised inside moto's backends (what AWS would answer), matched by a predicate, ``times`` times."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.hits: dict[str, int] = {}

    def inject(
        self, owner: Any, method: str, error: Callable[[], Exception], *, when: Callable[..., bool], times: int = 10**6
    ) -> None:
        original = getattr(owner, method)
        label = f"{owner.__name__}.{method}"
        self.hits[label] = 0

        def failing(backend: Any, *args: Any, **kwargs: Any) -> Any:
            if self.hits[label] < times and when(*args, **kwargs):
                self.hits[label] += 1
                raise error()
            return original(backend, *args, **kwargs)

        self.monkeypatch.setattr(owner, method, failing)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    return Faults(monkeypatch)


def s3_put(key_part: str) -> Callable[..., bool]:
    def when(bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> bool:
        return key_part in key_name

    return when


def s3_error(code: str) -> Callable[[], Exception]:
    from moto.s3.exceptions import S3ClientError

    return lambda: S3ClientError(code, f"{code} (injected)")


def dynamodb_error(code: str) -> Callable[[], Exception]:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    return lambda: DynamodbException(ERROR_TYPE_PREFIX + code, message=f"{code} (injected)")


def ssm_error(code: str) -> Callable[[], Exception]:
    from moto.core.exceptions import JsonRESTError

    return lambda: JsonRESTError(code, f"{code} (injected)")


def always(*args: Any, **kwargs: Any) -> bool:
    return True


@pytest.fixture
def two_sdk_attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions' clients make two attempts a call instead of six, so a test exhausts them quickly.

    What the state machine sees is the same: after the SDK's last attempt the step raises TransientError.
    """
    monkeypatch.setattr(aws, "RETRIES", {"total_max_attempts": 2, "mode": "standard"})
    aws.reset_clients()
    yield
    monkeypatch.undo()
    aws.reset_clients()


# ----------------------------------------------------------------- baseline
def test_without_a_fault_the_run_promotes_v2_in_the_registry_and_in_ssm(churn: Deployment) -> None:
    described = run(churn, "no-fault")

    after = state(churn)
    assert described["status"] == "SUCCEEDED"
    assert described["state"]["outcome"] == "promoted"
    assert (after.champion, after.parameter, after.lock) == (2, 2, False)
    assert after.versions == {1: "archived", 2: "champion"}
    assert described["state"]["reconcile"]["parameter"] == "in-sync"


# ----------------------------------------------------------------- a step raising
STEPS: dict[str, tuple[Any, str, str]] = {
    "MetricCheck": (metric_check, "run", "Checks"),
    "DriftCheck": (drift_check, "run", "Checks"),
    "Snapshot": (snapshot_step, "run", "Snapshot"),
    "Train": (train, "fit_and_register", "Train"),
    "Validate": (validate, "evaluate", "Validate"),
    "Promote": (promote, "run", "Promote"),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_step_that_raises_changes_no_champion_and_leaves_nothing_undecided(
    churn: Deployment, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one step raises an error nobody retries
    module, function, _failed_state = STEPS[step]

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{step} broke (injected)")

    monkeypatch.setattr(module, function, boom)

    # When a run that would promote reaches it
    described = run(churn, f"{step.lower()}-raises")

    # Then the run fails with the step's error; champion, parameter and lock are as before
    assert (described["status"], described["error"]) == ("FAILED", "RuntimeError")
    assert f"{step} broke (injected)" in described["cause"]
    after = state(churn)
    assert (after.champion, after.parameter, after.lock) == (1, 1, False)
    # And no version is left undecided
    assert not [v for v, status in after.versions.items() if status in registry.UNDECIDED]


def test_a_validate_failure_marks_the_candidate_failed_with_the_reason_and_expires_its_files(
    churn: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the holdout could not be scored (injected)")

    monkeypatch.setattr(validate, "evaluate", boom)

    described = run(churn, "validate-raises")

    after = state(churn)
    assert described["status"] == "FAILED"
    assert after.versions == {1: "champion", 2: "failed"}
    failure = after.records[2].failure
    assert failure is not None
    assert "Validate failed: RuntimeError" in failure
    assert "the holdout could not be scored" in failure
    assert expired(churn, 2) == ["model.skops", "model-profile.npz"]
    assert expired(churn, 1) == []


# ----------------------------------------------------------------- S3
def test_a_snapshot_whose_manifest_cannot_be_written_is_not_visible_and_the_next_run_completes_it(
    churn: Deployment, faults: Faults
) -> None:
    # Given S3 refuses the manifest (the data file is written first)
    from moto.s3.models import S3Backend

    faults.inject(S3Backend, "put_object", s3_error("AccessDenied"), when=s3_put("/manifest.json"))

    # When a run snapshots
    described = run(churn, "manifest-refused")

    # Then it fails at Snapshot, and the data without its manifest is no snapshot
    assert (described["status"], described["error"]) == ("FAILED", "AccessDenied")
    assert "/manifest.json: AccessDenied" in described["cause"]
    bucket = churn.settings.artifact_bucket
    keys = [o["key"] for o in aws.list_objects(bucket, "snapshots/churn/")]
    half = [
        k.split("/")[2]
        for k in keys
        if k.endswith("/data.parquet") and k.replace("data.parquet", "manifest.json") not in keys
    ]
    assert len(half) == 1
    with pytest.raises(DataNotFound):
        snapshot.load(bucket, "churn", half[0])
    assert (state(churn).champion, state(churn).parameter, state(churn).lock) == (1, 1, False)

    # When the fault is gone, the next run completes the same snapshot and promotes
    faults.monkeypatch.undo()
    retried = run(churn, "manifest-written")
    assert retried["state"]["outcome"] == "promoted"
    assert retried["state"]["snapshot"]["id"] == half[0]
    frame, manifest = snapshot.load(bucket, "churn", half[0])
    assert manifest["files"]["data.parquet"]["bytes"] > 0
    assert len(frame) == manifest["rows"]


def test_a_model_profile_that_cannot_be_written_leaves_a_failed_version_whose_artifact_expires(
    churn: Deployment, faults: Faults
) -> None:
    from moto.s3.models import S3Backend

    faults.inject(S3Backend, "put_object", s3_error("AccessDenied"), when=s3_put("/model-profile.npz"))

    described = run(churn, "model-profile-refused")

    after = state(churn)
    assert (described["status"], described["error"]) == ("FAILED", "AccessDenied")
    assert "model-profile.npz: AccessDenied" in described["cause"]
    assert (after.champion, after.parameter, after.lock) == (1, 1, False)
    assert after.versions == {1: "champion", 2: "failed"}
    failure = after.records[2].failure
    assert failure is not None
    assert "Train failed" in failure
    assert expired(churn, 2) == ["model.skops"]  # the only file it wrote


def test_a_throttled_artifact_write_is_retried_and_the_run_promotes(
    churn: Deployment, faults: Faults, two_sdk_attempts: None
) -> None:
    from moto.s3.models import S3Backend

    # SlowDown past the SDK's own attempts: Train raises TransientError once, the state machine retries it
    faults.inject(S3Backend, "put_object", s3_error("SlowDown"), when=s3_put("/model.skops"), times=2)

    described = run(churn, "artifact-throttled")

    after = state(churn)
    assert described["state"]["outcome"] == "promoted"
    assert faults.hits["S3Backend.put_object"] == 2
    assert retried(churn, described, "Train") == ["TransientError"]
    assert (after.champion, after.parameter, after.lock) == (2, 2, False)
    assert after.versions == {1: "archived", 2: "champion"}  # the retry reused v2


# ----------------------------------------------------------------- DynamoDB
def _version_writes(table_name: str, key: dict, *args: Any, **kwargs: Any) -> bool:
    return str((key or {}).get("sk", {}).get("S", "")).startswith("VERSION#")


def test_dynamodb_throttling_once_costs_nothing(churn: Deployment, faults: Faults) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    faults.inject(
        DynamoDBBackend,
        "update_item",
        dynamodb_error("ProvisionedThroughputExceededException"),
        when=_version_writes,
        times=1,
    )

    described = run(churn, "dynamodb-throttled-once")

    assert described["state"]["outcome"] == "promoted"
    assert faults.hits["DynamoDBBackend.update_item"] == 1
    after = state(churn)
    assert (after.champion, after.parameter, after.lock) == (2, 2, False)


def _completing_a_version(
    table_name: str,
    key: dict,
    update_expression: str = "",
    expression_attribute_names: Any = None,
    expression_attribute_values: Any = None,
    *args: Any,
    **kwargs: Any,
) -> bool:
    """The update that makes a version a ``candidate`` (it sets ``status`` to ``candidate``)."""
    return _version_writes(table_name, key) and (expression_attribute_values or {}).get(":to") == {"S": "candidate"}


def test_persistent_dynamodb_throttling_fails_the_run_as_transient_and_changes_nothing(
    churn: Deployment, faults: Faults, two_sdk_attempts: None
) -> None:
    # Given DynamoDB throttles every attempt to make the trained version a candidate
    from moto.dynamodb.models import DynamoDBBackend

    faults.inject(DynamoDBBackend, "update_item", dynamodb_error("ThrottlingException"), when=_completing_a_version)

    described = run(churn, "dynamodb-throttled")

    # Then Train is retried, then the run fails as transient; nothing changed, and the version is failed
    assert (described["status"], described["error"]) == ("FAILED", "TransientError")
    assert "ThrottlingException" in described["cause"]
    assert "complete churn v2" in described["cause"]
    assert faults.hits["DynamoDBBackend.update_item"] == 4 * 2  # 4 Train attempts x 2 SDK attempts
    assert retried(churn, described, "Train") == ["TransientError"] * 4
    after = state(churn)
    assert (after.champion, after.parameter, after.lock) == (1, 1, False)
    assert after.versions == {1: "champion", 2: "failed"}  # one version however many attempts


def test_a_transaction_conflict_is_retried_not_reported_as_a_promotion_conflict(
    churn: Deployment, faults: Faults
) -> None:
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    def conflict() -> Exception:
        return TransactionCanceledException(
            [("TransactionConflict", "another transaction (injected)", None), (None, None, None)]
        )

    faults.inject(DynamoDBBackend, "transact_write_items", conflict, when=always, times=1)

    described = run(churn, "transaction-conflict")

    assert described["state"]["outcome"] == "promoted"
    assert faults.hits["DynamoDBBackend.transact_write_items"] == 1
    assert retried(churn, described, "Promote") == ["TransientError"]
    after = state(churn)
    assert (after.champion, after.parameter) == (2, 2)
    assert after.versions == {1: "archived", 2: "champion"}


# ----------------------------------------------------------------- SSM
def test_a_throttled_ssm_write_is_retried_and_both_say_v2(
    churn: Deployment, faults: Faults, two_sdk_attempts: None
) -> None:
    from moto.ssm.models import SimpleSystemManagerBackend

    # Past the SDK's own attempts once: Promote raises TransientError, its retry only finishes the SSM write
    faults.inject(SimpleSystemManagerBackend, "put_parameter", ssm_error("ThrottlingException"), when=always, times=2)

    described = run(churn, "ssm-throttled")

    assert described["state"]["outcome"] == "promoted"
    assert retried(churn, described, "Promote") == ["TransientError"]
    after = state(churn)
    assert (after.champion, after.parameter, after.lock) == (2, 2, False)
    assert after.versions == {1: "archived", 2: "champion"}


def test_a_refused_ssm_write_keeps_the_committed_promotion_and_the_next_run_repairs_the_parameter(
    churn: Deployment, faults: Faults
) -> None:
    from moto.ssm.models import SimpleSystemManagerBackend

    # Given SSM refuses every write (a permission removed)
    faults.inject(SimpleSystemManagerBackend, "put_parameter", ssm_error("AccessDeniedException"), when=always)

    # When a run promotes
    described = run(churn, "ssm-refused")

    # Then the registry's transaction is the commit point: the run is promoted, and says the parameter is stale
    assert described["status"] == "SUCCEEDED"
    assert described["state"]["outcome"] == "promoted"
    assert described["state"]["failure"]["error"] == "ChampionNotPublished"
    assert described["state"]["recovery"]["parameter"].startswith("stale: ")
    after = state(churn)
    assert (after.champion, after.parameter, after.lock) == (2, 1, False)

    # And while SSM still refuses, the next run fails loudly at its first step instead of training
    blocked = run(churn, "ssm-still-refused")
    assert (blocked["status"], blocked["error"]) == ("FAILED", "ChampionNotPublished")
    assert "could not write the champion v2 to SSM parameter" in blocked["cause"]
    assert state(churn).lock is False

    # When SSM accepts writes again, the next run's first step repairs the parameter and says so
    faults.monkeypatch.undo()
    repaired = run(churn, "ssm-repaired")
    assert repaired["status"] == "SUCCEEDED"
    assert repaired["state"]["reconcile"]["parameter"] == "repaired"
    assert state(churn).parameter == state(churn).champion


# ----------------------------------------------------------------- timeouts
def _slow_publish(monkeypatch: pytest.MonkeyPatch, *, times: int) -> list[float]:
    """Promote's SSM write sleeps past the function's timeout ``times`` times (after the registry committed)."""
    calls: list[float] = []
    original = promote.publish_champion

    def slow(*args: Any, **kwargs: Any) -> Any:
        calls.append(time.monotonic())
        if len(calls) <= times:
            time.sleep(5)
        return original(*args, **kwargs)

    monkeypatch.setattr(promote, "publish_champion", slow)
    return calls


def test_a_timeout_between_the_registry_and_ssm_writes_is_finished_by_the_retry(
    churn: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    churn.cloud.functions["PromoteFunction"].timeout = 2
    calls = _slow_publish(monkeypatch, times=1)

    described = run(churn, "promote-times-out-once")

    assert described["state"]["outcome"] == "promoted"
    assert len(calls) == 2  # the retry found its own promotion and only wrote SSM
    after = state(churn)
    assert (after.champion, after.parameter, after.lock) == (2, 2, False)
    assert after.versions == {1: "archived", 2: "champion"}


def test_a_promote_that_always_times_out_after_committing_is_still_promoted_and_published(
    churn: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    churn.cloud.functions["PromoteFunction"].timeout = 2
    _slow_publish(monkeypatch, times=100)

    described = run(churn, "promote-times-out")

    assert described["status"] == "SUCCEEDED"
    assert described["state"]["outcome"] == "promoted"
    assert described["state"]["failure"]["error"] == "Sandbox.Timedout"
    assert described["state"]["recovery"]["parameter"] == "repaired"
    after = state(churn)
    assert (after.champion, after.parameter, after.lock) == (2, 2, False)


# ----------------------------------------------------------------- left behind by a dead run
def test_a_candidate_left_by_a_run_that_died_is_marked_failed_by_the_next_run(
    churn: Deployment,
) -> None:
    # Given a version a run registered and never decided on (its execution was stopped, say)
    table = churn.settings.registry_table
    v1 = registry.get_version(table, "churn", 1)
    assert v1 is not None
    version = registry.next_version(table, "churn")
    keep = ("artifact_uri", "sha256", "snapshot_id", "config_sha256", "estimator")
    registry.register_version(
        table, "churn", version, {**{k: v1.fields()[k] for k in keep}, "execution": "stopped-run"}
    )

    # When the next run starts
    described = run(churn, "after-a-dead-run")

    # Then its first step marks the version failed and says so
    assert described["state"]["reconcile"]["failed_versions"] == [version]
    record = registry.get_version(table, "churn", version)
    assert record is not None
    assert record.status == "failed"
    assert record.failure is not None
    assert "stopped-run" in record.failure
