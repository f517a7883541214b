"""Every file the project reads at run time, found from the one place the checkout is."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = PROJECT_ROOT / "stack.json"
TEMPLATE_FILE = PROJECT_ROOT / "state_machine_definition.json.tpl"
LAMBDA_SOURCE_DIR = PROJECT_ROOT / "lambda"
ORDER_SCHEMA_FILE = LAMBDA_SOURCE_DIR / "order.schema.json"
LAMBDA_PAYLOAD = LAMBDA_SOURCE_DIR / "payload.zip"
TERRAFORM_DIR = PROJECT_ROOT / "terraform"
# The API Gateway mapping templates of POST /start/workflow, which Terraform and the emulator both deploy.
REQUEST_TEMPLATE_FILE = TERRAFORM_DIR / "templates" / "start_execution.request.vtl"
RESPONSE_TEMPLATE_FILE = TERRAFORM_DIR / "templates" / "start_execution.response.vtl"
OPENAPI_FILE = PROJECT_ROOT / "openapi.yaml"
EMULATOR_OUTPUTS = PROJECT_ROOT / ".emulator" / "outputs.json"  # what `python -m emulator` writes by default
INSTANCE_DIR = PROJECT_ROOT / "instance"  # the controller's database lives here unless configured
