"""python -m controller policy check FILE [--order ORDER.json]: check a policy file before the controller uses it.

For an order it also says which rule applies and who may decide. An order as posted to
/start/workflow (without a total) is first checked and priced by the order Lambda's own code,
so the rule is chosen from the same total the approver would see.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from datetime import datetime, timedelta, timezone

from controller.approval import policy
from controller.core.config import ConfigurationError
from controller.core.jsontypes import JSON, JSONObject
from stack.paths import LAMBDA_SOURCE_DIR

APPROVAL_WINDOW = timedelta(days=1)  # stands in for the stack's approval timeout when showing times


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `policy` command and its `check` subcommand to the main parser."""
    parser = commands.add_parser("policy", help="check an approval policy file (CONTROLLER_POLICY_FILE)")
    actions = parser.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="validate a policy file; with --order, say which rule applies")
    check.add_argument("file")
    check.add_argument("--order", help="a JSON file holding one order, as posted or as the approver sees it")


def describe(checked: policy.Policy) -> str:
    """Return a one-paragraph account of a policy's settings."""
    parts = [f"{len(checked.rules)} rule(s)", f"self-approval {'allowed' if checked.self_approval else 'refused'}"]
    parts.append("rejections need a reason" if checked.require_reject_reason else "a rejection's reason is optional")
    if checked.remind_before:
        parts.append(f"a reminder {policy.spelled(checked.remind_before)} before expiry")
    if checked.escalation:
        escalation = checked.escalation
        parts.append(f"escalation to {', '.join(escalation.groups)} after {policy.spelled(escalation.after)}")
    return "; ".join(parts) + "."


def _priced(order: JSON) -> JSONObject:
    """Return the order as the approver sees it: as given when it has a total, else priced by the order Lambda."""
    if isinstance(order, dict) and "total" in order:
        return order
    spec = importlib.util.spec_from_file_location("order_function", LAMBDA_SOURCE_DIR / "function.py")
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"The order Lambda is missing from {LAMBDA_SOURCE_DIR}.")
    function = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(function)
    try:
        priced: JSONObject = function.handler(order, None)
    except function.InvalidOrder as error:
        raise ConfigurationError(str(error)) from None
    return priced


def explain(checked: policy.Policy, order: JSONObject) -> list[str]:
    """Return which rule applies to an order and who may decide it, a line each."""
    now = datetime.now(timezone.utc)
    rule = checked.apply(order, now, now + APPROVAL_WINDOW)
    total = order.get("total")
    lines = [f"Order {order.get('order_id')} (total {total} {order.get('currency', '')}): rule '{rule.name}' applies."]
    lines.append(f"It needs {rule.approvals} approval(s) by distinct people: {rule.deciders(now)}.")
    requested_by = order.get("requested_by")
    if requested_by and not rule.self_approval:
        lines.append(f"{requested_by} requested it and may not decide it.")
    if checked.escalation:
        after = policy.spelled(checked.escalation.after)
        lines.append(f"Pending for {after}, it may be decided by members of {', '.join(rule.escalation_groups)} too.")
    return lines


def run(args: argparse.Namespace) -> int:
    """Check the file (and explain the order); 0 when it can be used, 1 with the reason on stderr otherwise."""
    try:
        checked = policy.load(args.file)
        print(f"{args.file}: valid. {describe(checked)}")
        if args.order:
            try:
                with open(args.order, encoding="utf-8") as file:
                    order = json.load(file)
            except (OSError, ValueError) as error:
                raise ConfigurationError(f"The order {args.order} cannot be read as JSON: {error}.") from None
            print("\n".join(explain(checked, _priced(order))))
    except ConfigurationError as error:
        print(f"controller policy: {error}", file=sys.stderr)
        return 1
    return 0
