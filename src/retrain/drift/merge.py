"""Mergeable window profiles: a current window profiled in partitions (one per Lambda) and merged for one verdict.

A window of tens of millions of rows is too large to sort in one function. Each
partition is summarized by :func:`profile_partition` into a
:class:`WindowProfile`, the summaries travel through S3
(:func:`window_to_bytes` / :func:`window_from_bytes`, an ``.npz`` loaded with
``allow_pickle=False``), and :func:`merge_profiles` combines them;
:func:`retrain.drift.detect_drift` judges a merged profile as it judges a
DataFrame.

What a profile holds, per feature:

- row, missing and non-numeric counts, category counts with the position of
  each category's first row (so the merged counts keep the window's first-seen
  order): merged **exactly** (sums);
- moments of the finite values of a numeric feature (``n``, ``mean``, ``M2``):
  merged with Chan et al.'s parallel update, evaluated in exact rational
  arithmetic (:class:`fractions.Fraction`; each partition's mean and ``M2`` are
  its own float64 results), so the merge is exactly associative and commutative;
- the CDF of a numeric feature as an **envelope** on points ``x_0 < ... < x_K-1``
  (the minimum and maximum among them): ``lo[j]``, a lower bound of the count of
  values ``<= x`` for every ``x`` in ``[x_j, x_j+1)``, and ``hi[j]``, an upper
  bound of the count of values ``< x_j`` (so of the count ``<= x`` for every
  ``x`` in ``[x_j-1, x_j)``). A partition with at most ``points`` distinct values
  keeps all of them with exact counts (then ``hi[j+1] == lo[j]``: the envelope
  is the empirical CDF itself); otherwise ``points`` order statistics (the same
  ranks :func:`retrain.drift.profile.build_profile` keeps) with the exact counts
  ``< x_j`` and ``<= x_j``.

Merging evaluates every part's envelope on the union of the parts' points and
sums: integer arithmetic on a union, so it is exactly associative and
commutative, and a merge of exact parts is the exact empirical CDF of the
window (its distinct values with summed counts).

**Bounds.** The envelope's width ``eps = max_j (hi[j+1] - lo[j]) / n`` (a
fraction of the finite values; :attr:`WindowNumeric.ks_bound`) bounds the error
of the CDF the check uses (linear between the points, inside the envelope) at
every ``x``. So the KS statistic against an exact reference is within ``eps``
of the exact one, and the Wasserstein distance within
``sum_j (hi[j+1] - lo[j]) (x_j+1 - x_j) / n`` (:attr:`WindowNumeric.wasserstein_bound`)
``<= eps * (max - min)``. A partition's sketch has ``eps < 1 / points`` (fewer
than ``n / points`` values lie strictly between two kept ranks); a merge's
``eps`` is at most the largest of its parts' (the widths add up, the rows too).
When the union of points exceeds ``max_points``, it is compressed to about
``points`` of them (kept by the lower envelope's levels ``i * n / points``),
which adds at most ``1 / points`` to ``eps``. Compression is a deterministic
function of the merged envelope, so merging a list of partition profiles in one
call is exactly order-independent; merging already compressed merges (a tree
of reduce steps) stays within the bound, which every profile carries, but is
not bit-identical to a flat merge. With a reference that is itself a sketch,
the reference's interpolation error (see :mod:`retrain.drift.profile`) adds to
these bounds, as it does for a DataFrame window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from retrain.drift.profile import DEFAULT_POINTS, category_key, numeric_values, pack, unpack
from retrain.frames import MISSING, check_scalar, column_kind

#: Format version of a stored window profile (a reader refuses newer ones).
WINDOW_VERSION = 1

#: A merged numeric feature with more points than this is compressed to ``points`` of them.
DEFAULT_MAX_POINTS = 100_000

#: Position of a row in the window: (partition index, row within the partition).
Position = tuple[int, int]


@dataclass(frozen=True, eq=False)
class WindowNumeric:
    """One numeric feature of a window (or part of one): counts, exact moments and the CDF envelope."""

    n_rows: int
    n_missing: int  # NaN and +-inf
    values: np.ndarray  # ascending, distinct (float64); the minimum and maximum are among them
    lo: np.ndarray  # int64: at least this many values <= x, for x in [values[j], values[j+1])
    hi: np.ndarray  # int64: at most this many values < values[j]
    mean: Fraction  # of the finite values (exact merge of the parts' float64 means)
    m2: Fraction  # sum of squared deviations from the mean
    n_bad: int = 0  # values that are not numbers (schema drift)
    bad_example: str | None = None  # repr of the first of them
    bad_at: Position | None = None
    dtype: str = "float64"

    kind = "numeric"

    @property
    def n(self) -> int:
        """Finite values."""
        return self.n_rows - self.n_missing

    @cached_property
    def gaps(self) -> np.ndarray:
        """Envelope width between consecutive points, in values (0 everywhere when exact)."""
        return self.hi[1:] - self.lo[:-1]

    @cached_property
    def exact(self) -> bool:
        """The envelope is the empirical CDF itself (every distinct value with its exact count)."""
        return not bool(self.gaps.any())

    @property
    def ks_bound(self) -> float:
        """Largest error of the CDF at any ``x``, as a fraction of the finite values (0 when exact)."""
        return float(self.gaps.max()) / self.n if self.gaps.size and self.n else 0.0

    @property
    def wasserstein_bound(self) -> float:
        """Largest error of the integral of ``|F_ref - F|`` (the unnormalized Wasserstein distance), in the unit."""
        if not self.gaps.size or not self.n:
            return 0.0
        return float(np.dot(self.gaps.astype(np.float64), np.diff(self.values))) / self.n

    @property
    def std(self) -> float:
        """Standard deviation (population, as ``numpy.std``) of the finite values; NaN without any."""
        return math.sqrt(float(self.m2 / self.n)) if self.n else math.nan

    @cached_property
    def _start(self) -> np.ndarray:
        # The CDF estimate at a point: the larger of the two bounds (inside the envelope, and monotone).
        return np.maximum(self.lo, self.hi)

    def counts(self, x: np.ndarray, side: str = "right") -> np.ndarray:
        """Values ``<= x`` (``side="right"``) or ``< x`` (the left limit, ``side="left"``).

        Exact integers when :attr:`exact`; else the estimate the check uses:
        linear from ``max(lo[j], hi[j])`` at ``values[j]`` to ``hi[j+1]`` just
        before ``values[j+1]`` (inside the envelope, so within ``ks_bound * n``).
        """
        x = np.asarray(x, dtype=np.float64)
        k = self.values.size
        if self.exact:
            return np.concatenate(([0], self.lo))[np.searchsorted(self.values, x, side=side)]  # type: ignore[call-overload]
        j = np.searchsorted(self.values, x, side=side) - 1  # type: ignore[call-overload]
        out = np.zeros(x.shape)
        out[j >= k - 1] = float(self.n)
        inner = np.flatnonzero((j >= 0) & (j < k - 1))
        ji = j[inner]
        start = self._start[ji].astype(np.float64)
        t = (x[inner] - self.values[ji]) / (self.values[ji + 1] - self.values[ji])
        out[inner] = start + t * (self.hi[ji + 1] - start)
        return out

    def count_equal(self, x: np.ndarray) -> np.ndarray:
        """Values equal to each of ``x`` (exact when :attr:`exact`, else the estimate, rounded)."""
        if self.exact:
            return self.counts(x, "right") - self.counts(x, "left")
        return np.rint(self.counts(x, "right")).astype(np.int64) - np.rint(self.counts(x, "left")).astype(np.int64)

    def count_le(self, x: np.ndarray) -> np.ndarray:
        """Values ``<= x`` as integers (the estimate rounded when not :attr:`exact`)."""
        counts = self.counts(x, "right")
        return counts if self.exact else np.rint(counts).astype(np.int64)


@dataclass(frozen=True, eq=False)
class WindowCategorical:
    """One categorical feature of a window: every category's count, in the window's first-seen order."""

    n_rows: int
    counts: dict[str, int]  # <missing> first, then by first row
    first: dict[str, Position]  # where each category first occurs
    dtype: str = "object"

    kind = "categorical"

    @property
    def n_missing(self) -> int:
        return self.counts.get(MISSING, 0)


WindowColumn = WindowNumeric | WindowCategorical


@dataclass(frozen=True, eq=False)
class WindowProfile:
    """A current window (or a part of it) as :func:`merge_profiles` combines it (see the module docstring)."""

    columns: dict[str, WindowColumn]
    n_rows: int
    schema: dict[str, str]  # kind of every column of the window (column_kind)
    index: int = 0  # the smallest partition index merged in
    parts: int = 1
    points: int = DEFAULT_POINTS

    @property
    def exact(self) -> bool:
        """Every numeric feature's CDF is exact (then the check's statistics equal the raw window's)."""
        return all(c.exact for c in self.columns.values() if isinstance(c, WindowNumeric))


# ---------------------------------------------------------------------------------------- one partition
def _numeric_partition(series: pd.Series, n_rows: int, points: int, index: int) -> WindowNumeric:
    values, n_bad, example = numeric_values(series)
    bad_at = None
    if n_bad:
        bad = np.isnan(values) & series.notna().to_numpy()
        bad_at = (index, int(np.flatnonzero(bad)[0]))
    finite = values[np.isfinite(values)]
    finite.sort()
    n = finite.size
    common: dict[str, Any] = {
        "n_bad": n_bad,
        "bad_example": None if example is None else repr(example),
        "bad_at": bad_at,
        "dtype": str(series.dtype),
    }
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return WindowNumeric(n_rows, n_rows, np.empty(0), empty, empty, Fraction(0), Fraction(0), **common)
    last = np.flatnonzero(np.concatenate((finite[1:] != finite[:-1], [True])))  # last index of each distinct value
    if last.size <= points:
        kept = finite[last]
        lo = last.astype(np.int64) + 1
        hi = np.concatenate(([0], lo[:-1]))
    else:  # the ranks build_profile keeps, with the exact counts < and <= each kept value
        ranks = np.unique(np.concatenate(([1], np.ceil(np.arange(1, points + 1) * (n / points)).astype(np.int64))))
        kept = np.unique(finite[np.minimum(ranks, n) - 1])
        lo = np.searchsorted(finite, kept, side="right").astype(np.int64)
        hi = np.searchsorted(finite, kept, side="left").astype(np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(finite.mean())
        m2 = float(np.dot(finite - mean, finite - mean))
    if not (math.isfinite(mean) and math.isfinite(m2)):  # overflow: the moments are unknown, the CDF is not
        mean, m2 = 0.0, 0.0
    return WindowNumeric(n_rows, n_rows - n, kept, lo, hi, Fraction(mean), Fraction(m2), **common)


def _categorical_partition(series: pd.Series, index: int) -> WindowCategorical:
    codes, uniques = pd.factorize(series)
    codes = np.asarray(codes)
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
    firsts = np.zeros(len(uniques), dtype=np.int64)
    rows = np.flatnonzero(codes >= 0)[::-1]
    firsts[codes[rows]] = rows  # with repeated indices the last assignment wins: each code's first row
    out: dict[str, int] = {}
    first: dict[str, Position] = {}
    if counts[0]:
        out[MISSING] = int(counts[0])
        first[MISSING] = (index, int(np.argmax(codes < 0)))
    for value, count, row in zip(uniques, counts[1:], firsts, strict=True):
        key = category_key(value)
        out[key] = out.get(key, 0) + int(count)
        first.setdefault(key, (index, int(row)))
    return WindowCategorical(len(series), out, first, str(series.dtype))


def profile_partition(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    points: int = DEFAULT_POINTS,
    index: int = 0,
) -> WindowProfile:
    """Summarize one partition of a current window so that partitions can be merged (:func:`merge_profiles`).

    Parameters
    ----------
    frame : pandas.DataFrame
        The partition's rows. Features it lacks are left out (the check reports them as missing columns).
    numeric, categorical : sequence of str
        The features to profile, as the drift check will test them.
    points : int, default 20 000
        Distinct values kept exactly per numeric feature; above it, this many
        order statistics (the CDF is then known within ``1 / points`` of the
        partition's finite values at every ``x``).
    index : int, default 0
        The partition's position in the window (its first-seen order of
        categories, and the row of the first non-numeric value, follow it).

    Returns
    -------
    WindowProfile

    Raises
    ------
    ValueError, TypeError
        A parameter is out of range or of the wrong type, or a feature is listed as both kinds.
    """
    check_scalar(points, "points", Integral, min_val=2)
    check_scalar(index, "index", Integral, min_val=0)
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ValueError(f"column {both[0]!r} is listed as both numeric and categorical.")
    n_rows = len(frame)
    columns: dict[str, WindowColumn] = {}
    for name in numeric:
        if name in frame.columns:
            columns[name] = _numeric_partition(frame[name], n_rows, int(points), int(index))
    for name in categorical:
        if name in frame.columns:
            columns[name] = _categorical_partition(frame[name], int(index))
    schema = {str(name): column_kind(dtype) for name, dtype in frame.dtypes.items()}
    return WindowProfile(columns, n_rows, schema, index=int(index), parts=1, points=int(points))


# ---------------------------------------------------------------------------------------- merge
def _chan(parts: Sequence[WindowNumeric]) -> tuple[Fraction, Fraction]:
    """Chan, Golub and LeVeque's pairwise update of (n, mean, M2), in exact rational arithmetic."""
    n, mean, m2 = 0, Fraction(0), Fraction(0)
    for part in parts:
        if part.n == 0:
            continue
        total = n + part.n
        delta = part.mean - mean
        mean += delta * Fraction(part.n, total)
        m2 += part.m2 + delta * delta * Fraction(n * part.n, total)
        n = total
    return mean, m2


def _compress(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int, points: int) -> tuple[np.ndarray, ...]:
    """Keep the first point whose lower bound reaches each level ``i * n / points``, and the last point.

    Between two kept points ``a < b``: ``lo[b-1] - lo[a] < n / points``, so the
    new width ``hi[b] - lo[a] = (hi[b] - lo[b-1]) + (lo[b-1] - lo[a])`` is below
    an old width plus ``n / points``.
    """
    levels = np.arange(points) * (n / points)
    keep = np.unique(np.concatenate((np.searchsorted(lo, levels, side="left"), [values.size - 1])))
    keep = keep[keep < values.size]
    return values[keep], lo[keep], hi[keep]


def _merge_numeric(parts: Sequence[WindowNumeric], points: int, max_points: int) -> WindowNumeric:
    n_rows = sum(p.n_rows for p in parts)
    n_missing = sum(p.n_missing for p in parts)
    # Each part's envelope on the union of points, summed: a part's lo at x is its lo at its last point <= x,
    # its hi at x the hi of its first point >= x (n past the last). Both are step functions, so the sums are
    # cumulative sums of the parts' steps, grouped by value: integers, the same in any order.
    every = np.concatenate([p.values for p in parts])
    order = np.argsort(every, kind="stable")
    values, starts = np.unique(every[order], return_index=True)
    lo_steps = np.concatenate([np.diff(p.lo, prepend=0) for p in parts])[order]
    hi_steps = np.concatenate([np.diff(np.append(p.hi, p.n))[: p.values.size] for p in parts])[order]
    lo = np.cumsum(np.add.reduceat(lo_steps, starts)) if values.size else np.empty(0, dtype=np.int64)
    hi_after = np.cumsum(np.add.reduceat(hi_steps, starts)) if values.size else np.empty(0, dtype=np.int64)
    hi = np.concatenate(([0], hi_after[:-1])) + sum(int(p.hi[0]) for p in parts if p.values.size)
    lo, hi = lo.astype(np.int64, copy=False), hi.astype(np.int64, copy=False)
    n = n_rows - n_missing
    if values.size > max_points:
        values, lo, hi = _compress(values, lo, hi, n, points)
    mean, m2 = _chan(parts)
    bad = [p for p in parts if p.n_bad]
    first_bad = min(bad, key=lambda p: (p.bad_at or (0, 0), p.bad_example or "")) if bad else None
    dtypes = sorted({p.dtype for p in parts})
    return WindowNumeric(
        n_rows,
        n_missing,
        values,
        lo,
        hi,
        mean,
        m2,
        n_bad=sum(p.n_bad for p in parts),
        bad_example=None if first_bad is None else first_bad.bad_example,
        bad_at=None if first_bad is None else first_bad.bad_at,
        dtype=dtypes[0] if len(dtypes) == 1 else "/".join(dtypes),
    )


def _merge_categorical(parts: Sequence[WindowCategorical]) -> WindowCategorical:
    counts: dict[str, int] = {}
    first: dict[str, Position] = {}
    for part in parts:
        for key, count in part.counts.items():
            counts[key] = counts.get(key, 0) + count
            where = part.first[key]
            first[key] = min(first.get(key, where), where)
    order = sorted(counts, key=lambda key: (key != MISSING, first[key], key))  # as category_counts orders them
    dtypes = sorted({p.dtype for p in parts})
    return WindowCategorical(
        n_rows=sum(p.n_rows for p in parts),
        counts={key: counts[key] for key in order},
        first={key: first[key] for key in order},
        dtype=dtypes[0] if len(dtypes) == 1 else "/".join(dtypes),
    )


def _absent(kind: str, profile: WindowProfile) -> WindowColumn:
    """A feature a partition lacks, as the rows of a concatenated window would have it: all missing."""
    n = profile.n_rows
    if kind == "numeric":
        empty = np.empty(0, dtype=np.int64)
        return WindowNumeric(n, n, np.empty(0), empty, empty, Fraction(0), Fraction(0), dtype="absent")
    return WindowCategorical(n, {MISSING: n} if n else {}, {MISSING: (profile.index, 0)} if n else {}, "absent")


def _ordered(names: Iterable[tuple[str, Position]]) -> list[str]:
    """Names by where they first appear (partition index, position in it), then by name."""
    best: dict[str, Position] = {}
    for name, where in names:
        best[name] = min(best.get(name, where), where)
    return sorted(best, key=lambda name: (best[name], name))


def _merge_kind(kinds: set[str]) -> str:
    if len(kinds) == 1:
        return next(iter(kinds))
    return "float" if kinds <= {"int", "float", "bool"} else "text"


def merge_profiles(
    profiles: Iterable[WindowProfile], *, points: int | None = None, max_points: int = DEFAULT_MAX_POINTS
) -> WindowProfile:
    """Combine partition profiles (or merges of them) into the profile of their union.

    Counts, category counts and moments are exact; a numeric feature's CDF is
    exact when every part's is and the union of points stays within
    ``max_points``, else known within :attr:`WindowNumeric.ks_bound` (see the
    module docstring). The result does not depend on the order of
    ``profiles``.

    Parameters
    ----------
    profiles : iterable of WindowProfile
        At least one.
    points : int, optional
        Points a compressed feature keeps (default: the smallest of the parts').
    max_points : int, default 100 000
        Points above which a merged feature is compressed.

    Returns
    -------
    WindowProfile

    Raises
    ------
    ValueError
        No profile is given, a feature is numeric in one part and categorical
        in another, or a parameter is out of range.
    """
    parts = list(profiles)
    if not parts:
        raise ValueError("profiles is empty, at least one profile is required.")
    points = min(p.points for p in parts) if points is None else points
    check_scalar(points, "points", Integral, min_val=2)
    check_scalar(max_points, "max_points", Integral, min_val=int(points))
    kinds: dict[str, str] = {}
    for part in parts:
        for name, column in part.columns.items():
            if kinds.setdefault(name, column.kind) != column.kind:
                raise ValueError(f"feature {name!r} is numeric in one profile and categorical in another.")
    names = _ordered((name, (p.index, i)) for p in parts for i, name in enumerate(p.columns))
    columns: dict[str, WindowColumn] = {}
    for name in names:
        pieces = [p.columns[name] if name in p.columns else _absent(kinds[name], p) for p in parts]
        if kinds[name] == "numeric":
            columns[name] = _merge_numeric([c for c in pieces if isinstance(c, WindowNumeric)], points, max_points)
        else:
            columns[name] = _merge_categorical([c for c in pieces if isinstance(c, WindowCategorical)])
    schema_names = _ordered((name, (p.index, i)) for p in parts for i, name in enumerate(p.schema))
    schema = {name: _merge_kind({p.schema[name] for p in parts if name in p.schema}) for name in schema_names}
    return WindowProfile(
        columns=columns,
        n_rows=sum(p.n_rows for p in parts),
        schema=schema,
        index=min(p.index for p in parts),
        parts=sum(p.parts for p in parts),
        points=int(points),
    )


# ---------------------------------------------------------------------------------------- storage
def window_to_bytes(profile: WindowProfile) -> bytes:
    """Serialize a window profile as one ``.npz`` file (arrays, and a JSON header under ``meta``)."""
    arrays: dict[str, np.ndarray] = {}
    described: list[dict[str, Any]] = []
    for i, (name, column) in enumerate(profile.columns.items()):
        if isinstance(column, WindowNumeric):
            arrays[f"values_{i}"] = column.values
            arrays[f"lo_{i}"] = column.lo
            arrays[f"hi_{i}"] = column.hi
            described.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "n_rows": column.n_rows,
                    "n_missing": column.n_missing,
                    "mean": str(column.mean),
                    "m2": str(column.m2),
                    "n_bad": column.n_bad,
                    "bad_example": column.bad_example,
                    "bad_at": None if column.bad_at is None else list(column.bad_at),
                    "dtype": column.dtype,
                }
            )
        else:
            described.append(
                {
                    "name": name,
                    "kind": "categorical",
                    "n_rows": column.n_rows,
                    "counts": list(column.counts.items()),
                    "first": [list(column.first[key]) for key in column.counts],
                    "dtype": column.dtype,
                }
            )
    header = {
        "version": WINDOW_VERSION,
        "kind": "window",
        "n_rows": profile.n_rows,
        "schema": profile.schema,
        "index": profile.index,
        "parts": profile.parts,
        "points": profile.points,
        "columns": described,
    }
    return pack(arrays, header)


def window_from_bytes(data: bytes) -> WindowProfile:
    """Read a window profile written by :func:`window_to_bytes`.

    Raises
    ------
    ValueError
        The bytes are not a window profile, or one of a newer format version.
    """
    arrays, header = unpack(data, "drift window profile")
    if header.get("kind") != "window":
        raise ValueError("not a drift window profile: no window header")
    if int(header.get("version", 0)) > WINDOW_VERSION:
        raise ValueError(f"window profile format version {header['version']} is newer than {WINDOW_VERSION}")
    columns: dict[str, WindowColumn] = {}
    for i, item in enumerate(header["columns"]):
        if item["kind"] == "numeric":
            columns[item["name"]] = WindowNumeric(
                n_rows=int(item["n_rows"]),
                n_missing=int(item["n_missing"]),
                values=arrays[f"values_{i}"].astype(np.float64, copy=False),
                lo=arrays[f"lo_{i}"].astype(np.int64, copy=False),
                hi=arrays[f"hi_{i}"].astype(np.int64, copy=False),
                mean=Fraction(item["mean"]),
                m2=Fraction(item["m2"]),
                n_bad=int(item["n_bad"]),
                bad_example=item["bad_example"],
                bad_at=None if item["bad_at"] is None else (int(item["bad_at"][0]), int(item["bad_at"][1])),
                dtype=str(item["dtype"]),
            )
        else:
            counts = {str(key): int(count) for key, count in item["counts"]}
            first = {key: (int(a), int(b)) for key, (a, b) in zip(counts, item["first"], strict=True)}
            columns[item["name"]] = WindowCategorical(int(item["n_rows"]), counts, first, str(item["dtype"]))
    return WindowProfile(
        columns=columns,
        n_rows=int(header["n_rows"]),
        schema=dict(header["schema"]),
        index=int(header["index"]),
        parts=int(header["parts"]),
        points=int(header["points"]),
    )
