"""Calibration of a classifier's probabilities, so that the label-free estimate can read them as chances.

CBPE (:func:`retrain.metrics.estimate_performance`) takes ``proba[i, c]`` as the
chance that row ``i`` is of class ``c``: its estimate is only as good as the
probabilities' calibration. A :class:`Calibration` is fitted on a holdout with
labels (:func:`fit_calibration`), stored as JSON, and applied to logged
probabilities before estimating (:meth:`Calibration.apply`, numpy only: this
module never imports scikit-learn at import time).

Isotonic regression on large holdouts, Platt scaling otherwise (and where
isotonic does not help); one calibrator for a binary model, one per class
(one-vs-rest) for more. A calibrator is kept only when it lowers the
*cross-validated* Brier score: scored on the rows it was fitted on, isotonic
regression always looks better.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import BaseModel, Field, model_validator

from retrain.labels import as_1d, class_key
from retrain.metrics.encodings import positive_class
from retrain.metrics.engine import one_hot, row_brier

#: Isotonic regression needs this many usable rows, and every calibrated class :data:`ISOTONIC_MIN_CLASS_ROWS`
#: rows of it and of the rest; on fewer its steps follow noise, and Platt scaling (two parameters) is used.
ISOTONIC_MIN_ROWS = 1000
ISOTONIC_MIN_CLASS_ROWS = 50
#: Fewer usable rows, or a calibrated class with fewer rows of it (or of the rest), is not calibrated.
MIN_ROWS = 20
MIN_CLASS_ROWS = 5
#: Folds of the cross-validated Brier score that decides whether to calibrate.
FOLDS = 5
#: Platt scaling clips probabilities to ``[PROBA_CLIP, 1 - PROBA_CLIP]`` before taking their logit.
PROBA_CLIP = 1e-6

Method = Literal["isotonic", "sigmoid"]


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, PROBA_CLIP, 1.0 - PROBA_CLIP)
    return np.log(clipped) - np.log1p(-clipped)


class ClassCalibrator(BaseModel):
    """A monotone map of one class's probability to a calibrated one.

    ``isotonic``: the piecewise-linear interpolation of the points ``(x, y)``
    (scikit-learn's ``IsotonicRegression`` thresholds), constant beyond them.
    ``sigmoid``: ``1 / (1 + exp(-(a * logit(p) + b)))``, ``p`` clipped to
    ``[1e-6, 1 - 1e-6]`` (Platt scaling).
    """

    method: Method
    x: list[float] = Field(default_factory=list)
    y: list[float] = Field(default_factory=list)
    a: float = 1.0
    b: float = 0.0

    @model_validator(mode="after")
    def _check_points(self) -> Self:
        if self.method == "isotonic" and (not self.x or len(self.x) != len(self.y) or np.any(np.diff(self.x) < 0)):
            raise ValueError(
                f"isotonic x ({len(self.x)} values) must be sorted, non-empty and as long as y ({len(self.y)})."
            )
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        """The calibrated probabilities of the values ``p`` (any shape)."""
        if self.method == "isotonic":
            return np.interp(p, self.x, self.y)
        # exp(-log(1 + exp(-t))) is the logistic function without overflow for large |t|.
        return np.exp(-np.logaddexp(0.0, -(self.a * _logit(p) + self.b)))


class Calibration(BaseModel):
    """How to calibrate a model's class probabilities, and why (JSON round-trippable).

    ``classes``: the columns' class keys (:func:`retrain.labels.class_key`). ``calibrators``: one, of column
    ``positive``, for two classes; one per column for more; none for ``"none"``. ``brier_raw`` (of the raw
    probabilities on the ``rows`` usable holdout rows) and ``brier_calibrated`` (cross-validated) are on the
    metric check's scale: the mean over rows of the sum over classes of ``(p - onehot)²``, halved for two
    classes. ``reason`` says in one sentence what was chosen and why.
    """

    method: Literal["isotonic", "sigmoid", "none"]
    classes: list[str]
    calibrators: list[ClassCalibrator] = Field(default_factory=list)
    positive: int | None = None
    rows: int
    brier_raw: float | None
    brier_calibrated: float | None = None
    reason: str

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        k = len(self.classes)
        if self.method != "none" and (k < 2 or len(self.calibrators) != (1 if k == 2 else k)):
            raise ValueError(f"{k} classes need {1 if k == 2 else k} calibrators, got {len(self.calibrators)}.")
        if self.method != "none" and k == 2 and self.positive not in (0, 1):
            raise ValueError(f"positive == {self.positive!r}, must be 0 or 1 for two classes.")
        return self

    def label(self) -> str:
        """The method in a word, for reports: ``"isotonic"``, ``"sigmoid"`` or ``"none"``."""
        return self.method

    def apply(self, proba: ArrayLike, classes: Sequence[Any] | None = None) -> np.ndarray:
        """The calibrated probabilities: a float matrix of ``proba``'s shape, columns in the same order.

        Binary: the positive column ``p`` becomes ``f(p)`` and the other
        ``1 - f(p)``. More classes: each column is mapped by its calibrator and
        each row renormalized to sum to 1 (a row that maps to all zeros keeps
        its raw probabilities). A row with a missing probability or one outside
        [0, 1] is returned as it came, so the estimate still reports it;
        ``method == "none"`` returns the probabilities unchanged.

        ``classes``, when given, are the classes of ``proba``'s columns, matched
        by class key (default: :attr:`classes`' order). Raises ValueError if
        ``proba`` is not 2-D with one column per class, or ``classes`` are not
        the calibrated ones.
        """
        matrix = np.array(proba, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.classes):
            raise ValueError(f"proba must have shape (rows, {len(self.classes)}), got {matrix.shape}.")
        order = list(range(len(self.classes)))
        if classes is not None:
            keys = [class_key(c) for c in classes]
            if sorted(keys) != sorted(self.classes):
                raise ValueError(f"classes == {keys}, must be the calibrated classes {self.classes}.")
            order = [keys.index(c) for c in self.classes]
        if self.method == "none":
            return matrix
        usable = _valid_rows(matrix)
        matrix[np.ix_(usable, order)] = _transform(self.calibrators, self.positive, matrix[usable][:, order])
        return matrix


def _valid_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows whose probabilities are all present and in [0, 1]."""
    return np.isfinite(matrix).all(axis=1) & ((matrix >= 0.0) & (matrix <= 1.0)).all(axis=1)


def _transform(calibrators: list[ClassCalibrator], positive: int | None, matrix: np.ndarray) -> np.ndarray:
    """The calibrated probabilities of usable rows whose columns are in the calibrated classes' order."""
    if positive is not None:
        p = calibrators[0].transform(matrix[:, positive])
        return np.column_stack([1.0 - p, p] if positive == 1 else [p, 1.0 - p])
    mapped = np.column_stack([c.transform(matrix[:, j]) for j, c in enumerate(calibrators)])
    total = mapped.sum(axis=1, keepdims=True)
    zero = total <= 0.0
    return np.where(zero, matrix, mapped / np.where(zero, 1.0, total))


def _brier(matrix: np.ndarray, codes: np.ndarray) -> float:
    """The Brier score of the rows' probabilities against their class codes (the metric check's ``brier``)."""
    return float(row_brier(matrix, one_hot(codes, matrix.shape[1])).mean())


def _folds(codes: np.ndarray, seed: int) -> np.ndarray:
    """A fold number per row, seeded and stratified: each class's rows, shuffled, are dealt round the folds."""
    order = np.random.default_rng(seed).permutation(codes.size)
    order = order[np.argsort(codes[order], kind="stable")]
    folds = np.empty(codes.size, dtype=np.int64)
    folds[order] = np.arange(codes.size) % FOLDS
    return folds


def _fit(method: Method, matrix: np.ndarray, codes: np.ndarray, columns: list[int]) -> list[ClassCalibrator]:
    """One calibrator per column of ``columns``, each fitted one-vs-rest on the rows' labels ``codes``."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    calibrators = []
    for c in columns:
        p, hit = matrix[:, c], (codes == c).astype(np.float64)
        if method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, hit)
            calibrators.append(ClassCalibrator(method=method, x=list(iso.X_thresholds_), y=list(iso.y_thresholds_)))
        else:
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p)[:, None], hit)
            calibrators.append(ClassCalibrator(method=method, a=float(platt.coef_[0, 0]), b=float(platt.intercept_[0])))
    return calibrators


def _usable(labels: np.ndarray, matrix: np.ndarray, keys: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The class code of every row (-1: unusable), a mask of the usable rows, and what was dropped and why."""
    codes, uniques = pd.factorize(labels)  # a missing label gets code -1
    lookup = np.asarray([keys.index(key) if (key := class_key(u)) in keys else -1 for u in uniques] + [-1])
    t = lookup[codes]
    good_proba = _valid_rows(matrix)
    dropped = {
        "a missing label": int((codes < 0).sum()),
        f"a label outside the classes {keys}": int(((codes >= 0) & (t < 0)).sum()),
        "missing probabilities or ones outside [0, 1]": int((~good_proba & (t >= 0)).sum()),
    }
    notes = [f"{count:,} rows with {what} dropped" for what, count in dropped.items() if count]
    return t, good_proba & (t >= 0), notes


def fit_calibration(
    y_true: ArrayLike, proba: ArrayLike, classes: Sequence[Any], *, pos_label: Any = None, seed: int = 0
) -> Calibration:
    """Fit the calibration of a model's class probabilities on a labelled holdout, if it helps.

    Isotonic regression where the holdout is large enough (see
    :data:`ISOTONIC_MIN_ROWS`), kept only when it strictly lowers the Brier
    score under seeded, stratified :data:`FOLDS`-fold cross-validation; else
    Platt scaling, kept on the same condition; the one kept is refitted on every
    usable row. When neither lowers it, ``method == "none"``. Rows with a missing label, a label not in
    ``classes``, or probabilities missing or outside [0, 1] are dropped (the
    reason counts them); too few rows or a single class give ``"none"`` (see
    :data:`MIN_ROWS`), never an error. Imports scikit-learn when called.

    Parameters
    ----------
    y_true : array-like, 1-D
        The holdout's labels (any spelling of a class: ``1``, ``"1"``, ``True``).
    proba : array-like of shape (n, k)
        The model's probabilities of the same rows, one column per class.
    classes : sequence
        The classes of ``proba``'s columns (at least two, distinct).
    pos_label : optional
        Positive class of a binary model, the column calibrated; default the larger class.
    seed : int
        Seeds the folds.

    Returns
    -------
    Calibration

    Raises
    ------
    ValueError
        If ``y_true`` is not 1-D, ``proba`` not ``(len(y_true), len(classes))``, ``classes``
        fewer than two or repeated, or ``pos_label`` not one of them.
    """
    labels = as_1d(y_true, "y_true")
    matrix = np.asarray(proba, dtype=np.float64)
    keys = [class_key(c) for c in classes]
    k = len(keys)
    if k < 2 or len(set(keys)) != k:
        raise ValueError(f"classes == {list(classes)!r}, must hold at least 2 distinct classes.")
    if matrix.ndim != 2 or matrix.shape != (labels.size, k):
        raise ValueError(f"proba must have shape ({labels.size}, {k}) (rows of y_true, classes), got {matrix.shape}.")
    if pos_label is not None and class_key(pos_label) not in keys:
        raise ValueError(f"pos_label == {pos_label!r}, must be one of the classes {list(classes)!r}.")
    positive = None
    if k == 2:
        larger = positive_class(pd.Index(list(classes)), None)
        positive = keys.index(class_key(pos_label)) if pos_label is not None else larger
    t, usable, notes = _usable(labels, matrix, keys)
    matrix, t = matrix[usable], t[usable]
    method, calibrators, why, calibrated = _choose(matrix, t, keys, positive, seed)
    return Calibration(
        method=method,
        classes=keys,
        calibrators=calibrators,
        positive=positive,
        rows=t.size,
        brier_raw=_brier(matrix, t) if t.size else None,
        brier_calibrated=calibrated,
        reason=why + (f" ({'; '.join(notes)})" if notes else ""),
    )


def _choose(
    matrix: np.ndarray, t: np.ndarray, keys: list[str], positive: int | None, seed: int
) -> tuple[Literal["isotonic", "sigmoid", "none"], list[ClassCalibrator], str, float | None]:
    """The method, its calibrators fitted on every row, the reason, and the cross-validated Brier score."""
    n, k = t.size, len(keys)
    if n < MIN_ROWS:
        return "none", [], f"none: {n:,} usable holdout rows, at least {MIN_ROWS} are needed to calibrate", None
    counts = np.bincount(t, minlength=k)
    if (counts > 0).sum() < 2:
        only = keys[int(counts.argmax())]
        return "none", [], f"none: only class {only!r} is in the holdout's labels, calibration needs two", None
    columns = [positive] if positive is not None else list(range(k))
    fewest = {c: min(int(counts[c]), n - int(counts[c])) for c in columns}
    rare = min(columns, key=fewest.__getitem__)
    if fewest[rare] < MIN_CLASS_ROWS:
        why = f"none: class {keys[rare]!r} is the label of {int(counts[rare]):,} of {n:,} holdout rows, at least "
        return "none", [], why + f"{MIN_CLASS_ROWS} of it and of the rest are needed", None
    first: Method = "isotonic" if n >= ISOTONIC_MIN_ROWS and fewest[rare] >= ISOTONIC_MIN_CLASS_ROWS else "sigmoid"
    raw, folds = _brier(matrix, t), _folds(t, seed)
    tried: list[str] = []
    calibrated = raw
    for method in dict.fromkeys((first, "sigmoid")):  # isotonic first where it may be used, then Platt scaling
        scored = np.empty_like(matrix)
        for fold in range(FOLDS):
            test = folds == fold
            scored[test] = _transform(_fit(method, matrix[~test], t[~test], columns), positive, matrix[test])
        calibrated = _brier(scored, t)
        if calibrated < raw:
            change = f"cross-validated Brier {raw:.4f} -> {calibrated:.4f}"
            also = f" ({'; '.join(tried)})" if tried else ""
            return (
                method,
                _fit(method, matrix, t, columns),
                f"{method} on {n:,} holdout rows: {change}{also}",
                calibrated,
            )
        verdict = (
            "made the cross-validated Brier worse" if calibrated > raw else "did not lower the cross-validated Brier"
        )
        tried.append(f"{method} {verdict} ({raw:.4f} -> {calibrated:.4f})")
    return "none", [], f"none: {'; '.join(tried)}", calibrated
