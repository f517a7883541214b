"""The emulator's fixes of moto, installed in this process: applying twice equals once, and undo restores moto."""

from __future__ import annotations

from typing import Any

import pytest
from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.sqs.models import Message, Queue, SQSBackend
from moto.stepfunctions.responses import StepFunctionResponse

from emulator import patches

PATCHED = (StepFunctionResponse, Queue, Message, SQSBackend, LambdaFunction, DynamoHandler, DynamoResult)


def moto_as_it_is() -> list[dict[str, Any]]:
    """What the fixes touch: the classes' own attributes and moto's settings."""
    return [dict(vars(owner)) for owner in PATCHED] + [dict(default_user_config)]


def same(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> bool:
    # the same objects, not equal ones: a second wrapper around a wrapper compares unequal only by identity
    return all(
        first.keys() == second.keys() and all(first[key] is second[key] for key in first)
        for first, second in zip(before, after, strict=True)
    )


def test_applying_the_fixes_a_second_time_changes_nothing() -> None:
    try:
        patches.apply()
        once = moto_as_it_is()
        patches.apply()

        assert same(once, moto_as_it_is())
        assert Queue.BASE_ATTRIBUTES.count("RedriveAllowPolicy") == 1
    finally:
        patches.undo()


def test_undo_puts_moto_back_as_it_was() -> None:
    shipped = moto_as_it_is()
    patches.apply()
    assert patches.applied()
    assert not same(shipped, moto_as_it_is())

    patches.undo()

    assert not patches.applied()
    assert same(shipped, moto_as_it_is())
    assert "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES


def test_a_fix_that_fails_to_install_leaves_moto_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = moto_as_it_is()

    def broken(replacements: patches.Replacements) -> None:
        raise RuntimeError("moto changed under this fix")

    monkeypatch.setattr(patches, "FIXES", (*patches.FIXES, patches.Fix("broken", "", "", None, broken)))
    with pytest.raises(RuntimeError):
        patches.apply()

    assert not patches.applied()
    assert same(shipped, moto_as_it_is())
