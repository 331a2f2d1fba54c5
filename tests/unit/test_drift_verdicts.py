"""``detect_drift``: significant AND large enough, per feature and for the data set, and every edge case."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from pydantic import ValidationError

from retrain.config import DriftFeature, DriftThresholds
from retrain.drift import DriftResult, FeatureDrift, detect_drift
from retrain.errors import SchemaMismatch

pytestmark = pytest.mark.unit

NUMERIC = ["age", "tenure", "balance"]
CATEGORICAL = ["plan"]


def _window(rng: np.random.Generator, n: int, *, shift: float = 0.0, plans: tuple[str, ...] = ()) -> pd.DataFrame:
    plan_p = [0.5, 0.3, 0.2] if shift == 0 else [0.2, 0.3, 0.5]
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 10, n),
            "tenure": rng.exponential(12 * (1 + shift), n),
            "balance": rng.normal(1000, 200, n),
            "plan": rng.choice(list(plans or ("basic", "plus", "pro")), n, p=plan_p if not plans else None),
        }
    )


def _json(report: DriftResult) -> str:
    """The report as strict JSON: raises on NaN or infinity anywhere."""
    return json.dumps(report.model_dump(mode="json"), allow_nan=False)


# the verdict ------------------------------------------------------------------------------------------


def test_no_drift_between_samples_of_one_distribution() -> None:
    rng = np.random.default_rng(0)

    report = detect_drift(_window(rng, 1000), _window(rng, 800), numeric=NUMERIC, categorical=CATEGORICAL)

    assert not report.fired
    assert not report.insufficient
    assert report.n_features == 4
    assert report.n_drifted == 0
    assert report.share == 0.0
    assert report.reason is None
    assert report.findings == []
    assert list(report.features) == [*NUMERIC, *CATEGORICAL]
    age, plan = report.features["age"], report.features["plan"]
    assert (age.kind, age.test, age.method, age.threshold) == ("numeric", "ks", "wasserstein", 0.1)
    assert (plan.kind, plan.test, plan.method, plan.threshold) == ("categorical", "chi2", "js", 0.1)
    assert (age.n_reference, age.n_current) == (1000, 800)
    assert (report.n_reference, report.n_current, report.correction, report.p_value) == (1000, 800, "bh", 0.05)


def test_strong_shift_drifts_and_says_why() -> None:
    rng = np.random.default_rng(1)
    reference, current = _window(rng, 1000), _window(rng, 1000, shift=1.0)

    report = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL)

    assert report.fired
    assert {name for name, f in report.features.items() if f.fired} == {"age", "tenure", "plan"}
    assert report.reason == "drift in 3 of 4 features (share 0.75 >= 0.30)"
    age = report.features["age"]
    expected = scipy.stats.ks_2samp(reference["age"], current["age"])
    assert age.statistic == expected.statistic
    assert age.p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)
    wasserstein = scipy.stats.wasserstein_distance(reference["age"], current["age"])
    assert age.effect == pytest.approx(wasserstein / reference["age"].std(ddof=0), rel=1e-9)
    assert age.significant
    assert age.fired


def test_adjusted_p_values_are_benjamini_hochbergs_over_every_test() -> None:
    rng = np.random.default_rng(2)

    report = detect_drift(_window(rng, 500), _window(rng, 400, shift=0.3), numeric=NUMERIC, categorical=CATEGORICAL)

    raw = [f.p_value for f in report.features.values()]
    adjusted = [f.p_value_adjusted for f in report.features.values()]
    assert adjusted == pytest.approx(list(scipy.stats.false_discovery_control(raw, method="bh")), rel=1e-12)


def test_bonferroni_multiplies_each_p_value_by_the_number_of_tests() -> None:
    rng = np.random.default_rng(2)

    report = detect_drift(
        _window(rng, 500),
        _window(rng, 400, shift=0.3),
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        correction="bonferroni",
    )

    for feature in report.features.values():
        assert feature.p_value_adjusted == pytest.approx(min(1.0, 4 * feature.p_value))


def test_a_significant_but_tiny_change_on_a_large_window_is_not_drift() -> None:
    # Given 200 000 rows per window and a shift of 0.02 standard deviations: KS's p-value is tiny
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 200_000)})
    current = pd.DataFrame({"x": rng.normal(0.02, 1, 200_000)})

    report = detect_drift(reference, current, numeric=["x"], categorical=[])

    feature = report.features["x"]
    assert feature.significant
    assert feature.p_value < 1e-6
    assert feature.effect < feature.threshold  # about 0.02 standard deviations
    assert not feature.fired
    assert not report.fired


def test_a_large_but_insignificant_change_on_a_tiny_window_is_not_drift() -> None:
    # Given 30 current rows: noise alone moves the effect size past its threshold
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 5000)})
    current = pd.DataFrame({"x": rng.normal(0.15, 1, 30)})

    report = detect_drift(reference, current, numeric=["x"], categorical=[], min_samples=30)

    feature = report.features["x"]
    assert feature.effect >= feature.threshold
    assert not feature.significant
    assert not feature.fired


# methods and thresholds -------------------------------------------------------------------------------------


def test_a_numeric_feature_with_few_values_is_tested_as_categories() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"calls": rng.poisson(1.2, 3000)})
    current = pd.DataFrame({"calls": rng.poisson(2.2, 2000)})
    values = np.union1d(reference["calls"], current["calls"])
    table = np.array(
        [[(reference["calls"] == v).sum() for v in values], [(current["calls"] == v).sum() for v in values]]
    )

    report = detect_drift(reference, current, numeric=["calls"], categorical=[])

    calls = report.features["calls"]
    assert (calls.kind, calls.test, calls.method) == ("discrete", "chi2", "js")
    assert calls.fired
    if (table.min(axis=0) >= 5).all():  # nothing pooled: scipy's table
        assert calls.statistic == pytest.approx(scipy.stats.chi2_contingency(table, correction=False).statistic)


def test_psi_method_on_quantile_bins_of_a_hand_worked_case() -> None:
    # Reference 1..20 (x10), two bins split at the median 10: (-inf, 10], (10, inf) -> 50% / 50%.
    # Current: 30% at or below 10, 70% above -> PSI = 0.2 ln(5/3) + 0.2 ln(7/5).
    reference = pd.DataFrame({"x": np.tile(np.arange(1.0, 21.0), 10)})
    current = pd.DataFrame({"x": np.tile(np.r_[1.0:7.0, 11.0:25.0], 10)})

    report = detect_drift(
        reference, current, numeric=["x"], categorical=[], bins=2, features={"x": DriftFeature(method="psi")}
    )

    x = report.features["x"]
    assert (x.method, x.test, x.threshold) == ("psi", "ks", 0.2)
    assert x.effect == pytest.approx(0.2 * np.log(5 / 3) + 0.2 * np.log(7 / 5), rel=1e-12)


@pytest.mark.parametrize(
    ("feature", "method", "test", "kind"),
    [
        ("age", "ks", "ks", "numeric"),
        ("age", "js", "ks", "numeric"),
        ("age", "chi2", "chi2", "numeric"),  # chi-squared on the reference's quantile bins
        ("age", "linf", "chi2", "numeric"),
        ("plan", "psi", "chi2", "categorical"),
        ("plan", "linf", "chi2", "categorical"),
        ("plan", "chi2", "chi2", "categorical"),
    ],
)
def test_every_method_can_be_chosen_per_feature(feature: str, method: str, test: str, kind: str) -> None:
    rng = np.random.default_rng(6)

    report = detect_drift(
        _window(rng, 2000),
        _window(rng, 2000, shift=1.0),
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        features={feature: DriftFeature(method=method)},
    )

    result = report.features[feature]
    assert (result.method, result.test, result.kind) == (method, test, kind)
    assert result.fired
    assert result.effect > 0
    assert result.threshold == DriftThresholds().model_dump()[method]


def test_ks_effect_is_the_ks_statistic_and_linf_the_largest_share_change() -> None:
    rng = np.random.default_rng(7)
    reference, current = _window(rng, 2000), _window(rng, 2000, shift=1.0)

    report = detect_drift(
        reference,
        current,
        numeric=["age"],
        categorical=["plan"],
        features={"age": DriftFeature(method="ks"), "plan": DriftFeature(method="linf")},
    )

    assert report.features["age"].effect == report.features["age"].statistic
    shares = pd.concat(
        [reference["plan"].value_counts(normalize=True), current["plan"].value_counts(normalize=True)], axis=1
    )
    assert report.features["plan"].effect == pytest.approx((shares.iloc[:, 0] - shares.iloc[:, 1]).abs().max())


def test_thresholds_are_configurable_globally_and_per_feature() -> None:
    rng = np.random.default_rng(8)
    reference, current = _window(rng, 3000), _window(rng, 3000, shift=0.3)  # age moves 0.3 std

    strict = detect_drift(
        reference, current, numeric=["age"], categorical=[], thresholds=DriftThresholds(wasserstein=0.5)
    )
    per_feature = detect_drift(
        reference, current, numeric=["age"], categorical=[], features={"age": DriftFeature(threshold=0.5)}
    )
    as_mapping = detect_drift(reference, current, numeric=["age"], categorical=[], thresholds={"wasserstein": 0.5})

    for report in (strict, per_feature, as_mapping):
        assert report.features["age"].threshold == 0.5
        assert report.features["age"].significant
        assert not report.features["age"].fired


def test_a_method_that_does_not_apply_names_the_feature() -> None:
    frame = pd.DataFrame({"plan": ["a", "b"] * 100})

    with pytest.raises(ValueError, match=r"features.plan.method == 'wasserstein' does not apply to a categorical"):
        detect_drift(
            frame, frame, numeric=[], categorical=["plan"], features={"plan": DriftFeature(method="wasserstein")}
        )
    with pytest.raises(ValueError, match=r"features.nope: 'nope' is not a feature of the model"):
        detect_drift(frame, frame, numeric=[], categorical=["plan"], features={"nope": DriftFeature()})


# the data set's verdict -----------------------------------------------------------------------------------


def test_a_critical_feature_that_drifts_makes_the_data_set_drift() -> None:
    rng = np.random.default_rng(9)
    reference = _window(rng, 2000)
    current = _window(rng, 2000).assign(balance=lambda f: f["balance"] + 100)  # only balance moves, 0.5 std

    plain = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL)
    critical = detect_drift(
        reference, current, numeric=NUMERIC, categorical=CATEGORICAL, features={"balance": DriftFeature(critical=True)}
    )

    assert plain.n_drifted == 1
    assert not plain.fired
    assert critical.fired
    assert critical.critical == ["balance"]
    assert critical.critical_drifted == ["balance"]
    assert critical.reason == "critical feature 'balance' drifted"
    assert critical.features["balance"].critical


def test_drift_of_the_important_features_makes_the_data_set_drift() -> None:
    rng = np.random.default_rng(10)
    reference = _window(rng, 2000)
    current = _window(rng, 2000).assign(balance=lambda f: f["balance"] + 100)
    important = {"age": 0.1, "tenure": 0.1, "balance": 0.6, "plan": 0.2}
    unimportant = {"age": 0.6, "tenure": 0.2, "balance": 0.05, "plan": -0.01}

    fires = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, importances=important)
    quiet = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, importances=unimportant)

    assert fires.fired
    assert fires.weighted_share == pytest.approx(0.6)
    assert fires.reason == "importance-weighted drift share 0.60 >= 0.50"
    assert fires.features["balance"].importance == pytest.approx(0.6)
    assert not quiet.fired
    assert quiet.weighted_share == pytest.approx(0.05 / 0.85)
    assert quiet.features["plan"].importance == 0.0  # negative importances count as 0


def test_importance_weighting_is_off_without_useful_importances_or_a_threshold() -> None:
    rng = np.random.default_rng(11)
    reference, current = _window(rng, 500), _window(rng, 500)

    none = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, importances=None)
    useless = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, importances={"age": -0.1})
    off = detect_drift(
        reference, current, numeric=NUMERIC, categorical=CATEGORICAL, importances={"age": 1.0}, importance_share=None
    )

    assert none.weighted_share is None
    assert useless.weighted_share is None
    assert off.weighted_share == 0.0
    assert off.importance_share is None
    assert not off.fired


# schema, missing values, categories ---------------------------------------------------------------------------


def test_a_feature_missing_from_the_current_window_is_schema_drift() -> None:
    rng = np.random.default_rng(12)
    current = _window(rng, 200).drop(columns=["tenure"])

    report = detect_drift(_window(rng, 200), current, numeric=NUMERIC, categorical=CATEGORICAL)

    tenure = report.features["tenure"]
    assert tenure.method == "schema"
    assert tenure.fired
    assert tenure.test is None
    assert report.fired
    assert report.schema_drifted == ["tenure"]
    assert report.reason == "schema drift: current window is missing column 'tenure'"
    schema = [f for f in report.findings if f.kind == "schema"]
    assert [(f.feature, f.message, f.drift) for f in schema] == [
        ("tenure", "current window is missing column 'tenure'", True)
    ]


def test_a_numeric_feature_that_turned_to_text_is_schema_drift() -> None:
    rng = np.random.default_rng(13)
    reference = _window(rng, 300)
    current = _window(rng, 300).astype({"age": object})
    current.loc[:9, "age"] = "unknown"

    report = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL)

    assert report.features["age"].fired
    assert report.schema_drifted == ["age"]
    assert "column 'age' is numeric in the reference but the current window has 10 non-numeric values" in (
        report.reason or ""
    )
    assert "e.g. 'unknown'" in (report.features["age"].note or "")


def test_numbers_stored_as_text_are_compared_as_numbers() -> None:
    rng = np.random.default_rng(14)
    reference, current = _window(rng, 300), _window(rng, 300)

    report = detect_drift(reference, current.astype({"age": str}), numeric=["age"], categorical=[])

    assert not report.fired
    assert report.schema_drifted == []


def test_extra_columns_and_retyped_categories_are_findings_that_do_not_drift() -> None:
    rng = np.random.default_rng(15)
    reference = _window(rng, 300).assign(plan=lambda f: f["plan"].map({"basic": 1, "plus": 2, "pro": 3}))
    current = reference.assign(plan=lambda f: f["plan"].astype(str), new_field=1.0, id="x")

    report = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, ignore_columns=["id"])

    assert not report.fired
    messages = {f.message for f in report.findings}
    assert "columns not in the reference: 'new_field'" in messages
    assert "column 'plan' changed type: int in the reference, text now (categories are compared as text)" in messages
    assert not any(f.drift for f in report.findings)


def test_a_changed_missing_rate_of_a_numeric_feature_is_drift() -> None:
    # Given a feature whose values keep their distribution but go missing in 30% of current rows
    rng = np.random.default_rng(16)
    reference, current = _window(rng, 2000), _window(rng, 2000)
    current.loc[current.sample(frac=0.3, random_state=0).index, "balance"] = np.nan

    report = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL)

    balance = report.features["balance"]
    assert balance.missing_reference == 0.0
    assert balance.missing_current == pytest.approx(0.3)
    assert balance.missing_drifted
    assert balance.fired
    assert balance.effect < balance.threshold
    finding = next(f for f in report.findings if f.kind == "missing_rate")
    assert finding.feature == "balance"
    assert finding.drift
    assert finding.message.startswith("missing values in 'balance': 0.0% in the reference, 30.0% now")


def test_a_small_change_of_the_missing_rate_is_not_drift() -> None:
    rng = np.random.default_rng(17)
    reference, current = _window(rng, 3000), _window(rng, 3000)
    reference.loc[:299, "balance"] = np.nan  # 10%
    current.loc[:359, "balance"] = np.nan  # 12%: Cohen's h 0.06

    report = detect_drift(reference, current, numeric=NUMERIC, categorical=CATEGORICAL)

    assert report.features["balance"].missing_p_value is not None
    assert not report.features["balance"].missing_drifted


def test_an_unseen_category_drifts_and_is_named() -> None:
    rng = np.random.default_rng(18)
    reference = _window(rng, 500)
    current = _window(rng, 500, plans=("basic", "plus", "pro", "enterprise"))

    report = detect_drift(reference, current, numeric=[], categorical=["plan"], share=1.0)

    assert report.features["plan"].fired
    assert report.fired
    finding = next(f for f in report.findings if f.kind == "unseen_categories")
    assert "categories the reference never had: 'enterprise'" in finding.message


def test_thousands_of_categories_are_compared_on_the_top_ones_without_crashing() -> None:
    # Given a long-tailed feature with 5000 categories (a sample of the reference misses many rare ones,
    # as a current sample does) and a current window where a quarter of the rows went to 20 new shops
    rng = np.random.default_rng(19)
    names = np.array([f"shop-{i:05d}" for i in range(5000)])
    reference = pd.DataFrame({"shop": rng.choice(names, 20_000, p=np.r_[np.full(50, 0.01), np.full(4950, 0.5 / 4950)])})
    same = pd.DataFrame({"shop": rng.choice(names, 20_000, p=np.r_[np.full(50, 0.01), np.full(4950, 0.5 / 4950)])})
    new = same.copy()
    new.loc[:4999, "shop"] = [f"new-{i % 20}" for i in range(5000)]

    stable = detect_drift(reference, same, numeric=[], categorical=["shop"])
    changed = detect_drift(reference, new, numeric=[], categorical=["shop"])

    assert not stable.fired
    assert changed.features["shop"].fired
    unseen = next(f for f in changed.findings if f.kind == "unseen_categories")
    assert int(unseen.message.split(" current rows")[0]) >= 5000
    assert unseen.drift
    assert "'new-" in unseen.message
    assert stable.features["shop"].effect < 0.05 < changed.features["shop"].effect
    _json(changed)


# edge cases: never a crash, never a NaN verdict -------------------------------------------------------------------


def test_constant_and_all_nan_and_infinite_columns_give_clear_verdicts() -> None:
    n = 150
    reference = pd.DataFrame(
        {
            "const": np.ones(n),
            "moved": np.ones(n),
            "empty": np.full(n, np.nan),
            "gone": np.arange(n, dtype=float),
            "inf": np.r_[np.arange(n - 5, dtype=float), [np.inf] * 5],
            "cat": ["x"] * n,
        }
    )
    current = pd.DataFrame(
        {
            "const": np.ones(n),
            "moved": np.full(n, 3.0),
            "empty": np.full(n, np.nan),
            "gone": np.full(n, np.nan),
            "inf": np.r_[np.arange(n - 5, dtype=float), [-np.inf] * 5],
            "cat": [None] * n,
        }
    )

    report = detect_drift(reference, current, numeric=["const", "moved", "empty", "gone", "inf"], categorical=["cat"])

    f = report.features
    assert not f["const"].fired
    assert f["const"].statistic == 0.0
    assert f["const"].p_value == 1.0
    assert f["moved"].fired
    assert f["moved"].kind == "discrete"
    assert not f["empty"].fired
    assert f["empty"].note == "no finite values in either window: the values are not compared"
    assert f["gone"].fired
    assert f["gone"].missing_drifted
    assert f["gone"].missing_current == 1.0
    assert not f["inf"].fired
    assert f["inf"].missing_reference == pytest.approx(5 / n)
    assert f["cat"].fired  # all values became missing: "<missing>" is a category
    strict = _json(report)
    assert DriftResult.model_validate(json.loads(strict)) == report


def test_too_few_rows_is_insufficient_not_drifted() -> None:
    rng = np.random.default_rng(20)

    report = detect_drift(_window(rng, 500), _window(rng, 40, shift=2.0), numeric=NUMERIC, categorical=CATEGORICAL)

    assert report.insufficient
    assert not report.fired
    assert report.reason == "insufficient data: 40 current rows < min_samples 100"
    assert report.features == {}
    assert [f.kind for f in report.findings] == ["insufficient_data"]


def test_a_feature_missing_from_the_reference_is_reported_not_compared() -> None:
    rng = np.random.default_rng(21)
    reference = _window(rng, 300).drop(columns=["plan"])

    report = detect_drift(reference, _window(rng, 300), numeric=NUMERIC, categorical=CATEGORICAL)

    assert list(report.features) == NUMERIC
    assert report.n_features == 3
    finding = next(f for f in report.findings if f.kind == "not_in_reference")
    assert finding.message == "feature 'plan' is not in the reference: it is not compared"
    assert not finding.drift


def test_a_non_numeric_reference_column_is_a_schema_mismatch() -> None:
    frame = pd.DataFrame({"age": ["old", "young"] * 60})

    with pytest.raises(SchemaMismatch, match="column 'age' in reference is not numeric"):
        detect_drift(frame, frame, numeric=["age"], categorical=[])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"p_value": 0.0}, ValueError, "p_value == 0.0, must be > 0."),
        ({"p_value": 1}, ValueError, "p_value == 1, must be < 1."),
        ({"p_value": float("nan")}, ValueError, "p_value == nan, must be > 0."),
        ({"share": 0}, ValueError, "share == 0, must be > 0."),
        ({"share": 1.5}, ValueError, "share == 1.5, must be <= 1."),
        ({"min_samples": 1}, ValueError, "min_samples == 1, must be >= 2."),
        ({"min_samples": 10.0}, TypeError, "min_samples must be an instance of Integral, not float."),
        ({"p_value": "0.05"}, TypeError, "p_value must be an instance of Real, not str."),
        ({"bins": 1}, ValueError, "bins == 1, must be >= 2."),
        ({"missing_threshold": 0}, ValueError, "missing_threshold == 0, must be > 0."),
        ({"importance_share": 2}, ValueError, "importance_share == 2, must be <= 1."),
        ({"correction": "holm"}, ValueError, "correction == 'holm', must be 'bh' or 'bonferroni'."),
    ],
)
def test_parameters_are_checked(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    frame = pd.DataFrame({"a": np.arange(200.0)})

    with pytest.raises(error, match=f"^{message.replace('.', '[.]')}$"):
        detect_drift(frame, frame, numeric=["a"], categorical=[], **kwargs)  # type: ignore[arg-type]


def test_feature_lists_are_checked() -> None:
    frame = pd.DataFrame({"a": np.arange(200.0)})

    with pytest.raises(ValueError, match="at least one feature is required"):
        detect_drift(frame, frame, numeric=[], categorical=[])
    with pytest.raises(ValueError, match="column 'a' is listed as both numeric and categorical"):
        detect_drift(frame, frame, numeric=["a"], categorical=["a"])


def test_feature_drift_rejects_unknown_method() -> None:
    with pytest.raises(ValidationError):
        FeatureDrift(
            method="bogus",
            test="ks",
            kind="numeric",
            statistic=0.0,
            p_value=1.0,
            p_value_adjusted=1.0,
            effect=0.0,
            threshold=0.1,
            significant=False,
            fired=False,
            n_reference=1,
            n_current=1,
        )
