"""Specification of the pure parts of retrain.snapshot: the content id and the train/holdout split.

A snapshot's id addresses its content: equal data gives an equal id, and any
change a model could notice (a value, a column name, the row order, a column's
kind such as int vs float, a missing value) gives another one. How a Parquet
engine happens to type text (``object`` or ``str``) does not change it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from retrain.errors import InsufficientData
from retrain.snapshot import content_id, holdout_rows, split

pytestmark = pytest.mark.unit


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04"], utc=True),
            "tenure": [1, 12, 24, 36],
            "charges": [29.85, 56.95, 53.85, 42.3],
            "plan": ["basic", "pro", "basic", "family"],
            "label": [0, 1, 0, 1],
        }
    )


# content_id --------------------------------------------------------------------------------------------


def test_content_id_is_a_sha256_hex() -> None:
    digest = content_id(frame())

    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_content_id_is_deterministic_for_equal_frames() -> None:
    assert content_id(frame()) == content_id(frame())


def test_content_id_ignores_the_index() -> None:
    shifted = frame().set_axis([10, 11, 12, 13])

    assert content_id(shifted) == content_id(frame())


def test_content_id_is_the_sha256_of_header_rows_and_missing_mask() -> None:
    # Given a tiny frame whose canonical form is written out by hand
    small = pd.DataFrame({"a": [1, 2], "b": pd.Series(["x", None], dtype=object)})
    canonical = b"a:int\x1fb:text\n" + b"1,x\n2,\n" + bytes([0, 0, 0, 1])

    assert content_id(small) == hashlib.sha256(canonical).hexdigest()


def _change_value(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[2, "charges"] = 53.86
    return df


def _change_category(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[0, "plan"] = "pro"
    return df


def _change_by_one_ulp(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[1, "charges"] = np.nextafter(df["charges"].loc[1], np.inf)
    return df


def _rename_column(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={"plan": "contract"})


def _reorder_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df.iloc[[1, 0, 2, 3]].reset_index(drop=True)


def _reorder_columns(df: pd.DataFrame) -> pd.DataFrame:
    return df[["timestamp", "charges", "tenure", "plan", "label"]]


def _int_to_float(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype({"tenure": "float64"})


def _int_to_string(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype({"tenure": "str"})  # same CSV text ("12"), another dtype


def _empty_string_to_missing(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[3, "plan"] = None
    return df


def _drop_last_row(df: pd.DataFrame) -> pd.DataFrame:
    return df.iloc[:-1]


def _drop_column(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["plan"])


@pytest.mark.parametrize(
    "change",
    [
        _change_value,
        _change_category,
        _change_by_one_ulp,
        _rename_column,
        _reorder_rows,
        _reorder_columns,
        _int_to_float,
        _int_to_string,
        _drop_last_row,
        _drop_column,
    ],
)
def test_content_id_changes_with_the_content(change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    assert content_id(change(frame())) != content_id(frame())


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        pytest.param("plan", object, id="text as object (fastparquet)"),
        pytest.param("plan", "str", id="text as str (pyarrow)"),
    ],
)
def test_content_id_depends_on_the_kind_not_the_exact_dtype(column: str, dtype: str | type[object]) -> None:
    # Given the same data as another Parquet engine would read it back
    other = frame().astype({column: dtype})

    assert content_id(other) == content_id(frame())


def test_content_id_tells_a_missing_value_from_an_empty_string() -> None:
    # Given two frames whose CSV renderings are identical ("" and NaN both render as nothing)
    empty = frame()
    empty.loc[3, "plan"] = ""
    missing = _empty_string_to_missing(frame())
    assert empty.to_csv(index=False) == missing.to_csv(index=False)

    # Then their ids still differ
    assert content_id(empty) != content_id(missing)


# holdout_rows ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "fraction", "expected"),
    [
        (10, 0.2, 2),
        (100, 0.2, 20),
        (1000, 0.25, 250),
        (7, 0.3, 2),  # round(2.1)
        (9, 0.3, 3),  # round(2.7)
    ],
)
def test_holdout_rows_is_the_rounded_fraction(rows: int, fraction: float, expected: int) -> None:
    assert holdout_rows(rows, fraction) == expected


@pytest.mark.parametrize(("rows", "fraction"), [(2, 0.2), (10, 0.01), (100, 0.001)])
def test_holdout_rows_is_at_least_one(rows: int, fraction: float) -> None:
    assert holdout_rows(rows, fraction) == 1


@pytest.mark.parametrize(("rows", "fraction"), [(2, 0.9), (10, 0.99), (3, 0.8)])
def test_holdout_rows_leaves_at_least_one_training_row(rows: int, fraction: float) -> None:
    assert holdout_rows(rows, fraction) == rows - 1


@pytest.mark.parametrize("rows", [0, 1])
def test_holdout_rows_needs_two_rows(rows: int) -> None:
    with pytest.raises(InsufficientData, match=f"at least 2 rows to split, got {rows}"):
        holdout_rows(rows, 0.2)


# split -------------------------------------------------------------------------------------------------


def manifest(holdout: int) -> dict[str, object]:
    return {"split": {"method": "time", "train_rows": 4 - holdout, "holdout_rows": holdout}}


@pytest.mark.parametrize("holdout", [1, 2, 3])
def test_split_holds_out_the_last_rows(holdout: int) -> None:
    data = frame()

    train, held = split(data, manifest(holdout))

    pd.testing.assert_frame_equal(held, data.iloc[4 - holdout :].reset_index(drop=True))
    pd.testing.assert_frame_equal(train, data.iloc[: 4 - holdout].reset_index(drop=True))


def test_split_parts_have_fresh_indexes() -> None:
    train, held = split(frame().set_axis([10, 11, 12, 13]), manifest(2))

    assert list(train.index) == [0, 1]
    assert list(held.index) == [0, 1]


def test_split_holdout_is_later_than_training() -> None:
    train, held = split(frame(), manifest(1))

    assert train["timestamp"].max() < held["timestamp"].min()


def test_split_of_holdout_rows_agrees_with_holdout_rows() -> None:
    # Given a manifest written the way create() writes it
    data = pd.concat([frame()] * 5, ignore_index=True)
    n_holdout = holdout_rows(len(data), 0.2)

    train, held = split(data, {"split": {"holdout_rows": n_holdout}})

    assert (len(train), len(held)) == (16, 4)
