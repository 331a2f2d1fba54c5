"""Read a SAM template and resolve its intrinsic functions.

Only what a deployment needs locally: the CloudFormation short tags (``!Ref``,
``!GetAtt``, ``!Sub``, ...), ``Globals`` merged into each function (lists are
additive, maps merged, as SAM does), and ``Ref``/``Fn::GetAtt``/``Fn::Sub``/
``Fn::Join``/``Fn::Select`` resolved against parameters, pseudo parameters and
the physical names the local cloud gave each resource; ``Fn::FindInMap`` against
the template's ``Mappings``, ``Fn::If`` against its ``Conditions`` (made of
``Fn::Equals``/``Fn::Not``/``Fn::And``/``Fn::Or``/``Condition``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_SHORT_TAGS = {
    "Ref": "Ref",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Base64": "Fn::Base64",
    "Condition": "Condition",
}


class TemplateError(Exception):
    """The template uses something the local cloud cannot resolve or create."""


class _Loader(yaml.SafeLoader):
    pass


def _make_constructor(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag, _name in _SHORT_TAGS.items():
    _Loader.add_constructor(f"!{_tag}", _make_constructor(_name))


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a (SAM) CloudFormation template file, short tags included."""
    with open(path) as handle:
        return loads_template(handle.read(), source=str(path))


def loads_template(text: str, *, source: str = "template") -> dict[str, Any]:
    """Parse a CloudFormation template's text (YAML with short tags, or JSON)."""
    data = yaml.load(text, Loader=_Loader)
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{source}: not a CloudFormation template (no Resources)")
    return data


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *override]
    return override


def function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A serverless function's properties with the template's ``Globals.Function`` merged in."""
    resource = template["Resources"][logical_id]
    globals_ = copy.deepcopy(template.get("Globals", {}).get("Function", {}))
    return _merge(globals_, copy.deepcopy(resource.get("Properties", {})))


_SUB = re.compile(r"\$\{([^}]+)\}")


def pseudo_parameters(stack_name: str, region: str, account: str) -> dict[str, str]:
    """The values of CloudFormation's pseudo parameters for a stack (``AWS::NoValue`` resolves to "")."""
    return {
        "AWS::StackName": stack_name,
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NoValue": "",
    }


#: The pseudo parameters' names.
PSEUDO_PARAMETERS = frozenset(pseudo_parameters("", "", ""))


@dataclass
class Resolver:
    """Resolve intrinsic functions given parameters and the resources deployed so far."""

    parameters: dict[str, Any]
    pseudo: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    #: The template's ``Mappings`` and ``Conditions`` (for ``Fn::FindInMap`` and ``Fn::If``).
    mappings: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_template(cls, template: dict[str, Any], parameters: dict[str, Any], pseudo: dict[str, str]) -> Resolver:
        """A resolver of ``template``'s parameters, pseudo parameters, mappings and conditions."""
        return cls(
            parameters=parameters,
            pseudo=pseudo,
            mappings=template.get("Mappings") or {},
            conditions=template.get("Conditions") or {},
        )

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        if name not in self.conditions:
            raise TemplateError(f"condition {name}: not in the template's Conditions")
        return self._truth(self.conditions[name])

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Condition":
                return self.condition(str(arg))
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(item) for item in arg)
            if key == "Fn::Or":
                return any(self._truth(item) for item in arg)
        raise TemplateError(f"not a condition: {value!r}")

    def find_in_map(self, arg: list[Any]) -> Any:
        name, top, second = (str(self.resolve(item)) for item in arg)
        try:
            return self.mappings[name][top][second]
        except KeyError:
            raise TemplateError(f"!FindInMap [{name}, {top}, {second}]: no such entry in Mappings") from None

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"!Ref {name}: no such parameter, or the resource is not deployed yet")

    def get_att(self, name: str, attribute: str) -> str:
        try:
            return self.attributes[(name, attribute)]
        except KeyError:
            raise TemplateError(f"!GetAtt {name}.{attribute}: unknown (or not deployed yet)") from None

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token:
                name, attribute = token.split(".", 1)
                return self.get_att(name, attribute)
            return str(self.ref(token))

        return _SUB.sub(replace, text)

    def resolve(self, value: Any) -> Any:
        """Return ``value`` with every intrinsic function evaluated."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self._sub(text, self.resolve(variables))
                return self._sub(arg, {})
            if key == "Fn::Join":
                sep, items = arg
                return str(sep).join(str(v) for v in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::FindInMap":
                return self.find_in_map(arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(str(name)) else when_false)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local cloud")
        return {k: self.resolve(v) for k, v in value.items()}


def references(value: Any) -> set[str]:
    """Every resource or parameter name a template value refers to (Ref, GetAtt, ${...} in Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref":
                found.add(str(arg))
            elif key == "Fn::GetAtt":
                found.add(str(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]))
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                found |= {token.split(".", 1)[0] for token in _sub_tokens(str(text))}
                if isinstance(arg, list):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found


def _sub_tokens(text: str) -> list[str]:
    return re.findall(r"\$\{([^}!]+)\}", text)


def parameter_defaults(template: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each parameter's value: the override if given, else its default; a missing value is an error."""
    values: dict[str, Any] = {}
    overrides = overrides or {}
    for name, spec in (template.get("Parameters") or {}).items():
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in spec:
            values[name] = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default; pass a value for it")
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise TemplateError(f"unknown template parameter(s): {', '.join(unknown)}")
    return values


def substitute_definition(definition: str, substitutions: dict[str, Any]) -> str:
    """Apply ``DefinitionSubstitutions`` to an ASL text; an unfilled ``${...}`` is an error."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in substitutions:
            raise TemplateError(f"ASL placeholder ${{{key}}} has no DefinitionSubstitutions entry")
        return str(substitutions[key])

    return _SUB.sub(replace, definition)
