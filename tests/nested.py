"""Edits of nested JSON-like data (events, configs) for tests that break one field at a time.

Kept apart from ``helpers.py``, which imports the local cloud: unit tests import this one.
"""

from __future__ import annotations

import copy
from typing import Any

#: ``changed(data, path, DELETE)``: the data without that field.
DELETE = object()


def changed(data: Any, path: str, value: Any) -> Any:
    """A copy of ``data`` whose field at the dotted ``path`` holds ``value`` (``DELETE``: without the field).

    A part of ``path`` that meets a list is its index; a missing object on the way is created.
    """
    result = copy.deepcopy(data)
    *parents, name = path.split(".")
    node: Any = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is DELETE:
        del node[name]
    else:
        node[name] = value
    return result
