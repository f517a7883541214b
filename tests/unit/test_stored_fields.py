"""What a store reads back is checked field by field as it becomes a record (controller/storage/fields.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from controller.storage import fields
from controller.storage.records import FOLLOW_UP_KINDS, request_from


def test_a_field_of_another_type_is_refused_by_name_without_its_value() -> None:
    with pytest.raises(TypeError) as refused:
        fields.text({"task_token": 918273645}, "task_token")
    assert "'task_token'" in str(refused.value)
    assert "918273645" not in str(refused.value)


def test_a_missing_field_is_an_error_and_an_optional_one_is_none() -> None:
    with pytest.raises(KeyError):
        fields.text({}, "state")
    assert fields.optional_text({}, "comment") is None
    assert fields.optional_text({"comment": None}, "comment") is None
    assert fields.optional_text({"comment": "ok"}, "comment") == "ok"


def test_numbers_come_as_integers_or_dynamodb_decimals_but_not_text_or_booleans() -> None:
    assert fields.number({"seq": 7}, "seq") == 7
    assert fields.number({"seq": Decimal("7")}, "seq") == 7
    assert fields.number({}, "count", 0) == 0
    for wrong in ("7", True, None):
        with pytest.raises(TypeError):
            fields.number({"seq": wrong}, "seq")


def test_a_named_kind_is_one_of_its_choices() -> None:
    assert fields.one_of({"kind": "escalation"}, "kind", FOLLOW_UP_KINDS) == "escalation"
    assert fields.one_of({}, "kind", FOLLOW_UP_KINDS, "reminder") == "reminder"
    with pytest.raises(TypeError, match="none of reminder, escalation"):
        fields.one_of({"kind": "later"}, "kind", FOLLOW_UP_KINDS)


def test_a_request_with_a_decision_of_an_unknown_action_is_refused() -> None:
    stored: dict[str, object] = {
        "id": "r-1",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:m:r-1",
        "task_token": "token",
        "order_json": "{}",
        "requested_at": "2026-01-01T00:00:00.000+00:00",
        "expires_at": "2026-01-02T00:00:00.000+00:00",
        "received_at": "2026-01-01T00:00:00.000+00:00",
        "checked_at": "2026-01-01T00:00:00.000+00:00",
        "state": "DECIDING",
        "decision": "approve",
    }
    assert request_from(stored).decision is not None
    with pytest.raises(TypeError, match="'decision'"):
        request_from(stored | {"decision": "maybe"})
