"""terraform/ run by the real Terraform CLI against an emulator, from a linked copy of the checkout in a directory
of the caller's: its data and state land there, and no state in the checkout (an AWS stack's, an earlier
emulator's) can be taken for this one's. The dependency lock file is only read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stack.lambda_package import build_payload
from stack.paths import PROJECT_ROOT, TEMPLATE_FILE, TERRAFORM_DIR

EMULATOR_WORKSPACE = "emulator"  # terraform/ deploys to the emulator in this workspace only
DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")  # a filesystem mirror of the hashicorp/aws provider
PROVIDER_PATH = Path("registry.terraform.io") / "hashicorp" / "aws"
COMMAND_SECONDS = 900


def plugin_dir() -> Path | None:
    """Return the provider mirror to install from: $TF_PLUGIN_DIR, else /opt/tf-plugins when present."""
    configured = os.environ.get("TF_PLUGIN_DIR")
    if configured:
        return Path(configured)
    return DEFAULT_PLUGIN_DIR if DEFAULT_PLUGIN_DIR.is_dir() else None


def missing_tools() -> str | None:
    """Say why terraform/ cannot be run offline here, or None when it can."""
    if shutil.which("terraform") is None:
        return "terraform is not on the PATH"
    mirror = plugin_dir()
    if mirror is None or not any((mirror / PROVIDER_PATH).glob("*/*/terraform-provider-aws*")):
        return f"no hashicorp/aws provider in a plugin directory (set TF_PLUGIN_DIR; looked in {mirror})"
    return None


@dataclass(frozen=True)
class Result:
    """What one terraform command did."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        """Everything it printed, for a failure message."""
        return self.stdout + self.stderr


def _is_local_state(name: str) -> bool:
    """Tell whether an entry of terraform/ belongs to someone's own runs: working data, states, variable values."""
    return name.startswith((".terraform.tfstate", "terraform.tfstate")) or name == ".terraform" or ".tfvars" in name


def linked_checkout(workdir: Path) -> Path:
    """Link the checkout into workdir, terraform/ entry by entry without its working data, states and variable
    files; return the linked terraform/."""
    root = workdir / "checkout"
    root.mkdir(parents=True)
    for entry in PROJECT_ROOT.iterdir():
        if entry.name != TERRAFORM_DIR.name:
            (root / entry.name).symlink_to(entry)  # what terraform/ reads from ../ (stack.json, lambda/)
    terraform_dir = root / TERRAFORM_DIR.name
    terraform_dir.mkdir()
    for entry in TERRAFORM_DIR.iterdir():
        if not _is_local_state(entry.name):
            (terraform_dir / entry.name).symlink_to(entry)
    return terraform_dir


class Terraform:
    """terraform -chdir=<a linked terraform/> in the emulator workspace, everything it writes under workdir."""

    def __init__(self, workdir: Path, endpoint_url: str, gateway_url: str = "http://127.0.0.1:4000") -> None:
        self.directory = linked_checkout(workdir)
        self.variables = {
            "lambda_function_payload": str(build_payload()),
            "sfn_state_machine_definition": str(TEMPLATE_FILE),
            "emulator_endpoint_url": endpoint_url,
            "emulator_gateway_url": gateway_url,
        }
        self.environment = {
            **os.environ,
            "TF_WORKSPACE": EMULATOR_WORKSPACE,
            "TF_IN_AUTOMATION": "1",
        }
        self.environment.pop("TF_CLI_CONFIG_FILE", None)  # may name a file that does not exist
        self.environment.pop("TF_DATA_DIR", None)

    def run(self, *arguments: str) -> Result:
        """Run one terraform command; return its exit code, its output and how long it took."""
        started = time.monotonic()
        completed = subprocess.run(
            ["terraform", f"-chdir={self.directory}", *arguments, "-no-color"],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr, time.monotonic() - started)

    def init(self) -> Result:
        """Install the provider, from the mirror when there is one, as the lock file pins it."""
        mirror = plugin_dir()
        return self.run("init", "-input=false", "-lockfile=readonly", *([f"-plugin-dir={mirror}"] if mirror else []))

    def change(self, command: str, *options: str) -> Result:
        """Run plan, apply or destroy with this stack's variables."""
        variables = [f"-var={name}={value}" for name, value in self.variables.items()]
        return self.run(command, "-input=false", *options, *variables)

    def outputs(self) -> dict[str, object]:
        """Return `terraform output -json` as {name: value}."""
        result = self.run("output", "-json")
        assert result.returncode == 0, result.output
        return {name: item["value"] for name, item in json.loads(result.stdout).items()}
