"""The drift check's output stays under Step Functions' payload limit, whatever the number of features."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from retrain.drift import detect_drift
from retrain.steps.drift_check import MAX_DETAILS_BYTES, _fit

pytestmark = pytest.mark.unit


def test_a_report_of_many_features_keeps_the_drifted_and_largest_effects_first() -> None:
    # Given 1500 features, the first 20 of them drifted
    rng = np.random.default_rng(0)
    names = [f"f{i:04d}" for i in range(1500)]
    reference = pd.DataFrame(rng.normal(size=(300, 1500)), columns=names)
    current = pd.DataFrame(rng.normal(size=(300, 1500)), columns=names)
    current[names[:20]] += 3.0
    details = detect_drift(reference, current, numeric=names, categorical=[]).model_dump(mode="json")
    assert len(json.dumps(details)) > MAX_DETAILS_BYTES

    # When
    fitted = _fit(details)

    # Then it fits, keeps every drifted feature and says how many it left out
    assert len(json.dumps(fitted)) <= MAX_DETAILS_BYTES
    drifted = {name for name, feature in details["features"].items() if feature["fired"]}
    assert set(names[:20]) <= drifted <= set(fitted["features"])
    assert fitted["features_omitted"] == 1500 - len(fitted["features"]) > 0
    assert fitted["n_features"] == 1500
    assert fitted["n_drifted"] == len(drifted)


def test_a_small_report_is_returned_as_it_is() -> None:
    details = {"features": {"a": {"fired": True, "effect": 1.0}}, "share": 1.0}

    assert _fit(details) is details
