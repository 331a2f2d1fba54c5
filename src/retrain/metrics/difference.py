"""Whether two models' predictions of the same rows differ: the one rule of the prediction difference.

Both the drift check's prediction difference signal (champion vs the latest
candidate on the monitoring window) and the validation gate (candidate vs
champion on recent inputs) count differing rows with :func:`differing_rows`:

- classification: two predictions agree when their class keys are equal
  (:func:`retrain.labels.class_key`, the key labels are matched to classes by,
  so ``1``, ``1.0``, ``"1"`` and ``True`` are one class); two missing
  predictions agree, a missing and a present one differ;
- regression: two predictions agree when both are finite and at most
  ``tolerance`` apart, or when both are missing or non-finite (a model that
  gives no usable prediction for a row twice has not changed on it); a missing
  and a finite one differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retrain.config import Problem
from retrain.labels import as_1d, check_problem, class_key


def differing_rows(problem: Problem, first: ArrayLike, second: ArrayLike, *, tolerance: float = 0.0) -> np.ndarray:
    """One boolean per row: True where the two predictions differ (see the module's rule).

    Parameters
    ----------
    problem : {"classification", "regression"}
    first, second : array-like, 1-D, same length
        Two models' predictions of the same rows (the rule is symmetric).
    tolerance : float >= 0
        Regression only: the largest absolute gap (target unit) that still agrees.

    Raises
    ------
    ValueError
        An unknown problem, arrays that are not 1-D or of different lengths,
        a negative ``tolerance``, or regression predictions that are not numbers.
    """
    check_problem(problem)
    if not tolerance >= 0:
        raise ValueError(f"tolerance == {tolerance!r}, must be >= 0.")
    a, b = as_1d(first, "first"), as_1d(second, "second")
    if a.size != b.size:
        raise ValueError(f"first has {a.size} predictions but second has {b.size}; they must have the same length.")
    if problem == "regression":
        x, y = _floats(a, "first"), _floats(b, "second")
        both_finite = np.isfinite(x) & np.isfinite(y)
        with np.errstate(invalid="ignore"):
            close = np.abs(x - y) <= tolerance
        return ~((both_finite & close) | (~np.isfinite(x) & ~np.isfinite(y)))
    x_keys, y_keys = _key_codes(a, b)
    return x_keys != y_keys


def difference_rate(problem: Problem, first: ArrayLike, second: ArrayLike, *, tolerance: float = 0.0) -> float | None:
    """Share of rows on which two models' predictions differ, in [0, 1]; None when there are no rows.

    Raises
    ------
    ValueError
        As :func:`differing_rows`.
    """
    differs = differing_rows(problem, first, second, tolerance=tolerance)
    return float(differs.mean()) if differs.size else None


def _floats(values: np.ndarray, name: str) -> np.ndarray:
    """Regression predictions as float64, missing values (None, NaN, NaT) as NaN."""
    if values.dtype == object:
        values = np.where(pd.isna(values), np.nan, values)
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers for regression, got dtype {values.dtype}.") from exc


def _key_codes(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as codes of their class keys (missing values as -1): equal codes are one class.

    The keys are computed once per distinct value, not once per row.
    """
    both = np.concatenate([first.astype(object), second.astype(object)])
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    _, key_codes = np.unique(np.asarray([class_key(value) for value in uniques], dtype=object), return_inverse=True)
    keyed = np.where(codes < 0, -1, key_codes.astype(np.int64)[np.maximum(codes, 0)] if uniques.size else -1)
    return keyed[: first.size], keyed[first.size :]
