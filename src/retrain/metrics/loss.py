"""Direct loss estimation: label-free MAE and RMSE of a regression model.

A regression model's probabilities do not exist, so CBPE cannot estimate its
performance. Direct loss estimation (NannyML's DLE) learns the champion's
error instead: on labelled reference rows (the snapshot's holdout) two
gradient-boosted regressors learn the absolute error ``|y - ŷ|`` and the squared
error ``(y - ŷ)²`` from the features and the prediction ``ŷ`` itself. On an
unlabelled window the estimated MAE is the mean predicted absolute error, the
estimated RMSE the square root of the mean predicted squared error. The
estimate follows a shift towards rows where the model errs more (or less), as
long as the error's relation to the inputs holds (no concept drift). Trees do
not extrapolate: rows beyond the reference's range get the error of its edge,
so a shift far outside it is under-stated.

The error models are scikit-learn ``HistGradientBoostingRegressor`` ensembles,
fitted once at training time and exported to flat node arrays
(:class:`Trees`), so that a :class:`LossModel` is a JSON document and
evaluating it costs numpy and pandas only: importing this module imports
neither scikit-learn nor scipy (:func:`fit_loss_model` imports scikit-learn
when called). Categorical features are ordinal codes (their category keys in
sorted order) given to the ensembles as plain numbers, so every split is a
threshold; a missing value, an unseen category and ±inf are NaN, which each
split sends the way it learned for missing values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import BaseModel

from retrain.drift.profile import category_key
from retrain.errors import InsufficientData, SchemaMismatch
from retrain.frames import MISSING, require_columns
from retrain.labels import as_1d
from retrain.metrics.engine import check_ci, summarize
from retrain.metrics.results import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, MetricsResult
from retrain.metrics.trees import Trees, export_trees

__all__ = [
    "LOSS_METRICS",
    "MIN_ROWS",
    "LossModel",
    "estimate_losses",
    "fit_loss_model",
    "fit_regressor",
    "loss_inputs",
]

#: The metrics :func:`estimate_losses` reports, in the target's unit.
LOSS_METRICS = ("mae", "rmse")
#: Fewest labelled rows (finite target and prediction) :func:`fit_loss_model` fits on.
MIN_ROWS = 100
#: A categorical feature keeps its most frequent category keys up to this many; rarer ones count as unseen.
MAX_CATEGORIES = 1_000

#: The gradient-boosting settings of both error models: LightGBM's defaults (as NannyML's DLE uses), every
#: iteration fit. An error is a noisy target: with early stopping its validation loss stalls by chance after 30-40
#: trees, and the stopped model, pulled towards the mean error, under-states a shift towards high-error rows.
BOOSTING = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31, "max_bins": 255}
#: A leaf averages at least this share of the rows (and 20 to 200 rows): LightGBM's fixed 20 rows per leaf follow
#: the error's noise on a large holdout (on NannyML's car price data, 60,000 rows, 50-200 rows per leaf estimate
#: MAE and RMSE 5-15% closer to the realized values than 20; benchmarks/estimation.py).
LEAF_SHARE = 0.001


class LossModel(BaseModel):
    """The champion's error, learned from labelled rows: two ensembles over the features and the prediction.

    Inputs, in order: the ``numeric`` features, the ``categorical`` features (each
    the code of its category key in the list given, NaN when missing or not in
    it), then the prediction. ``absolute`` predicts ``|y - ŷ|``, ``squared``
    ``(y - ŷ)²``. ``rows`` is the number of rows fitted on and ``reason`` says so
    in words.
    """

    numeric: list[str]
    categorical: dict[str, list[str]]
    absolute: Trees
    squared: Trees
    rows: int
    reason: str

    @property
    def features(self) -> list[str]:
        """The feature columns the model reads, in input order."""
        return [*self.numeric, *self.categorical]

    def predict(self, frame: pd.DataFrame, prediction: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Predicted absolute and squared error of each row (both clipped at 0), in the target's unit (squared).

        Raises
        ------
        SchemaMismatch
            If ``frame`` lacks a feature column (the message names it) or a numeric
            feature holds text.
        ValueError
            If ``prediction`` does not have one value per row of ``frame``.
        """
        x = loss_inputs(frame, prediction, self.numeric, self.categorical)
        absolute = np.maximum(self.absolute.predict(x), 0.0)
        squared = np.maximum(self.squared.predict(x), 0.0)
        return absolute, squared


def _numeric_column(series: pd.Series, name: str) -> np.ndarray:
    try:
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    except (TypeError, ValueError) as exc:
        raise SchemaMismatch(f"numeric feature {name!r} holds values that are not numbers: {exc}") from exc
    values[~np.isfinite(values)] = np.nan
    return values


def _category_codes(series: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Each value's position in ``categories`` (by category key) as a float; NaN when missing or absent."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    lookup = {key: float(code) for code, key in enumerate(categories)}
    per_unique = np.array([lookup.get(category_key(u), np.nan) for u in uniques] + [np.nan], dtype=np.float64)
    return per_unique[np.asarray(codes)]  # the sentinel -1 reads the trailing NaN


def _category_keys(series: pd.Series) -> list[str]:
    """The category keys of a column (missing excluded), the most frequent :data:`MAX_CATEGORIES`, sorted."""
    counts: dict[str, int] = {}
    for value, count in series.value_counts(dropna=True, sort=False).items():
        key = category_key(value)
        if key != MISSING:
            counts[key] = counts.get(key, 0) + int(count)
    if len(counts) > MAX_CATEGORIES:
        counts = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_CATEGORIES])
    return sorted(counts)


def _prediction(prediction: ArrayLike, rows: int) -> np.ndarray:
    values = as_1d(prediction, "prediction")
    if values.size != rows:
        raise ValueError(f"prediction has {values.size} values but the frame has {rows} rows; they must match.")
    try:
        return pd.to_numeric(pd.Series(values), errors="raise").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"prediction must be numeric for regression: {exc}") from exc


def loss_inputs(
    frame: pd.DataFrame, prediction: ArrayLike, numeric: Sequence[str], categorical: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """The ``(n, features + 1)`` float64 input matrix of the error models (NaN for missing)."""
    require_columns(frame, [*numeric, *categorical], what="inference log", role="feature")
    predicted = _prediction(prediction, len(frame))
    x = np.empty((len(frame), len(numeric) + len(categorical) + 1), dtype=np.float64, order="F")  # columns read whole
    for j, name in enumerate(numeric):
        x[:, j] = _numeric_column(frame[name], name)
    for j, (name, categories) in enumerate(categorical.items(), start=len(numeric)):
        x[:, j] = _category_codes(frame[name], categories)
    predicted[~np.isfinite(predicted)] = np.nan
    x[:, -1] = predicted
    return x


def min_leaf_rows(rows: int) -> int:
    """Fewest rows a leaf of the error models averages: :data:`LEAF_SHARE` of ``rows``, between 20 and 200."""
    return int(min(200, max(20, rows * LEAF_SHARE)))


def fit_regressor(x: np.ndarray, target: np.ndarray, seed: int) -> Any:
    """A ``HistGradientBoostingRegressor`` of ``target`` on ``x`` with :data:`BOOSTING`, on one thread."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    model = HistGradientBoostingRegressor(
        **BOOSTING,
        min_samples_leaf=min_leaf_rows(len(target)),
        early_stopping=False,
        random_state=seed,
    )
    # One thread: OpenMP threads add little on a holdout's rows and spin on a busy machine.
    with threadpool_limits(limits=1):
        model.fit(x, target)
    return model


def fit_loss_model(
    frame: pd.DataFrame,
    prediction: ArrayLike,
    y_true: ArrayLike,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int = 0,
) -> LossModel | str:
    """Learn a regression model's absolute and squared error from labelled rows (direct loss estimation).

    Rows whose target or prediction is missing or infinite are dropped. The
    category keys of each categorical feature (up to :data:`MAX_CATEGORIES`,
    the most frequent) are taken from the rows kept.

    Parameters
    ----------
    frame : DataFrame
        The labelled rows' features (e.g. the snapshot's holdout).
    prediction, y_true : array-like, 1-D
        The model's predictions of those rows and their true values.
    numeric, categorical : sequence of str
        The feature columns, by kind.
    seed : int
        The ensembles' ``random_state`` (every iteration is fit on every row, so
        the fit is the same for any seed today; kept so a change of settings
        stays reproducible).

    Returns
    -------
    LossModel or str
        The fitted model, or the reason it could not be fitted (fewer than
        :data:`MIN_ROWS` usable rows).

    Raises
    ------
    SchemaMismatch
        If ``frame`` lacks a feature column or a numeric feature holds text.
    ValueError
        If the lengths differ or the target or prediction is not numeric.
    """
    predicted = _prediction(prediction, len(frame))
    truth = as_1d(y_true, "y_true")
    if truth.size != len(frame):
        raise ValueError(f"y_true has {truth.size} values but the frame has {len(frame)} rows; they must match.")
    try:
        target = pd.to_numeric(pd.Series(truth), errors="raise").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y_true must be numeric for regression: {exc}") from exc
    require_columns(frame, [*numeric, *categorical], what="labelled rows", role="feature")
    usable = np.isfinite(target) & np.isfinite(predicted)
    rows = int(usable.sum())
    if rows < MIN_ROWS:
        return (
            f"{rows} labelled rows with a finite target and prediction (of {len(frame)}); "
            f"direct loss estimation needs at least {MIN_ROWS}"
        )
    kept = frame.loc[usable] if not usable.all() else frame
    categories = {name: _category_keys(kept[name]) for name in categorical}
    x = loss_inputs(kept, predicted[usable], list(numeric), categories)
    error = target[usable] - predicted[usable]
    absolute = fit_regressor(x, np.abs(error), seed)
    squared = fit_regressor(x, error * error, seed)
    dropped = len(frame) - rows
    trees = f"{len(absolute._predictors)} and {len(squared._predictors)} trees"
    reason = f"fit on {rows:,} labelled rows ({trees} for the absolute and squared error)"
    if dropped:
        reason += f"; {dropped:,} rows without a finite target or prediction dropped"
    return LossModel(
        numeric=list(numeric),
        categorical=categories,
        absolute=export_trees(absolute),
        squared=export_trees(squared),
        rows=rows,
        reason=reason,
    )


def estimate_losses(
    model: LossModel,
    frame: pd.DataFrame,
    prediction: ArrayLike,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> MetricsResult:
    """Label-free MAE and RMSE of a window of predictions, from the model's learned error.

    ``mae`` is the mean predicted absolute error and ``rmse`` the square root of
    the mean predicted squared error, both in the target's unit. Their intervals
    bootstrap the rows as the realized metrics do (percentile intervals of
    ``resamples`` seeded resamples at two-sided level ``confidence``): they cover
    sampling error, not the error models' own.

    Parameters
    ----------
    model : LossModel
        Fitted by :func:`fit_loss_model`.
    frame : DataFrame
        The window's features (extra columns are ignored).
    prediction : array-like, 1-D
        The logged predictions of those rows.
    confidence, resamples, seed
        As :func:`retrain.metrics.realized_performance`.

    Returns
    -------
    MetricsResult
        Values and intervals of :data:`LOSS_METRICS`.

    Raises
    ------
    InsufficientData
        If the window has no rows.
    SchemaMismatch
        If a feature column is missing (the message names it).
    ValueError
        If the lengths differ or ``confidence`` / ``resamples`` are out of range.
    """
    check_ci(confidence, resamples)
    if len(frame) == 0:
        raise InsufficientData("the window has no predictions: no loss to estimate")
    absolute, squared = model.predict(frame, prediction)
    cells = np.column_stack((absolute, squared, np.ones_like(absolute)))

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        sums = weights.T @ cells  # (b, 3): weighted sums of each error and the total weight
        return {"mae": sums[:, 0] / sums[:, 2], "rmse": np.sqrt(sums[:, 1] / sums[:, 2])}

    return summarize(stat, len(frame), confidence=confidence, resamples=resamples, seed=seed)
