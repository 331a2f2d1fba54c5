"""The reference profile: everything the drift check needs from the reference, computed once.

Sorting the reference is the expensive part of a drift check, and the
reference (the champion's training snapshot) does not change between checks.
So it is summarized once, when the snapshot is made, and stored next to it:

- numeric features: row and missing counts (NaN and +-inf are missing), mean,
  standard deviation, and the empirical CDF: every distinct value with the
  count of values at or below it when there are at most ``points`` distinct
  values (exact: KS, Wasserstein and bins equal what the raw column gives), or
  else ``points`` order statistics with their exact counts of values below and
  at or below each (a sketch: between two points the CDF is interpolated from
  the count at the first to the count just below the second, so a value
  repeated many times is a step, not a ramp, and KS is within ``1 / points``);
- categorical features: the count of every category (up to ``max_categories``,
  10 000 by default, the most frequent first; beyond, one pooled count), so a
  category the reference never had is told from a rare one. Which categories
  get their own bin is decided at check time from both windows' counts (rare
  ones are pooled, :func:`retrain.drift.stats.pool_rare`): choosing the top
  categories from the reference alone would favour the ones its sample happened
  to over-count, and flag a long-tailed feature that did not change;
- the kind of every column of the reference (schema drift), and a seeded
  sample of rows (the multivariate check's reference side).

:func:`to_bytes` / :func:`from_bytes` store a profile as one ``.npz`` file
(arrays plus a JSON header, loaded with ``allow_pickle=False``).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from numbers import Integral
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from retrain.errors import SchemaMismatch
from retrain.frames import MISSING, check_scalar, column_kind, require_columns

if TYPE_CHECKING:
    from retrain.config import ModelConfig

#: Format version of a stored profile (a reader refuses newer ones). 2: a sketch stores ``lt`` too.
PROFILE_VERSION = 2

#: A numeric feature with at most this many distinct reference values is discrete (counts, flags, ratings).
DISCRETE_VALUES = 10

#: Defaults of :func:`build_profile`.
DEFAULT_POINTS = 20_000
DEFAULT_MAX_CATEGORIES = 10_000
DEFAULT_SAMPLE_ROWS = 5_000

#: When a profile does not name every category, named categories rarer than this are pooled with the unnamed
#: ones (an unknown current category may be one of those): id-like features then compare as one bin.
MIN_NAMED_COUNT = 10

#: Bin of the reference categories beyond the top ``max_categories``.
OTHER = "<other>"
#: Bin of the current categories the reference never had.
UNSEEN = "<unseen>"


def category_key(value: Any) -> str:
    """The string a category is compared by: ``2``, ``2.0`` and ``"2"`` are one category, missing is ``<missing>``."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return MISSING
    if isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def category_counts(values: pd.Series | np.ndarray) -> dict[str, int]:
    """Rows per category key (missing values under ``<missing>``), in first-seen order.

    Factorizes once and counts codes with ``np.bincount``; only the distinct
    values are turned into keys.
    """
    codes, uniques = pd.factorize(pd.Series(values) if not isinstance(values, pd.Series) else values)
    codes = np.asarray(codes)
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
    out: dict[str, int] = {}
    if counts[0]:
        out[MISSING] = int(counts[0])
    for value, count in zip(uniques, counts[1:], strict=True):
        if count:
            key = category_key(value)
            out[key] = out.get(key, 0) + int(count)
    return out


def numeric_values(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int, Any]:
    """A column as float64 (booleans as 0/1), the count of values that are not numbers, and one of them.

    Text that parses as a number is converted; text that does not becomes NaN and is counted.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), 0, None
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), 0, None
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna().to_numpy() & series.notna().to_numpy()
    n_bad = int(bad.sum())
    example = series[bad].iloc[0] if n_bad else None
    return converted.to_numpy(dtype=np.float64, na_value=np.nan), n_bad, example


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """The reference's empirical CDF of one numeric feature (exact or a sketch) and its moments."""

    n_rows: int
    n_missing: int
    values: np.ndarray  # ascending, distinct (float64)
    le: np.ndarray  # count of reference values <= values[j] (int64)
    exact: bool
    mean: float
    std: float
    #: Count of reference values < values[j] (int64). Exact profiles: ``le[j-1]``. None for a sketch stored
    #: before format 2, read as ``le`` (no step at a point: a heavily repeated value is interpolated as a ramp).
    lt: np.ndarray | None = None

    kind = "numeric"

    @property
    def n(self) -> int:
        """Finite values of the reference."""
        return self.n_rows - self.n_missing

    @property
    def discrete(self) -> bool:
        """At most :data:`DISCRETE_VALUES` distinct values: tested as categories, not as a continuous CDF."""
        return self.exact and 0 < self.values.size <= DISCRETE_VALUES

    def counts_at(self, x: np.ndarray, side: Literal["left", "right"] = "right") -> np.ndarray:
        """Reference values ``<= x`` (``right``) or ``< x`` (``left``): exact integers, or a sketch's interpolation."""
        x = np.asarray(x, dtype=np.float64)
        return self.counts_given(x, np.searchsorted(self.values, x, side=side))

    def counts_given(self, x: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """:meth:`counts_at` given ``seen``, how many of the profile's points lie at or before each ``x``.

        Exact profile: the count at the last point seen. Sketch: from point
        ``j - 1`` up to (not including) point ``j`` the count goes linearly from
        ``le[j-1]`` to ``lt[j]``, the exact count below point ``j``; at point
        ``j`` it is ``le[j]``.
        """
        le = np.concatenate(([0], self.le))
        if self.exact:
            return le[seen]
        k, points = self.values.size, self.values
        below = self.le if self.lt is None else self.lt
        slope = np.zeros(k + 1)
        slope[1:k] = (below[1:] - self.le[:-1]) / np.diff(points)
        out = np.concatenate(([points[0]], points))[seen]
        np.subtract(x, out, out=out)
        out *= slope[seen]
        out += le[seen]
        return out

    def bins(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """Interior edges of ``bins`` quantile bins of the reference, and the reference's count per bin.

        Bins are ``(-inf, e1], (e1, e2], ..., (e_last, +inf)`` with ``e_i`` the
        ``i / bins`` quantile (the smallest value whose CDF reaches it); repeated
        quantiles collapse, so a constant column has two bins around its value.
        Edges are points of the profile, so the reference's counts are exact.
        """
        if self.n == 0:
            return np.empty(0), np.zeros(1, dtype=np.int64)
        targets = np.arange(1, bins) * (self.n / bins)
        idx = np.unique(np.minimum(np.searchsorted(self.le, targets, side="left"), self.le.size - 1))
        edges = self.values[idx]
        counts = np.diff(np.concatenate(([0], self.le[idx], [self.n])))
        return edges, counts


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """The reference's categories of one feature with their counts (the most frequent first; beyond a cap, pooled)."""

    n_rows: int
    n_missing: int
    categories: list[str]
    counts: np.ndarray  # int64, aligned with categories
    other_count: int  # rows of the categories beyond the cap (0 when every category is named)
    n_categories: int

    @property
    def complete(self) -> bool:
        """Every reference category is named: a current category outside them is one the reference never had."""
        return self.other_count == 0

    kind = "categorical"

    @property
    def n(self) -> int:
        """Rows of the reference (missing values are the category ``<missing>``)."""
        return self.n_rows

    @cached_property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.categories)}

    def align(self, current: Mapping[str, int]) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, int]]:
        """Bins shared by the reference and a current window's category counts.

        Returns the bin labels (the named categories, ``<other>``, then one bin
        per current category the reference never had), the reference's and the
        current window's counts per bin, and those unseen categories with their
        counts. When the profile does not name every reference category, an
        unknown current category may be an unnamed one: it goes to ``<other>``,
        with the named categories rarer than :data:`MIN_NAMED_COUNT`.
        """
        k = len(self.categories)
        ref_counts = self.counts.copy()
        other_ref = self.other_count
        cur = np.zeros(k, dtype=np.int64)
        other_cur = 0
        unseen: dict[str, int] = {}
        for key, count in current.items():
            i = self.index.get(key)
            if i is not None:
                cur[i] += count
            elif self.complete:
                unseen[key] = count
            else:
                other_cur += count
        if not self.complete:
            rare = ref_counts < MIN_NAMED_COUNT
            other_ref += int(ref_counts[rare].sum())
            other_cur += int(cur[rare].sum())
            ref_counts[rare], cur[rare] = 0, 0
        labels = [*self.categories, OTHER, *(f"{UNSEEN}{key}" for key in unseen)]
        ref = np.concatenate((ref_counts, [other_ref], np.zeros(len(unseen), dtype=np.int64)))
        cur_all = np.concatenate((cur, [other_cur], np.fromiter(unseen.values(), dtype=np.int64, count=len(unseen))))
        return labels, ref, cur_all, unseen

    def encode(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Category keys of ``values`` with every category outside the profile's top categories as ``<other>``."""
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        codes, uniques = pd.factorize(series)
        keys = [category_key(u) for u in uniques]
        mapped = np.array([key if key in self.index else OTHER for key in keys] + [MISSING], dtype=object)
        if MISSING not in self.index:
            mapped[-1] = OTHER
        return mapped[np.asarray(codes)]


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(eq=False)
class ReferenceProfile:
    """Everything the drift check needs from a reference data set (see the module docstring)."""

    columns: dict[str, ColumnProfile]
    n_rows: int
    schema: dict[str, str]
    sample: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def lacking(self, numeric: Iterable[str], categorical: Iterable[str]) -> list[str]:
        """Features this profile does not describe, or describes as the other kind."""
        out = [c for c in numeric if not isinstance(self.columns.get(c), NumericProfile)]
        out += [c for c in categorical if not isinstance(self.columns.get(c), CategoricalProfile)]
        return out


def _numeric_profile(values: np.ndarray, n_rows: int, points: int) -> NumericProfile:
    finite = values[np.isfinite(values)]
    finite.sort()
    n = finite.size
    if n == 0:
        empty = np.empty(0)
        return NumericProfile(n_rows, n_rows, empty, np.empty(0, dtype=np.int64), True, math.nan, math.nan)
    last = np.flatnonzero(np.concatenate((finite[1:] != finite[:-1], [True])))  # last index of each distinct value
    if last.size <= points:
        distinct, le, exact = finite[last], last.astype(np.int64) + 1, True
    else:
        ranks = np.unique(np.concatenate(([1], np.ceil(np.arange(1, points + 1) * (n / points)).astype(np.int64))))
        distinct = np.unique(finite[np.minimum(ranks, n) - 1])
        le, exact = np.searchsorted(finite, distinct, side="right").astype(np.int64), False
    lt = None if exact else np.searchsorted(finite, distinct, side="left").astype(np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(finite.mean()), float(finite.std())
    return NumericProfile(n_rows, n_rows - n, distinct, le, exact, mean, std, lt)


def _categorical_profile(values: pd.Series, max_categories: int) -> CategoricalProfile:
    counts = category_counts(values)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    named, rest = ordered[:max_categories], ordered[max_categories:]
    return CategoricalProfile(
        n_rows=len(values),
        n_missing=counts.get(MISSING, 0),
        categories=[name for name, _ in named],
        counts=np.array([count for _, count in named], dtype=np.int64),
        other_count=sum(count for _, count in rest),
        n_categories=len(ordered),
    )


def build_profile(
    frame: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    points: int = DEFAULT_POINTS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
    meta: Mapping[str, Any] | None = None,
) -> ReferenceProfile:
    """Summarize a reference data set for drift checks (see the module docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        The reference (typically a training snapshot). Columns beyond the
        features are recorded in the schema only.
    numeric, categorical : sequence of str
        The features to profile.
    points : int, default 20 000
        Distinct values kept exactly per numeric feature; above it, a sketch of
        this many order statistics.
    max_categories : int, default 10 000
        Categories named with their count per categorical feature (the most frequent); the rest are one count.
    sample_rows : int, default 5 000
        Rows sampled (seeded, without replacement) for the multivariate check; 0 for none.
    seed : int, default 0
    meta : mapping, optional
        Extra JSON-able facts to store with the profile (snapshot id, ...).

    Returns
    -------
    ReferenceProfile

    Raises
    ------
    SchemaMismatch
        A feature is missing from ``frame``, or a numeric feature holds text
        that is not a number (the message names the column).
    ValueError, TypeError
        A parameter is out of range or of the wrong type.
    """
    check_scalar(points, "points", Integral, min_val=2)
    check_scalar(max_categories, "max_categories", Integral, min_val=1)
    check_scalar(sample_rows, "sample_rows", Integral, min_val=0)
    require_columns(frame, [*numeric, *categorical], what="reference")
    columns: dict[str, ColumnProfile] = {}
    n_rows = len(frame)
    for name in numeric:
        values, n_bad, example = numeric_values(frame[name])
        if n_bad:
            raise SchemaMismatch(
                f"column {name!r} in reference is not numeric (dtype {frame[name].dtype}, e.g. {example!r})"
            )
        columns[name] = _numeric_profile(values, n_rows, int(points))
    for name in categorical:
        columns[name] = _categorical_profile(frame[name], int(max_categories))
    sample = None
    if sample_rows and n_rows:
        rows = np.sort(np.random.default_rng(seed).choice(n_rows, size=min(int(sample_rows), n_rows), replace=False))
        data: dict[str, np.ndarray] = {}
        for name, profile in columns.items():
            part = frame[name].iloc[rows].reset_index(drop=True)
            if isinstance(profile, NumericProfile):
                values = numeric_values(part)[0]
                data[name] = np.where(np.isfinite(values), values, np.nan)
            else:
                data[name] = profile.encode(part)
        sample = pd.DataFrame(data, columns=list(columns))
    info = {
        "version": PROFILE_VERSION,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "points": int(points),
        "max_categories": int(max_categories),
        "sample_rows": 0 if sample is None else len(sample),
        "seed": seed,
        **(meta or {}),
    }
    schema = {str(name): column_kind(dtype) for name, dtype in frame.dtypes.items()}
    return ReferenceProfile(columns=columns, n_rows=n_rows, schema=schema, sample=sample, meta=info)


def reference_profile(
    config: ModelConfig, frame: pd.DataFrame, *, meta: Mapping[str, Any] | None = None
) -> ReferenceProfile:
    """The drift reference profile of ``frame`` for a model's features, built with ``triggers.drift.profile``.

    Features ``frame`` lacks are left out (the drift check reports them as not in the reference).
    """
    from retrain.config import DriftTrigger

    settings = (config.triggers.drift or DriftTrigger()).profile
    numeric, categorical = config.features.present(frame.columns)
    return build_profile(
        frame,
        numeric=numeric,
        categorical=categorical,
        points=settings.points,
        max_categories=settings.max_categories,
        sample_rows=settings.sample_rows,
        seed=config.training.seed,
        meta=meta,
    )


# ---------------------------------------------------------------------------------------- storage
def pack(arrays: dict[str, np.ndarray], header: dict[str, Any]) -> bytes:
    """One ``.npz`` file of ``arrays`` and a JSON ``header`` (stored as the bytes of array ``meta``)."""
    arrays = {**arrays, "meta": np.frombuffer(json.dumps(header, default=str).encode(), dtype=np.uint8)}
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def unpack(data: bytes, what: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the header of a file written by :func:`pack` (loaded with ``allow_pickle=False``).

    Raises
    ------
    ValueError
        ``not a <what>: <reason>`` when the bytes are not such a file.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        header = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ValueError(f"not a {what}: {exc}") from exc
    return arrays, header


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def to_bytes(profile: ReferenceProfile) -> bytes:
    """Serialize a profile as one ``.npz`` file (uncompressed; a JSON header under ``meta``)."""
    arrays: dict[str, np.ndarray] = {}
    described: list[dict[str, Any]] = []
    for i, (name, column) in enumerate(profile.columns.items()):
        if isinstance(column, NumericProfile):
            arrays[f"values_{i}"] = column.values
            arrays[f"le_{i}"] = column.le
            if column.lt is not None:
                arrays[f"lt_{i}"] = column.lt
            described.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "n_rows": column.n_rows,
                    "n_missing": column.n_missing,
                    "exact": column.exact,
                    "mean": _finite_or_none(column.mean),
                    "std": _finite_or_none(column.std),
                }
            )
        else:
            described.append(
                {
                    "name": name,
                    "kind": "categorical",
                    "n_rows": column.n_rows,
                    "n_missing": column.n_missing,
                    "categories": column.categories,
                    "counts": column.counts.tolist(),
                    "other_count": column.other_count,
                    "n_categories": column.n_categories,
                }
            )
    sample_info: dict[str, Any] | None = None
    if profile.sample is not None:
        sample_columns: list[dict[str, Any]] = []
        sample_info = {"rows": len(profile.sample), "columns": sample_columns}
        for j, name in enumerate(profile.sample.columns):
            column = profile.columns[name]
            if isinstance(column, NumericProfile):
                arrays[f"sample_{j}"] = profile.sample[name].to_numpy(dtype=np.float64)
                sample_columns.append({"name": name, "kind": "numeric"})
            else:
                labels = [*column.categories, OTHER]
                lookup = {label: code for code, label in enumerate(labels)}
                codes = np.array([lookup.get(v, len(labels) - 1) for v in profile.sample[name]], dtype=np.int32)
                arrays[f"sample_{j}"] = codes
                sample_columns.append({"name": name, "kind": "categorical", "labels": labels})
    header = {
        "version": PROFILE_VERSION,
        "n_rows": profile.n_rows,
        "schema": profile.schema,
        "meta": profile.meta,
        "columns": described,
        "sample": sample_info,
    }
    return pack(arrays, header)


def from_bytes(data: bytes) -> ReferenceProfile:
    """Read a profile written by :func:`to_bytes`.

    Raises
    ------
    ValueError
        The bytes are not a profile, or one of a newer format version.
    """
    arrays, header = unpack(data, "drift reference profile")
    if int(header.get("version", 0)) > PROFILE_VERSION:
        raise ValueError(f"profile format version {header['version']} is newer than {PROFILE_VERSION}")
    columns: dict[str, ColumnProfile] = {}
    for i, item in enumerate(header["columns"]):
        if item["kind"] == "numeric":
            columns[item["name"]] = NumericProfile(
                n_rows=int(item["n_rows"]),
                n_missing=int(item["n_missing"]),
                values=arrays[f"values_{i}"].astype(np.float64, copy=False),
                le=arrays[f"le_{i}"].astype(np.int64, copy=False),
                exact=bool(item["exact"]),
                mean=math.nan if item["mean"] is None else float(item["mean"]),
                std=math.nan if item["std"] is None else float(item["std"]),
                lt=arrays[f"lt_{i}"].astype(np.int64, copy=False) if f"lt_{i}" in arrays else None,
            )
        else:
            columns[item["name"]] = CategoricalProfile(
                n_rows=int(item["n_rows"]),
                n_missing=int(item["n_missing"]),
                categories=list(item["categories"]),
                counts=np.asarray(item["counts"], dtype=np.int64),
                other_count=int(item["other_count"]),
                n_categories=int(item["n_categories"]),
            )
    sample = None
    if header.get("sample"):
        data_cols: dict[str, np.ndarray] = {}
        for j, item in enumerate(header["sample"]["columns"]):
            values = arrays[f"sample_{j}"]
            if item["kind"] == "numeric":
                data_cols[item["name"]] = values.astype(np.float64, copy=False)
            else:
                data_cols[item["name"]] = np.asarray(item["labels"], dtype=object)[values]
        sample = pd.DataFrame(data_cols, columns=[c["name"] for c in header["sample"]["columns"]])
    return ReferenceProfile(
        columns=columns,
        n_rows=int(header["n_rows"]),
        schema=dict(header["schema"]),
        sample=sample,
        meta=dict(header.get("meta") or {}),
    )
