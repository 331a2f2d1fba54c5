"""What a person looks at beside a drift verdict: each feature's reference and current distributions.

The drift tests compare full distributions; a report draws them. For each
feature this gives the reference's and the window's counts on shared bins,
small enough to keep for a hundred features (about 0.6 KB each as JSON):

- a continuous numeric feature: ``bins`` equal-width bins spanning the 1st to
  99th percentile of both the reference and the window (the first bin also
  holds everything below, the last everything above, so no row is lost and a
  shifted window stays in view). Reference counts come from the stored
  profile's CDF: exact when the profile is, interpolated between the sketch's
  points otherwise (then rounded);
- a categorical feature, or a numeric one with at most
  :data:`~retrain.drift.profile.DISCRETE_VALUES` distinct reference values: the
  ``top`` categories with the largest share in either window, the rest pooled
  in ``<other>``, and the window's categories the reference never had pooled
  in ``<unseen>``;
- both: the missing rate of each side (NaN, +-inf and text that is not a
  number are missing for a numeric feature).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrain.drift.merge import WindowCategorical, WindowNumeric, WindowProfile
from retrain.drift.profile import (
    OTHER,
    UNSEEN,
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    category_counts,
    category_key,
    numeric_values,
)
from retrain.frames import MISSING, check_scalar

#: Defaults of :func:`distributions`: histogram bins of a numeric feature, categories named per feature.
DEFAULT_BINS = 20
DEFAULT_TOP = 10
#: Window values the span of a numeric histogram is read from (an evenly strided sample).
QUANTILE_SAMPLE = 100_000


def _rate(missing: int, rows: int) -> float:
    return missing / rows if rows else 0.0


def _quantile(profile: NumericProfile, q: float) -> float:
    """The smallest profile value whose CDF reaches ``q``."""
    i = int(np.searchsorted(profile.le, q * profile.n, side="left"))
    return float(profile.values[min(i, profile.values.size - 1)])


def numeric_histogram(profile: NumericProfile, values: np.ndarray, *, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Reference and current counts of one numeric feature on shared equal-width bins.

    Parameters
    ----------
    profile
        The reference's stored profile of the feature.
    values
        The window's values as float64 (NaN and +-inf count as missing).
    bins
        Number of bins (>= 1).

    Returns
    -------
    dict
        ``kind`` (``numeric``), ``edges`` (``bins + 1`` floats), ``reference``
        and ``current`` (counts per bin), ``missing_reference`` and
        ``missing_current`` (rates in [0, 1]).
    """
    check_scalar(bins, "bins", int, min_val=1)
    finite = values[np.isfinite(values)]
    window: list[float] = []
    if finite.size:
        # The span only frames the picture: percentiles of an evenly strided sample of at most
        # QUANTILE_SAMPLE values are enough, and a full quantile of a million values costs 20 ms.
        window = [float(q) for q in np.quantile(finite[:: max(1, finite.size // QUANTILE_SAMPLE)], [0.01, 0.99])]
    edges = _edges(profile, window, bins)
    lo, hi = edges[0], edges[-1]
    # Bins (-inf, e1], (e1, e2], ..., (e_last, +inf), as the profile counts values <= x. Equal widths
    # make a value's bin arithmetic (one pass), where a search of the edges costs ~40 ms per million.
    position = np.ceil((finite - lo) * (bins / (hi - lo)))
    current = np.bincount(np.clip(position, 1, bins).astype(np.int64) - 1, minlength=bins)
    return _histogram(
        edges,
        _per_bin(profile.counts_at(edges[1:-1]), profile.n),
        current,
        _rate(profile.n_missing, profile.n_rows),
        _rate(values.size - finite.size, values.size),
    )


def _edges(profile: NumericProfile, window: list[float], bins: int) -> np.ndarray:
    """``bins + 1`` equal-width edges from the lower to the higher of both sides' 1st and 99th percentiles."""
    lows = [_quantile(profile, 0.01), *window[:1]] if profile.n else window[:1]
    highs = [_quantile(profile, 0.99), *window[1:]] if profile.n else window[1:]
    lo, hi = (min(lows), max(highs)) if lows else (0.0, 1.0)
    if hi <= lo:  # a constant feature: one unit-wide span around it
        lo, hi = lo - 0.5, lo + 0.5
    return np.linspace(lo, hi, bins + 1)


def _per_bin(below: np.ndarray, total: int) -> np.ndarray:
    """Counts per bin from the (possibly interpolated) counts at or below each interior edge.

    Rounded cumulatively, so the counts sum to ``total``.
    """
    cumulative = np.concatenate(([0.0], np.asarray(below, dtype=np.float64), [float(total)]))
    return np.diff(np.rint(cumulative)).astype(np.int64)


def _histogram(
    edges: np.ndarray, reference: np.ndarray, current: np.ndarray, missing_reference: float, missing_current: float
) -> dict[str, Any]:
    return {
        "kind": "numeric",
        "edges": [float(e) for e in edges],
        "reference": reference.tolist(),
        "current": current.tolist(),
        "missing_reference": missing_reference,
        "missing_current": missing_current,
    }


def category_bars(profile: CategoricalProfile, current: dict[str, int], *, top: int = DEFAULT_TOP) -> dict[str, Any]:
    """Reference and current counts of one categorical feature: the ``top`` categories, ``<other>``, ``<unseen>``.

    ``current`` is the window's rows per category key
    (:func:`~retrain.drift.profile.category_counts`). Categories are ranked by
    their larger share of the two windows; ``<missing>`` is kept out of the bars
    (it is the missing rate).
    """
    check_scalar(top, "top", int, min_val=1)
    n_ref = max(profile.n_rows, 1)
    n_cur = max(sum(current.values()), 1)
    known = {name: int(count) for name, count in zip(profile.categories, profile.counts, strict=True)}
    unseen = sum(c for k, c in current.items() if k not in known and k != MISSING) if profile.complete else 0
    names = [k for k in {**known, **current} if k != MISSING and (k in known or not profile.complete)]
    names.sort(key=lambda k: (-max(known.get(k, 0) / n_ref, current.get(k, 0) / n_cur), k))
    shown = names[:top]
    ref = [known.get(k, 0) for k in shown]
    cur = [int(current.get(k, 0)) for k in shown]
    rest_ref = profile.n_rows - known.get(MISSING, 0) - sum(ref)
    rest_cur = n_cur - current.get(MISSING, 0) - sum(cur) - unseen
    if rest_ref > 0 or rest_cur > 0:
        shown, ref, cur = [*shown, OTHER], [*ref, max(rest_ref, 0)], [*cur, max(rest_cur, 0)]
    if unseen:
        shown, ref, cur = [*shown, UNSEEN], [*ref, 0], [*cur, unseen]
    return {
        "kind": "categorical",
        "categories": shown,
        "reference": ref,
        "current": cur,
        "missing_reference": _rate(known.get(MISSING, 0), profile.n_rows),
        "missing_current": _rate(current.get(MISSING, 0), sum(current.values())),
    }


def _discrete_counts(values: np.ndarray) -> dict[str, int]:
    """Rows per category key of a discrete numeric column (``2.0`` is ``"2"``; missing is ``<missing>``)."""
    finite = np.isfinite(values)
    keys, counts = np.unique(values[finite], return_counts=True)
    out = {category_key(k): int(c) for k, c in zip(keys, counts, strict=True)}
    if (~finite).any():
        out[MISSING] = int((~finite).sum())
    return out


def _discrete_profile(profile: NumericProfile) -> CategoricalProfile:
    counts = np.diff(np.concatenate(([0], profile.le)))
    names = [category_key(v) for v in profile.values]
    if profile.n_missing:
        names, counts = [*names, MISSING], np.concatenate((counts, [profile.n_missing]))
    return CategoricalProfile(
        n_rows=profile.n_rows,
        n_missing=profile.n_missing,
        categories=names,
        counts=np.asarray(counts, dtype=np.int64),
        other_count=0,
        n_categories=len(names),
    )


def _window_histogram(profile: NumericProfile, window: WindowNumeric, *, bins: int) -> dict[str, Any]:
    """:func:`numeric_histogram` of a profiled window: its span and counts read from its CDF."""
    finite = window.n
    if finite:
        # numpy's linear quantiles, with the order statistics read from the CDF (exact when the profile is).
        below = np.asarray(window.count_le(window.values))
        h = (finite - 1) * np.array([0.01, 0.99])
        ranks = np.stack([np.floor(h), np.minimum(np.floor(h) + 1, finite - 1)])
        at = window.values[np.minimum(np.searchsorted(below, ranks, side="right"), window.values.size - 1)]
        quantiles = at[0] + (h - ranks[0]) * (at[1] - at[0])
    edges = _edges(profile, [float(q) for q in quantiles] if finite else [], bins)
    current_le = np.asarray(window.count_le(edges[1:-1]), dtype=np.float64) if finite else np.zeros(bins - 1)
    return _histogram(
        edges,
        _per_bin(profile.counts_at(edges[1:-1]), profile.n),
        _per_bin(current_le, finite),
        _rate(profile.n_missing, profile.n_rows),
        _rate(window.n_missing, window.n_rows),
    )


def _window_discrete_counts(window: WindowNumeric) -> dict[str, int]:
    """:func:`_discrete_counts` of a profiled window (exact when its CDF is)."""
    counts = window.count_equal(window.values)
    out = {category_key(v): int(c) for v, c in zip(window.values, counts, strict=True) if c}
    if window.n_missing:
        out[MISSING] = int(window.n_missing)
    return out


def distributions(
    profile: ReferenceProfile,
    current: pd.DataFrame | WindowProfile,
    features: Sequence[str],
    *,
    bins: int = DEFAULT_BINS,
    top: int = DEFAULT_TOP,
) -> dict[str, dict[str, Any]]:
    """Each feature's reference and current distributions (see the module docstring).

    ``current`` is the window's rows, or its profile (a window profiled in partitions,
    :mod:`retrain.drift.merge`): then the window's counts are read from its CDF
    (exact when the profile is) and its category counts. Features the profile
    does not describe or the window lacks are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in features:
        column = profile.columns.get(name)
        if column is None:
            continue
        if isinstance(current, WindowProfile):
            window = current.columns.get(name)
            if isinstance(column, NumericProfile) and isinstance(window, WindowNumeric):
                if column.discrete:
                    out[name] = category_bars(_discrete_profile(column), _window_discrete_counts(window), top=top)
                else:
                    out[name] = _window_histogram(column, window, bins=bins)
            elif isinstance(column, CategoricalProfile) and isinstance(window, WindowCategorical):
                out[name] = category_bars(column, dict(window.counts), top=top)
        elif name not in current.columns:
            continue
        elif isinstance(column, NumericProfile):
            values, _, _ = numeric_values(current[name])
            if column.discrete:
                out[name] = category_bars(_discrete_profile(column), _discrete_counts(values), top=top)
            else:
                out[name] = numeric_histogram(column, values, bins=bins)
        else:
            out[name] = category_bars(column, category_counts(current[name]), top=top)
    return out
