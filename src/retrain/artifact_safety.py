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

This module imports only numpy and the standard library.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from retrain.errors import ArtifactIntegrityError

#: Type names (as ``skops.io.get_untrusted_types`` reports them) that the pipelines of
#: :func:`retrain.training.fit` contain beyond skops' own defaults: the exact union over every
#: allowlisted estimator and the parameters that change what is stored (see
#: ``tests/unit/test_artifact_safety.py``, which recomputes it). Passed to ``skops.io.loads``.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.tree._tree.Tree",
)

#: Every class (outside plain builtins and numpy arrays/scalars/dtypes) the pipelines contain,
#: mapped to the skops loader that builds it. Recomputed by the same test.
ARTIFACT_CLASSES: Mapping[str, str] = MappingProxyType(
    {
        "numpy.random._generator.Generator": "RandomGeneratorNode",
        "numpy.random.mtrand.RandomState": "RandomStateNode",
        "sklearn._loss._loss.CyAbsoluteError": "LossNode",
        "sklearn._loss._loss.CyExponentialLoss": "LossNode",
        "sklearn._loss._loss.CyHalfBinomialLoss": "LossNode",
        "sklearn._loss._loss.CyHalfGammaLoss": "LossNode",
        "sklearn._loss._loss.CyHalfMultinomialLoss": "LossNode",
        "sklearn._loss._loss.CyHalfPoissonLoss": "LossNode",
        "sklearn._loss._loss.CyHalfSquaredError": "LossNode",
        "sklearn._loss._loss.CyHuberLoss": "LossNode",
        "sklearn._loss._loss.CyPinballLoss": "LossNode",
        "sklearn._loss.link.HalfLogitLink": "ObjectNode",
        "sklearn._loss.link.IdentityLink": "ObjectNode",
        "sklearn._loss.link.Interval": "ObjectNode",
        "sklearn._loss.link.LogLink": "ObjectNode",
        "sklearn._loss.link.LogitLink": "ObjectNode",
        "sklearn._loss.link.MultinomialLogit": "ObjectNode",
        "sklearn._loss.loss.AbsoluteError": "ObjectNode",
        "sklearn._loss.loss.ExponentialLoss": "ObjectNode",
        "sklearn._loss.loss.HalfBinomialLoss": "ObjectNode",
        "sklearn._loss.loss.HalfGammaLoss": "ObjectNode",
        "sklearn._loss.loss.HalfMultinomialLoss": "ObjectNode",
        "sklearn._loss.loss.HalfPoissonLoss": "ObjectNode",
        "sklearn._loss.loss.HalfSquaredError": "ObjectNode",
        "sklearn._loss.loss.HuberLoss": "ObjectNode",
        "sklearn._loss.loss.PinballLoss": "ObjectNode",
        "sklearn.compose._column_transformer.ColumnTransformer": "ObjectNode",
        "sklearn.dummy.DummyClassifier": "ObjectNode",
        "sklearn.dummy.DummyRegressor": "ObjectNode",
        "sklearn.ensemble._forest.ExtraTreesClassifier": "ObjectNode",
        "sklearn.ensemble._forest.ExtraTreesRegressor": "ObjectNode",
        "sklearn.ensemble._forest.RandomForestClassifier": "ObjectNode",
        "sklearn.ensemble._forest.RandomForestRegressor": "ObjectNode",
        "sklearn.ensemble._gb.GradientBoostingClassifier": "ObjectNode",
        "sklearn.ensemble._gb.GradientBoostingRegressor": "ObjectNode",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper": "ObjectNode",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier": "ObjectNode",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor": "ObjectNode",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor": "ObjectNode",
        "sklearn.impute._base.SimpleImputer": "ObjectNode",
        "sklearn.linear_model._base.LinearRegression": "ObjectNode",
        "sklearn.linear_model._coordinate_descent.ElasticNet": "ObjectNode",
        "sklearn.linear_model._coordinate_descent.Lasso": "ObjectNode",
        "sklearn.linear_model._logistic.LogisticRegression": "ObjectNode",
        "sklearn.linear_model._ridge.Ridge": "ObjectNode",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64": "ObjectNode",
        "sklearn.metrics._dist_metrics.EuclideanDistance64": "ObjectNode",
        "sklearn.metrics._dist_metrics.ManhattanDistance64": "ObjectNode",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64": "ObjectNode",
        "sklearn.neighbors._ball_tree.BallTree": "ObjectNode",
        "sklearn.neighbors._classification.KNeighborsClassifier": "ObjectNode",
        "sklearn.neighbors._kd_tree.KDTree": "ObjectNode",
        "sklearn.neighbors._regression.KNeighborsRegressor": "ObjectNode",
        "sklearn.pipeline.Pipeline": "ObjectNode",
        "sklearn.preprocessing._data.StandardScaler": "ObjectNode",
        "sklearn.preprocessing._encoders.OneHotEncoder": "ObjectNode",
        "sklearn.preprocessing._label.LabelEncoder": "ObjectNode",
        "sklearn.tree._classes.DecisionTreeClassifier": "ObjectNode",
        "sklearn.tree._classes.DecisionTreeRegressor": "ObjectNode",
        "sklearn.tree._classes.ExtraTreeClassifier": "ObjectNode",
        "sklearn.tree._classes.ExtraTreeRegressor": "ObjectNode",
        "sklearn.tree._tree.Tree": "TreeNode",
    }
)

#: skops protocols whose schema this module reads (the one ``skops.io.dumps`` writes today).
SKOPS_PROTOCOLS: tuple[int, ...] = (2,)

#: A zip may declare at most this many times its own size (plus 1 MiB) uncompressed.
MAX_EXPANSION = 64

#: Loaders of plain nodes and the types each may name (numpy scalars are added below).
_PLAIN_LOADERS: dict[str, frozenset[str]] = {
    "DictNode": frozenset({"builtins.dict"}),
    "ListNode": frozenset({"builtins.list"}),
    "TupleNode": frozenset({"builtins.tuple"}),
    "JsonNode": frozenset({"builtins.str"}),
    "SliceNode": frozenset({"builtins.slice"}),
    "DTypeNode": frozenset({"numpy.dtype"}),
    "TypeNode": frozenset({"builtins.str", "builtins.int", "builtins.float", "builtins.bool"}),
    "NdArrayNode": frozenset({"numpy.ndarray"}),
}
#: Loaders that build a class of :data:`ARTIFACT_CLASSES`.
_CLASS_LOADERS = frozenset({"ObjectNode", "TreeNode", "LossNode", "RandomStateNode", "RandomGeneratorNode"})

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

State = dict[str, Any]


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


def _refuse(message: str) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(f"artifact structure refused: {message}")


def _numpy_scalar_types() -> frozenset[str]:
    return frozenset(f"numpy.{t.__name__}" for t in set(np.sctypeDict.values()))


class _Schema:
    """The parsed schema of a skops file, its nodes walked once, and its arrays on demand."""

    def __init__(self, data: bytes) -> None:
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise ArtifactIntegrityError(f"artifact is not a readable skops file: {exc}") from exc
        try:
            declared = sum(info.file_size for info in self._zip.infolist())
            if declared > MAX_EXPANSION * len(data) + 2**20:
                raise ArtifactIntegrityError(
                    f"artifact is not a readable skops file: it declares {declared} bytes uncompressed "
                    f"for {len(data)} bytes stored"
                )
            self.root = json.loads(self._zip.read("schema.json"))
        except ArtifactIntegrityError:
            self._zip.close()
            raise
        except Exception as exc:  # missing member, bad zip entry, bad JSON, too deeply nested JSON
            self._zip.close()
            raise ArtifactIntegrityError(f"artifact is not a readable skops file: {exc}") from exc
        self._headers: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self.nodes: list[tuple[State, str]] = []
        try:
            self._walk()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> _Schema:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._zip.close()

    # --- the walk ---------------------------------------------------------------------------

    def _walk(self) -> None:
        if not isinstance(self.root, dict):
            raise ArtifactIntegrityError("artifact is not a readable skops file: the schema is not an object")
        protocol = self.root.get("protocol")
        if type(protocol) is not int or protocol not in SKOPS_PROTOCOLS:
            raise _refuse(f"skops protocol {protocol!r}, this loader reads protocols {list(SKOPS_PROTOCOLS)}")
        self._id_counts = _count_ids(self.root)
        seen: dict[int, State] = {}
        stack: list[tuple[Any, str]] = [(self.root, "$")]
        while stack:
            state, path = stack.pop()
            if not isinstance(state, dict) or not all(
                isinstance(state.get(key), str) for key in ("__loader__", "__module__", "__class__")
            ):
                raise _refuse(f"{path} is not a skops node")
            node_id = state.get("__id__")
            if node_id is not None:
                if type(node_id) is not int:
                    raise _refuse(f"{path} has __id__ {node_id!r}, not an integer")
                if node_id:
                    first = seen.setdefault(node_id, state)
                    if first is not state:
                        if not self._equivalent(first, state):
                            raise _refuse(f"{path} reuses __id__ {node_id} of a different node")
                        continue  # skops builds the first one and reuses it here: already walked
            self.nodes.append((state, path))
            stack.extend(reversed(list(self._children(state, path))))

    def _equivalent(self, first: Any, other: Any) -> bool:
        """Whether two nodes with one ``__id__`` describe the same object, whichever skops builds.

        skops builds the first node it meets with an id and reuses it wherever the id
        recurs, without reading the later nodes. The same object saved twice can differ
        in the ids and file names of temporaries inside it (a dtype is saved through a
        fresh empty array each time), so nested ids may differ when each occurs only once
        in the file (then skops resolves it to that very node) and array files may differ
        in name when their bytes are equal. Anything else must be equal, so the node
        checked is, up to those renamings, the node built.
        """
        stack = [(first, other)]
        while stack:
            a, b = stack.pop()
            if isinstance(a, dict) and isinstance(b, dict):
                if a.keys() != b.keys():
                    return False
                for key in a:
                    x, y = a[key], b[key]
                    if key == "__id__" and x != y:
                        if not (type(x) is int and type(y) is int and self._id_counts[x] == self._id_counts[y] == 1):
                            return False
                    elif key == "file" and a.get("__loader__") == "NdArrayNode" and x != y:
                        if not (isinstance(x, str) and isinstance(y, str) and self._same_member(x, y)):
                            return False
                    else:
                        stack.append((x, y))
            elif isinstance(a, list) and isinstance(b, list):
                if len(a) != len(b):
                    return False
                stack.extend(zip(a, b, strict=True))
            elif type(a) is not type(b) or a != b:
                return False
        return True

    def _same_member(self, x: str, y: str) -> bool:
        try:
            return self._zip.read(x) == self._zip.read(y)
        except KeyError:
            return False

    def _children(self, state: State, path: str) -> Iterator[tuple[Any, str]]:
        """The child nodes of ``state`` with their paths, in the order skops visits them."""
        if state["__loader__"] != "NdArrayNode":
            expand = _CHILDREN.get(state["__loader__"])  # any other loader is refused by unknown_types()
            return expand(state, state.get("content"), path) if expand else iter(())
        if state.get("type") == "numpy":
            self._header(state.get("file"), path)
            return iter(())
        if state.get("type") == "json":
            return _object_array_children(state, state.get("content"), path)
        raise _refuse(f"{path}: an array of storage type {state.get('type')!r}")

    # --- types --------------------------------------------------------------------------

    def classes(self) -> Iterator[tuple[str, str, str]]:
        """(type, loader, path) of every node outside the plain loaders."""
        for state, path in self.nodes:
            if state["__loader__"] not in _PLAIN_LOADERS:
                yield _type_name(state), state["__loader__"], path

    def unknown_types(self) -> Iterator[tuple[str, str, str]]:
        """(type, loader, path) of every node whose loader and type the pipelines never produce."""
        scalars = _numpy_scalar_types()
        for state, path in self.nodes:
            loader, name = state["__loader__"], _type_name(state)
            if loader in _PLAIN_LOADERS:
                allowed = _PLAIN_LOADERS[loader]
                if name in allowed or (loader in ("TypeNode", "NdArrayNode") and name in scalars):
                    continue
            elif loader in _CLASS_LOADERS and ARTIFACT_CLASSES.get(name) == loader:
                continue
            yield name, loader, path

    # --- arrays ---------------------------------------------------------------------------

    def _header(self, name: Any, path: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
        if not isinstance(name, str):
            raise _refuse(f"{path}: an array without a file name")
        if name in self._headers:
            return self._headers[name]
        try:
            info = self._zip.getinfo(name)
            with self._zip.open(info) as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    raise ValueError(f".npy format version {version}")
                offset = handle.tell()
        except Exception as exc:
            raise _refuse(f"{path}: array file {name!r} is not a readable .npy file: {exc}") from exc
        if dtype.hasobject:
            raise _refuse(f"{path}: array file {name!r} holds Python objects")
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if info.file_size - offset != expected:
            raise _refuse(
                f"{path}: array file {name!r} declares {expected} bytes of data, holds {info.file_size - offset}"
            )
        self._headers[name] = (tuple(shape), dtype)
        return self._headers[name]

    def shape(self, state: Any, what: str) -> tuple[int, ...]:
        """Shape of a stored array, read from its header only."""
        return self._header(self._array_file(state, what), what)[0]

    def array(self, state: Any, what: str) -> np.ndarray:
        """A stored array (a plain ``numpy.ndarray`` node), loaded without pickle."""
        name = self._array_file(state, what)
        if name not in self._arrays:
            with self._zip.open(name) as handle:
                self._arrays[name] = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        return self._arrays[name]

    def _array_file(self, state: Any, what: str) -> str:
        if not (
            isinstance(state, dict)
            and state.get("__loader__") == "NdArrayNode"
            and _type_name(state) == "numpy.ndarray"
            and state.get("type") == "numpy"
            and isinstance(state.get("file"), str)
        ):
            raise _refuse(f"{what} is not a stored numpy array")
        return str(state["file"])


def _type_name(state: State) -> str:
    """``module.class`` of a schema node."""
    return f"{state['__module__']}.{state['__class__']}"


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


def _attrs(state: Any, what: str) -> dict[str, Any]:
    """The attributes of an object node, exactly as skops will set them.

    skops pairs the keys of a dict node with its key types by position, drops keys
    beyond the last type and converts each key with its type; so every key must have
    a type and that type must be ``str``, or the attribute checked here (say
    ``n_features_in_``, which predict's input validation needs) would not be the one set.
    """
    content = state.get("content") if isinstance(state, dict) else None
    if not (isinstance(content, dict) and content.get("__loader__") == "DictNode"):
        raise _refuse(f"{what} has no attribute mapping")
    mapping = content["content"]
    key_types = _items(content.get("key_types"), f"{what}: key types")
    if len(key_types) != len(mapping) or not all(
        isinstance(t, dict) and t.get("__loader__") == "TypeNode" and _type_name(t) == "builtins.str" for t in key_types
    ):
        raise _refuse(f"{what}: attribute names do not all have the key type str")
    return dict(mapping)


def _items(state: Any, what: str) -> list[Any]:
    if not (isinstance(state, dict) and state.get("__loader__") in ("ListNode", "TupleNode")):
        raise _refuse(f"{what} is not a list or tuple")
    return list(state["content"])


def _json(state: Any, what: str) -> Any:
    if not (isinstance(state, dict) and state.get("__loader__") == "JsonNode"):
        raise _refuse(f"{what} is missing or not a plain value")
    try:
        return json.loads(state["content"])
    except ValueError as exc:
        raise _refuse(f"{what} is not valid JSON") from exc


def _is_none(state: Any) -> bool:
    return isinstance(state, dict) and state.get("__loader__") == "JsonNode" and state.get("content") == "null"


def _int(state: Any, what: str) -> int:
    value = _json(state, what)
    if type(value) is not int:
        raise _refuse(f"{what} is {value!r}, not an integer")
    return value


def _json_list(state: Any, what: str) -> list[Any]:
    """A list or tuple of plain values, such as ``_n_features_outs`` or an object array's shape."""
    return [_json(item, what) for item in _items(state, what)]


def _count_ids(root: Any) -> dict[int, int]:
    """How often each ``__id__`` occurs anywhere in the schema."""
    counts: dict[int, int] = {}
    stack = [root]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            node_id = value.get("__id__")
            if type(node_id) is int:
                counts[node_id] = counts.get(node_id, 0) + 1
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return counts


Children = Iterator[tuple[Any, str]]


def _dict_children(state: State, content: Any, path: str) -> Children:
    if not isinstance(content, dict):
        raise _refuse(f"{path}: a dict node without a content mapping")
    yield state.get("key_types"), f"{path}.<key types>"
    for key, value in content.items():
        yield value, f"{path}.{key}"


def _sequence_children(state: State, content: Any, path: str) -> Children:
    if not isinstance(content, list):
        raise _refuse(f"{path}: a {state['__loader__']} without a content list")
    for i, value in enumerate(content):
        yield value, f"{path}[{i}]"


def _object_array_children(state: State, content: Any, path: str) -> Children:
    yield from _sequence_children(state, content, path)
    yield state.get("shape"), f"{path}.<shape>"


def _json_children(state: State, content: Any, path: str) -> Children:
    if not isinstance(content, str):
        raise _refuse(f"{path}: a JSON node whose content is not a string")
    yield from ()


def _slice_children(state: State, content: Any, path: str) -> Children:
    if not isinstance(content, dict) or set(content) != {"start", "stop", "step"}:
        raise _refuse(f"{path}: a slice node without start, stop and step")
    if not all(value is None or type(value) is int for value in content.values()):
        raise _refuse(f"{path}: a slice bound is not an integer")
    yield from ()


def _content_child(state: State, content: Any, path: str) -> Children:
    yield content, f"{path}.<content>"


def _object_children(state: State, content: Any, path: str) -> Children:
    if "content" in state:
        yield content, path  # the attributes: their keys extend the object's path


def _reduce_children(state: State, content: Any, path: str) -> Children:
    reduce = state.get("__reduce__")
    if not isinstance(reduce, dict):
        raise _refuse(f"{path}: a {state['__loader__']} without __reduce__ arguments")
    yield content, path
    yield reduce.get("args"), f"{path}.<args>"


def _generator_children(state: State, content: Any, path: str) -> Children:
    if not isinstance(content, dict):
        raise _refuse(f"{path}: a random generator without content")
    yield content.get("bit_generator"), f"{path}.<bit generator>"
    yield content.get("seed_seq"), f"{path}.<seed sequence>"


#: Loader -> its child nodes, in the order skops' ``get_tree`` visits them (TypeNode has none).
_CHILDREN: dict[str, Callable[[State, Any, str], Children]] = {
    "DictNode": _dict_children,
    "ListNode": _sequence_children,
    "TupleNode": _sequence_children,
    "JsonNode": _json_children,
    "SliceNode": _slice_children,
    "DTypeNode": _content_child,
    "RandomStateNode": _content_child,
    "ObjectNode": _object_children,
    "TreeNode": _reduce_children,
    "LossNode": _reduce_children,
    "RandomGeneratorNode": _generator_children,
}
