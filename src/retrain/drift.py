"""Univariate data drift between a reference window and a current window.

Numeric features are compared with the two-sample Kolmogorov-Smirnov test,
categorical features with a chi-squared test of homogeneity. A feature drifts
when its p-value is below ``p_value``; the data set drifts when the share of
drifted features reaches ``share``.

Pure numpy/pandas. scipy is imported lazily, inside the functions that need a
p-value (``scipy.special`` for chi-squared, ``scipy.stats`` for KS), so that
importing this module costs only numpy, pandas and pydantic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, Literal, SupportsFloat, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import BaseModel

from retrain.errors import InsufficientData, SchemaMismatch

#: The category that missing values (None, NaN, NaT, pd.NA) of a categorical feature are counted as.
MISSING = "<missing>"

#: Largest sample size for which scipy's ``method="auto"`` computes the exact KS p-value.
MAX_EXACT_N = 10_000


class FeatureDrift(BaseModel):
    """Drift test result of one feature."""

    method: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int


class DriftReport(BaseModel):
    """Drift of every checked feature and the data-set verdict."""

    features: dict[str, FeatureDrift]
    n_features: int
    n_drifted: int
    share: float
    threshold_share: float
    drifted: bool
    insufficient: bool
    reason: str | None


def _check_scalar(
    x: Any,
    name: str,
    target_type: type,
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_boundaries: Literal["both", "left", "right", "neither"] = "both",
) -> None:
    """Check a scalar parameter's type and bounds, with scikit-learn's ``check_scalar`` messages."""
    if isinstance(x, bool) or not isinstance(x, target_type):
        raise TypeError(f"{name} must be an instance of {target_type.__name__}, not {type(x).__qualname__}.")
    value = float(cast(SupportsFloat, x))  # NaN fails every bound below
    if min_val is not None:
        closed = include_boundaries in ("both", "left")
        if not (value >= min_val if closed else value > min_val):
            raise ValueError(f"{name} == {x}, must be {'>=' if closed else '>'} {min_val}.")
    if max_val is not None:
        closed = include_boundaries in ("both", "right")
        if not (value <= max_val if closed else value < max_val):
            raise ValueError(f"{name} == {x}, must be {'<=' if closed else '<'} {max_val}.")


def _sorted_non_nan(values: ArrayLike, name: str) -> np.ndarray:
    """The non-NaN values of a numeric 1-D array-like, as sorted float64."""
    if isinstance(values, pd.Series):
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    return np.sort(array[~np.isnan(array)])


def _ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sided KS statistic of two sorted, non-empty samples, computed exactly as scipy does."""
    pooled = np.concatenate([reference, current])
    # Each empirical CDF takes the values k/n; scipy reads them from np.linspace, so do we (bitwise equal).
    cdf_ref = np.linspace(0.0, 1.0, reference.size + 1)[np.searchsorted(reference, pooled, side="right")]
    cdf_cur = np.linspace(0.0, 1.0, current.size + 1)[np.searchsorted(current, pooled, side="right")]
    differences = cdf_ref - cdf_cur
    max_s = float(differences.max())
    min_s = min(max(-float(differences.min()), 0.0), 1.0)
    return min_s if min_s > max_s else max_s


def _scipy_exact_ks() -> Callable[..., tuple[bool, float, float]] | None:
    """scipy's exact two-sample KS helper, or None if a future scipy moved it."""
    try:
        # The exact two-sample null distribution is only available through scipy's private helpers.
        from scipy.stats._stats_py import _attempt_exact_2kssamp
    except ImportError:
        return None
    return _attempt_exact_2kssamp


def _ks_p_value(statistic: float, reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sided p-value of a KS statistic, as ``scipy.stats.ks_2samp(method="auto")`` computes it."""
    n1, n2 = reference.size, current.size
    exact = _scipy_exact_ks()
    if exact is None:  # let scipy run the whole test (re-sorts the samples, same result)
        from scipy.stats import ks_2samp as scipy_ks_2samp

        return float(scipy_ks_2samp(reference, current).pvalue)
    if max(n1, n2) <= MAX_EXACT_N:
        success, _, prob = exact(n1, n2, math.gcd(n1, n2), statistic, "two-sided")
        if success:
            return float(np.clip(prob, 0.0, 1.0))
    from scipy.stats import kstwo  # asymptotic: large samples, or the exact computation overflowed

    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(kstwo.sf(statistic, np.round(m * n / (m + n))), 0.0, 1.0))


def ks_2samp(reference: ArrayLike, current: ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test (two-sided).

    The statistic is computed with one vectorized ``searchsorted`` pass over the
    sorted samples and equals ``scipy.stats.ks_2samp(reference, current)``'s
    bit for bit, ties included. The p-value is computed as scipy's
    ``method="auto"`` does: exact when both samples have at most 10 000 values
    (scipy's own exact helper), else from the asymptotic ``kstwo`` distribution.

    Parameters
    ----------
    reference, current : array-like of float, 1-D
        The two samples. NaN values are dropped before testing.

    Returns
    -------
    statistic : float
        Largest absolute difference between the two empirical CDFs, in [0, 1].
    p_value : float
        Two-sided p-value, in [0, 1].

    Raises
    ------
    InsufficientData
        If a sample has no non-NaN value.
    ValueError
        If a sample is not 1-D or not numeric.
    """
    ref = _sorted_non_nan(reference, "reference")
    cur = _sorted_non_nan(current, "current")
    for name, sample in (("reference", ref), ("current", cur)):
        if sample.size == 0:
            raise InsufficientData(f"ks_2samp: {name} has no non-NaN values")
    statistic = _ks_statistic(ref, cur)
    return statistic, _ks_p_value(statistic, ref, cur)


def _as_categories(values: pd.Series | np.ndarray) -> np.ndarray:
    """Values as an object array in which every missing value is the category ``MISSING``."""
    array = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else np.asarray(values, dtype=object)
    array = array.ravel().copy()
    array[pd.isna(array)] = MISSING
    return array


def chi2_test(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    """Chi-squared test of homogeneity of a categorical feature's distribution.

    Builds the 2 x k contingency table of category counts (reference row,
    current row) by factorizing the pooled values once and counting codes with
    ``np.bincount``. Missing values are counted as the category ``"<missing>"``;
    categories seen in only one window are counted (their expected count is
    positive); categories with zero total never enter the table. No continuity
    correction is applied, so the result equals
    ``scipy.stats.chi2_contingency(table, correction=False)``.

    Parameters
    ----------
    reference, current : pandas.Series
        Category values of any hashable type (strings, integers, booleans).

    Returns
    -------
    statistic : float
        Pearson's chi-squared statistic (dimensionless, >= 0). 0.0 when only
        one category occurs overall.
    p_value : float
        Upper-tail probability of the chi-squared distribution with k - 1
        degrees of freedom. 1.0 when only one category occurs overall.

    Raises
    ------
    InsufficientData
        If either window is empty.
    """
    n_ref, n_cur = len(reference), len(current)
    for name, size in (("reference", n_ref), ("current", n_cur)):
        if size == 0:
            raise InsufficientData(f"chi2_test: {name} is empty")
    codes, categories = pd.factorize(np.concatenate([_as_categories(reference), _as_categories(current)]))
    k = len(categories)
    table = np.vstack([np.bincount(codes[:n_ref], minlength=k), np.bincount(codes[n_ref:], minlength=k)]).astype(
        np.float64
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = np.multiply(table.sum(axis=1, keepdims=True), table.sum(axis=0, keepdims=True)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())

    from scipy.special import chdtrc  # the chi-squared survival function, without importing scipy.stats

    return statistic, float(chdtrc(table.shape[1] - 1, statistic))


def _require_columns(frames: dict[str, pd.DataFrame], columns: list[str]) -> None:
    problems: list[str] = []
    missing: list[str] = []
    for label, frame in frames.items():
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            noun = "column" if len(absent) == 1 else "columns"
            problems.append(f"{label} is missing {noun} {', '.join(repr(c) for c in absent)}")
            missing.extend(c for c in absent if c not in missing)
    if problems:
        raise SchemaMismatch("; ".join(problems), missing=missing)


def _numeric_drift(column: str, reference: pd.Series, current: pd.Series, threshold: float) -> FeatureDrift:
    samples = []
    for label, values in (("reference", reference), ("current window", current)):
        try:
            samples.append(_sorted_non_nan(values, column))
        except (TypeError, ValueError) as exc:
            raise SchemaMismatch(
                f"column {column!r} in {label} is not numeric (dtype {values.dtype})", missing=[]
            ) from exc
    ref, cur = samples
    if ref.size == 0 or cur.size == 0:  # all-NaN on one side: no evidence either way
        statistic, p = 0.0, 1.0
    else:
        statistic = _ks_statistic(ref, cur)
        p = _ks_p_value(statistic, ref, cur)
    return FeatureDrift(
        method="ks",
        statistic=statistic,
        p_value=p,
        threshold=threshold,
        drifted=p < threshold,
        n_reference=int(ref.size),
        n_current=int(cur.size),
    )


def _categorical_drift(reference: pd.Series, current: pd.Series, threshold: float) -> FeatureDrift:
    statistic, p = chi2_test(reference, current)
    return FeatureDrift(
        method="chi2",
        statistic=statistic,
        p_value=p,
        threshold=threshold,
        drifted=p < threshold,
        n_reference=len(reference),
        n_current=len(current),
    )


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    p_value: float = 0.05,
    share: float = 0.3,
    min_samples: int = 100,
) -> DriftReport:
    """Test every feature for drift between a reference and a current window.

    Numeric features use :func:`ks_2samp` (NaN values dropped), categorical
    features :func:`chi2_test` (missing values are a category). A feature
    drifts when its p-value is strictly below ``p_value``; the data set drifts
    when ``n_drifted / n_features >= share``.

    A numeric feature that is all-NaN in either window is reported with
    statistic 0.0, p-value 1.0 and ``drifted=False`` (no evidence of drift;
    this baseline does not test missing-value rates). Constant columns are
    tested as they are (identical constants: statistic 0, p-value 1).

    Parameters
    ----------
    reference : pandas.DataFrame
        The reference window (typically the training snapshot).
    current : pandas.DataFrame
        The current production window.
    numeric, categorical : list of str
        Names of the numeric and categorical features to test.
    p_value : float, default 0.05
        Per-feature significance threshold, in (0, 1).
    share : float, default 0.3
        Share of drifted features at which the data set drifts, in (0, 1].
    min_samples : int, default 100
        Minimum rows in each window. Below it the report is ``insufficient``,
        not drifted, and no feature is tested.

    Returns
    -------
    DriftReport

    Raises
    ------
    SchemaMismatch
        If a feature column is missing from either window (the message names
        the column and the window; ``missing`` lists the columns), or a
        numeric feature is not numeric.
    ValueError
        If a parameter is out of range, no feature is given, or a feature is
        listed as both numeric and categorical.
    TypeError
        If a parameter has the wrong type.
    """
    _check_scalar(p_value, "p_value", Real, min_val=0, max_val=1, include_boundaries="neither")
    _check_scalar(share, "share", Real, min_val=0, max_val=1, include_boundaries="right")
    _check_scalar(min_samples, "min_samples", Integral, min_val=2)
    columns = [*numeric, *categorical]
    if not columns:
        raise ValueError("numeric and categorical are both empty, at least one feature is required.")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ValueError(f"column {both[0]!r} is listed as both numeric and categorical.")
    _require_columns({"reference": reference, "current window": current}, columns)

    short = [
        f"{len(frame)} {label} rows < min_samples {min_samples}"
        for label, frame in (("reference", reference), ("current", current))
        if len(frame) < min_samples
    ]
    if short:
        return DriftReport(
            features={},
            n_features=len(columns),
            n_drifted=0,
            share=0.0,
            threshold_share=share,
            drifted=False,
            insufficient=True,
            reason="insufficient data: " + "; ".join(short),
        )

    features: dict[str, FeatureDrift] = {}
    for column in numeric:
        features[column] = _numeric_drift(column, reference[column], current[column], p_value)
    for column in categorical:
        features[column] = _categorical_drift(reference[column], current[column], p_value)

    n_drifted = sum(f.drifted for f in features.values())
    observed_share = n_drifted / len(features)
    drifted = observed_share >= share
    reason = (
        f"drift in {n_drifted} of {len(features)} features (share {observed_share:.2f} >= {share:.2f})"
        if drifted
        else None
    )
    return DriftReport(
        features=features,
        n_features=len(features),
        n_drifted=n_drifted,
        share=observed_share,
        threshold_share=share,
        drifted=drifted,
        insufficient=False,
        reason=reason,
    )
