"""terraform/ with the real Terraform CLI and hashicorp/aws provider: valid, and deployable into the emulator.

Both need terraform on the PATH and the provider in a plugin directory ($TF_PLUGIN_DIR or /opt/tf-plugins);
without them they are skipped and say so. Terraform's data and state stay in the test's temporary directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.controllers import controller_config, served_controller
from harness.deployed import deployed_stack
from harness.emulator import Emulator, running_emulator
from harness.orders import ORDER
from harness.stacks import Stack
from harness.terraform import Result, Terraform, missing_tools
from stack.definition import load_stack, resource_name

pytestmark = pytest.mark.skipif(missing_tools() is not None, reason=f"Terraform cannot run here: {missing_tools()}")


def succeeded(result: Result) -> bool:
    return result.returncode == 0


def test_terraform_validate_passes_with_the_real_provider(tmp_path: Path) -> None:
    terraform = Terraform(tmp_path, "http://127.0.0.1:5000")

    assert succeeded(init := terraform.init()), init.output
    validate = terraform.run("validate")

    assert succeeded(validate), validate.output
    assert "Warning" not in validate.output, "a deprecated attribute or argument is used"


def leftovers(emulator: Emulator) -> dict[str, Any]:
    """Every queue, function, state machine, REST API and role the emulator holds."""
    return {
        "queues": emulator.client("sqs").list_queues().get("QueueUrls", []),
        "functions": emulator.client("lambda").list_functions()["Functions"],
        "state machines": emulator.client("stepfunctions").list_state_machines()["stateMachines"],
        "rest apis": emulator.client("apigateway").get_rest_apis()["items"],
        "roles": emulator.client("iam").list_roles()["Roles"],
        "log groups": emulator.client("logs").describe_log_groups()["logGroups"],
        "tables": emulator.client("dynamodb").list_tables()["TableNames"],
    }


def approve_one_order(emulator: Emulator, outputs: dict[str, Any], database: Path) -> dict[str, Any]:
    """Send an order through the deployed REST API, approve it through a controller; return the execution."""
    stack = Stack(emulator, str(outputs["approval_queue_url"]), str(outputs["state_machine_arn"]))
    with served_controller(controller_config(emulator, stack.queue_url, database)) as controller:
        started = requests.post(outputs["api_url"], json=ORDER, headers={"x-api-key": outputs["api_key"]}, timeout=30)
        assert started.status_code == 200, started.text
        name = started.json()["name"]
        assert json.loads(stack.describe(name)["input"]) == ORDER
        controller.wait_for_pending(name)
        approved = controller.post(f"/approve/{name}", {"approver": "Terraform test"})
        assert approved.status_code == 200, approved.text
    return stack.wait_until_finished(name)


@pytest.mark.slow
def test_terraform_deploys_a_stack_that_approves_an_order_plans_no_change_and_destroys_it_all(
    tmp_path: Path,
) -> None:
    (tmp_path / "emulator").mkdir()
    with running_emulator(tmp_path / "emulator", "--empty") as emulator:
        endpoint_url = emulator.outputs["aws_endpoint_url"]
        terraform = Terraform(tmp_path / "terraform", endpoint_url, emulator.gateway_url)
        assert succeeded(init := terraform.init()), init.output

        assert succeeded(apply := terraform.change("apply", "-auto-approve")), apply.output
        plan = terraform.change("plan", "-detailed-exitcode")
        assert plan.returncode == 0, f"the second plan is not empty:\n{plan.output}"
        outputs = terraform.outputs()
        assert outputs["aws_endpoint_url"] == endpoint_url
        assert outputs["approval_queue_url"].startswith(endpoint_url)

        with running_emulator(tmp_path / "built-in") as built_in:  # the stack ./build_and_run.sh deploys
            api_name = resource_name(load_stack(), "api")
            assert deployed_stack(emulator, outputs, api_name) == deployed_stack(built_in, built_in.outputs, api_name)

        execution = approve_one_order(emulator, outputs, tmp_path / "approvals.sqlite3")
        assert execution["status"] == "SUCCEEDED", execution

        refused = terraform.change("destroy", "-auto-approve")
        assert not succeeded(refused), "the approvals table's deletion protection did not hold"
        assert outputs["approvals_table_name"] in emulator.client("dynamodb").list_tables()["TableNames"]

        # the destroy flow of docs/terraform.md: lift the protection, then destroy
        lift = ("-auto-approve", "-var=approvals_table_deletion_protection=false")
        assert succeeded(lifted := terraform.change("apply", *lift)), lifted.output
        assert succeeded(destroy := terraform.change("destroy", *lift)), destroy.output
        assert not any(leftovers(emulator).values()), leftovers(emulator)
