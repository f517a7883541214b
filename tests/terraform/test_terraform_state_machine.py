"""The state machine template renders, as Terraform's templatefile would, to a valid definition."""

import json
import re
from typing import Any

from hcl_checks import REPO_ROOT, TERRAFORM_DIR, load_module, unquote

TEMPLATE_PATH = REPO_ROOT / "state_machine_definition.json.tpl"
PLACEHOLDER = re.compile(r"(?<!\$)\$\{\s*([^}]*?)\s*\}")
TEMPLATEFILE_CALL = re.compile(r"^\$\{templatefile\((?P<path>[^,]+),\s*\{(?P<object>.*)\}\)\}$", re.DOTALL)
OBJECT_ITEM = re.compile(r"([A-Za-z_]\w*)\s*=\s*([^,]+?)\s*(?:,|$)")


def templatefile_arguments() -> tuple[str, dict[str, str]]:
    """Return the path expression and the variables (name -> expression) terraform/ passes."""
    state_machine = load_module(TERRAFORM_DIR).resources[("aws_sfn_state_machine", "this")]
    definition = state_machine.body["definition"]
    match = TEMPLATEFILE_CALL.match(definition)
    assert match, f"definition is not a templatefile(path, {{...}}) call: {definition}"
    return match["path"].strip(), dict(OBJECT_ITEM.findall(match["object"].strip()))


def render(template: str, variables: dict[str, Any]) -> str:
    """Render a template the way templatefile does for plain ${name} interpolations."""
    assert "%{" not in template.replace("%%{", ""), "template directives are not supported here"

    def substitute(match: re.Match[str]) -> str:
        name = match[1]
        assert name in variables, f"template uses ${{{name}}}, which terraform/ does not pass"
        return str(variables[name])

    return PLACEHOLDER.sub(substitute, template).replace("$${", "${").replace("%%{", "%{")


def sample_values(expressions: dict[str, str]) -> dict[str, Any]:
    """Give each template variable a value: a variable's default, or a sample string."""
    variables = load_module(TERRAFORM_DIR).variables
    values: dict[str, Any] = {}
    for name, expression in expressions.items():
        reference = re.fullmatch(r"var\.(\w+)", expression)
        if reference and "default" in variables[reference[1]].body:
            values[name] = unquote(variables[reference[1]].body["default"])
        else:
            values[name] = f"sample-{name}"
    return values


def rendered_definition() -> dict[str, Any]:
    """Render the template with the variables terraform/ passes and parse it."""
    _, expressions = templatefile_arguments()
    return json.loads(render(TEMPLATE_PATH.read_text(encoding="utf-8"), sample_values(expressions)))


def transitions(state: dict[str, Any]) -> list[str]:
    """Every state name a state may move to next."""
    targets = [state.get("Next"), state.get("Default")]
    targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
    targets += [choice.get("Next") for choice in state.get("Choices", [])]
    return [target for target in targets if target]


def test_terraform_passes_the_template_path_variable() -> None:
    path, _ = templatefile_arguments()
    assert path == "var.sfn_state_machine_definition"


def test_terraform_passes_exactly_the_placeholders_the_template_uses() -> None:
    _, expressions = templatefile_arguments()
    placeholders = set(PLACEHOLDER.findall(TEMPLATE_PATH.read_text(encoding="utf-8")))
    assert set(expressions) == placeholders


def test_the_rendered_definition_is_json_with_a_start_state() -> None:
    definition = rendered_definition()
    assert definition["StartAt"] in definition["States"]


def test_every_transition_of_the_rendered_definition_names_an_existing_state() -> None:
    states = rendered_definition()["States"]
    missing = {
        (name, target) for name, state in states.items() for target in transitions(state) if target not in states
    }
    assert not missing, f"transitions to unknown states: {sorted(missing)}"


def test_every_state_is_reachable_and_every_path_ends() -> None:
    definition = rendered_definition()
    states, seen, todo = definition["States"], set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += transitions(states[name])
    assert seen == set(states), f"unreachable states: {sorted(set(states) - seen)}"
    for name, state in states.items():
        terminal = state["Type"] in ("Succeed", "Fail") or state.get("End") is True
        assert terminal or "Next" in state or state["Type"] == "Choice", f"{name} neither ends nor moves on"


def test_the_approval_wait_times_out_after_the_configured_seconds() -> None:
    variables = load_module(TERRAFORM_DIR).variables
    request = rendered_definition()["States"]["Request Approval"]
    assert request["TimeoutSeconds"] == variables["approval_timeout_seconds"].body["default"]
    assert request["Resource"].endswith(".waitForTaskToken")
