"""Run on the built layers alone: the science the steps do, with import and run timings.

Started by ``layers/build.py --smoke`` as ``python3.12 -I -S`` with only the layers on
``sys.path`` (boto3 is the runtime's, so the AWS adapters are not imported here).
"""

import io
import time

started = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

t_pandas = time.perf_counter() - started

from retrain.config import parse_config  # noqa: E402
from retrain.drift import detect_drift  # noqa: E402
from retrain.metrics import compute_metrics  # noqa: E402

t_checks = time.perf_counter() - started

from retrain import training  # noqa: E402

t_training = time.perf_counter() - started

rng = np.random.default_rng(0)
n = 5000
frame = pd.DataFrame(
    {
        "tenure": rng.gamma(2.0, 14.0, n),
        "charges": rng.normal(65, 15, n),
        "plan": rng.choice(["a", "b", "c"], n),
    }
)
frame["label"] = (frame["charges"] - frame["tenure"] + rng.normal(0, 10, n) > 30).astype(int)
config = parse_config(
    {
        "model": "smoke",
        "problem": "classification",
        "target": "label",
        "features": {"numeric": ["tenure", "charges"], "categorical": ["plan"]},
        "training": {"estimator": "HistGradientBoostingClassifier", "params": {"max_iter": 50}},
    }
)
buffer = io.BytesIO()
frame.to_parquet(buffer, index=False)
back = pd.read_parquet(io.BytesIO(buffer.getvalue()))
pd.testing.assert_frame_equal(back, frame, check_dtype=False)
engine = pd.io.parquet.get_engine("auto").__class__.__name__
print(f"  parquet via {engine}: dtypes after round trip {dict(back.dtypes.astype(str))}")
model = training.fit(config, back)
blob = training.dumps(model)
loaded = training.loads(blob, expected_sha256=training.sha256_hex(blob))
predictions = training.predict(loaded, back, config)
assert (predictions == training.predict(model, back, config)).all()
accuracy = compute_metrics("classification", back["label"].to_numpy(), predictions)["accuracy"]
shifted = back.assign(tenure=back["tenure"] + 5)
report = detect_drift(back, shifted, numeric=["tenure", "charges"], categorical=["plan"])
assert report.features["tenure"].drifted
assert not report.features["plan"].drifted
print(
    f"  imports: numpy+pandas {t_pandas:.2f} s, checks {t_checks:.2f} s, training {t_training:.2f} s; "
    f"whole smoke {time.perf_counter() - started:.2f} s; accuracy {accuracy:.3f}; parquet engine ok"
)
