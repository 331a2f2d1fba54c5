"""Specification of a local run's own id and timestamp columns (retrain.local.inputs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from retrain.errors import SchemaMismatch
from retrain.local.inputs import window_ids, window_stamps

pytestmark = pytest.mark.unit

END = datetime(2026, 6, 30, 12, tzinfo=UTC)


def stamps(values: list) -> pd.Series:
    return window_stamps(pd.Series(values, name="timestamp"), end=END, window_days=7, source="--current window w.csv")


def test_timestamps_inside_the_window_are_kept_as_they_are() -> None:
    kept = stamps(["2026-06-29T08:00:00", "2026-06-30T09:30:00+02:00"])

    assert kept.tolist() == [pd.Timestamp("2026-06-29T08:00Z"), pd.Timestamp("2026-06-30T07:30Z")]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(["2023-03-01 10:00", "2023-03-01 10:05", "2023-03-02 10:00"], id="old text"),
        pytest.param([1677664800, 1677665100, 1677751200], id="epoch seconds"),
        pytest.param([1677664800000, 1677665100000, 1677751200000], id="epoch milliseconds"),
    ],
)
def test_timestamps_outside_the_window_move_as_a_block_to_end_just_before_the_run(values) -> None:
    moved = stamps(values)

    assert moved.max() == pd.Timestamp(END) - pd.Timedelta(seconds=1)
    assert moved.diff().dropna().tolist() == [timedelta(minutes=5), timedelta(days=1) - timedelta(minutes=5)]


def test_an_unparseable_timestamp_is_named() -> None:
    with pytest.raises(SchemaMismatch, match=r"--current window w\.csv: its timestamp column 'timestamp' .* 'soon'"):
        stamps(["2026-06-29", "soon"])


def test_repeated_or_missing_ids_are_named() -> None:
    with pytest.raises(SchemaMismatch, match=r"found 3 missing or repeated ids, e\.g\. 'a'"):
        window_ids(pd.Series(["a", "b", "a", None], name="id"), source="--current window w.csv")
    assert window_ids(pd.Series([3, 1, 2], name="id"), source="x").tolist() == [3, 1, 2]
