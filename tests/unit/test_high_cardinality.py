"""Specification of training on a high-cardinality categorical feature (an id-like column).

One-hot encoding is bounded by ``training.max_categories``: an id with 50,000
distinct values must not become 50,000 dense columns (that took 21.5 GB and an
OOM kill; the Train Lambda has 3 GB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import OneHotEncoder

from retrain import training
from retrain.config import ModelConfig, parse_config
from retrain.errors import ConfigError
from retrain.frames import MISSING

pytestmark = pytest.mark.unit

#: The memory budget of fitting, predicting and round-tripping through skops, for the whole process.
PEAK_RSS_BUDGET_KIB = 1024 * 1024


def make_config(
    estimator: str = "LogisticRegression", params: dict[str, Any] | None = None, **training_extra
) -> ModelConfig:
    return parse_config(
        {
            "model": "accounts",
            "problem": "classification",
            "target": "churned",
            "features": {"numeric": ["tenure", "usage"], "categorical": ["account"]},
            "training": {"estimator": estimator, "params": params or {}, "min_rows": 10, "seed": 3, **training_extra},
        }
    )


def make_frame(rows: int, distinct: int, seed: int = 0) -> pd.DataFrame:
    """``distinct`` account ids (each at least once, the rest drawn again) and two numeric features."""
    rng = np.random.default_rng(seed)
    ids = np.concatenate([np.arange(distinct), rng.integers(0, distinct, rows - distinct)])
    tenure = rng.uniform(0, 60, rows)
    usage = rng.normal(10, 3, rows)
    score = -0.05 * tenure + 0.3 * (usage - 10) + rng.normal(0, 0.5, rows)
    return pd.DataFrame(
        {
            "tenure": tenure,
            "usage": usage,
            "account": [f"acct-{i:06d}" for i in ids],
            "churned": (score > -1.5).astype(int),
        }
    )


def encoder_of(model: Any) -> OneHotEncoder:
    encoder: OneHotEncoder = model.named_steps["preprocess"].named_transformers_["categorical"].named_steps["encode"]
    return encoder


# --- the memory bound, in a fresh process ----------------------------------------------------------

#: Fits each estimator (argv[2], JSON) on 60,000 rows with 50,000 distinct account ids and predicts; round-trips
#: the first through skops (the encoder, with its 50,000 categories, is what dominates the artifact and its checks,
#: whatever the estimator: one round trip keeps the test fast); prints the process's peak RSS in KiB: VmHWM of
#: /proc/self/status, the high-water mark of this program's own memory (getrusage's ru_maxrss would also count
#: the forked copy of the parent, a test runner holding a gigabyte, before exec).
PEAK_RSS_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from test_high_cardinality import make_config, make_frame
from retrain import training


def peak_kib():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])


frame = make_frame(60_000, 50_000)
report = {"before_fit_kib": peak_kib(), "widths": {}}
for i, (estimator, params) in enumerate(json.loads(sys.argv[2])):
    config = make_config(estimator, params)
    model = training.fit(config, frame)
    predicted = training.predict(model, frame, config)
    if i == 0:
        model = training.loads(training.dumps(model))
        assert (training.predict(model, frame, config) == predicted).all()
    report["widths"][estimator] = int(model.named_steps["estimator"].n_features_in_)
report["peak_kib"] = peak_kib()
print(json.dumps(report))
"""


def test_a_50k_value_categorical_trains_predicts_and_round_trips_within_1_gib() -> None:
    # Given the bundled demo's estimator and the default one of these tests, on an id-like feature
    estimators = [["HistGradientBoostingClassifier", {"max_iter": 20}], ["LogisticRegression", {}]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    # When a fresh process fits, predicts and round-trips both
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT, os.path.dirname(__file__), json.dumps(estimators)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )

    # Then its peak resident memory stays under 1 GiB (21.5 GB before the encoder was bounded)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["widths"] == {"HistGradientBoostingClassifier": 2 + 50, "LogisticRegression": 2 + 50}
    assert report["peak_kib"] < PEAK_RSS_BUDGET_KIB, f"peak RSS {report['peak_kib'] / 1024:.0f} MiB"


# --- the bounded encoder ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def high() -> pd.DataFrame:
    return make_frame(3_000, 2_000)


@pytest.fixture(scope="module")
def high_model(high: pd.DataFrame) -> Any:
    return training.fit(make_config(), high)


def test_a_high_cardinality_feature_is_encoded_into_at_most_max_categories_columns(
    high: pd.DataFrame, high_model: Any
) -> None:
    x = training.feature_frame(high, make_config())

    transformed = high_model.named_steps["preprocess"].transform(x)

    assert encoder_of(high_model)._n_features_outs == [50]
    assert transformed.shape == (len(high), 2 + 50)
    assert high_model.named_steps["estimator"].n_features_in_ == 2 + 50


def test_the_most_frequent_categories_keep_their_columns_and_the_rest_share_one(high: pd.DataFrame) -> None:
    # Given 10 accounts far more frequent than the 2,000 others
    frequent = [f"vip-{i}" for i in range(10)]
    frame = high.copy()
    frame.loc[: 10 * 50 - 1, "account"] = np.repeat(frequent, 50)
    config = make_config(max_categories=11)

    model = training.fit(config, frame)

    names = list(encoder_of(model).get_feature_names_out(["account"]))
    assert names == [f"account_{name}" for name in frequent] + ["account_infrequent_sklearn"]


@pytest.mark.parametrize("account", ["never-seen", None], ids=["unseen", "missing"])
def test_an_unseen_category_predicts_as_the_infrequent_column(high_model: Any, account: str | None) -> None:
    config = make_config()
    rows = pd.DataFrame({"tenure": [12.0], "usage": [9.5], "account": [account]})

    predicted = training.predict(high_model, rows, config)
    encoded = high_model.named_steps["preprocess"].transform(training.feature_frame(rows, config))

    assert predicted.shape == (1,)
    assert encoded[0, 2:].tolist() == [0.0] * 49 + [1.0]


def test_a_low_cardinality_feature_is_encoded_as_plain_one_hot_with_unseen_as_zeros() -> None:
    # Given fewer categories than max_categories, the encoding is scikit-learn's plain one-hot of before
    frame = make_frame(400, 3)
    frame.loc[::13, "account"] = None
    config = make_config()
    model = training.fit(config, frame)
    new = pd.DataFrame({"tenure": [1.0, 2.0, 3.0], "usage": [9.0, 10.0, 11.0], "account": ["acct-000001", "zz", None]})

    encoded = model.named_steps["preprocess"].transform(training.feature_frame(new, config))[:, 2:]

    reference = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(
        training.feature_frame(frame, config)[["account"]].fillna(MISSING)
    )
    expected = reference.transform(training.feature_frame(new, config)[["account"]].fillna(MISSING))
    np.testing.assert_array_equal(encoded, expected)
    assert expected[1].tolist() == [0.0] * 4  # the unseen "zz": all zeros, as before


def test_permutation_importances_permute_the_grouped_block(high: pd.DataFrame, high_model: Any) -> None:
    importances = training.permutation_importances(high_model, high, make_config(), repeats=1, max_rows=1_000)

    assert list(importances) == ["tenure", "usage", "account"]
    assert all(np.isfinite(value) for value in importances.values())


def test_max_categories_defaults_to_50_and_must_be_at_least_2() -> None:
    assert make_config().training.max_categories == 50

    with pytest.raises(ConfigError, match=r"training.max_categories: Input should be greater than or equal to 2"):
        make_config(max_categories=1)
