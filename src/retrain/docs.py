"""Reference pages generated from the code, so they cannot drift from it.

    python -m retrain.docs config                           # print the config reference (Markdown)
    python -m retrain.docs config --write docs/config.md    # refresh the file
    python -m retrain.docs config --check docs/config.md    # exit 1 when the file is stale

The config reference walks :class:`retrain.config.ModelConfig` and every model
nested in it, in declaration order: one section per model, with a table of its
keys (dotted path, readable type with its bounds, default, description). Every
description is the field's attribute docstring in :mod:`retrain.config`; no key
is listed by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from retrain.config import ModelConfig

#: The command that writes ``docs/config.md``; named in the page's header.
CONFIG_COMMAND = "python -m retrain.docs config --write docs/config.md"
#: The placeholder of a mapping's key in a dotted path (``triggers.drift.features.<name>``).
KEY_PLACEHOLDER = "<name>"


@dataclass(frozen=True)
class Section:
    """One model of the config at one dotted path (``""`` for the top level)."""

    path: str
    model: type[BaseModel]


# ------------------------------------------------------------------------------------------------ walking
def _models_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The config model an annotation holds, and whether it holds it as the values of a ``dict[str, Model]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = get_origin(annotation)
    if origin is dict:
        model, _ = _models_in(get_args(annotation)[1])
        return model, model is not None
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            model, mapped = _models_in(arg)
            if model is not None:
                return model, mapped
    return None, False


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def sections(model: type[BaseModel] = ModelConfig, path: str = "") -> Iterator[Section]:
    """Every model of the config, depth first in declaration order (the top level first)."""
    yield Section(path, model)
    for name, info in model.model_fields.items():
        nested, mapped = _models_in(info.annotation)
        if nested is not None:
            child = _join(path, name)
            yield from sections(nested, f"{child}.{KEY_PLACEHOLDER}" if mapped else child)


def keys(model: type[BaseModel] = ModelConfig) -> list[str]:
    """Every dotted key of the config, as the reference lists them."""
    return [_join(section.path, name) for section in sections(model) for name in section.model.model_fields]


# ------------------------------------------------------------------------------------------------ rendering
def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but ``-`` and ``_`` dropped, spaces to ``-``."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _heading(section: Section) -> str:
    return f"`{section.path}`" if section.path else "Top level"


def _link(section_path: str) -> str:
    return f"[`{section_path}`](#{_anchor(f'`{section_path}`')})"


def _number(value: object) -> str:
    return json.dumps(value)


def _bounds(base: str, metadata: list[Any]) -> str:
    """``float`` with its metadata bounds: ``float > 0``, ``0 < float <= 1``, ``list[str], at least 1``."""
    low: tuple[str, str] | None = None  # (operator read from the bound to the value, bound)
    high: tuple[str, str] | None = None
    extra = []
    for item in metadata:
        if isinstance(item, at.Gt):
            low = ("<", _number(item.gt))
        elif isinstance(item, at.Ge):
            low = ("<=", _number(item.ge))
        elif isinstance(item, at.Lt):
            high = ("<", _number(item.lt))
        elif isinstance(item, at.Le):
            high = ("<=", _number(item.le))
        elif isinstance(item, at.MinLen) and item.min_length > 0:
            extra.append("non-empty" if base == "str" else f"at least {item.min_length}")
    if low and high:
        text = f"{low[1]} {low[0]} {base} {high[0]} {high[1]}"
    elif low:  # one-sided: `float > 0` reads better than `0 < float`
        text = f"{base} {low[0].replace('<', '>')} {low[1]}"
    elif high:
        text = f"{base} {high[0]} {high[1]}"
    else:
        text = base
    return ", ".join([text, *extra])


def _type(annotation: Any, path: str) -> str:
    """A readable type: ``list[str]``, ``"any" | "all"``, ``object`` (with a link to its section)."""
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(json.dumps(value) for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(_type(arg, path) for arg in get_args(annotation))
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type(arg, path) for arg in get_args(annotation))}]"
    return getattr(annotation, "__name__", str(annotation))


def _type_cell(info: FieldInfo, path: str) -> str:
    annotation = info.annotation
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        if len(args) == 1:
            annotation = args[0]
    text = f"`{_bounds(_type(annotation, path), list(info.metadata))}`"
    nested, mapped = _models_in(annotation)
    if nested is not None:
        text += f", see {_link(f'{path}.{KEY_PLACEHOLDER}' if mapped else path)}"
    return f"{text} or `null`" if nullable else text


def _flow(value: Any) -> str:
    """A value as YAML flow style: ``{metric: accuracy, threshold: 0.8}``, ``[]``, ``"rate(1 day)"``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v) if not isinstance(v, str) else v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return json.dumps(value)


def _default_cell(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:  # noqa: SIM108 (the ignore would cover the other branch too)
        value = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    assert value is not PydanticUndefined
    if isinstance(value, BaseModel):
        fields = type(value).model_fields.values()
        if not any(f.is_required() for f in fields) and value == type(value)():
            return "its keys' defaults"
        value = value.model_dump(mode="json")
    return f"`{_flow(value)}`"


#: A Sphinx role in a docstring (``:mod:`retrain.drift` ``): Markdown shows its target as code.
_ROLE = re.compile(r":\w+:`~?([^`]+)`")


def _prose(text: str | None) -> str:
    """A docstring as one Markdown paragraph: lines joined, reStructuredText ``code`` to Markdown `code`."""
    blocks = (text or "").strip().split("\n\n")
    paragraphs = [" ".join(line.strip() for line in block.splitlines()).strip() for block in blocks]
    markdown = (_ROLE.sub(r"`\1`", p.replace("``", "`")) for p in paragraphs if p)
    return "\n\n".join(markdown)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n\n", " ")


def config_reference() -> str:
    """The Markdown of ``docs/config.md``."""
    every = list(sections())
    out = [
        "# Config reference",
        "",
        f"Generated by `{CONFIG_COMMAND}` from the pydantic models in",
        "[`src/retrain/config/`](../src/retrain/config/); do not edit. Each description is the",
        "field's docstring there. `python -m retrain.docs config --check docs/config.md` exits 1 when this page",
        "is stale, and a unit test runs that check.",
        "",
        "One YAML file per model; unknown keys are errors, and every error names its field.",
        "`retrain validate-config CONFIG.yaml --show` prints a config with every default filled in.",
        f"A key under `{KEY_PLACEHOLDER}` is one entry of a mapping keyed by name (a feature's name).",
        "Sections, in nesting order:",
        "",
    ]
    for section in every:
        depth = section.path.count(".") - section.path.count(f".{KEY_PLACEHOLDER}")
        indent = "  " * (depth + (1 if section.path else 0))
        title = _heading(section)
        out.append(f"{indent}- [{title}](#{_anchor(title)})")
    for section in every:
        out += ["", f"## {_heading(section)}", ""]
        intro = _prose(section.model.__doc__)
        if intro:
            out += [intro, ""]
        out += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
        for name, info in section.model.model_fields.items():
            key = _join(section.path, name)
            cells = [f"`{key}`", _type_cell(info, key), _default_cell(info), _prose(info.description)]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ command
def main(argv: list[str] | None = None) -> int:
    """``python -m retrain.docs config [--write PATH | --check PATH]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m retrain.docs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="page", required=True)
    config = sub.add_parser("config", help="the config reference, from retrain.config's models")
    where = config.add_mutually_exclusive_group()
    where.add_argument("--write", metavar="PATH", help="write the page to PATH")
    where.add_argument("--check", metavar="PATH", help="exit 1 if PATH differs from the generated page")
    args = parser.parse_args(argv)

    text = config_reference()
    if args.write:
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text(text, encoding="utf-8")
        print(f"wrote {args.write}")
    elif args.check:
        path = Path(args.check)
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            state = "is missing" if current is None else "is stale"
            print(f"{path} {state}: run `{CONFIG_COMMAND}`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
