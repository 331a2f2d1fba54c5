"""Reading a config: YAML text or a file into a validated :class:`~retrain.config.ModelConfig`, or a ConfigError.

Every problem is reported at once, each prefixed by the path of the field at fault; a key written twice in
one mapping is an error rather than silently the last one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from retrain.config.model import ModelConfig
from retrain.errors import ConfigError


def _format(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (not allowed)"
        # Validators' messages often start with their own path already: do not repeat it.
        parts.append(message if not where or message.startswith(where) else f"{where}: {message}")
    return "; ".join(parts)


def parse_config(data: Any, *, source: str = "config") -> ModelConfig:
    """Validate a mapping into a :class:`ModelConfig`.

    Raises
    ------
    ConfigError
        With every problem, each prefixed by the path of the field at fault.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_format(exc)}") from exc


class _UniqueKeyLoader(yaml.SafeLoader):
    """``SafeLoader`` that rejects a key written twice in one mapping (PyYAML silently keeps the last)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<' merge keys may be overridden by the mapping's own keys
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=True))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def loads_config(text: str, *, source: str = "config") -> ModelConfig:
    """Parse YAML text into a :class:`ModelConfig` (see :func:`parse_config`).

    A key given twice in one mapping is an error: with plain YAML the second
    ``triggers:`` block would silently replace the first.
    """
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    return parse_config(data, source=source)


def load_config(path: str | Path) -> ModelConfig:
    """Read and validate a config file."""
    return loads_config(read_config_text(path), source=str(path))


def read_config_text(path: str | Path) -> str:
    """A config file's text (UTF-8, with or without a byte-order mark).

    Raises
    ------
    ConfigError
        The file is missing, a directory, empty or not UTF-8; the message names it.
    """
    from retrain import files
    from retrain.errors import DataNotFound, UnreadableData

    try:
        return files.read_text(path, "config")
    except (DataNotFound, UnreadableData) as exc:
        raise ConfigError(str(exc)) from exc
