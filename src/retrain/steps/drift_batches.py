"""The distributed drift check's files: the batch manifest, each batch's profile and sample, merged for the judge.

Under the run's ``runs/<model>/<execution>/drift/`` (:mod:`retrain.layout`):

- ``batches.json``: the manifest the ``ProfileWindow`` Map reads, one item per batch
  (``{"index", "objects": [{"key", "etag", "size"}, ...]}``), objects grouped in
  listing order up to ``batch_bytes``;
- ``partials/<index>.npz``, ``partials/<index>.sample.parquet``, ``partials/<index>.json``:
  a batch's window profile, its row sample, and its receipt (the objects it read),
  written in that order by the ``DriftProfile`` function (the receipt last);
- ``failures/<index>.json``: why a batch failed (the object, the error), written
  before the worker raises, so the judge can name the object whatever error the
  Map itself reports;
- ``map/``: the Map's ``ResultWriter`` files (not read: the judge reads the partials).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from retrain import aws, errors, layout
from retrain.config import DriftTrigger
from retrain.contracts import DriftBatch, DriftJudgeInput, DriftPlan, DriftPlanOut, Run
from retrain.drift.merge import WindowProfile, merge_profiles, window_from_bytes
from retrain.drift.sample import RowSample, merge_samples
from retrain.errors import BatchFailed, BatchMismatch, DataNotFound, RetrainError
from retrain.files import parse_table
from retrain.observability import logger
from retrain.settings import Settings

#: Profiles a partition index apart per batch: object ``j`` of batch ``i`` is partition ``i * STRIDE + j``
#: (first-seen order of categories follows the listing), so a batch holds at most this many objects.
STRIDE = 1 << 20
#: Largest JSON of one manifest item: an iteration's input (the item and the run) must stay under Step Functions'
#: 256 KB payload limit, whatever the objects' sizes.
MAX_ITEM_BYTES = 200_000
#: Batch profiles (and samples) merged at a time by the judge: memory holds this many, not every batch's.
MERGE_GROUP = 32
#: Errors a failed batch is re-raised as by the judge (its recorded type); any other is :class:`BatchFailed`.
RERAISED = ("UnreadableData", "SchemaMismatch", "DataNotFound", "AccessDenied", "InsufficientData")


def distributed(policy: DriftTrigger, n_objects: int) -> bool:
    """Whether a window of ``n_objects`` table objects is profiled in batches (``triggers.drift.engine``)."""
    if n_objects == 0 or policy.engine == "single":
        return False
    return policy.engine == "distributed" or n_objects > policy.distributed.min_partitions


def plan_batches(objects: Sequence[dict[str, Any]], batch_bytes: int) -> list[dict[str, Any]]:
    """Group ``objects`` in their order into batches of at most ``batch_bytes`` (an object above it: alone).

    A batch also closes at :data:`STRIDE` objects, and before its item's JSON would exceed
    :data:`MAX_ITEM_BYTES` (many small objects). Returns the manifest's items,
    ``{"index": i, "objects": [{"key", "etag", "size"}, ...]}``, indices from 0.

    Raises
    ------
    ValueError
        ``batch_bytes`` is below 1.
    """
    if batch_bytes < 1:
        raise ValueError(f"batch_bytes == {batch_bytes}, must be >= 1.")
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = text = 0
    for obj in objects:
        item = {"key": obj["key"], "etag": obj["etag"], "size": int(obj["size"])}
        length = len(json.dumps(item, separators=(",", ":"))) + 1
        full = size + item["size"] > batch_bytes or len(current) >= STRIDE or text + length > MAX_ITEM_BYTES
        if current and full:
            batches.append(current)
            current, size, text = [], 0, 0
        current.append(item)
        size += item["size"]
        text += length
    if current:
        batches.append(current)
    return [{"index": i, "objects": batch} for i, batch in enumerate(batches)]


def plan(settings: Settings, run: Run, policy: DriftTrigger, objects: Sequence[dict[str, Any]]) -> DriftPlanOut:
    """Write the batch manifest of the window's ``objects`` and return the plan the state machine follows."""
    items = plan_batches(objects, policy.distributed.batch_bytes)
    bucket = settings.artifact_bucket
    key = layout.drift_batches_key(run.model, run.execution)
    aws.put_bytes(bucket, key, json.dumps(items, separators=(",", ":")).encode(), content_type="application/json")
    logger.info("drift window of %d objects planned as %d batches", len(objects), len(items))
    return DriftPlanOut(
        run=run,
        plan=DriftPlan(
            bucket=bucket,
            manifest_key=key,
            partials_prefix=layout.drift_partials_prefix(run.model, run.execution),
            failures_prefix=layout.drift_failures_prefix(run.model, run.execution),
            result_prefix=layout.drift_map_prefix(run.model, run.execution),
            objects=len(objects),
            batches=len(items),
            bytes=sum(int(obj["size"]) for obj in objects),
            max_concurrency=policy.distributed.max_concurrency,
        ),
    )


# ---------------------------------------------------------------------------------------- judge
def _manifest(plan: DriftPlan) -> list[DriftBatch]:
    raw = aws.get_json(plan.bucket, plan.manifest_key)
    return [DriftBatch.model_validate(item) for item in raw]


def _failure(plan: DriftPlan, index: int, key: str) -> RetrainError:
    """Batch ``index``'s recorded failure (at ``key``) as the error to raise: its type, naming the object."""
    record = aws.get_json(plan.bucket, key)
    where = f" on {aws.uri(plan.bucket, record['key'])}" if record.get("key") else ""
    message = f"batch {index} of the drift window failed{where}: {record.get('error')}: {record.get('message')}"
    kind = getattr(errors, str(record.get("error")), None) if record.get("error") in RERAISED else None
    return kind(message) if kind is not None else BatchFailed(message)


def _indexed(plan: DriftPlan, prefix: str) -> dict[int, str]:
    """The ``<index>.json`` objects under ``prefix``, by index."""
    out: dict[int, str] = {}
    for obj in aws.list_objects(plan.bucket, prefix):
        stem = obj["key"][len(prefix) :].removesuffix(".json")
        if obj["key"].endswith(".json") and stem.isdigit():
            out[int(stem)] = obj["key"]
    return out


def _receipts(plan: DriftPlan) -> dict[int, dict[str, Any]]:
    return {index: aws.get_json(plan.bucket, key) for index, key in _indexed(plan, plan.partials_prefix).items()}


def _check_cover(request: DriftJudgeInput, manifest: list[DriftBatch], receipts: dict[int, dict[str, Any]]) -> None:
    """Every batch of the manifest has a profile of exactly its objects, and no other batch has one."""
    plan = request.plan
    missing = [batch for batch in manifest if batch.index not in receipts]
    failed = _indexed(plan, plan.failures_prefix) if missing else {}
    for batch in missing:  # a batch that failed says why (the object, the error), before any that did not run
        if batch.index in failed:
            raise _failure(plan, batch.index, failed[batch.index])
    if missing:
        batch = missing[0]
        why = f" ({request.map_error.Error}: {request.map_error.Cause})" if request.map_error else ""
        raise DataNotFound(
            f"batch {batch.index} of the drift window ({len(batch.objects)} objects from {batch.objects[0].key}) "
            f"has no profile under {aws.uri(plan.bucket, plan.partials_prefix)}{why}"
        )
    for batch in manifest:
        receipt = receipts[batch.index]
        wanted = [(o.key, o.etag) for o in batch.objects]
        got = [(str(o["key"]), str(o["etag"])) for o in receipt.get("objects", [])]
        if got != wanted:
            raise BatchMismatch(
                f"batch {batch.index}'s profile covers {len(got)} objects, not the manifest's {len(wanted)} "
                f"(first difference: {_first_difference(wanted, got)})"
            )
    extra = sorted(set(receipts) - {b.index for b in manifest})
    if extra:
        raise BatchMismatch(
            f"batch {extra[0]} has a profile under {aws.uri(plan.bucket, plan.partials_prefix)} "
            f"but is not in the manifest of {len(manifest)} batches"
        )
    if request.map_error is not None:  # every batch profiled, yet the Map failed: say why rather than judge
        raise BatchFailed(f"the drift window's map failed: {request.map_error.Error}: {request.map_error.Cause}")


def _first_difference(wanted: list[tuple[str, str]], got: list[tuple[str, str]]) -> str:
    for i, (a, b) in enumerate(zip(wanted, got, strict=False)):
        if a != b:
            return f"object {i} is {b[0]} (ETag {b[1]}), the manifest has {a[0]} (ETag {a[1]})"
    longer, name = (wanted, "missing") if len(wanted) > len(got) else (got, "extra")
    key, etag = longer[min(len(wanted), len(got))]
    return f"{name} object {key} (ETag {etag})"


def _groups(indices: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(indices), MERGE_GROUP):
        yield indices[i : i + MERGE_GROUP]


def merged(
    settings: Settings, request: DriftJudgeInput, policy: DriftTrigger, *, seed: int
) -> tuple[WindowProfile, pd.DataFrame]:
    """The window's merged profile and its uniform row sample, from every batch of the manifest.

    Raises
    ------
    RetrainError
        A batch failed (re-raised with its recorded type, naming its object), or the batches' profiles do not
        cover exactly the manifest's objects (:class:`BatchMismatch`, :class:`DataNotFound`, naming the batch).
    """
    plan, run = request.plan, request.run
    manifest = _manifest(plan)
    receipts = _receipts(plan)
    _check_cover(request, manifest, receipts)
    profile: WindowProfile | None = None
    sample: RowSample | None = None
    k = policy.distributed.sample_rows
    for group in _groups(sorted(receipts)):
        parts = [
            window_from_bytes(aws.get_bytes(plan.bucket, layout.drift_partial_key(run.model, run.execution, i)))
            for i in group
        ]
        rows = [_sample(plan, run, i, receipts[i]) for i in group]
        profile = merge_profiles([*([profile] if profile else []), *parts])
        sample = merge_samples([*([sample] if sample else []), *rows], k, seed=seed)
        del parts, rows
    assert profile is not None
    assert sample is not None
    logger.info("merged %d batch profiles: %d rows, sample of %d", len(receipts), profile.n_rows, len(sample.rows))
    return profile, sample.rows


def _sample(plan: DriftPlan, run: Run, index: int, receipt: dict[str, Any]) -> RowSample:
    key = layout.drift_sample_key(run.model, run.execution, index)
    rows = parse_table(aws.get_bytes(plan.bucket, key), key, what=aws.uri(plan.bucket, key))
    return RowSample(rows, int(receipt["rows"]), index)
