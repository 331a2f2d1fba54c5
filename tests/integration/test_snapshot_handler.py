"""The Snapshot handler: the labelled training window, frozen as an immutable, content-addressed data set."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pytest

from helpers import Deployment, Window, call, invoke, run_input
from retrain import aws
from retrain.demo import generate_churn
from retrain.errors import InsufficientData

pytestmark = pytest.mark.integration

WINDOW_END = datetime(2025, 4, 1, tzinfo=UTC)
SMALL_WINDOW_END = datetime(2025, 5, 1, tzinfo=UTC)
ROWS = 500


@dataclass(frozen=True)
class Frozen:
    window: Window
    ref: dict
    manifest: dict
    data: bytes


@pytest.fixture(scope="module")
def frozen(module_churn: Deployment) -> Frozen:
    """A 500-row labelled window, snapshotted once."""
    window = module_churn.write_window(generate_churn(ROWS, seed=41), end=WINDOW_END)
    ref = call(module_churn.cloud, "snapshot", run_input(WINDOW_END))
    manifest = aws.get_json(*aws.split_uri(ref["manifest_uri"]))
    data = aws.get_bytes(*aws.split_uri(ref["uri"]))
    return Frozen(window=window, ref=ref, manifest=manifest, data=data)


def test_the_snapshot_holds_every_labelled_row_of_the_window_in_time_order(frozen: Frozen) -> None:
    frame = pd.read_parquet(io.BytesIO(frozen.data))

    assert frozen.ref["created"] is True
    assert frozen.ref["rows"] == frozen.manifest["rows"] == ROWS
    assert frame["id"].tolist() == frozen.window.log["id"].tolist()
    assert frozen.window.labels is not None
    assert frame["churned"].tolist() == frozen.window.labels["churned"].tolist()


def test_the_manifest_lists_id_timestamp_features_and_target(module_churn: Deployment, frozen: Frozen) -> None:
    config = module_churn.config

    assert list(frozen.manifest["columns"]) == ["id", "timestamp", *config.features.all, config.target]


def test_the_manifest_records_the_data_objects_sha256(frozen: Frozen) -> None:
    recorded = frozen.manifest["files"]["data.parquet"]

    assert recorded["sha256"] == hashlib.sha256(frozen.data).hexdigest()
    assert recorded["bytes"] == len(frozen.data)


def test_the_manifest_lists_the_source_objects_it_was_read_from(frozen: Frozen) -> None:
    sources = {source["key"] for source in frozen.manifest["sources"]}

    assert sources == set(frozen.window.keys)
    assert any(key.startswith("inference/churn/") for key in sources)
    assert any(key.startswith("labels/churn/") for key in sources)


def test_the_holdout_is_the_most_recent_holdout_fraction_of_rows(module_churn: Deployment, frozen: Frozen) -> None:
    holdout = round(ROWS * module_churn.config.training.holdout_fraction)

    assert frozen.manifest["split"] == {"method": "time", "train_rows": ROWS - holdout, "holdout_rows": holdout}
    assert (frozen.ref["train_rows"], frozen.ref["holdout_rows"]) == (ROWS - holdout, holdout)


def test_the_same_window_twice_is_the_same_snapshot_written_once(module_churn: Deployment, frozen: Frozen) -> None:
    # Given the window was snapshotted already (the fixture)
    # When a retried or second run snapshots it again
    again = call(module_churn.cloud, "snapshot", run_input(WINDOW_END))

    # Then it finds the same snapshot and writes nothing
    assert again["id"] == frozen.ref["id"]
    assert again["created"] is False
    bucket, key = aws.split_uri(frozen.ref["uri"])
    prefix = key.rpartition("/")[0] + "/"
    keys = [obj["key"] for obj in aws.list_objects(bucket, prefix)]
    assert keys == [prefix + "data.parquet", prefix + "manifest.json", prefix + "profile.npz"]
    versions = module_churn.cloud.client("s3").list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 1


def test_too_few_labelled_rows_is_insufficient_data_naming_min_rows(module_churn: Deployment) -> None:
    # Given a window of 50 labelled rows (training.min_rows is 200)
    min_rows = module_churn.config.training.min_rows
    module_churn.write_window(generate_churn(50, seed=42), end=SMALL_WINDOW_END)

    response = invoke(module_churn.cloud, "snapshot", run_input(SMALL_WINDOW_END))

    assert response.error_type == InsufficientData.__name__
    assert f"50 labelled rows < training.min_rows {min_rows}" in response.error_message
