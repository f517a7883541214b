"""Corrections to moto where it differs from AWS in ways this workflow, or Terraform deploying it, depends on.

One module per service, each with its FIXES; `apply()` installs them all once, `undo()` puts moto back.
"""

from __future__ import annotations

from emulator.patches import awslambda, dynamodb, dynamodb_answers, options, sqs, stepfunctions
from emulator.patches.replacing import Fix, Replacements

FIXES: tuple[Fix, ...] = (
    *options.FIXES,
    *stepfunctions.FIXES,
    *sqs.FIXES,
    *awslambda.FIXES,
    *dynamodb.FIXES,
    *dynamodb_answers.FIXES,
)

_installed: list[Replacements] = []  # empty while moto is as shipped


def apply() -> None:
    """Install every fix into moto; applying again changes nothing."""
    if _installed:
        return
    replacements = Replacements()
    try:
        for fix in FIXES:
            fix.install(replacements)
    except BaseException:
        replacements.undo()  # all or nothing: a half-fixed moto would answer neither as moto nor as AWS
        raise
    _installed.append(replacements)


def undo() -> None:
    """Put moto back as it was before apply(); without apply(), do nothing."""
    while _installed:
        _installed.pop().undo()


def applied() -> bool:
    """Whether the fixes are installed in this process."""
    return bool(_installed)
