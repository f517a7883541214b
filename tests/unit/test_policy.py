"""The approval policy file on its own: what it accepts, what it refuses and why, which rule an order gets."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from controller.approval import policy
from harness.orders import ORDER

ISSUE_EXAMPLE = """
rules:
  - name: large orders
    when:
      total_at_least: 1000
    approvals: 2
    groups: [finance]
  - name: everything else
    approvals: 1
self_approval: false
require_reject_reason: true
reminders:
  before_expiry: 1h
escalation:
  after: 4h
  groups: [managers]
"""
REQUESTED = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)


def _policy(tmp_path: Path, text: str) -> policy.Policy:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(text))
    return policy.load(str(path))


def _one_rule(when: str) -> str:
    return f"rules:\n  - name: matched\n    when: {when}\n    approvals: 2\n  - name: other\n"


def _order(total: float = 28.0, **fields: object) -> dict[str, object]:
    return {**ORDER, "currency": "EUR", "total": total, **fields}


def test_the_issue_example_reads_as_two_rules_with_reminders_and_escalation(tmp_path):
    checked = _policy(tmp_path, ISSUE_EXAMPLE)

    assert [(rule.name, rule.approvals, rule.groups) for rule in checked.rules] == [
        ("large orders", 2, ("finance",)),
        ("everything else", 1, ()),
    ]
    assert (checked.self_approval, checked.require_reject_reason) == (False, True)
    assert checked.remind_before == timedelta(hours=1)
    assert checked.escalation == policy.Escalation(timedelta(hours=4), ("managers",))


@pytest.mark.parametrize(
    ("when", "total", "matched"),
    [
        ("{total_at_least: 1000}", 1000.0, True),
        ("{total_at_least: 1000}", 999.99, False),
        ("{total_below: 1000}", 1000.0, False),
        ("{total_below: 1000}", 999.99, True),
        ("{total_at_least: 100, total_below: 1000}", 100.0, True),
        ("{total_at_least: 0.1}", 0.1, True),
    ],
)
def test_total_conditions_hold_from_their_boundary_on(tmp_path, when, total, matched):
    checked = _policy(tmp_path, _one_rule(when))

    assert (checked.rule_for(_order(total)).name == "matched") is matched


@pytest.mark.parametrize(
    ("when", "order", "matched"),
    [
        ("{currency_in: [EUR, USD]}", _order(currency="USD"), True),
        ("{currency_in: [EUR, USD]}", _order(currency="GBP"), False),
        ("{sku_matches: 'PEN-*'}", _order(), True),
        ("{sku_matches: ['GPU-*', 'BOOK-?']}", _order(), True),
        ("{sku_matches: 'pen-*'}", _order(), False),  # SKUs are compared case by case
        ("{sku_matches: 'PEN'}", _order(), False),  # a pattern matches the whole SKU
        ("{customer_in: [C-42]}", _order(), True),
        ("{customer_in: [C-4]}", _order(), False),
        ("{total_at_least: 10, customer_in: [C-1]}", _order(), False),  # every condition must hold
        ("{total_at_least: 10}", {k: v for k, v in _order().items() if k != "total"}, False),
    ],
)
def test_currency_sku_and_customer_conditions(tmp_path, when, order, matched):
    checked = _policy(tmp_path, _one_rule(when))

    assert (checked.rule_for(order).name == "matched") is matched


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_one_rule("{total_at_least: lots}"), "rule 1 ('matched'), field when.total_at_least: 'lots' is not of type"),
        (_one_rule("{total_over: 5}"), "rule 1 ('matched'), field when: unknown field(s) total_over; known:"),
        (_one_rule("{currency_in: [euro]}"), "rule 1 ('matched'), field when.currency_in.0: 'euro' does not match"),
        (_one_rule("{}"), "rule 1 ('matched'), field when: {} should be non-empty"),
        (_one_rule("{total_at_least: 10, total_below: 10}"), "rule 1 ('matched'), field when: total_at_least must be"),
        ("rules:\n  - name: a\n    approvals: 0\n", "rule 1 ('a'), field approvals: 0 is less than the minimum of 1"),
        ("rules:\n  - name: a\n    approval: 2\n", "rule 1 ('a'): unknown field(s) approval; known: name, when"),
        ("rules:\n  - approvals: 2\n", "rule 1: 'name' is a required property"),
        ("rules:\n  - name: a\n    groups: []\n", "rule 1 ('a'), field groups: [] should be non-empty"),
        ("rules:\n  - name: a\n  - name: a\n", "rule 2 ('a'), field name: rule 1 has this name already"),
        ("rules:\n  - name: a\n  - name: b\n", "rule 1 ('a'), field when: without one it matches every order"),
        (_one_rule("{total_below: 5}").replace("  - name: other\n", ""), "rule 1 ('matched'), field when: the last"),
        ("rules: []\n", "the policy, field rules: [] should be non-empty"),
        ("rule:\n  - name: a\n", "the policy: 'rules' is a required property"),
        ("rules:\n  - name: a\nreminders: {before_expiry: 1 hour}\n", "field reminders.before_expiry: '1 hour' is not"),
        (
            "rules:\n  - name: a\nreminders: {before_expiry: 0m}\n",
            "field reminders.before_expiry: must be longer than 0",
        ),
        ("rules:\n  - name: a\nescalation: {after: 4h}\n", "field escalation: 'groups' is a required property"),
        ("rules:\n  - name: a\nself_approval: no way\n", "field self_approval: 'no way' is not of type 'boolean'"),
        ("rules:\n  - name: a\n    approvals: 1\n    approvals: 2\n", "the key 'approvals' is given twice (line 4)"),
        ("rules: [\n", "is not valid YAML"),
        ("", "the policy: None is not of type 'object'"),
    ],
)
def test_a_bad_policy_file_is_refused_with_the_rule_and_field_at_fault(tmp_path, text, message):
    with pytest.raises(policy.PolicyError) as refused:
        _policy(tmp_path, text)

    assert message in str(refused.value)
    assert str(tmp_path / "policy.yaml") in str(refused.value)


def test_a_missing_policy_file_is_named():
    with pytest.raises(policy.PolicyError, match=r"/nowhere/policy\.yaml cannot be read"):
        policy.load("/nowhere/policy.yaml")


@pytest.mark.parametrize(
    ("text", "length"), [("1m30s", 90), ("15m", 900), ("4h", 14400), ("1d", 86400), ("1h30m", 5400)]
)
def test_durations_read_and_spell_back_the_same(text, length):
    assert policy.duration("90s") == timedelta(seconds=90)
    assert policy.duration(text) == timedelta(seconds=length)
    assert policy.spelled(timedelta(seconds=length)) == text


def test_the_applied_rule_fixes_reminder_and_escalation_times_and_survives_its_record(tmp_path):
    checked = _policy(tmp_path, ISSUE_EXAMPLE)

    applied = checked.apply(_order(1000.0), REQUESTED, REQUESTED + timedelta(hours=24))

    assert (applied.remind_at, applied.escalate_at) == (REQUESTED + timedelta(hours=23), REQUESTED + timedelta(hours=4))
    assert policy.AppliedRule.from_json(applied.to_json()) == applied


def test_reminders_and_escalation_that_would_come_at_or_after_expiry_are_left_out(tmp_path):
    checked = _policy(tmp_path, ISSUE_EXAMPLE)

    applied = checked.apply(_order(), REQUESTED, REQUESTED + timedelta(hours=1))

    assert (applied.remind_at, applied.escalate_at) == (None, None)


def test_who_may_decide_follows_groups_users_self_approval_and_escalation(tmp_path):
    applied = _policy(tmp_path, ISSUE_EXAMPLE).apply(_order(2000.0), REQUESTED, REQUESTED + timedelta(hours=24))
    before, after = REQUESTED, REQUESTED + timedelta(hours=4)

    assert applied.refusal("alice", ["finance"], None, before) is None
    assert applied.refusal("alice", ["finance"], "alice", before) == (
        "alice requested this order, and rule 'large orders' needs someone else to decide it."
    )
    assert applied.refusal("bob", ["ops"], None, before) == (
        "Under rule 'large orders' only members of finance may decide; bob is in ops."
    )
    assert applied.refusal("dora", ["managers"], None, before) is not None
    assert applied.refusal("dora", ["managers"], None, after) is None
    assert applied.summary(after) == "large orders: 2 of members of finance, managers"


@pytest.mark.parametrize("requested_by", ["Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45"])
def test_the_requester_is_recognised_whatever_the_case_or_width_of_the_name_in_the_order(tmp_path, requested_by):
    # whoever posts the order writes requested_by; "Alice" or its fullwidth form is still alice
    applied = _policy(tmp_path, ISSUE_EXAMPLE).apply(_order(2000.0), REQUESTED, REQUESTED + timedelta(hours=24))

    assert applied.refusal("alice", ["finance"], requested_by, REQUESTED) == (
        "alice requested this order, and rule 'large orders' needs someone else to decide it."
    )


def test_a_rule_naming_users_lets_them_decide_outside_its_groups(tmp_path):
    checked = _policy(tmp_path, "rules:\n  - name: a\n    groups: [finance]\n    users: [carol]\n")

    applied = checked.apply(_order(), REQUESTED, REQUESTED + timedelta(hours=1))

    assert applied.refusal("carol", [], None, REQUESTED) is None
    assert applied.refusal("dave", [], None, REQUESTED) == (
        "Under rule 'a' only members of finance or carol may decide; dave is in no group."
    )
