"""Seeded uniform row samples of a window profiled in partitions, merged so the union's sample stays uniform.

Each partition keeps :func:`sample_partition`: ``min(k, n)`` of its ``n`` rows
drawn without replacement, **in random order** (a seeded permutation). Any
prefix of that order is itself a uniform sample of the partition. To merge,
:func:`merge_samples` draws how many of the ``k`` union rows come from each
partition from the multivariate hypergeometric distribution on the partitions'
row counts (what sampling ``k`` rows of the union without replacement gives),
then takes that many rows from the front of each partition's sample. So the
merged rows are a uniform sample without replacement of the whole window, of
size ``min(k, total rows)``, whatever the partitions' sizes; the result
depends only on the seeds and the partitions' indices, not on the order in
which they are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

from retrain.frames import check_scalar


@dataclass(frozen=True, eq=False)
class RowSample:
    """A partition's (or a merge's) uniform row sample and the rows it was drawn from."""

    rows: pd.DataFrame  # in random order: any prefix is a uniform sample
    n_rows: int  # rows of the partition (or partitions) sampled
    index: int = 0  # the partition's position in the window (the smallest, for a merge)


def sample_partition(frame: pd.DataFrame, k: int, *, seed: int = 0, index: int = 0) -> RowSample:
    """``min(k, len(frame))`` rows of ``frame`` drawn uniformly without replacement, in random order.

    The generator is seeded by ``(seed, index)``, so each partition draws independently and reproducibly.

    Raises
    ------
    ValueError, TypeError
        ``k`` or ``index`` is negative, or not an integer.
    """
    check_scalar(k, "k", Integral, min_val=0)
    check_scalar(index, "index", Integral, min_val=0)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index)])
    picked = rng.permutation(len(frame))[: int(k)]
    return RowSample(frame.iloc[picked].reset_index(drop=True), len(frame), int(index))


def merge_samples(samples: Sequence[RowSample], k: int, *, seed: int = 0) -> RowSample:
    """A uniform sample without replacement of ``min(k, total rows)`` rows of the union of the partitions.

    Each part must hold at least ``min(k, part.n_rows)`` rows (as :func:`sample_partition` gives).

    Raises
    ------
    ValueError
        No sample is given, ``k`` is negative, or a part holds fewer rows than the merge may need.
    """
    check_scalar(k, "k", Integral, min_val=0)
    parts = sorted(samples, key=lambda s: s.index)
    if not parts:
        raise ValueError("samples is empty, at least one sample is required.")
    for part in parts:
        if len(part.rows) < min(int(k), part.n_rows):
            raise ValueError(
                f"sample of partition {part.index} holds {len(part.rows)} rows, "
                f"must hold min(k, n_rows) == {min(int(k), part.n_rows)}."
            )
    sizes = np.array([p.n_rows for p in parts], dtype=np.int64)
    total = int(sizes.sum())
    take = min(int(k), total)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5A4D])
    counts = rng.multivariate_hypergeometric(sizes, take) if take else np.zeros(len(parts), dtype=np.int64)
    pieces = [p.rows.iloc[: int(c)] for p, c in zip(parts, counts, strict=True) if c]
    rows = pd.concat(pieces, ignore_index=True) if pieces else parts[0].rows.iloc[:0].reset_index(drop=True)
    # Shuffle the union so any prefix of it is uniform too (a merge of merges stays uniform).
    rows = rows.iloc[rng.permutation(len(rows))].reset_index(drop=True)
    return RowSample(rows, total, parts[0].index)
