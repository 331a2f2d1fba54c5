"""Thin adapters over boto3.

Clients are created lazily by cached factories, never at import time, so that
moto (or a test's fake) is in place before the first client exists. Every
``botocore`` error that means something to the product is translated into a
:mod:`retrain.errors` type with ``raise ... from exc``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from retrain.errors import DataNotFound, RetrainError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_ssm.client import SSMClient

_RETRIES = Config(retries={"max_attempts": 5, "mode": "adaptive"})
_TRANSIENT = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "SlowDown", "InternalError"}


@functools.cache
def s3() -> S3Client:
    return boto3.client("s3", config=_RETRIES)


@functools.cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_RETRIES)


@functools.cache
def events() -> EventBridgeClient:
    return boto3.client("events", config=_RETRIES)


@functools.cache
def ssm() -> SSMClient:
    return boto3.client("ssm", config=_RETRIES)


@functools.cache
def cloudwatch() -> CloudWatchClient:
    return boto3.client("cloudwatch", config=_RETRIES)


@functools.cache
def scheduler() -> Any:
    """EventBridge Scheduler (no type stubs installed for it)."""
    return boto3.client("scheduler", config=_RETRIES)


def reset_clients() -> None:
    """Forget cached clients (a new moto mock or new credentials)."""
    for factory in (s3, dynamodb, events, ssm, cloudwatch, scheduler):
        factory.cache_clear()


def put_events(entries: list[dict[str, Any]]) -> None:
    """``events:PutEvents``; an entry EventBridge refuses is a :class:`TransientError`."""
    response = events().put_events(Entries=entries)  # type: ignore[arg-type]
    failed = [e for e in response["Entries"] if "ErrorCode" in e]
    if failed:
        raise TransientError(f"EventBridge refused {len(failed)} entries: {failed[0].get('ErrorCode')}")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: ClientError, what: str) -> Exception:
    code = error_code(exc)
    if code in {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}:
        return DataNotFound(f"{what} does not exist")
    if code in _TRANSIENT:
        return TransientError(f"{what}: {code}")
    return exc


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def get_bytes(bucket: str, key: str) -> bytes:
    try:
        body = s3().get_object(Bucket=bucket, Key=key)["Body"]
        return body.read()
    except ClientError as exc:
        raise _translate(exc, f"s3://{bucket}/{key}") from exc


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
    try:
        response = s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    except ClientError as exc:
        raise _translate(exc, f"s3://{bucket}/{key}") from exc
    return str(response.get("ETag", "")).strip('"')


def put_new(bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> bool:
    """Write an object only if no object has that key yet.

    Returns ``True`` when written, ``False`` when the key already existed (the
    existing object is left untouched). Uses S3's conditional write
    (``If-None-Match: *``), so two writers racing cannot both succeed.
    """
    try:
        s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*")
    except ClientError as exc:
        if error_code(exc) in {"PreconditionFailed", "ConditionalRequestConflict", "412"}:
            return False
        raise _translate(exc, f"s3://{bucket}/{key}") from exc
    return True


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, indent=2, default=str).encode()


def get_json(bucket: str, key: str) -> Any:
    return json.loads(get_bytes(bucket, key))


def list_objects(bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under ``prefix`` (key, size, ETag), in key order."""
    paginator = s3().get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield {"key": item["Key"], "size": item["Size"], "etag": str(item["ETag"]).strip('"')}
    except ClientError as exc:
        raise _translate(exc, f"s3://{bucket}/{prefix}") from exc


def empty_bucket(bucket: str) -> int:
    """Delete every object version and delete marker of ``bucket`` (so the stack can delete it); returns the count.

    Versioned buckets keep every version of every object; CloudFormation cannot
    delete a bucket that still holds one. This cannot be undone.
    """
    paginator = s3().get_paginator("list_object_versions")
    deleted = 0
    try:
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
    except ClientError as exc:
        raise _translate(exc, f"s3://{bucket}") from exc
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
    try:
        dynamodb().delete_table(TableName=table)
    except ClientError as exc:
        raise _translate(exc, f"table {table}") from exc
