"""The report page (:mod:`retrain.report_page`): one self-contained, escaped HTML page for every outcome."""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
import sys
from typing import Any

import pytest

from report_samples import HOSTILE, OUTCOMES, Page, full, no_retrain, real_promoted, rejected, synthetic
from retrain.report_page import num, p_value, pct, render, signed
from retrain.result import upgrade

pytestmark = pytest.mark.unit

DASH = "\u2013"


def _page(report: dict[str, Any]) -> tuple[str, Page]:
    page = render(report)
    return page, Page(page)


# ------------------------------------------------------------------ every outcome
@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_the_page_is_one_well_formed_document_for_every_outcome(outcome: str) -> None:
    # Given a report of each outcome (failed and refused runs included)
    report = OUTCOMES[outcome]()

    # When it is rendered
    page, parsed = _page(report)

    # Then it is one complete, balanced HTML document, every section drawn
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert page.rstrip().endswith("</html>")
    assert page.count("<body>") == 1
    assert parsed.errors == []
    assert "could not be drawn" not in page


@pytest.mark.parametrize(
    ("outcome", "sentence"),
    [
        (
            "promoted",
            "Schedule run of churn: retrained because accuracy 0.7153 < 0.8 and drift in 4 of 8 features; "
            "candidate v2 promoted over v1, passing all 3 gates "
            "(accuracy 0.8533 vs 0.7183: +0.1350 [+0.0950, +0.1750] not worse).",
        ),
        (
            "real-promoted",
            "Schedule run of churn: retrained because accuracy 0.7027 < 0.8, drift in 5 of 6 features and "
            "3 more signals (below); candidate v2 promoted over v1, passing all 3 gates "
            "(accuracy 0.8433 vs 0.6467: +0.1967 [+0.1300, +0.2600] not worse).",
        ),
        (
            "no-retrain",
            "Schedule run of churn: no signal fired (1 without enough data: champion vs candidate disagreement "
            "rate), so no retraining; champion v1 stays.",
        ),
        (
            "rejected",
            "Schedule run of churn: retrained because accuracy 0.7153 < 0.8 and drift in 3 of 6 features; "
            "candidate v2 rejected (failed: min accuracy (0.7612 < 0.8000) and vs champion (accuracy worse)); "
            "champion v1 stays.",
        ),
        (
            "failed",
            "Schedule run of churn failed with TrainingFailed while retraining because accuracy 0.7153 < 0.8 "
            "and drift in 3 of 5 features; champion v1 stays.",
        ),
        ("refused", "The inputs of this schedule run were refused (EventError); nothing ran."),
        (
            "insufficient-data",
            "Schedule run of churn: retraining was due (accuracy 0.7153 < 0.8 and drift in 3 of 5 features) "
            "but the training data was insufficient; champion v1 stays.",
        ),
        ("duplicate", "Schedule run of churn: this trigger event was already handled by an earlier run; nothing ran."),
    ],
)
def test_the_headline_says_what_triggered_the_run_why_and_what_came_of_it(outcome: str, sentence: str) -> None:
    _, parsed = _page(OUTCOMES[outcome]())

    assert sentence in parsed.text


@pytest.mark.parametrize(("outcome", "badge"), [("promoted", "promoted"), ("failed", "failed"), ("refused", "refused")])
def test_the_outcome_is_a_badge_beside_the_model(outcome: str, badge: str) -> None:
    page, _ = _page(OUTCOMES[outcome]())

    assert re.search(
        rf'<h1>[^<]*<span class="badge b-{"failed" if badge == "refused" else badge}">{badge}</span>', page
    )


def test_a_failed_run_shows_its_error_type_and_message_prominently() -> None:
    page, parsed = _page(OUTCOMES["failed"]())

    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', page, re.S)
    assert alert is not None
    assert "Run failed: TrainingFailed" in alert.group(1)
    assert "<pre>estimator &lt;HistGradientBoosting&gt; diverged &amp; gave NaN</pre>" in alert.group(1)
    # what the run learned before failing is still there
    assert len(parsed.marks) == 5


def test_a_refused_run_says_the_inputs_were_refused_and_why() -> None:
    page, parsed = _page(OUTCOMES["refused"]())

    assert "Inputs refused: EventError" in parsed.text
    assert "field 'model' == '<img src=x onerror=alert(1)>', must match ^[a-z0-9-]+$" in parsed.text
    assert "<img" not in page
    assert parsed.marks == []


def test_a_failed_check_is_named_with_its_error_and_the_other_checks_stand() -> None:
    _, parsed = _page(OUTCOMES["failed-check"]())

    assert "metrics check failed: SchemaMismatch: label column 'churned' missing <here>" in parsed.text
    assert parsed.row("signals", "performance on labels")[4] == "check failed"
    assert len(parsed.marks) == 6


def test_a_timed_out_run_and_an_unknown_outcome_still_get_a_headline() -> None:
    timed_out = {**OUTCOMES["duplicate"](), "outcome": "failed", "error": "TIMED_OUT", "error_type": "TIMED_OUT"}
    _, parsed = _page(timed_out)
    assert "Schedule run of churn failed with TIMED_OUT; champion v1 stays." in parsed.text
    assert "Run failed: TIMED_OUT (no further detail)" in parsed.text

    _, parsed = _page({"outcome": "{weird}", "model": "m", "trigger": "manual"})
    assert "Manual run of m: outcome {weird}." in parsed.text


def test_an_insufficient_data_run_shows_how_little_data_it_had() -> None:
    _, parsed = _page(OUTCOMES["insufficient-data"]())

    assert "Training data: InsufficientData: the training window has 42 labelled rows" in parsed.text


def test_a_signal_without_enough_data_is_marked_insufficient() -> None:
    _, parsed = _page(no_retrain())

    row = parsed.row("signals", "champion vs candidate disagreement rate")
    assert row[1] == DASH
    assert row[4] == "insufficient data"
    assert "no candidate newer than the champion v1" in row[0]


def test_an_empty_report_still_renders() -> None:
    _, parsed = _page({})

    assert parsed.errors == []
    assert "Retraining run" in parsed.text


def test_malformed_fields_do_not_break_the_page() -> None:
    # Given a report whose parts have the wrong shapes
    report = full(4)
    report["checks"]["drift"]["features"]["feature_000"] = None
    report["distributions"]["feature_001"] = {"kind": "numeric", "edges": [0, 1], "reference": [1, 2, 3]}
    report["gates"].append("not a gate")
    report["checks"]["metrics"]["ci"] = None
    report["candidate"]["metrics"] = ["accuracy"]

    # When it is rendered
    page, parsed = _page(report)

    # Then every section is drawn, the bad parts shown as missing
    assert "could not be drawn" not in page
    assert parsed.errors == []
    assert len(parsed.marks) == 4
    assert parsed.row("features", "feature_001")[-1] == "no distribution"


# ------------------------------------------------------------------ escaping
HOSTILE_STRINGS = [HOSTILE, "a&b \"quoted\" 'x'", "<b>bold</b>"]


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_no_string_of_the_report_reaches_the_page_unescaped(outcome: str) -> None:
    page, parsed = _page(OUTCOMES[outcome]())

    assert "<script" not in page.lower()
    assert "<b>bold</b>" not in page
    assert "onerror" not in {name for _, name, _ in parsed.attributes}
    assert 'a&b "quoted"' not in page


def test_a_hostile_feature_name_is_shown_as_text_and_kept_as_its_attribute() -> None:
    page, parsed = _page(full(8))

    assert 'data-feature="&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert 'data-feature="a&amp;b &quot;quoted&quot; &#x27;x&#x27;"' in page
    assert parsed.row("features", HOSTILE)[1] == "numeric"
    assert parsed.marks[0][0] == HOSTILE


def test_category_names_are_escaped_in_the_distribution() -> None:
    page, _ = _page(full(8))

    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "x&amp;y" in page


# ------------------------------------------------------------------ drift
def _fired(feature: dict[str, Any]) -> bool:
    """A feature's verdict: ``fired``, or ``drifted`` in a report written before that name (the stored sample)."""
    return bool(feature["fired"] if "fired" in feature else feature["drifted"])


def _expected_order(features: dict[str, Any]) -> list[str]:
    """Drifted first, then by effect, largest first (the page's order, computed here independently)."""
    return [name for name, _ in sorted(features.items(), key=lambda item: (not _fired(item[1]), -item[1]["effect"]))]


@pytest.mark.parametrize("sample", ["promoted", "real-promoted", "no-retrain"])
def test_the_drift_chart_has_one_mark_per_feature_sorted_by_drift(sample: str) -> None:
    report = OUTCOMES[sample]()
    features = report["checks"]["drift"]["features"]

    _, parsed = _page(report)

    assert [name for name, _ in parsed.marks] == _expected_order(features)
    for name, classes in parsed.marks:
        assert ("drifted" in classes) is _fired(features[name])


def test_the_feature_table_follows_the_chart_order() -> None:
    report = full(8)
    _, parsed = _page(report)

    names = [row[0] for row in parsed.rows["features"][1:]]
    for name, expected in zip(names, _expected_order(report["checks"]["drift"]["features"]), strict=True):
        assert name.startswith(expected)


def test_a_feature_row_shows_the_tests_numbers_as_the_report_has_them() -> None:
    # Given the real report: tenure_months drifted with p adj. 1.9476e-320, wasserstein 0.8696 vs 0.1
    report = real_promoted()
    feature = report["checks"]["drift"]["features"]["tenure_months"]
    feature.update(p_value_adjusted=1.9476e-320, missing_reference=0.0, missing_current=0.12)

    _, parsed = _page(report)

    _name, kind, test, statistic, p_adj, effect, missing, verdict, dist = parsed.row("features", "tenure_months")
    assert (kind, test, statistic, p_adj) == ("numeric", "ks", "0.434", "1.95e-320")
    assert effect == f"wasserstein {feature['effect']:.4g} / 0.1"
    assert missing == "0% \u2192 12%"
    assert verdict == "drifted"
    assert dist == "0 \u2013 72"  # the histogram's range (edges 0 .. 72)


def test_a_feature_without_a_distribution_says_so() -> None:
    report = full(8)
    missing = next(name for name in report["checks"]["drift"]["features"] if name not in report["distributions"])

    _, parsed = _page(report)

    assert parsed.row("features", missing)[-1] == "no distribution"
    assert parsed.text.count("no distribution") == 1


def test_numeric_distributions_are_two_paths_and_categorical_ones_two_series_of_bars() -> None:
    report = full(3)
    page, _ = _page(report)

    svgs = re.findall(r'<svg class="dist".*?</svg>', page, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        assert svg.count("<path ") == 2
        assert 'class="ref' in svg
        assert 'class="cur' in svg


def test_schema_drift_and_omitted_features_are_mentioned() -> None:
    report = full(4)
    report["checks"]["drift"].update(
        schema_drifted=["new_column"],
        features_omitted=12,
        findings=[{"kind": "not_in_reference", "feature": "x", "message": "x is new", "drift": True}],
    )

    _, parsed = _page(report)

    assert "Schema drift: new_column" in parsed.text
    assert "12 more features were left out of this report" in parsed.text
    assert "not in reference (counts as drift): x is new" in parsed.text


def test_the_drift_share_is_the_reports() -> None:
    _, parsed = _page(real_promoted())  # share 0.8333333333333334, threshold 0.3

    assert "5 of 6 features drifted (share 0.8333, fires at \u2265 0.3)" in parsed.text
    assert parsed.row("signals", "data drift share")[1:5] == ["0.8333", "", "\u2265 0.3", "fired"]


# ------------------------------------------------------------------ signals
def test_each_enabled_signal_is_a_row_with_value_interval_and_threshold() -> None:
    _, parsed = _page(full(8))

    rows = {row[0].split("  ")[0]: row for row in parsed.rows["signals"][1:]}
    assert parsed.row("signals", "accuracy on labels")[1:5] == ["0.7153", f"0.6997 {DASH} 0.732", "< 0.8", "fired"]
    assert parsed.row("signals", "estimated accuracy")[1:5] == ["0.9473", f"0.9439 {DASH} 0.9511", "< 0.8", "ok"]
    assert parsed.row("signals", "flagged rate")[1:5] == ["0.004", f"0.0021 {DASH} 0.007", "> 0.05", "ok"]
    assert parsed.row("signals", "importance-weighted")[1:5] == ["0.75", "", "\u2265 0.5", "fired"]
    assert parsed.row("signals", "multivariate drift")[1:5] == ["0.8125", "", "\u2265 0.55", "fired"]
    assert parsed.row("signals", "score drift")[1:5] == ["0.04321", "", "\u2265 0.1", "ok"]
    assert parsed.row("signals", "champion vs candidate")[1:5] == ["0.0625", "", "\u2265 0.05", "fired"]
    assert len(rows) == 8


def test_a_signal_chart_puts_its_dot_whiskers_and_threshold_in_order() -> None:
    # accuracy 0.7153 in [0.6997, 0.732], bound 0.8: whiskers around the dot, threshold to the right
    page, _ = _page(full(2))

    svg = re.search(r'<svg class="sig".*?</svg>', page, re.S)
    assert svg is not None
    whisker = re.search(r'class="whisker"', svg.group(0))
    dot = re.search(r'<circle cx="([\d.]+)"', svg.group(0))
    bound = re.search(r'<line x1="([\d.]+)" y1="1"', svg.group(0))
    ends = re.search(r'<path d="M([\d.]+) 12H([\d.]+)', svg.group(0))
    assert whisker
    assert dot
    assert bound
    assert ends
    low, high, x, threshold = float(ends[1]), float(ends[2]), float(dot[1]), float(bound[1])
    assert low < x < high < threshold
    # and the title says it in words
    assert "accuracy on labels: 0.7153 [0.6997, 0.732]; fires when &lt; 0.8" in svg.group(0)


# ------------------------------------------------------------------ gates and models
def test_a_report_written_with_the_earlier_field_names_renders_its_verdicts_and_thresholds() -> None:
    # Given the stored real report: its results say drifted / triggered / bound / limit, not fired / threshold
    report = real_promoted()
    checks = report["checks"]
    assert "fired" not in checks["metrics"]
    assert (checks["metrics"]["triggered"], checks["metrics"]["bound"]) == (True, 0.8)
    assert checks["drift"]["multivariate"]["drifted"] is True
    assert report["gates"][1]["limit"] == 0.8

    # When
    _, parsed = _page(report)

    # Then every verdict and threshold is read from the earlier names
    assert parsed.row("signals", "accuracy on labels")[3:5] == ["< 0.8", "fired"]
    assert parsed.row("signals", "multivariate drift")[4] == "fired"
    assert parsed.row("signals", "score drift")[4] == "fired"
    assert parsed.row("signals", "estimated accuracy")[3:5] == ["< 0.8", "ok"]
    assert parsed.row("features", "tenure_months")[7] == "drifted"
    assert parsed.row("gates", "min accuracy")[3] == "0.8"
    assert _page(report)[0] == _page(upgrade(report))[0]


def test_the_gates_table_has_the_reports_values() -> None:
    _, parsed = _page(full(4))

    assert parsed.row("gates", "vs champion") == [
        "vs champion",
        "pass",
        "0.135",
        "0",
        f"0.09496 {DASH} 0.175",
        "accuracy 0.8533 vs 0.7183: +0.1350 [+0.0950, +0.1750] not worse",
    ]
    assert parsed.row("gates", "min accuracy")[:4] == ["min accuracy", "pass", "0.8533", "0.8"]
    assert parsed.row("gates", "prediction sanity")[2:5] == [DASH, DASH, ""]


def test_failed_gates_are_marked_and_counted() -> None:
    _, parsed = _page(rejected())

    assert parsed.row("gates", "min accuracy")[:4] == ["min accuracy", "FAIL", "0.7612", "0.8"]
    assert "3 gates, 2 failed." in parsed.text


def test_champion_and_candidate_metrics_side_by_side_with_the_difference() -> None:
    _, parsed = _page(full(4))

    assert parsed.rows["compare"][0][:3] == ["Metric (holdout of 600 rows)", "Champion v1", "Candidate v2"]
    assert parsed.row("compare", "accuracy") == ["accuracy", "0.7183", "0.8533", "+0.135", "better"]
    # log_loss is lower-is-better: 0.5 -> 0.35 is an improvement
    assert parsed.row("compare", "log_loss")[:5] == ["log_loss", "0.5", "0.35", "-0.15", "better"]


def test_the_champions_own_window_metrics_are_shown_with_their_intervals_and_the_estimate() -> None:
    _, parsed = _page(real_promoted())

    assert parsed.row("window", "accuracy") == [
        "accuracy",
        "0.7027",
        f"0.68 {DASH} 0.7247",
        "0.9537",
        f"0.9495 {DASH} 0.9583",
    ]


def test_lineage_lists_snapshot_candidate_execution_and_report_uris() -> None:
    report = real_promoted()

    _, parsed = _page(report)

    for value in (
        report["snapshot"]["id"],
        report["snapshot"]["manifest_uri"],
        report["candidate"]["sha256"],
        report["candidate"]["artifact_uri"],
        report["lineage"]["config_sha256"],
        report["lineage"]["estimator"],
        report["execution"],
        report["execution_arn"],
        report["report"]["json_uri"],
        report["report"]["html_uri"],
        "scikit-learn " + report["lineage"]["libraries"]["scikit-learn"],
    ):
        assert value in parsed.text
    assert "train / holdout rows 1,200 / 300" in parsed.text


# ------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.7153333333333334, "0.7153"),
        (0.135, "0.135"),
        (1127.0297067433594, "1127"),
        (0.0, "0"),
        (3000, "3,000"),
        (1.0842021724855044e-19, "0"),  # floating-point noise around 0 (a bootstrap bound)
        (3.2e-07, "3.2e-7"),
        (None, DASH),
        (math.nan, DASH),
        (math.inf, DASH),
        (-math.inf, DASH),
        ("0.5", DASH),
        (True, DASH),
    ],
)
def test_numbers_have_four_significant_digits_and_a_dash_when_missing(value: Any, text: str) -> None:
    assert num(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5580796159541193, "0.558"), (0.05, "0.05"), (0.0012, "0.0012"), (1.9476e-320, "1.95e-320"), (0.0, "0")],
)
def test_p_values_turn_scientific_when_tiny(value: float, text: str) -> None:
    assert p_value(value) == text


def test_rates_and_differences() -> None:
    assert (pct(0.12), pct(0.0), pct(None)) == ("12%", "0%", DASH)
    assert (signed(0.135), signed(-0.15), signed(math.nan)) == ("+0.135", "-0.15", DASH)


def test_nan_and_infinity_in_the_report_show_as_a_dash() -> None:
    report = full(4)
    feature = report["checks"]["drift"]["features"][HOSTILE]
    feature.update(statistic=math.nan, p_value_adjusted=None, effect=math.inf, missing_current=math.nan)

    _, parsed = _page(report)

    row = parsed.row("features", HOSTILE)
    assert row[3:7] == [DASH, DASH, f"wasserstein {DASH} / 0.1", f"0% \u2192 {DASH}"]
    assert not re.search(r"\b(nan|inf|infinity)\b", parsed.text, re.I)


# ------------------------------------------------------------------ size and self-containment
def test_a_hundred_features_with_distributions_stay_well_under_a_megabyte() -> None:
    report = synthetic(100, seed=1)
    assert len(report["distributions"]) == 100

    page, parsed = _page(report)

    size = len(page.encode())
    assert size < 1_000_000
    assert size < 400_000  # the budget the module's docstring states
    assert len(parsed.marks) == 100


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_the_page_loads_nothing_from_anywhere(outcome: str) -> None:
    page, parsed = _page(OUTCOMES[outcome]())

    lowered = page.lower()
    for reference in ('src="http', 'href="http', "@import", "url(", "<script", "<link", "<iframe", "<img"):
        assert reference not in lowered
    assert not [(tag, name) for tag, name, _ in parsed.attributes if name in {"src", "href", "srcset", "xlink:href"}]
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in page


def test_the_module_imports_only_the_standard_library_and_the_result_contract() -> None:
    # In a fresh interpreter: what importing the renderer loads besides the standard library
    code = (
        "import sys, json; import retrain.report_page; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert set(json.loads(done.stdout)) <= {"retrain", "__main__"}


def test_render_does_not_change_the_report() -> None:
    report = full(6)
    before = copy.deepcopy(report)

    render(report)

    assert report == before


def test_the_estimated_row_says_how_it_was_estimated() -> None:
    from retrain.report_signals import measured_signals

    cbpe = {"enabled": True, "available": True, "method": "cbpe", "calibration": "isotonic", "metric": "accuracy"}
    dle = {"enabled": True, "available": True, "method": "dle", "metric": "mae", "direction": "max", "value": 12.5}

    (classifier,) = measured_signals({"checks": {"estimated": {**cbpe, "n": 300, "value": 0.9, "threshold": 0.8}}})
    (regression,) = measured_signals({"checks": {"estimated": {**dle, "n": 300, "threshold": 10.0}}})

    assert "CBPE, calibration isotonic" in classifier.note
    assert (classifier.fires, classifier.unit) == ("<", True)
    assert "DLE: the champion's loss model" in regression.note
    assert (regression.name, regression.fires, regression.unit) == ("estimated mae (no labels)", ">", False)
