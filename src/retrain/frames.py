"""Small facts about tables that several rooms share: required columns, a column's kind, the missing category.

What belongs here: a helper that the data plumbing (:mod:`retrain.data`,
:mod:`retrain.snapshot`) and the domain modules (metrics, drift, training,
validation) would otherwise each write again, and whose answer must be the
same everywhere, such as the error a missing column raises or the category a
missing value becomes. What does not: anything that reads or writes storage,
or computes a statistic.

The module is light: it imports neither numpy nor pandas at run time (it only
reads ``frame.columns`` and ``dtype.kind``), so any module may import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, SupportsFloat, cast

from retrain.errors import SchemaMismatch

if TYPE_CHECKING:
    import pandas as pd

#: The category a missing value (None, NaN, NaT, pd.NA) of a categorical column becomes: the drift
#: statistics count it, the training pipeline imputes it, validation scores its slice.
MISSING = "<missing>"

#: ``dtype.kind`` -> the kind :func:`column_kind` names; every other kind is ``text``.
_KINDS = {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime", "m": "timedelta"}


def require_columns(
    frame: pd.DataFrame, columns: Iterable[str], *, what: str, role: str = "", setting: str = ""
) -> None:
    """Check that ``frame`` holds every one of ``columns``.

    Parameters
    ----------
    frame
        The table to check.
    columns
        The column names it must hold.
    what
        Names the table in the message (``"training data"``, ``"holdout"``).
    role
        What the columns are for, put before "column" (``"target"`` gives "missing target column").
    setting
        The config setting that names the columns, added in parentheses so the message says what to fix.

    Raises
    ------
    SchemaMismatch
        Some columns are absent: the message names all of them, in the order given
        (``"holdout is missing slice column 'tier' (validation.slices.columns)"``), and
        ``missing`` lists them.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        names = ", ".join(repr(c) for c in missing)
        kind = f"{role} {noun}" if role else noun
        where = f" ({setting})" if setting else ""
        raise SchemaMismatch(f"{what} is missing {kind} {names}{where}", missing=missing)


def column_kind(dtype: object) -> str:
    """A dtype's kind: ``int``, ``float``, ``bool``, ``datetime``, ``timedelta`` or ``text``.

    The kind, not the dtype, is what a schema compares: it does not depend on the Parquet engine
    (pyarrow reads text as ``str``, fastparquet as ``object``) or on the width (``int32`` is ``int``).
    A dtype without a numpy kind (a categorical, say) is ``text``.
    """
    return _KINDS.get(getattr(dtype, "kind", "O"), "text")


def check_scalar(
    x: Any,
    name: str,
    target_type: type | tuple[type, ...],
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_boundaries: Literal["both", "left", "right", "neither"] = "both",
) -> None:
    """Check a scalar parameter's type and bounds, with scikit-learn's ``check_scalar`` messages.

    Raises
    ------
    TypeError
        ``x`` is not an instance of ``target_type`` (a bool never passes as a number).
    ValueError
        ``x`` is outside its bounds (``"share == 1.5, must be <= 1."``; NaN is outside every bound).
    """
    types = target_type if isinstance(target_type, tuple) else (target_type,)
    if isinstance(x, bool) or not isinstance(x, types):
        names = " or ".join(t.__name__ for t in types)
        raise TypeError(f"{name} must be an instance of {names}, not {type(x).__qualname__}.")
    value = float(cast(SupportsFloat, x))  # NaN fails every bound below
    if min_val is not None:
        closed = include_boundaries in ("both", "left")
        if not (value >= min_val if closed else value > min_val):
            raise ValueError(f"{name} == {x}, must be {'>=' if closed else '>'} {min_val}.")
    if max_val is not None:
        closed = include_boundaries in ("both", "right")
        if not (value <= max_val if closed else value < max_val):
            raise ValueError(f"{name} == {x}, must be {'<=' if closed else '<'} {max_val}.")
