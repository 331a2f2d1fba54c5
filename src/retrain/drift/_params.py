"""Parameter checks with scikit-learn's ``check_scalar`` messages (``"share == 1.5, must be <= 1."``)."""

from __future__ import annotations

from typing import Any, Literal, SupportsFloat, cast


def check_scalar(
    x: Any,
    name: str,
    target_type: type | tuple[type, ...],
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_boundaries: Literal["both", "left", "right", "neither"] = "both",
) -> None:
    """Check a scalar parameter's type and bounds.

    Raises
    ------
    TypeError
        ``x`` is not an instance of ``target_type`` (a bool never passes as a number).
    ValueError
        ``x`` is outside its bounds (NaN is outside every bound).
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
