"""Reading values out of skops schema nodes, refusing any node that is not the plain shape expected."""

from __future__ import annotations

import json
from typing import Any

from retrain.errors import ArtifactIntegrityError

State = dict[str, Any]


def _refuse(message: str) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(f"artifact structure refused: {message}")


def _type_name(state: State) -> str:
    """``module.class`` of a schema node."""
    return f"{state['__module__']}.{state['__class__']}"


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
