"""Specification of retrain.frames: the helpers every room uses alike.

A missing column is reported the same way wherever it is found (which table,
which columns, all of them); a column's kind does not depend on how a Parquet
engine typed it; and a parameter out of range is named with its bound (that
importing the module costs no science library is in test_cold_imports).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pandas.api.types import pandas_dtype

from retrain.drift.profile import category_key
from retrain.errors import SchemaMismatch
from retrain.frames import MISSING, check_scalar, column_kind, require_columns

pytestmark = pytest.mark.unit


# require_columns ---------------------------------------------------------------------------------------
def test_a_frame_with_every_column_passes() -> None:
    require_columns(pd.DataFrame(columns=["a", "b", "c"]), ["c", "a"], what="data")


def test_one_absent_column_is_named_in_the_singular() -> None:
    with pytest.raises(SchemaMismatch, match=r"^training data is missing column 'plan'$") as info:
        require_columns(pd.DataFrame(columns=["tenure"]), ["tenure", "plan"], what="training data")
    assert info.value.missing == ["plan"]


def test_every_absent_column_is_named_in_the_order_given() -> None:
    with pytest.raises(SchemaMismatch, match=r"^reference is missing columns 'b', 'a'$") as info:
        require_columns(pd.DataFrame(columns=["c"]), ["b", "c", "a"], what="reference")
    assert info.value.missing == ["b", "a"]


def test_the_message_says_what_the_columns_are_for_and_which_setting_names_them() -> None:
    frame = pd.DataFrame(columns=["y"])

    with pytest.raises(SchemaMismatch, match=r"^holdout is missing target column 'churned'$"):
        require_columns(frame, ["churned"], what="holdout", role="target")
    with pytest.raises(
        SchemaMismatch, match=r"^holdout is missing slice columns 'tier', 'region' \(validation\.slices\.columns\)$"
    ):
        require_columns(frame, ["tier", "region"], what="holdout", role="slice", setting="validation.slices.columns")


# MISSING -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, math.nan, pd.NA, pd.NaT, np.datetime64("NaT", "ns")])
def test_every_kind_of_missing_value_is_the_missing_category(value: object) -> None:
    assert category_key(value) == MISSING == "<missing>"


# column_kind -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "dtype", "kind"),
    [
        ([1, 2], "int8", "int"),
        ([1, 2], "uint64", "int"),
        ([1, None], "Int64", "int"),
        ([1.5, None], "float32", "float"),
        ([True, False], "bool", "bool"),
        ([True, None], "boolean", "bool"),
        (["2024-05-01", None], "datetime64[ns]", "datetime"),
        (["2024-05-01", None], "datetime64[ns, UTC]", "datetime"),
        (["1 day", None], "timedelta64[ns]", "timedelta"),
        (["a", None], "object", "text"),
        (["a", None], "string", "text"),
        (["a", "b"], "category", "text"),
        ([1, 2], "category", "text"),
    ],
)
def test_a_column_kind_is_the_same_whatever_its_width_or_engine(values: list, dtype: str, kind: str) -> None:
    assert column_kind(pd.Series(values).astype(pandas_dtype(dtype)).dtype) == kind


def test_a_kind_is_text_when_the_dtype_has_no_numpy_kind() -> None:
    assert column_kind(object()) == "text"


# check_scalar ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "bounds", "message"),
    [
        (1.5, {"min_val": 0, "max_val": 1}, r"^share == 1.5, must be <= 1.$"),
        (0, {"min_val": 0, "include_boundaries": "neither"}, r"^share == 0, must be > 0.$"),
        (1, {"max_val": 1, "include_boundaries": "left"}, r"^share == 1, must be < 1.$"),
        (math.nan, {"min_val": 0}, r"^share == nan, must be >= 0.$"),
    ],
)
def test_a_value_out_of_bounds_is_named_with_its_bound(x: float, bounds: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_scalar(x, "share", (float, int), **bounds)


def test_a_boolean_is_not_a_number() -> None:
    with pytest.raises(TypeError, match=r"^k must be an instance of int, not bool.$"):
        check_scalar(True, "k", int)


def test_a_value_within_bounds_passes() -> None:
    check_scalar(0.5, "share", float, min_val=0, max_val=1, include_boundaries="neither")
