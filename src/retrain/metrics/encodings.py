"""Label encodings: the observed labels, predictions and probabilities turned into the engine's statistics."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retrain.metrics.engine import (
    EPS,
    Confusion,
    Ranking,
    Stat,
    as_float,
    label_kind,
    label_scores,
    one_hot,
    roc_auc,
    row_brier,
)

#: The regression metrics of :func:`regression_stat`, in the order they are reported.
REGRESSION_METRICS = ("rmse", "mae", "mape", "r2")


def encode_labels(true: np.ndarray, pred: np.ndarray, pos_label: Any) -> tuple[np.ndarray, np.ndarray, int | None, int]:
    """Codes of ``true`` and ``pred`` in their sorted label union, the positive code (None: multiclass), k."""
    for name, values in (("y_true", true), ("y_pred", pred)):
        missing = int(pd.isna(values).sum())
        if missing:
            raise ValueError(f"{name} contains {missing} missing labels.")
    kinds = {label_kind(true, "y_true"), label_kind(pred, "y_pred")}
    if len(kinds) > 1:
        raise ValueError("y_true and y_pred mix string and numeric labels; they must be of the same type.")
    n = true.size
    labels, codes = np.unique(np.concatenate([true, pred]), return_inverse=True)
    if pos_label is not None and labels.size <= 2 and pos_label not in labels:
        if labels.size == 2 or label_kind(np.asarray([pos_label]), "pos_label") not in kinds:
            raise ValueError(f"pos_label == {pos_label!r}, must be one of the labels {labels.tolist()}.")
        # One label observed, the other is the positive one: it has no true and no predicted rows.
        labels, codes = np.unique(np.concatenate([true, pred, [pos_label]]), return_inverse=True)
    positive = None
    if labels.size <= 2:
        positive = labels.size - 1 if pos_label is None else int(np.searchsorted(labels, pos_label))
    return codes[:n], codes[n : 2 * n], positive, int(labels.size)


def label_stat(true: np.ndarray, pred: np.ndarray, pos_label: Any) -> Stat:
    t_codes, p_codes, positive, k = encode_labels(true, pred, pos_label)
    confusion = Confusion(one_hot(t_codes, k), p_codes)

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        return label_scores(confusion(weights), positive)

    return stat


def check_proba(proba: ArrayLike, classes: Sequence[Any], n: int) -> tuple[np.ndarray, pd.Index] | str:
    """The probabilities as ``(n, k)`` floats and the classes as an index, or why they cannot be used."""
    matrix = np.asarray(proba, dtype=np.float64)
    index = pd.Index(list(classes))
    if matrix.ndim != 2 or matrix.shape != (n, len(index)):
        raise ValueError(f"proba must have shape ({n}, {len(index)}) (rows, classes), got {matrix.shape}.")
    if len(index) < 2:
        return f"probabilities of {len(index)} class, at least 2 are needed"
    if not index.is_unique:
        raise ValueError(f"classes must be unique, got {index.tolist()}.")
    missing = int(np.isnan(matrix).any(axis=1).sum())
    if missing:
        return f"{missing} rows have missing probabilities"
    if (matrix < 0).any() or (matrix > 1).any():
        return "probabilities outside [0, 1]"
    return matrix, index


def positive_class(index: pd.Index, pos_label: Any) -> int | None:
    if len(index) != 2:
        return None
    if pos_label is None or pos_label not in index:
        return 0 if index[0] > index[1] else 1  # the larger label
    return int(index.get_indexer(pd.Index([pos_label]))[0])


def proba_stat(true: np.ndarray, matrix: np.ndarray, index: pd.Index, pos_label: Any) -> Stat | str:
    """ROC AUC, log loss and Brier score from the logged probabilities, or why they cannot be computed."""
    t_codes = index.get_indexer(pd.Index(true))
    unknown = sorted({str(v) for v in true[t_codes < 0]})
    if unknown:
        return f"labels {', '.join(unknown)} have no probability column"
    k = len(index)
    truth = one_hot(t_codes, k)
    positive = positive_class(index, pos_label)
    columns = [positive] if positive is not None else list(range(k))
    rankings = [Ranking(matrix[:, c], truth[:, c]) for c in columns]
    clipped = np.clip(matrix[np.arange(true.size), t_codes], EPS, 1.0 - EPS)
    row_log_loss = -np.log(clipped)
    brier = row_brier(matrix, truth)

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        total = weights.sum(axis=0)
        return {
            "roc_auc": roc_auc(rankings, weights),
            "log_loss": row_log_loss @ weights / total,
            "brier": brier @ weights / total,
        }

    return stat


def regression_stat(true: np.ndarray, pred: np.ndarray, names: Collection[str] = REGRESSION_METRICS) -> Stat:
    """RMSE, MAE, MAPE and R² of the weighted rows; only ``names`` are computed (each costs a pass over the rows)."""
    t = as_float(true, "y_true")
    p = as_float(pred, "y_pred")
    error = t - p
    squared = error**2
    absolute = np.abs(error)
    relative = absolute / np.maximum(np.abs(t), EPS)  # scikit-learn's MAPE (a fraction, not percent)
    centred = t - t.mean()
    constant = bool(np.ptp(t) == 0)

    def stat(weights: np.ndarray) -> dict[str, np.ndarray]:
        total = weights.sum(axis=0)
        ss_res = squared @ weights if "rmse" in names or "r2" in names else None
        scores = {}
        if ss_res is not None and "rmse" in names:
            scores["rmse"] = np.sqrt(ss_res / total)
        if "mae" in names:
            scores["mae"] = absolute @ weights / total
        if "mape" in names:
            scores["mape"] = relative @ weights / total
        if ss_res is not None and "r2" in names:
            shift = centred @ weights / total
            spread = centred**2 @ weights
            ss_tot = spread - total * shift**2
            # A constant target (in the window or in a resample): scikit-learn's force_finite.
            degenerate = np.full(ss_tot.shape, True) if constant else ss_tot <= 1e-12 * spread
            safe = np.where(degenerate, 1.0, ss_tot)
            scores["r2"] = np.where(degenerate, np.where(ss_res == 0, 1.0, 0.0), 1.0 - ss_res / safe)
        return scores

    return stat


def by_score(matrix: np.ndarray, index: pd.Index, pos_label: Any) -> np.ndarray:
    """Row order by the first ranked probability column: its ranking then needs no reordering per resample."""
    positive = positive_class(index, pos_label)
    return np.argsort(matrix[:, 0 if positive is None else positive], kind="stable")
