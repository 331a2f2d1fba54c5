"""The README and docs/ stay true: the config reference is the code's, links resolve, terms are defined."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from retrain import config as config_module
from retrain import docs
from retrain.config import ModelConfig

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
CONFIG_PAGE = ROOT / "docs" / "config.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
ASL = ROOT / "infra" / "statemachine" / "retraining.asl.json"

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)


def config_models() -> list[type[BaseModel]]:
    """Every pydantic model defined in retrain.config (found by inspection, not by the generator)."""
    return [
        value
        for value in vars(config_module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseModel)
        and value.__module__.startswith(f"{config_module.__name__}.")
    ]


def nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The config model inside ``Model``, ``Model | None`` or ``dict[str, Model]``; True for the mapping."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation, False
    if get_origin(annotation) is dict:
        model, _ = nested_model(get_args(annotation)[1])
        return model, model is not None
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            model, mapped = nested_model(arg)
            if model is not None:
                return model, mapped
    return None, False


def dotted_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key a YAML config can hold, a mapping's entries written ``<name>``."""
    found = set()
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        found.add(key)
        child, mapped = nested_model(info.annotation)
        if child is not None:
            found |= dotted_keys(child, f"{key}.<name>." if mapped else f"{key}.")
    return found


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation but - and _ dropped, spaces to -."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").replace("*", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def relative_links(markdown: str) -> list[str]:
    return [t for t in LINK.findall(FENCE.sub("", markdown)) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


# ------------------------------------------------------------------------------------------------ config reference
def test_the_config_reference_is_the_generators_output() -> None:
    assert CONFIG_PAGE.read_text(encoding="utf-8") == docs.config_reference(), (
        "docs/config.md is stale: run `python -m retrain.docs config --write docs/config.md`"
    )


def test_the_config_reference_names_its_command_and_says_not_to_edit() -> None:
    header = CONFIG_PAGE.read_text(encoding="utf-8")[:600]

    assert "python -m retrain.docs config --write docs/config.md" in header
    assert "do not edit" in header


@pytest.mark.parametrize("model", config_models(), ids=lambda m: m.__name__)
def test_every_config_field_has_a_description(model: type[BaseModel]) -> None:
    assert [name for name, info in model.model_fields.items() if not (info.description or "").strip()] == []


def test_the_reference_lists_exactly_the_configs_keys() -> None:
    rows = re.findall(r"^\| `([^`]+)` \|", CONFIG_PAGE.read_text(encoding="utf-8"), re.MULTILINE)

    assert len(rows) == len(set(rows)), "a key is listed twice"
    assert set(rows) == dotted_keys(ModelConfig)


def test_the_reference_marks_required_keys() -> None:
    page = CONFIG_PAGE.read_text(encoding="utf-8")

    for key in ("model", "problem", "target", "features", "training", "training.estimator"):
        row = re.search(rf"^\| `{re.escape(key)}` \|.*$", page, re.MULTILINE)
        assert row is not None, key
        assert "**required**" in row.group(0), key
    assert "**required**" not in re.search(r"^\| `training.seed` \|.*$", page, re.MULTILINE).group(0)  # type: ignore[union-attr]


def test_the_reference_shows_bounds_and_choices() -> None:
    page = CONFIG_PAGE.read_text(encoding="utf-8")

    assert "| `triggers.drift.share` | `0 < float <= 1` | `0.3` |" in page
    assert '| `triggers.policy` | `"any" \\| "all"` | `"any"` |' in page
    assert "| `features.numeric` | `list[str]` | `[]` |" in page
    assert "| `triggers.cooldown_hours` | `float >= 0` | `24.0` |" in page


def test_check_fails_on_a_stale_page_and_write_fixes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a page that is not the generated one
    page = tmp_path / "config.md"
    page.write_text("# Config reference\n\nhand-edited\n")

    # When it is checked, then refreshed and checked again
    stale = docs.main(["config", "--check", str(page)])
    message = capsys.readouterr().err
    docs.main(["config", "--write", str(page)])
    fresh = docs.main(["config", "--check", str(page)])

    # Then the first check fails naming the fix, and the second passes
    assert stale == 1
    assert "stale" in message
    assert "python -m retrain.docs config --write docs/config.md" in message
    assert fresh == 0
    assert page.read_text(encoding="utf-8") == docs.config_reference()


def test_check_fails_on_a_missing_page(tmp_path: Path) -> None:
    assert docs.main(["config", "--check", str(tmp_path / "nope.md")]) == 1


# ------------------------------------------------------------------------------------------------ links
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in github_anchors(linked.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert broken == []


def test_the_anchor_rules_are_githubs() -> None:
    page = "# Quick start (local)\n## First champion: `retrain bootstrap`\n## `triggers.drift`\n## Notes\n## Notes\n"

    assert github_anchors(page) == {
        "quick-start-local",
        "first-champion-retrain-bootstrap",
        "triggersdrift",
        "notes",
        "notes-1",
    }


def test_every_page_in_docs_is_linked_from_the_readme() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README.read_text())}

    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


# ------------------------------------------------------------------------------------------------ README
def mermaid_blocks() -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)


def test_the_readme_draws_the_architecture_in_mermaid() -> None:
    blocks = mermaid_blocks()

    assert len(blocks) == 1
    assert blocks[0].startswith("flowchart LR\n")


def test_the_picture_names_every_lambda_step_of_the_state_machine() -> None:
    definition = ASL.read_text(encoding="utf-8")
    functions = set(re.findall(r"\$\{(\w+)FunctionArn\}", definition))
    picture = mermaid_blocks()[0]

    assert {"Normalize", "Promote", "Report"} <= functions
    assert sorted(f for f in functions if f not in picture) == []
    for store in ("data bucket", "artifact bucket", "DynamoDB registry", "SSM parameter"):
        assert store in picture
    published = definition + (ROOT / "src" / "retrain" / "steps" / "approval.py").read_text(encoding="utf-8")
    for event in ("ModelPromoted", "CandidateRejected", "ApprovalRequested", "RunFailed"):
        assert event in picture
        assert event in published


def test_the_readme_states_the_alarms_the_template_and_register_create() -> None:
    readme = README.read_text(encoding="utf-8")
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    ops = re.findall(r'AlarmName: !Sub "\$\{AWS::StackName\}-ops-([a-z-]+)"', template)

    assert "two alarms" not in readme
    assert len(ops) == 5
    assert "five operations alarms" in readme
    assert all(f"`<stack>-ops-{name}`" in readme for name in ops)
    for signal in ("performance", "drift", "flagged", "estimated"):
        assert f"`<stack>-<model>-{signal}`" in readme


@pytest.mark.parametrize("term", ["REF", "CUR"])
@pytest.mark.parametrize("page", [README, ROOT / "docs" / "local-run.md"], ids=lambda p: p.name)
def test_ref_and_cur_are_defined_where_first_used(page: Path, term: str) -> None:
    text = page.read_text(encoding="utf-8")
    first = re.search(rf"\b{term}\b", text)

    assert first is not None
    where = text[first.start() - 2 : first.end() + 2]
    assert where == f"**{term}**", f"{page.name}: {term} is used before its definition **{term}**"


def test_the_readme_keeps_its_sections_for_users_in_order() -> None:
    headings = re.findall(r"^## (.+)$", FENCE.sub("", README.read_text(encoding="utf-8")), re.MULTILINE)

    assert headings == [
        "The two commands",
        "How it fits together",
        "Quick start (local)",
        "Deploy to AWS",
        "Configure a model",
        "Operate",
        "Sizing: 1 GB, 100 GB and 1 TB windows",
        "Reference",
        "Measured figures",
        "Layout",
    ]


def test_the_layout_names_docs() -> None:
    layout = README.read_text(encoding="utf-8").split("## Layout", 1)[1]

    assert "\ndocs/" in layout
