"""Where the drift check's references live: a profile next to each snapshot, a profile next to each model."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from helpers import Deployment, call, run_input
from retrain import aws, registry, snapshot
from retrain.demo import generate_churn
from retrain.drift import CategoricalProfile, NumericProfile, build_profile
from retrain.errors import ArtifactIntegrityError

pytestmark = pytest.mark.integration

WINDOW_END = datetime(2025, 9, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def frozen(module_churn: Deployment) -> dict:
    """A labelled window snapshotted by the Snapshot step."""
    module_churn.write_window(generate_churn(600, seed=71, drift=True), end=WINDOW_END)
    return call(module_churn.cloud, "snapshot", run_input(WINDOW_END))


def test_the_snapshot_step_stores_the_snapshots_profile_next_to_it(module_churn: Deployment, frozen: dict) -> None:
    settings, config = module_churn.settings, module_churn.config
    data, manifest = snapshot.load(settings.artifact_bucket, "churn", frozen["id"])

    stored = snapshot.load_profile(settings.artifact_bucket, "churn", frozen["id"])

    assert stored is not None
    assert stored.meta["snapshot_id"] == frozen["id"]
    bucket, key = aws.split_uri(frozen["uri"])
    assert aws.head(bucket, key.rpartition("/")[0] + "/profile.npz") is not None
    expected = build_profile(data, numeric=config.features.numeric, categorical=config.features.categorical)
    for name in config.features.numeric:
        a, b = stored.columns[name], expected.columns[name]
        assert isinstance(a, NumericProfile)
        assert isinstance(b, NumericProfile)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.le, b.le)
    for name in config.features.categorical:
        a, b = stored.columns[name], expected.columns[name]
        assert isinstance(a, CategoricalProfile)
        assert isinstance(b, CategoricalProfile)
        assert (a.categories, a.counts.tolist()) == (b.categories, b.counts.tolist())
    assert stored.sample is not None
    assert len(stored.sample) == len(data) == manifest["rows"]
    assert stored.schema["timestamp"] == "datetime"
    assert stored.schema["churned"] == "int"


def test_the_same_snapshot_twice_keeps_its_first_profile(module_churn: Deployment, frozen: dict) -> None:
    bucket = module_churn.settings.artifact_bucket
    key = snapshot.profile_key("churn", frozen["id"])
    before = module_churn.cloud.client("s3").list_object_versions(Bucket=bucket, Prefix=key)["Versions"]

    call(module_churn.cloud, "snapshot", run_input(WINDOW_END))

    after = module_churn.cloud.client("s3").list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(before) == len(after) == 1


def test_the_bootstrap_profiles_the_first_champions_snapshot(module_churn: Deployment) -> None:
    champion = registry.require_champion(module_churn.settings.registry_table, "churn")

    profile = snapshot.load_profile(module_churn.settings.artifact_bucket, "churn", champion.snapshot_id)

    assert profile is not None
    assert profile.n_rows == 2000
    assert sorted(profile.columns) == sorted(module_churn.config.features.all)


def test_the_train_step_stores_importances_and_the_prediction_distribution(
    module_churn: Deployment, frozen: dict
) -> None:
    # When a candidate is trained on the snapshot
    candidate = call(module_churn.cloud, "train", {**run_input(WINDOW_END), "snapshot": frozen})

    # Then its profile is next to its artifact and its record names it and its hash, with the importances
    record = registry.get_version(module_churn.settings.registry_table, "churn", candidate["version"])
    assert record is not None
    profile = snapshot.load_model_profile(candidate["artifact_uri"], sha256=record.model_profile_sha256)
    assert profile is not None
    bucket = module_churn.settings.artifact_bucket
    assert record.snapshot_profile_sha256 == snapshot.profile_sha256(bucket, "churn", frozen["id"])
    assert record.model_profile_uri == snapshot.model_profile_uri(candidate["artifact_uri"])
    assert record.model_profile_uri.endswith(f"/v{candidate['version']}/model-profile.npz")
    assert record.importances == pytest.approx(profile.meta["importances"])
    assert set(record.importances or {}) == set(module_churn.config.features.all)
    assert profile.meta["source"] == "holdout"
    assert profile.meta["rows"] == frozen["holdout_rows"]
    assert isinstance(profile.columns["prediction"], CategoricalProfile)
    assert isinstance(profile.columns["score"], NumericProfile)
    assert profile.meta["positive_class"] == "1"
    assert set(candidate) >= {"model", "version", "artifact_uri", "sha256", "registry_key", "trained_rows"}


def test_a_profile_without_a_recorded_hash_is_not_loaded(module_churn: Deployment) -> None:
    bucket = module_churn.settings.artifact_bucket
    aws.put_bytes(bucket, snapshot.profile_key("churn", "0" * 64), b"not a profile")

    assert snapshot.load_profile(bucket, "churn", "0" * 64) is None  # no manifest lists it
    assert snapshot.load_profile(bucket, "churn", "1" * 64) is None
    assert snapshot.load_model_profile(f"s3://{bucket}/models/churn/v1/model.skops", sha256=None) is None


def test_a_profile_that_differs_from_its_recorded_hash_is_refused(module_churn: Deployment, frozen: dict) -> None:
    # Given the snapshot's stored profile, replaced by another valid profile
    bucket = module_churn.settings.artifact_bucket
    key = snapshot.profile_key("churn", frozen["id"])
    original = aws.get_bytes(bucket, key)
    champion = registry.require_champion(module_churn.settings.registry_table, "churn")
    other = aws.get_bytes(bucket, snapshot.profile_key("churn", champion.snapshot_id))
    aws.put_bytes(bucket, key, other)
    try:
        # Then loading it against the manifest's hash refuses it, naming the object
        with pytest.raises(ArtifactIntegrityError, match="sha256 mismatch"):
            snapshot.load_profile(bucket, "churn", frozen["id"])
    finally:
        aws.put_bytes(bucket, key, original)
