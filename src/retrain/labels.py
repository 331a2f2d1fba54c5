"""Labels meeting predictions: joining delayed ground truth to logged predictions, and typing it as the model does.

- :func:`join_labels` attaches labels to an inference log by request id;
- :func:`probability_columns` finds the class-probability columns of a log;
- :func:`align_labels` matches each label to one of the model's classes, so
  that every spelling of a class (``1``, ``1.0``, ``"1"``, ``True``) is one class;
- :func:`class_key` is that canonical spelling, shared by everything that
  compares classes (the metrics, the prediction difference).

Data plumbing only: numpy and pandas, no metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retrain.config import Problem
from retrain.errors import SchemaMismatch
from retrain.frames import require_columns
from retrain.targets import float_label, numbers

__all__ = ["AlignedLabels", "align_labels", "as_1d", "check_problem", "class_key", "join_labels", "probability_columns"]


def check_problem(problem: str) -> None:
    """Raise ValueError unless ``problem`` is ``"classification"`` or ``"regression"``."""
    if problem not in ("classification", "regression"):
        raise ValueError(f"problem == {problem!r}, must be 'classification' or 'regression'.")


def as_1d(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a 1-D numpy array (a Series or Index by its values); ValueError names ``name`` otherwise."""
    array = values.to_numpy() if isinstance(values, pd.Series | pd.Index) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    return array


def _parse_class(text: str, like: np.ndarray) -> Any:
    """A class label from a column-name suffix, in the type of the logged labels ``like``."""
    if like.dtype.kind == "b" or (like.dtype == object and like.size and isinstance(like[0], bool | np.bool_)):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    if like.dtype.kind in "iuf" or (
        like.dtype == object and like.size and isinstance(like[0], int | float | np.number)
    ):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    return text


def probability_columns(frame: pd.DataFrame, prefix: str, like: ArrayLike) -> tuple[list[str], list[Any]]:
    """The class-probability columns of an inference log and their classes.

    A column ``<prefix><class>`` holds the probability of ``<class>``; the class
    is parsed into the type of the logged labels ``like`` (``proba_1`` is the
    class ``1`` of integer labels, ``proba_yes`` the class ``"yes"``). The
    columns are returned in sorted class order.

    Returns
    -------
    columns, classes : list
        Empty lists when the log has no such column.
    """
    sample = as_1d(like, "like")
    found = [(c, _parse_class(str(c)[len(prefix) :], sample)) for c in frame.columns if str(c).startswith(prefix)]
    try:
        found.sort(key=lambda item: item[1])
    except TypeError:
        found.sort(key=lambda item: str(item[1]))
    return [c for c, _ in found], [label for _, label in found]


def join_labels(
    inference: pd.DataFrame, labels: pd.DataFrame, *, id_column: str, target: str
) -> tuple[pd.DataFrame, float]:
    """Attach delayed ground-truth labels to logged predictions.

    Labels with a missing id or a missing target value are ignored; when an id
    has several labels the last one (in row order) wins. Inference rows with a
    missing id never match but count in the match rate's denominator. The join is an inner join on
    ``id_column`` that keeps the order of ``inference``; an inference column
    named like ``target`` is replaced by the label.

    Parameters
    ----------
    inference : pandas.DataFrame
        Logged predictions, with ``id_column``.
    labels : pandas.DataFrame
        Ground truth, with ``id_column`` and ``target``.
    id_column : str
        Name of the request id column in both frames.
    target : str
        Name of the label column in ``labels``.

    Returns
    -------
    joined : pandas.DataFrame
        The matched inference rows (all their columns) plus ``target``, with a
        fresh index.
    match_rate : float
        Matched inference rows / inference rows, in [0, 1]; 0.0 when
        ``inference`` is empty.

    Raises
    ------
    SchemaMismatch
        If ``inference`` lacks ``id_column``, ``labels`` lacks ``id_column`` or
        ``target`` (the message names the column and the frame), or the id
        columns cannot be joined (incompatible types).
    ValueError
        If ``target`` equals ``id_column``.
    """
    if target == id_column:
        raise ValueError(f"target == {target!r}, must differ from id_column.")
    require_columns(inference, [id_column], what="inference")
    require_columns(labels, [id_column, target], what="labels")
    truth = labels.loc[labels[id_column].notna() & labels[target].notna(), [id_column, target]]
    truth = truth.drop_duplicates(subset=id_column, keep="last")
    left = inference.drop(columns=[target]) if target in inference.columns and target != id_column else inference
    try:
        joined = left.loc[left[id_column].notna()].merge(
            truth, on=id_column, how="inner", validate="many_to_one", sort=False
        )
    except ValueError as exc:
        raise SchemaMismatch(
            f"cannot join on {id_column!r}: dtype {inference[id_column].dtype} in inference "
            f"but {labels[id_column].dtype} in labels ({exc})"
        ) from exc
    match_rate = len(joined) / len(inference) if len(inference) else 0.0
    return joined.reset_index(drop=True), match_rate


#: At most this many label values or classes are listed in a message.
_SHOWN = 10


@dataclass(frozen=True)
class AlignedLabels:
    """Labels of joined predictions, typed as the model's predictions are (see :func:`align_labels`).

    ``values`` holds one label per row. ``unseen`` lists, sorted, the classification
    labels that match none of the model's classes (new classes, scored as misses),
    ``unseen_rows`` counts their rows and ``classes`` are the classes they were matched against.
    """

    values: np.ndarray
    unseen: list[Any] = field(default_factory=list)
    unseen_rows: int = 0
    classes: list[Any] = field(default_factory=list)


def align_labels(
    problem: Problem,
    labels: ArrayLike,
    predictions: ArrayLike,
    *,
    classes: Sequence[Any] | None = None,
    column: str,
    model: str = "the champion",
    step: str = "MetricCheck",
) -> AlignedLabels:
    """Check delayed labels against the model that made the predictions, and type them as its predictions.

    Regression: every label must be a finite number (a boolean counts as 0 or 1).

    Classification: each label is matched to one of the model's classes by
    value, so that the spellings of a class are one class: ``1``, ``1.0``,
    ``"1"`` and ``"1.0"`` are the class ``1`` (or ``"1"``, or ``1.0``, whichever
    the model has), ``True`` and ``"true"`` are ``1`` (or ``True``); a matched
    label takes the class's value and type. The model's classes are ``classes``
    (the classes of its logged probability columns: every class it knows) and
    every predicted label; without ``classes``, only the predicted ones. A label
    that matches no class is *unseen*:

    - unseen labels of the other kind than the classes (text labels for a model
      whose classes are all numbers or booleans, or numbers for one whose classes
      are all text), or every label unseen while ``classes`` are given: the labels
      are encoded differently, a :class:`~retrain.errors.SchemaMismatch`;
    - otherwise a new class appeared. Its rows are kept and scored (the model
      cannot predict a class it never saw: each is a miss), the labels are returned
      in ``unseen`` for the caller to report. A new class is a reason to retrain,
      not to stop monitoring.

    Parameters
    ----------
    problem : {"classification", "regression"}
    labels : array-like, 1-D
        The joined labels (no missing values: :func:`join_labels` drops them).
    predictions : array-like, 1-D
        The model's predictions of the same rows.
    classes : sequence, optional
        Every class the model knows (e.g. from :func:`probability_columns`).
    column : str
        The labels' column, for messages.
    model : str
        Names the model in messages (``"v3"``, ``"the champion"``).
    step : str
        Names the step in messages.

    Returns
    -------
    AlignedLabels

    Raises
    ------
    SchemaMismatch
        Regression labels that are not numbers or are infinite (the message names
        the column, the step and an example); classification labels encoded
        differently from the model's classes (it names the labels, the model and
        its classes).
    """
    check_problem(problem)
    values = as_1d(labels, "labels")
    if problem == "regression":
        return AlignedLabels(values=_regression_labels(values, column, step))
    predicted = as_1d(predictions, "predictions")
    candidates = [*(classes or []), *pd.unique(predicted[~pd.isna(predicted)])]
    by_key: dict[str, Any] = {}
    for value in candidates:
        by_key.setdefault(class_key(value), _plain(value))
    codes, uniques = pd.factorize(values)
    if (codes < 0).any():
        raise ValueError(f"labels contain {int((codes < 0).sum())} missing values.")
    keys = [class_key(value) for value in uniques]
    unseen_codes = [i for i, key in enumerate(keys) if key not in by_key]
    known = _sorted_labels(by_key.values())
    if not unseen_codes:
        mapped = [by_key[key] for key in keys]
        return AlignedLabels(values=_take(mapped, codes), classes=known)
    class_kind = _kind_of(by_key)
    unseen_rows = int(np.isin(codes, unseen_codes).sum())
    unseen_keys = {keys[i]: _plain(uniques[i]) for i in unseen_codes}
    foreign = [key for key in unseen_keys if not _fits(_kind_of([key]), class_kind)]
    everything = unseen_rows == values.size and classes is not None and len(classes) > 0
    if foreign or everything:
        named = foreign or list(unseen_keys)
        shown = _sorted_labels(unseen_keys[key] for key in named)
        named_rows = int(np.isin(codes, [keys.index(key) for key in named]).sum())
        knows = "knows" if classes else "predicted only"
        hint = "are the labels encoded differently?"
        if foreign:
            why = f"the labels are {_kind_of(foreign)} but its classes are {class_kind}"
            if _kind_of(foreign) == "fractional numbers":
                hint = "are they continuous values (a regression target)?"
        else:
            why = f"none of the {values.size} labelled predictions has a label it knows"
        raise SchemaMismatch(
            f"{step} step: labels {_listed(shown)} in column {column!r} were never seen by {model}, which {knows} "
            f"{_listed(known)}{'' if classes else ' in this window'}: {why} - {hint} "
            f"({named_rows} of {values.size} labels)"
        )
    mapped = [by_key[key] if key in by_key else _as_kind(key, unseen_keys[key], class_kind) for key in keys]
    new = _sorted_labels(_as_kind(key, unseen_keys[key], class_kind) for key in unseen_keys)
    return AlignedLabels(values=_take(mapped, codes), unseen=new, unseen_rows=unseen_rows, classes=known)


def _regression_labels(values: np.ndarray, column: str, step: str) -> np.ndarray:
    """Regression labels as float64; a label that is not a finite number raises SchemaMismatch."""
    array, bad = numbers(pd.Series(values))
    if bad.any():
        raise SchemaMismatch(
            f"{step} step: labels column {column!r} must be numeric for a regression model, found "
            f"{_plain(values[bad][0])!r} ({int(bad.sum())} non-numeric of {values.size} labels)"
        )
    infinite = int(np.isinf(array).sum())
    if infinite:
        raise SchemaMismatch(
            f"{step} step: labels column {column!r} holds {infinite} infinite values; "
            "a regression label must be a finite number"
        )
    return array


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def class_key(value: Any) -> str:
    """What every spelling of a class shares: ``1``, ``1.0``, ``"1"``, ``True``, ``"true"`` -> ``"1"``."""
    if isinstance(value, bool | np.bool_ | int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return float_label(float(value))
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return "1" if text.lower() == "true" else "0"
    try:
        number = float(text)
    except ValueError:
        return text
    return float_label(number) if math.isfinite(number) else text


def _isfloat_label(key: str) -> bool:
    try:
        float(key)
    except ValueError:
        return False
    return True


def _kind_of(keys: Any) -> str:
    """The kind of some class keys: ``"whole numbers"``, ``"fractional numbers"``, ``"numbers"`` (both), ``"text"``
    or ``"mixed"`` (text and numbers)."""
    kinds = {
        ("whole numbers" if float(key).is_integer() else "fractional numbers") if _isfloat_label(key) else "text"
        for key in keys
    }
    if len(kinds) == 1:
        return kinds.pop()
    return "mixed" if "text" in kinds else "numbers"


def _fits(label_kind: str, class_kind: str) -> bool:
    """Whether an unseen label of ``label_kind`` can be a new class of a model whose classes are ``class_kind``."""
    if class_kind == "mixed":
        return True
    if class_kind == "numbers":
        return label_kind != "text"
    return label_kind == class_kind


def _as_kind(key: str, value: Any, class_kind: str) -> Any:
    """An unseen label in the kind of the model's classes: a number for numbered classes, else text."""
    if class_kind.endswith("numbers"):
        number = float(key)
        return int(number) if number.is_integer() else number
    if class_kind == "text":
        return str(value).strip()
    return value


def _label_order(value: Any) -> tuple[int, float, str]:
    key = class_key(value)
    return (0, float(key), "") if _isfloat_label(key) else (1, 0.0, str(value))


def _sorted_labels(values: Any) -> list[Any]:
    """Labels in order: numbers by value, then text."""
    return sorted(values, key=_label_order)


def _listed(values: list[Any]) -> str:
    """``[0, 1]``, or the first :data:`_SHOWN` and how many in all."""
    if len(values) <= _SHOWN:
        return repr(values)
    return f"{values[:_SHOWN]!r}"[:-1] + f", ... ({len(values)} in all)]"


def _take(mapped: list[Any], codes: np.ndarray) -> np.ndarray:
    """``mapped[code]`` for every row: numbers or text as numpy types them, text and numbers mixed as objects."""
    text = [isinstance(value, str) for value in mapped]
    if mapped and (all(text) or not any(text)):
        return np.asarray(mapped)[codes]
    array = np.empty(len(mapped), dtype=object)
    array[:] = mapped
    return array[codes]
