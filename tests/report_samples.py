"""Report dicts for the report page's tests (:mod:`retrain.report_page`), one per outcome, and a size probe.

``tests/report_real_promoted.json`` is a real ``retrain local-run`` result: the
demo's churn data (reference ``generate_churn(3000, seed=21)``, window
``generate_churn(1500, seed=22, drift=True)``) with every signal enabled
(multivariate, prediction, prediction_difference, estimated, flagged), its
``distributions`` computed by :func:`retrain.drift.distributions.distributions`
from the same data, ``report`` URIs and ``finished_at`` added. It was written before the signal
results' fields were named ``fired`` and ``threshold`` (it says ``drifted``,
``triggered``, ``bound`` and ``limit``), as reports already stored in S3 do: it
is kept as it was, so the page is tested on such a report
(:func:`retrain.result.upgrade`).

The rest are synthetic, built from the contract of :mod:`retrain.result`.
Run this file to print the page's size for the real report and for 100 features
(or for the ``report.json`` / ``result.json`` files given)::

    .venv/bin/python tests/report_samples.py [report.json ...]
"""

from __future__ import annotations

import copy
import json
import random
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

HOSTILE = "<script>alert(1)</script>"
REAL = Path(__file__).parent / "report_real_promoted.json"
ARN = "arn:aws:states:us-east-1:123456789012:execution:retrain-sm:retrain-churn-0001"


def real_promoted() -> dict[str, Any]:
    """The real promoted run with drift and every signal (see the module docstring)."""
    report: dict[str, Any] = json.loads(REAL.read_text())
    return report


def _feature(rng: random.Random, *, numeric: bool, drifted: bool) -> dict[str, Any]:
    effect = 0.1 + rng.random() * 0.8 if drifted else rng.random() * 0.09
    return {
        "method": "wasserstein" if numeric else "js",
        "test": "ks" if numeric else "chi2",
        "kind": "numeric" if numeric else "categorical",
        "statistic": rng.random() * (1 if numeric else 900),
        "p_value": rng.random() ** 40 if drifted else 0.2 + rng.random() * 0.7,
        "p_value_adjusted": rng.random() ** 30 if drifted else 0.3 + rng.random() * 0.6,
        "effect": effect,
        "threshold": 0.1,
        "significant": drifted,
        "fired": drifted,
        "n_reference": 6000,
        "n_current": 3000,
        "missing_reference": 0.0,
        "missing_current": rng.choice([0.0, 0.0, 0.01, 0.12]),
        "missing_p_value": None,
        "missing_drifted": False,
        "critical": False,
        "importance": rng.random() / 10,
        "note": None,
    }


def _distribution(rng: random.Random, feature: dict[str, Any], *, categories: list[str] | None = None) -> dict:
    if feature["kind"] == "numeric":
        start, width = rng.uniform(-50, 50), rng.uniform(0.1, 20)
        return {
            "kind": "numeric",
            "edges": [start + i * width for i in range(21)],
            "reference": [rng.randint(0, 900) for _ in range(20)],
            "current": [rng.randint(0, 400) for _ in range(20)],
            "missing_reference": feature["missing_reference"],
            "missing_current": feature["missing_current"],
        }
    names = categories or [f"value-{i}" for i in range(rng.randint(2, 10))] + ["<other>", "<unseen>"]
    return {
        "kind": "categorical",
        "categories": names,
        "reference": [rng.randint(0, 900) for _ in names],
        "current": [rng.randint(0, 400) for _ in names],
        "missing_reference": feature["missing_reference"],
        "missing_current": feature["missing_current"],
    }


def drift_check(features: dict[str, Any], *, threshold_share: float = 0.3) -> dict[str, Any]:
    """``checks.drift`` of a run whose features are ``features``."""
    n_drifted = sum(1 for f in features.values() if f["fired"])
    share = n_drifted / len(features) if features else 0.0
    return {
        "share": share,
        "fired": share >= threshold_share,
        "n_drifted": n_drifted,
        "n_features": len(features),
        "threshold_share": threshold_share,
        "enabled": True,
        "insufficient": False,
        "reason": f"drift in {n_drifted} of {len(features)} features (share {share:.2f} >= {threshold_share:.2f})",
        "features": features,
        "p_value": 0.05,
        "correction": "bh",
        "critical_drifted": [],
        "weighted_share": 0.75,
        "importance_share": 0.5,
        "schema_drifted": [],
        "findings": [],
        "votes": {"dataset": share >= threshold_share, "multivariate": True, "prediction": False},
        "multivariate": {
            "method": "domain_classifier",
            "auc": 0.8125,
            "threshold": 0.55,
            "p_value": 0.0,
            "fired": True,
            "n_reference": 2000,
            "n_current": 1500,
            "folds": 3,
            "top_features": [{"feature": HOSTILE, "importance": 0.2}],
            "reason": "multivariate drift: domain classifier AUC 0.812 >= 0.55",
        },
        "prediction": {
            "on": "score",
            "result": {**_feature(random.Random(7), numeric=True, drifted=False), "effect": 0.04321, "threshold": 0.1},
            "fired": False,
            "insufficient": False,
            "reason": None,
            "n_reference": 600,
            "n_current": 3000,
        },
        "prediction_difference": {
            "rate": 0.0625,
            "n": 3000,
            "n_different": 187,
            "tolerance": 0.0,
            "max_rate": 0.05,
            "fired": True,
            "insufficient": False,
            "reason": "champion and candidate differ on 6.2% of 3000 rows (>= 5.0%)",
            "champion_version": 1,
            "candidate_version": 2,
        },
        "n_reference": 6000,
        "n_current": 3000,
        "profile": "stored",
    }


def metric_check(value: float = 0.7153, *, threshold: float = 0.8) -> dict[str, Any]:
    """``checks.metrics``: the champion's accuracy on the labelled window."""
    return {
        "accuracy": value,
        "f1": 0.8160275743214132,
        "log_loss": 1.1547991680568386,
        "n": 3000,
        "match_rate": 1.0,
        "metric": "accuracy",
        "threshold": threshold,
        "enabled": True,
        "fired": value < threshold,
        "insufficient": False,
        "reason": f"accuracy {value:.4g} < {threshold:.4g}" if value < threshold else None,
        "value": value,
        "use": "estimate",
        "statistic": value,
        "ci": {
            "accuracy": {"lower": value - 0.0156, "upper": value + 0.0167},
            "f1": {"lower": 0.8038, "upper": 0.8284},
        },
        "confidence": 0.95,
        "unavailable": {"roc_auc": "the inference log has no class probabilities"},
        "n_predictions": 3000,
    }


def _estimated() -> dict[str, Any]:
    return {
        "available": True,
        "enabled": True,
        "n": 3000,
        "metrics": {"accuracy": 0.9473, "f1": 0.9696},
        "ci": {"accuracy": {"lower": 0.9439, "upper": 0.9511}},
        "confidence": 0.95,
        "metric": "accuracy",
        "value": 0.9473,
        "threshold": 0.8,
        "direction": "min",
        "use": "estimate",
        "statistic": 0.9473,
        "min_samples": 100,
        "fired": False,
        "insufficient": False,
        "reason": None,
        "note": None,
    }


def _flagged() -> dict[str, Any]:
    return {
        "enabled": True,
        "n": 3000,
        "count": 12,
        "rate": 0.004,
        "ci": {"lower": 0.0021, "upper": 0.0070},
        "confidence": 0.95,
        "max_rate": 0.05,
        "min_samples": 100,
        "min_count": 5,
        "source": "column",
        "fired": False,
        "insufficient": False,
        "reason": None,
    }


GATES = [
    {
        "name": "prediction sanity",
        "passed": True,
        "value": None,
        "threshold": None,
        "detail": "600 predictions, none missing, 2 classes",
        "low": None,
        "high": None,
        "info": {},
    },
    {
        "name": "min accuracy",
        "passed": True,
        "value": 0.8533333333333334,
        "threshold": 0.8,
        "detail": "0.8533 >= 0.8000",
        "low": None,
        "high": None,
        "info": {},
    },
    {
        "name": "vs champion",
        "passed": True,
        "value": 0.135,
        "threshold": 0.0,
        "detail": "accuracy 0.8533 vs 0.7183: +0.1350 [+0.0950, +0.1750] not worse",
        "low": 0.09495833333333335,
        "high": 0.17500000000000004,
        "info": {},
    },
]


def full(n_features: int = 8, *, seed: int = 0) -> dict[str, Any]:
    """A promoted run with every field: all signals, ``n_features`` features (the first one hostile), gates."""
    rng = random.Random(seed)
    names = [HOSTILE, "a&b \"quoted\" 'x'", *(f"feature_{i:03d}" for i in range(max(n_features - 2, 0)))]
    names = names[:n_features]
    features = {name: _feature(rng, numeric=i % 3 != 2, drifted=i % 2 == 0) for i, name in enumerate(names)}
    distributions = {
        name: _distribution(rng, f, categories=["<b>bold</b>", "x&y"] if i == 2 else None)
        for i, (name, f) in enumerate(features.items())
    }
    if len(names) > 3:
        del distributions[names[3]]  # a feature the drift check compared but drew no distribution of
    execution = "retrain-churn-0001"
    return {
        "outcome": "promoted",
        "model": "churn",
        "trigger": "schedule",
        "execution": execution,
        "execution_arn": ARN,
        "status": "SUCCEEDED",
        "started_at": "2026-12-01T20:04:10+00:00",
        "finished_at": "2026-12-01T20:04:38+00:00",
        "triggered": True,
        "reasons": ["accuracy 0.7153 < 0.8", drift_check(features)["reason"]],
        "champion_version": 2,
        "checks": {
            "metrics": metric_check(),
            "estimated": _estimated(),
            "flagged": _flagged(),
            "drift": drift_check(features),
        },
        "snapshot": {
            "id": "146f5bd6" * 8,
            "rows": 3000,
            "train_rows": 2400,
            "holdout_rows": 600,
            "manifest_uri": "s3://bucket/snapshots/churn/146f/manifest.json",
        },
        "candidate": {
            "version": 2,
            "metrics": {"accuracy": 0.8533333333333334, "f1": 0.8880407124681934, "log_loss": 0.35},
            "artifact_uri": "s3://bucket/models/churn/v2/model.skops",
            "sha256": "ec655a39" * 8,
        },
        "champion": {
            "version": 1,
            "metrics": {"accuracy": 0.7183333333333334, "f1": 0.8169014084507042, "log_loss": 0.5},
        },
        "gates": copy.deepcopy(GATES),
        "error": None,
        "error_type": None,
        "reconcile": {"model": "churn", "champion_version": 1, "parameter": "in-sync", "failed_versions": []},
        "lineage": {
            "version": 2,
            "status": "champion",
            "config_sha256": "5294c624" * 8,
            "estimator": "HistGradientBoostingClassifier",
            "libraries": {"python": "3.12.1", "scikit-learn": "1.9.1"},
            "trigger": "schedule",
            "execution": execution,
            "trained_rows": 2400,
            "created_at": "2026-12-01T20:04:37+00:00",
        },
        "distributions": distributions,
        "report": {
            "json_uri": f"s3://bucket/reports/churn/{execution}/report.json",
            "html_uri": f"s3://bucket/reports/churn/{execution}/report.html",
        },
    }


def no_retrain() -> dict[str, Any]:
    report = full(6)
    features = {
        k: {**v, "fired": False, "effect": v["effect"] % 0.09} for k, v in report["checks"]["drift"]["features"].items()
    }
    report.update(
        outcome="no-retrain",
        triggered=False,
        reasons=[],
        champion_version=1,
        snapshot=None,
        candidate=None,
        champion={"version": 1, "metrics": None},
        gates=[],
        lineage=None,
    )
    report["checks"]["metrics"] = metric_check(0.8827)
    report["checks"]["drift"] = {**drift_check(features), "multivariate": None, "prediction": None}
    report["checks"]["drift"]["prediction_difference"] = {
        "insufficient": True,
        "reason": "insufficient data: no candidate newer than the champion v1",
        "champion_version": 1,
    }
    return report


def rejected() -> dict[str, Any]:
    report = full(6)
    report.update(outcome="rejected", champion_version=1)
    report["gates"][1].update(passed=False, value=0.7612, detail="0.7612 < 0.8000")
    report["gates"][2].update(passed=False, value=-0.0421, low=-0.08, high=-0.004, detail="accuracy worse")
    report["candidate"]["metrics"]["accuracy"] = 0.7612
    report["lineage"]["status"] = "rejected"
    return report


def failed() -> dict[str, Any]:
    """Failed in training: the checks' findings and the snapshot stay, no candidate or gates."""
    report = full(5)
    report.update(
        outcome="failed",
        status="FAILED",
        champion_version=1,
        candidate=None,
        champion={"version": 1, "metrics": None},
        gates=[],
        lineage=None,
        error="TrainingFailed: estimator <HistGradientBoosting> diverged & gave NaN",
        error_type="TrainingFailed",
        finished_at=None,
    )
    return report


def failed_check() -> dict[str, Any]:
    """The metric check's step failed; the drift check's findings stand."""
    report = no_retrain()
    report["checks"]["metrics"] = {
        "failed": True,
        "fired": False,
        "error": "SchemaMismatch: label column 'churned' missing <here>",
    }
    report["checks"].pop("estimated")
    report["checks"].pop("flagged")
    return report


def refused() -> dict[str, Any]:
    """:func:`retrain.result.refused`'s shape: the inputs were refused before anything ran."""
    return {
        "outcome": "failed",
        "model": None,
        "trigger": "schedule",
        "execution": None,
        "execution_arn": None,
        "status": None,
        "started_at": None,
        "finished_at": None,
        "triggered": False,
        "reasons": [],
        "champion_version": None,
        "checks": {},
        "snapshot": None,
        "candidate": None,
        "champion": {"version": None, "metrics": None},
        "gates": [],
        "error": "EventError: field 'model' == '<img src=x onerror=alert(1)>', must match ^[a-z0-9-]+$",
        "error_type": "EventError",
        "reconcile": None,
        "lineage": None,
        "distributions": {},
        "report": None,
        "invalid_input": True,
    }


def insufficient_data() -> dict[str, Any]:
    report = failed()
    report.update(
        outcome="insufficient-data",
        status="SUCCEEDED",
        error=None,
        error_type=None,
        snapshot=None,
        insufficient="InsufficientData: the training window has 42 labelled rows, training.min_rows is 500",
    )
    return report


def duplicate() -> dict[str, Any]:
    report = refused()
    report.update(
        outcome="duplicate",
        model="churn",
        execution="retrain-churn-0002",
        execution_arn=ARN,
        status="SUCCEEDED",
        error=None,
        error_type=None,
        champion_version=1,
        invalid_input=None,
    )
    return report


OUTCOMES = {
    "promoted": full,
    "real-promoted": real_promoted,
    "no-retrain": no_retrain,
    "rejected": rejected,
    "failed": failed,
    "failed-check": failed_check,
    "refused": refused,
    "insufficient-data": insufficient_data,
    "duplicate": duplicate,
}


def synthetic(n_features: int = 100, *, seed: int = 1) -> dict[str, Any]:
    """A promoted run with ``n_features`` features, each with a distribution (no feature lacks one)."""
    report = full(n_features, seed=seed)
    rng = random.Random(seed + 1)
    for name, feature in report["checks"]["drift"]["features"].items():
        report["distributions"].setdefault(name, _distribution(rng, feature))
    return report


class Page(HTMLParser):
    """What a test reads in a page: drift marks, each section's table rows, the text, unbalanced tags.

    ``marks``: ``(data-feature, classes)`` of every element whose class has
    ``drift-mark``, in document order. ``rows[table]``: the cell texts of each
    row (header rows included) of the table of that class (``signals``,
    ``features``, ``compare``, ``window``) or, classless, of that section id (``gates``). ``text``: the visible
    text (``<style>`` and ``<title>`` excluded). ``errors``: end tags that close
    nothing open, and tags left open.
    """

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"})

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.marks: list[tuple[str, set[str]]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.attributes: list[tuple[str, str, str]] = []
        self.errors: list[str] = []
        self._stack: list[str] = []
        self._section = self._table = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._text: list[str] = []
        self.feed(page)
        self.close()
        self.errors += [f"<{tag}> left open" for tag in self._stack]
        self.text = " ".join("".join(self._text).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self._text.append(" ")  # a tag separates words (``<th>name<div>importance``)
        if self._cell is not None:
            self._cell.append(" ")
        self.attributes += [(tag, k, v) for k, v in values.items()]
        classes = set(values.get("class", "").split())
        if "drift-mark" in classes:
            self.marks.append((values.get("data-feature", ""), classes))
        if tag == "section":
            self._section = values.get("id", "")
        if tag == "table":
            self._table = values.get("class") or self._section
        if tag == "tr":
            self._row = []
            self.rows.setdefault(self._table, []).append(self._row)
        if tag in ("td", "th") and self._row is not None:
            self._cell = []
        if tag not in self.VOID:
            self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        was = len(self._stack)
        self.handle_starttag(tag, attrs)
        del self._stack[was:]

    def handle_endtag(self, tag: str) -> None:
        if not self._stack or self._stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self._stack[-1] if self._stack else 'nothing'}")
            return
        self._stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1] in ("style", "title"):
            return
        self._text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def row(self, table: str, first: str) -> list[str]:
        """The cells of the row of ``table`` whose first cell starts with ``first``."""
        found = [r for r in self.rows.get(table, []) if r and r[0].startswith(first)]
        assert len(found) == 1, f"{len(found)} rows of {table!r} start with {first!r}"
        return found[0]


if __name__ == "__main__":
    import sys

    from retrain.report_page import render

    given = {path: json.loads(Path(path).read_text()) for path in sys.argv[1:]}
    reports = given or {"real promoted run, 6 features": real_promoted(), "synthetic, 100 features": synthetic(100)}
    for label, report in reports.items():
        print(f"{len(render(report).encode()):>9,} bytes  {label}")
