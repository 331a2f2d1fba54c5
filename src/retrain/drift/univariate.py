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

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from retrain.config import DriftFeature, DriftThresholds
from retrain.drift._params import check_scalar
from retrain.drift.merge import WindowCategorical, WindowNumeric, WindowProfile
from retrain.drift.profile import (
    DEFAULT_MAX_CATEGORIES,
    DEFAULT_POINTS,
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
    category_counts,
    column_kind,
    numeric_values,
)
from retrain.drift.stats import (
    MIN_EXPECTED,
    MISSING,
    PSI_EPSILON,
    Correction,
    adjust_p_values,
    chi2_table,
    cramers_v,
    jensen_shannon,
    ks_from_differences,
    ks_p_values,
    linf,
    pool_rare,
    psi,
    two_proportion_test,
    wasserstein_scale,
)

Method = Literal["ks", "psi", "wasserstein", "js", "chi2", "linf", "schema"]
Test = Literal["ks", "chi2"]
Kind = Literal["numeric", "discrete", "categorical"]

#: Default practical thresholds per method (``triggers.drift.thresholds``).
DEFAULT_THRESHOLDS: dict[str, float] = DriftThresholds().model_dump()


class FeatureDrift(BaseModel):
    """Drift of one feature: its test, its effect size, and the verdict that needs both."""

    method: Method
    test: Test | None
    kind: Kind
    statistic: float
    p_value: float
    p_value_adjusted: float
    effect: float
    threshold: float
    significant: bool
    drifted: bool
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


class DriftReport(BaseModel):
    """Drift of every checked feature and the data set's verdict."""

    features: dict[str, FeatureDrift]
    n_features: int
    n_drifted: int
    share: float
    threshold_share: float
    drifted: bool
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


def _finite(value: float, default: float = 0.0) -> float:
    """``value`` as a finite float (NaN -> ``default``, +-inf -> the largest float), so no verdict is NaN."""
    value = float(value)
    if math.isnan(value):
        return default
    if math.isinf(value):
        return math.copysign(float(np.finfo(np.float64).max), value)
    return value


@dataclass
class _Pending:
    """A feature's numbers before the p-values are adjusted across features."""

    method: Method
    test: Test | None
    kind: Kind
    statistic: float = 0.0
    p_value: float = 1.0
    tested: bool = False
    effect: float = 0.0
    threshold: float = 0.0
    n_reference: int = 0
    n_current: int = 0
    missing_reference: float = 0.0
    missing_current: float = 0.0
    missing_p_value: float | None = None
    missing_effect: float = 0.0
    critical: bool = False
    schema: str | None = None
    notes: list[str] = field(default_factory=list)
    unseen: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------- comparisons
def _fractions(counts: np.ndarray, n: int) -> np.ndarray:
    """``counts / n`` as ``np.linspace(0, 1, n + 1)[counts]`` computes it (``k * (1 / n)``, exactly 1 at ``n``).

    scipy's KS reads its CDF values from that linspace; doing the same arithmetic without building the
    array keeps the statistic bitwise equal to scipy's.
    """
    out = counts * (1.0 / n)
    out[counts == n] = 1.0
    return out


def compare_ecdf(reference: NumericProfile, current: np.ndarray) -> tuple[float, float]:
    """KS statistic and (unnormalized) Wasserstein distance of a profiled reference and a sorted current sample.

    The two CDFs are evaluated at the pooled points (the profile's values and
    the current values) in one pass: two ``searchsorted`` calls over the merged
    order. With an exact profile the KS statistic equals scipy's bit for bit.
    """
    m = current.size
    points, k = reference.values, reference.values.size
    # Merge: each profile point goes right after the current values <= it (K binary searches, K << m), so it
    # ends its group of equal values, and the number of profile points at or before every merged position
    # is a cumulative count. Every CDF below is then a gather: no per-value binary search over m values.
    after = np.searchsorted(current, points, side="right")
    pooled = np.insert(current, after, points)
    at = after + np.arange(k)  # where each profile point landed
    seen = np.cumsum(np.bincount(at, minlength=pooled.size))  # profile points <= pooled[i] (exact at group ends)
    ends = np.empty(pooled.size, dtype=bool)  # the last of each group of equal values: where a CDF is read
    np.not_equal(pooled[1:], pooled[:-1], out=ends[:-1])
    ends[-1] = True
    cur_counts = np.arange(1, pooled.size + 1) - seen  # current values <= pooled[i], at group ends
    differences = _reference_cdf(reference, pooled, seen)
    differences -= _fractions(cur_counts, m)
    statistic = ks_from_differences(differences[ends])
    # Between equal values the width is 0, so inside a group the (not yet final) CDFs do not count.
    np.abs(differences, out=differences)
    distance = float(np.dot(differences[:-1], np.diff(pooled)))
    return statistic, distance


def _reference_cdf(reference: NumericProfile, x: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The reference CDF at sorted ``x`` as a fraction, given ``seen``: how many profile points come before each.

    Exact profile: the count at the last point seen. Sketch: interpolated
    between points (:meth:`~retrain.drift.profile.NumericProfile.counts_given`).
    """
    if reference.exact:
        return _fractions(np.concatenate(([0], reference.le))[seen], reference.n)
    out = reference.counts_given(x, seen)
    out /= reference.n
    return out


def _reference_fractions(reference: NumericProfile, x: np.ndarray, side: Literal["left", "right"]) -> np.ndarray:
    """The reference CDF at sorted ``x`` (``right``) or just before it (``left``), read as :func:`compare_ecdf` does."""
    return _reference_cdf(reference, x, np.searchsorted(reference.values, x, side=side))


def compare_window_ecdf(reference: NumericProfile, current: WindowNumeric) -> tuple[float, float]:
    """KS statistic and (unnormalized) Wasserstein distance of a profiled reference and a window profile.

    Both CDFs are read at the union of the two profiles' points. With an exact
    window the differences there are the ones :func:`compare_ecdf` computes from
    the raw sorted window (the KS statistic is equal bit for bit; the
    Wasserstein sum is the same sum without its zero-width terms, equal up to
    float rounding). With a sketched window the differences are also read just
    before each point and the distance is the exact integral of their absolute
    value (linear between points): both are within the window's
    :attr:`~retrain.drift.merge.WindowNumeric.ks_bound` and
    :attr:`~retrain.drift.merge.WindowNumeric.wasserstein_bound` of the exact
    statistics against an exact reference.
    """
    pooled = np.union1d(reference.values, current.values)
    m = current.n
    right = _reference_fractions(reference, pooled, "right")
    right -= _fractions(current.counts(pooled, "right"), m)
    width = np.diff(pooled)
    if current.exact:
        statistic = ks_from_differences(right)
        np.abs(right, out=right)
        return statistic, float(np.dot(right[:-1], width))
    left = _reference_fractions(reference, pooled, "left")
    left -= _fractions(current.counts(pooled, "left"), m)
    statistic = ks_from_differences(np.concatenate((right, left)))
    a, b = right[:-1], left[1:]  # the difference at the start and just before the end of each interval
    size = np.abs(a) + np.abs(b)
    crossing = a * b < 0  # the difference changes sign inside: two triangles
    with np.errstate(divide="ignore", invalid="ignore"):
        area = np.where(crossing, (a * a + b * b) / (2.0 * size), size / 2.0)
    return statistic, float(np.dot(area, width))


def _effect(method: str, ref_counts: np.ndarray, cur_counts: np.ndarray, chi2: float, columns: int) -> float:
    if method == "psi":
        return psi(ref_counts, cur_counts, epsilon=PSI_EPSILON)
    if method == "js":
        return jensen_shannon(ref_counts, cur_counts)
    if method == "linf":
        return linf(ref_counts, cur_counts)
    # chi2: Cramér's V of the test
    return cramers_v(chi2, float(ref_counts.sum() + cur_counts.sum()), columns)


def _resolve(kind: str, discrete: bool, method: str) -> tuple[Method, Test, Kind]:
    """The effect method, the test and the treatment of a feature for a configured method."""
    if kind == "categorical":
        return ("js" if method == "auto" else method), "chi2", "categorical"  # type: ignore[return-value]
    if method == "auto":
        return ("js", "chi2", "discrete") if discrete else ("wasserstein", "ks", "numeric")
    if method in ("ks", "wasserstein"):
        return method, "ks", "numeric"  # type: ignore[return-value]
    if method in ("psi", "js"):
        return (method, "chi2", "discrete") if discrete else (method, "ks", "numeric")  # type: ignore[return-value]
    return method, "chi2", ("discrete" if discrete else "numeric")  # type: ignore[return-value]


def _numeric_feature(
    name: str, profile: NumericProfile, series: pd.Series, method: str, threshold: float | None, bins: int
) -> _Pending:
    effect_method, test, kind = _resolve("numeric", profile.discrete, method)
    out = _Pending(effect_method, test, kind)
    out.threshold = threshold if threshold is not None else DEFAULT_THRESHOLDS[effect_method]
    values, n_bad, example = numeric_values(series)
    if n_bad:
        out.schema = (
            f"column {name!r} is numeric in the reference but the current window has {n_bad} non-numeric "
            f"values (dtype {series.dtype}, e.g. {example!r})"
        )
    finite = values[np.isfinite(values)]
    finite.sort()
    if not _numeric_missing(out, profile, len(series), int(finite.size)):
        return out
    _compare_numeric(
        out,
        profile,
        bins,
        n=int(finite.size),
        ecdf=lambda: compare_ecdf(profile, finite),
        count_equal=lambda x: np.searchsorted(finite, x, side="right") - np.searchsorted(finite, x, side="left"),
        count_le=lambda x: np.searchsorted(finite, x, side="right"),
    )
    return out


def _compare_numeric(
    out: _Pending,
    profile: NumericProfile,
    bins: int,
    *,
    n: int,
    ecdf: Callable[[], tuple[float, float]],
    count_equal: Callable[[np.ndarray], np.ndarray],
    count_le: Callable[[np.ndarray], np.ndarray],
) -> None:
    """A numeric feature's test and effect from the current window's CDF: its ``n`` finite values, the KS
    statistic and Wasserstein distance against the reference (``ecdf``), and its counts of values equal to /
    at most each of an array of points (the raw sorted window or a merged window profile)."""
    if out.test == "ks" or out.method in ("ks", "wasserstein"):
        statistic, distance = ecdf()
        if out.test == "ks":
            out.statistic = statistic
        if out.method == "ks":
            out.effect = statistic
        elif out.method == "wasserstein":
            out.effect = distance / wasserstein_scale(profile.mean, profile.std)
    if out.test == "chi2" or out.method in ("psi", "js", "linf", "chi2"):
        if out.kind == "discrete":
            ref_counts = np.concatenate((np.diff(profile.le, prepend=0), [0]))
            inside = count_equal(profile.values)
            cur_counts = np.concatenate((inside, [n - inside.sum()]))
            if cur_counts[-1]:
                out.notes.append(f"{int(cur_counts[-1])} current values the reference never had")
        else:
            edges, ref_counts = profile.bins(bins)
            cur_counts = np.diff(np.concatenate(([0], count_le(edges), [n])))
        _binned(out, ref_counts, cur_counts)


def _numeric_missing(out: _Pending, profile: NumericProfile, m_rows: int, m: int) -> bool:
    """Counts and the missing-rate test of a numeric feature; whether its values can be compared."""
    out.n_reference, out.n_current = profile.n, m
    out.missing_reference = profile.n_missing / profile.n_rows if profile.n_rows else 0.0
    out.missing_current = (m_rows - m) / m_rows if m_rows else 0.0
    if profile.n_missing or m_rows - m:
        out.missing_p_value, out.missing_effect = two_proportion_test(
            profile.n_missing, profile.n_rows, m_rows - m, m_rows
        )
    if profile.n == 0 or m == 0:
        where = "the current window" if profile.n else "the reference" if m else "either window"
        out.notes.append(f"no finite values in {where}: the values are not compared")
        return False
    out.tested = True
    return True


def _binned(out: _Pending, ref_counts: np.ndarray, cur_counts: np.ndarray) -> None:
    """The chi-squared test and the binned effect of a numeric feature from both windows' counts per bin."""
    table = pool_rare(np.vstack((ref_counts, cur_counts)), MIN_EXPECTED)
    chi2, p_chi2, columns = chi2_table(table, min_expected=0)
    if out.test == "chi2":
        out.statistic, out.p_value = chi2, p_chi2
    if out.method in ("psi", "js", "linf", "chi2"):
        out.effect = _effect(out.method, table[0], table[1], chi2, columns)


def _numeric_window_feature(
    name: str, profile: NumericProfile, window: WindowNumeric, method: str, threshold: float | None, bins: int
) -> _Pending:
    """:func:`_numeric_feature` with the current window given as a (merged) window profile."""
    effect_method, test, kind = _resolve("numeric", profile.discrete, method)
    out = _Pending(effect_method, test, kind)
    out.threshold = threshold if threshold is not None else DEFAULT_THRESHOLDS[effect_method]
    if window.n_bad:
        out.schema = (
            f"column {name!r} is numeric in the reference but the current window has {window.n_bad} non-numeric "
            f"values (dtype {window.dtype}, e.g. {window.bad_example})"
        )
    if not _numeric_missing(out, profile, window.n_rows, window.n):
        return out
    if not window.exact:
        out.notes.append(f"current window profiled within {window.ks_bound:.2g} of its CDF")
    _compare_numeric(
        out,
        profile,
        bins,
        n=window.n,
        ecdf=lambda: compare_window_ecdf(profile, window),
        count_equal=window.count_equal,
        count_le=window.count_le,
    )
    return out


def _categorical_feature(
    profile: CategoricalProfile, series: pd.Series, method: str, threshold: float | None
) -> _Pending:
    return _categorical_counts(profile, category_counts(series), len(series), method, threshold)


def _categorical_counts(
    profile: CategoricalProfile, counts: dict[str, int], m_rows: int, method: str, threshold: float | None
) -> _Pending:
    """:func:`_categorical_feature` from the current window's category counts (first-seen order) and rows."""
    effect_method, test, kind = _resolve("categorical", False, method)
    out = _Pending(effect_method, test, kind)
    out.threshold = threshold if threshold is not None else DEFAULT_THRESHOLDS[effect_method]
    _, ref_counts, cur_counts, unseen = profile.align(counts)
    out.n_reference, out.n_current = profile.n_rows, m_rows
    out.missing_reference = profile.n_missing / profile.n_rows if profile.n_rows else 0.0
    out.missing_current = (counts.get(MISSING, 0) / m_rows) if m_rows else 0.0
    out.unseen = unseen
    if profile.n_rows == 0 or m_rows == 0:
        out.notes.append("no rows in the reference" if profile.n_rows == 0 else "no rows in the current window")
        return out
    out.tested = True
    # Rare categories are pooled by both windows' counts (symmetric, so no bin favours either window), and
    # the effect is measured on the same bins: thousands of sparse bins would make noise look like distance.
    table = pool_rare(np.vstack((ref_counts, cur_counts)), MIN_EXPECTED)
    out.statistic, out.p_value, columns = chi2_table(table, min_expected=0)
    out.effect = _effect(effect_method, table[0], table[1], out.statistic, columns)
    return out


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
    raw = {name: max(_finite(float(importances.get(name, 0.0))), 0.0) for name in names}
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
) -> DriftReport | None:
    short = [
        f"{rows} {label} rows < min_samples {min_samples}"
        for label, rows in (("reference", reference_rows), ("current", current_rows))
        if rows < min_samples
    ]
    if not short:
        return None
    reason = "insufficient data: " + "; ".join(short)
    return DriftReport(
        features={},
        n_features=n_features,
        n_drifted=0,
        share=0.0,
        drifted=False,
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
) -> DriftReport:
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
    DriftReport

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
    pending: dict[str, _Pending] = {}
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
            item = _Pending("schema", None, "categorical" if name in categorical else "numeric")
            item.n_reference, item.critical = column.n, opts.critical
            item.schema = f"current window is missing column {name!r}"
            pending[name] = item
            continue
        if isinstance(current, WindowProfile):
            item = _window_feature(name, column, current, opts.method, opts.threshold, int(bins))
        elif isinstance(column, NumericProfile):
            item = _numeric_feature(name, column, current[name], opts.method, opts.threshold, int(bins))
        else:
            item = _categorical_feature(column, current[name], opts.method, opts.threshold)
        if opts.threshold is None:
            item.threshold = limits[item.method]
        item.critical = opts.critical
        pending[name] = item
    return _verdict(pending, findings, importances, profile.n_rows, n_current, missing_threshold, common)


def _window_feature(
    name: str,
    column: NumericProfile | CategoricalProfile,
    current: WindowProfile,
    method: str,
    threshold: float | None,
    bins: int,
) -> _Pending:
    """A feature's numbers from a window profile (the same comparisons as from the raw window's column)."""
    window = current.columns[name]
    if isinstance(column, NumericProfile) and isinstance(window, WindowNumeric):
        return _numeric_window_feature(name, column, window, method, threshold, bins)
    if isinstance(column, CategoricalProfile) and isinstance(window, WindowCategorical):
        return _categorical_counts(column, window.counts, window.n_rows, method, threshold)
    raise ValueError(f"feature {name!r} is {column.kind} in the reference but {window.kind} in the window profile.")


def _verdict(
    pending: dict[str, _Pending],
    findings: list[Finding],
    importances: Mapping[str, float] | None,
    n_reference: int,
    n_current: int,
    missing_threshold: float,
    common: dict[str, Any],
) -> DriftReport:
    alpha: float = common["p_value"]
    ks_rows = [n for n, p in pending.items() if p.tested and p.test == "ks"]
    if ks_rows:
        p_ks = ks_p_values(
            [pending[n].statistic for n in ks_rows],
            [pending[n].n_reference for n in ks_rows],
            [pending[n].n_current for n in ks_rows],
        )
        for name, p in zip(ks_rows, p_ks, strict=True):
            pending[name].p_value = _finite(float(p), 1.0)
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
        drifted = bool(significant and _finite(item.effect) >= item.threshold)
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
            statistic=_finite(item.statistic),
            p_value=_finite(item.p_value, 1.0),
            p_value_adjusted=_finite(p_adj, 1.0),
            effect=_finite(item.effect),
            threshold=item.threshold,
            significant=significant,
            drifted=drifted or missing_drifted or item.schema is not None,
            n_reference=item.n_reference,
            n_current=item.n_current,
            missing_reference=item.missing_reference,
            missing_current=item.missing_current,
            missing_p_value=None if item.missing_p_value is None else _finite(item.missing_p_value, 1.0),
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
) -> DriftReport:
    n = len(features)
    drifted_names = [name for name, f in features.items() if f.drifted]
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
    return DriftReport(
        features=features,
        n_features=n,
        n_drifted=len(drifted_names),
        share=observed,
        drifted=bool(reasons),
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
