"""Multivariate drift: can a classifier tell the current window from the reference?

Univariate tests miss a change in how features move together (the same
marginals, a new correlation). A domain classifier catches it: label reference
rows 0 and current rows 1, fit a gradient-boosted tree model, and measure its
cross-validated ROC AUC on rows it did not see. 0.5 means the windows are
indistinguishable; the data drifts when the AUC reaches ``auc_threshold`` and
is significantly above 0.5 (one-sided Mann-Whitney normal approximation).
The features whose permutation lowers the held-out AUC most are reported as
the ones that separate the windows.

scikit-learn is imported inside :func:`domain_classifier` only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
from pydantic import BaseModel

from retrain.drift.profile import (
    OTHER,
    CategoricalProfile,
    ReferenceProfile,
    category_key,
    numeric_values,
)
from retrain.errors import InsufficientData, SchemaMismatch
from retrain.frames import check_scalar, require_columns

#: Most distinct codes per categorical feature (HistGradientBoosting's limit is 255 bins).
MAX_CODES = 250


class SeparatingFeature(BaseModel):
    feature: str
    importance: float  # held-out AUC lost when the feature is permuted


class MultivariateDrift(BaseModel):
    """The domain classifier's verdict: ``fired`` when ``auc`` reaches ``threshold`` and its ``p_value`` is below
    the level (``reason`` then says so and names the features that separate the windows most)."""

    method: str = "domain_classifier"
    auc: float
    threshold: float
    p_value: float
    fired: bool
    n_reference: int
    n_current: int
    folds: int
    top_features: list[SeparatingFeature]
    reason: str | None


def _auc_p_value(auc: float, n_pos: int, n_neg: int) -> float:
    """One-sided p-value of ``AUC > 0.5`` (Mann-Whitney U, normal approximation without tie correction)."""
    u = auc * n_pos * n_neg
    sigma = math.sqrt(n_pos * n_neg * (n_pos + n_neg + 1) / 12.0)
    z = (u - n_pos * n_neg / 2.0) / sigma
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _encode(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    profile: ReferenceProfile | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Both windows as one float matrix (NaN = missing) and the mask of categorical columns."""
    blocks: list[np.ndarray] = []
    for name in numeric:
        parts = []
        for label, frame in (("reference", reference), ("current window", current)):
            values, n_bad, example = numeric_values(frame[name])
            if n_bad:
                raise SchemaMismatch(f"column {name!r} in {label} is not numeric (e.g. {example!r})")
            parts.append(np.where(np.isfinite(values), values, np.nan))
        blocks.append(np.concatenate(parts))
    for name in categorical:
        column = None if profile is None else profile.columns.get(name)
        if isinstance(column, CategoricalProfile):
            ref_keys = reference[name].to_numpy(dtype=object)  # the profile's sample is already encoded
            cur_keys = column.encode(current[name])
        else:
            ref_keys = np.array([category_key(v) for v in reference[name]], dtype=object)
            cur_keys = np.array([category_key(v) for v in current[name]], dtype=object)
        keys = pd.Series(np.concatenate((ref_keys, cur_keys)))
        frequent = keys.value_counts().index[: MAX_CODES - 1]
        keys = keys.where(keys.isin(frequent), OTHER)
        codes, _ = pd.factorize(keys)
        blocks.append(codes.astype(np.float64))
    matrix = np.column_stack(blocks) if blocks else np.empty((len(reference) + len(current), 0))
    mask = np.array([False] * len(numeric) + [True] * len(categorical))
    return matrix, mask


def domain_classifier(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    auc_threshold: float = 0.55,
    p_value: float = 0.05,
    folds: int = 3,
    max_rows: int = 5000,
    seed: int = 0,
    top: int = 5,
) -> MultivariateDrift:
    """Multivariate drift by a domain classifier's cross-validated ROC AUC.

    Parameters
    ----------
    reference : pandas.DataFrame or ReferenceProfile
        Reference rows, or a profile whose row sample is used.
    current : pandas.DataFrame
        The current window.
    numeric, categorical : sequence of str
        The features the classifier sees (NaN and +-inf are missing; categories
        beyond the profile's top ones are one category).
    auc_threshold : float, default 0.55
        AUC at which the windows count as separable, in (0.5, 1).
    p_value : float, default 0.05
        Level of the one-sided test of AUC > 0.5.
    folds : int, default 3
        Stratified cross-validation folds.
    max_rows : int, default 5000
        Rows sampled (seeded) from each window.
    seed : int, default 0
    top : int, default 5
        Separating features to report.

    Returns
    -------
    MultivariateDrift

    Raises
    ------
    InsufficientData
        A window has fewer rows than ``2 * folds``, or the profile has no row sample.
    SchemaMismatch
        A feature column is missing, or a numeric feature is not numeric.
    """
    check_scalar(auc_threshold, "auc_threshold", Real, min_val=0.5, max_val=1, include_boundaries="neither")
    check_scalar(p_value, "p_value", Real, min_val=0, max_val=1, include_boundaries="neither")
    check_scalar(folds, "folds", Integral, min_val=2)
    check_scalar(max_rows, "max_rows", Integral, min_val=2)
    profile = reference if isinstance(reference, ReferenceProfile) else None
    if isinstance(reference, ReferenceProfile):
        if reference.sample is None or reference.sample.empty:
            raise InsufficientData("the reference profile has no row sample for the domain classifier")
        reference = reference.sample
    columns = [*numeric, *categorical]
    for label, frame in (("reference", reference), ("current window", current)):
        require_columns(frame, columns, what=label)
        if len(frame) < 2 * folds:
            raise InsufficientData(f"domain classifier: {len(frame)} {label} rows < 2 x folds ({2 * folds})")
    rng = np.random.default_rng(seed)
    ref = reference.iloc[np.sort(rng.permutation(len(reference))[:max_rows])].reset_index(drop=True)
    cur = current.iloc[np.sort(rng.permutation(len(current))[:max_rows])].reset_index(drop=True)
    x, categorical_mask = _encode(ref, cur, numeric, categorical, profile)
    y = np.concatenate((np.zeros(len(ref), dtype=np.int8), np.ones(len(cur), dtype=np.int8)))

    from threadpoolctl import threadpool_limits

    # A few thousand rows: one thread is fastest, and OpenMP threads that spin on a busy machine are 20x slower.
    with threadpool_limits(limits=1):
        return _domain_classifier(x, y, categorical_mask, columns, auc_threshold, p_value, folds, seed, top, rng)


def _domain_classifier(
    x: np.ndarray,
    y: np.ndarray,
    categorical_mask: np.ndarray,
    columns: list[str],
    auc_threshold: float,
    p_value: float,
    folds: int,
    seed: int,
    top: int,
    rng: np.random.Generator,
) -> MultivariateDrift:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    def model() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=100,
            learning_rate=0.1,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            early_stopping=False,
            categorical_features=categorical_mask if categorical_mask.any() else None,
            random_state=seed,
        )

    scores = np.empty(y.size)
    last: tuple[HistGradientBoostingClassifier, np.ndarray] | None = None
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        fitted = model().fit(x[train], y[train])
        scores[test] = fitted.predict_proba(x[test])[:, 1]
        last = (fitted, test)
    auc = float(roc_auc_score(y, scores))
    p = _auc_p_value(auc, int(y.sum()), int(y.size - y.sum()))
    fired = auc >= auc_threshold and p < p_value
    separating: list[SeparatingFeature] = []
    if last is not None and columns:
        fitted, test = last
        held_x, held_y = x[test], y[test]
        base = float(roc_auc_score(held_y, fitted.predict_proba(held_x)[:, 1]))
        drops = []
        for j, name in enumerate(columns):
            shuffled = held_x.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            drops.append((base - float(roc_auc_score(held_y, fitted.predict_proba(shuffled)[:, 1])), name))
        drops.sort(key=lambda item: (-item[0], item[1]))
        separating = [SeparatingFeature(feature=name, importance=round(d, 6)) for d, name in drops[:top] if d > 0]
    reason = None
    if fired:
        names = ", ".join(f.feature for f in separating[:3])
        reason = f"multivariate drift: domain classifier AUC {auc:.3f} >= {auc_threshold:.2f}" + (
            f" (separated most by {names})" if names else ""
        )
    return MultivariateDrift(
        auc=auc,
        threshold=auc_threshold,
        p_value=p,
        fired=fired,
        n_reference=int(y.size - y.sum()),
        n_current=int(y.sum()),
        folds=folds,
        top_features=separating,
        reason=reason,
    )
