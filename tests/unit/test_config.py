"""Specification of retrain.config: the per-model retraining policy.

A minimal YAML file is enough (everything else has a documented default), and
every kind of bad input raises ConfigError with a message that names the field
at fault, so that a typo never silently turns a trigger off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nested import DELETE, changed
from retrain.config import ModelConfig, load_config, loads_config, parse_config
from retrain.errors import ConfigError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

MINIMAL_YAML = """\
model: churn
problem: classification
target: label
features:
  numeric: [tenure, charges]
  categorical: [plan]
triggers:
  performance: {metric: accuracy, min: 0.8}
  drift: {share: 0.3}
training:
  estimator: HistGradientBoostingClassifier
  params: {max_iter: 100}
validation:
  min: {accuracy: 0.8}
"""

REGRESSION_YAML = """\
model: house-prices
problem: regression
target: price
features:
  numeric: [area_m2, rooms]
  categorical: [district]
triggers:
  performance: {metric: rmse, max: 60}
training:
  estimator: Ridge
  params: {alpha: 1.0}
validation:
  max: {rmse: 75}
"""


def minimal() -> dict[str, Any]:
    """A fresh, mutable copy of the minimal classification config."""
    return yaml.safe_load(MINIMAL_YAML)


def with_change(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The minimal config with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    data: dict[str, Any] = changed(minimal() if base is None else base, path, DELETE if value is ... else value)
    return data


def config_error(data: Any) -> str:
    with pytest.raises(ConfigError) as excinfo:
        parse_config(data)
    return str(excinfo.value)


# accepted configs ---------------------------------------------------------------------------------------


def test_minimal_yaml_is_accepted_as_is() -> None:
    config = loads_config(MINIMAL_YAML)

    assert config.model == "churn"
    assert config.problem == "classification"
    assert config.target == "label"
    assert config.features.numeric == ["tenure", "charges"]
    assert config.features.categorical == ["plan"]
    assert config.features.all == ["tenure", "charges", "plan"]
    assert config.triggers.performance is not None
    assert config.triggers.performance.metric == "accuracy"
    assert config.triggers.performance.threshold == 0.8
    assert config.training.estimator == "HistGradientBoostingClassifier"
    assert config.training.params == {"max_iter": 100}
    assert config.validation.min == {"accuracy": 0.8}


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("schedule.mode", "check"),
        ("schedule.expression", "rate(1 day)"),
        ("schedule.enabled", True),
        ("alarms.performance.metric", "accuracy"),
        ("alarms.performance.threshold", 0.8),
        ("alarms.performance.comparison", "LessThanThreshold"),
        ("alarms.drift_share", 0.3),
        ("alarms.flagged_rate", 5.0),
        ("alarms.estimated.metric", "EstimatedAccuracy"),
        ("alarms.estimated.threshold", 0.8),
        ("alarms.estimated.comparison", "LessThanThreshold"),
        ("triggers.policy", "any"),
        ("triggers.performance.min_samples", 100),
        ("triggers.drift.p_value", 0.05),
        ("triggers.drift.min_samples", 100),
        ("monitoring.window_days", 7.0),
        ("monitoring.id_column", "id"),
        ("monitoring.timestamp_column", "timestamp"),
        ("monitoring.prediction_column", "prediction"),
        ("training.window_days", None),
        ("training.reference_fraction", 0.0),
        ("training.holdout_fraction", 0.2),
        ("training.min_rows", 200),
        ("training.seed", 0),
        ("validation.max", {}),
        ("validation.metric", None),
        ("validation.compare.mode", "not_worse"),
        ("validation.compare.delta", 0.0),
    ],
)
def test_minimal_yaml_gets_documented_default(attribute: str, expected: Any) -> None:
    value: Any = loads_config(MINIMAL_YAML)
    for name in attribute.split("."):
        value = getattr(value, name)

    assert value == expected


def test_drift_share_defaults_to_0_3_when_drift_trigger_is_empty() -> None:
    config = parse_config(with_change("triggers.drift", {}))

    assert config.triggers.drift is not None
    assert config.triggers.drift.share == 0.3


def test_triggers_are_off_when_not_configured() -> None:
    config = parse_config(with_change("triggers", ...))

    assert config.triggers.performance is None
    assert config.triggers.drift is None


def test_regression_variant_is_accepted() -> None:
    config = loads_config(REGRESSION_YAML)

    assert config.problem == "regression"
    assert config.triggers.performance is not None
    assert config.triggers.performance.max == 60
    assert config.triggers.performance.threshold == 60
    assert config.training.estimator == "Ridge"
    assert config.validation.max == {"rmse": 75}
    assert config.primary_metric == "rmse"


@pytest.mark.parametrize("path", sorted((ROOT / "infra" / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_example_config_file_validates(path: Path) -> None:
    config = load_config(path)

    assert config.model == path.stem


def test_example_configs_exist() -> None:
    names = {p.name for p in (ROOT / "infra" / "configs").glob("*.yaml")}

    assert {"churn.yaml", "house-prices.yaml"} <= names


def test_config_is_immutable() -> None:
    config = loads_config(MINIMAL_YAML)

    with pytest.raises(Exception, match="frozen"):
        config.target = "other"  # type: ignore[misc]


# rejected configs: every message names the field --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({**minimal(), "trigers": {}}, "trigers", id="unknown top-level key"),
        pytest.param(with_change("training.estimatr", "Ridge"), "training.estimatr", id="unknown training key"),
        pytest.param(with_change("triggers.drift.shares", 0.5), "triggers.drift.shares", id="unknown drift key"),
        pytest.param(with_change("validation.compare.margin", 0.1), "validation.compare.margin", id="deep unknown"),
    ],
)
def test_unknown_key_is_rejected_naming_it(data: dict[str, Any], field: str) -> None:
    message = config_error(data)

    assert f"{field}: unknown field" in message


@pytest.mark.parametrize("field", ["model", "problem", "target", "features", "training"])
def test_missing_required_field_is_rejected_naming_it(field: str) -> None:
    message = config_error(with_change(field, ...))

    assert f"{field}: Field required" in message


@pytest.mark.parametrize(
    "performance",
    [
        pytest.param({"metric": "accuracy", "min": 0.8, "max": 0.9}, id="both"),
        pytest.param({"metric": "accuracy"}, id="neither"),
    ],
)
def test_performance_trigger_needs_exactly_one_bound(performance: dict[str, Any]) -> None:
    message = config_error(with_change("triggers.performance", performance))

    assert "triggers.performance" in message
    assert "exactly one of 'min' or 'max'" in message


@pytest.mark.parametrize("metric", ["rmse", "mae"])
def test_min_on_lower_is_better_metric_is_rejected(metric: str) -> None:
    data = yaml.safe_load(REGRESSION_YAML)
    data["triggers"]["performance"] = {"metric": metric, "min": 10}

    message = config_error(data)

    assert "triggers.performance" in message
    assert f"{metric} is lower-is-better, use 'max'" in message


@pytest.mark.parametrize("metric", ["accuracy", "f1", "r2"])
def test_max_on_higher_is_better_metric_is_rejected(metric: str) -> None:
    message = config_error(with_change("triggers.performance", {"metric": metric, "max": 0.5}))

    assert f"{metric} is higher-is-better, use 'min'" in message


def test_unknown_trigger_metric_is_rejected_naming_the_field() -> None:
    message = config_error(with_change("triggers.performance", {"metric": "auc_roc", "min": 0.5}))

    assert "triggers.performance.metric == 'auc_roc'" in message


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("triggers.performance", {"metric": "accuracy", "min": 0.8}, "triggers.performance.metric"),
        ("validation.min", {"f1": 0.5}, "validation.min.f1"),
        ("validation.metric", "precision", "validation.metric"),
    ],
)
def test_classification_metric_in_regression_config_is_rejected(path: str, value: Any, field: str) -> None:
    message = config_error(with_change(path, value, base=yaml.safe_load(REGRESSION_YAML)))

    assert f"{field}: " in message
    assert "is not a regression metric" in message


def test_regression_metric_in_classification_config_is_rejected() -> None:
    message = config_error(with_change("validation.max", {"rmse": 1.0}))

    assert "validation.max.rmse: 'rmse' is not a classification metric" in message


def test_unknown_validation_metric_is_rejected_naming_the_field() -> None:
    message = config_error(with_change("validation.min", {"auc": 0.7}))

    assert "validation.min" in message
    assert "unknown metric 'auc'" in message


@pytest.mark.parametrize(
    "features",
    [
        pytest.param({"numeric": ["tenure", "tenure"]}, id="twice numeric"),
        pytest.param({"numeric": ["tenure"], "categorical": ["tenure"]}, id="numeric and categorical"),
    ],
)
def test_duplicated_feature_is_rejected_naming_it(features: dict[str, list[str]]) -> None:
    message = config_error(with_change("features", features))

    assert "features: listed more than once: tenure" in message


def test_no_feature_at_all_is_rejected() -> None:
    message = config_error(with_change("features", {"numeric": [], "categorical": []}))

    assert "features: at least one" in message


def test_target_listed_as_feature_is_rejected_naming_it() -> None:
    message = config_error(with_change("features.categorical", ["plan", "label"]))

    assert "target 'label' is also listed as a feature" in message


@pytest.mark.parametrize(
    ("path", "value", "column"),
    [
        pytest.param("features.numeric", ["tenure", "id"], "id", id="feature named id"),
        pytest.param("features.categorical", ["timestamp"], "timestamp", id="feature named timestamp"),
        pytest.param("target", "prediction", "prediction", id="target named prediction"),
        pytest.param("monitoring.id_column", "plan", "plan", id="id column is a feature"),
    ],
)
def test_reserved_monitoring_column_clash_is_rejected_naming_it(path: str, value: Any, column: str) -> None:
    message = config_error(with_change(path, value))

    assert f"column {column!r} is reserved for monitoring" in message


@pytest.mark.parametrize("name", ["Churn", "churn model", "-churn", "_churn", "", "a" * 64, "churn/v2"])
def test_bad_model_name_is_rejected_naming_the_field(name: str) -> None:
    message = config_error(with_change("model", name))

    assert f"model == {name!r}, must match" in message


@pytest.mark.parametrize("name", ["churn", "house-prices", "m_1", "0model", "a" * 63])
def test_good_model_name_is_accepted(name: str) -> None:
    assert parse_config(with_change("model", name)).model == name


@pytest.mark.parametrize(("share", "bound"), [(0, "greater than 0"), (-0.1, "greater than 0"), (1.01, "less than")])
def test_drift_share_outside_0_1_is_rejected_naming_the_field(share: float, bound: str) -> None:
    message = config_error(with_change("triggers.drift.share", share))

    assert "triggers.drift.share: " in message
    assert bound in message


@pytest.mark.parametrize("share", [1e-9, 0.5, 1])
def test_drift_share_inside_0_1_is_accepted(share: float) -> None:
    config = parse_config(with_change("triggers.drift.share", share))

    assert config.triggers.drift is not None
    assert config.triggers.drift.share == share


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("problem", "ranking"),
        ("schedule.mode", "sometimes"),
        ("triggers.policy", "most"),
        ("training.holdout_fraction", 0),
        ("training.holdout_fraction", 1),
        ("monitoring.window_days", 0),
        ("validation.compare.mode", "worse"),
        ("validation.compare.delta", -0.1),
    ],
)
def test_out_of_range_value_is_rejected_naming_the_field(path: str, value: Any) -> None:
    message = config_error(with_change(path, value))

    assert f"{path}: " in message


def test_every_problem_is_reported_at_once() -> None:
    data = with_change("schedule.mode", "sometimes", base=with_change("training.estimatr", "x"))

    message = config_error(data)

    assert "schedule.mode" in message
    assert "training.estimatr" in message


def test_message_does_not_repeat_the_field_path() -> None:
    message = config_error(with_change("triggers.performance", {"metric": "accuracy"}))

    assert message.count("triggers.performance") == 1


def test_message_starts_with_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^models/churn\.yaml: target: Field required"):
        parse_config(with_change("target", ...), source="models/churn.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("model: [churn\n", "not valid YAML", id="invalid YAML"),
        pytest.param("model: churn\n  problem: x: y\n", "not valid YAML", id="bad indentation"),
        pytest.param("- model\n- churn\n", "expected a mapping at the top level, got list", id="list"),
        pytest.param("churn\n", "expected a mapping at the top level, got str", id="scalar"),
        pytest.param("", "expected a mapping at the top level, got NoneType", id="empty"),
    ],
)
def test_unparsable_text_is_rejected(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        loads_config(text)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param(MINIMAL_YAML + "triggers:\n  drift: {share: 0.5}\n", "triggers", id="top-level"),
        pytest.param(
            MINIMAL_YAML.replace("  drift: {share: 0.3}", "  drift: {}\n  performance: {metric: f1, min: 0.5}"),
            "performance",
            id="nested",
        ),
        pytest.param(MINIMAL_YAML.replace("{max_iter: 100}", "{max_iter: 100, max_iter: 5}"), "max_iter", id="flow"),
    ],
)
def test_key_given_twice_is_rejected_naming_it(text: str, key: str) -> None:
    # PyYAML alone would keep the last value, silently dropping the first block
    with pytest.raises(ConfigError, match=f"not valid YAML(.|\n)*duplicate key {key!r}"):
        loads_config(text)


def test_unreadable_file_is_rejected_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    with pytest.raises(ConfigError, match=r"--config .*nope\.yaml does not exist"):
        load_config(missing)


def test_directory_path_is_rejected_as_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "churn.yaml"
    path.write_text(MINIMAL_YAML.replace("target: label", "target: plan"))

    with pytest.raises(ConfigError, match=rf"^{path}: target 'plan' is also listed as a feature"):
        load_config(path)


def test_config_error_chains_the_pydantic_error() -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_config(with_change("target", ...))

    assert excinfo.value.__cause__ is not None


# digest ------------------------------------------------------------------------------------------------


def test_digest_is_a_sha256_hex() -> None:
    digest = loads_config(MINIMAL_YAML).digest()

    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_digest_is_stable_for_equal_configs() -> None:
    reordered = yaml.safe_dump(dict(reversed(list(minimal().items()))))

    assert loads_config(MINIMAL_YAML).digest() == loads_config(reordered).digest()


def test_digest_is_the_same_when_a_default_is_written_out() -> None:
    explicit = with_change("monitoring", {"window_days": 7, "id_column": "id"})

    assert parse_config(explicit).digest() == loads_config(MINIMAL_YAML).digest()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("model", "churn-2"),
        ("triggers.performance.min", 0.81),
        ("triggers.drift.share", 0.31),
        ("training.params", {"max_iter": 101}),
        ("training.seed", 1),
        ("validation.min", {"accuracy": 0.79}),
        ("schedule.mode", "always"),
        ("features.categorical", ["plan", "region"]),
    ],
)
def test_digest_changes_when_a_field_changes(path: str, value: Any) -> None:
    assert parse_config(with_change(path, value)).digest() != loads_config(MINIMAL_YAML).digest()


# derived properties ------------------------------------------------------------------------------------


def _config(**changes: Any) -> ModelConfig:
    data = minimal()
    for path, value in changes.items():
        data = with_change(path.replace("__", "."), value, base=data)
    return parse_config(data)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, "accuracy", id="the performance trigger's metric"),
        pytest.param(
            {"triggers__performance": {"metric": "f1", "min": 0.5}, "validation__min": {}}, "f1", id="trigger f1"
        ),
        pytest.param({"validation__metric": "balanced_accuracy"}, "balanced_accuracy", id="validation.metric wins"),
        pytest.param({"triggers__performance": ...}, "accuracy", id="classification default"),
    ],
)
def test_primary_metric_of_classification(changes: dict[str, Any], expected: str) -> None:
    assert _config(**changes).primary_metric == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, "rmse", id="the performance trigger's metric"),
        pytest.param({"validation": {"metric": "mae"}}, "mae", id="validation.metric wins"),
        pytest.param({"triggers": {}, "validation": {}}, "rmse", id="regression default"),
        pytest.param({"triggers": {"performance": {"metric": "r2", "min": 0.5}}}, "r2", id="trigger r2"),
    ],
)
def test_primary_metric_of_regression(changes: dict[str, Any], expected: str) -> None:
    data = {**yaml.safe_load(REGRESSION_YAML), **changes}

    assert parse_config(data).primary_metric == expected


def test_training_window_defaults_to_the_monitoring_window() -> None:
    assert _config(monitoring={"window_days": 3}).training_window_days == 3


def test_training_window_can_be_longer_than_the_monitoring_window() -> None:
    assert _config(training__window_days=30).training_window_days == 30


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("validation:\n  min: {rmse: 10}\n", "validation.min.rmse"),
        ("validation:\n  max: {r2: 0.9}\n", "validation.max.r2"),
    ],
)
def test_a_bound_on_the_wrong_side_of_a_metric_is_refused(block, field):
    text = (
        """model: prices
problem: regression
target: price
features: {numeric: [area]}
training: {estimator: Ridge}
"""
        + block
    )

    with pytest.raises(ConfigError, match=field):
        loads_config(text)


def test_a_slice_column_must_be_a_categorical_feature():
    text = """model: churn
problem: classification
target: label
features: {numeric: [tenure], categorical: [plan]}
training: {estimator: LogisticRegression}
validation:
  slices: {columns: [tenure], max_drop: 0.05}
"""
    with pytest.raises(ConfigError, match=r"validation.slices.columns: 'tenure' is not a categorical feature"):
        loads_config(text)


def test_a_drift_setting_for_an_unknown_feature_is_refused_at_load():
    text = """model: churn
problem: classification
target: label
features: {numeric: [tenure], categorical: [plan]}
triggers:
  drift: {features: {tenur: {method: ks}}}
training: {estimator: LogisticRegression}
"""
    with pytest.raises(ConfigError, match=r"triggers.drift.features.tenur"):
        loads_config(text)


_REGRESSION_ESTIMATE = """model: prices
problem: regression
target: price
features: {numeric: [area]}
triggers:
  estimated: {%s}
training: {estimator: Ridge}
"""


def test_a_classification_estimate_is_refused_for_regression():
    with pytest.raises(ConfigError, match=r"triggers.estimated.metric: 'accuracy' is not estimated without labels "):
        loads_config(_REGRESSION_ESTIMATE % "metric: accuracy, min: 0.8")


@pytest.mark.parametrize("metric", ["mae", "rmse"])
def test_a_regression_model_may_trigger_on_its_estimated_error(metric: str):
    estimated = loads_config(_REGRESSION_ESTIMATE % f"metric: {metric}, max: 12.5").triggers.estimated

    assert estimated is not None
    assert (estimated.metric, estimated.direction, estimated.threshold) == (metric, "max", 12.5)


def test_an_estimated_error_is_a_ceiling():
    with pytest.raises(ConfigError, match=r"mae is lower-is-better, use 'max'"):
        loads_config(_REGRESSION_ESTIMATE % "metric: mae, min: 3")
