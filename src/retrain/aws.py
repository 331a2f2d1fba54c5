"""Thin adapters over boto3.

Clients are created lazily by cached factories, never at import time, so that
moto (or a test's fake) is in place before the first client exists; boto3 itself
(a third of a light function's import) is imported with the first client. Every
``botocore`` error that means something to the product is translated into a
:mod:`retrain.errors` type with ``raise ... from exc``.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from retrain.errors import AccessDenied, DataNotFound, RetrainError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_ssm.client import SSMClient
    from mypy_boto3_stepfunctions.client import SFNClient

#: Every client's retry policy (botocore's ``Config``).
RETRIES: dict[str, Any] = {"max_attempts": 5, "mode": "adaptive"}
#: Error codes that mean "try again later", across S3, DynamoDB, SSM and EventBridge.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "TooManyUpdates",
        "SlowDown",
        "ConditionalRequestConflict",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerErrorException",
        "InternalException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "500",
        "502",
        "503",
        "504",
    }
)
#: Error codes that mean a missing permission.
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"})
#: A transaction cancelled for one of these reasons lost nothing but time (DynamoDB ``CancellationReasons``).
TRANSIENT_CANCELLATIONS = frozenset({"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"})
#: Connection-level failures botocore raises after its own retries.
_CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


class _Session:
    """Where the factories' clients connect: ``region`` None is the boto3 default session's region."""

    region: str | None = None


def _client(service: str) -> Any:
    """A ``service`` client in the session's region, with adaptive retries: what every factory below returns."""
    import boto3
    from botocore.config import Config

    config = Config(retries=RETRIES)  # type: ignore[arg-type]  # a plain dict: botocore's TypedDict is stub-only
    return boto3.client(service, region_name=_Session.region, config=config)  # type: ignore[call-overload]


@functools.cache
def s3() -> S3Client:
    return _client("s3")


@functools.cache
def dynamodb() -> DynamoDBClient:
    return _client("dynamodb")


@functools.cache
def events() -> EventBridgeClient:
    return _client("events")


@functools.cache
def ssm() -> SSMClient:
    return _client("ssm")


@functools.cache
def cloudwatch() -> CloudWatchClient:
    return _client("cloudwatch")


@functools.cache
def scheduler() -> Any:
    """EventBridge Scheduler (no type stubs installed for it)."""
    return _client("scheduler")


@functools.cache
def cloudformation() -> Any:
    """CloudFormation (the CLI reads a deployed stack's outputs, resources and template)."""
    return _client("cloudformation")


@functools.cache
def stepfunctions() -> SFNClient:
    """Step Functions (the CLI answers a run's approval task token)."""
    return _client("stepfunctions")


_FACTORIES = (s3, dynamodb, events, ssm, cloudwatch, scheduler, cloudformation, stepfunctions)


def reset_clients() -> None:
    """Forget cached clients and any region set by :func:`use_region` (a new moto mock or new credentials)."""
    _Session.region = None
    for factory in _FACTORIES:
        factory.cache_clear()


def use_region(region: str | None) -> None:
    """Create every client from now on in ``region`` (None: the boto3 default session's); cached ones are forgotten.

    The ``retrain`` command's ``--region`` goes through here: the process environment is left alone.
    """
    reset_clients()
    _Session.region = region


def put_events(entries: list[dict[str, Any]]) -> None:
    """``events:PutEvents``; an entry EventBridge refuses is a :class:`TransientError`."""
    with translated("EventBridge PutEvents"):
        response = events().put_events(Entries=entries)  # type: ignore[arg-type]
    failed = [e for e in response["Entries"] if "ErrorCode" in e]
    if failed:
        raise TransientError(f"EventBridge refused {len(failed)} entries: {failed[0].get('ErrorCode')}")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_codes(exc: ClientError) -> list[str]:
    """The per-action codes of a cancelled DynamoDB transaction (``"None"`` for an action that was fine)."""
    reasons: list[Any] = list(exc.response.get("CancellationReasons") or [])
    return [str(reason.get("Code") or "None") for reason in reasons]


def is_transient(exc: ClientError) -> bool:
    """Whether retrying the same request later can succeed (throttling, 5xx, a transaction conflict)."""
    code = error_code(exc)
    if code == "TransactionCanceledException":
        return bool(TRANSIENT_CANCELLATIONS.intersection(cancellation_codes(exc)))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in TRANSIENT_CODES or int(status) >= 500


def _translate(exc: ClientError, what: str) -> Exception:
    code = error_code(exc)
    if code in {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}:
        return DataNotFound(f"{what} does not exist")
    message = exc.response.get("Error", {}).get("Message", "")
    if is_transient(exc):
        return TransientError(f"{what}: {code} ({message})")
    if code in ACCESS_DENIED_CODES:
        return AccessDenied(f"{what}: {code} ({message})")
    return exc


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Raise a dependency's transient failure as :class:`TransientError` naming ``what`` was being done.

    The state machine retries ``TransientError`` with backoff. Throttling and 5xx
    answers (after the SDK's own retries), connection failures, and transactions
    cancelled by throttling or a conflicting transaction are transient; a missing
    S3 object is :class:`DataNotFound`; any other error is raised as it is.
    """
    try:
        yield
    except ClientError as exc:
        translated_exc = _translate(exc, what)
        if translated_exc is exc:
            raise
        raise translated_exc from exc
    except _CONNECTION_ERRORS as exc:
        raise TransientError(f"{what}: {type(exc).__name__} ({exc})") from exc


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def get_bytes(bucket: str, key: str) -> bytes:
    with translated(f"s3://{bucket}/{key}"):
        body = s3().get_object(Bucket=bucket, Key=key)["Body"]
        return bytes(body.read())


def head(bucket: str, key: str) -> dict[str, Any] | None:
    """Object metadata, or ``None`` when the object does not exist."""
    try:
        return dict(s3().head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise _translate(exc, f"s3://{bucket}/{key}") from exc


def put_bytes(bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> str:
    """Write an object and return its ETag."""
    with translated(f"s3://{bucket}/{key}"):
        response = s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    return str(response.get("ETag", "")).strip('"')


def tag_object(bucket: str, key: str, tags: dict[str, str]) -> None:
    """Replace an object's tags (lifecycle rules match on them)."""
    tag_set: Any = [{"Key": k, "Value": v} for k, v in tags.items()]
    with translated(f"tagging s3://{bucket}/{key}"):
        s3().put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tag_set})


def object_tags(bucket: str, key: str) -> dict[str, str]:
    """An object's tags."""
    with translated(f"tagging of s3://{bucket}/{key}"):
        response = s3().get_object_tagging(Bucket=bucket, Key=key)
    return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}


def put_new(bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> bool:
    """Write an object only if no object has that key yet.

    Returns ``True`` when written, ``False`` when the key already existed (the
    existing object is left untouched). Uses S3's conditional write
    (``If-None-Match: *``), so two writers racing cannot both succeed.
    """
    try:
        with translated(f"s3://{bucket}/{key}"):
            s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*")
    except ClientError as exc:
        if error_code(exc) in {"PreconditionFailed", "412"}:
            return False
        raise
    return True


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, indent=2, default=str).encode()


def get_json(bucket: str, key: str) -> Any:
    return json.loads(get_bytes(bucket, key))


def list_objects(bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under ``prefix`` (key, size, ETag), in key order."""
    paginator = s3().get_paginator("list_objects_v2")
    with translated(f"s3://{bucket}/{prefix}"):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield {"key": item["Key"], "size": item["Size"], "etag": str(item["ETag"]).strip('"')}


def list_folders(bucket: str, prefix: str) -> Iterator[str]:
    """The "folders" just under ``prefix`` (``<prefix><name>/``, S3's common prefixes for ``/``), in key order."""
    paginator = s3().get_paginator("list_objects_v2")
    with translated(f"s3://{bucket}/{prefix}"):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for item in page.get("CommonPrefixes", []):
                yield item["Prefix"]


def empty_bucket(bucket: str) -> int:
    """Delete every object version and delete marker of ``bucket`` (so the stack can delete it); returns the count.

    Versioned buckets keep every version of every object; CloudFormation cannot
    delete a bucket that still holds one. This cannot be undone.
    """
    paginator = s3().get_paginator("list_object_versions")
    deleted = 0
    with translated(f"s3://{bucket}"):
        for page in paginator.paginate(Bucket=bucket):
            batch: list[Any] = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            for start in range(0, len(batch), 1000):
                chunk = batch[start : start + 1000]
                response = s3().delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
                errors = response.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise RetrainError(
                        f"s3://{bucket}: could not delete {len(errors)} object version(s), "
                        f"first {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                    )
                deleted += len(chunk)
    return deleted


def delete_bucket(bucket: str) -> int:
    """Empty ``bucket`` (:func:`empty_bucket`) and delete it; returns the object versions deleted.

    An object written meanwhile (a late S3 access-log delivery) makes S3 refuse
    with BucketNotEmpty: the bucket is emptied and deleted once more.
    """
    deleted = empty_bucket(bucket)
    for attempt in range(2):
        try:
            s3().delete_bucket(Bucket=bucket)
            return deleted
        except ClientError as exc:
            if error_code(exc) != "BucketNotEmpty" or attempt:
                raise _translate(exc, f"s3://{bucket}") from exc
            deleted += empty_bucket(bucket)
    return deleted


def delete_table(table: str) -> None:
    """Delete a DynamoDB table (with every item in it). This cannot be undone."""
    with translated(f"table {table}"):
        dynamodb().delete_table(TableName=table)
