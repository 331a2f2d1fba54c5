"""What a model artifact may contain, checked on the skops file before skops builds any object.

A skops file is a zip of ``schema.json`` (a tree of nodes, each naming a
``__loader__``, a ``__module__`` and a ``__class__``) and ``.npy`` arrays the
nodes refer to by file name. skops refuses types it does not trust, but it
trusts every scikit-learn estimator and, once told to, any type at all; and a
type being trusted says nothing about its content: scikit-learn's compiled
predict code indexes with the integers stored in the file and does not check
them. :func:`check_artifact` therefore reads the schema (and the arrays it
needs, with ``numpy.load(..., allow_pickle=False)``) and refuses, with
:class:`~retrain.errors.ArtifactIntegrityError` naming the problem:

*The file.* Anything that is not a zip with a JSON schema of skops protocol
:data:`SKOPS_PROTOCOLS`; a zip declaring more than 64 times its own size
uncompressed; an ``.npy`` array whose header is not a plain (no object)
dtype describing exactly the bytes stored; two nodes sharing an ``__id__``
that are not the same object saved twice (skops builds the first node with an
id and reuses it wherever the id recurs, so the checked node must be the used
one); a back-reference (``CachedNode``); an object attribute whose key type is
missing or not ``str`` (skops would drop or rename it, so the attribute
checked would not be the one set).

*The types.* Every node's loader and type must be one the pipelines of
:func:`retrain.training.fit` produce: plain containers and JSON values,
numpy arrays, scalars and dtypes, and exactly the classes of
:data:`ARTIFACT_CLASSES`, each with the loader that builds it. Functions,
methods, ``functools.partial``, sparse matrices, bytes, ``numpy.memmap`` and
any other type are refused by name. :data:`TRUSTED_TYPES` is the part of
that set skops does not trust by default; it is passed to ``skops.io.loads``
as its explicit trusted list.

*The structure.* The top-level object must be a ``sklearn.pipeline.Pipeline``
whose last step is an allowlisted estimator with ``n_features_in_`` (its
predict then refuses input of another width); then, wherever they occur:

- ``sklearn.tree._tree.Tree``: a node array of the tree dtype whose length is
  ``node_count``; each node a leaf (both children -1) or with both children
  in range, strictly after the node and distinct, every node but the root the
  child of exactly one node; split features in ``0..n_features-1`` with
  ``n_features`` the final estimator's ``n_features_in_``; a depth of at most
  ``max_depth`` (which sizes ``decision_path``'s buffer) and ``max_depth`` at
  most ``node_count``; a float64 value array of shape
  ``(node_count, n_outputs, max(n_classes))``.
- ``TreePredictor`` (histogram gradient boosting): the same rules for its
  ``nodes`` (children of non-leaves in range and after the node, one parent
  each, ``feature_idx`` in range) and no categorical split (the pipelines
  one-hot encode, so the bitset indices are never used); the estimator's
  ``_preprocessor`` is None, so predict validates the input width.
- ``KDTree`` / ``BallTree`` (k-neighbors): data of shape
  ``(n_samples, n_features_in_)``; ``idx_array`` a permutation of
  ``0..n_samples-1``; every node's ``idx_start <= idx_end`` within
  ``0..n_samples``; ``n_nodes == 2**n_levels - 1`` equal to the lengths of
  ``node_data`` and ``node_bounds``; every non-leaf's children ``2i+1, 2i+2``
  below ``n_nodes``; ``leaf_size >= 1``; a distance metric of an allowed
  class (a Minkowski weight vector empty or one weight per feature). The
  estimator's ``_fit_X`` (used by brute-force search, which does not check
  widths) has ``n_features_in_`` columns and its metric is not
  ``precomputed`` (which skips the width check).
- ``GradientBoosting*``: every entry of ``estimators_`` a
  ``DecisionTreeRegressor`` holding a ``Tree`` (the compiled predict
  dereferences ``tree_`` without a None check). :func:`check_loaded` also
  checks, on the built but unused model, that the initial raw prediction has
  as many columns as ``estimators_`` (predict writes one column per entry,
  unchecked).
- ``OneHotEncoder``: ``_n_features_outs`` equals the number of categories of
  each feature, or, where infrequent categories are grouped, the number of
  frequent ones plus one; no dropped categories; dense output (the transform
  builds a CSR matrix from these counts and the category codes and densifies
  it without a bounds check). A grouped feature's ``_infrequent_indices`` must
  be increasing category indices and its ``_default_to_infrequent_mappings``
  exactly the mapping scikit-learn derives from them (frequent categories to
  ``0..k-1`` in order, infrequent ones to ``k``), so every mapped code is a
  column of the feature's block.

Everything else the pipelines contain (imputer, scaler, column transformer,
linear models, dummy estimators, losses, links) runs in Python or numpy,
where a bad index raises instead of corrupting memory.

The type allowlist is in :mod:`~retrain.artifact_safety.allowlist`, the file and schema reading in
:mod:`~retrain.artifact_safety.schema`, the structural checks in
:mod:`~retrain.artifact_safety.structure`. The package imports only numpy and the standard library.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from retrain.artifact_safety.allowlist import ARTIFACT_CLASSES, TRUSTED_TYPES
from retrain.artifact_safety.schema import MAX_EXPANSION, SKOPS_PROTOCOLS, _Schema
from retrain.artifact_safety.structure import _Structure
from retrain.errors import ArtifactIntegrityError

__all__ = [
    "ARTIFACT_CLASSES",
    "MAX_EXPANSION",
    "SKOPS_PROTOCOLS",
    "TRUSTED_TYPES",
    "check_artifact",
    "check_loaded",
    "found_classes",
]


def check_artifact(data: bytes, *, estimators: Collection[str]) -> None:
    """Refuse a skops file that is not one of this project's pipelines; builds no object.

    Parameters
    ----------
    data
        The skops file's bytes.
    estimators
        Class names the pipeline's last step may have (``training.ALLOWED_ESTIMATORS``).

    Raises
    ------
    ArtifactIntegrityError
        The file, a type or a structure is refused (see the module docstring); the
        message names the problem and where it is in the schema.
    """
    with _Schema(data) as schema:
        unknown: dict[tuple[str, str], list[str]] = {}
        for type_, loader, path in schema.unknown_types():
            unknown.setdefault((type_, loader), []).append(path)
        if unknown:
            refused = [
                f"{type_} ({loader} at {paths[0]}{f' and {len(paths) - 1} more' if len(paths) > 1 else ''})"
                for (type_, loader), paths in sorted(unknown.items())
            ]
            raise ArtifactIntegrityError(f"artifact contains types outside the allowlist: {', '.join(refused)}")
        _Structure(schema, estimators).check()


def found_classes(data: bytes) -> dict[str, str]:
    """Every class of the artifact outside plain builtins and numpy, mapped to its skops loader.

    For recomputing :data:`ARTIFACT_CLASSES` from fitted pipelines; checks the file
    format but not the types.
    """
    with _Schema(data) as schema:
        return {type_: loader for type_, loader, _ in schema.classes()}


def check_loaded(model: Any) -> None:
    """Checks that need the built model, run before it is returned or used.

    Gradient boosting's compiled predict adds tree ``k`` of each stage into column ``k``
    of the initial raw prediction without a bounds check; that prediction comes from the
    model's ``init_`` estimator (numpy code), so its width is measured here on one row
    of zeros and must equal the number of columns of ``estimators_``.

    Raises
    ------
    ArtifactIntegrityError
        The widths differ, or computing the initial prediction fails.
    """
    final = model.steps[-1][1]
    if type(final).__name__ not in ("GradientBoostingClassifier", "GradientBoostingRegressor"):
        return
    try:
        columns = np.asarray(final.estimators_).shape[1]
        init = final._raw_predict_init(np.zeros((1, int(final.n_features_in_)), dtype=np.float32))
        width = np.asarray(init).shape
    except Exception as exc:
        raise ArtifactIntegrityError(f"artifact structure refused: gradient boosting cannot be checked: {exc}") from exc
    if width != (1, columns):
        raise ArtifactIntegrityError(
            f"artifact structure refused: gradient boosting's initial prediction has shape {width} for one row, "
            f"its estimators_ have {columns} columns"
        )
