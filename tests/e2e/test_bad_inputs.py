"""Bad inputs as a new user gives them: every one ends in a clear, typed error, never a traceback.

Each case runs the command line (``retrain local-run`` or ``retrain validate-config``)
and asserts the exit code, the error type, the words of the message, that
``result.json`` was written, and that the champion is unchanged.

Inputs refused before anything runs (exit code 2) need no cloud. The cases that
reach the state machine share one local cloud whose ``churn`` champion, v1, was
trained once; each case starts from an empty inference log and ends with v1
still champion.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import RESULT_CONTRACT, generate_houses
from retrain import aws, registry
from retrain.cli import main
from retrain.demo import CONFIG, generate_churn
from retrain.layout import inference_prefix, labels_prefix
from retrain.local.cloud import LocalCloud
from retrain.local.run import settings_of

pytestmark = pytest.mark.e2e

TEXT = CONFIG.read_text()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    reference = generate_churn(2000, seed=1)
    stable = generate_churn(600, seed=5)
    paths = {"reference": root / "reference.parquet", "stable": root / "stable.csv"}
    reference.to_parquet(paths["reference"], index=False)
    stable.to_csv(paths["stable"], index=False)
    return paths


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def local_run_args(
    out: Path, *, config: Path = CONFIG, reference: Path, current: Path, extra: tuple[str, ...] = ()
) -> list[str]:
    """The command line ``retrain local-run`` with these files, then ``extra``."""
    files = ["--config", str(config), "--reference", str(reference), "--current", str(current), "--out", str(out)]
    return ["local-run", *files, *extra]


def local_run(
    out: Path, *, config: Path = CONFIG, reference: Path, current: Path, extra: tuple[str, ...] = ()
) -> tuple[int, dict[str, Any]]:
    code = main(local_run_args(out, config=config, reference=reference, current=current, extra=extra))
    result = json.loads((out / "result.json").read_text())
    assert set(result) >= RESULT_CONTRACT
    return code, result


def refused(result: dict[str, Any], error_type: str, *words: str) -> None:
    """A local run refused before the cloud: no execution, no champion, the error typed and named."""
    assert result["outcome"] == "failed"
    assert result["invalid_input"] is True
    assert result["execution_arn"] is None
    assert result["error_type"] == error_type
    assert result["error"].startswith(f"{error_type}: ")
    for word in words:
        assert word in result["error"]
    assert "Traceback" not in result["error"]


# ------------------------------------------------------------------ refused before the cloud (exit code 2)
def _latin1_csv(frame: pd.DataFrame) -> bytes:
    frame = frame.copy()
    frame.loc[0, "payment_method"] = "chèque"
    return frame.to_csv(index=False).encode("latin-1")


FILE_CASES = [
    # (id, role, content builder, error type, words)
    ("empty csv", "reference", lambda ref: b"", "UnreadableData", ["--reference data", "is empty (0 bytes)"]),
    (
        "latin-1 csv",
        "current",
        _latin1_csv,
        "UnreadableData",
        ["--current window", "is not UTF-8: byte 0xe8", "Latin-1", "save it as UTF-8"],
    ),
    (
        "corrupt parquet",
        "reference",
        lambda ref: ref.to_parquet(index=False)[:-300] + b"PAR1",
        "UnreadableData",
        ["--reference data", "corrupt Parquet file"],
    ),
    (
        "duplicated columns",
        "current",
        lambda ref: ref.rename(columns={"support_calls": "tenure_months"}).to_csv(index=False).encode(),
        "SchemaMismatch",
        ["--current window", "duplicated column names: 'tenure_months'"],
    ),
    (
        "header only",
        "reference",
        lambda ref: b"tenure_months,churned\n",
        "InsufficientData",
        ["has a header but no rows"],
    ),
    ("xlsx", "current", lambda ref: b"PK\x03\x04 excel", "UnreadableData", ["the format '.xlsx' is not read"]),
    (
        "missing column",
        "reference",
        lambda ref: ref.drop(columns=["contract"]).to_csv(index=False).encode(),
        "SchemaMismatch",
        ["--reference data", "missing column 'contract'"],
    ),
    (
        "text in a numeric column",
        "reference",
        lambda ref: ref.astype({"tenure_months": object}).assign(tenure_months="ten").to_csv(index=False).encode(),
        "SchemaMismatch",
        ["'tenure_months' must be numeric, found 'ten'"],
    ),
    (
        "one class",
        "reference",
        lambda ref: ref.assign(churned=0).to_csv(index=False).encode(),
        "InsufficientData",
        ["has 1 class", "a classifier needs at least 2"],
    ),
    (
        "too few rows",
        "reference",
        lambda ref: ref.head(50).to_csv(index=False).encode(),
        "InsufficientData",
        ["fewer than training.min_rows == 200"],
    ),
    (
        "no labels",
        "reference",
        lambda ref: ref.assign(churned=np.nan).to_csv(index=False).encode(),
        "InsufficientData",
        ["0 training rows with a target 'churned'"],
    ),
    (
        "continuous target",
        "reference",
        lambda ref: ref.assign(churned=np.linspace(0.01, 0.99, len(ref))).to_csv(index=False).encode(),
        "SchemaMismatch",
        ["'churned'", "continuous"],
    ),
    (
        "repeated ids in the window",
        "current",
        lambda ref: ref.assign(id=["a", "a", *map(str, range(len(ref) - 2))]).to_csv(index=False).encode(),
        "SchemaMismatch",
        ["--current window", "id column 'id' must hold one distinct id per row", "'a'"],
    ),
    (
        "unparseable window timestamps",
        "current",
        lambda ref: ref.assign(timestamp="yesterday").to_csv(index=False).encode(),
        "SchemaMismatch",
        ["--current window", "timestamp column 'timestamp'", "'yesterday'"],
    ),
]


@pytest.mark.parametrize(
    ("role", "build", "error_type", "words"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_a_bad_data_file_is_refused_before_the_cloud_naming_the_file_and_its_role(
    data, tmp_path, capsys, role, build, error_type, words
):
    content = build(pd.read_parquet(data["reference"]))
    suffix = ".parquet" if content[:4] == b"PAR1" else ".xlsx" if content[:2] == b"PK" else ".csv"
    bad = write(tmp_path / f"bad{suffix}", content)
    paths = {"reference": data["reference"], "current": data["stable"], role: bad}

    code, result = local_run(tmp_path / "out", reference=paths["reference"], current=paths["current"])

    assert code == 2
    refused(result, error_type, str(bad), *words)
    assert f"invalid input: {error_type}: " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("case", "path"),
    [("missing file", "nope.csv"), ("directory", ".")],
)
def test_a_missing_file_or_a_directory_is_named(data, tmp_path, case, path):
    target = tmp_path / path
    code, result = local_run(tmp_path / "out", reference=target, current=data["stable"])

    assert code == 2
    if case == "missing file":
        refused(result, "DataNotFound", f"--reference data {target} does not exist")
    else:
        refused(result, "UnreadableData", "is a directory; give the path of a file")


CONFIG_CASES = [
    ("not utf-8", TEXT.replace("# Example", "# Exemple é").encode("latin-1"), "ConfigError", ["is not UTF-8"]),
    ("malformed yaml", "model: churn\nfeatures: [a\n", "ConfigError", ["not valid YAML"]),
    (
        "unknown key",
        TEXT.replace("target: churned", "target: churned\ntargte: x"),
        "ConfigError",
        ["targte: unknown field"],
    ),
    (
        "wrong type",
        TEXT.replace("min: {accuracy: 0.8}\n", "min: {accuracy: high}\n"),
        "ConfigError",
        ["validation.min"],
    ),
    (
        "path characters in the model name",
        TEXT.replace("model: churn", "model: ../../etc"),
        "ConfigError",
        ["model"],
    ),
    (
        "unknown estimator",
        TEXT.replace("HistGradientBoostingClassifier", "XGBClassifier"),
        "EstimatorNotAllowed",
        ["estimator 'XGBClassifier' is not allowed; use one of:"],
    ),
    (
        "unknown parameter",
        TEXT.replace("max_iter: 100", "max_iters: 100"),
        "EstimatorNotAllowed",
        ["unknown parameter 'max_iters' for HistGradientBoostingClassifier"],
    ),
    (
        "os.system",
        TEXT.replace("HistGradientBoostingClassifier", "os.system"),
        "EstimatorNotAllowed",
        ["estimator 'os.system' is not allowed"],
    ),
    (
        "regressor for classification",
        TEXT.replace("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"),
        "EstimatorNotAllowed",
        ["HistGradientBoostingRegressor is a regression estimator, but the model's problem is classification"],
    ),
    (
        "parameter of the wrong type",
        TEXT.replace("max_iter: 100", "max_iter: many"),
        "EstimatorNotAllowed",
        ["invalid parameter for HistGradientBoostingClassifier", "max_iter"],
    ),
]


@pytest.mark.parametrize(
    ("content", "error_type", "words"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_validate_config_refuses_what_every_run_refuses_and_local_run_says_the_same(
    data, tmp_path, capsys, content, error_type, words
):
    config = write(tmp_path / "config.yaml", content)

    assert main(["validate-config", str(config)]) == 2
    said = capsys.readouterr().err
    code, result = local_run(tmp_path / "out", config=config, reference=data["reference"], current=data["stable"])

    assert said.startswith(f"invalid: {error_type}: ")
    assert all(word in said for word in words)
    assert code == 2
    refused(result, error_type, *words)


def test_out_pointing_at_a_file_is_refused(data, tmp_path, capsys):
    out = write(tmp_path / "taken", "x")

    code = main(local_run_args(out, reference=data["reference"], current=data["stable"]))

    assert code == 2
    assert f"--out {out} is a file; give a directory for result.json" in capsys.readouterr().err
    assert out.read_text() == "x"


def test_force_without_a_manual_trigger_is_refused(data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(local_run_args(tmp_path, reference=data["reference"], current=data["stable"], extra=("--force",)))

    assert exited.value.code == 2
    assert "--force applies only to --trigger manual" in capsys.readouterr().err


# ------------------------------------------------------------------------- through the state machine
@pytest.fixture
def cloud_run(reused_cloud: LocalCloud, data, tmp_path):
    """Run a window through the shared cloud from an empty inference log; v1 must still be champion afterwards."""
    settings = settings_of(reused_cloud)

    def clear() -> None:
        for prefix in (inference_prefix("churn"), labels_prefix("churn")):
            for obj in aws.list_objects(settings.data_bucket, prefix):
                aws.s3().delete_object(Bucket=settings.data_bucket, Key=obj["key"])
        # Scheduled deliveries within triggers.dedupe_minutes count as one: forget the earlier cases' slots.
        table = settings.registry_table
        for item in aws.dynamodb().scan(TableName=table)["Items"]:
            if item["sk"]["S"].startswith("EVENT#schedule-"):
                aws.dynamodb().delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})

    def run(window: pd.DataFrame, *extra: str, config: Path = CONFIG) -> tuple[int, dict[str, Any]]:
        clear()
        path = tmp_path / "cur.csv"
        window.to_csv(path, index=False)
        return local_run(tmp_path / "out", config=config, reference=data["reference"], current=path, extra=extra)

    yield run
    champion = registry.get_champion(settings.registry_table, "churn")
    assert champion is not None
    assert champion.version == 1


def test_a_window_with_its_own_ids_and_timestamps_runs(cloud_run):
    window = generate_churn(600, seed=5)
    window.insert(0, "timestamp", pd.date_range("2023-03-01", periods=len(window), freq="10min", tz="UTC")[::-1])
    window.insert(0, "id", [f"order-{i}" for i in range(len(window))])

    code, result = cloud_run(window)

    assert (code, result["outcome"], result["error"]) == (0, "no-retrain", None)
    assert result["checks"]["metrics"]["n"] == 600  # every label joined on the window's own ids


def test_a_trigger_on_a_window_too_small_to_train_ends_insufficient_data(cloud_run, capsys):
    code, result = cloud_run(generate_churn(120, seed=6), "--trigger", "manual")

    assert code == 0
    assert result["outcome"] == "insufficient-data"
    assert result["triggered"] is True
    assert "has 120 labelled rows < training.min_rows 200" in result["insufficient"]
    assert result["error"] is None
    assert "not retrained: InsufficientData" in capsys.readouterr().out


def test_a_failed_run_keeps_what_its_checks_found(cloud_run):
    # Given a drifted window without the 'contract' column: drift fires (schema drift), Snapshot cannot train
    window = generate_churn(600, seed=7, drift=True).drop(columns=["contract"])

    code, result = cloud_run(window)

    assert code == 1
    assert result["outcome"] == "failed"
    assert result["error_type"] == "SchemaMismatch"
    assert "'contract'" in result["error"]
    assert result["triggered"] is True
    assert result["reasons"]
    assert result["checks"]["drift"]["fired"] is True
    assert "contract" in result["checks"]["drift"]["schema_drifted"]
    assert result["champion_version"] == 1


def test_labels_the_champion_never_saw_are_named(cloud_run):
    window = generate_churn(600, seed=8)
    window["churned"] = window["churned"].map({0: "no", 1: "yes"})

    code, result = cloud_run(window)

    assert code == 1
    assert result["error_type"] == "SchemaMismatch"
    assert "labels ['no', 'yes'] in column 'churned' were never seen by v1, which knows [0, 1]" in result["error"]
    # And the drift check's findings are kept beside the failed metric check
    assert result["checks"]["metrics"]["failed"] is True
    assert "MetricCheck" in result["checks"]["metrics"]["error"]
    assert result["checks"]["drift"]["n_features"] == 6


#: The churn config with a bar no candidate reaches: a window that triggers a retrain ends rejected, v1 stays.
UNBEATABLE = TEXT.replace("min: {accuracy: 0.8}\n", "min: {accuracy: 0.999}\n")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda w: w.assign(contract="five-year"), id="unseen categories"),
        pytest.param(lambda w: w.assign(monthly_charges=np.nan), id="an all-NaN feature"),
        pytest.param(
            lambda w: w.assign(monthly_charges=np.where(np.arange(len(w)) % 7 == 0, np.inf, w.monthly_charges)),
            id="infinite values",
        ),
        pytest.param(lambda w: w.drop(columns=["churned"]), id="no labels"),
        pytest.param(lambda w: w.assign(region="eu", score=1.0), id="extra columns"),
    ],
)
def test_windows_production_sends_are_judged_not_crashed_on(cloud_run, tmp_path, change):
    config = write(tmp_path / "unbeatable.yaml", UNBEATABLE)

    code, result = cloud_run(change(generate_churn(600, seed=9)), config=config)

    assert result["error"] is None, result["error"]
    assert code == 0
    assert result["outcome"] in {"no-retrain", "rejected"}


def test_text_labels_in_a_regression_window_name_the_column_and_the_step(reused_cloud, tmp_path):
    config = CONFIG.parent / "house-prices.yaml"
    reference, window = tmp_path / "houses.parquet", tmp_path / "window.csv"
    generate_houses(600, 1).to_parquet(reference, index=False)
    rows = generate_houses(300, 2).astype({"price": object})
    rows.loc[::3, "price"] = "expensive"
    rows.to_csv(window, index=False)

    code, result = local_run(tmp_path / "out", config=config, reference=reference, current=window)

    assert code == 1
    assert result["error_type"] == "SchemaMismatch"
    assert "MetricCheck" in result["error"]
    assert "'price'" in result["error"]
    assert "'expensive'" in result["error"]
    assert result["champion_version"] == 1


def test_a_regression_window_retrains_on_its_estimated_error(reused_cloud, tmp_path):
    # Given a regression model judged only on its label-free MAE estimate, with a ceiling its errors exceed
    text = (CONFIG.parent / "house-prices.yaml").read_text().replace("model: house-prices", "model: houses-dle")
    text = text.replace(
        "  performance: {metric: rmse, max: 60}\n  drift: {share: 0.3}\n", "  estimated: {metric: mae, max: 5}\n"
    )
    config = write(tmp_path / "houses-dle.yaml", text)
    reference, window = tmp_path / "houses.parquet", tmp_path / "window.csv"
    generate_houses(600, 1).to_parquet(reference, index=False)
    generate_houses(300, 2).to_csv(window, index=False)

    # When the window goes through the state machine
    code, result = local_run(tmp_path / "out", config=config, reference=reference, current=window)

    # Then the champion's loss model estimated the window's MAE, the estimate fired, and the run retrained
    estimated = result["checks"]["estimated"]
    assert code == 0, result["error"]
    assert (estimated["method"], estimated["available"], estimated["fired"]) == ("dle", True, True)
    assert estimated["metrics"]["mae"] == pytest.approx(result["checks"]["metrics"]["mae"], rel=0.35)
    assert result["triggered"] is True
    assert f"estimated mae {estimated['value']:.4g} > 5" in result["reasons"]
    assert result["outcome"] in {"promoted", "rejected"}
