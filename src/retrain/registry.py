"""The model registry: every version with its lineage, and the champion pointer (DynamoDB).

One table, keyed by ``pk`` (``MODEL#<model>``) and ``sk``:

- ``VERSION#000002``: one model version (status training | candidate | rejected | failed |
  champion | archived, artifact URI and sha256, profile hashes, snapshot id, config hash,
  metrics, gates, trigger and its record ``triggered_by``, execution). ``training`` is written before the artifact, so
  nothing a run writes is ever unaccounted for; a run that fails marks its version
  ``failed`` with the reason (:func:`mark_failed`).
- ``CHAMPION``: the pointer serving code follows (version, artifact URI, sha256).
- ``COUNTER``: the last version number handed out.
- ``LOCK``: the single-flight lock of the model's state machine (written by the ASL).

Readers return typed records (:class:`ModelVersion`, :class:`ChampionPointer`,
:class:`ApprovalRequest`); writers write attribute by attribute, so the items'
format is the table's and not the records'.

Promotion is one transaction whose condition is that the pointer still points
where the run expected: a concurrent promotion loses with
:class:`~retrain.errors.PromotionConflict` and nothing is half-written.
Throttling, 5xx answers and transactions cancelled by throttling or a
conflicting transaction raise :class:`~retrain.errors.TransientError` (retried
by the state machine); only a failed condition is a conflict.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any, Literal, Self, get_args

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from retrain import aws
from retrain.contracts import Promotion
from retrain.errors import ArtifactIntegrityError, ModelNotFound, PromotionConflict
from retrain.trigger_record import TriggerRecord

Status = Literal["training", "candidate", "rejected", "failed", "champion", "archived"]
STATUSES: tuple[Status, ...] = get_args(Status)
#: A version in one of these states belongs to a run that has not decided yet.
UNDECIDED: tuple[Status, ...] = ("training", "candidate")
#: The table's key attributes: they locate an item and are not part of the record read from it.
_KEYS = ("pk", "sk")


class _Record(BaseModel):
    """An item of the registry table as read: typed fields, plus any attribute this code does not name.

    Items are written field by field (the writers below), so a record's form never
    changes the table's items; ``extra="allow"`` keeps attributes written by other
    writers (the state machine's ``RecordRejection``, a newer release) readable.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        """The record of a DynamoDB item (already deserialized), without its key attributes."""
        return cls.model_validate({k: v for k, v in item.items() if k not in _KEYS})

    def fields(self) -> dict[str, Any]:
        """Every attribute the item holds (absent ones left out), as plain JSON-able values."""
        return self.model_dump(mode="json", exclude_none=True)


class ModelVersion(_Record):
    """One model version and its lineage (``sk`` ``VERSION#<n>``).

    Written ``training`` before its artifact exists (artifact URI and lineage known,
    ``sha256`` not yet), completed as a ``candidate`` with the artifact's hashes,
    then decided: ``rejected`` (``reasons``), ``champion`` and later ``archived``,
    or ``failed`` (``failure``).
    """

    model: str
    version: int
    status: Status
    created_at: str | None = None
    artifact_uri: str
    # lineage, written with the version
    snapshot_id: str | None = None
    snapshot_manifest: str | None = None
    config_sha256: str | None = None
    estimator: str | None = None
    trigger: str | None = None
    #: The run's trigger in full (map ``triggered_by``); None for versions registered without a run's trigger.
    triggered_by: TriggerRecord | None = None
    execution: str | None = None
    trained_rows: int | None = None
    libraries: dict[str, str] | None = None
    training_job: str | None = None
    # the fitted artifact, written when the version becomes a candidate
    sha256: str | None = None
    artifact_bytes: int | None = None
    training_seconds: float | None = None
    model_profile_uri: str | None = None
    model_profile_sha256: str | None = None
    snapshot_profile_sha256: str | None = None
    importances: dict[str, float] | None = None
    # validation and the decision
    metrics: dict[str, float] | None = None
    gates: list[dict[str, Any]] | None = None
    compared_with: int | None = None
    reasons: str | None = None
    failure: str | None = None
    failed_at: str | None = None
    promoted_at: str | None = None
    archived_at: str | None = None

    @property
    def artifact_sha256(self) -> str:
        """The artifact's sha256, which loading it must check.

        Raises
        ------
        ArtifactIntegrityError
            The version never got past ``training``: no complete artifact is recorded.
        """
        if self.sha256 is None:
            raise ArtifactIntegrityError(f"{self.model} v{self.version} is {self.status}: it has no complete artifact")
        return self.sha256

    @property
    def rejection_reasons(self) -> list[str]:
        """Why the version was rejected (``reasons`` is stored as one JSON array string); empty when it was not."""
        return [str(reason) for reason in json.loads(self.reasons)] if self.reasons else []


class ChampionPointer(_Record):
    """The champion pointer (``sk`` ``CHAMPION``): the version serving code follows, and how it got there."""

    model: str
    version: int
    artifact_uri: str
    sha256: str
    snapshot_id: str
    model_profile_sha256: str | None = None
    snapshot_profile_sha256: str | None = None
    promoted_at: str | None = None
    execution: str | None = None
    trigger: str | None = None


class ApprovalRequest(_Record):
    """A run waiting for a person (``pk`` ``APPROVAL#<execution>``): the task token to answer, what it waits on."""

    token: str
    model: str
    version: int
    requested_at: str | None = None
    expires_at: int | None = None


def model_pk(model: str) -> str:
    return f"MODEL#{model}"


def version_sk(version: int) -> str:
    return f"VERSION#{version:06d}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@functools.cache
def _codec() -> tuple[Any, Any]:
    """boto3's DynamoDB type serializer and deserializer, made once with the first item (boto3 comes with the first
    client, not at import)."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    from decimal import Decimal

    def convert(value: Any) -> Any:
        if isinstance(value, float):
            return Decimal(repr(value))
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    serializer, _ = _codec()
    return {k: serializer.serialize(convert(v)) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    from decimal import Decimal

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    _, deserializer = _codec()
    return {k: convert(deserializer.deserialize(v)) for k, v in item.items()}


def next_version(table: str, model: str) -> int:
    """Hand out the next version number (atomic counter)."""
    with aws.translated(f"registry: next version of {model}"):
        response = aws.dynamodb().update_item(
            TableName=table,
            Key=_to_item({"pk": model_pk(model), "sk": "COUNTER"}),
            UpdateExpression="ADD last_version :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
    return int(response["Attributes"]["last_version"]["N"])


def register_version(
    table: str, model: str, version: int, record: dict[str, Any], *, status: str = "candidate"
) -> dict[str, str]:
    """Write a new version record (``status`` ``candidate``, or ``training`` before its artifact exists).

    Never overwrites a record: a version number is used once.
    """
    key = {"pk": model_pk(model), "sk": version_sk(version)}
    item = {**key, "model": model, "version": version, "status": status, "created_at": _now(), **record}
    with aws.translated(f"registry: register {model} v{version}"):
        aws.dynamodb().put_item(
            TableName=table,
            Item=_to_item(item),
            ConditionExpression="attribute_not_exists(pk)",
        )
    return key


def complete_version(table: str, model: str, version: int, *, execution: str, values: dict[str, Any]) -> None:
    """Turn this execution's ``training`` version into a ``candidate`` and store ``values`` on it.

    Raises
    ------
    PromotionConflict
        The version is not a ``training`` version of ``execution`` (another run marked it failed).
    """
    if not _transition(
        table,
        model,
        version,
        to="candidate",
        allowed=("training",),
        values=values,
        what=f"complete {model} v{version}",
        execution=execution,
    ):
        found = get_version(table, model, version)
        state = f"{found.status} (execution {found.execution})" if found else "missing"
        raise PromotionConflict(
            f"cannot complete {model} v{version}: expected a training version of {execution}, found {state}"
        )


def version_of_execution(table: str, model: str, execution: str) -> ModelVersion | None:
    """The newest version an execution registered, or ``None`` (Train's retries reuse it)."""
    mine = [v for v in list_versions(table, model) if v.execution == execution]
    return mine[-1] if mine else None


def mark_failed(table: str, model: str, version: int, reason: str) -> bool:
    """Mark an undecided (``training`` or ``candidate``) version ``failed`` with ``reason``.

    Returns ``False`` when the version was already decided (rejected, champion, ...):
    nothing is written then.
    """
    values = {"failure": reason[:2000], "failed_at": _now()}
    return _transition(
        table, model, version, to="failed", allowed=UNDECIDED, values=values, what=f"mark {model} v{version} failed"
    )


def _transition(
    table: str,
    model: str,
    version: int,
    *,
    to: str,
    allowed: tuple[str, ...],
    values: dict[str, Any],
    what: str,
    execution: str | None = None,
) -> bool:
    """Set a version's status to ``to`` (and ``values``) if its status is one of ``allowed``.

    With ``execution``, the version must also be that execution's. ``False`` when a
    condition fails (nothing is written then).
    """
    names = {"#s": "status", **{f"#a{i}": name for i, name in enumerate(values)}}
    placeholders = {f":a{i}": value for i, value in enumerate(values.values())}
    froms = {f":from{i}": status for i, status in enumerate(allowed)}
    condition = f"#s IN ({', '.join(froms)})"
    if execution is not None:
        names["#e"] = "execution"
        placeholders[":execution"] = execution
        condition += " AND #e = :execution"
    assignments = "".join(f", #a{i} = :a{i}" for i in range(len(values)))
    try:
        with aws.translated(f"registry: {what}"):
            aws.dynamodb().update_item(
                TableName=table,
                Key=_to_item({"pk": model_pk(model), "sk": version_sk(version)}),
                UpdateExpression=f"SET #s = :to{assignments}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_item({":to": to, **froms, **placeholders}),
            )
    except ClientError as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_version(table: str, model: str, version: int) -> ModelVersion | None:
    """Version ``version`` of ``model``, or ``None`` when there is no such version."""
    with aws.translated(f"registry: read {model} v{version}"):
        response = aws.dynamodb().get_item(
            TableName=table, Key=_to_item({"pk": model_pk(model), "sk": version_sk(version)}), ConsistentRead=True
        )
    return ModelVersion.from_item(_from_item(response["Item"])) if "Item" in response else None


def get_champion(table: str, model: str) -> ChampionPointer | None:
    """The champion pointer, or ``None`` when the model has none yet."""
    with aws.translated(f"registry: read the champion of {model}"):
        response = aws.dynamodb().get_item(
            TableName=table, Key=_to_item({"pk": model_pk(model), "sk": "CHAMPION"}), ConsistentRead=True
        )
    return ChampionPointer.from_item(_from_item(response["Item"])) if "Item" in response else None


def require_champion(table: str, model: str) -> ChampionPointer:
    """The champion pointer.

    Raises
    ------
    ModelNotFound
        The model has no champion yet.
    """
    champion = get_champion(table, model)
    if champion is None:
        raise ModelNotFound(f"model {model!r} has no champion yet (train and promote a first version)")
    return champion


def list_versions(table: str, model: str) -> list[ModelVersion]:
    """Every version of ``model``, oldest first."""
    paginator = aws.dynamodb().get_paginator("query")
    items: list[ModelVersion] = []
    with aws.translated(f"registry: list the versions of {model}"):
        for page in paginator.paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
            ExpressionAttributeValues={":pk": {"S": model_pk(model)}, ":v": {"S": "VERSION#"}},
            ConsistentRead=True,
        ):
            items.extend(ModelVersion.from_item(_from_item(item)) for item in page.get("Items", []))
    return items


def promote(table: str, model: str, version: int, *, expected: int | None, execution: str) -> Promotion:
    """Make candidate ``version`` the champion in one transaction.

    The pointer moves only if it still points at ``expected`` (``None``: no
    champion yet) and the version is still a ``candidate``; the previous
    champion is archived in the same transaction.

    Raises
    ------
    ModelNotFound
        The version does not exist.
    PromotionConflict
        The pointer moved or the version is no longer a candidate; nothing was written.
    """
    return _move_pointer(table, model, version, expected=expected, execution=execution, from_status="candidate")


def rollback(table: str, model: str, *, to: int | None = None, execution: str = "rollback") -> Promotion:
    """Restore a previous champion through the same conditional transaction as a promotion.

    ``to`` defaults to the newest archived version older than the champion. Only
    an archived version (one that was champion before) can be restored.

    Raises
    ------
    ModelNotFound
        The model has no champion, or no version to roll back to.
    PromotionConflict
        ``to`` is not an archived version, or the champion moved meanwhile; nothing was written.
    """
    champion = require_champion(table, model)
    current = champion.version
    if to is None:
        archived = [v.version for v in list_versions(table, model) if v.status == "archived" and v.version < current]
        if not archived:
            raise ModelNotFound(f"model {model!r} has no archived version before v{current} to roll back to")
        to = max(archived)
    if to == current:
        raise PromotionConflict(f"v{to} of {model!r} is already the champion")
    record = get_version(table, model, to)
    if record is None:
        raise ModelNotFound(f"model {model!r} has no version {to}")
    if record.status != "archived":
        raise PromotionConflict(
            f"cannot roll {model!r} back to v{to}: it is {record.status}, only a former champion can return"
        )
    return _move_pointer(table, model, to, expected=current, execution=execution, from_status="archived")


def _move_pointer(
    table: str, model: str, version: int, *, expected: int | None, execution: str, from_status: str
) -> Promotion:
    record = get_version(table, model, version)
    if record is None:
        raise ModelNotFound(f"model {model!r} has no version {version}")
    if record.sha256 is None:
        raise PromotionConflict(
            f"cannot make {model} v{version} champion: it is {record.status}, its artifact is not complete "
            "(nothing was written)"
        )
    pointer = {
        "pk": model_pk(model),
        "sk": "CHAMPION",
        "model": model,
        "version": version,
        "artifact_uri": record.artifact_uri,
        "sha256": record.sha256,
        "model_profile_sha256": record.model_profile_sha256,
        "snapshot_profile_sha256": record.snapshot_profile_sha256,
        "snapshot_id": record.snapshot_id,
        "promoted_at": _now(),
        "execution": execution,
        "trigger": "rollback" if from_status == "archived" else record.trigger,
    }
    put: dict[str, Any] = {
        "TableName": table,
        "Item": _to_item(pointer),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if expected is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :expected"
        put["ExpressionAttributeValues"] = {":expected": {"N": str(expected)}}
    actions: list[dict[str, Any]] = [
        {"Put": put},
        {
            "Update": {
                "TableName": table,
                "Key": _to_item({"pk": model_pk(model), "sk": version_sk(version)}),
                "UpdateExpression": "SET #s = :champion, promoted_at = :now",
                "ConditionExpression": "#s = :from",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": _to_item({":champion": "champion", ":from": from_status, ":now": _now()}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ]
    if expected is not None:
        actions.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": _to_item({"pk": model_pk(model), "sk": version_sk(expected)}),
                    "UpdateExpression": "SET #s = :archived, archived_at = :now",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": _to_item({":archived": "archived", ":now": _now()}),
                }
            }
        )
    try:
        with aws.translated(f"registry: make {model} v{version} champion"):
            aws.dynamodb().transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
    except ClientError as exc:
        if aws.error_code(exc) in {"TransactionCanceledException", "ConditionalCheckFailedException"}:
            raise PromotionConflict(_conflict(exc, model, version, expected=expected, from_status=from_status)) from exc
        raise
    return Promotion(
        champion_version=version,
        previous_version=expected,
        artifact_uri=record.artifact_uri,
        sha256=record.sha256,
    )


def _conflict(exc: ClientError, model: str, version: int, *, expected: int | None, from_status: str) -> str:
    """What a promotion's failed condition found: the pointer, or the version's status."""
    reasons: list[Any] = list(exc.response.get("CancellationReasons") or [])
    found: list[str] = []
    for index, reason in enumerate(reasons[:2]):
        if reason.get("Code") != "ConditionalCheckFailed":
            continue
        old = _from_item(reason["Item"]) if reason.get("Item") else {}
        if index == 0:
            now = f"v{old['version']}" if "version" in old else "no champion"
            wanted = f"v{expected}" if expected is not None else "no champion"
            found.append(f"the champion pointer is {now}, expected {wanted}")
        else:
            found.append(f"v{version} is {old.get('status', 'missing')}, not {from_status}")
    if not found:
        found.append(f"the champion is no longer v{expected} or v{version} is no longer {from_status}")
    return f"cannot make {model} v{version} champion: " + "; ".join(found) + " (nothing was written)"


def record_validation(
    table: str,
    model: str,
    version: int,
    *,
    metrics: dict[str, float],
    gates: list[dict[str, Any]],
    champion_version: int | None,
) -> None:
    """Store a candidate's holdout metrics and gate results on its version record."""
    with aws.translated(f"registry: record the validation of {model} v{version}"):
        aws.dynamodb().update_item(
            TableName=table,
            Key=_to_item({"pk": model_pk(model), "sk": version_sk(version)}),
            UpdateExpression="SET #m = :m, #g = :g, compared_with = :c",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#m": "metrics", "#g": "gates"},
            ExpressionAttributeValues=_to_item({":m": metrics, ":g": gates, ":c": champion_version or 0}),
        )


def record_rejection(table: str, model: str, version: int, reasons: list[str]) -> None:
    """Mark a candidate ``rejected`` with its reasons, as the state machine's ``RecordRejection`` state does.

    ``reasons`` is stored as one JSON string (what ``States.JsonToString`` writes).

    Raises
    ------
    PromotionConflict
        The version does not exist or is no longer a candidate; nothing was written.
    """
    reasons_json = json.dumps(reasons, separators=(",", ":"), ensure_ascii=False)
    rejected = _transition(
        table,
        model,
        version,
        to="rejected",
        allowed=("candidate",),
        values={"reasons": reasons_json},
        what=f"reject {model} v{version}",
    )
    if not rejected:
        raise PromotionConflict(f"cannot reject {model} v{version}: it is not a candidate")


def approval_key(execution: str) -> dict[str, str]:
    return {"pk": f"APPROVAL#{execution}", "sk": "TOKEN"}


def put_approval(table: str, execution: str, record: dict[str, Any]) -> None:
    """Remember the task token a waiting run answers to (``retrain approve`` / ``reject``)."""
    with aws.translated(f"registry: store the approval request of {execution}"):
        aws.dynamodb().put_item(TableName=table, Item=_to_item({**approval_key(execution), **record}))


def get_approval(table: str, execution: str) -> ApprovalRequest | None:
    """The approval request a run waits on, or ``None`` when it waits on none."""
    with aws.translated(f"registry: read the approval request of {execution}"):
        response = aws.dynamodb().get_item(TableName=table, Key=_to_item(approval_key(execution)), ConsistentRead=True)
    return ApprovalRequest.from_item(_from_item(response["Item"])) if "Item" in response else None


def delete_approval(table: str, execution: str) -> None:
    with aws.translated(f"registry: delete the approval request of {execution}"):
        aws.dynamodb().delete_item(TableName=table, Key=_to_item(approval_key(execution)))
