"""Time terraform/ against an empty emulator: init, apply, a second plan (which must find nothing), destroy.

    .venv/bin/python -m bench.terraform_deploy [--runs N]

Needs terraform on the PATH and the hashicorp/aws provider in $TF_PLUGIN_DIR or /opt/tf-plugins. Each run
starts its own emulator and keeps Terraform's data and state in a temporary directory.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from tempfile import TemporaryDirectory

from harness.emulator import running_emulator
from harness.terraform import Result, Terraform, missing_tools

STEPS = (("init",), ("apply", "-auto-approve"), ("plan", "-detailed-exitcode"), ("destroy", "-auto-approve"))


def resource_count(apply: Result) -> int:
    """Return how many resources an apply added, from its summary line."""
    match = re.search(r"Resources: (\d+) added", apply.stdout)
    return int(match[1]) if match else 0


def one_run(workdir: Path) -> dict[str, float]:
    """Deploy, plan and destroy once in a fresh emulator; return seconds per step and the resource count."""
    (workdir / "emulator").mkdir()
    with running_emulator(workdir / "emulator", "--empty") as emulator:
        terraform = Terraform(workdir / "terraform", emulator.outputs["aws_endpoint_url"])
        timings: dict[str, float] = {}
        for command, *options in STEPS:
            result = terraform.init() if command == "init" else terraform.change(command, *options)
            if result.returncode != 0:
                raise SystemExit(f"terraform {command} failed ({result.returncode}):\n{result.output[-3000:]}")
            timings[command] = result.seconds
            if command == "apply":
                timings["resources"] = resource_count(result)
        return timings


def main() -> None:
    """Print a table of seconds per step, one row per run."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1, help="how many times to deploy and destroy (default: 1)")
    args = parser.parse_args()
    if missing_tools():
        raise SystemExit(f"cannot run Terraform here: {missing_tools()}")
    print(f"{'run':>3} {'init s':>7} {'apply s':>8} {'plan s':>7} {'destroy s':>10} {'resources':>10}")
    for run in range(1, args.runs + 1):
        with TemporaryDirectory(prefix="terraform-bench-") as workdir:
            t = one_run(Path(workdir))
        print(
            f"{run:>3} {t['init']:>7.1f} {t['apply']:>8.1f} {t['plan']:>7.1f} {t['destroy']:>10.1f} "
            f"{int(t['resources']):>10}",
            flush=True,
        )


if __name__ == "__main__":
    main()
