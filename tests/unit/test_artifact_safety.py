"""Specification of retrain.artifact_safety: what a model artifact may contain, checked before skops builds it.

The crafted files here are what an attacker who can write the artifact bucket and the
registry would store: each is re-hashed, so the sha256 check passes and only the
type and structure checks stand between the file and ``skops.io.loads``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from retrain import artifact_safety, training
from retrain.config import ModelConfig, parse_config
from retrain.errors import ArtifactIntegrityError, EstimatorNotAllowed

pytestmark = pytest.mark.unit

CLASSIFIERS = sorted(n for n, p in training.ESTIMATOR_PROBLEM.items() if p == "classification")

#: Small ensembles: what is stored does not depend on their size.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "RandomForestClassifier": {"n_estimators": 3},
    "RandomForestRegressor": {"n_estimators": 3},
    "ExtraTreesClassifier": {"n_estimators": 3},
    "ExtraTreesRegressor": {"n_estimators": 3},
    "GradientBoostingClassifier": {"n_estimators": 3},
    "GradientBoostingRegressor": {"n_estimators": 3},
    "HistGradientBoostingClassifier": {"max_iter": 3},
    "HistGradientBoostingRegressor": {"max_iter": 3},
}


@dataclass(frozen=True)
class Recipe:
    """One pipeline ``training.fit`` can produce: an estimator, its target and the parameters that matter."""

    estimator: str
    target: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    numeric: tuple[str, ...] = ("tenure", "usage")
    categorical: tuple[str, ...] = ("plan",)
    #: ``training.max_categories`` when set (``plan`` has 4 categories with ``<missing>``: 3 groups the rarest two).
    max_categories: int | None = None

    @property
    def problem(self) -> str:
        return training.ESTIMATOR_PROBLEM[self.estimator]

    @property
    def id(self) -> str:
        parts = [self.estimator, self.target or "default"]
        parts += [f"{k}={v}" for k, v in self.params.items()]
        if not self.categorical:
            parts.append("numeric-only")
        if not self.numeric:
            parts.append("categorical-only")
        if self.max_categories is not None:
            parts.append(f"max_categories={self.max_categories}")
        return ",".join(parts)

    def config(self) -> ModelConfig:
        target = self.target or ("churned" if self.problem == "classification" else "spend")
        return parse_config(
            {
                "model": "churn",
                "problem": self.problem,
                "target": target,
                "features": {"numeric": list(self.numeric), "categorical": list(self.categorical)},
                "training": {
                    "estimator": self.estimator,
                    "params": {**FAST_PARAMS.get(self.estimator, {}), **self.params},
                    "min_rows": 50,
                    "seed": 1,
                    **({} if self.max_categories is None else {"max_categories": self.max_categories}),
                },
            }
        )


#: Every allowlisted estimator with its default parameters, numeric and categorical features.
DEFAULT_RECIPES = [Recipe(name) for name in sorted(training.ALLOWED_ESTIMATORS)]

#: Everything else a config can change about the *types* an artifact holds: more than two classes
#: (multinomial losses), feature kinds, and the estimator parameters that store other classes.
#: After upgrading scikit-learn or skops, add here any new parameter value that stores new types.
VARIANT_RECIPES = [
    *(Recipe(name, target="segment") for name in CLASSIFIERS),
    Recipe("LogisticRegression", categorical=()),
    *(Recipe(name, max_categories=3) for name in ("LogisticRegression", "HistGradientBoostingRegressor")),
    Recipe("Ridge", numeric=()),
    *(
        Recipe("KNeighborsClassifier", params={"algorithm": algorithm, "metric": metric, **extra})
        for algorithm in ("kd_tree", "ball_tree", "brute")
        for metric, extra in (("euclidean", {}), ("manhattan", {}), ("chebyshev", {}), ("minkowski", {"p": 3}))
    ),
    Recipe("KNeighborsRegressor", params={"algorithm": "ball_tree"}),
    Recipe("GradientBoostingClassifier", params={"loss": "exponential"}),
    Recipe("GradientBoostingClassifier", params={"init": "zero"}),
    *(Recipe("GradientBoostingRegressor", params={"loss": loss}) for loss in ("absolute_error", "huber", "quantile")),
    *(
        Recipe("HistGradientBoostingRegressor", target="positive", params={"loss": loss, **extra})
        for loss, extra in (("absolute_error", {}), ("poisson", {}), ("gamma", {}), ("quantile", {"quantile": 0.5}))
    ),
]
RECIPES = DEFAULT_RECIPES + VARIANT_RECIPES


def make_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.uniform(0, 60, n)
    usage = rng.normal(10, 3, n)
    plan = rng.choice(["basic", "pro", "team"], n)
    score = -0.05 * tenure + 0.3 * (usage - 10) + np.where(plan == "basic", 1.0, 0.0) + rng.normal(0, 0.5, n)
    spend = 2.0 * usage + 0.1 * tenure + np.where(plan == "team", 5.0, 0.0) + rng.normal(0, 1, n)
    frame = pd.DataFrame(
        {
            "tenure": tenure,
            "usage": usage,
            "plan": plan,
            "churned": (score > -0.5).astype(int),
            "segment": np.select([score < -1.5, score < 0.0], ["low", "mid"], "high"),
            "spend": spend,
            "positive": np.abs(spend) + 1.0,
        }
    )
    frame.loc[::11, "usage"] = np.nan
    frame.loc[::13, "plan"] = None
    return frame


@dataclass
class Fitted:
    recipe: Recipe
    config: ModelConfig
    model: Pipeline
    #: What skops writes for the model (``training.dumps`` would refuse it if the trusted sets were stale).
    data: bytes


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="module")
def fitted(frame: pd.DataFrame) -> dict[str, Fitted]:
    out = {}
    for recipe in RECIPES:
        config = recipe.config()
        model = training.fit(config, frame)
        out[recipe.id] = Fitted(recipe, config, model, sio.dumps(model))
    return out


def artifact(fitted: dict[str, Fitted], estimator: str) -> bytes:
    return fitted[Recipe(estimator).id].data


# --- the exact sets -----------------------------------------------------------------------------

UPGRADE_HINT = (
    "The types the project's pipelines store changed (a scikit-learn, skops or numpy upgrade, or a new "
    "recipe). Review every added name: it must be a class that neither reads nor writes files nor talks to the "
    "OS, and if it carries indices that compiled code uses unchecked, add a structural check for it to "
    "retrain/artifact_safety/structure.py (see how Tree, TreePredictor and KDTree are checked). Then replace "
    "{constant} in src/retrain/artifact_safety/allowlist.py with:\n{value}"
)


def test_trusted_types_are_exactly_what_the_pipelines_contain(fitted: dict[str, Fitted]) -> None:
    found = sorted(set().union(*(sio.get_untrusted_types(data=f.data) for f in fitted.values())))

    assert tuple(found) == artifact_safety.TRUSTED_TYPES, UPGRADE_HINT.format(
        constant="TRUSTED_TYPES", value="(\n" + "".join(f"    {json.dumps(name)},\n" for name in found) + ")"
    )


def test_artifact_classes_are_exactly_what_the_pipelines_contain(fitted: dict[str, Fitted]) -> None:
    found: dict[str, str] = {}
    for f in fitted.values():
        found.update(artifact_safety.found_classes(f.data))
    found = dict(sorted(found.items()))

    assert found == dict(artifact_safety.ARTIFACT_CLASSES), UPGRADE_HINT.format(
        constant="ARTIFACT_CLASSES",
        value="{\n" + "".join(f"    {json.dumps(k)}: {json.dumps(v)},\n" for k, v in found.items()) + "}",
    )


#: Never trusted, whatever the fits say: types that read or write files, run code or talk to the OS.
NEVER_TRUSTED = (
    "numpy.memmap",
    "numpy.lib.",
    "numpy.f2py",
    "numpy.ctypeslib",
    "numpy.testing",
    "numpy.load",
    "numpy.save",
    "numpy.fromfile",
    "numpy.DataSource",
    "builtins.",
    "os.",
    "posix.",
    "nt.",
    "sys.",
    "io.",
    "subprocess.",
    "shutil.",
    "pathlib.",
    "tempfile.",
    "socket.",
    "mmap.",
    "ctypes.",
    "pickle.",
    "importlib.",
    "runpy.",
    "zipfile.",
    "joblib.",
    "functools.",
    "operator.",
    "scipy.io",
    "pandas.io",
    "sklearn.datasets",
    "sklearn.utils._testing",
)


def test_no_trusted_type_touches_files_or_the_os() -> None:
    names = set(artifact_safety.TRUSTED_TYPES) | set(artifact_safety.ARTIFACT_CLASSES)

    assert not [name for name in names if name.startswith(NEVER_TRUSTED) or "memmap" in name.lower()]
    # every trusted type is a class the pipelines hold (or numpy's dtype), built by a class loader
    assert set(artifact_safety.TRUSTED_TYPES) <= set(artifact_safety.ARTIFACT_CLASSES) | {"numpy.dtype"}
    assert set(artifact_safety.ARTIFACT_CLASSES.values()) <= {"ObjectNode", "TreeNode", "LossNode"} | {
        "RandomStateNode",
        "RandomGeneratorNode",
    }


def test_the_trusted_sets_are_constants_of_strings() -> None:
    assert all(isinstance(name, str) for name in artifact_safety.TRUSTED_TYPES)
    assert list(artifact_safety.TRUSTED_TYPES) == sorted(set(artifact_safety.TRUSTED_TYPES))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in artifact_safety.ARTIFACT_CLASSES.items())


# --- real artifacts still load -----------------------------------------------------------------


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.id)
def test_every_pipeline_round_trips_with_identical_predictions(
    fitted: dict[str, Fitted], frame: pd.DataFrame, recipe: Recipe
) -> None:
    f = fitted[recipe.id]
    data = training.dumps(f.model)

    loaded = training.loads(data, expected_sha256=training.sha256_hex(data))

    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(training.predict(loaded, frame, f.config), training.predict(f.model, frame, f.config))


def test_loads_passes_skops_exactly_the_trusted_set(fitted: dict[str, Fitted], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = sio.loads

    def spy(data: bytes, trusted: object = None) -> object:
        calls.append(trusted)
        return real(data, trusted=trusted)

    monkeypatch.setattr(sio, "loads", spy)
    training.loads(artifact(fitted, "KNeighborsClassifier"))

    assert calls == [list(artifact_safety.TRUSTED_TYPES)]


# --- crafting --------------------------------------------------------------------------------------


@dataclass
class Crafted:
    """A skops file opened for tampering: its schema as JSON and its arrays by file name."""

    schema: dict[str, Any]
    members: dict[str, bytes]

    @classmethod
    def of(cls, data: bytes) -> Crafted:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        return cls(json.loads(members.pop("schema.json")), members)

    def nodes(self, class_name: str) -> Iterator[dict[str, Any]]:
        """The nodes of a class, in document order."""
        stack: list[Any] = [self.schema]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("__class__") == class_name:
                    yield node
                stack.extend(reversed(node.values()))
            elif isinstance(node, list):
                stack.extend(reversed(node))

    def node(self, class_name: str) -> dict[str, Any]:
        return next(self.nodes(class_name))

    def array(self, node: dict[str, Any]) -> np.ndarray:
        return np.load(io.BytesIO(self.members[node["file"]]), allow_pickle=False)

    def set_array(self, node: dict[str, Any], value: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        self.members[node["file"]] = buffer.getvalue()

    def bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("schema.json", json.dumps(self.schema))
            for name, content in self.members.items():
                zf.writestr(name, content)
        return buffer.getvalue()


def attrs(node: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = node["content"]["content"]
    return content


def add_attr(node: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    """Give an object node one more attribute (skops pairs each key with a key type, by position)."""
    attrs(node)[key] = value
    node["content"]["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
    )


def json_node(value: object) -> dict[str, Any]:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": json.dumps(value)}


def set_json(node: dict[str, Any], value: object) -> None:
    """Change a plain value; it gets no ``__id__`` (small ints and strings share theirs with equal values)."""
    node["content"] = json.dumps(value)
    node.pop("__id__", None)


def fresh(node: Any) -> Any:
    """A copy of a node without any ``__id__``, so skops builds it on its own."""
    if isinstance(node, dict):
        return {k: fresh(v) for k, v in node.items() if k != "__id__"}
    if isinstance(node, list):
        return [fresh(v) for v in node]
    return node


def set_node(nodes: np.ndarray, field_name: str, index: int, value: int) -> None:
    nodes[field_name][index] = value


def tuple_node(*items: dict[str, Any]) -> dict[str, Any]:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": list(items)}


@pytest.fixture
def skops_never_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("skops.io.loads was called on an artifact that should have been refused")

    monkeypatch.setattr(sio, "loads", refuse)
    monkeypatch.setattr(sio, "load", refuse)


def refused(data: bytes) -> str:
    """Load ``data`` as the registry would (its sha256 matches) and return the refusal message."""
    with pytest.raises(ArtifactIntegrityError) as info:
        training.loads(data, expected_sha256=training.sha256_hex(data))
    return str(info.value)


# --- numpy.memmap: the file-truncating artifact ------------------------------------------------


def memmap_artifact(data: bytes, target: Path) -> bytes:
    """A real pipeline whose scaler carries ``numpy.memmap(target, 'uint8', 'w+', 0, (1,))``."""
    crafted = Crafted.of(data)
    scaler = next(n for n in crafted.nodes("StandardScaler") if "mean_" in attrs(n))
    add_attr(
        scaler,
        "cache",
        {
            "__class__": "memmap",
            "__module__": "numpy",
            "__loader__": "ConstructorFromReduceNode",
            "content": tuple_node(
                json_node(str(target)), json_node("uint8"), json_node("w+"), json_node(0), json_node([1])
            ),
        },
    )
    return crafted.bytes()


def test_the_memmap_artifact_is_a_real_attack_once_skops_trusts_its_type(
    fitted: dict[str, Fitted], tmp_path: Path
) -> None:
    # The old rule trusted every class under 'numpy.': this is what it let through
    target = tmp_path / "victim.bin"
    target.write_bytes(b"precious data")
    data = memmap_artifact(artifact(fitted, "Ridge"), target)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == ["numpy.dtype", "numpy.memmap"]  # both classes under 'numpy.'

    sio.loads(data, trusted=untrusted)

    assert target.read_bytes() == b"\x00"  # truncated


def test_the_memmap_artifact_is_refused_before_any_object_is_built(
    fitted: dict[str, Fitted], tmp_path: Path, skops_never_builds: None
) -> None:
    target = tmp_path / "victim.bin"
    target.write_bytes(b"precious data")
    data = memmap_artifact(artifact(fitted, "Ridge"), target)

    message = refused(data)

    assert "outside the allowlist: numpy.memmap (ConstructorFromReduceNode at $.steps[0][1]" in message
    assert target.read_bytes() == b"precious data"


# --- decision trees -------------------------------------------------------------------------------


def tamper_tree(data: bytes, change: Callable[[np.ndarray], None], *, tree: int = 0) -> bytes:
    crafted = Crafted.of(data)
    node = list(crafted.nodes("Tree"))[tree]
    nodes = crafted.array(attrs(node)["nodes"]).copy()
    change(nodes)
    crafted.set_array(attrs(node)["nodes"], nodes)
    return crafted.bytes()


def inner_split(nodes: np.ndarray) -> int:
    """The first split below the root."""
    return int(np.flatnonzero(nodes["left_child"][1:] != -1)[0]) + 1


def test_the_tampered_tree_loads_in_skops_unchecked(fitted: dict[str, Fitted]) -> None:
    # Positive control: skops and scikit-learn build this tree without complaint (its predict would SIGSEGV)
    data = tamper_tree(artifact(fitted, "DecisionTreeClassifier"), lambda n: set_node(n, "left_child", 0, 10**9))

    model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))

    assert model.steps[-1][1].tree_.children_left[0] == 10**9


TREE_TAMPERING: dict[str, tuple[Callable[[np.ndarray], None], str]] = {
    "child out of range": (lambda n: set_node(n, "left_child", 0, 10**9), r"node 0 has children \(1000000000, "),
    "negative child": (lambda n: set_node(n, "right_child", 0, -7), r"node 0 has children \(1, -7\)"),
    "cycle to the root": (lambda n: set_node(n, "right_child", inner_split(n), 0), r"node \d+ has children \(\d+, 0\)"),
    "child is its parent": (
        lambda n: set_node(n, "left_child", inner_split(n), inner_split(n)),
        r"node (\d+) has children \(\1, ",
    ),
    "one child a leaf marker": (lambda n: set_node(n, "left_child", 0, -1), r"node 0 has children \(-1, "),
    "two parents": (lambda n: set_node(n, "right_child", 0, n["left_child"][1]), r"its \d+ nodes do not form a tree"),
    "feature out of range": (lambda n: set_node(n, "feature", 0, 6), r"node 0 splits on feature 6, outside 0\.\.5"),
    "negative feature": (lambda n: set_node(n, "feature", 0, -1), r"node 0 splits on feature -1"),
}


@pytest.mark.parametrize("case", sorted(TREE_TAMPERING))
def test_a_tampered_tree_is_refused_before_any_object_is_built(
    fitted: dict[str, Fitted], skops_never_builds: None, case: str
) -> None:
    change, expected = TREE_TAMPERING[case]
    data = tamper_tree(artifact(fitted, "DecisionTreeClassifier"), change)

    with pytest.raises(ArtifactIntegrityError, match=r"Tree at \$\.steps\[1\]\[1\]\.tree_: " + expected):
        training.loads(data, expected_sha256=training.sha256_hex(data))


@pytest.mark.parametrize("estimator", ["RandomForestRegressor", "ExtraTreesClassifier", "GradientBoostingClassifier"])
def test_a_tampered_tree_inside_an_ensemble_is_refused(
    fitted: dict[str, Fitted], skops_never_builds: None, estimator: str
) -> None:
    data = tamper_tree(artifact(fitted, estimator), lambda n: set_node(n, "left_child", 0, 10**6), tree=-1)

    assert "node 0 has children (1000000, " in refused(data)


def tamper_tree_state(data: bytes, change: Callable[[Crafted, dict[str, Any]], None]) -> bytes:
    crafted = Crafted.of(data)
    change(crafted, crafted.node("Tree"))
    return crafted.bytes()


TREE_STATE_TAMPERING: dict[str, tuple[Callable[[Crafted, dict[str, Any]], None], str]] = {
    "node count larger than the array": (
        lambda c, t: set_json(attrs(t)["node_count"], 10_000),
        "node_count is 10000, the node array has shape",
    ),
    "value array of the wrong shape": (
        lambda c, t: c.set_array(attrs(t)["values"], c.array(attrs(t)["values"])[:-1].copy()),
        "value array of shape",
    ),
    "max_depth smaller than the tree": (lambda c, t: set_json(attrs(t)["max_depth"], 1), "max_depth is 1, the tree is"),
    "more features than the estimator": (
        lambda c, t: set_json(t["__reduce__"]["args"]["content"][0], 50),
        "n_features is 50, the estimator has 6 features",
    ),
}


@pytest.mark.parametrize("case", sorted(TREE_STATE_TAMPERING))
def test_a_tree_whose_sizes_disagree_is_refused(fitted: dict[str, Fitted], skops_never_builds: None, case: str) -> None:
    change, expected = TREE_STATE_TAMPERING[case]

    assert expected in refused(tamper_tree_state(artifact(fitted, "DecisionTreeRegressor"), change))


# --- histogram gradient boosting --------------------------------------------------------------------


def tamper_predictor(data: bytes, change: Callable[[np.ndarray], None]) -> bytes:
    crafted = Crafted.of(data)
    node = crafted.node("TreePredictor")
    nodes = crafted.array(attrs(node)["nodes"]).copy()
    change(nodes)
    crafted.set_array(attrs(node)["nodes"], nodes)
    return crafted.bytes()


def split(nodes: np.ndarray) -> int:
    return int(np.flatnonzero(nodes["is_leaf"] == 0)[0])


PREDICTOR_TAMPERING: dict[str, tuple[Callable[[np.ndarray], None], str]] = {
    "child out of range": (lambda n: set_node(n, "right", split(n), 4_000_000_000), r"has children \("),
    "child pointing back": (lambda n: set_node(n, "left", split(n), split(n)), r"has children \("),
    "feature out of range": (lambda n: set_node(n, "feature_idx", split(n), 10**6), r"splits on feature 1000000"),
    "a leaf turned into a split": (lambda n: set_node(n, "is_leaf", n.size - 1, 0), r"has children \(0, 0\)"),
    "a categorical split": (lambda n: set_node(n, "is_categorical", split(n), 1), r"is a categorical split"),
}


@pytest.mark.parametrize("case", sorted(PREDICTOR_TAMPERING))
@pytest.mark.parametrize("estimator", ["HistGradientBoostingClassifier", "HistGradientBoostingRegressor"])
def test_a_tampered_histogram_predictor_is_refused_before_any_object_is_built(
    fitted: dict[str, Fitted], skops_never_builds: None, estimator: str, case: str
) -> None:
    change, expected = PREDICTOR_TAMPERING[case]

    message = refused(tamper_predictor(artifact(fitted, estimator), change))

    assert message.startswith("artifact structure refused: TreePredictor at $.steps[1][1]._predictors[0][0]: ")
    assert re.search(expected, message), message


def test_a_predictor_flag_stored_wider_than_a_byte_is_checked_as_scikit_learn_casts_it(
    fitted: dict[str, Fitted], skops_never_builds: None
) -> None:
    # TreePredictor casts its nodes to its own dtype with casting="same_kind": is_leaf == 256 becomes 0, a split
    def widen(nodes: np.ndarray) -> np.ndarray:
        assert nodes.dtype.names is not None  # a structured array: one field per node attribute
        descr = [(name, "<u2" if name == "is_leaf" else nodes.dtype[name].str) for name in nodes.dtype.names]
        wide = nodes.astype(descr)
        leaf = int(np.flatnonzero(nodes["is_leaf"])[-1])
        wide["is_leaf"][leaf] = 256
        return wide

    crafted = Crafted.of(artifact(fitted, "HistGradientBoostingRegressor"))
    node = attrs(crafted.node("TreePredictor"))["nodes"]
    crafted.set_array(node, widen(crafted.array(node)))

    assert re.search(r"node \d+ has children \(0, 0\), not two distinct nodes", refused(crafted.bytes()))


def test_a_histogram_model_with_a_preprocessor_is_refused(fitted: dict[str, Fitted], skops_never_builds: None) -> None:
    crafted = Crafted.of(artifact(fitted, "HistGradientBoostingRegressor"))
    estimator = crafted.node("HistGradientBoostingRegressor")
    attrs(estimator)["_preprocessor"] = fresh(next(n for n in crafted.nodes("StandardScaler") if "mean_" in attrs(n)))

    assert "has a _preprocessor, which these pipelines never make" in refused(crafted.bytes())


# --- k-neighbors ------------------------------------------------------------------------------------


def tamper_neighbors(data: bytes, change: Callable[[Crafted, list[dict[str, Any]]], None]) -> bytes:
    crafted = Crafted.of(data)
    state = next(n for name in ("KDTree", "BallTree") for n in crafted.nodes(name))["content"]["content"]
    change(crafted, state)
    return crafted.bytes()


def set_field(crafted: Crafted, node: dict[str, Any], field_name: str, index: int, value: int) -> None:
    array = crafted.array(node).copy()
    array[field_name][index] = value
    crafted.set_array(node, array)


def set_item(crafted: Crafted, node: dict[str, Any], index: int, value: int) -> None:
    array = crafted.array(node).copy()
    array[index] = value
    crafted.set_array(node, array)


NEIGHBORS_TAMPERING: dict[str, tuple[Callable[[Crafted, list[dict[str, Any]]], None], str]] = {
    "point index out of range": (lambda c, s: set_item(c, s[1], 0, 10**9), "idx_array is not a permutation"),
    "node range past the data": (
        lambda c, s: set_field(c, s[2], "idx_end", 0, 10**9),
        "node 0 covers points 0..1000000000",
    ),
    "a leaf turned into a split": (
        lambda c, s: set_field(c, s[2], "is_leaf", -1, 0),
        "is not a leaf but has no children",
    ),
    "more nodes than the arrays": (lambda c, s: set_json(s[6], 1023), "do not agree"),
    "a metric that is not a distance": (
        lambda c, s: s.__setitem__(11, json_node(None)),
        "distance metric is builtins.str, not one of",
    ),
}


@pytest.mark.parametrize("case", sorted(NEIGHBORS_TAMPERING))
@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
def test_a_tampered_neighbors_tree_is_refused_before_any_object_is_built(
    fitted: dict[str, Fitted], skops_never_builds: None, algorithm: str, case: str
) -> None:
    change, expected = NEIGHBORS_TAMPERING[case]
    recipe = Recipe("KNeighborsClassifier", params={"algorithm": algorithm, "metric": "euclidean"})

    message = refused(tamper_neighbors(fitted[recipe.id].data, change))

    assert f"{'KDTree' if algorithm == 'kd_tree' else 'BallTree'} at $.steps[1][1]._tree" in message
    assert expected in message


def test_a_minkowski_metric_with_fewer_weights_than_features_is_refused(
    fitted: dict[str, Fitted], skops_never_builds: None
) -> None:
    # The weighted distance reads one weight per feature, unchecked
    recipe = Recipe("KNeighborsClassifier", params={"algorithm": "ball_tree", "metric": "minkowski", "p": 3})
    crafted = Crafted.of(fitted[recipe.id].data)
    vec = crafted.node("MinkowskiDistance64")["content"]["content"][1]
    crafted.set_array(vec, np.ones(2))

    assert "distance metric: 2 weights for 6 features" in refused(crafted.bytes())


def test_brute_force_neighbors_with_narrower_training_data_are_refused(
    fitted: dict[str, Fitted], skops_never_builds: None
) -> None:
    # Brute-force search measures distances over the query's width without checking _fit_X's
    recipe = Recipe("KNeighborsClassifier", params={"algorithm": "brute", "metric": "euclidean"})
    crafted = Crafted.of(fitted[recipe.id].data)
    fit_x = attrs(crafted.node("KNeighborsClassifier"))["_fit_X"]
    crafted.set_array(fit_x, np.ascontiguousarray(crafted.array(fit_x)[:, :1]))

    assert "_fit_X of shape (120, 1), the estimator has 6 features" in refused(crafted.bytes())


# --- gradient boosting --------------------------------------------------------------------------


def test_gradient_boosting_without_a_tree_is_refused_before_any_object_is_built(
    fitted: dict[str, Fitted], skops_never_builds: None
) -> None:
    crafted = Crafted.of(artifact(fitted, "GradientBoostingRegressor"))
    stage = attrs(crafted.node("GradientBoostingRegressor"))["estimators_"]["content"][0]["content"][0]
    attrs(stage)["tree_"] = json_node(None)

    assert "estimators_[0, 0] has no Tree" in refused(crafted.bytes())


def test_gradient_boosting_with_more_trees_per_stage_than_prediction_columns_is_refused(
    fitted: dict[str, Fitted], monkeypatch: pytest.MonkeyPatch
) -> None:
    # predict_stages would add tree k into column k of a one-column prediction, unchecked
    crafted = Crafted.of(artifact(fitted, "GradientBoostingClassifier"))
    for row in attrs(crafted.node("GradientBoostingClassifier"))["estimators_"]["content"]:
        row["content"].append(fresh(row["content"][0]))
    predicted: list[object] = []
    monkeypatch.setattr(Pipeline, "predict", lambda *a, **k: predicted.append(a))

    message = refused(crafted.bytes())

    assert "initial prediction has shape (1, 1) for one row, its estimators_ have 2 columns" in message
    assert predicted == []


# --- one-hot encoding -------------------------------------------------------------------------------


def test_a_one_hot_encoder_with_fewer_outputs_than_categories_is_refused(
    fitted: dict[str, Fitted], skops_never_builds: None
) -> None:
    # transform builds a CSR matrix from these counts and densifies it unchecked (heap corruption)
    crafted = Crafted.of(artifact(fitted, "LogisticRegression"))
    encoder = next(n for n in crafted.nodes("OneHotEncoder") if "categories_" in attrs(n))
    attrs(encoder)["_n_features_outs"]["content"][0] = json_node(1)

    assert "_n_features_outs [1] differs from the category counts [4]" in refused(crafted.bytes())


def grouped_encoder(crafted: Crafted) -> dict[str, Any]:
    """The fitted encoder of a ``max_categories=3`` recipe: ``plan``'s rarest two categories share a column."""
    return next(n for n in crafted.nodes("OneHotEncoder") if "categories_" in attrs(n))


def test_a_grouped_encoder_is_what_the_structural_check_expects(fitted: dict[str, Fitted]) -> None:
    # Positive control for the tampering below: two frequent categories and one infrequent column
    encoder = fitted[Recipe("LogisticRegression", max_categories=3).id].model.named_steps["preprocess"]
    encoder = encoder.named_transformers_["categorical"].named_steps["encode"]

    assert encoder._n_features_outs == [3]
    assert len(encoder.infrequent_categories_[0]) == 2


ONE_HOT_GROUPING_TAMPERING: dict[str, tuple[Callable[[Crafted, dict[str, Any]], None], str]] = {
    "a mapped code past the feature's columns": (
        lambda c, e: c.set_array(
            attrs(e)["_default_to_infrequent_mappings"]["content"][0],
            np.array([0, 1, 2, 10**6], dtype=np.int64),
        ),
        r"_default_to_infrequent_mappings\[0\] does not map the 2 frequent categories to 0\.\.1 and the 2 "
        r"infrequent ones to 2",
    ),
    "a negative infrequent index": (
        lambda c, e: c.set_array(attrs(e)["_infrequent_indices"]["content"][0], np.array([-1, 3], dtype=np.int64)),
        r"_infrequent_indices\[0\] is not increasing indices into its 4 categories",
    ),
    "a mapping without infrequent indices": (
        lambda c, e: attrs(e)["_infrequent_indices"]["content"].__setitem__(0, json_node(None)),
        r"_infrequent_indices\[0\] is not a stored numpy array",
    ),
    "more outputs than the grouping gives": (
        lambda c, e: attrs(e)["_n_features_outs"]["content"].__setitem__(0, json_node(4)),
        r"_n_features_outs \[4\] differs from the category counts \[4\] grouped to \[3\]",
    ),
    "grouping switched off": (
        lambda c, e: set_json(attrs(e)["_infrequent_enabled"], False),
        r"_n_features_outs \[3\] differs from the category counts \[4\]$",
    ),
}


@pytest.mark.parametrize("case", sorted(ONE_HOT_GROUPING_TAMPERING))
def test_a_tampered_infrequent_grouping_is_refused_before_any_object_is_built(
    fitted: dict[str, Fitted], skops_never_builds: None, case: str
) -> None:
    # transform maps each category code through these arrays into CSR column indices, unchecked
    change, expected = ONE_HOT_GROUPING_TAMPERING[case]
    crafted = Crafted.of(fitted[Recipe("LogisticRegression", max_categories=3).id].data)
    change(crafted, grouped_encoder(crafted))

    message = refused(crafted.bytes())

    assert message.startswith("artifact structure refused: OneHotEncoder at $.steps[0][1]"), message
    assert re.search(expected, message), message


# --- the pipeline and the file ---------------------------------------------------------------------


def test_an_artifact_that_is_not_a_pipeline_is_refused(fitted: dict[str, Fitted], skops_never_builds: None) -> None:
    estimator = fitted[Recipe("Ridge").id].model.steps[-1][1]

    assert "the top-level object is sklearn.linear_model._ridge.Ridge, not a sklearn.pipeline.Pipeline" in refused(
        sio.dumps(estimator)
    )


def test_a_pipeline_not_ending_in_an_allowlisted_estimator_is_refused(skops_never_builds: None) -> None:
    data = sio.dumps(Pipeline([("scale", StandardScaler().fit(np.eye(3)))]))

    assert "the pipeline's last step is sklearn.preprocessing._data.StandardScaler, not one of" in refused(data)


def smuggled_tree_array(data: bytes) -> bytes:
    """The tree keeps its valid node array; an earlier node with the same ``__id__`` holds a tampered one."""
    crafted = Crafted.of(data)
    nodes = attrs(crafted.node("Tree"))["nodes"]
    bad = crafted.array(nodes).copy()
    bad["left_child"][0] = 10**9
    decoy = {**nodes, "file": "decoy.npy"}
    crafted.set_array(decoy, bad)
    add_attr(next(n for n in crafted.nodes("StandardScaler") if "mean_" in attrs(n)), "decoy", decoy)
    return crafted.bytes()


def dropped_feature_count(data: bytes, key_type: str | None) -> bytes:
    """The estimator's ``n_features_in_`` moved last and its key type removed (None) or changed."""
    crafted = Crafted.of(data)
    estimator = crafted.node("DecisionTreeClassifier")
    attrs(estimator)["n_features_in_"] = attrs(estimator).pop("n_features_in_")
    key_types = estimator["content"]["key_types"]
    key_types.pop("__id__", None)
    if key_type is None:
        key_types["content"].pop()
    else:
        key_types["content"][-1] = {"__class__": key_type, "__module__": "builtins", "__loader__": "TypeNode"}
    return crafted.bytes()


@pytest.mark.parametrize("key_type", [None, "bool"], ids=["no key type", "key type bool"])
def test_skops_sets_attributes_by_their_key_types(fitted: dict[str, Fitted], key_type: str | None) -> None:
    # Positive control: without n_features_in_, predict no longer checks the input width before the tree reads it
    data = dropped_feature_count(artifact(fitted, "DecisionTreeClassifier"), key_type)

    model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))

    assert not hasattr(model.steps[-1][1], "n_features_in_")


@pytest.mark.parametrize("key_type", [None, "bool"], ids=["no key type", "key type bool"])
def test_attributes_whose_names_skops_would_drop_or_convert_are_refused(
    fitted: dict[str, Fitted], skops_never_builds: None, key_type: str | None
) -> None:
    data = dropped_feature_count(artifact(fitted, "DecisionTreeClassifier"), key_type)

    assert "the estimator: attribute names do not all have the key type str" in refused(data)


def test_skops_builds_the_first_node_with_an_id_wherever_the_id_recurs(fitted: dict[str, Fitted]) -> None:
    # Positive control: a checker reading the tree's own node would pass what skops builds
    data = smuggled_tree_array(artifact(fitted, "DecisionTreeClassifier"))

    model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))

    assert model.steps[-1][1].tree_.children_left[0] == 10**9


def test_two_nodes_sharing_an_id_with_different_content_are_refused(
    fitted: dict[str, Fitted], skops_never_builds: None
) -> None:
    data = smuggled_tree_array(artifact(fitted, "DecisionTreeClassifier"))

    assert re.search(r"\$\.steps\[1\]\[1\]\.tree_\.nodes reuses __id__ \d+ of a different node", refused(data))


def test_the_checks_visit_nodes_in_the_order_skops_builds_them(
    fitted: dict[str, Fitted], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nodes sharing an id must be equivalent anyway; visiting them in skops' order is the second line
    from skops.io import _utils

    registered: list[int] = []
    memoize = _utils.LoadContext.memoize

    def recording(self: _utils.LoadContext, obj: Any, id: int) -> None:
        registered.append(id)
        memoize(self, obj, id)

    monkeypatch.setattr(_utils.LoadContext, "memoize", recording)
    for f in fitted.values():
        registered.clear()
        sio.get_untrusted_types(data=f.data)  # builds skops' node tree, no object
        with artifact_safety._Schema(f.data) as schema:
            visited = [state["__id__"] for state, _ in schema.nodes if state.get("__id__")]

        assert list(dict.fromkeys(visited)) == list(dict.fromkeys(registered)), f.recipe.id


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s.__setitem__("protocol", 0), "skops protocol 0"),
        (lambda s: s.__setitem__("protocol", True), "skops protocol True"),
        (lambda s: attrs(s).__setitem__("x", {"__class__": "a", "__module__": "b", "__loader__": "CachedNode"}), "b.a"),
        (lambda s: attrs(s).__setitem__("x", {"__loader__": "JsonNode", "content": "1"}), "is not a skops node"),
    ],
    ids=["old protocol", "boolean protocol", "cached node", "node without a type"],
)
def test_a_malformed_schema_is_refused(
    fitted: dict[str, Fitted], skops_never_builds: None, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    crafted = Crafted.of(artifact(fitted, "Ridge"))
    change(crafted.schema)

    assert expected in refused(crafted.bytes())


def test_an_array_whose_header_lies_about_its_size_is_refused(
    fitted: dict[str, Fitted], skops_never_builds: None
) -> None:
    crafted = Crafted.of(artifact(fitted, "Ridge"))
    name = attrs(crafted.node("Ridge"))["coef_"]["file"]
    crafted.members[name] = crafted.members[name].replace(b"'shape': (6,)", b"'shape': (9999999999,)")

    assert "declares 79999999992 bytes of data, holds" in refused(crafted.bytes())


def test_a_zip_declaring_far_more_than_it_stores_is_refused(skops_never_builds: None) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", b" " * 5_000_000)

    assert "declares 5000000 bytes uncompressed" in refused(buffer.getvalue())


# --- dumps writes only what loads accepts -------------------------------------------------------------


def test_dumps_refuses_parameters_whose_model_loads_would_refuse(frame: pd.DataFrame) -> None:
    recipe = Recipe("KNeighborsClassifier", params={"metric": "hamming"})  # auto picks a ball tree with Hamming
    model = training.fit(recipe.config(), frame)

    with pytest.raises(EstimatorNotAllowed, match="HammingDistance64"):
        training.dumps(model)
