"""A local run's inputs (the config, REF and CUR), read and checked before any cloud starts.

This module imports little at load time: a missing, empty, mis-encoded or
corrupt file is reported before pandas, scikit-learn or moto is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from retrain import files
from retrain.errors import SchemaMismatch

if TYPE_CHECKING:
    import pandas as pd

    from retrain.config import ModelConfig


@dataclass(frozen=True)
class Inputs:
    """A local run's inputs, read and checked."""

    config: ModelConfig
    config_text: str
    reference: pd.DataFrame
    current: pd.DataFrame
    reference_source: str
    current_source: str


def read_inputs(config_path: str | Path, reference_path: str | Path, current_path: str | Path) -> Inputs:
    """Read and check the config, REF and CUR as a run would, cheapest checks first.

    1. Each file exists, is a file, is not empty, is a format that is read, is
       UTF-8 (CSV and YAML) and has no duplicated column name; the config's
       fields are valid. Nothing heavy is imported yet.
    2. The tables are parsed (corrupt Parquet, malformed CSV, a header without rows).
    3. The config's estimator as ``retrain validate-config`` checks it and REF
       as ``retrain bootstrap`` does: columns, types, rows, classes (both in
       :func:`retrain.lifecycle.check_inputs`); CUR's own id and timestamp
       columns, if it has them. CUR may lack features or add
       some: that is what the drift check looks for.

    Raises
    ------
    ConfigError, EstimatorNotAllowed, DataNotFound, UnreadableData, SchemaMismatch, InsufficientData
        The message names the file and its role (``--config``, ``--reference data``, ``--current window``).
    """
    from retrain.config import loads_config, read_config_text

    text = read_config_text(config_path)
    config = loads_config(text, source=str(config_path))
    raw_reference = files.load_table(reference_path, "reference")
    raw_current = files.load_table(current_path, "current")

    reference = files.require_rows(files.parse(raw_reference), raw_reference.what)
    current = files.require_rows(files.parse(raw_current), raw_current.what)

    from retrain import lifecycle

    reference = lifecycle.check_inputs(config, reference, source=raw_reference.what)
    mon = config.monitoring
    if mon.id_column in current.columns:
        window_ids(current[mon.id_column], source=raw_current.what)
    if mon.timestamp_column in current.columns:
        stamps = current[mon.timestamp_column]
        window_stamps(stamps, end=datetime.now(UTC), window_days=mon.window_days, source=raw_current.what)
    return Inputs(config, text, reference, current, raw_reference.what, raw_current.what)


def window_ids(column: pd.Series, *, source: str) -> pd.Series:
    """A window's own ids, checked: one distinct, present id per row (labels are joined on them).

    Raises
    ------
    SchemaMismatch
        An id is missing or repeated.
    """
    bad = column[column.duplicated(keep=False) | column.isna()]
    if len(bad):
        raise SchemaMismatch(
            f"{source}: its id column {column.name!r} must hold one distinct id per row (labels are joined on it), "
            f"found {len(bad)} missing or repeated ids, e.g. {bad.iloc[0]!r}"
        )
    return column


def window_stamps(column: pd.Series, *, end: datetime, window_days: float, source: str) -> pd.Series:
    """A window's own timestamps as UTC, moved as a block to end just before ``end`` if any lies outside the window.

    Naive timestamps are read as UTC, numbers as epoch seconds (milliseconds
    when larger than 1e11). The block keeps its spacing: a window that
    spans more than ``monitoring.window_days`` keeps its latest rows in the
    monitoring window and the earlier ones before it, as production would.

    Raises
    ------
    SchemaMismatch
        A value is missing or not a timestamp.
    """
    import pandas as pd

    name = column.name
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        # Epoch numbers: seconds, or milliseconds when too large to be seconds (after the year 5138).
        unit: Literal["ms", "s"] = "ms" if column.abs().max() > 1e11 else "s"
        stamps = pd.to_datetime(column, utc=True, errors="coerce", unit=unit)
    else:
        stamps = pd.to_datetime(column, utc=True, errors="coerce", format="mixed")
    bad = stamps.isna()
    if bad.any():
        example = column[bad].iloc[0]
        raise SchemaMismatch(
            f"{source}: its timestamp column {name!r} must hold a timestamp on every row, found {example!r} "
            f"({int(bad.sum())} missing or unparseable values)"
        )
    start = pd.Timestamp(end) - pd.Timedelta(days=window_days)
    if stamps.min() < start or stamps.max() >= pd.Timestamp(end):
        stamps = stamps + (pd.Timestamp(end) - pd.Timedelta(seconds=1) - stamps.max())
    return stamps
