"""moto's own options this emulator turns on: not differences to fix in moto, but moto's defaults for unit tests."""

from __future__ import annotations

from typing import Any, cast

from moto.core.config import default_user_config

from emulator.patches.replacing import Fix, Replacements

_SETTINGS = cast(dict[str, Any], default_user_config)  # a TypedDict, which mypy will not take as a mapping


def _execute_state_machines(replacements: Replacements) -> None:
    replacements.item(_SETTINGS, "stepfunctions", {"execute_state_machine": True})


def _load_aws_managed_policies(replacements: Replacements) -> None:
    replacements.item(_SETTINGS, "iam", {"load_aws_managed_policies": True})


FIXES = (
    Fix(
        "state_machines_run",
        moto="by default an execution runs nothing and succeeds at once",
        aws="the state machine runs: Lambda is invoked, the task token is sent, the execution waits",
        canary=None,
        install=_execute_state_machines,
    ),
    Fix(
        "aws_managed_policies_exist",
        moto="by default AWS managed policies are unknown: attaching one answers NoSuchEntity",
        aws="AWS managed policies exist (API Gateway's logging role attaches one)",
        canary=None,
        install=_load_aws_managed_policies,
    ),
)
