"""Univariate data drift of every feature, and the data set's verdict.

A feature drifts only when its change is **significant** (its test's p-value,
adjusted for testing every feature at once, is below ``p_value``) **and large
enough to matter** (its effect size reaches a practical threshold). On small
windows the test is what keeps noise from firing; on large windows, where every
p-value is tiny, the effect threshold is. So the verdict means the same thing at
200 rows and at a million.

Methods (``auto`` picks by the column's type):

========================  ===============================  ===========================================
feature                   test                             effect (default threshold)
========================  ===============================  ===========================================
numeric, continuous       two-sample KS                    Wasserstein / reference std (0.1)
numeric, <= 10 values     chi-squared on the values        Jensen-Shannon distance (0.1)
categorical               chi-squared, rare pooled         Jensen-Shannon distance (0.1)
========================  ===============================  ===========================================

Any feature can instead use ``ks`` (KS statistic, 0.1), ``psi`` (0.2, quantile
bins of the reference), ``wasserstein``, ``js``, ``chi2`` (Cramér's V, 0.1) or
``linf`` (largest change of one bin's share, 0.1). Non-finite values (NaN,
+-inf) are missing: a numeric feature's missing rate is tested on its own (two
proportions; Cohen's h >= ``missing_threshold``), and a categorical feature
counts ``<missing>`` as a category.

The data set drifts when the share of drifted features reaches ``share``, or a
critical feature drifts, or the drifted features carry ``importance_share`` of
the champion's permutation importance, or a feature's column is missing from
the current window or no longer numeric (schema drift).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from retrain.config import DriftFeature, DriftThresholds
from retrain.drift.comparison import (
    DEFAULT_THRESHOLDS,
    Kind,
    Method,
    Pending,
    Test,
    categorical_feature,
    finite_float,
    numeric_feature,
    window_feature,
)
from retrain.drift.merge import WindowProfile
from retrain.drift.profile import (
    DEFAULT_MAX_CATEGORIES,
    DEFAULT_POINTS,
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from retrain.drift.stats import Correction, adjust_p_values, ks_p_values
from retrain.frames import check_scalar, column_kind


class FeatureDrift(BaseModel):
    """Drift of one feature: its test, its effect size, and the verdict that needs both.

    ``statistic`` and ``p_value`` are the test's (``p_value_adjusted`` after the
    correction across features); ``effect`` is held to ``threshold``; ``fired``
    is the verdict: significant and ``effect >= threshold``, or the missing rate
    drifted (``missing_drifted``), or schema drift.
    """

    method: Method
    test: Test | None
    kind: Kind
    statistic: float
    p_value: float
    p_value_adjusted: float
    effect: float
    threshold: float
    significant: bool
    fired: bool
    n_reference: int
    n_current: int
    missing_reference: float = 0.0
    missing_current: float = 0.0
    missing_p_value: float | None = None
    missing_drifted: bool = False
    critical: bool = False
    importance: float | None = None
    note: str | None = None


class Finding(BaseModel):
    """Something the check noticed beyond one number: schema drift, a changed missing rate, new categories."""

    kind: Literal["schema", "missing_rate", "unseen_categories", "not_in_reference", "insufficient_data"]
    feature: str | None
    message: str
    drift: bool


class DriftResult(BaseModel):
    """Drift of every checked feature and the data set's verdict.

    ``fired`` is the data set's verdict (the module docstring says when);
    ``reason`` says why it fired, or why the result is ``insufficient`` (too few
    rows: nothing was tested and it does not fire); ``share`` is held to
    ``threshold_share``, ``weighted_share`` to ``importance_share``.
    """

    features: dict[str, FeatureDrift]
    n_features: int
    n_drifted: int
    share: float
    threshold_share: float
    fired: bool
    insufficient: bool
    reason: str | None
    p_value: float = 0.05
    correction: Correction = "bh"
    critical: list[str] = Field(default_factory=list)
    critical_drifted: list[str] = Field(default_factory=list)
    weighted_share: float | None = None
    importance_share: float | None = None
    schema_drifted: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    n_reference: int = 0
    n_current: int = 0


# ---------------------------------------------------------------------------------------- helpers
def _check_parameters(
    p_value: float,
    share: float,
    min_samples: int,
    correction: str,
    bins: int,
    missing_threshold: float,
    importance_share: float | None,
) -> None:
    check_scalar(p_value, "p_value", Real, min_val=0, max_val=1, include_boundaries="neither")
    check_scalar(share, "share", Real, min_val=0, max_val=1, include_boundaries="right")
    check_scalar(min_samples, "min_samples", Integral, min_val=2)
    check_scalar(bins, "bins", Integral, min_val=2)
    check_scalar(missing_threshold, "missing_threshold", Real, min_val=0, include_boundaries="neither")
    if importance_share is not None:
        check_scalar(importance_share, "importance_share", Real, min_val=0, max_val=1, include_boundaries="right")
    if correction not in ("bh", "bonferroni"):
        raise ValueError(f"correction == {correction!r}, must be 'bh' or 'bonferroni'.")


def _check_features(numeric: Sequence[str], categorical: Sequence[str], options: Mapping[str, DriftFeature]) -> None:
    if not [*numeric, *categorical]:
        raise ValueError("numeric and categorical are both empty, at least one feature is required.")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ValueError(f"column {both[0]!r} is listed as both numeric and categorical.")
    from retrain.config import DriftTrigger

    DriftTrigger(features=dict(options)).check_features(list(numeric), list(categorical))


def _weights(importances: Mapping[str, float] | None, names: Sequence[str]) -> dict[str, float] | None:
    """Permutation importances as weights that sum to 1 over ``names`` (negative ones count as 0)."""
    if not importances:
        return None
    raw = {name: max(finite_float(float(importances.get(name, 0.0))), 0.0) for name in names}
    total = sum(raw.values())
    if total <= 0:
        return None
    return {name: value / total for name, value in raw.items()}


def _current_columns(current: pd.DataFrame | WindowProfile) -> tuple[Collection[Any], Callable[[str], str]]:
    """The current window's columns and the kind of one (:func:`column_kind`), from a DataFrame or a profile."""
    if isinstance(current, WindowProfile):
        return list(current.schema), current.schema.__getitem__
    return current.columns, lambda name: column_kind(current[name].dtype)


def _schema_findings(
    profile: ReferenceProfile,
    current: pd.DataFrame | WindowProfile,
    numeric: Sequence[str],
    categorical: Sequence[str],
    ignore: Sequence[str],
) -> list[Finding]:
    findings: list[Finding] = []
    features = {*numeric, *categorical}
    current_columns, kind_of = _current_columns(current)
    for name in categorical:
        before = profile.schema.get(name)
        if name in current_columns and before is not None:
            after = kind_of(name)
            if _kind_class(before) != _kind_class(after):
                findings.append(
                    Finding(
                        kind="schema",
                        feature=name,
                        message=f"column {name!r} changed type: {before} in the reference, {after} now "
                        "(categories are compared as text)",
                        drift=False,
                    )
                )
    known = set(profile.schema) | features | set(ignore)
    extra = [str(c) for c in current_columns if str(c) not in known]
    if profile.schema and extra:
        shown = ", ".join(repr(c) for c in extra[:10]) + (f" and {len(extra) - 10} more" if len(extra) > 10 else "")
        findings.append(
            Finding(kind="schema", feature=None, message=f"columns not in the reference: {shown}", drift=False)
        )
    return findings


def _kind_class(kind: str) -> str:
    return "number" if kind in ("int", "float", "bool") else kind


def _insufficient(
    reference_rows: int, current_rows: int, min_samples: int, n_features: int, **common: Any
) -> DriftResult | None:
    short = [
        f"{rows} {label} rows < min_samples {min_samples}"
        for label, rows in (("reference", reference_rows), ("current", current_rows))
        if rows < min_samples
    ]
    if not short:
        return None
    reason = "insufficient data: " + "; ".join(short)
    return DriftResult(
        features={},
        n_features=n_features,
        n_drifted=0,
        share=0.0,
        fired=False,
        insufficient=True,
        reason=reason,
        findings=[Finding(kind="insufficient_data", feature=None, message=reason, drift=False)],
        n_reference=reference_rows,
        n_current=current_rows,
        **common,
    )


# ---------------------------------------------------------------------------------------- entry point
def detect_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame | WindowProfile,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    p_value: float = 0.05,
    share: float = 0.3,
    min_samples: int = 100,
    correction: Correction = "bh",
    bins: int = 10,
    thresholds: Mapping[str, float] | DriftThresholds | None = None,
    features: Mapping[str, DriftFeature] | None = None,
    missing_threshold: float = 0.2,
    importances: Mapping[str, float] | None = None,
    importance_share: float | None = 0.5,
    ignore_columns: Sequence[str] = (),
) -> DriftResult:
    """Test every feature for drift between a reference and a current window.

    See the module docstring for the methods and the verdicts. The reference is
    a :class:`ReferenceProfile` (sorted once, when the snapshot was made) or a
    DataFrame (profiled here). The current window is sorted column by column,
    or given as a :class:`~retrain.drift.merge.WindowProfile` (its partitions
    profiled and merged elsewhere, :mod:`retrain.drift.merge`): with exact
    partition profiles the statistics are the raw window's (the Wasserstein
    distance up to float rounding), with sketches within the profile's stated
    bounds.

    Parameters
    ----------
    reference : ReferenceProfile or pandas.DataFrame
        The reference (the champion's training snapshot).
    current : pandas.DataFrame or WindowProfile
        The current production window, or its (merged) window profile.
    numeric, categorical : sequence of str
        Names of the numeric and categorical features to test.
    p_value : float, default 0.05
        Level of the adjusted p-values, in (0, 1): the false discovery rate
        with ``bh``, the family-wise error rate with ``bonferroni``.
    share : float, default 0.3
        Share of drifted features at which the data set drifts, in (0, 1].
    min_samples : int, default 100
        Minimum rows in each window. Below it the report is ``insufficient``,
        not drifted, and no feature is tested.
    correction : {"bh", "bonferroni"}, default "bh"
        Multiple-testing correction across every test of the report (one per
        feature, plus one per numeric feature with missing values).
    bins : int, default 10
        Quantile bins of the reference for PSI, JS, L-inf and chi-squared on numeric features.
    thresholds : mapping method -> float, optional
        Practical thresholds per method (defaults: :data:`DEFAULT_THRESHOLDS`).
    features : mapping name -> DriftFeature, optional
        Per-feature method, threshold and critical flag.
    missing_threshold : float, default 0.2
        Cohen's h a significant change of a numeric feature's missing rate must reach.
    importances : mapping name -> float, optional
        The champion's permutation importances (normalized here; negative ones count as 0).
    importance_share : float or None, default 0.5
        Importance-weighted share of drifted features at which the data set drifts; None: off.
    ignore_columns : sequence of str
        Current columns that are not features (id, timestamp, prediction, ...): not reported as extra.

    Returns
    -------
    DriftResult

    Raises
    ------
    SchemaMismatch
        A numeric feature of a DataFrame reference is not numeric.
    ValueError
        A parameter is out of range, no feature is given, a feature is listed
        twice, or a feature's method does not apply to its kind; or a window
        profile has a column it did not profile as a feature, or profiled a
        feature as the other kind.
    TypeError
        A parameter has the wrong type.
    """
    options = dict(features or {})
    _check_parameters(p_value, share, min_samples, correction, bins, missing_threshold, importance_share)
    _check_features(numeric, categorical, options)
    limits = {**DEFAULT_THRESHOLDS, **(thresholds.model_dump() if isinstance(thresholds, DriftThresholds) else {})}
    if isinstance(thresholds, Mapping):
        limits.update(thresholds)
    columns = [*numeric, *categorical]
    if isinstance(reference, pd.DataFrame):
        present = set(reference.columns)
        reference = build_profile(
            reference,
            numeric=[c for c in numeric if c in present],
            categorical=[c for c in categorical if c in present],
            points=DEFAULT_POINTS,
            max_categories=DEFAULT_MAX_CATEGORIES,
            sample_rows=0,
        )
    profile = reference
    critical = [c for c in columns if options.get(c, DriftFeature()).critical]
    common: dict[str, Any] = {
        "threshold_share": share,
        "p_value": p_value,
        "correction": correction,
        "critical": critical,
        "importance_share": importance_share,
    }
    n_current = current.n_rows if isinstance(current, WindowProfile) else len(current)
    short = _insufficient(profile.n_rows, n_current, min_samples, len(columns), **common)
    if short is not None:
        return short

    findings = _schema_findings(profile, current, numeric, categorical, ignore_columns)
    pending: dict[str, Pending] = {}
    for name in columns:
        opts = options.get(name, DriftFeature())
        column = profile.columns.get(name)
        expected = NumericProfile if name in numeric else CategoricalProfile
        if not isinstance(column, expected):
            findings.append(
                Finding(
                    kind="not_in_reference",
                    feature=name,
                    message=f"feature {name!r} is not in the reference: it is not compared",
                    drift=False,
                )
            )
            continue
        if isinstance(current, WindowProfile):
            window = current.columns.get(name)
            if window is None and name in current.schema:
                raise ValueError(f"feature {name!r} is a column of the window profile but was not profiled.")
        if name not in (current.columns if isinstance(current, pd.DataFrame) else current.schema):
            item = Pending("schema", None, "categorical" if name in categorical else "numeric")
            item.n_reference, item.critical = column.n, opts.critical
            item.schema = f"current window is missing column {name!r}"
            pending[name] = item
            continue
        if isinstance(current, WindowProfile):
            item = window_feature(name, column, current, opts.method, opts.threshold, int(bins))
        elif isinstance(column, NumericProfile):
            item = numeric_feature(name, column, current[name], opts.method, opts.threshold, int(bins))
        else:
            item = categorical_feature(column, current[name], opts.method, opts.threshold)
        if opts.threshold is None:
            item.threshold = limits[item.method]
        item.critical = opts.critical
        pending[name] = item
    return _verdict(pending, findings, importances, profile.n_rows, n_current, missing_threshold, common)


def _verdict(
    pending: dict[str, Pending],
    findings: list[Finding],
    importances: Mapping[str, float] | None,
    n_reference: int,
    n_current: int,
    missing_threshold: float,
    common: dict[str, Any],
) -> DriftResult:
    alpha: float = common["p_value"]
    ks_rows = [n for n, p in pending.items() if p.tested and p.test == "ks"]
    if ks_rows:
        p_ks = ks_p_values(
            [pending[n].statistic for n in ks_rows],
            [pending[n].n_reference for n in ks_rows],
            [pending[n].n_current for n in ks_rows],
        )
        for name, p in zip(ks_rows, p_ks, strict=True):
            pending[name].p_value = finite_float(float(p), 1.0)
    tests: list[tuple[str, str]] = [(n, "value") for n, p in pending.items() if p.tested]
    tests += [(n, "missing") for n, p in pending.items() if p.missing_p_value is not None]
    raw = [pending[n].p_value if what == "value" else pending[n].missing_p_value for n, what in tests]
    adjusted = dict(zip(tests, adjust_p_values(np.asarray(raw, dtype=np.float64), common["correction"]), strict=True))
    weights = _weights(importances, list(pending))

    features: dict[str, FeatureDrift] = {}
    schema_drifted: list[str] = []
    for name, item in pending.items():
        p_adj = float(adjusted.get((name, "value"), 1.0))
        significant = item.tested and p_adj < alpha
        drifted = bool(significant and finite_float(item.effect) >= item.threshold)
        missing_adj = adjusted.get((name, "missing"))
        missing_drifted = bool(
            missing_adj is not None and missing_adj < alpha and item.missing_effect >= missing_threshold
        )
        if missing_drifted:
            findings.append(
                Finding(
                    kind="missing_rate",
                    feature=name,
                    message=f"missing values in {name!r}: {item.missing_reference:.1%} in the reference, "
                    f"{item.missing_current:.1%} now (Cohen's h {item.missing_effect:.2f})",
                    drift=True,
                )
            )
        if item.unseen:
            top = sorted(item.unseen.items(), key=lambda kv: -kv[1])[:5]
            findings.append(
                Finding(
                    kind="unseen_categories",
                    feature=name,
                    message=f"{sum(item.unseen.values())} current rows of {name!r} have {len(item.unseen)} "
                    f"categories the reference never had: " + ", ".join(f"{k!r} ({v})" for k, v in top),
                    drift=drifted,
                )
            )
        if item.schema:
            schema_drifted.append(name)
            findings.append(Finding(kind="schema", feature=name, message=item.schema, drift=True))
        features[name] = FeatureDrift(
            method=item.method if not item.schema or item.tested else "schema",
            test=item.test,
            kind=item.kind,
            statistic=finite_float(item.statistic),
            p_value=finite_float(item.p_value, 1.0),
            p_value_adjusted=finite_float(p_adj, 1.0),
            effect=finite_float(item.effect),
            threshold=item.threshold,
            significant=significant,
            fired=drifted or missing_drifted or item.schema is not None,
            n_reference=item.n_reference,
            n_current=item.n_current,
            missing_reference=item.missing_reference,
            missing_current=item.missing_current,
            missing_p_value=None if item.missing_p_value is None else finite_float(item.missing_p_value, 1.0),
            missing_drifted=missing_drifted,
            critical=item.critical,
            importance=None if weights is None else weights.get(name, 0.0),
            note="; ".join(([item.schema] if item.schema else []) + item.notes) or None,
        )
    return _dataset(features, findings, weights, schema_drifted, n_reference, n_current, common)


def _dataset(
    features: dict[str, FeatureDrift],
    findings: list[Finding],
    weights: dict[str, float] | None,
    schema_drifted: list[str],
    n_reference: int,
    n_current: int,
    common: dict[str, Any],
) -> DriftResult:
    n = len(features)
    drifted_names = [name for name, f in features.items() if f.fired]
    observed = len(drifted_names) / n if n else 0.0
    threshold_share: float = common["threshold_share"]
    importance_share: float | None = common["importance_share"]
    weighted = None if weights is None else sum(weights.get(name, 0.0) for name in drifted_names)
    critical_drifted = [name for name in common["critical"] if name in drifted_names]
    reasons: list[str] = []
    if schema_drifted:
        reasons.append("schema drift: " + "; ".join(features[name].note or name for name in schema_drifted))
    if n and observed >= threshold_share:
        reasons.append(f"drift in {len(drifted_names)} of {n} features (share {observed:.2f} >= {threshold_share:.2f})")
    if critical_drifted:
        noun = "feature" if len(critical_drifted) == 1 else "features"
        reasons.append(f"critical {noun} {', '.join(repr(c) for c in critical_drifted)} drifted")
    if weighted is not None and importance_share is not None and weighted >= importance_share:
        reasons.append(f"importance-weighted drift share {weighted:.2f} >= {importance_share:.2f}")
    return DriftResult(
        features=features,
        n_features=n,
        n_drifted=len(drifted_names),
        share=observed,
        fired=bool(reasons),
        insufficient=n == 0,
        reason="; ".join(reasons) if reasons else ("insufficient data: no feature to compare" if n == 0 else None),
        critical_drifted=critical_drifted,
        weighted_share=None if weighted is None else min(weighted, 1.0),
        schema_drifted=schema_drifted,
        findings=findings,
        n_reference=n_reference,
        n_current=n_current,
        **common,
    )
