"""Where the controller finds its queue and AWS endpoint: environment, emulator outputs, or Terraform."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from python_terraform import Terraform

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EMULATOR_OUTPUTS = PROJECT_ROOT / ".emulator" / "outputs.json"
TERRAFORM_DIR = PROJECT_ROOT / "terraform"

DEFAULTS: dict[str, Any] = {
    "DATABASE": str(PROJECT_ROOT / "instance" / "approvals.sqlite3"),
    "HOST": "127.0.0.1",
    "PORT": 3000,
    "PULL_WAIT_SECONDS": 1,
    "PULL_MAX_BATCHES": 10,
    "PULL_BATCH_SIZE": 10,
    "AWS_MAX_ATTEMPTS": 4,
    "LIVENESS_CHECK_SECONDS": 30,
    "PAGE_REFRESH_SECONDS": 5,
    "SECRET_KEY": "",  # signs the page's session cookie; empty: a random key per process
}


class ConfigurationError(RuntimeError):
    """No stack to talk to: neither configured, nor emulated, nor deployed."""


def _stack_outputs(environ: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Return (source, outputs) from the emulator's file, else from `terraform output -json`."""
    outputs_file = Path(environ.get("EMULATOR_OUTPUTS", DEFAULT_EMULATOR_OUTPUTS))
    if outputs_file.is_file():
        raw = json.loads(outputs_file.read_text())
        return "emulator", {key: item["value"] for key, item in raw.items()}
    try:
        raw = Terraform(working_dir=str(TERRAFORM_DIR)).output()
    except OSError:  # terraform is not installed
        raw = None
    if raw:
        return "terraform", {key: item["value"] for key, item in raw.items()}
    raise ConfigurationError(
        "No approval queue configured: set APPROVAL_QUEUE_URL, start the emulator "
        "(python -m emulator), or deploy terraform/ so that `terraform output` has values."
    )


def load_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Return the Flask config: defaults, then stack outputs, then CONTROLLER_*/AWS_* variables."""
    config = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if f"CONTROLLER_{key}" in environ:
            config[key] = type(default)(environ[f"CONTROLLER_{key}"])
    if not 1 <= config["PULL_BATCH_SIZE"] <= 10:
        raise ConfigurationError("CONTROLLER_PULL_BATCH_SIZE must be from 1 to 10, the range SQS allows.")
    if "APPROVAL_QUEUE_URL" in environ:
        config.update(
            CONFIG_SOURCE="environment",
            APPROVAL_QUEUE_URL=environ["APPROVAL_QUEUE_URL"],
            AWS_ENDPOINT_URL=environ.get("AWS_ENDPOINT_URL"),
            AWS_REGION=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
        )
        return config
    source, outputs = _stack_outputs(environ)
    config.update(
        CONFIG_SOURCE=source,
        APPROVAL_QUEUE_URL=outputs["approval_queue_url"],
        AWS_ENDPOINT_URL=outputs.get("aws_endpoint_url"),
        AWS_REGION=outputs.get("aws_region") or environ.get("AWS_REGION") or _region_of(outputs["approval_queue_url"]),
    )
    return config


def _region_of(queue_url: str) -> str | None:
    """Return the region in an AWS queue URL (https://sqs.REGION.amazonaws.com/...)."""
    match = re.match(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/", queue_url)
    return match.group(1) if match else None
