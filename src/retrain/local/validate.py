"""Check what ``cfn-lint`` and ``sam validate`` do not: the state machine's ASL and its wiring.

``python -m retrain.local.validate template.yaml`` exits non-zero with one line
per problem when:

- an ASL ``${...}`` placeholder has no ``DefinitionSubstitutions`` entry, or an
  entry is unused;
- the rendered ASL fails ``statelint`` (the AWS States Language linter) or does
  not parse with moto's ASL interpreter (the one the local cloud runs);
- a function's handler file does not exist;
- the template holds a resource type the local cloud cannot create.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from retrain.local.template import function_properties, load_template

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
#: ``ReaderConfig`` fields AWS documents for a Distributed Map's ``ItemReader`` (``InputType`` is required with
#: ``s3:getObject``) that statelint 3.1 does not know (it allows only ``MaxItems``/``MaxItemsPath`` there).
_STATELINT_UNKNOWN_READER_FIELDS = ("InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "ManifestType")
_READER_FIELD = re.compile(r'^Field "([A-Za-z]+)" not allowed in .*\.ItemReader\.ReaderConfig$')


def _statelint_gap(line: str) -> bool:
    """A statelint finding that is statelint's gap, not a problem: a documented ``ReaderConfig`` field."""
    match = _READER_FIELD.match(line)
    return match is not None and match.group(1) in _STATELINT_UNKNOWN_READER_FIELDS


def _fake_value(value: Any, key: str) -> str:
    """A syntactically valid stand-in for a substitution (the real one exists only when deployed)."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".")[0]
        return f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    if isinstance(value, dict):
        return f"{key}-value"
    return str(value)


def check(template_path: Path) -> list[str]:
    from retrain.local.deploy import SUPPORTED_TYPES

    problems: list[str] = []
    template = load_template(template_path)
    root = template_path.parent
    resources = template["Resources"]
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind not in SUPPORTED_TYPES:
            problems.append(f"{logical_id}: type {kind} is not created by the local cloud")
        if kind == "AWS::Serverless::Function":
            props = function_properties(template, logical_id)
            module = str(props.get("Handler", "")).rpartition(".")[0]
            handler_file = root / str(props.get("CodeUri", "")) / f"{module.replace('.', '/')}.py"
            if not handler_file.exists():
                problems.append(f"{logical_id}: handler file {handler_file.relative_to(root)} does not exist")
        if kind == "AWS::Serverless::StateMachine":
            problems += _check_state_machine(root, logical_id, resource.get("Properties", {}))
    return problems


def _check_state_machine(root: Path, logical_id: str, props: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    uri = props.get("DefinitionUri")
    if not isinstance(uri, str):
        return [f"{logical_id}: DefinitionUri must name the ASL file"]
    text = (root / uri).read_text()
    substitutions = props.get("DefinitionSubstitutions") or {}
    used = set(_PLACEHOLDER.findall(text))
    for name in sorted(used - set(substitutions)):
        problems.append(f"{logical_id}: ${{{name}}} in {uri} has no DefinitionSubstitutions entry")
    for name in sorted(set(substitutions) - used):
        problems.append(f"{logical_id}: DefinitionSubstitutions.{name} is not used in {uri}")
    rendered = _PLACEHOLDER.sub(lambda m: _fake_value(substitutions.get(m.group(1)), m.group(1)), text)
    try:
        json.loads(rendered)
    except json.JSONDecodeError as exc:
        return [*problems, f"{uri}: not valid JSON: {exc}"]
    problems += _statelint(rendered, uri)
    try:
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

        from retrain.local import training_jobs

        with training_jobs.installed():  # as the local cloud runs it: SageMaker's .sync included
            AmazonStateLanguageParser.parse(rendered)
    except Exception as exc:
        problems.append(f"{uri}: moto's ASL interpreter cannot parse it: {exc}")
    return problems


def _statelint(rendered: str, uri: str) -> list[str]:
    binary = shutil.which("statelint") or str(Path(sys.executable).with_name("statelint"))
    if not Path(binary).exists():
        return [f"{uri}: statelint is not installed (pip install statelint)"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(rendered)
    completed = subprocess.run([binary, handle.name], capture_output=True, text=True, check=False)
    Path(handle.name).unlink(missing_ok=True)
    if completed.returncode != 0:
        lines = [line.strip() for line in completed.stdout.splitlines()[1:] if line.strip()]
        return [f"{uri}: statelint: {line}" for line in lines if not _statelint_gap(line)]
    return []


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    path = Path(args[0] if args else "template.yaml").resolve()
    problems = check(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{path.name}: state machine definitions, substitutions and handlers OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
