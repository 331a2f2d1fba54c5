"""A target column's labels, typed: what every step that trains or checks a classification target agrees on.

Light on purpose (numpy and pandas only): the Snapshot step checks its target
with it without importing scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrain.errors import SchemaMismatch


def numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column read as numbers: ``(float64 values, not-a-number mask)``.

    Booleans count as 0 and 1; missing values are NaN and not in the mask; the
    mask marks the values that are present but are no number (``"ten"``).
    Infinities are kept: callers refuse or drop them.
    """
    if pd.api.types.is_bool_dtype(column):
        column = column.astype("float64")
    values = pd.to_numeric(column, errors="coerce")
    bad = (values.isna() & column.notna()).to_numpy()
    return values.to_numpy(dtype="float64", na_value=np.nan), bad


#: A float classification target is taken as classes only with at most this many distinct values.
MAX_FLOAT_CLASSES = 50


def classification_target(column: pd.Series, name: str, source: str) -> pd.Series:
    """The labels of a classification target's non-missing rows, as classes; a continuous target is refused.

    Strings and booleans are classes as they are, integers too (as int64). A
    float target (also how a column of integer labels with missing values is
    read) is taken as classes when every non-missing value is a whole number and
    there are at most :data:`MAX_FLOAT_CLASSES` distinct values; its labels come
    out as int64 (``0.0``/``1.0`` become ``0``/``1``, as integer labels read
    elsewhere). The rule depends only on the set of values, never on the row
    count, so any part of an accepted column (a snapshot's training part) is
    accepted too: the bootstrap's check, the Snapshot step and the training
    cannot disagree.

    Parameters
    ----------
    column
        The target column; rows without a value are dropped.
    name
        The column's name, for messages.
    source
        Names the data set in messages (``"training data"``).

    Returns
    -------
    pandas.Series
        The labels of the rows with a value, with their index.

    Raises
    ------
    SchemaMismatch
        A float target holds a value that is not a whole number, or more than
        :data:`MAX_FLOAT_CLASSES` distinct values (it looks like a regression
        target); or the labels mix types (text and numbers).
    """
    labels = column[column.notna()]
    if pd.api.types.is_bool_dtype(labels.dtype):
        return labels.astype(bool)
    if pd.api.types.is_integer_dtype(labels.dtype):
        return labels.astype("int64")
    if pd.api.types.is_float_dtype(labels.dtype):
        return whole_number_classes(labels, name, source)
    kind = pd.api.types.infer_dtype(labels, skipna=True)
    if kind == "integer":
        return labels.astype("int64")
    if kind in ("floating", "mixed-integer-float", "decimal"):
        return whole_number_classes(labels.astype("float64"), name, source)
    first = labels.iloc[0] if len(labels) else None
    other = next((v for v in labels if type(v) is not type(first)), None) if kind.startswith("mixed") else None
    if other is not None:
        raise SchemaMismatch(
            f"{source}: target column {name!r} mixes types (e.g. {first!r} and {other!r}); "
            "a classification target's labels must all be text, all numbers or all booleans"
        )
    return labels


def whole_number_classes(labels: pd.Series, name: str, source: str) -> pd.Series:
    """A float target's labels as int64 classes; see :func:`classification_target`."""
    values = labels.to_numpy(dtype="float64")
    whole = np.isfinite(values) & (np.abs(values) < 2.0**53)
    whole[whole] = values[whole] == np.round(values[whole])
    if not whole.all():
        raise SchemaMismatch(
            f"{source}: target column {name!r} holds continuous values (e.g. {float(values[~whole][0])!r}); "
            "a classification target must be discrete - set problem: regression?"
        )
    distinct = np.unique(values)
    if distinct.size > MAX_FLOAT_CLASSES:
        shown = ", ".join(float_label(v) for v in distinct[:3])
        raise SchemaMismatch(
            f"{source}: target column {name!r} holds {distinct.size} distinct numbers ({shown}, ...), more than the "
            f"{MAX_FLOAT_CLASSES} classes a float target may have; a classification target must be discrete "
            "- set problem: regression?"
        )
    return labels.astype("int64")


def float_label(value: float) -> str:
    """``2.0`` as ``"2"``, other numbers as ``str`` gives them."""
    if np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)
