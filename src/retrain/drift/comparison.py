"""One feature's comparison: its test and its effect size, from the reference profile and the current window.

:mod:`retrain.drift.univariate` adjusts the tests' p-values across features and
gives the verdicts; this module computes each feature's numbers. A numeric
feature is compared through the two CDFs (:func:`compare_ecdf` against the raw
sorted window, :func:`compare_window_ecdf` against a merged window profile) or
through the reference's quantile bins; a categorical one through its category
counts, rare categories pooled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from retrain.config import DriftThresholds
from retrain.drift.merge import WindowCategorical, WindowNumeric, WindowProfile
from retrain.drift.profile import CategoricalProfile, NumericProfile, category_counts, numeric_values
from retrain.drift.stats import (
    MIN_EXPECTED,
    PSI_EPSILON,
    chi2_table,
    cramers_v,
    jensen_shannon,
    ks_from_differences,
    linf,
    pool_rare,
    psi,
    two_proportion_test,
    wasserstein_scale,
)
from retrain.frames import MISSING

Method = Literal["ks", "psi", "wasserstein", "js", "chi2", "linf", "schema"]
Test = Literal["ks", "chi2"]
Kind = Literal["numeric", "discrete", "categorical"]

#: Default practical thresholds per method (``triggers.drift.thresholds``).
DEFAULT_THRESHOLDS: dict[str, float] = DriftThresholds().model_dump()


def finite_float(value: float, default: float = 0.0) -> float:
    """``value`` as a finite float (NaN -> ``default``, +-inf -> the largest float), so no verdict is NaN."""
    value = float(value)
    if math.isnan(value):
        return default
    if math.isinf(value):
        return math.copysign(float(np.finfo(np.float64).max), value)
    return value


@dataclass
class Pending:
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


def numeric_feature(
    name: str, profile: NumericProfile, series: pd.Series, method: str, threshold: float | None, bins: int
) -> Pending:
    effect_method, test, kind = _resolve("numeric", profile.discrete, method)
    out = Pending(effect_method, test, kind)
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
    out: Pending,
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


def _numeric_missing(out: Pending, profile: NumericProfile, m_rows: int, m: int) -> bool:
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


def _binned(out: Pending, ref_counts: np.ndarray, cur_counts: np.ndarray) -> None:
    """The chi-squared test and the binned effect of a numeric feature from both windows' counts per bin."""
    table = pool_rare(np.vstack((ref_counts, cur_counts)), MIN_EXPECTED)
    chi2, p_chi2, columns = chi2_table(table, min_expected=0)
    if out.test == "chi2":
        out.statistic, out.p_value = chi2, p_chi2
    if out.method in ("psi", "js", "linf", "chi2"):
        out.effect = _effect(out.method, table[0], table[1], chi2, columns)


def _numeric_window_feature(
    name: str, profile: NumericProfile, window: WindowNumeric, method: str, threshold: float | None, bins: int
) -> Pending:
    """:func:`numeric_feature` with the current window given as a (merged) window profile."""
    effect_method, test, kind = _resolve("numeric", profile.discrete, method)
    out = Pending(effect_method, test, kind)
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


def categorical_feature(
    profile: CategoricalProfile, series: pd.Series, method: str, threshold: float | None
) -> Pending:
    return _categorical_counts(profile, category_counts(series), len(series), method, threshold)


def _categorical_counts(
    profile: CategoricalProfile, counts: dict[str, int], m_rows: int, method: str, threshold: float | None
) -> Pending:
    """:func:`categorical_feature` from the current window's category counts (first-seen order) and rows."""
    effect_method, test, kind = _resolve("categorical", False, method)
    out = Pending(effect_method, test, kind)
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


def window_feature(
    name: str,
    column: NumericProfile | CategoricalProfile,
    current: WindowProfile,
    method: str,
    threshold: float | None,
    bins: int,
) -> Pending:
    """A feature's numbers from a window profile (the same comparisons as from the raw window's column)."""
    window = current.columns[name]
    if isinstance(column, NumericProfile) and isinstance(window, WindowNumeric):
        return _numeric_window_feature(name, column, window, method, threshold, bins)
    if isinstance(column, CategoricalProfile) and isinstance(window, WindowCategorical):
        return _categorical_counts(column, window.counts, window.n_rows, method, threshold)
    raise ValueError(f"feature {name!r} is {column.kind} in the reference but {window.kind} in the window profile.")
