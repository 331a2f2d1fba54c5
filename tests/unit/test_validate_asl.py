"""Specification of retrain.local.validate: the checks ``cfn-lint`` and ``sam validate`` do not make.

The real template passes. Each broken variant is a copy of the project (template,
``infra/``, ``functions/``) in a temporary directory with exactly one defect, and
``check()`` must report a problem that names it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retrain.local.validate import check, main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ASL = Path("infra/statemachine/retraining.asl.json")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what ``check()`` reads: template.yaml, infra/ and functions/."""
    shutil.copy(ROOT / "template.yaml", tmp_path / "template.yaml")
    shutil.copytree(ROOT / "infra", tmp_path / "infra")
    shutil.copytree(ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def edit_asl(project: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = project / ASL
    definition = json.loads(path.read_text())
    change(definition)
    path.write_text(json.dumps(definition, indent=2))


def edit_template(project: Path, old: str, new: str) -> None:
    path = project / "template.yaml"
    text = path.read_text()
    assert text.count(old) == 1, f"expected exactly one {old!r} in the template"
    path.write_text(text.replace(old, new))


def test_real_template_has_no_problems() -> None:
    assert check(ROOT / "template.yaml") == []


def test_placeholder_without_substitution_is_a_problem_naming_it(project: Path) -> None:
    # Given an ASL that uses ${Missing}, which DefinitionSubstitutions does not define
    edit_asl(project, lambda d: d["States"]["Normalize"].update(Comment="calls ${Missing}"))

    # When
    problems = check(project / "template.yaml")

    # Then
    assert problems == [
        f"RetrainingStateMachine: ${{Missing}} in {ASL.as_posix()} has no DefinitionSubstitutions entry"
    ]


def test_unused_substitution_is_a_problem_naming_it(project: Path) -> None:
    edit_template(project, "        EventSource: retrain\n", "        EventSource: retrain\n        Unused: x\n")

    problems = check(project / "template.yaml")

    assert problems == [f"RetrainingStateMachine: DefinitionSubstitutions.Unused is not used in {ASL.as_posix()}"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda d: d["States"]["Passed?"].update(Choices=[]),
            "States.Passed?.Choices is empty",
            id="Choice without Choices",
        ),
        pytest.param(
            lambda d: d["States"]["Normalize"].update(Next="Nowhere"),
            'No state found named "Nowhere"',
            id="Next to a missing state",
        ),
        pytest.param(
            lambda d: d.update(StartAt="Begin"),
            "Begin",
            id="StartAt a missing state",
        ),
    ],
)
def test_broken_state_is_a_statelint_problem_naming_it(
    project: Path, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    edit_asl(project, change)

    problems = check(project / "template.yaml")

    assert any(p.startswith(f"{ASL.as_posix()}: statelint: ") and expected in p for p in problems), problems


def _drift_map(definition: dict[str, Any]) -> dict[str, Any]:
    (branch,) = [b for b in definition["States"]["Checks"]["Branches"] if b["StartAt"] == "DriftCheck"]
    return dict(branch["States"]["ProfileWindow"])


def test_an_unknown_reader_config_field_is_a_statelint_problem_but_input_type_is_not(project: Path) -> None:
    # statelint 3.1 knows only MaxItems in ReaderConfig; AWS documents InputType (required with s3:getObject)
    edit_asl(project, lambda d: _drift_map(d)["ItemReader"]["ReaderConfig"].update(Shape="JSON"))

    problems = check(project / "template.yaml")

    assert [p for p in problems if "ReaderConfig" in p] == [
        f'{ASL.as_posix()}: statelint: Field "Shape" not allowed in '
        "State Machine.States.Checks.Branches[1].States.ProfileWindow.ItemReader.ReaderConfig"
    ]


def test_definition_moto_cannot_parse_is_a_problem(project: Path) -> None:
    edit_asl(project, lambda d: d["States"]["Passed?"].update(Choices=[]))

    problems = check(project / "template.yaml")

    assert any(p.startswith(f"{ASL.as_posix()}: moto's ASL interpreter cannot parse it") for p in problems)


def test_definition_that_is_not_json_is_a_problem(project: Path) -> None:
    # Given the real definition without its closing brace
    path = project / ASL
    path.write_text(path.read_text().rstrip().removesuffix("}"))

    # When

    problems = check(project / "template.yaml")

    # Then
    assert len(problems) == 1
    assert problems[0].startswith(f"{ASL.as_posix()}: not valid JSON")


def test_function_whose_code_uri_is_missing_is_a_handler_problem(project: Path) -> None:
    edit_template(project, "CodeUri: functions/promote/", "CodeUri: functions/promotion/")

    problems = check(project / "template.yaml")

    assert problems == ["PromoteFunction: handler file functions/promotion/app.py does not exist"]


def test_function_whose_handler_module_is_missing_is_a_handler_problem(project: Path) -> None:
    (project / "functions" / "train" / "app.py").unlink()

    problems = check(project / "template.yaml")

    assert problems == ["TrainFunction: handler file functions/train/app.py does not exist"]


def test_resource_type_the_local_cloud_cannot_create_is_a_problem(project: Path) -> None:
    edit_template(
        project,
        "Resources:\n",
        "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n",
    )

    problems = check(project / "template.yaml")

    assert problems == ["Topic: type AWS::SNS::Topic is not created by the local cloud"]


def test_main_exits_0_and_says_ok_for_the_real_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(ROOT / "template.yaml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_main_exits_1_and_prints_each_problem(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_template(project, "CodeUri: functions/promote/", "CodeUri: functions/promotion/")

    assert main([str(project / "template.yaml")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "PromoteFunction: handler file functions/promotion/app.py does not exist"
    ]
