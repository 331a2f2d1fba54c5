"""The skops file itself: the zip and its ``.npy`` headers checked, the schema's nodes walked as skops walks them."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from retrain.artifact_safety.allowlist import _CLASS_LOADERS, _PLAIN_LOADERS, ARTIFACT_CLASSES
from retrain.artifact_safety.nodes import State, _refuse, _type_name
from retrain.errors import ArtifactIntegrityError

#: skops protocols whose schema this module reads (the one ``skops.io.dumps`` writes today).
SKOPS_PROTOCOLS: tuple[int, ...] = (2,)

#: A zip may declare at most this many times its own size (plus 1 MiB) uncompressed.
MAX_EXPANSION = 64


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
