"""The structural checks: the pipeline's shape and every index that compiled predict code uses unchecked.

Run on a schema whose types are already known to be allowed (see the package docstring for the rules).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from retrain.artifact_safety.nodes import (
    State,
    _attrs,
    _int,
    _is_none,
    _items,
    _json,
    _json_list,
    _refuse,
    _type_name,
)
from retrain.artifact_safety.schema import _Schema

_TREE = "sklearn.tree._tree.Tree"
_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
_KD_TREE = "sklearn.neighbors._kd_tree.KDTree"
_BALL_TREE = "sklearn.neighbors._ball_tree.BallTree"
_PIPELINE = "sklearn.pipeline.Pipeline"
_ONE_HOT = "sklearn.preprocessing._encoders.OneHotEncoder"
_TREE_REGRESSOR = "sklearn.tree._classes.DecisionTreeRegressor"
_MINKOWSKI = "sklearn.metrics._dist_metrics.MinkowskiDistance64"
_DIST_METRICS = frozenset(
    {
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        _MINKOWSKI,
    }
)
#: Node records as scikit-learn uses them, field by field: a stored array is cast to these with
#: ``casting="same_kind"`` (what ``TreePredictor.__setstate__`` does; ``Tree`` accepts only lossless
#: bitness and byte-order variants), and the cast values are the ones checked.
_TREE_RECORD = np.dtype(
    [
        ("left_child", np.intp),
        ("right_child", np.intp),
        ("feature", np.intp),
        ("threshold", np.float64),
        ("impurity", np.float64),
        ("n_node_samples", np.intp),
        ("weighted_n_node_samples", np.float64),
        ("missing_go_to_left", np.uint8),
    ]
)
_PREDICTOR_RECORD = np.dtype(
    [
        ("value", np.float64),
        ("count", np.uint32),
        ("feature_idx", np.intp),
        ("num_threshold", np.float64),
        ("missing_go_to_left", np.uint8),
        ("left", np.uint32),
        ("right", np.uint32),
        ("gain", np.float64),
        ("depth", np.uint32),
        ("is_leaf", np.uint8),
        ("bin_threshold", np.uint8),
        ("is_categorical", np.uint8),
        ("bitset_idx", np.uint32),
    ]
)
_BINARY_TREE_RECORD = np.dtype(
    [("idx_start", np.intp), ("idx_end", np.intp), ("is_leaf", np.intp), ("radius", np.float64)]
)


class _Structure:
    """The structural checks, on a schema whose types are known to be allowed."""

    def __init__(self, schema: _Schema, estimators: Collection[str]) -> None:
        self.schema = schema
        self.estimators = estimators
        self.n_features = 0

    def check(self) -> None:
        self._check_pipeline()
        checks = {
            _TREE: self._check_tree,
            _PREDICTOR: self._check_predictor,
            _KD_TREE: self._check_binary_tree,
            _BALL_TREE: self._check_binary_tree,
            _ONE_HOT: self._check_one_hot,
        }
        for state, path in self.schema.nodes:
            name = _type_name(state)
            if name in checks:
                checks[name](state, path)
            elif state["__class__"].startswith("HistGradientBoosting"):
                self._check_hist_gradient_boosting(state, path)
            elif state["__class__"].startswith("KNeighbors"):
                self._check_k_neighbors(state, path)
            elif state["__class__"].startswith("GradientBoosting"):
                self._check_gradient_boosting(state, path)

    # --- pipeline ---------------------------------------------------------------------------

    def _check_pipeline(self) -> None:
        root = self.schema.root
        if _type_name(root) != _PIPELINE or root["__loader__"] != "ObjectNode":
            raise _refuse(f"the top-level object is {_type_name(root)}, not a {_PIPELINE}")
        steps = _items(_attrs(root, "the pipeline").get("steps"), "the pipeline's steps")
        if not steps:
            raise _refuse("the pipeline has no steps")
        last = _items(steps[-1], "the pipeline's last step")
        if len(last) != 2:
            raise _refuse("the pipeline's last step is not a (name, estimator) pair")
        final = last[1]
        if not isinstance(final, dict) or final.get("__class__") not in self.estimators:
            name = _type_name(final) if isinstance(final, dict) else repr(final)
            raise _refuse(
                f"the pipeline's last step is {name}, not one of the allowlisted estimators "
                f"({', '.join(sorted(self.estimators))})"
            )
        self.n_features = _int(_attrs(final, "the estimator").get("n_features_in_"), "the estimator's n_features_in_")
        if self.n_features < 1:
            raise _refuse(f"the estimator's n_features_in_ is {self.n_features}")

    # --- decision trees -----------------------------------------------------------------------

    def _check_tree(self, state: State, path: str) -> None:
        what = f"Tree at {path}"
        args = _items(state["__reduce__"]["args"], f"{what}: constructor arguments")
        if len(args) != 3:
            raise _refuse(f"{what}: {len(args)} constructor arguments, expected 3")
        n_features = _int(args[0], f"{what}: n_features")
        n_classes = self.schema.array(args[1], f"{what}: n_classes")
        n_outputs = _int(args[2], f"{what}: n_outputs")
        if n_features != self.n_features:
            raise _refuse(f"{what}: n_features is {n_features}, the estimator has {self.n_features} features")
        if (
            n_outputs < 1
            or n_classes.shape != (n_outputs,)
            or n_classes.dtype.kind not in "iu"
            or (n_classes < 1).any()
        ):
            raise _refuse(f"{what}: n_classes {n_classes.tolist()} does not fit n_outputs {n_outputs}")
        attrs = _attrs(state, what)
        if set(attrs) != {"max_depth", "node_count", "nodes", "values"}:
            raise _refuse(f"{what}: state keys {sorted(attrs)}")
        node_count = _int(attrs["node_count"], f"{what}: node_count")
        max_depth = _int(attrs["max_depth"], f"{what}: max_depth")
        nodes = self.schema.array(attrs["nodes"], f"{what}: nodes")
        values = self.schema.array(attrs["values"], f"{what}: values")
        nodes = _records(nodes, _TREE_RECORD, what)
        if node_count < 1 or nodes.shape != (node_count,):
            raise _refuse(f"{what}: node_count is {node_count}, the node array has shape {nodes.shape}")
        expected = (node_count, n_outputs, int(n_classes.max()))
        if values.shape != expected or values.dtype.kind != "f" or values.dtype.itemsize != 8:
            raise _refuse(f"{what}: value array of shape {values.shape} and dtype {values.dtype}, expected {expected}")
        left = nodes["left_child"].astype(np.int64)
        right = nodes["right_child"].astype(np.int64)
        leaf = left == -1
        mixed = np.flatnonzero(leaf != (right == -1))
        if mixed.size:
            i = int(mixed[0])
            raise _refuse(f"{what}: node {i} has children ({left[i]}, {right[i]}), only one of them -1")
        depth = _check_links(what, left, right, leaf, nodes["feature"].astype(np.int64), n_features)
        if not depth <= max_depth <= node_count:
            raise _refuse(f"{what}: max_depth is {max_depth}, the tree is {depth} deep and has {node_count} nodes")

    # --- histogram gradient boosting ---------------------------------------------------------

    def _check_predictor(self, state: State, path: str) -> None:
        what = f"TreePredictor at {path}"
        attrs = _attrs(state, what)
        if set(attrs) != {"nodes", "binned_left_cat_bitsets", "raw_left_cat_bitsets"}:
            raise _refuse(f"{what}: state keys {sorted(attrs)}")
        nodes = self.schema.array(attrs["nodes"], f"{what}: nodes")
        nodes = _records(nodes, _PREDICTOR_RECORD, what)
        if nodes.size < 1:
            raise _refuse(f"{what}: no nodes")
        for key in ("binned_left_cat_bitsets", "raw_left_cat_bitsets"):
            shape = self.schema.shape(attrs[key], f"{what}: {key}")
            if len(shape) != 2 or shape[1] != 8:
                raise _refuse(f"{what}: {key} of shape {shape}, expected (n, 8)")
        leaf = nodes["is_leaf"] != 0
        categorical = np.flatnonzero(~leaf & (nodes["is_categorical"] != 0))
        if categorical.size:
            raise _refuse(
                f"{what}: node {int(categorical[0])} is a categorical split, which these pipelines never make"
            )
        _check_links(
            what,
            nodes["left"].astype(np.int64),
            nodes["right"].astype(np.int64),
            leaf,
            nodes["feature_idx"].astype(np.int64),
            self.n_features,
        )

    def _check_hist_gradient_boosting(self, state: State, path: str) -> None:
        what = f"{state['__class__']} at {path}"
        attrs = _attrs(state, what)
        if not _is_none(attrs.get("_preprocessor")):  # it would replace predict's input validation
            raise _refuse(f"{what}: has a _preprocessor, which these pipelines never make")
        self._check_own_features(attrs, what)

    # --- k-neighbors ------------------------------------------------------------------------

    def _check_binary_tree(self, state: State, path: str) -> None:
        what = f"{state['__class__']} at {path}"
        items = _items(state.get("content"), f"{what}: state")
        if len(items) != 13:
            raise _refuse(f"{what}: {len(items)} state items, expected 13")
        data_shape = self.schema.shape(items[0], f"{what}: data")
        if len(data_shape) != 2 or data_shape[0] < 1 or data_shape[1] != self.n_features:
            raise _refuse(f"{what}: data of shape {data_shape}, the estimator has {self.n_features} features")
        n_samples = data_shape[0]
        idx_array = self.schema.array(items[1], f"{what}: idx_array")
        if (
            idx_array.shape != (n_samples,)
            or idx_array.dtype.kind not in "iu"
            or not np.array_equal(np.sort(idx_array), np.arange(n_samples))
        ):
            raise _refuse(f"{what}: idx_array is not a permutation of 0..{n_samples - 1}")
        node_data = self.schema.array(items[2], f"{what}: node_data")
        node_data = _records(node_data, _BINARY_TREE_RECORD, what)
        leaf_size, n_levels, n_nodes = (
            _int(items[i], f"{what}: {key}") for i, key in ((4, "leaf_size"), (5, "n_levels"), (6, "n_nodes"))
        )
        for i, key in ((7, "n_trims"), (8, "n_leaves"), (9, "n_splits"), (10, "n_calls")):
            _int(items[i], f"{what}: {key}")
        if leaf_size < 1 or not 1 <= n_levels <= 62 or n_nodes != 2**n_levels - 1 or node_data.shape != (n_nodes,):
            raise _refuse(
                f"{what}: leaf_size {leaf_size}, n_levels {n_levels}, n_nodes {n_nodes} and "
                f"{node_data.shape[0] if node_data.ndim == 1 else node_data.shape} node records do not agree"
            )
        bounds_shape = self.schema.shape(items[3], f"{what}: node_bounds")
        expected = (2 if _type_name(state) == _KD_TREE else 1, n_nodes, self.n_features)
        if bounds_shape != expected:
            raise _refuse(f"{what}: node_bounds of shape {bounds_shape}, expected {expected}")
        start = node_data["idx_start"].astype(np.int64)
        end = node_data["idx_end"].astype(np.int64)
        bad = np.flatnonzero((start < 0) | (start > end) | (end > n_samples))
        if bad.size:
            i = int(bad[0])
            raise _refuse(f"{what}: node {i} covers points {start[i]}..{end[i]}, outside 0..{n_samples}")
        inner = np.flatnonzero(node_data["is_leaf"] == 0)
        if inner.size and 2 * int(inner.max()) + 2 >= n_nodes:
            raise _refuse(f"{what}: node {int(inner.max())} is not a leaf but has no children among {n_nodes} nodes")
        self._check_metric(items[11], f"{what}: distance metric")
        weights = items[12]
        if not _is_none(weights) and self.schema.shape(weights, f"{what}: sample_weight") != (n_samples,):
            raise _refuse(f"{what}: sample_weight does not have one weight per point")

    def _check_metric(self, state: Any, what: str) -> None:
        if (
            not isinstance(state, dict)
            or state.get("__loader__") != "ObjectNode"
            or _type_name(state) not in _DIST_METRICS
        ):
            name = _type_name(state) if isinstance(state, dict) else repr(state)
            raise _refuse(f"{what} is {name}, not one of {', '.join(sorted(_DIST_METRICS))}")
        items = _items(state.get("content"), what)
        if len(items) != 3:
            raise _refuse(f"{what}: {len(items)} state items, expected 3 (p, vec, mat)")
        if not isinstance(_json(items[0], f"{what}: p"), int | float):
            raise _refuse(f"{what}: p is not a number")
        vec = self.schema.shape(items[1], f"{what}: vec")
        mat = self.schema.shape(items[2], f"{what}: mat")
        if len(vec) != 1 or len(mat) != 2:
            raise _refuse(f"{what}: vec of shape {vec} and mat of shape {mat}")
        if _type_name(state) == _MINKOWSKI and vec[0] not in (0, self.n_features):
            raise _refuse(f"{what}: {vec[0]} weights for {self.n_features} features")

    def _check_k_neighbors(self, state: State, path: str) -> None:
        what = f"{state['__class__']} at {path}"
        attrs = _attrs(state, what)
        self._check_own_features(attrs, what)
        fit_x = self.schema.shape(attrs.get("_fit_X"), f"{what}: _fit_X")
        if len(fit_x) != 2 or fit_x[1] != self.n_features:
            raise _refuse(f"{what}: _fit_X of shape {fit_x}, the estimator has {self.n_features} features")
        for key in ("metric", "effective_metric_"):
            if key in attrs and _json(attrs[key], f"{what}: {key}") == "precomputed":
                raise _refuse(f"{what}: {key} is 'precomputed', which these pipelines never use")

    # --- gradient boosting ------------------------------------------------------------------

    def _check_gradient_boosting(self, state: State, path: str) -> None:
        what = f"{state['__class__']} at {path}"
        attrs = _attrs(state, what)
        self._check_own_features(attrs, what)
        stages = attrs.get("estimators_")
        if not (
            isinstance(stages, dict) and stages.get("__loader__") == "NdArrayNode" and stages.get("type") == "json"
        ):
            raise _refuse(f"{what}: estimators_ is not an array of estimators")
        rows = stages["content"]
        if not rows:
            raise _refuse(f"{what}: estimators_ is empty")
        for i, row in enumerate(rows):
            for k, estimator in enumerate(_items(row, f"{what}: estimators_[{i}]")):
                where = f"{what}: estimators_[{i}, {k}]"
                if not isinstance(estimator, dict) or _type_name(estimator) != _TREE_REGRESSOR:
                    raise _refuse(f"{where} is not a {_TREE_REGRESSOR}")
                tree = _attrs(estimator, where).get("tree_")
                if not isinstance(tree, dict) or _type_name(tree) != _TREE:
                    raise _refuse(f"{where} has no Tree")

    # --- one-hot encoding -------------------------------------------------------------------

    def _check_one_hot(self, state: State, path: str) -> None:
        what = f"OneHotEncoder at {path}"
        attrs = _attrs(state, what)
        if "categories_" not in attrs:
            return  # not fitted (the unfitted copy ColumnTransformer keeps in ``transformers``)
        categories = _items(attrs["categories_"], f"{what}: categories_")
        counts = [self._length(category, f"{what}: categories_[{i}]") for i, category in enumerate(categories)]
        for key, expected in (("drop_idx_", None), ("_drop_idx_after_grouping", None), ("sparse_output", False)):
            if _json(attrs.get(key), f"{what}: {key}") is not expected:
                raise _refuse(f"{what}: {key} must be {expected}, these pipelines never set it")
        infrequent = _json(attrs.get("_infrequent_enabled"), f"{what}: _infrequent_enabled")
        if type(infrequent) is not bool:
            raise _refuse(f"{what}: _infrequent_enabled is {infrequent!r}, not a boolean")
        widths = self._grouped_widths(attrs, counts, what) if infrequent else counts
        outs = _json_list(attrs.get("_n_features_outs"), f"{what}: _n_features_outs")
        if outs != widths:
            grouped = f" grouped to {widths}" if widths != counts else ""
            raise _refuse(f"{what}: _n_features_outs {outs} differs from the category counts {counts}{grouped}")

    def _grouped_widths(self, attrs: Mapping[str, Any], counts: list[int], what: str) -> list[int]:
        """Each feature's output width with infrequent categories grouped, after checking the grouping.

        transform replaces the code of an unknown category by ``_infrequent_indices[i][0]``
        and every code ``c`` by ``_default_to_infrequent_mappings[i][c]``; the mapped codes
        become CSR column indices unchecked, so the mapping must be exactly the one
        scikit-learn fits: frequent categories to ``0..k-1`` in order, infrequent ones to ``k``.
        """
        indices = _items(attrs.get("_infrequent_indices"), f"{what}: _infrequent_indices")
        mappings = _items(attrs.get("_default_to_infrequent_mappings"), f"{what}: _default_to_infrequent_mappings")
        if not len(indices) == len(mappings) == len(counts):
            raise _refuse(
                f"{what}: {len(indices)} infrequent index lists and {len(mappings)} mappings for {len(counts)} features"
            )
        widths = []
        for i, (index_state, mapping_state, n) in enumerate(zip(indices, mappings, counts, strict=True)):
            if _is_none(index_state) and _is_none(mapping_state):
                widths.append(n)  # nothing grouped: codes go through unmapped
                continue
            index = self.schema.array(index_state, f"{what}: _infrequent_indices[{i}]")
            mapping = self.schema.array(mapping_state, f"{what}: _default_to_infrequent_mappings[{i}]")
            if (
                index.ndim != 1
                or index.dtype.kind not in "iu"
                or not index.size
                or int(index[0]) < 0
                or int(index[-1]) >= n
                or (np.diff(index.astype(np.int64)) <= 0).any()
            ):
                raise _refuse(f"{what}: _infrequent_indices[{i}] is not increasing indices into its {n} categories")
            frequent = np.setdiff1d(np.arange(n), index)
            expected = np.empty(n, dtype=np.int64)
            expected[frequent] = np.arange(frequent.size)
            expected[index] = frequent.size
            if mapping.dtype.kind not in "iu" or not np.array_equal(mapping, expected):
                raise _refuse(
                    f"{what}: _default_to_infrequent_mappings[{i}] does not map the {frequent.size} frequent "
                    f"categories to 0..{frequent.size - 1} and the {index.size} infrequent ones to {frequent.size}"
                )
            widths.append(frequent.size + 1)
        return widths

    def _length(self, state: Any, what: str) -> int:
        if isinstance(state, dict) and state.get("__loader__") == "NdArrayNode" and state.get("type") == "json":
            declared = _json_list(state.get("shape"), f"{what}: shape")
            if declared != [len(state["content"])]:
                raise _refuse(f"{what}: an object array of shape {declared} with {len(state['content'])} items")
            return len(state["content"])
        shape = self.schema.shape(state, what)
        if len(shape) != 1:
            raise _refuse(f"{what}: categories of shape {shape}")
        return shape[0]

    # --- shared -------------------------------------------------------------------------------

    def _check_own_features(self, attrs: Mapping[str, Any], what: str) -> None:
        own = _int(attrs.get("n_features_in_"), f"{what}: n_features_in_")
        if own != self.n_features:
            raise _refuse(f"{what}: n_features_in_ is {own}, the pipeline's estimator has {self.n_features}")


def _records(nodes: np.ndarray, record: np.dtype[Any], what: str) -> np.ndarray:
    """A 1-D array of node records, cast field by field to the dtype scikit-learn uses."""
    if nodes.ndim != 1 or nodes.dtype.names != record.names:
        raise _refuse(
            f"{what}: node array of shape {nodes.shape} with fields {nodes.dtype.names}, expected {record.names}"
        )
    try:
        return nodes.astype(record, casting="same_kind")
    except (TypeError, ValueError) as exc:
        raise _refuse(f"{what}: node fields of dtype {nodes.dtype} do not cast to {record}") from exc


def _check_links(
    what: str, left: np.ndarray, right: np.ndarray, leaf: np.ndarray, feature: np.ndarray, n_features: int
) -> int:
    """Check the child and feature indices of a binary tree stored as parallel arrays; return its depth.

    Every non-leaf's children must be distinct, in range and after it (so walking down
    always ends); together they must name every node but the root exactly once (so it is
    a tree); its split feature must be in ``0..n_features-1``.
    """
    n = left.shape[0]
    inner = np.flatnonzero(~leaf)
    lo, ro = left[inner], right[inner]
    bad = np.flatnonzero((lo <= inner) | (lo >= n) | (ro <= inner) | (ro >= n) | (lo == ro))
    if bad.size:
        i = int(inner[bad[0]])
        raise _refuse(
            f"{what}: node {i} has children ({left[i]}, {right[i]}), not two distinct nodes in {i + 1}..{n - 1}"
        )
    children = np.concatenate([lo, ro])
    if children.size != n - 1 or np.unique(children).size != n - 1:
        raise _refuse(f"{what}: its {n} nodes do not form a tree (a node has two parents or none)")
    split = feature[inner]
    bad = np.flatnonzero((split < 0) | (split >= n_features))
    if bad.size:
        i = int(inner[bad[0]])
        raise _refuse(f"{what}: node {i} splits on feature {feature[i]}, outside 0..{n_features - 1}")
    depth, level = 0, np.array([0])
    while True:
        level = level[~leaf[level]]
        if not level.size:
            return depth
        level = np.concatenate([left[level], right[level]])
        depth += 1
